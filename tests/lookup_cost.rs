//! The lookup of a coupon still waiting for the sync costs a few commands however long the
//! backlog, also across a jump in numbering (a repair continues above the sequence ceiling).
//! Its own test binary with one test: it counts Redis's list reads server-wide (no sync runs
//! here, so only the lookups read the queue).

mod support;

use coupon::redis::CampaignKeys;
use coupon::{ClaimOutcome, Engine};
use redis::AsyncCommands;
use support::*;

/// Coupons queued on each side of the jump (claimed at once: below the claim queue's bound).
const HALF: usize = 12_000;
/// What a lookup may read of the queue: its head, the first probe, and a binary search over
/// the entries before it (log2 of 2 × HALF, rounded up).
const MOST_READS_A_LOOKUP: u64 = 2 + 15;

/// How many list reads (`LINDEX`, `LRANGE`, `LPOS`) Redis has run, scripts' calls included.
async fn list_reads(engine: &Engine) -> u64 {
    let mut reads = 0;
    for command in ["lindex", "lrange", "lpos"] {
        let name = format!("cmdstat_{command}");
        reads += info_sum(engine, "commandstats", &name, Some("calls")).await;
    }
    reads
}

fn sequence_of(outcome: &ClaimOutcome) -> i64 {
    match outcome {
        ClaimOutcome::Issued { sequence, .. } => *sequence,
        other => panic!("expected a coupon, got {other:?}"),
    }
}

#[tokio::test]
async fn a_queued_coupon_is_found_in_a_few_reads_whatever_the_backlog() {
    // Arrange: a backlog of 2 × HALF with a jump in numbering in the middle (the state stamped
    // by another Redis, so the next claim's verification continues above the ceiling).
    let engine = engine().await;
    let campaign = open_campaign(&engine, 3 * HALF as i64).await;
    let mut told = claim_at_once(&engine, campaign.id, 0..HALF).await;
    let keys = CampaignKeys::new(campaign.id);
    let _: () = engine
        .redis()
        .hset(&keys.meta, "run", "an-earlier-redis")
        .await
        .unwrap();
    told.extend(claim_at_once(&engine, campaign.id, HALF..2 * HALF).await);
    let told: std::collections::HashMap<usize, i64> = told
        .iter()
        .map(|(n, outcome)| (*n, sequence_of(outcome)))
        .collect();
    let highest_before_jump = (0..HALF).map(|n| told[&n]).max().unwrap();
    let lowest_after_jump = (HALF..2 * HALF).map(|n| told[&n]).min().unwrap();
    assert!(
        lowest_after_jump > highest_before_jump + 1,
        "no jump in numbering"
    );
    let looked_up: Vec<usize> = [1, highest_before_jump, lowest_after_jump]
        .into_iter()
        .chain([lowest_after_jump + HALF as i64 - 1])
        .map(|sequence| *told.iter().find(|(_, s)| **s == sequence).unwrap().0)
        .collect();

    // Act
    let before = list_reads(&engine).await;
    let mut found = Vec::new();
    for &n in &looked_up {
        found.push(engine.coupon_of(campaign.id, &user(n)).await.unwrap());
    }
    let reads = list_reads(&engine).await - before;

    // Assert: each found with its own number and code, from the queue, in a few reads.
    for (&n, held) in looked_up.iter().zip(&found) {
        let held = held
            .as_ref()
            .unwrap_or_else(|| panic!("member {n} holds a coupon"));
        assert_eq!(
            (held.sequence, held.synced),
            (told[&n], false),
            "member {n}"
        );
        assert_eq!(
            held.code,
            engine.codes().code_of(campaign.id, told[&n]).unwrap()
        );
    }
    assert!(
        reads <= MOST_READS_A_LOOKUP * looked_up.len() as u64,
        "{reads} queue reads for {} lookups in a backlog of {}",
        looked_up.len(),
        2 * HALF
    );
}
