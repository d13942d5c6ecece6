//! The README's guarantees while things break: real server processes, a real Redis and
//! PostgreSQL, and a claim storm through the JSON API while a fault is injected. Each test has
//! its own Redis process and database (see `support::stack`), bounded waits, and stops what it
//! started even when it fails.

mod support;

use std::time::Duration;
use support::process::{ServerProcess, free_port};
use support::stack::Stack;
use support::storm::{Storm, assert_invariants, issued_in_redis, until_drained};
use support::{API_KEY, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_storm_loses_no_acknowledged_claim() {
    server_killed_mid_storm("kill", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_server_killed_mid_storm_loses_no_acknowledged_claim() {
    server_killed_mid_storm("clusterkill", true).await;
}

async fn server_killed_mid_storm(name: &str, cluster: bool) {
    // Arrange: 300 coupons, 1,200 claims (every member twice) from 40 clients, and a
    // neighbour campaign on the same Redis claimed at the same time (the two share script
    // calls).
    let stack = Stack::start_on(name, cluster).await;
    let campaign = stack.campaign(300).await;
    let neighbour = stack.neighbour_of(&campaign, 3000).await;
    let port = free_port();
    let mut server = stack.server_at(&format!("{name}-1"), port).await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 600, 2, 40);
    let beside = Storm::start_from(600, vec![server.url("")], neighbour.id, 600, 2, 10);

    // Act: SIGKILL while claims and syncs are in flight, then start it again.
    storm.until_answered(250).await;
    server.kill();
    let seen = storm.finish().await;
    let seen_beside = beside.finish().await;
    let _restarted = stack.server_at(&format!("{name}-2"), port).await;
    until_drained(&stack.engine, campaign.id).await;
    until_drained(&stack.engine, neighbour.id).await;

    // Assert
    assert!(
        !seen.issued.is_empty() && !seen_beside.issued.is_empty(),
        "some claims of each campaign were acknowledged before the kill"
    );
    assert_invariants(&stack.engine, campaign.id, 300, &seen).await;
    assert_invariants(&stack.engine, neighbour.id, 3000, &seen_beside).await;
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_work_and_exits_within_seconds() {
    let stack = Stack::start("term").await;
    let campaign = stack.campaign(500).await;
    let mut server = stack.server("term").await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 2000, 1, 20);

    storm.until_answered(200).await;
    let (status, took) = server.terminate(Duration::from_secs(10)).await;
    let seen = storm.finish().await;

    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    // What the stopped server acknowledged but had not synced waits in Redis for the next
    // instance; the test's own drain plays that part here.
    let drainer = coupon::sync::Drainer::new(stack.engine.clone());
    drainer.sync_once().await.expect("sync");
    until_drained_by(&drainer, campaign.id).await;
    assert_invariants(&stack.engine, campaign.id, 500, &seen).await;
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_log_reader_went_away_still_serves_and_stops_on_sigterm() {
    // Arrange: the server logs into a pipe (as under a supervisor or `| tee`), and whoever read
    // it is gone, so every line it writes from now on fails with "broken pipe".
    let mut stack = Stack::start("deadlog").await;
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let output = (writer.try_clone().expect("pipe").into(), writer.into());
    let mut server = ServerProcess::start_writing_to(
        output,
        free_port(),
        &stack.single_redis().url(),
        &stack.database_url,
    )
    .await;
    drop(reader);

    // Act: a request that logs while it is served (creating a campaign is logged), a claim on
    // it, then SIGTERM, whose handler logs too.
    let client = reqwest::Client::new();
    let now = chrono::Utc::now();
    let created = client
        .post(server.url("/api/v1/campaigns"))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({
            "name": "logged into the void",
            "discount_kind": "fixed_amount",
            "discount_amount": 1000,
            "quantity": 10,
            "claim_starts_at": now.to_rfc3339(),
            "claim_ends_at": (now + chrono::Duration::days(1)).to_rfc3339(),
            "valid_days": 7
        }))
        .send()
        .await
        .expect("an answer to the create");
    let created_status = created.status();
    let campaign: serde_json::Value = created.json().await.expect("the campaign");
    let claimed = client
        .post(server.url(&format!("/api/v1/campaigns/{}/claims", campaign["id"])))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({ "user_id": "after-the-log-went" }))
        .send()
        .await
        .expect("an answer to the claim");
    let (status, took) = server.terminate(Duration::from_secs(10)).await;

    // Assert: losing the log cost neither a request nor the shutdown.
    assert_eq!(created_status, 201);
    assert_eq!(claimed.status(), 201);
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_hangs_a_claim_hears_try_again_within_its_own_wait() {
    redis_hangs("hang", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_while_a_primary_hangs_a_claim_hears_try_again_within_its_own_wait() {
    redis_hangs("clusterhang", true).await;
}

async fn redis_hangs(name: &str, cluster: bool) {
    // Arrange: two loaded campaigns on one Redis, then it stops answering claims (every
    // client's writes are held back, and the claim script writes).
    let stack = Stack::start_on(name, cluster).await;
    let campaign = stack.campaign(100).await;
    let neighbour = stack.neighbour_of(&campaign, 100).await;
    let engine = stack.engine.clone();
    let member = |name: &str| coupon::UserId::parse(name).expect("valid id");
    for id in [campaign.id, neighbour.id] {
        engine
            .claim(id, &member("before-the-hang"))
            .await
            .expect("a claim while Redis answers");
    }
    let redis = stack.redis_of(campaign.id).await;
    let admin = redis.admin().await;
    redis.pause_writes(8000).await;

    // Act: one claim goes out and hangs in Redis; ten more, of both campaigns, arrive while it
    // is held there, so they make the next round (one call for both), which cannot go out
    // before the first one gives up.
    let ahead = tokio::spawn({
        let engine = engine.clone();
        async move { engine.claim(campaign.id, &member("ahead")).await }
    });
    eventually(
        "Redis to hold the first claim's call",
        Duration::from_secs(2),
        || async {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query_async(&mut admin.clone())
                .await
                .expect("info");
            info.lines()
                .filter_map(|line| line.trim().strip_prefix("blocked_clients:"))
                .any(|blocked| blocked.parse::<u32>().is_ok_and(|n| n > 0))
        },
    )
    .await;
    let behind: Vec<_> = (0..10)
        .map(|n| {
            let engine = engine.clone();
            let id = if n % 2 == 0 {
                campaign.id
            } else {
                neighbour.id
            };
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let outcome = engine.claim(id, &member(&format!("behind-{n}"))).await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    let ahead = ahead.await.expect("join");
    let mut behind_answers = Vec::new();
    for claim in behind {
        behind_answers.push(claim.await.expect("join"));
    }
    redis.unpause().await;

    // Assert: everyone hears "Redis failed" (a 503, try again). Those behind hear it after their
    // own wait (2.5 s), not after the round ahead timed out and then theirs (about 3.9 s).
    assert!(
        matches!(ahead, Err(coupon::EngineError::Redis(_))),
        "{ahead:?}"
    );
    for (outcome, waited) in behind_answers {
        assert!(
            matches!(outcome, Err(coupon::EngineError::Redis(_))),
            "{outcome:?}"
        );
        assert!(waited < Duration::from_millis(3300), "waited {waited:?}");
    }
    stack.remove().await;
}

async fn until_drained_by(drainer: &coupon::sync::Drainer, id: coupon::CampaignId) {
    eventually("the queue to drain", Duration::from_secs(20), || async {
        drainer.drain_step(id).await.expect("drain step") == coupon::sync::StepOutcome::Empty
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_work_and_one_takes_over_when_the_other_dies() {
    one_of_two_instances_dies("pair", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_two_instances_share_the_work_and_one_takes_over_when_the_other_dies() {
    one_of_two_instances_dies("clusterpair", true).await;
}

async fn one_of_two_instances_dies(name: &str, cluster: bool) {
    let stack = Stack::start_on(name, cluster).await;
    let campaign = stack.campaign(400).await;
    let mut first = stack.server(&format!("{name}-a")).await;
    let second = stack.server(&format!("{name}-b")).await;
    let storm = Storm::start(vec![first.url(""), second.url("")], campaign.id, 800, 1, 40);

    storm.until_answered(300).await;
    first.kill();
    let seen = storm.run_out().await;
    until_drained(&stack.engine, campaign.id).await;

    // Claims sent to the dead instance got no answer; the living one sold the rest, and took
    // over draining what the dead one had leased.
    assert!(seen.statuses.get(&0).copied().unwrap_or(0) > 0);
    assert_invariants(&stack.engine, campaign.id, 400, &seen).await;
    let rows = stack.engine.recorded_coupons(campaign.id).await.unwrap();
    assert_eq!(
        rows.len(),
        400,
        "more than 400 members reached Redis: it sells out"
    );
    drop(second);
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_go_on_while_postgres_is_down_and_the_backlog_drains_after() {
    postgres_down("pgdown", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_claims_go_on_while_postgres_is_down_and_the_backlog_drains_after() {
    postgres_down("clusterpgdown", true).await;
}

async fn postgres_down(name: &str, cluster: bool) {
    // Arrange: the server reaches PostgreSQL through a proxy the test can cut.
    let stack = Stack::start_on(name, cluster).await;
    let campaign = stack.campaign(1000).await;
    let (proxy, proxied) = stack.database_behind_proxy().await;
    let server = stack
        .server_with_database(name, free_port(), &proxied)
        .await;
    // The server's sync has listed the campaign before PostgreSQL goes: a campaign it has never
    // seen it cannot report on. Every round reports each campaign's queue depth in /metrics.
    let depth = format!("coupon_queue_depth{{campaign=\"{}\"}}", campaign.id);
    eventually(
        "the server's sync to visit the campaign",
        Duration::from_secs(20),
        || async {
            let metrics = reqwest::get(server.url("/metrics")).await.unwrap();
            metrics.text().await.unwrap().contains(&depth)
        },
    )
    .await;

    // Act: PostgreSQL goes away; claims keep coming.
    proxy.cut().await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 300, 1, 20);
    let during = storm.run_out().await;
    let outage = stack.engine.status(campaign.id).await.unwrap().unwrap();
    wait_for_sync_error(&stack, campaign.id).await;
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();

    // Assert: every claim was served from Redis; the queue held them; the error is reported.
    assert_eq!(during.issued.len(), 300, "statuses: {:?}", during.statuses);
    assert_eq!(outage.synced, 0);
    assert_eq!(ready.status(), 503);

    // And once PostgreSQL is back, the backlog drains to exactly one row per claim.
    proxy.restore();
    until_drained(&stack.engine, campaign.id).await;
    assert_invariants(&stack.engine, campaign.id, 1000, &during).await;
    let status = stack.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.synced, 300);
    drop(server);
    stack.remove().await;
}

async fn wait_for_sync_error(stack: &Stack, id: coupon::CampaignId) {
    eventually(
        "the sync error to be reported",
        Duration::from_secs(20),
        || async {
            let status = stack.engine.status(id).await.unwrap().unwrap();
            status.last_sync_error.is_some() && status.queued > 0
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_fails_claims_fast_and_they_resume_on_their_own() {
    // A neighbour campaign is claimed beside the first: after the restart both are verified
    // again, and their claims share calls again.
    let mut stack = Stack::start("redisrestart").await;
    let campaign = stack.campaign(2000).await;
    let neighbour = stack.campaign(2000).await;
    let server = stack.server("redis-restart").await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 3000, 1, 20);
    let beside = Storm::start_from(3000, vec![server.url("")], neighbour.id, 1000, 1, 5);

    storm.until_answered(300).await;
    stack.single_redis().stop().await;
    let answered_before = storm.answered();
    let neighbour_answered_before = beside.answered();
    let down = Storm::start(vec![server.url("")], campaign.id, 20, 1, 5);
    let while_down = down.run_out().await;
    stack.single_redis().restart().await;
    let seen = storm.run_out().await;
    let seen_beside = beside.run_out().await;
    until_drained(&stack.engine, campaign.id).await;
    until_drained(&stack.engine, neighbour.id).await;

    // While Redis was down: a clear "try again" (503), quickly, never a hang or a 500.
    assert_eq!(
        while_down.statuses.get(&503).copied(),
        Some(20),
        "{:?}",
        while_down.statuses
    );
    assert!(
        while_down.slowest < Duration::from_secs(4),
        "slowest {:?}",
        while_down.slowest
    );
    assert!(!seen.statuses.contains_key(&500));
    // After the restart claims are issued again (each of the 20 clients may have had one claim
    // in flight when Redis stopped), and the invariants hold.
    assert!(
        seen.issued.len() > answered_before + 20,
        "issued after the restart too: {:?}",
        seen.statuses
    );
    let mut all = seen;
    all.attempted.extend(while_down.attempted);
    assert_invariants(&stack.engine, campaign.id, 2000, &all).await;
    assert!(!seen_beside.statuses.contains_key(&500));
    assert!(
        // Each of its 5 clients may have had one claim in flight when Redis stopped.
        seen_beside.issued.len() > neighbour_answered_before + 5,
        "the neighbour issued after the restart too: {:?}",
        seen_beside.statuses
    );
    assert_invariants(&stack.engine, neighbour.id, 2000, &seen_beside).await;
    drop(server);
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_everything_is_rebuilt_from_postgres_without_over_issue() {
    let mut stack = Stack::start("flush").await;
    let campaign = stack.campaign(200).await;
    let server = stack.server("flush").await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 400, 2, 20);

    storm.until_answered(150).await;
    stack.single_redis().flushall().await;
    let seen = storm.run_out().await;
    until_drained(&stack.engine, campaign.id).await;

    // What PostgreSQL recorded never exceeds the quantity, nobody holds two, and Redis's state
    // was rebuilt to agree with it. (Claims acknowledged but not yet synced when Redis lost its
    // data are gone with it: see the README's "Operating" section.)
    let rows = stack.engine.recorded_coupons(campaign.id).await.unwrap();
    assert!(rows.len() <= 200, "over-issued: {}", rows.len());
    let users: std::collections::HashSet<_> = rows.iter().map(|r| r.user_id.clone()).collect();
    assert_eq!(users.len(), rows.len());
    let in_redis = issued_in_redis(&stack.engine, campaign.id).await;
    assert_eq!(in_redis, users);
    let status = stack.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.remaining, Some(200 - rows.len() as i64));
    // Every member tried again after the flush and 400 > 200: the rebuilt campaign sold out.
    assert_eq!(rows.len(), 200);
    // A member told "issued" twice had the first claim lost unsynced with Redis's data; the
    // second one is the coupon they hold.
    for user in &seen.told_twice {
        let row = rows.iter().find(|r| &r.user_id == user).expect("a row");
        assert_eq!(Some(&row.code), seen.issued.get(user));
    }
    drop(server);
    stack.remove().await;
}
