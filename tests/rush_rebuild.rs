//! A rush on a campaign whose Redis state was lost, with many holders recorded: one load per
//! instance, no pool exhaustion, staging sets that always expire. Its own test binary with one
//! test, because it counts loads through the engine's metrics with a process-wide recorder.

mod support;

use coupon::metrics::STATE_REPAIRS;
use coupon::{CampaignId, ClaimOutcome, Engine};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use redis::AsyncCommands;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::*;

/// Loads that found the state missing, since the last look.
fn missing_loads(snapshotter: &Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key().name() == STATE_REPAIRS
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == "found" && l.value() == "missing")
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("{STATE_REPAIRS} is not a counter: {other:?}"),
        })
        .sum()
}

/// Watches the campaign's staging keys until stopped: how many it saw, and how many of those
/// had no TTL.
fn watch_staging(
    engine: &Engine,
    id: CampaignId,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, usize)> {
    let mut redis = engine.redis();
    let pattern = format!("coupon:loading:{{{}}}:*", id.0);
    tokio::spawn(async move {
        let (mut seen, mut without_ttl) = (0, 0);
        let mut ticks = tokio::time::interval(Duration::from_millis(2));
        while !stop.load(Ordering::SeqCst) {
            ticks.tick().await;
            let keys: Vec<String> = redis.keys(&pattern).await.expect("KEYS");
            for key in keys {
                seen += 1;
                let ttl: i64 = redis.ttl(&key).await.expect("TTL");
                if ttl == -1 {
                    without_ttl += 1;
                }
            }
        }
        (seen, without_ttl)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_claims_on_a_lost_campaign_of_a_hundred_thousand_holders_wait_for_one_load() {
    // Arrange
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this test binary");
    let engine = engine().await;
    let campaign = open_campaign(&engine, HOLDERS + 500).await;
    recorded_holders_and_lost_state(&engine, campaign.id).await;
    missing_loads(&snapshotter);
    let stop = Arc::new(AtomicBool::new(false));
    let staging = watch_staging(&engine, campaign.id, stop.clone());

    // Act: 500 new members and 100 recorded ones claim at the same moment.
    let new = claim_at_once(&engine, campaign.id, 0..500);
    let holders = async {
        let tasks: Vec<_> = (1..=100)
            .map(|n| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let holder = coupon::UserId::parse(&format!("holder-{n}")).unwrap();
                    engine.claim(campaign.id, &holder).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("join"));
        }
        outcomes
    };
    let (new, holders) = tokio::join!(new, holders);
    stop.store(true, Ordering::SeqCst);
    let (seen_staging, without_ttl) = staging.await.expect("join");

    // Assert: one load; every claim answered (none ran the pool dry); exactly the 500 left went
    // out; recorded members were recognised.
    assert_eq!(missing_loads(&snapshotter), 1, "loads");
    assert_eq!(issued_coupons(new).len(), 500);
    for outcome in holders {
        assert_eq!(outcome.expect("answered"), ClaimOutcome::AlreadyClaimed);
    }
    assert_eq!(
        without_ttl, 0,
        "staging keys without a TTL (of {seen_staging} seen)"
    );
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.remaining, status.claimed), (Some(0), HOLDERS + 500));
}
