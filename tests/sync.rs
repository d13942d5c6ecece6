//! The sync: crash safety between its steps, lease fencing, and the status it reports.

mod support;

use coupon::store::coupons;
use coupon::sync::{Drainer, QueuedCoupon, StepOutcome};
use coupon::{CampaignId, Engine, SyncSettings};
use std::collections::HashSet;
use std::time::Duration as StdDuration;
use support::*;

/// A short lease, so a "crashed" drainer's lease runs out quickly, as after a real crash.
async fn engine_with_short_lease() -> Engine {
    engine_with(SyncSettings {
        batch_size: 4,
        rows_per_statement: 3,
        lease_ttl: StdDuration::from_millis(300),
        ..SyncSettings::default()
    })
    .await
}

/// Every batch counts as behind, so batches of ten go in as two halves of five.
async fn engine_catching_up() -> Engine {
    engine_with(SyncSettings {
        batch_size: 10,
        rows_per_statement: 3,
        catch_up_after: StdDuration::ZERO,
        lease_ttl: StdDuration::from_millis(300),
        ..SyncSettings::default()
    })
    .await
}

/// Claims `n` coupons for distinct users.
async fn claim_n(engine: &Engine, id: CampaignId, n: usize) {
    for i in 0..n {
        engine.claim(id, &user(i)).await.unwrap();
    }
}

/// Drains with a new drainer (a restarted instance), waiting out the crashed one's lease.
async fn drain_after_crash(engine: &Engine, id: CampaignId) {
    let restarted = Drainer::new(engine.clone());
    eventually("the restarted drainer to empty the queue", || async {
        restarted.drain_step(id).await.unwrap() == StepOutcome::Empty
    })
    .await;
}

async fn assert_exactly_one_row_per_claim(engine: &Engine, id: CampaignId, claims: usize) {
    let recorded = coupons::all(engine.db(), id).await.unwrap();
    let users: HashSet<&str> = recorded.iter().map(|r| r.user_id.as_str()).collect();
    let expected: HashSet<String> = (0..claims).map(|i| user(i).to_string()).collect();
    assert_eq!(recorded.len(), claims, "one row per claim");
    assert_eq!(
        users,
        expected.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    let status = engine.status(id).await.unwrap().unwrap();
    assert_eq!(status.queued, 0);
}

#[tokio::test]
async fn a_crash_after_reading_a_batch_and_before_committing_loses_nothing() {
    // Arrange
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 10).await;
    claim_n(&engine, campaign.id, 6).await;

    // Act: the first drainer reads a batch and dies before its commit.
    let crashed = Drainer::new(engine.clone());
    let batch = crashed.take_batch(campaign.id).await.unwrap().unwrap();
    assert_eq!(batch.coupons.len(), 4);
    drop(batch); // its transaction dies with the process: rolled back
    drop(crashed);
    assert_eq!(rows(&engine, campaign.id).await, 0, "nothing was committed");
    drain_after_crash(&engine, campaign.id).await;

    // Assert
    assert_exactly_one_row_per_claim(&engine, campaign.id, 6).await;
}

#[tokio::test]
async fn a_crash_after_committing_and_before_removing_from_redis_duplicates_nothing() {
    // Arrange
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 10).await;
    claim_n(&engine, campaign.id, 6).await;

    // Act: the first drainer commits a batch and dies before acknowledging it.
    let crashed = Drainer::new(engine.clone());
    let batch = crashed.take_batch(campaign.id).await.unwrap().unwrap();
    assert_eq!(crashed.commit(batch).await.unwrap().inserted, 4);
    drop(crashed);
    assert_eq!(
        engine.status(campaign.id).await.unwrap().unwrap().queued,
        6,
        "the committed entries are still queued"
    );
    drain_after_crash(&engine, campaign.id).await;

    // Assert: the replayed batch inserted nothing new.
    assert_exactly_one_row_per_claim(&engine, campaign.id, 6).await;
}

#[tokio::test]
async fn a_failed_transaction_leaves_the_batch_queued_for_the_next_step() {
    // Arrange: a statement that fails mid-batch (a clash on the unique sequence, as a broken
    // insert would), so PostgreSQL rolls the whole batch back.
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 10).await;
    claim_n(&engine, campaign.id, 3).await;
    let drainer = Drainer::new(engine.clone());
    let mut batch = drainer.take_batch(campaign.id).await.unwrap().unwrap();
    batch.coupons[2].sequence = batch.coupons[0].sequence;

    // Act
    let failed = drainer.commit(batch).await;

    // Assert
    assert!(failed.is_err(), "a duplicate sequence must fail the batch");
    assert_eq!(
        rows(&engine, campaign.id).await,
        0,
        "rolled back as a whole"
    );
    let retry = drainer.take_batch(campaign.id).await.unwrap().unwrap();
    let committed = drainer.commit(retry).await.unwrap();
    assert_eq!(committed.inserted, 3);
    assert!(drainer.acknowledge(&committed).await.unwrap());
    assert_exactly_one_row_per_claim(&engine, campaign.id, 3).await;
}

#[tokio::test]
async fn only_the_lease_holder_drains_and_a_stale_holder_cannot_trim() {
    // Arrange
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 20).await;
    claim_n(&engine, campaign.id, 8).await;
    let first = Drainer::new(engine.clone());
    let second = Drainer::new(engine.clone());

    // Act + Assert: while the first holds the lease, the second is refused.
    let stale = first.take_batch(campaign.id).await.unwrap().unwrap();
    assert!(second.take_batch(campaign.id).await.unwrap().is_none());
    assert_eq!(
        second.drain_step(campaign.id).await.unwrap(),
        StepOutcome::NotOwner
    );

    // The first stalls past its lease; the second takes over and drains everything.
    drain_after_crash(&engine, campaign.id).await;
    // The stalled first instance wakes up and commits and acknowledges its old batch.
    let committed = first.commit(stale).await.unwrap();
    assert_eq!(
        committed.inserted, 0,
        "the other instance already recorded them"
    );
    let trimmed = first.acknowledge(&committed).await.unwrap();

    // Assert: it no longer holds the lease, so it removed nothing.
    assert!(!trimmed);
    assert_exactly_one_row_per_claim(&engine, campaign.id, 8).await;
}

#[tokio::test]
async fn claims_arriving_during_a_drain_are_kept_for_the_next_batch() {
    let engine = engine_with_short_lease().await;
    let campaign = open_campaign(&engine, 20).await;
    claim_n(&engine, campaign.id, 4).await;
    let drainer = Drainer::new(engine.clone());
    let batch = drainer.take_batch(campaign.id).await.unwrap().unwrap();

    // Two more claims land between the read and the acknowledgement.
    for i in 4..6 {
        engine.claim(campaign.id, &user(i)).await.unwrap();
    }
    let committed = drainer.commit(batch).await.unwrap();
    assert!(drainer.acknowledge(&committed).await.unwrap());

    assert_eq!(engine.status(campaign.id).await.unwrap().unwrap().queued, 2);
    drain(&engine, campaign.id).await;
    assert_exactly_one_row_per_claim(&engine, campaign.id, 6).await;
}

#[tokio::test]
async fn the_status_reports_queue_and_sync_progress() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    claim_n(&engine, campaign.id, 3).await;

    // Before any sync: everything is in Redis's queue.
    let before = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (before.quantity, before.remaining, before.claimed),
        (5, Some(2), 3)
    );
    assert_eq!((before.queued, before.synced), (3, 0));
    assert!(before.oldest_queued_at.is_some());
    assert!(before.last_synced_at.is_none());

    // After a sync: everything is recorded.
    drain(&engine, campaign.id).await;
    let after = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((after.queued, after.synced), (0, 3));
    assert!(after.oldest_queued_at.is_none());
    assert!(after.last_synced_at.is_some());
    assert!(after.last_sync_error.is_none());
}

#[tokio::test]
async fn the_record_holds_the_code_told_and_the_moment_redis_accepted_the_claim() {
    // Arrange: a window that opened at a time with microseconds (the queue counts whole
    // milliseconds from Redis's copy of the opening).
    let engine = engine().await;
    let mut draft = open_draft(5);
    draft.claim_starts_at -= chrono::Duration::microseconds(777);
    let campaign = engine.create_campaign(&draft).await.unwrap();

    // Act
    let before = chrono::Utc::now().timestamp_millis();
    let outcome = engine.claim(campaign.id, &user(1)).await.unwrap();
    let after = chrono::Utc::now().timestamp_millis();
    drain(&engine, campaign.id).await;

    // Assert
    let coupon::ClaimOutcome::Issued { code, sequence, .. } = outcome else {
        panic!("not issued: {outcome:?}");
    };
    let recorded = coupons::find(engine.db(), campaign.id, user(1).as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((recorded.code, recorded.sequence), (code, sequence));
    let claimed_ms = recorded.claimed_at.timestamp_millis();
    assert!(
        (before..=after).contains(&claimed_ms),
        "claimed at {claimed_ms}, expected within {before}..={after}"
    );
    assert_eq!(recorded.claimed_at.timestamp_subsec_micros() % 1000, 0);
}

/// The `n`th coupon of a batch, as the claim script would have queued it.
fn queued(n: usize) -> QueuedCoupon {
    QueuedCoupon {
        sequence: i64::try_from(n).unwrap(),
        claimed_at: chrono::Utc::now(),
        code: format!("CODE-{n:04}"),
        user_id: user(n).to_string(),
    }
}

#[tokio::test]
async fn a_replayed_batch_written_in_several_statements_adds_only_the_rows_missing() {
    // Arrange: a batch of five written two rows a statement, whose fourth row (in the second
    // statement) is already recorded, as after a crash that a replay overlaps.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let batch: Vec<QueuedCoupon> = (1..=5).map(queued).collect();
    let mut tx = engine.db().begin().await.unwrap();
    coupons::insert_batch(&mut tx, campaign.id, &batch[3..4], 2)
        .await
        .unwrap();

    // Act
    let inserted = coupons::insert_batch(&mut tx, campaign.id, &batch, 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Assert
    assert_eq!(inserted, 4);
    let recorded = coupons::all(engine.db(), campaign.id).await.unwrap();
    let sequences: Vec<i64> = recorded.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3, 4, 5]);
    for (row, sent) in recorded.iter().zip(&batch) {
        assert_eq!((&row.user_id, &row.code), (&sent.user_id, &sent.code));
    }
}

#[tokio::test]
async fn a_clash_on_the_sequence_in_a_later_statement_fails_the_batch_instead_of_skipping_rows() {
    // Arrange: the last row's sequence number is recorded for another member already, as only
    // a bug could make it (two coupons numbered alike would also share a code); the replay
    // path, which skips members already recorded, must not absorb it.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let batch: Vec<QueuedCoupon> = (1..=5).map(queued).collect();
    let mut taken = batch[4].clone();
    taken.user_id = user(99).to_string();
    let mut tx = engine.db().begin().await.unwrap();
    coupons::insert_batch(&mut tx, campaign.id, &[taken], 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Act
    let mut tx = engine.db().begin().await.unwrap();
    let result = coupons::insert_batch(&mut tx, campaign.id, &batch, 2).await;

    // Assert
    let error = result.expect_err("a clash on the sequence must fail the batch");
    let constraint = violated_constraint(&error);
    assert_eq!(constraint, Some("issued_coupons_sequence_unique"));
}

#[tokio::test]
async fn a_sync_behind_records_both_halves_of_each_batch_once_and_in_claim_order() {
    // Arrange
    let engine = engine_catching_up().await;
    let campaign = open_campaign(&engine, 30).await;
    claim_n(&engine, campaign.id, 25).await;

    // Act: batches of 10, 10 (each in halves of five on two connections) and 5 (too small to
    // split).
    let drainer = Drainer::new(engine.clone());
    let mut inserted = 0;
    while let StepOutcome::Moved(batch) = drainer.drain_step(campaign.id).await.unwrap() {
        inserted += batch.inserted;
    }

    // Assert
    assert_eq!(inserted, 25);
    assert_exactly_one_row_per_claim(&engine, campaign.id, 25).await;
    let sequences: Vec<i64> = coupons::all(engine.db(), campaign.id)
        .await
        .unwrap()
        .iter()
        .map(|row| row.sequence)
        .collect();
    assert_eq!(sequences, (1..=25).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_crash_between_the_two_commits_of_a_split_batch_loses_and_duplicates_nothing() {
    // Arrange
    let engine = engine_catching_up().await;
    let campaign = open_campaign(&engine, 30).await;
    claim_n(&engine, campaign.id, 10).await;

    // Act: what a crash between the commits leaves (the second half commits first): the second
    // half recorded, the first rolled back with the batch's transaction, nothing removed from
    // the queue.
    let crashed = Drainer::new(engine.clone());
    let batch = crashed.take_batch(campaign.id).await.unwrap().unwrap();
    assert_eq!(batch.coupons.len(), 10);
    let mut beside = engine.db().begin().await.unwrap();
    coupons::insert_batch(&mut beside, campaign.id, &batch.coupons[5..], 3)
        .await
        .unwrap();
    beside.commit().await.unwrap();
    drop(batch);
    drop(crashed);
    assert_eq!(rows(&engine, campaign.id).await, 5);
    drain_after_crash(&engine, campaign.id).await;

    // Assert
    assert_exactly_one_row_per_claim(&engine, campaign.id, 10).await;
}
