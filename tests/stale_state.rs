//! Redis coming back *older* than the record (a crash that lost the last writes, a failover to a
//! replica that was behind): the state is found out and repaired before a claim is answered
//! from it, and the sync never jams on it. Here the older copy is made with DUMP/RESTORE of the
//! campaign's keys; server/tests/faults.rs does it with a real Redis restarted from an older
//! append-only file.

mod support;

use coupon::redis::CampaignKeys;
use coupon::sync::Drainer;
use coupon::{Campaign, CampaignId, ClaimOutcome, Engine};
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};
use support::*;

/// Members `before` claim and are recorded, the state is copied, members `after` claim and are
/// recorded; returns the copy.
async fn copied_between(
    engine: &Engine,
    drainer: &Drainer,
    id: CampaignId,
    before: std::ops::Range<usize>,
    after: std::ops::Range<usize>,
) -> Vec<(String, Vec<u8>)> {
    for n in before {
        claim(engine, id, n).await;
    }
    drain_with(drainer, id).await;
    let older = snapshot(engine, id).await;
    for n in after {
        claim(engine, id, n).await;
    }
    drain_with(drainer, id).await;
    older
}

/// Members and sequence numbers of the campaign's recorded rows.
async fn recorded(engine: &Engine, id: CampaignId) -> Vec<(String, i64, String)> {
    engine
        .recorded_coupons(id)
        .await
        .expect("rows")
        .into_iter()
        .map(|row| (row.user_id, row.sequence, row.code))
        .collect()
}

async fn claim(engine: &Engine, id: CampaignId, n: usize) -> ClaimOutcome {
    engine.claim(id, &user(n)).await.expect("a claim")
}

/// Runs whole sync rounds until the campaign's queue is empty.
async fn sync_rounds_until_drained(drainer: &Drainer, engine: &Engine, id: CampaignId) {
    eventually("the sync to drain the campaign", || async {
        drainer.sync_once().await.expect("a sync round");
        engine.status(id).await.unwrap().unwrap().queued == 0
    })
    .await;
}

fn assert_one_row_per_member_and_number(rows: &[(String, i64, String)], quantity: usize) {
    let members: HashSet<_> = rows.iter().map(|(user, _, _)| user).collect();
    let numbers: HashSet<_> = rows.iter().map(|(_, sequence, _)| sequence).collect();
    let codes: HashSet<_> = rows.iter().map(|(_, _, code)| code).collect();
    assert_eq!(members.len(), rows.len(), "a member twice: {rows:?}");
    assert_eq!(numbers.len(), rows.len(), "a number twice: {rows:?}");
    assert_eq!(codes.len(), rows.len(), "a code twice: {rows:?}");
    assert!(rows.len() <= quantity, "over-issued: {}", rows.len());
}

#[tokio::test]
async fn an_older_copy_from_a_restarted_redis_is_repaired_before_the_next_claim_is_answered() {
    // Arrange: 3 claims recorded, the state copied, 3 more claimed and recorded; then Redis
    // "restarts" from the copy (the older state, stamped by the Redis that wrote it).
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let drainer = Drainer::new(engine.clone());
    let older = copied_between(&engine, &drainer, campaign.id, 0..3, 3..6).await;
    let before: HashMap<String, i64> = recorded(&engine, campaign.id)
        .await
        .into_iter()
        .map(|(user, sequence, _)| (user, sequence))
        .collect();
    roll_back(&engine, campaign.id, &older).await;
    stamp_by_an_earlier_redis(&engine, campaign.id).await;

    // Act: with no sync round in between, members recorded after the copy claim again, and new
    // members claim the rest.
    let again: Vec<ClaimOutcome> = {
        let mut outcomes = Vec::new();
        for n in 3..6 {
            outcomes.push(claim(&engine, campaign.id, n).await);
        }
        outcomes
    };
    let new = issued_coupons(claim_at_once(&engine, campaign.id, 20..30).await);
    sync_rounds_until_drained(&drainer, &engine, campaign.id).await;

    // Assert: nobody recorded was issued again, no recorded number went to anyone else, and the
    // campaign sold exactly its quantity.
    assert!(
        again.iter().all(|o| *o == ClaimOutcome::AlreadyClaimed),
        "{again:?}"
    );
    assert_eq!(new.len(), 4, "10 coupons, 6 recorded: {new:?}");
    for (_, sequence, _) in &new {
        assert!(
            !before.values().any(|recorded| recorded == sequence),
            "number {sequence} was recorded already"
        );
    }
    let rows = recorded(&engine, campaign.id).await;
    assert_one_row_per_member_and_number(&rows, 10);
    assert_eq!(rows.len(), 10);
    for (user, sequence) in &before {
        assert!(rows.contains(&(
            user.clone(),
            *sequence,
            engine.codes().code_of(campaign.id, *sequence).unwrap()
        )));
    }
}

#[tokio::test]
async fn the_sync_repairs_a_state_stamped_by_another_redis_before_any_claim_arrives() {
    // Arrange: two claims recorded, then the state stamped by an earlier Redis (on a cluster:
    // as if its node had restarted from its files, or it came from another node).
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let drainer = Drainer::new(engine.clone());
    claim(&engine, campaign.id, 0).await;
    claim(&engine, campaign.id, 1).await;
    drain_with(&drainer, campaign.id).await;
    stamp_by_an_earlier_redis(&engine, campaign.id).await;

    // Act: one sync round, and no claim.
    drainer.sync_once().await.expect("a sync round");

    // Assert: verified for the Redis that holds it, nobody lost.
    let keys = CampaignKeys::new(campaign.id);
    let run: Option<String> = engine.redis().hget(&keys.meta, "run").await.expect("HGET");
    assert_eq!(run, Some(redis_run_id(&engine, campaign.id).await));
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.claimed, status.remaining), (2, Some(3)));
}

#[tokio::test]
async fn the_sync_finds_a_state_behind_the_record_and_repairs_it_though_its_stamp_is_current() {
    // Arrange: as above, but the older copy keeps the current run id (a rollback Redis itself
    // gives no sign of): only the record shows it is behind.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 8).await;
    let drainer = Drainer::new(engine.clone());
    let older = copied_between(&engine, &drainer, campaign.id, 0..2, 2..5).await;
    roll_back(&engine, campaign.id, &older).await;

    // Act: one sync round, then everyone claims (the recorded ones again).
    drainer.sync_once().await.expect("a sync round");
    let outcomes = claim_at_once(&engine, campaign.id, 0..12).await;
    sync_rounds_until_drained(&drainer, &engine, campaign.id).await;

    // Assert
    for (n, outcome) in &outcomes {
        if *n < 5 {
            assert_eq!(*outcome, ClaimOutcome::AlreadyClaimed, "member {n}");
        }
    }
    assert_eq!(issued_coupons(outcomes).len(), 3, "8 coupons, 5 recorded");
    let rows = recorded(&engine, campaign.id).await;
    assert_one_row_per_member_and_number(&rows, 8);
    assert_eq!(rows.len(), 8);
}

#[tokio::test]
async fn a_queued_coupon_whose_number_is_recorded_for_someone_else_is_renumbered_and_the_sync_goes_on()
 {
    // Arrange: member 0's coupon is recorded as number 1; then a queue entry numbered 1 for
    // another member appears (a claim answered from a state behind the record before it was
    // found out), with a claim behind it.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let drainer = Drainer::new(engine.clone());
    claim(&engine, campaign.id, 0).await;
    drain_with(&drainer, campaign.id).await;
    let keys = CampaignKeys::new(campaign.id);
    let _: () = engine
        .redis()
        .rpush(&keys.queue, "1\t5\tuser-1")
        .await
        .expect("RPUSH");
    let _: () = engine
        .redis()
        .hset(&keys.issued, "user-1", "1")
        .await
        .expect("HSET");
    claim(&engine, campaign.id, 2).await;

    // Act
    sync_rounds_until_drained(&drainer, &engine, campaign.id).await;

    // Assert: both recorded once; member 0 keeps number 1; member 1 has a new number and code,
    // which the lookup shows.
    let rows = recorded(&engine, campaign.id).await;
    assert_one_row_per_member_and_number(&rows, 10);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let number_of = |user: &str| rows.iter().find(|(u, _, _)| u == user).map(|(_, s, _)| *s);
    assert_eq!(number_of("user-0"), Some(1));
    let renumbered = number_of("user-1").expect("member 1 recorded");
    assert!(renumbered > 1);
    let held = engine
        .coupon_of(campaign.id, &user(1))
        .await
        .unwrap()
        .expect("member 1 holds a coupon");
    assert_eq!(
        held.code,
        engine.codes().code_of(campaign.id, renumbered).unwrap()
    );
    // Redis was repaired too: its numbering is above everything recorded.
    let next = claim(&engine, campaign.id, 3).await;
    let ClaimOutcome::Issued { sequence, .. } = next else {
        panic!("{next:?}");
    };
    assert!(sequence > renumbered, "{sequence} after {renumbered}");
}

#[tokio::test]
async fn a_committed_batch_is_not_trimmed_when_the_queue_head_changed_under_it() {
    // Arrange: a batch is read and committed; meanwhile the queue's head changed (an older copy
    // brought back entries in front of it).
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let drainer = Drainer::new(engine.clone());
    for n in 0..3 {
        claim(&engine, campaign.id, n).await;
    }
    let batch = drainer.take_batch(campaign.id).await.unwrap().unwrap();
    let committed = drainer.commit(batch).await.unwrap();
    let keys = CampaignKeys::new(campaign.id);
    let entries: Vec<String> = engine.redis().lrange(&keys.queue, 0, -1).await.unwrap();
    let _: () = engine.redis().del(&keys.queue).await.unwrap();
    let _: () = engine
        .redis()
        .rpush(&keys.queue, &entries[1..])
        .await
        .unwrap();
    claim(&engine, campaign.id, 3).await;

    // Act
    let trimmed = drainer.acknowledge(&committed).await.unwrap();

    // Assert: nothing removed (trimming three would have dropped member 3's unsynced coupon);
    // the next rounds record everything once.
    assert!(!trimmed);
    assert_eq!(engine.status(campaign.id).await.unwrap().unwrap().queued, 3);
    drain_with(&drainer, campaign.id).await;
    let rows = recorded(&engine, campaign.id).await;
    assert_one_row_per_member_and_number(&rows, 10);
    assert_eq!(rows.len(), 4);
}

/// Members 0 and 1 claim a new campaign of 5, its meta hash then loses `stamp` (as the release
/// before it wrote it), and member 0 claims again and member 2 for the first time: the two
/// answers.
async fn claims_around_a_missing_stamp(
    engine: &Engine,
    campaign: &Campaign,
    stamp: &str,
) -> (ClaimOutcome, ClaimOutcome) {
    for n in 0..2 {
        claim(engine, campaign.id, n).await;
    }
    let keys = CampaignKeys::new(campaign.id);
    let _: () = engine.redis().hdel(&keys.meta, stamp).await.unwrap();
    (
        claim(engine, campaign.id, 0).await,
        claim(engine, campaign.id, 2).await,
    )
}

/// The state was verified as one from another Redis before the answers: the repeat is told
/// "already claimed", and numbering goes on above the ceiling (claims the old state answered
/// after its last write to disk may have been lost).
fn assert_verified_as_another_redis(repeat: ClaimOutcome, next: ClaimOutcome) {
    assert_eq!(repeat, ClaimOutcome::AlreadyClaimed);
    let ClaimOutcome::Issued { sequence, .. } = next else {
        panic!("{next:?}");
    };
    assert!(
        sequence > 5,
        "numbering continues above the ceiling: {sequence}"
    );
}

#[tokio::test]
async fn a_state_written_before_states_were_stamped_is_verified_and_keeps_its_queue() {
    // Arrange: claims queued by the previous release, whose meta hash has no run id.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let drainer = Drainer::new(engine.clone());

    // Act
    let (repeat, next) = claims_around_a_missing_stamp(&engine, &campaign, "run").await;
    drain_with(&drainer, campaign.id).await;

    // Assert: the old queue is kept and recorded.
    assert_verified_as_another_redis(repeat, next);
    let rows = recorded(&engine, campaign.id).await;
    assert_one_row_per_member_and_number(&rows, 5);
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn a_state_stamped_before_replication_ids_is_verified_before_its_next_claim() {
    // Arrange: the previous release stamped states with the run id alone.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    // Act
    let (repeat, next) = claims_around_a_missing_stamp(&engine, &campaign, "replid").await;

    // Assert: stamped with the node's replication id from then on.
    assert_verified_as_another_redis(repeat, next);
    let keys = CampaignKeys::new(campaign.id);
    let replid: Option<String> = engine.redis().hget(&keys.meta, "replid").await.unwrap();
    assert!(replid.is_some_and(|replid| !replid.is_empty()));
}
