//! Live numbers for open admin and claim pages: one ticker per server reads each watched
//! campaign's status once per tick and fans it out to every viewer, so a hundred open pages
//! cost what one does.

use app::api::LiveNumbers;
use coupon::{CampaignId, Engine};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Seconds of claims-per-second history kept for the chart.
const HISTORY: usize = 300;
/// How long a campaign is still sampled after its last viewer left, so that a marketer who
/// comes back finds the chart's history.
const KEEP_AFTER_LAST_VIEWER: Duration = Duration::from_secs(600);

/// The latest numbers of one campaign, as every viewer receives them.
pub type Snapshot = Option<Arc<LiveNumbers>>;

/// Fans out campaign numbers to the pages watching them.
pub struct LiveHub {
    engine: Engine,
    tick: Duration,
    feeds: Mutex<HashMap<CampaignId, Feed>>,
}

struct Feed {
    sender: watch::Sender<Snapshot>,
    /// Claimed counts at each tick, oldest first.
    claimed: VecDeque<i64>,
    /// When the last viewer left; `None` while someone watches.
    unwatched_since: Option<Instant>,
}

impl LiveHub {
    /// A hub that refreshes every `tick`.
    pub fn new(engine: Engine, tick: Duration) -> Self {
        Self {
            engine,
            tick,
            feeds: Mutex::new(HashMap::new()),
        }
    }

    /// A receiver of campaign `id`'s numbers; it holds the latest snapshot at once if any.
    pub fn subscribe(&self, id: CampaignId) -> watch::Receiver<Snapshot> {
        let mut feeds = self.lock();
        let feed = feeds.entry(id).or_insert_with(|| Feed {
            sender: watch::channel(None).0,
            claimed: VecDeque::with_capacity(HISTORY + 1),
            unwatched_since: None,
        });
        feed.unwatched_since = None;
        feed.sender.subscribe()
    }

    /// Refreshes every watched campaign each tick until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(self.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => self.refresh().await,
            }
        }
    }

    /// One tick: reads the status of each watched campaign and publishes it.
    pub async fn refresh(&self) {
        for id in self.watched() {
            let report = match self.engine.status(id).await {
                Ok(Some(report)) => report,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(campaign = %id, %error, "live numbers unavailable");
                    continue;
                }
            };
            let mut numbers = LiveNumbers::from_report(&report, chrono::Utc::now());
            let mut feeds = self.lock();
            if let Some(feed) = feeds.get_mut(&id) {
                feed.claimed.push_back(report.claimed);
                if feed.claimed.len() > HISTORY + 1 {
                    feed.claimed.pop_front();
                }
                numbers.per_second = per_tick(&feed.claimed);
                feed.sender.send_replace(Some(Arc::new(numbers)));
            }
        }
    }

    /// Campaigns with a viewer or a recent one; forgets the others.
    fn watched(&self) -> Vec<CampaignId> {
        let now = Instant::now();
        let mut feeds = self.lock();
        feeds.retain(|_, feed| {
            if feed.sender.receiver_count() > 0 {
                feed.unwatched_since = None;
                return true;
            }
            let since = *feed.unwatched_since.get_or_insert(now);
            now.duration_since(since) < KEEP_AFTER_LAST_VIEWER
        });
        feeds.keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CampaignId, Feed>> {
        // The map is only ever left consistent (no await while held), so a panic elsewhere
        // cannot have broken it: recover from poisoning instead of failing every viewer.
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Claims per tick from successive claimed counts (never negative, e.g. after a rebuild).
fn per_tick(claimed: &VecDeque<i64>) -> Vec<u32> {
    claimed
        .iter()
        .zip(claimed.iter().skip(1))
        .map(|(before, after)| u32::try_from((after - before).max(0)).unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_per_tick_are_the_differences_of_the_counts() {
        let counts: VecDeque<i64> = [0, 3, 3, 10, 8].into_iter().collect();
        assert_eq!(per_tick(&counts), vec![3, 0, 7, 0]);
    }
}
