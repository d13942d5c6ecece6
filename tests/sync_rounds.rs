//! Whole sync rounds over every campaign, and the background loop.
//!
//! These drain *all* campaigns, so they live in their own test binary (cargo runs binaries one at
//! a time) and use a short lease: their drainers never hold up another test's for long.
//!
//! Within this binary the tests take turns ([`one_at_a_time`]). Run side by side, the background
//! loop of one test leases the other test's expired campaign for its own round, so the other
//! test's `sync_once` is told "not yours" and can look before the loop has retired it. (That is
//! correct behaviour of two drainers, but it makes "this round retired it" a race.)

mod support;

use chrono::{Duration, Utc};
use coupon::redis::CampaignKeys;
use coupon::sync::{Drainer, run_sync_loop};
use coupon::{CampaignId, Engine, SyncSettings};
use redis::AsyncCommands;
use std::time::Duration as StdDuration;
use support::*;
use tokio_util::sync::CancellationToken;

/// Held for the whole of each test, so no other drainer of this binary runs beside it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

async fn engine_with_short_lease() -> Engine {
    engine_with(SyncSettings {
        lease_ttl: StdDuration::from_millis(300),
        ..SyncSettings::default()
    })
    .await
}

async fn claim_n(engine: &Engine, id: CampaignId, n: usize) {
    for i in 0..n {
        engine.claim(id, &user(i)).await.unwrap();
    }
}

#[tokio::test]
async fn sync_once_drains_pending_campaigns_and_retires_expired_empty_ones() {
    // Arrange: an open campaign with claims, and one whose window closed long ago.
    let _turn = one_at_a_time().await;
    let engine = engine_with_short_lease().await;
    let open = open_campaign(&engine, 10).await;
    claim_n(&engine, open.id, 3).await;
    let now = Utc::now();
    let expired = recorded_campaign(
        &engine,
        5,
        "active",
        now - Duration::days(3),
        now - Duration::days(2),
    )
    .await;

    // Act: rounds until this test's open campaign is drained (other tests' campaigns may share
    // the rounds; that is harmless).
    let drainer = Drainer::new(engine.clone());
    eventually("sync_once to drain the open campaign", || async {
        drainer.sync_once().await.unwrap();
        rows(&engine, open.id).await == 3
    })
    .await;

    // Assert
    let watched: Vec<CampaignId> = coupon::store::campaigns::watched(engine.db())
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.campaign.id)
        .collect();
    assert!(watched.contains(&open.id), "an open campaign stays watched");
    assert!(
        !watched.contains(&expired),
        "an expired campaign with an empty queue is skipped from now on"
    );
}

#[tokio::test]
async fn a_round_leases_only_the_campaigns_with_queued_coupons() {
    // Arrange: one campaign with claims waiting, one open campaign nobody claimed from yet.
    let _turn = one_at_a_time().await;
    let engine = engine_with_short_lease().await;
    let busy = open_campaign(&engine, 10).await;
    let idle = open_campaign(&engine, 10).await;
    claim_n(&engine, busy.id, 2).await;
    let drainer = Drainer::new(engine.clone());

    // Act
    let report = drainer.sync_once().await.unwrap();

    // Assert: the busy queue was drained under a lease; the idle one was looked at (it is still
    // watched and counted) but cost no lease, so no step ran for it.
    assert_eq!(rows(&engine, busy.id).await, 2);
    assert!(
        report.campaigns >= 2,
        "both campaigns are watched: {report:?}"
    );
    let lease_of = |id: CampaignId| CampaignKeys::new(id).drain_lease;
    let mut redis = engine.redis();
    let busy_leased: bool = redis.exists(lease_of(busy.id)).await.unwrap();
    let idle_leased: bool = redis.exists(lease_of(idle.id)).await.unwrap();
    assert!(busy_leased, "the busy campaign's drain is leased");
    assert!(!idle_leased, "an empty queue takes no lease");
}

#[tokio::test]
async fn the_background_loop_syncs_new_claims_and_stops_when_cancelled() {
    // Arrange
    let _turn = one_at_a_time().await;
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 50).await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_sync_loop(engine.clone(), shutdown.clone()));

    // Act
    claim_n(&engine, campaign.id, 20).await;

    // Assert: the loop records them without being driven.
    eventually("the loop to sync 20 rows", || async {
        rows(&engine, campaign.id).await == 20
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(StdDuration::from_secs(5), worker)
        .await
        .expect("the loop stops promptly")
        .unwrap();
}
