//! Live numbers for open admin and claim pages: one ticker per server reads each watched
//! campaign's numbers once per tick and fans them out to every viewer, so a hundred open pages
//! cost what one does.
//!
//! End users' pages (anonymous) and the admin page are fed apart. An end user's page shows
//! status, quantity and what Redis has left: its feed reads the campaign's row by primary key
//! and one counter, never the coupons, and lives only while someone watches. A fair draw's
//! page also shows how many entered so far and when the draw is completed: one count of its
//! entries at most every second, shared by every page (src/draw/tally.rs). Only a signed-in
//! admin's page pays for the record's numbers (a pass over the campaign's coupons) and keeps a
//! campaign sampled after leaving.

use app::api::{LiveNumbers, PublicNumbers};
use coupon::draw::DrawTally;
use coupon::{Campaign, CampaignId, Engine, PublicStatus};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Seconds of claims-per-second history kept for the chart.
const HISTORY: usize = 300;
/// How long a campaign is still sampled for the admin page after its last viewer left, so
/// that a marketer who comes back finds the chart's history.
const KEEP_AFTER_LAST_VIEWER: Duration = Duration::from_secs(600);
/// Campaigns end users' pages may watch at once on one instance, by default: each costs a
/// primary-key read and a `GET` per tick, so anonymous clients opening streams to every
/// campaign id cannot grow a tick without bound.
pub const DEFAULT_MOST_PUBLIC_FEEDS: usize = 1000;

/// The latest numbers of one campaign, as every admin viewer receives them.
pub type Snapshot = Option<Arc<LiveNumbers>>;
/// The latest public numbers of one campaign, as every end user's page receives them.
pub type PublicSnapshot = Option<Arc<PublicNumbers>>;

/// Fans out campaign numbers to the pages watching them.
pub struct LiveHub {
    engine: Engine,
    tick: Duration,
    /// Admin pages' feeds.
    feeds: Mutex<HashMap<CampaignId, Feed>>,
    /// End users' pages' feeds; one without a receiver is dropped at the next tick.
    public: Mutex<HashMap<CampaignId, watch::Sender<PublicSnapshot>>>,
    most_public: usize,
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
            public: Mutex::new(HashMap::new()),
            most_public: DEFAULT_MOST_PUBLIC_FEEDS,
        }
    }

    /// The same hub with at most `most` campaigns watched by end users' pages at once.
    pub fn with_most_public_feeds(mut self, most: usize) -> Self {
        self.most_public = most;
        self
    }

    /// A receiver of campaign `id`'s numbers for the admin page; it holds the latest snapshot
    /// at once if any. Only for signed-in admins: each tick reads the campaign's coupons.
    pub fn subscribe(&self, id: CampaignId) -> watch::Receiver<Snapshot> {
        let mut feeds = lock(&self.feeds);
        let feed = feeds.entry(id).or_insert_with(|| Feed {
            sender: watch::channel(None).0,
            claimed: VecDeque::with_capacity(HISTORY + 1),
            unwatched_since: None,
        });
        feed.unwatched_since = None;
        feed.sender.subscribe()
    }

    /// A receiver of campaign `id`'s public numbers for an end user's page, or `None` while
    /// end users watch as many campaigns as this instance serves (the caller checked that the
    /// campaign exists).
    pub fn subscribe_public(&self, id: CampaignId) -> Option<watch::Receiver<PublicSnapshot>> {
        let mut public = lock(&self.public);
        if let Some(sender) = public.get(&id) {
            return Some(sender.subscribe());
        }
        if public.len() >= self.most_public {
            // Feeds whose pages closed since the last tick free their places now.
            public.retain(|_, sender| sender.receiver_count() > 0);
            if public.len() >= self.most_public {
                return None;
            }
        }
        let (sender, receiver) = watch::channel(None);
        public.insert(id, sender);
        Some(receiver)
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

    /// One tick: reads the numbers of each watched campaign and publishes them, end users'
    /// first (cheap, and not to wait behind the admin pages' passes).
    pub async fn refresh(&self) {
        self.refresh_public().await;
        self.refresh_admin().await;
    }

    /// Publishes the public numbers of every campaign an end user watches: one read for all.
    async fn refresh_public(&self) {
        let ids = self.publicly_watched();
        if ids.is_empty() {
            return;
        }
        let statuses = match self.engine.public_statuses(&ids).await {
            Ok(statuses) => statuses,
            Err(error) => {
                tracing::warn!(campaigns = ids.len(), %error, "public live numbers unavailable");
                return;
            }
        };
        let tallies = self
            .tallies(statuses.iter().map(|status| &status.campaign))
            .await;
        let public = lock(&self.public);
        for status in statuses {
            if let Some(sender) = public.get(&status.campaign.id) {
                let tally = tallies.get(&status.campaign.id).copied();
                let mut numbers = public_numbers(&status, tally);
                // A draw's count not read this tick: the pages keep the last one sent.
                if tally.is_none()
                    && let Some(previous) = sender.borrow().as_deref()
                {
                    numbers.entrants = previous.entrants;
                    numbers.draw_completed = previous.draw_completed;
                }
                sender.send_replace(Some(Arc::new(numbers)));
            }
        }
    }

    /// The entrants so far and the completion of those of `campaigns` that are fair draws: one
    /// count per campaign at most every second on this instance, whatever the tick and however
    /// many pages watch (src/draw/tally.rs). None when PostgreSQL cannot say (the caller then
    /// sends what it sent last).
    async fn tallies<'a>(
        &self,
        campaigns: impl Iterator<Item = &'a Campaign>,
    ) -> HashMap<CampaignId, DrawTally> {
        let draws: Vec<CampaignId> = campaigns
            .filter(|campaign| campaign.is_fair_draw())
            .map(|campaign| campaign.id)
            .collect();
        if draws.is_empty() {
            return HashMap::new();
        }
        self.engine
            .draw_tallies(&draws)
            .await
            .inspect_err(|error| {
                tracing::warn!(campaigns = draws.len(), %error, "fair draws' entrants unavailable");
            })
            .unwrap_or_default()
    }

    /// Campaigns an end user's page watches now; forgets the others at once (a public feed
    /// keeps no history, so nothing is gained by sampling it longer).
    fn publicly_watched(&self) -> Vec<CampaignId> {
        let mut public = lock(&self.public);
        public.retain(|_, sender| sender.receiver_count() > 0);
        public.keys().copied().collect()
    }

    /// Reads the status of each campaign an admin watches and publishes it.
    async fn refresh_admin(&self) {
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
            if let Some(tally) = self
                .tallies(std::iter::once(&report.campaign))
                .await
                .get(&id)
            {
                numbers.entrants = Some(tally.entrants);
            }
            let mut feeds = lock(&self.feeds);
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

    /// Campaigns with an admin viewer or a recent one; forgets the others.
    fn watched(&self) -> Vec<CampaignId> {
        let now = Instant::now();
        let mut feeds = lock(&self.feeds);
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
}

fn lock<T>(feeds: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps are only ever left consistent (no await while held), so a panic elsewhere
    // cannot have broken them: recover from poisoning instead of failing every viewer.
    feeds
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What an end user's page shows of a campaign (and of its fair draw, if it has one).
fn public_numbers(status: &PublicStatus, tally: Option<DrawTally>) -> PublicNumbers {
    PublicNumbers {
        status: status.campaign.status.as_str().to_owned(),
        quantity: status.campaign.quantity,
        remaining: status.remaining,
        entrants: tally.map(|tally| tally.entrants),
        draw_completed: tally.is_some_and(|tally| tally.completed),
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
