//! The fairness report of a completed fair draw (issue 29, item 6): the counts, the commitment
//! and the revealed secret anyone can check the order with, the attempts refused before they
//! reached the draw, and how the winners' entry times compare with everyone's.
//!
//! **Entry times.** The order is HMAC-SHA256 of each member id under a secret fixed before
//! anyone entered, so when a member entered cannot matter: the winners are a random subset of
//! the entrants, and their entry times should have the same shape as everyone's. The report
//! measures it with the Kolmogorov–Smirnov distance `D = sup_t |F_winners(t) − F_all(t)|`
//! between the two empirical distributions, and shows both as a histogram over the entry
//! window. For a random subset of `m` winners among `n` entrants, `D` stays below about
//! `1.358 · √((n − m) / (m · n))` nineteen draws in twenty ([`EntryTimes::ks_fair_bound`]: the
//! two-sample bound for winners against those not drawn, scaled to winners against all, since
//! `F_winners − F_all = (n − m)/n · (F_winners − F_not_drawn)`). Entries are written in batches
//! that share their transaction's time, so many entrants share an instant; ties only make `D`
//! smaller, and the bound stays a safe one.
//!
//! **Cost.** The times are read grouped by instant, earliest first, as a stream
//! (`store::draws::entry_instants`): a million entrants entered in a few thousand batches are a
//! few thousand rows, and memory does not grow with them either way. The entries of a completed
//! draw never change, so each instance computes a campaign's distribution once and keeps it.

use super::secret::digest_hex;
use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::draws;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Bars of the entry-time histogram: equal slices of the entry window.
pub const TIME_BUCKETS: usize = 20;

/// c(α) of the Kolmogorov distribution for α = 0.05: `√(−ln(α/2) / 2)`.
const KS_COEFFICIENT_95: f64 = 1.358;

/// Campaigns whose entry-time distribution one instance keeps (a few hundred bytes each).
const MOST_CACHED: usize = 256;

/// The fairness report of a completed fair draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// The campaign.
    pub campaign_id: CampaignId,
    /// Members who entered.
    pub entrants: i64,
    /// Members drawn (the winners): the smaller of the quantity and the entrants.
    pub drawn: i64,
    /// Members who entered and were not drawn.
    pub not_drawn: i64,
    /// Hex SHA-256 of the secret, published before anyone entered.
    pub commitment: String,
    /// The revealed secret, hex (32 bytes).
    pub secret: String,
    /// The last winner's digest, hex: an entrant whose digest is at most this was drawn (none
    /// when nobody entered).
    pub cutoff: Option<String>,
    /// When entries opened.
    pub entries_open_at: DateTime<Utc>,
    /// When the draw was due (the window's start).
    pub draw_at: DateTime<Utc>,
    /// When the winners were chosen.
    pub drawn_at: Option<DateTime<Utc>>,
    /// When every winner's coupon was in the record.
    pub completed_at: DateTime<Utc>,
    /// The winners' entry times against everyone's.
    pub entry_times: EntryTimes,
    /// Attempts to enter refused before they reached the draw.
    pub refused: RefusedEntries,
}

/// How the winners' entry times compare with all entrants'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryTimes {
    /// The Kolmogorov–Smirnov distance between the winners' entry times and all entrants',
    /// from 0 (the same shape) to 1; none when nobody entered.
    pub ks_distance: Option<f64>,
    /// About where a fair draw's distance stays below nineteen times in twenty (see the
    /// module); 0 when every entrant was drawn, none when nobody entered.
    pub ks_fair_bound: Option<f64>,
    /// The entry window in [`TIME_BUCKETS`] equal slices, earliest first.
    pub buckets: Vec<TimeBucket>,
}

/// One slice of the entry window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeBucket {
    /// Its start.
    pub from: DateTime<Utc>,
    /// Its end (the next slice's start).
    pub to: DateTime<Utc>,
    /// Members who entered in it (the first and the last slices also hold the few entries
    /// stamped a moment outside the window: an entry's time is its transaction's start).
    pub entrants: i64,
    /// Of those, the members drawn.
    pub drawn: i64,
}

/// Attempts to enter refused before they reached the draw (attempts, not members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedEntries {
    /// Over a rate limit (per member or per client address), while the entries were open
    /// (src/draw/refusals.rs).
    pub rate_limited: i64,
    /// By the bot check (src/bot_check/): required, failed, expired or reused, while the
    /// entries were open.
    pub bot_check: i64,
    /// Whether the campaign had a bot check (`bot_check_bits` above 0: src/bot_check/).
    pub bot_check_enabled: bool,
}

/// What the fairness report can show of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum FairnessListing {
    /// The campaign has no draw (first come, or no such campaign).
    NoDraw,
    /// The draw is not completed yet.
    NotDone,
    /// The report.
    Report(Box<FairnessReport>),
}

/// The entry-time distributions this instance computed: a completed draw's entries never
/// change.
#[derive(Default)]
pub(crate) struct FairnessCache(Mutex<HashMap<CampaignId, EntryTimes>>);

impl FairnessCache {
    fn get(&self, campaign: CampaignId) -> Option<EntryTimes> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&campaign)
            .cloned()
    }

    fn keep(&self, campaign: CampaignId, times: EntryTimes) {
        let mut cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.len() >= MOST_CACHED {
            cached.clear();
        }
        cached.insert(campaign, times);
    }
}

impl Engine {
    /// The fairness report of the campaign's draw, once it is completed.
    pub async fn fairness_report(
        &self,
        campaign: CampaignId,
    ) -> Result<FairnessListing, EngineError> {
        let db = self.db();
        let Some(row) = draws::find(db, campaign).await? else {
            return Ok(FairnessListing::NoDraw);
        };
        let Some(completed_at) = row.completed_at else {
            return Ok(FairnessListing::NotDone);
        };
        let entrants = row.entrants.unwrap_or(0);
        let drawn = row.winners.unwrap_or(0);
        // Never missing for a draw (the migration's constraint); the window's start otherwise.
        let entries_open_at = row.entries_open_at.unwrap_or(row.claim_starts_at);
        let entry_times = match self.fairness_cache().get(campaign) {
            Some(times) => times,
            None => {
                let window = (entries_open_at, row.claim_starts_at);
                let times = read_entry_times(db, campaign, window, (entrants, drawn)).await?;
                self.fairness_cache().keep(campaign, times.clone());
                times
            }
        };
        let mut refused = RefusedEntries {
            rate_limited: 0,
            bot_check: 0,
            bot_check_enabled: row.bot_check_bits > 0,
        };
        for (reason, count) in draws::refusals_of(db, campaign).await? {
            match reason.as_str() {
                "rate_limited" => refused.rate_limited += count,
                "bot_check" => refused.bot_check += count,
                _ => {}
            }
        }
        Ok(FairnessListing::Report(Box::new(FairnessReport {
            campaign_id: campaign,
            entrants,
            drawn,
            not_drawn: (entrants - drawn).max(0),
            commitment: row.commitment,
            secret: digest_hex(&row.secret),
            cutoff: row.cutoff.map(|cutoff| digest_hex(&cutoff)),
            entries_open_at,
            draw_at: row.claim_starts_at,
            drawn_at: row.drawn_at,
            completed_at,
            entry_times,
            refused,
        })))
    }
}

/// The distributions of the campaign's entry times over `window`, for `totals` (entrants,
/// drawn) as the draw recorded them. Should the entries not add up to those (someone edited
/// the record), read once more with the totals found, so the distance is always between the
/// entries as they are.
async fn read_entry_times(
    db: &PgPool,
    campaign: CampaignId,
    window: (DateTime<Utc>, DateTime<Utc>),
    mut totals: (i64, i64),
) -> Result<EntryTimes, EngineError> {
    for _ in 0..2 {
        let mut distance = KsDistance::new(totals.0, totals.1);
        let mut histogram = Histogram::new(window.0, window.1);
        let mut instants = draws::entry_instants(db, campaign);
        while let Some((at, entered, drawn)) = instants.try_next().await? {
            distance.step(entered, drawn);
            histogram.add(at, entered, drawn);
        }
        if distance.seen() == totals {
            return Ok(EntryTimes {
                ks_distance: distance.distance(),
                ks_fair_bound: ks_fair_bound(totals.0, totals.1),
                buckets: histogram.buckets(),
            });
        }
        tracing::warn!(
            %campaign,
            recorded = ?totals,
            found = ?distance.seen(),
            "the draw's entries do not add up to its recorded counts"
        );
        totals = distance.seen();
    }
    Err(EngineError::Database(sqlx::Error::Protocol(format!(
        "campaign {campaign}: its draw's entries changed while they were read"
    ))))
}

/// The Kolmogorov–Smirnov distance between two samples, computed in one pass over the instants
/// of both in ascending order: each [`step`](Self::step) adds the members of each sample at
/// one instant (every member at that instant, so that ties are counted together). Exact:
/// `|F_a − F_b| = |seen_a · total_b − seen_b · total_a| / (total_a · total_b)` in integers.
#[derive(Debug, Clone, Copy)]
pub struct KsDistance {
    totals: (i64, i64),
    seen: (i64, i64),
    /// The widest `|seen_a · total_b − seen_b · total_a|` so far.
    widest: i128,
}

impl KsDistance {
    /// A distance between a sample of `total_a` members and one of `total_b`.
    pub fn new(total_a: i64, total_b: i64) -> Self {
        Self {
            totals: (total_a, total_b),
            seen: (0, 0),
            widest: 0,
        }
    }

    /// Adds `a` members of the first sample and `b` of the second at the next instant.
    pub fn step(&mut self, a: i64, b: i64) {
        self.seen = (self.seen.0 + a, self.seen.1 + b);
        let gap = i128::from(self.seen.0) * i128::from(self.totals.1)
            - i128::from(self.seen.1) * i128::from(self.totals.0);
        self.widest = self.widest.max(gap.abs());
    }

    /// Members of each sample added so far.
    pub fn seen(&self) -> (i64, i64) {
        self.seen
    }

    /// `sup |F_a − F_b|`, from 0 to 1; none when either sample is empty.
    pub fn distance(&self) -> Option<f64> {
        let (a, b) = self.totals;
        if a <= 0 || b <= 0 {
            return None;
        }
        Some((self.widest as f64 / (a as f64 * b as f64)).min(1.0))
    }
}

/// The Kolmogorov–Smirnov distance between two sorted samples; none when either is empty.
pub fn ks_distance<T: Ord>(a: &[T], b: &[T]) -> Option<f64> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut distance = KsDistance::new(count(a.len()), count(b.len()));
    let (mut i, mut j) = (0, 0);
    loop {
        let at = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => break,
        };
        let in_a = a[i..].iter().take_while(|x| *x == at).count();
        let in_b = b[j..].iter().take_while(|y| *y == at).count();
        i += in_a;
        j += in_b;
        distance.step(count(in_a), count(in_b));
    }
    distance.distance()
}

/// About where the distance between `drawn` members chosen at random among `entrants` and all
/// of them stays nineteen times in twenty: `1.358 · √((n − m) / (m · n))`.
pub fn ks_fair_bound(entrants: i64, drawn: i64) -> Option<f64> {
    if entrants <= 0 || drawn <= 0 {
        return None;
    }
    if drawn >= entrants {
        return Some(0.0);
    }
    let (n, m) = (entrants as f64, drawn as f64);
    Some(KS_COEFFICIENT_95 * ((n - m) / (m * n)).sqrt())
}

/// Entrants and winners counted in [`TIME_BUCKETS`] equal slices of the entry window.
struct Histogram {
    from: DateTime<Utc>,
    /// The window's length in milliseconds (at least 1).
    length_ms: i64,
    counts: [(i64, i64); TIME_BUCKETS],
}

impl Histogram {
    fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            from,
            length_ms: (to - from).num_milliseconds().max(1),
            counts: [(0, 0); TIME_BUCKETS],
        }
    }

    /// Counts `entered` members at `at`, `drawn` of them winners; a time outside the window
    /// counts in the slice nearest to it.
    fn add(&mut self, at: DateTime<Utc>, entered: i64, drawn: i64) {
        // The last slice whose start (`edge`, whole milliseconds rounded down) is at most `at`:
        // `floor(length · i / n) ≤ offset` holds exactly for `i ≤ (n · offset + n − 1) / length`.
        let offset = (at - self.from).num_milliseconds().clamp(0, self.length_ms);
        let slices = TIME_BUCKETS as i128;
        let slice = (slices * i128::from(offset) + slices - 1) / i128::from(self.length_ms);
        let slice = usize::try_from(slice).unwrap_or(0).min(TIME_BUCKETS - 1);
        let counts = &mut self.counts[slice];
        *counts = (counts.0 + entered, counts.1 + drawn);
    }

    /// The slices with their bounds, earliest first: slice `i` starts `floor(length · i / n)`
    /// milliseconds into the window.
    fn buckets(&self) -> Vec<TimeBucket> {
        let edge = |slice: usize| {
            let offset = i128::from(self.length_ms) * slice as i128 / TIME_BUCKETS as i128;
            self.from + TimeDelta::milliseconds(i64::try_from(offset).unwrap_or(i64::MAX))
        };
        self.counts
            .iter()
            .enumerate()
            .map(|(slice, (entrants, drawn))| TimeBucket {
                from: edge(slice),
                to: edge(slice + 1),
                entrants: *entrants,
                drawn: *drawn,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_are_at_distance_zero() {
        let times = [1, 2, 2, 3, 7, 9];
        assert_eq!(ks_distance(&times, &times), Some(0.0));
    }

    #[test]
    fn disjoint_samples_are_at_distance_one() {
        assert_eq!(ks_distance(&[1, 2, 3], &[4, 5]), Some(1.0));
        assert_eq!(ks_distance(&[4, 5], &[1, 2, 3]), Some(1.0));
    }

    #[test]
    fn a_hand_computed_distance() {
        // a = 1 2 3 4, b = 2 4: after 1, F_a = 1/4 and F_b = 0; after 2, 2/4 and 1/2; after
        // 3, 3/4 and 1/2; after 4, both 1. The widest gap is 1/4.
        assert_eq!(ks_distance(&[1, 2, 3, 4], &[2, 4]), Some(0.25));
    }

    #[test]
    fn ties_are_counted_together() {
        // a = 1 1 2 3 5, b = 1 3 3: after 1, 2/5 against 1/3 (1/15); after 2, 3/5 against 1/3
        // (4/15); after 3, 4/5 against 1 (3/15); after 5, both 1. The widest is 4/15.
        assert_eq!(ks_distance(&[1, 1, 2, 3, 5], &[1, 3, 3]), Some(4.0 / 15.0));
        // Members of both samples at one instant count together: one at a time, the first
        // sample's two 1s would make a gap of 2/3 before the second sample's caught up.
        assert_eq!(ks_distance(&[1, 1, 2], &[1, 1, 2]), Some(0.0));
    }

    #[test]
    fn an_empty_sample_has_no_distance() {
        assert_eq!(ks_distance::<i32>(&[], &[1]), None);
        assert_eq!(ks_distance::<i32>(&[1], &[]), None);
    }

    #[test]
    fn winners_against_all_entrants_step_by_step() {
        // 40 entrants: 10 at the first instant, all drawn, 30 at the second, none drawn. After
        // the first, F_winners = 1 and F_all = 1/4.
        let mut distance = KsDistance::new(40, 10);
        distance.step(10, 10);
        distance.step(30, 0);
        assert_eq!(distance.seen(), (40, 10));
        assert_eq!(distance.distance(), Some(0.75));

        // Winners spread like everyone: 4 instants of 10 entrants, 1 of them drawn at each.
        let mut even = KsDistance::new(40, 4);
        for _ in 0..4 {
            even.step(10, 1);
        }
        assert_eq!(even.distance(), Some(0.0));
    }

    #[test]
    fn the_fair_bound_shrinks_with_more_winners_and_vanishes_when_all_are_drawn() {
        // 1.358 · √(300 / (100 · 400)) = 1.358 · √0.0075
        let bound = ks_fair_bound(400, 100).unwrap();
        assert!((bound - 1.358 * 0.0075_f64.sqrt()).abs() < 1e-12, "{bound}");
        assert!(ks_fair_bound(400, 200).unwrap() < bound);
        assert_eq!(ks_fair_bound(10, 10), Some(0.0));
        assert_eq!(ks_fair_bound(0, 0), None);
    }

    #[test]
    fn a_time_on_a_slice_start_counts_in_that_slice_whatever_the_window_length() {
        // 1,001 ms: slice 1 starts at floor(1001 / 20) = 50 ms, slice 2 at 100 ms.
        let from = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut histogram = Histogram::new(from, from + TimeDelta::milliseconds(1_001));
        histogram.add(from + TimeDelta::milliseconds(49), 1, 0);
        histogram.add(from + TimeDelta::milliseconds(50), 2, 0);
        histogram.add(from + TimeDelta::milliseconds(100), 4, 0);

        let buckets = histogram.buckets();

        assert_eq!(buckets[1].from, from + TimeDelta::milliseconds(50));
        assert_eq!(buckets[2].from, from + TimeDelta::milliseconds(100));
        let counts: Vec<i64> = buckets[..3].iter().map(|bucket| bucket.entrants).collect();
        assert_eq!(counts, [1, 2, 4]);
    }

    #[test]
    fn the_histogram_slices_the_window_and_keeps_strays_at_its_edges() {
        let from = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let to = from + TimeDelta::seconds(20);
        let mut histogram = Histogram::new(from, to);
        histogram.add(from, 2, 1);
        histogram.add(from + TimeDelta::milliseconds(9_999), 3, 0);
        histogram.add(from + TimeDelta::seconds(10), 4, 2);
        histogram.add(from - TimeDelta::milliseconds(5), 1, 1);
        histogram.add(to, 5, 0);

        let buckets = histogram.buckets();

        assert_eq!(buckets.len(), TIME_BUCKETS);
        assert_eq!((buckets[0].entrants, buckets[0].drawn), (3, 2));
        assert_eq!((buckets[9].entrants, buckets[9].drawn), (3, 0));
        assert_eq!((buckets[10].entrants, buckets[10].drawn), (4, 2));
        assert_eq!((buckets[19].entrants, buckets[19].drawn), (5, 0));
        assert_eq!(buckets[0].from, from);
        assert_eq!(buckets[1].from, from + TimeDelta::seconds(1));
        assert_eq!(buckets[19].to, to);
        let total: i64 = buckets.iter().map(|bucket| bucket.entrants).sum();
        assert_eq!(total, 15);
    }
}
