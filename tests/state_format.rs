//! Upgrading without flushing Redis: the previous release kept a campaign's issued users in a
//! SET (format 1); this one keeps each user's sequence number in a hash (format 2). A state of
//! format 1 is converted before it is claimed from, looked up in, resized or synced, and keeps
//! every holder and every queued coupon.

mod support;

use coupon::redis::CampaignKeys;
use coupon::sync::{Drainer, StepOutcome};
use coupon::{CampaignId, ClaimOutcome, Engine};
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};
use support::*;

/// Rewrites the campaign's state as the previous release left it: the issued users as a SET,
/// no `format` in meta (everything else it wrote is as this release writes it).
async fn as_the_previous_release_left_it(engine: &Engine, id: CampaignId) {
    let keys = CampaignKeys::new(id);
    let mut redis = engine.redis();
    let users: Vec<String> = redis.hkeys(&keys.issued).await.expect("HKEYS");
    let _: () = redis::pipe()
        .del(&keys.issued)
        .sadd(&keys.issued, &users)
        .hdel(&keys.meta, "format")
        .query_async(&mut redis)
        .await
        .expect("rewrite as format 1");
}

async fn claim(engine: &Engine, id: CampaignId, n: usize) -> ClaimOutcome {
    engine.claim(id, &user(n)).await.expect("a claim")
}

async fn drain_all(drainer: &Drainer, id: CampaignId) {
    eventually("the queue to drain", || async {
        drainer.drain_step(id).await.expect("drain step") == StepOutcome::Empty
    })
    .await;
}

async fn issued_hash(engine: &Engine, id: CampaignId) -> HashMap<String, String> {
    let keys = CampaignKeys::new(id);
    engine.redis().hgetall(&keys.issued).await.expect("HGETALL")
}

/// Members 0–3 recorded, members 4 and 5 queued, then the state rewritten as format 1.
async fn recorded_and_queued_in_format_one(engine: &Engine, drainer: &Drainer) -> CampaignId {
    let campaign = open_campaign(engine, 10).await;
    for n in 0..4 {
        claim(engine, campaign.id, n).await;
    }
    drain_all(drainer, campaign.id).await;
    for n in 4..6 {
        claim(engine, campaign.id, n).await;
    }
    as_the_previous_release_left_it(engine, campaign.id).await;
    campaign.id
}

#[tokio::test]
async fn a_state_the_previous_release_left_is_converted_before_its_next_claim() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let id = recorded_and_queued_in_format_one(&engine, &drainer).await;
    let before = engine.status(id).await.unwrap().unwrap();

    // Act
    let recorded_member = claim(&engine, id, 0).await;
    let queued_member = claim(&engine, id, 4).await;
    let newcomer = claim(&engine, id, 6).await;

    // Assert: the dashboard read the old format; holders kept their coupon; numbering goes on
    // (the same Redis, so nothing was lost); the queued numbers were kept for the lookup.
    assert_eq!((before.claimed, before.queued), (6, 2));
    assert_eq!(recorded_member, ClaimOutcome::AlreadyClaimed);
    assert_eq!(queued_member, ClaimOutcome::AlreadyClaimed);
    let ClaimOutcome::Issued {
        sequence,
        remaining,
        ..
    } = newcomer
    else {
        panic!("{newcomer:?}");
    };
    assert_eq!((sequence, remaining), (7, 3));
    let issued = issued_hash(&engine, id).await;
    let number_of = |n: usize| issued.get(user(n).as_str()).map(String::as_str);
    assert_eq!(issued.len(), 7);
    assert_eq!(
        (number_of(4), number_of(5), number_of(6)),
        (Some("5"), Some("6"), Some("7"))
    );
    // Recorded before the conversion: the lookup asks PostgreSQL.
    assert_eq!(number_of(0), Some("0"));

    drain_all(&drainer, id).await;
    let rows = engine.recorded_coupons(id).await.unwrap();
    let members: HashSet<&str> = rows.iter().map(|row| row.user_id.as_str()).collect();
    let numbers: HashSet<i64> = rows.iter().map(|row| row.sequence).collect();
    assert_eq!((rows.len(), members.len(), numbers.len()), (7, 7, 7));
}

#[tokio::test]
async fn a_lookup_finds_a_coupon_queued_by_the_previous_release() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let id = recorded_and_queued_in_format_one(&engine, &drainer).await;

    // Act
    let queued = engine.coupon_of(id, &user(5)).await.unwrap();
    let recorded = engine.coupon_of(id, &user(1)).await.unwrap();
    let stranger = engine.coupon_of(id, &user(9)).await.unwrap();

    // Assert
    let queued = queued.expect("member 5's coupon is queued");
    assert_eq!((queued.sequence, queued.synced), (6, false));
    assert_eq!(queued.code, engine.codes().code_of(id, 6).unwrap());
    assert_eq!(
        recorded.map(|held| (held.sequence, held.synced)),
        Some((2, true))
    );
    assert_eq!(stranger, None);
}

#[tokio::test]
async fn a_quantity_change_converts_a_state_the_previous_release_left() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let id = recorded_and_queued_in_format_one(&engine, &drainer).await;

    // Act
    engine.set_quantity(id, 8).await.unwrap().expect("campaign");
    let below_claimed = engine.set_quantity(id, 5).await;

    // Assert: six claimed, so two are left, and five is refused.
    assert_eq!(engine.status(id).await.unwrap().unwrap().remaining, Some(2));
    assert!(below_claimed.is_err(), "{below_claimed:?}");
    assert_eq!(issued_hash(&engine, id).await.len(), 6);
}

#[tokio::test]
async fn the_sync_converts_a_state_the_previous_release_left_and_records_its_queue() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let id = recorded_and_queued_in_format_one(&engine, &drainer).await;

    // Act: sync rounds, no claim.
    eventually("the sync to record the queue", || async {
        drainer.sync_once().await.expect("a sync round");
        engine.status(id).await.unwrap().unwrap().queued == 0
    })
    .await;

    // Assert
    let keys = CampaignKeys::new(id);
    let format: Option<i64> = engine.redis().hget(&keys.meta, "format").await.unwrap();
    assert_eq!(format, Some(2));
    assert_eq!(issued_hash(&engine, id).await.len(), 6);
    assert_eq!(rows(&engine, id).await, 6);
}

#[tokio::test]
async fn an_instance_of_the_previous_release_fails_on_a_converted_state_and_writes_nothing() {
    // Arrange: a converted campaign with one holder.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    claim(&engine, campaign.id, 0).await;
    let keys = CampaignKeys::new(campaign.id);
    let before = engine.status(campaign.id).await.unwrap().unwrap();

    // Act: the previous release's claim script, as one of its instances would call it.
    let previous = redis::Script::new(include_str!("fixtures/claim_previous_release.lua"));
    let mut call = previous.prepare_invoke();
    call.key(&keys.meta)
        .key(&keys.counter)
        .key(&keys.issued)
        .key(&keys.queue)
        .arg(redis_run_id(&engine, campaign.id).await)
        .arg(user(1).as_str());
    let reply: redis::RedisResult<Vec<i64>> = call.invoke_async(&mut engine.redis()).await;

    // Assert: an error (its server answers 503), and the state is as it was.
    assert!(reply.is_err(), "{reply:?}");
    let after = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (after.remaining, after.claimed, after.queued),
        (before.remaining, before.claimed, before.queued)
    );
    assert_eq!(claim(&engine, campaign.id, 1).await.name(), "issued");
}
