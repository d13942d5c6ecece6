//! Redis Cluster with real processes: campaigns spread over the primaries, and a hot
//! campaign's slot moved to another primary in the middle of a storm. (A primary killed
//! mid-storm is in failover.rs, beside the same test on Sentinel.)

mod support;

use coupon::redis::{CLAIM_SCRIPT, CampaignKeys, RedisTarget};
use coupon::{ClaimAck, ClaimOutcome, Engine, RedisSettings, UserId};
use redis::AsyncCommands;
use support::cluster::{LocalCluster, campaign_beside};
use support::process::{ServerProcess, free_port};
use support::stack::{Database, test_engine};
use support::storm::{Storm, assert_invariants, until_drained};

/// Campaigns in the spread test.
const CAMPAIGNS: i64 = 30;
/// Claims each of them gets: one a step, every campaign's claim of a step sent at once.
const CLAIMS_EACH: usize = 20;

/// The first of `CAMPAIGNS` consecutive ids whose slots fall ten to each third of the slot
/// space, as `redis-cli --cluster create` splits it over three primaries. Hashing spreads any
/// thirty ids only roughly (ids 1 to 30 fall 13, 11 and 6), so the test picks its ids to
/// measure the routing, not the luck of the hash.
fn evenly_hashed_ids() -> i64 {
    (1_000..)
        .find(|first| {
            let mut thirds = [0; 3];
            for id in *first..first + CAMPAIGNS {
                let slot = CampaignKeys::slot(coupon::CampaignId(id));
                thirds[usize::from(slot) * 3 / 16384] += 1;
            }
            thirds == [10, 10, 10]
        })
        .expect("some window of ids splits evenly")
}

/// A cluster of the test's own, a database named after the test, and an engine on both.
async fn private_stores(name: &str) -> (LocalCluster, Database, Engine) {
    let cluster = LocalCluster::start().await;
    let database = Database::create(name, cluster.nodes[0].port).await;
    let redis = RedisSettings {
        target: RedisTarget::Cluster(cluster.seed_list()),
        ack: ClaimAck::Primary,
    };
    let engine = test_engine(&redis, &database.url).await;
    (cluster, database, engine)
}

/// Two new campaigns of 5 whose keys sit on different primaries, and the first one's primary.
async fn campaigns_on_two_primaries(
    cluster: &LocalCluster,
    engine: &Engine,
) -> (coupon::Campaign, coupon::Campaign, u16) {
    let create = || async {
        engine
            .create_campaign(&support::draft(5))
            .await
            .expect("create")
    };
    let first = create().await;
    let home = cluster.primary_of(CampaignKeys::slot(first.id)).await;
    let mut second = create().await;
    while cluster.primary_of(CampaignKeys::slot(second.id)).await == home {
        second = create().await;
    }
    (first, second, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_campaigns_claimed_at_once_spread_their_keys_and_script_calls_over_every_primary() {
    // Arrange: a cluster, and thirty open campaigns on it.
    let (cluster, database, engine) = private_stores("spread").await;
    sqlx::query("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), $1)")
        .bind(evenly_hashed_ids() - 1)
        .execute(engine.db())
        .await
        .expect("set the first campaign id");
    let mut campaigns = Vec::new();
    for _ in 0..CAMPAIGNS {
        let campaign = engine
            .create_campaign(&support::draft(CLAIMS_EACH as i64))
            .await
            .expect("create campaign");
        campaigns.push(campaign.id);
    }
    let before = cluster.script_calls().await;

    // Act: every campaign claimed at the same time, step after step.
    let step = std::sync::Arc::new(tokio::sync::Barrier::new(campaigns.len()));
    let claimers: Vec<_> = campaigns
        .iter()
        .map(|id| {
            let (engine, id, step) = (engine.clone(), *id, step.clone());
            tokio::spawn(async move {
                let mut issued = 0;
                for n in 0..CLAIMS_EACH {
                    step.wait().await;
                    let member = UserId::parse(&format!("member-{n}")).expect("member id");
                    let outcome = engine.claim(id, &member).await.expect("claim answered");
                    issued += usize::from(matches!(outcome, ClaimOutcome::Issued { .. }));
                }
                issued
            })
        })
        .collect();
    for claimer in claimers {
        assert_eq!(claimer.await.expect("claimer"), CLAIMS_EACH);
    }

    // Assert: keys on all three primaries, and each ran a fair share of the script calls, which
    // the claims of the campaigns it holds shared.
    let keys = cluster.keys_per_primary().await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.values().all(|keys| *keys > 0), "{keys:?}");
    let after = cluster.script_calls().await;
    let calls: Vec<(u16, u64)> = after
        .iter()
        .map(|(port, calls)| (*port, calls - before.get(port).copied().unwrap_or(0)))
        .collect();
    let total: u64 = calls.iter().map(|(_, calls)| calls).sum();
    assert!(
        total < (CAMPAIGNS as u64) * CLAIMS_EACH as u64,
        "a call for every claim: {calls:?}"
    );
    for (port, node_calls) in &calls {
        let share = *node_calls as f64 / total as f64;
        assert!(
            (0.20..=0.45).contains(&share),
            "primary {port} ran {share:.2} of the script calls: {calls:?}"
        );
    }
    for id in &campaigns {
        let report = engine.status(*id).await.expect("status").expect("campaign");
        let node = report.redis_node.expect("the node holding the campaign");
        let slot = CampaignKeys::slot(*id);
        assert_eq!(
            node,
            format!("127.0.0.1:{}", cluster.primary_of(slot).await)
        );
    }
    engine.db().close().await;
    database.remove().await;
}

/// A campaign that joined a call routed by another campaign's keys, on a node that does not hold
/// its own (its slot moved since the server last read the owners), is left whole: the script
/// answers -1 for it and writes none of its keys, and the server sends it again on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_in_a_call_on_a_node_without_its_keys_is_left_untouched() {
    // Arrange: two loaded campaigns on different primaries.
    let (cluster, database, engine) = private_stores("elsewhere").await;
    let (here, there, _) = campaigns_on_two_primaries(&cluster, &engine).await;
    for id in [here.id, there.id] {
        assert!(engine.load_campaign(id).await.expect("load"));
    }
    let (keys, others) = (CampaignKeys::new(here.id), CampaignKeys::new(there.id));
    let counter_before: i64 = engine.redis().get(&others.counter).await.expect("counter");

    // Act: one call routed by the first campaign's keys, carrying a claim of each.
    let script = redis::Script::new(CLAIM_SCRIPT);
    let reply: Vec<redis::Value> = script
        .prepare_invoke()
        .key(&keys.meta)
        .key(&keys.counter)
        .key(&keys.issued)
        .key(&keys.queue)
        .arg("")
        .arg("member-1")
        .arg(format!("\n{}", there.id))
        .arg("member-1")
        .invoke_async(&mut engine.redis())
        .await
        .expect("the call");

    // Assert: the first issued, the other left for a call of its own, and nothing written to it.
    // (After the replication id of the node that ran it.)
    let decisions: Vec<i64> = reply
        .into_iter()
        .skip(1)
        .map(|decision| redis::from_redis_value(decision).expect("an integer"))
        .collect();
    assert_eq!(decisions, vec![1, 4, 1, -1]);
    let counter_after: i64 = engine.redis().get(&others.counter).await.expect("counter");
    assert_eq!(counter_after, counter_before);
    let issued: i64 = engine.redis().hlen(&others.issued).await.expect("HLEN");
    let queued: i64 = engine.redis().llen(&others.queue).await.expect("LLEN");
    assert_eq!((issued, queued), (0, 0));
    let outcome = engine
        .claim(there.id, &UserId::parse("member-1").expect("member"))
        .await
        .expect("claim");
    assert!(
        matches!(outcome, ClaimOutcome::Issued { sequence: 1, .. }),
        "{outcome:?}"
    );
    engine.db().close().await;
    database.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_campaigns_slot_moved_to_another_primary_mid_storm_keeps_every_invariant() {
    // Arrange: a server on a cluster, a campaign three times as many members want, and a
    // neighbour on the same primary claimed at the same time: their claims share script calls,
    // so the hot campaign's also ride in calls the neighbour's keys route.
    let (cluster, database, engine) = private_stores("migration").await;
    let quantity = 600;
    let campaign = engine
        .create_campaign(&support::draft(quantity))
        .await
        .expect("create campaign");
    let slot = CampaignKeys::slot(campaign.id);
    let from = cluster.primary_of(slot).await;
    let neighbour = campaign_beside(&engine, Some(&cluster), campaign.id, 10 * quantity).await;
    let env = [("REDIS_CLUSTER_NODES", cluster.seeds())];
    let server = ServerProcess::start_with("migration", free_port(), "", &database.url, &env).await;
    let to = *cluster
        .primaries()
        .await
        .iter()
        .find(|port| **port != from)
        .expect("another primary");

    // Act: both storms, and the hot campaign's slot moved while they run.
    let users = 3 * quantity as usize;
    let storm = Storm::start(vec![server.url("")], campaign.id, users, 1, 20);
    let beside = Storm::start_from(
        users,
        vec![server.url("")],
        neighbour.id,
        100 * users,
        1,
        10,
    );
    storm.until_answered(quantity as usize / 4).await;
    // Between key batches, the storm gets more answers (some 503s while the keys are split).
    let next_answers = || storm.until_answered(storm.answered() + 10);
    cluster.migrate_slot(slot, from, to, next_answers).await;
    let seen = storm.run_out().await;
    let seen_beside = beside.finish().await;
    until_drained(&engine, campaign.id).await;
    until_drained(&engine, neighbour.id).await;

    // Assert: the slot moved, every coupon went to one member each, every acknowledged claim
    // is recorded, and nobody got a server error; the same for the neighbour.
    assert_eq!(cluster.primary_of(slot).await, to);
    assert!(!seen.statuses.contains_key(&500), "{:?}", seen.statuses);
    let rows = engine.recorded_coupons(campaign.id).await.expect("rows");
    assert_eq!(rows.len() as i64, quantity, "sold out: {:?}", seen.statuses);
    assert_invariants(&engine, campaign.id, quantity, &seen).await;
    let statuses_beside = &seen_beside.statuses;
    assert!(!statuses_beside.contains_key(&500), "{statuses_beside:?}");
    assert!(statuses_beside.contains_key(&201), "{statuses_beside:?}");
    assert_invariants(&engine, neighbour.id, 10 * quantity, &seen_beside).await;

    // And the operator sees where it went: /readyz lists it under its new primary (the
    // server reads the slot owners every second), /metrics counts claim calls there.
    let new_home = format!("127.0.0.1:{to}");
    server
        .readiness_once(
            "/readyz to list the campaign on its new primary",
            std::time::Duration::from_secs(10),
            |_, body| {
                body["redis_cluster"].as_array().is_some_and(|nodes| {
                    nodes.len() == 3
                        && nodes.iter().any(|node| {
                            node["node"] == new_home.as_str()
                                && node["campaign_ids"]
                                    .as_array()
                                    .is_some_and(|ids| ids.contains(&campaign.id.0.into()))
                        })
                })
            },
        )
        .await;
    // A few more claims once the server knows the new owner (sold out by now: still a call).
    let client = reqwest::Client::new();
    for n in 0..5 {
        let answer = client
            .post(server.url(&format!("/api/v1/campaigns/{}/claims", campaign.id)))
            .bearer_auth(support::API_KEY)
            .json(&serde_json::json!({ "user_id": format!("late-{n}") }))
            .send()
            .await
            .expect("a claim");
        assert_eq!(answer.status().as_u16(), 409, "sold out");
    }
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("/metrics")
        .text()
        .await
        .expect("text");
    let claim_calls_there = metrics.lines().any(|line| {
        line.starts_with("coupon_script_calls_total")
            && line.contains(&format!("node=\"{new_home}\""))
            && line.contains("script=\"claim\"")
    });
    assert!(claim_calls_there, "{metrics}");
    // Claims that had joined the neighbour's calls while the keys were moving were sent again
    // on their own, and still answered as above.
    let resent = metrics
        .lines()
        .find_map(|line| line.strip_prefix("coupon_claims_resent_total "))
        .and_then(|count| count.trim().parse::<f64>().ok());
    assert!(resent.is_some_and(|count| count > 0.0), "{metrics}");
    drop(server);
    engine.db().close().await;
    database.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_holds_back_its_writes_delays_only_the_claims_of_its_own_campaigns() {
    // Arrange: two loaded campaigns on different primaries, each claimed once (scripts cached,
    // run ids read); then the first one's primary holds back every write.
    let (mut cluster, database, engine) = private_stores("stalled").await;
    let (stalled, going, home) = campaigns_on_two_primaries(&cluster, &engine).await;
    let member = |n: usize| UserId::parse(&format!("member-{n}")).expect("member");
    for id in [stalled.id, going.id] {
        assert!(engine.load_campaign(id).await.expect("load"));
        engine.claim(id, &member(0)).await.expect("a first claim");
    }
    cluster.node(home).pause_writes(3000).await;

    // Act: a claim of the stalled campaign, held in its primary; then one of the other.
    let waiting = {
        let engine = engine.clone();
        let user = member(1);
        tokio::spawn(async move { engine.claim(stalled.id, &user).await })
    };
    until_a_client_is_held(&mut cluster, home).await;
    let other = engine.claim(going.id, &member(1)).await;

    // Assert: the other campaign's claim was decided while the stalled one was still waiting.
    assert!(
        matches!(other, Ok(ClaimOutcome::Issued { sequence: 2, .. })),
        "{other:?}"
    );
    assert!(
        !waiting.is_finished(),
        "the other primary's claim waited for the stalled one"
    );
    cluster.node(home).unpause().await;
    let held = waiting.await.expect("join");
    assert!(
        matches!(
            held,
            Ok(ClaimOutcome::Issued { .. }) | Err(coupon::EngineError::Redis(_))
        ),
        "the held claim is issued or told to try again: {held:?}"
    );
    engine.db().close().await;
    database.remove().await;
}

/// Waits (bounded) until the node on `port` holds back a client's command.
async fn until_a_client_is_held(cluster: &mut LocalCluster, port: u16) {
    let admin = cluster.node(port).admin().await;
    support::eventually(
        "a claim held by the paused node",
        std::time::Duration::from_secs(10),
        || {
            let mut admin = admin.clone();
            async move {
                let info: String = redis::cmd("INFO")
                    .arg("clients")
                    .query_async(&mut admin)
                    .await
                    .expect("INFO clients");
                info.lines()
                    .find_map(|line| line.trim().strip_prefix("blocked_clients:"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|held| held > 0)
            }
        },
    )
    .await;
}
