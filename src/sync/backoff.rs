//! Backing off one campaign at a time.
//!
//! A campaign whose visit fails (its repair, its drain step) is left alone by the background
//! loop for a while, longer after each failure in a row, while the loop goes on visiting the
//! others at its usual pace: one campaign's trouble (a jammed queue, a repair that keeps
//! failing) no longer slows the sync of every campaign. When PostgreSQL or Redis fail as a
//! whole, every campaign fails and backs off, which paces the loop as a whole back-off did.

use crate::campaign::CampaignId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The campaigns whose last visit failed, each with its consecutive failures and the moment it
/// is due again.
#[derive(Debug, Default)]
pub(super) struct Resting(std::sync::Mutex<HashMap<CampaignId, Rest>>);

#[derive(Debug, Clone, Copy)]
struct Rest {
    failures: u32,
    until: Instant,
}

impl Resting {
    /// Whether `campaign` may be visited at `now`: its last visit succeeded, or its back-off
    /// ran out.
    pub(super) fn is_due(&self, campaign: CampaignId, now: Instant) -> bool {
        self.lock()
            .get(&campaign)
            .is_none_or(|rest| rest.until <= now)
    }

    /// Notes a failed visit at `now`; the pause until the next one (doubling from `base` with
    /// each failure in a row, up to `max`).
    pub(super) fn failed(
        &self,
        campaign: CampaignId,
        now: Instant,
        base: Duration,
        max: Duration,
    ) -> Duration {
        let mut resting = self.lock();
        let rest = resting.entry(campaign).or_insert(Rest {
            failures: 0,
            until: now,
        });
        rest.failures = rest.failures.saturating_add(1);
        let pause = backoff(base, max, rest.failures);
        // A pause too long for the clock to add is as good as the longest it can.
        rest.until = now
            .checked_add(pause)
            .unwrap_or(now + max.min(Duration::from_secs(3600)));
        pause
    }

    /// Notes a successful visit: the campaign is due at every round again.
    pub(super) fn succeeded(&self, campaign: CampaignId) {
        self.lock().remove(&campaign);
    }

    /// Forgets the campaigns no longer watched (drained, or gone from the listing).
    pub(super) fn keep_only(&self, watched: &[CampaignId]) {
        self.lock().retain(|campaign, _| watched.contains(campaign));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CampaignId, Rest>> {
        // Entries are only inserted, updated and removed whole: a poisoned map is consistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Doubles the pause with each consecutive failure, up to `max`.
pub(super) fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(BASE, MAX, 1), Duration::from_millis(200));
        assert_eq!(backoff(BASE, MAX, 3), Duration::from_millis(800));
        assert_eq!(backoff(BASE, MAX, 30), MAX);
    }

    #[test]
    fn a_failing_campaign_rests_while_the_others_stay_due() {
        let resting = Resting::default();
        let now = Instant::now();
        let (failing, other) = (CampaignId(1), CampaignId(2));

        let pause = resting.failed(failing, now, BASE, MAX);

        assert_eq!(pause, Duration::from_millis(200));
        assert!(!resting.is_due(failing, now + Duration::from_millis(199)));
        assert!(resting.is_due(failing, now + pause));
        assert!(resting.is_due(other, now));
    }

    #[test]
    fn failures_in_a_row_rest_longer_and_a_success_ends_the_rest() {
        let resting = Resting::default();
        let now = Instant::now();
        let campaign = CampaignId(7);
        resting.failed(campaign, now, BASE, MAX);

        let second = resting.failed(campaign, now, BASE, MAX);
        resting.succeeded(campaign);

        assert_eq!(second, Duration::from_millis(400));
        assert!(resting.is_due(campaign, now));
    }

    #[test]
    fn campaigns_no_longer_watched_are_forgotten() {
        let resting = Resting::default();
        let now = Instant::now();
        resting.failed(CampaignId(1), now, BASE, MAX);
        resting.failed(CampaignId(2), now, BASE, MAX);

        resting.keep_only(&[CampaignId(2)]);

        assert!(resting.is_due(CampaignId(1), now));
        assert!(!resting.is_due(CampaignId(2), now));
    }
}
