//! The background sync task: rounds of [`Drainer::sync_due`], back to back while there is a
//! backlog, paced when idle. A campaign whose visit fails backs off on its own (`backoff.rs`);
//! the loop as a whole backs off only while it cannot list the campaigns at all.

use super::backoff::backoff;
use super::drainer::Drainer;
use crate::engine::Engine;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs until `shutdown` is cancelled. A round in progress is always finished (never cancelled
/// halfway), so shutdown waits for at most one batch per campaign.
pub async fn run_sync_loop(engine: Engine, shutdown: CancellationToken) {
    let settings = engine.sync_settings().clone();
    let drainer = Drainer::new(engine);
    let mut failures: u32 = 0;
    loop {
        let pause = match drainer.sync_due().await {
            Ok(report) => {
                failures = 0;
                // A failing campaign is resting already; it holds up no one else's backlog.
                if report.more_pending {
                    Duration::ZERO
                } else {
                    settings.idle_interval
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "sync round failed; backing off");
                backoff(settings.idle_interval, settings.max_backoff, failures)
            }
        };
        if shutdown.is_cancelled() {
            break;
        }
        if pause.is_zero() {
            // Let the claim handlers run between back-to-back batches.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    if let Err(error) = drainer.release_leases().await {
        tracing::warn!(%error, "could not release drain leases; they will expire");
    }
    tracing::info!("sync loop stopped");
}
