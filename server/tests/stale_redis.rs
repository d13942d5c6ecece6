//! Redis coming back *older* than the record, with real processes: a Redis restarted from an
//! older copy of its data directory (append-only file included) under a server that stays
//! connected, and a Redis that stops answering while claims keep arriving. Each test has its
//! own Redis process and database (see `support::stack`).

mod support;

use coupon::{ClaimOutcome, EngineError, MOST_CLAIMS_WAITING, UserId};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::stack::Stack;
use support::storm::{Storm, assert_invariants, until_drained};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_from_an_older_append_only_file_reissues_no_recorded_member_or_code() {
    // Arrange: 100 members claim and are recorded; Redis's data directory is copied; 100 more
    // claim and are recorded. The server stays up and connected throughout.
    let mut stack = Stack::start("older").await;
    let campaign = stack.campaign(300).await;
    let server = stack.server("older").await;
    let urls = vec![server.url("")];
    let first = Storm::start_from(0, urls.clone(), campaign.id, 100, 1, 10)
        .run_out()
        .await;
    until_drained(&stack.engine, campaign.id).await;
    let older = stack.single_redis().copy_data();
    let second = Storm::start_from(100, urls.clone(), campaign.id, 100, 1, 10)
        .run_out()
        .await;
    until_drained(&stack.engine, campaign.id).await;
    let recorded_before = stack.engine.recorded_coupons(campaign.id).await.unwrap();

    // Act: Redis comes back from the copy (it knows the first 100 members, not the second),
    // and everyone claims again, 200 new members with them.
    stack.single_redis().restart_from(&older).await;
    let after = Storm::start_from(0, urls, campaign.id, 400, 1, 20)
        .run_out()
        .await;
    until_drained(&stack.engine, campaign.id).await;

    // Assert: nobody recorded was issued again, no recorded code went to anyone else, exactly
    // the 100 coupons left went out, and the record and Redis agree one to one.
    assert_eq!(recorded_before.len(), 200);
    let recorded_members: HashSet<&str> =
        recorded_before.iter().map(|r| r.user_id.as_str()).collect();
    let recorded_codes: HashSet<&str> = recorded_before.iter().map(|r| r.code.as_str()).collect();
    for (member, code) in &after.issued {
        assert!(
            !recorded_members.contains(member.as_str()),
            "{member} was recorded, and issued again"
        );
        assert!(
            !recorded_codes.contains(code.as_str()),
            "{code} was recorded, and handed to {member}"
        );
    }
    assert_eq!(after.issued.len(), 100, "statuses: {:?}", after.statuses);
    assert!(!after.statuses.contains_key(&500), "{:?}", after.statuses);
    let everything = first.and_then(second).and_then(after);
    assert_invariants(&stack.engine, campaign.id, 300, &everything).await;
    let rows = stack.engine.recorded_coupons(campaign.id).await.unwrap();
    for before in &recorded_before {
        assert!(rows.contains(before), "{before:?} changed");
    }
    drop(server);
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_paused_claims_beyond_the_queue_bound_are_refused_at_once() {
    // Arrange: a loaded campaign, then Redis holds back every write (the claim script writes).
    let stack = Stack::start("paused").await;
    let campaign = stack.campaign(100).await;
    let engine = stack.engine.clone();
    let member = |n: usize| UserId::parse(&format!("member-{n}")).expect("valid id");
    engine
        .claim(campaign.id, &member(0))
        .await
        .expect("a claim");
    let redis = stack.redis_of(campaign.id).await;
    redis.pause_writes(6000).await;

    // Act: far more claims than the queue holds arrive at once.
    const EXTRA: usize = 3000;
    let claims: Vec<_> = (1..=MOST_CLAIMS_WAITING + EXTRA)
        .map(|n| {
            let engine = engine.clone();
            let user = member(n);
            tokio::spawn(async move {
                let started = Instant::now();
                let outcome = engine.claim(campaign.id, &user).await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(claims.len());
    for claim in claims {
        answers.push(claim.await.expect("join"));
    }
    redis.unpause().await;

    // Assert: those beyond the bound (less the round in flight) heard "busy" at once; all the
    // others heard "Redis failed" within their own wait; nothing was issued; claims resume.
    let busy: Vec<Duration> = answers
        .iter()
        .filter(|(outcome, _)| matches!(outcome, Err(EngineError::Busy)))
        .map(|(_, took)| *took)
        .collect();
    assert!(
        busy.len() >= EXTRA - 1024,
        "only {} refused at once",
        busy.len()
    );
    assert!(
        busy.iter().all(|took| *took < Duration::from_secs(1)),
        "a refusal waited: {:?}",
        busy.iter().max()
    );
    for (outcome, took) in &answers {
        match outcome {
            Err(EngineError::Busy) => {}
            Err(EngineError::Redis(_)) => {
                assert!(*took < Duration::from_millis(3300), "waited {took:?}")
            }
            other => panic!("expected a try-again answer, got {other:?}"),
        }
    }
    let resumed = engine
        .claim(campaign.id, &member(0))
        .await
        .expect("a claim");
    assert_eq!(resumed, ClaimOutcome::AlreadyClaimed);
    stack.remove().await;
}
