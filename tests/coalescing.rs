//! Claims that arrive together reach Redis together: the server coalesces the claims of a
//! campaign that arrive while its previous script call is on its way. Its own test binary,
//! because it watches the engine's metrics through a process-wide recorder.

mod support;

use coupon::ClaimOutcome;
use coupon::metrics::CLAIMS_PER_CALL;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::*;

/// Claims per script call recorded since the last look.
fn claims_per_call(snapshotter: &Snapshotter) -> Vec<usize> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == CLAIMS_PER_CALL)
        .flat_map(|(.., value)| match value {
            DebugValue::Histogram(sizes) => sizes,
            other => panic!("{CLAIMS_PER_CALL} is not a histogram: {other:?}"),
        })
        .map(|size| size.into_inner() as usize)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_claims_share_script_calls_and_each_is_decided_once() {
    // Arrange: the recorder goes in before the first claim (the engine takes its handles then).
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this test binary");
    const CLAIMS: usize = 400;
    const QUANTITY: i64 = 300;
    let engine = engine().await;
    let campaign = open_campaign(&engine, QUANTITY).await;
    engine.load_campaign(campaign.id).await.unwrap();
    claims_per_call(&snapshotter);

    // Act: 400 members claim at the same moment.
    let outcomes: Vec<ClaimOutcome> = claim_at_once(&engine, campaign.id, 0..CLAIMS)
        .await
        .into_iter()
        .map(|(_, outcome)| outcome)
        .collect();
    let calls = claims_per_call(&snapshotter);
    drain(&engine, campaign.id).await;

    // Assert: every claim went out in exactly one call, calls carried more than one claim, and
    // the stock was still honoured exactly.
    assert_eq!(
        calls.iter().sum::<usize>(),
        CLAIMS,
        "claims per call: {calls:?}"
    );
    assert!(
        calls.len() < CLAIMS,
        "no call carried two claims: {calls:?}"
    );
    assert!(calls.iter().all(|&size| size <= 64), "{calls:?}");
    let mut sequences: Vec<i64> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            ClaimOutcome::Issued { sequence, .. } => Some(*sequence),
            _ => None,
        })
        .collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=QUANTITY).collect::<Vec<_>>());
    let sold_out = outcomes.iter().filter(|o| **o == ClaimOutcome::SoldOut);
    assert_eq!(sold_out.count(), CLAIMS - QUANTITY as usize);
    assert_eq!(rows(&engine, campaign.id).await, QUANTITY);
}
