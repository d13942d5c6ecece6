//! Chaos Sentinel seed 2: a member told their recorded code, then a second one. After a failover
//! the new primary B is verified without the last claims of the old primary A (the record did
//! not have them yet). A comes back (restarted, a primary again until the sentinels turn it into
//! a replica), and an instance whose link has not followed the failover yet records A's queued
//! coupon, by its sync or by a checkout asking about the code. B never learns of that member
//! (its numbering is above the coupon's number, so it does not look behind) and tells them a
//! second code. Coupons are recorded only from the state the record was last verified on
//! (src/store/verifications.rs): A's queue is not recorded, and the member's first claim is lost
//! with A, as a failover to a replica that fell behind may lose it under `CLAIM_ACK=primary`.
//!
//! One Redis plays both: the two histories are copies of the campaign's keys (DUMP/RESTORE)
//! swapped in and out, so every step runs in the order written, with no timing involved.

mod support;

use coupon::sync::Drainer;
use coupon::{CampaignId, ClaimOutcome, Engine};
use std::collections::HashSet;
use support::*;

fn issued(outcome: ClaimOutcome) -> (i64, String) {
    match outcome {
        ClaimOutcome::Issued { sequence, code, .. } => (sequence, code),
        other => panic!("not issued: {other:?}"),
    }
}

/// The two histories of one campaign around a failover to a replica that fell behind.
struct Failover {
    id: CampaignId,
    /// Member 3's claim on A, acknowledged and queued there, not recorded: (number, code).
    told_on_a: (i64, String),
    /// A's state with that claim queued, as A has it when it comes back.
    deposed: Vec<(String, Vec<u8>)>,
    /// B's state once verified (without member 3), as B has it.
    promoted: Vec<(String, Vec<u8>)>,
}

/// Members 0–2 claim on A and are recorded; B replicates that far. Member 3 claims on A (not
/// recorded yet). A dies; B is promoted and verified (member 5's claim has it verified): B and
/// the record both lack member 3.
async fn failover_behind(engine: &Engine, drainer: &Drainer) -> Failover {
    let campaign = open_campaign(engine, 10).await;
    let id = campaign.id;
    for n in 0..3 {
        issued(engine.claim(id, &user(n)).await.expect("a claim"));
    }
    drain_with(drainer, id).await;
    let replica = snapshot(engine, id).await;
    let told_on_a = issued(engine.claim(id, &user(3)).await.expect("member 3's claim"));
    let deposed = snapshot(engine, id).await;

    roll_back(engine, id, &replica).await;
    stamp_by_an_earlier_redis(engine, id).await;
    issued(
        engine
            .claim(id, &user(5))
            .await
            .expect("member 5's claim on B"),
    );
    let promoted = snapshot(engine, id).await;
    Failover {
        id,
        told_on_a,
        deposed,
        promoted,
    }
}

/// The instance follows the failover to B, member 3 claims again, and B's queue is recorded;
/// then: nobody was told their recorded code and a second one after it, and no number went to
/// two members.
async fn member_3_claims_on_b_and_everything_is_recorded(
    engine: &Engine,
    drainer: &Drainer,
    failover: &Failover,
) {
    let id = failover.id;
    roll_back(engine, id, &failover.promoted).await;
    let again = engine
        .claim(id, &user(3))
        .await
        .expect("member 3's claim on B");
    drain_with(drainer, id).await;

    let rows = engine.recorded_coupons(id).await.expect("rows");
    let members: HashSet<&str> = rows.iter().map(|row| row.user_id.as_str()).collect();
    let numbers: HashSet<i64> = rows.iter().map(|row| row.sequence).collect();
    assert_eq!(members.len(), rows.len(), "a member twice: {rows:?}");
    assert_eq!(numbers.len(), rows.len(), "a number twice: {rows:?}");
    let recorded = rows
        .iter()
        .find(|row| row.user_id == user(3).as_str())
        .map(|row| row.code.clone());
    let (number_on_a, code_on_a) = &failover.told_on_a;
    if let ClaimOutcome::Issued { code, .. } = &again {
        assert_ne!(
            recorded.as_deref(),
            Some(code_on_a.as_str()),
            "member 3 was told their recorded code {code_on_a}, then {code}"
        );
        assert_eq!(recorded.as_deref(), Some(code.as_str()), "{rows:?}");
    } else {
        // B knew member 3 after all: then the code they hear again is the recorded one.
        assert_eq!(again, ClaimOutcome::AlreadyClaimed);
        assert_eq!(recorded.as_deref(), Some(code_on_a.as_str()), "{rows:?}");
    }
    // The lost claim's number is nobody else's.
    assert!(
        rows.iter()
            .all(|row| row.sequence != *number_on_a || row.user_id == user(3).as_str()),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_sync_batch_read_from_a_deposed_primary_after_the_new_one_was_verified_is_not_recorded() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let failover = failover_behind(&engine, &drainer).await;

    // Act: the instance still reaches A (restarted with its files) and runs a drain step there.
    roll_back(&engine, failover.id, &failover.deposed).await;
    stamp_by_an_earlier_redis(&engine, failover.id).await;
    let step = drainer.drain_step(failover.id).await;

    // Assert
    member_3_claims_on_b_and_everything_is_recorded(&engine, &drainer, &failover).await;
    assert!(step.is_err(), "recorded from the deposed primary: {step:?}");
}

#[tokio::test]
async fn a_checkout_does_not_record_a_coupon_queued_in_a_deposed_primary() {
    // Arrange
    let engine = engine().await;
    let drainer = Drainer::new(engine.clone());
    let failover = failover_behind(&engine, &drainer).await;

    // Act: member 3 shows the code A told them at a checkout, through the instance that still
    // reaches A; the checkout records a coupon it finds queued, as a sync batch of one.
    roll_back(&engine, failover.id, &failover.deposed).await;
    stamp_by_an_earlier_redis(&engine, failover.id).await;
    let found = engine
        .coupon_by_code(&failover.told_on_a.1)
        .await
        .expect("the checkout's lookup");

    // Assert
    member_3_claims_on_b_and_everything_is_recorded(&engine, &drainer, &failover).await;
    assert!(
        found.is_none(),
        "recorded from the deposed primary: {found:?}"
    );
}
