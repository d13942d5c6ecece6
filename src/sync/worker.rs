//! The background sync task: rounds of [`Drainer::sync_once`], back to back while there is a
//! backlog, paced when idle, backing off while PostgreSQL or Redis fail.

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
        let pause = match drainer.sync_once().await {
            Ok(report) => {
                failures = if report.failed > 0 { failures + 1 } else { 0 };
                if report.more_pending && report.failed == 0 {
                    Duration::ZERO
                } else if failures > 0 {
                    backoff(settings.idle_interval, settings.max_backoff, failures)
                } else {
                    settings.idle_interval
                }
            }
            Err(error) => {
                failures += 1;
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

/// Doubles the pause with each consecutive failure, up to `max`.
fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        assert_eq!(backoff(base, max, 1), Duration::from_millis(200));
        assert_eq!(backoff(base, max, 3), Duration::from_millis(800));
        assert_eq!(backoff(base, max, 30), max);
    }
}
