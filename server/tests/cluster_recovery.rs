//! Issue 27: server instances on a Redis Cluster that lived through failovers answered every
//! claim "redis: timed out" long after the cluster was whole again, and SIGTERM did not stop
//! them. Here one server process lives through the faults that did it, claims flowing all along:
//! a primary paused (SIGSTOP) past the node timeout so its replica takes over, then resumed; the
//! primary that took over SIGKILLed and restarted. Each time the cluster is whole by itself, the
//! same process must answer claims again within 30 s, and SIGTERM must end it within its bound
//! even while a primary hangs.
//!
//! The first check is the one that fails without the cluster connection's watchdog
//! (`src/redis/cluster.rs`): while the paused primary stays silent, redis-rs keeps sending its
//! slots' commands to it (a command that times out moves nothing), so claims on that shard time
//! out for as long as it stays paused although its replica serves them.

mod support;

use coupon::redis::{CampaignKeys, RedisTarget};
use coupon::{CampaignId, ClaimAck, RedisSettings};
use std::time::Duration;
use support::cluster::LocalCluster;
use support::process::{ServerProcess, free_port, signal_pid};
use support::stack::{Database, test_engine};
use support::storm::Storm;

/// How soon after the cluster is whole the same process must serve claims again.
const SERVES_AGAIN_WITHIN: Duration = Duration::from_secs(30);

/// The server's bound on SIGTERM (`SHUTDOWN_DEADLINE` in `server/src/main.rs`, stated in
/// docs/operating.md), and the slack of the test's polling of the exit.
const EXITS_WITHIN: Duration = Duration::from_secs(10);
const POLLING_SLACK: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_lived_through_failovers_serves_claims_again_and_stops_on_sigterm() {
    // Arrange: a cluster, a database, a campaign, one server process, claims flowing.
    let mut cluster = LocalCluster::start().await;
    let database = Database::create("cluster_recovery", cluster.nodes[0].port).await;
    let settings = RedisSettings {
        target: RedisTarget::Cluster(cluster.seed_list()),
        ack: ClaimAck::Primary,
    };
    let engine = test_engine(&settings, &database.url).await;
    let campaign = engine
        .create_campaign(&support::draft(1_000_000))
        .await
        .expect("create campaign");
    let env = [("REDIS_CLUSTER_NODES", cluster.seeds())];
    let mut server =
        ServerProcess::start_with("cluster_recovery", free_port(), "", &database.url, &env).await;
    let storm = Storm::start(vec![server.url("")], campaign.id, 1_000_000, 1, 4);
    storm.until_answered(50).await;
    let slot = CampaignKeys::slot(campaign.id);

    // Act 1: the campaign's primary goes silent (SIGSTOP) past the node timeout; its replica
    // takes over and every other node says the cluster is ok.
    let paused = cluster.primary_of(slot).await;
    let paused_pid = cluster.node(paused).pid().expect("the primary runs");
    signal_pid(paused_pid, "STOP");
    cluster.until_failed_over(slot, paused).await;
    until_whole(&cluster, Some(paused), 2).await;

    // Assert 1: the same process answers the campaign's claims although the old primary, which
    // its connection knew as the slot's owner, never answers.
    serves_claims_again(&server, campaign.id, "with the old primary still paused").await;

    // Act 2: the old primary comes back (as a replica); then the primary that took over is
    // SIGKILLed, its slots fail over again, and it is restarted.
    signal_pid(paused_pid, "CONT");
    until_whole(&cluster, None, 3).await;
    let promoted = cluster.primary_of(slot).await;
    cluster.node(promoted).kill();
    cluster.until_failed_over(slot, promoted).await;
    cluster.node(promoted).restart().await;
    until_whole(&cluster, None, 3).await;

    // Assert 2: claims and readiness again, from the same process.
    serves_claims_again(&server, campaign.id, "after the second failover").await;
    let (status, body) = server
        .readiness_once(
            "/readyz to say ready again",
            SERVES_AGAIN_WITHIN,
            |status, _| status == 200,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redis"], "ok", "{body}");

    // Act 3: a primary hangs under the claims in flight, and the server is told to stop.
    let hanging = cluster.primary_of(slot).await;
    let hanging_pid = cluster.node(hanging).pid().expect("the primary runs");
    signal_pid(hanging_pid, "STOP");
    // The hang held for a second before the stop: the scenario itself (claims stuck on a node
    // that never answers), not a wait for something to happen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, took) = server
        .terminate(EXITS_WITHIN + Duration::from_secs(5))
        .await;
    signal_pid(hanging_pid, "CONT");
    let seen = storm.finish().await;

    // Assert 3: it stopped within its bound, whatever the hanging primary did.
    assert!(
        took <= EXITS_WITHIN + POLLING_SLACK,
        "SIGTERM took {took:?} to end the server (bound: {EXITS_WITHIN:?})"
    );
    assert!(
        seen.statuses.get(&201).copied().unwrap_or(0) > 0,
        "{:?}",
        seen.statuses
    );
    engine.db().close().await;
    database.remove().await;
}

/// Claims with members of their own until one is answered 201 or 409 (not 503 "try again", not
/// a timeout), within [`SERVES_AGAIN_WITHIN`] of now, when the cluster is whole.
async fn serves_claims_again(server: &ServerProcess, campaign: CampaignId, when: &str) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = server.url(&format!("/api/v1/campaigns/{campaign}/claims"));
    let tries = std::sync::atomic::AtomicUsize::new(0);
    let last = std::sync::Mutex::new((0, String::new()));
    let served =
        support::first_within_every(Duration::from_millis(200), SERVES_AGAIN_WITHIN, || {
            let n = tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (client, url, last) = (&client, &url, &last);
            async move {
                let answer = client
                    .post(url)
                    .bearer_auth(support::API_KEY)
                    .json(&serde_json::json!({ "user_id": format!("recovery-{n}") }))
                    .send()
                    .await;
                let (status, body) = match answer {
                    Ok(answer) => (
                        answer.status().as_u16(),
                        answer.text().await.unwrap_or_default(),
                    ),
                    Err(error) => (0, error.to_string()),
                };
                let served = (status == 201 || status == 409).then_some(());
                *last.lock().expect("last answer") = (status, body);
                served
            }
        });
    if served.await.is_none() {
        let (status, body) = last.into_inner().expect("last answer");
        panic!(
            "no claim answered {when} within {SERVES_AGAIN_WITHIN:?} of the cluster being \
             whole; the last answer: {status} {body}"
        );
    }
}

/// Waits (bounded) until every running node but `except` says `cluster_state:ok` and
/// `replicas` replicas are in sync with their primaries: the cluster is whole by itself.
async fn until_whole(cluster: &LocalCluster, except: Option<u16>, replicas: usize) {
    support::eventually(
        "every node to say the cluster is ok",
        Duration::from_secs(60),
        || async {
            cluster
                .synced_replicas(except)
                .await
                .is_some_and(|synced| synced >= replicas)
        },
    )
    .await;
}
