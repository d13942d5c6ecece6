//! Attempts to enter a fair draw that were refused before they reached it, for the fairness
//! report: by the rate limits (which count per member and per client address in Redis, not per
//! campaign, and are decided outside the engine, in `coupon_access`), and by the bot check
//! (src/bot_check/, asked by the web layer before the claim).
//!
//! The web layer tells the engine of each refusal ([`Engine::note_refused_entry`]); a refusal
//! counts only while this instance knows the campaign's entries to be open (its gate holds a
//! pending draw and the clock is within the entry window), so first-come campaigns and claims
//! after the draw cost one map lookup and nothing more. Counts gather in memory and the draw
//! loop adds them to `draw_refusals` about once a second, in one statement
//! ([`Engine::write_refused_entries`]): a flood of refused attempts costs PostgreSQL nothing
//! more than a trickle. What an instance counted in its last second before a crash is lost, and
//! a campaign this instance has not learned yet (it learns the watched campaigns every second)
//! is not counted: the number is a floor, close to exact.

use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::draws;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Campaigns and reasons counted at most between two writes; refusals of others are dropped
/// until the next write (only an instance refusing entries to ten thousand draws in one second
/// gets there).
const MOST_TALLIED: usize = 10_000;

/// Why an attempt to enter was refused before it reached the draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalReason {
    /// Over a rate limit (per member, or per client address).
    RateLimited,
    /// Refused by the bot check (src/bot_check/): no, a wrong, an expired or a used solution.
    BotCheck,
}

impl RefusalReason {
    /// The name stored in `draw_refusals.reason`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::BotCheck => "bot_check",
        }
    }
}

/// This instance's refusals not written yet.
#[derive(Default)]
pub(crate) struct RefusalTally {
    counts: Mutex<HashMap<(CampaignId, RefusalReason), i64>>,
}

impl RefusalTally {
    fn add(&self, campaign: CampaignId, reason: RefusalReason, count: i64) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let full = counts.len() >= MOST_TALLIED;
        match counts.get_mut(&(campaign, reason)) {
            Some(counted) => *counted = counted.saturating_add(count),
            None if !full => {
                counts.insert((campaign, reason), count);
            }
            None => {}
        }
    }

    /// Everything counted, in (campaign, reason) order (so two instances writing at once lock
    /// the rows in the same order); the tally starts again from nothing.
    fn take(&self) -> Vec<((CampaignId, RefusalReason), i64)> {
        let taken = {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut *counts)
        };
        let mut taken: Vec<_> = taken.into_iter().collect();
        taken.sort_unstable_by_key(|(key, _)| *key);
        taken
    }
}

impl Engine {
    /// Notes that an attempt to claim `campaign` was refused before it reached the engine (by a
    /// rate limit or the bot check): counted for the fairness report if it was an entry, i.e. this instance knows
    /// the campaign's entries to be open. No I/O: written by the draw loop about once a second.
    pub fn note_refused_entry(&self, campaign: CampaignId, reason: RefusalReason) {
        if self.draw_gates().entries_open(campaign) {
            self.refusal_tally().add(campaign, reason, 1);
        }
    }

    /// Adds the refusals counted since the last call to the record (the draw loop calls it about
    /// once a second, and once more when it stops). Put back to be written next time if
    /// PostgreSQL fails.
    pub async fn write_refused_entries(&self) -> Result<(), EngineError> {
        let taken = self.refusal_tally().take();
        if taken.is_empty() {
            return Ok(());
        }
        let rows: Vec<(CampaignId, &'static str, i64)> = taken
            .iter()
            .map(|((campaign, reason), count)| (*campaign, reason.name(), *count))
            .collect();
        if let Err(error) = draws::add_refusals(self.db(), &rows).await {
            for ((campaign, reason), count) in taken {
                self.refusal_tally().add(campaign, reason, count);
            }
            return Err(error.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_add_up_per_campaign_and_reason_and_are_taken_in_order() {
        let tally = RefusalTally::default();
        tally.add(CampaignId(2), RefusalReason::RateLimited, 1);
        tally.add(CampaignId(1), RefusalReason::RateLimited, 1);
        tally.add(CampaignId(2), RefusalReason::RateLimited, 3);
        tally.add(CampaignId(1), RefusalReason::BotCheck, 1);

        let taken = tally.take();

        assert_eq!(
            taken,
            vec![
                ((CampaignId(1), RefusalReason::RateLimited), 1),
                ((CampaignId(1), RefusalReason::BotCheck), 1),
                ((CampaignId(2), RefusalReason::RateLimited), 4),
            ]
        );
        assert!(tally.take().is_empty(), "taken means gone");
    }

    #[test]
    fn a_full_tally_still_counts_what_it_holds() {
        let tally = RefusalTally::default();
        for n in 0..MOST_TALLIED {
            tally.add(CampaignId(n as i64), RefusalReason::RateLimited, 1);
        }
        tally.add(CampaignId(-1), RefusalReason::RateLimited, 1);
        tally.add(CampaignId(0), RefusalReason::RateLimited, 1);

        let taken = tally.take();

        assert_eq!(taken.len(), MOST_TALLIED);
        assert_eq!(taken[0], ((CampaignId(0), RefusalReason::RateLimited), 2));
    }
}
