//! Claims under concurrency: the original design's own test and a storm, against real Redis and
//! PostgreSQL.

mod support;

use coupon::ClaimOutcome;
use coupon::redis::{CLAIM_SCRIPT, CampaignKeys};
use coupon::store::coupons;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use support::*;
use tokio::sync::Barrier;

/// The original design's test, without its 10-second sleep: the sync is driven to completion directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_coupons_and_six_simultaneous_users_leave_exactly_one_sold_out() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    // Act: six tasks released at the same moment.
    let outcomes: Vec<ClaimOutcome> = claim_at_once(&engine, campaign.id, 100..106)
        .await
        .into_iter()
        .map(|(_, outcome)| outcome)
        .collect();
    drain(&engine, campaign.id).await;

    // Assert
    let issued = outcomes
        .iter()
        .filter(|o| matches!(o, ClaimOutcome::Issued { .. }))
        .count();
    let sold_out = outcomes
        .iter()
        .filter(|o| **o == ClaimOutcome::SoldOut)
        .count();
    assert_eq!((issued, sold_out), (5, 1), "{outcomes:?}");
    assert_eq!(rows(&engine, campaign.id).await, 5);
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.remaining, Some(0));
}

/// 20,000 claims from 200 tasks for 1,000 coupons, by 4,000 users who each try about 5 times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_issues_exactly_the_quantity_once_per_user_and_syncs_one_to_one() {
    // Arrange
    const QUANTITY: i64 = 1_000;
    const TASKS: usize = 200;
    const CLAIMS_PER_TASK: usize = 100;
    const USERS: usize = 4_000;
    let engine = engine().await;
    let campaign = open_campaign(&engine, QUANTITY).await;
    let start = Arc::new(Barrier::new(TASKS));

    // Act
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (engine, start) = (engine.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut results = Vec::with_capacity(CLAIMS_PER_TASK);
                for i in 0..CLAIMS_PER_TASK {
                    // A stride coprime to USERS spreads each user's attempts over many tasks.
                    let n = (t * CLAIMS_PER_TASK + i) * 7 % USERS;
                    let outcome = engine.claim(campaign.id, &user(n)).await.unwrap();
                    results.push((user(n).to_string(), outcome));
                }
                results
            })
        })
        .collect();
    let mut issued: HashMap<String, String> = HashMap::new();
    let mut already_claimed = 0;
    for task in tasks {
        for (user, outcome) in task.await.unwrap() {
            match outcome {
                ClaimOutcome::Issued { code, .. } => {
                    let previous = issued.insert(user.clone(), code);
                    assert!(previous.is_none(), "{user} was issued twice");
                }
                ClaimOutcome::AlreadyClaimed => already_claimed += 1,
                ClaimOutcome::SoldOut => {}
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    }
    drain(&engine, campaign.id).await;

    // Assert: Redis's answers.
    assert_eq!(issued.len() as i64, QUANTITY);
    assert!(already_claimed > 0, "the storm should repeat users");
    let codes: HashSet<&String> = issued.values().collect();
    assert_eq!(codes.len(), issued.len(), "every code is unique");

    // Assert: PostgreSQL holds exactly the acknowledged claims, one to one.
    let recorded: HashMap<String, String> = coupons::all(engine.db(), campaign.id)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.user_id, row.code))
        .collect();
    assert_eq!(recorded, issued);

    // Assert: Redis's own bookkeeping agrees.
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (
            status.remaining,
            status.claimed,
            status.queued,
            status.synced
        ),
        (Some(0), QUANTITY, 0, QUANTITY)
    );
}

#[tokio::test]
async fn sequence_numbers_count_up_from_one_and_remaining_counts_down() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 3).await;
    let mut seen = Vec::new();
    for n in 0..3 {
        match engine.claim(campaign.id, &user(n)).await.unwrap() {
            ClaimOutcome::Issued {
                sequence,
                remaining,
                ..
            } => seen.push((sequence, remaining)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec![(1, 2), (2, 1), (3, 0)]);
}

#[tokio::test]
async fn a_second_claim_by_the_same_user_is_already_claimed_and_takes_no_stock() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 2).await;
    assert!(matches!(
        engine.claim(campaign.id, &user(1)).await.unwrap(),
        ClaimOutcome::Issued { .. }
    ));
    assert_eq!(
        engine.claim(campaign.id, &user(1)).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.remaining, status.claimed), (Some(1), 1));
}

#[tokio::test]
async fn a_user_holding_a_coupon_hears_already_claimed_even_after_sell_out() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 1).await;
    engine.claim(campaign.id, &user(1)).await.unwrap();
    assert_eq!(
        engine.claim(campaign.id, &user(2)).await.unwrap(),
        ClaimOutcome::SoldOut
    );
    assert_eq!(
        engine.claim(campaign.id, &user(1)).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
}

/// The server sends the claims of a campaign that arrive together in one script call; that call
/// must decide them one by one, in order, exactly as separate calls would.
#[tokio::test]
async fn one_script_call_decides_its_claims_in_order_as_separate_calls_would() {
    // Arrange: two coupons, five claims in one call, two of them repeats.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 2).await;
    assert!(engine.load_campaign(campaign.id).await.unwrap());
    let keys = CampaignKeys::new(campaign.id);
    let members = [user(1), user(2), user(1), user(3), user(2)];
    let script = redis::Script::new(CLAIM_SCRIPT);
    let mut call = script.prepare_invoke();
    call.key(&keys.meta)
        .key(&keys.counter)
        .key(&keys.issued)
        .key(&keys.queue)
        .arg(redis_run_id(&engine, campaign.id).await);
    for member in &members {
        call.arg(member.as_str());
    }

    // Act
    let reply = decisions(call.invoke_async(&mut engine.redis()).await.unwrap());
    drain(&engine, campaign.id).await;

    // Assert: issued, issued, a repeat, sold out, a repeat (heard before "sold out").
    #[rustfmt::skip]
    let expected = vec![
        1, 1, 1,
        1, 0, 2,
        2, 0, 0,
        3, 0, 0,
        2, 0, 0,
    ];
    assert_eq!(reply, expected);
    let code_of = |sequence| engine.codes().code_of(campaign.id, sequence).unwrap();
    let recorded: Vec<(i64, String, String)> = coupons::all(engine.db(), campaign.id)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.sequence, row.user_id, row.code))
        .collect();
    assert_eq!(
        recorded,
        vec![
            (1, "user-1".into(), code_of(1)),
            (2, "user-2".into(), code_of(2)),
        ]
    );
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.remaining, status.claimed), (Some(0), 2));
}

/// The claims of several campaigns one Redis node holds share one script call; the call must
/// decide each campaign's claims exactly as a call of its own would.
#[tokio::test]
async fn one_script_call_decides_the_claims_of_several_campaigns_each_as_its_own_would() {
    // Arrange: one coupon and two coupons, on the same node (a cluster has three).
    let engine = engine().await;
    let first = open_campaign(&engine, 1).await;
    let node_of = |id| engine.redis().node_of_campaign(id);
    let mut second = open_campaign(&engine, 2).await;
    while node_of(second.id) != node_of(first.id) {
        second = open_campaign(&engine, 2).await;
    }
    for id in [first.id, second.id] {
        assert!(engine.load_campaign(id).await.unwrap());
    }
    let keys = CampaignKeys::new(first.id);
    let script = redis::Script::new(CLAIM_SCRIPT);
    let mut call = script.prepare_invoke();
    call.key(&keys.meta)
        .key(&keys.counter)
        .key(&keys.issued)
        .key(&keys.queue)
        .arg(redis_run_id(&engine, first.id).await)
        .arg(user(1).as_str())
        .arg(user(2).as_str())
        .arg(format!("\n{}", second.id))
        .arg(user(1).as_str())
        .arg(user(3).as_str())
        .arg(user(1).as_str());

    // Act
    let reply = decisions(call.invoke_async(&mut engine.redis()).await.unwrap());
    drain(&engine, first.id).await;
    drain(&engine, second.id).await;

    // Assert: the first campaign issues its one coupon, then is sold out; the second issues
    // two, then hears a repeat. Each has its own stock, numbers and queue.
    #[rustfmt::skip]
    let expected = vec![
        1, 0, 1,
        3, 0, 0,
        1, 1, 1,
        1, 0, 2,
        2, 0, 0,
    ];
    assert_eq!(reply, expected);
    let db = engine.db();
    let members = |id| async move {
        let rows = coupons::all(db, id).await.unwrap();
        rows.into_iter()
            .map(|row| (row.sequence, row.user_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(members(first.id).await, vec![(1, "user-1".to_owned())]);
    assert_eq!(
        members(second.id).await,
        vec![(1, "user-1".to_owned()), (2, "user-3".to_owned())]
    );
}

/// The decisions of a claim script reply, after the replication id it starts with.
fn decisions(reply: Vec<redis::Value>) -> Vec<i64> {
    reply
        .into_iter()
        .skip(1)
        .map(|decision| redis::from_redis_value(decision).expect("a decision is an integer"))
        .collect()
}
