//! Looking up a held coupon while the sync moves the queue under the lookup.

mod support;

use coupon::sync::{Drainer, StepOutcome};
use coupon::{ClaimOutcome, SyncSettings};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::*;

/// Claims queued for the lookups to search: a backlog the sync trims many times under them.
const QUEUED: usize = 12_000;
/// Every this many members, one is looked up again and again while the queue drains.
const LOOKED_UP_EVERY: usize = 997;
/// Lookups running side by side with the sync.
const LOOKUP_TASKS: usize = 4;

/// The sync removes entries from the queue's head while a lookup reads it chunk by chunk. A
/// lookup that walked from the head lost its place at every trim: the entries behind moved
/// forward past its next chunk, and a member whose coupon was still queued heard "none" (the
/// API's 404 "holds no coupon"). Every lookup here must find the member's own code.
#[tokio::test]
async fn every_member_finds_their_code_while_the_sync_drains_the_queue() {
    let engine = engine_with(SyncSettings {
        batch_size: 200,
        ..SyncSettings::default()
    })
    .await;
    let campaign = open_campaign(&engine, QUEUED as i64).await;
    let codes: HashMap<usize, String> = claim_at_once(&engine, campaign.id, 0..QUEUED)
        .await
        .into_iter()
        .filter(|(n, _)| n % LOOKED_UP_EVERY == 0)
        .map(|(n, outcome)| match outcome {
            ClaimOutcome::Issued { code, .. } => (n, code),
            other => panic!("member {n} expected a coupon, got {other:?}"),
        })
        .collect();
    let codes = Arc::new(codes);
    let drained = Arc::new(AtomicBool::new(false));

    let lookups: Vec<_> = (0..LOOKUP_TASKS)
        .map(|_| {
            let (engine, codes, drained) = (engine.clone(), codes.clone(), drained.clone());
            tokio::spawn(async move {
                let (mut wrong, mut from_queue) = (Vec::new(), 0);
                while !drained.load(Ordering::Acquire) {
                    for (&n, code) in codes.iter() {
                        let held = engine.coupon_of(campaign.id, &user(n)).await.unwrap();
                        match held {
                            Some(held) if held.code == *code => {
                                from_queue += usize::from(!held.synced)
                            }
                            other => wrong.push((n, other)),
                        }
                    }
                }
                (wrong, from_queue)
            })
        })
        .collect();
    let drainer = Drainer::new(engine.clone());
    while drainer.drain_step(campaign.id).await.unwrap() != StepOutcome::Empty {}
    drained.store(true, Ordering::Release);

    let mut answered_from_queue = 0;
    for lookup in lookups {
        let (wrong, from_queue) = lookup.await.expect("lookup task");
        assert_eq!(wrong, Vec::new(), "members told a wrong coupon or none");
        answered_from_queue += from_queue;
    }
    assert!(
        answered_from_queue > 0,
        "no lookup ran while coupons were still queued"
    );
    assert_eq!(rows(&engine, campaign.id).await, QUEUED as i64);
}
