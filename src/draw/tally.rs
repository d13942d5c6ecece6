//! How many members entered each fair draw so far, and whether its draw is completed: what the
//! live pages show (server/src/live.rs, the claim page's first render).
//!
//! One `count(*)` of a campaign's entries at most every [`TALLY_FRESH`] on an instance, however
//! many pages watch it or load it: a read in flight is shared (callers wait for it and take its
//! answer), and an answer younger than [`TALLY_FRESH`] is given again. Once the winners are
//! chosen, the count is the one the draw recorded (no more counting).

use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::draws;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a count is given again before it is read anew.
pub const TALLY_FRESH: Duration = Duration::from_secs(1);

/// Tallies not asked for in this long are forgotten (at the next read).
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// One fair draw's live numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawTally {
    /// Members who entered so far (the recorded count once the winners are chosen).
    pub entrants: i64,
    /// Whether the draw is completed (every winner's coupon in the record).
    pub completed: bool,
}

/// The instance's latest tallies, and the turn to read new ones.
#[derive(Default)]
pub(crate) struct DrawTallies {
    known: Mutex<HashMap<CampaignId, (Instant, DrawTally)>>,
    /// Held while PostgreSQL is asked: one read at a time, the others wait and find its answer.
    reading: tokio::sync::Mutex<()>,
}

impl DrawTallies {
    /// The tallies of `ids` younger than [`TALLY_FRESH`], and the ids that need a read.
    fn fresh(&self, ids: &[CampaignId]) -> (HashMap<CampaignId, DrawTally>, Vec<CampaignId>) {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found = HashMap::with_capacity(ids.len());
        let mut stale = Vec::new();
        for id in ids {
            match known.get(id) {
                Some((at, tally)) if at.elapsed() < TALLY_FRESH => {
                    found.insert(*id, *tally);
                }
                _ => stale.push(*id),
            }
        }
        (found, stale)
    }

    fn remember(&self, read: &[(i64, i64, bool)]) {
        let now = Instant::now();
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|_, (at, _)| now.duration_since(*at) < FORGET_AFTER);
        for &(id, entrants, completed) in read {
            known.insert(
                CampaignId(id),
                (
                    now,
                    DrawTally {
                        entrants,
                        completed,
                    },
                ),
            );
        }
    }
}

impl Engine {
    /// The live tallies of those of `ids` that are fair draws (absent: no draw). A count read
    /// from PostgreSQL at most every [`TALLY_FRESH`] per campaign on this instance, shared by
    /// every caller.
    pub async fn draw_tallies(
        &self,
        ids: &[CampaignId],
    ) -> Result<HashMap<CampaignId, DrawTally>, EngineError> {
        let tallies = self.draw_tallies_memory();
        let (found, stale) = tallies.fresh(ids);
        if stale.is_empty() {
            return Ok(found);
        }
        let _turn = tallies.reading.lock().await;
        // Another caller may have read them while this one waited.
        let (mut found, stale) = tallies.fresh(ids);
        if stale.is_empty() {
            return Ok(found);
        }
        let read = draws::tallies(self.db(), &stale).await?;
        tallies.remember(&read);
        for (id, entrants, completed) in read {
            found.insert(
                CampaignId(id),
                DrawTally {
                    entrants,
                    completed,
                },
            );
        }
        Ok(found)
    }
}
