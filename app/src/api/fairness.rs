//! A completed fair draw's fairness report as the admin campaign page shows it
//! (src/draw/fairness.rs has the report and what its numbers mean).
//!
//! Fractions travel as whole ten-thousandths: reading or printing a float would pull the float
//! parser and printer into the wasm bundle (docs/benchmark.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The fairness report of a completed fair draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessView {
    pub entrants: i64,
    pub drawn: i64,
    pub not_drawn: i64,
    /// Hex SHA-256 of the secret, published before anyone entered.
    pub commitment: String,
    /// The revealed secret, hex.
    pub secret: String,
    /// The last winner's digest, hex (none when nobody entered).
    pub cutoff: Option<String>,
    /// The Kolmogorov–Smirnov distance between the winners' entry times and everyone's, in
    /// ten-thousandths (0 to 10,000); none when nobody entered.
    pub ks_distance_e4: Option<i64>,
    /// About where a fair draw's distance stays below nineteen times in twenty, in
    /// ten-thousandths.
    pub ks_fair_bound_e4: Option<i64>,
    /// The entry window the histogram slices.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub entries_open_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub draw_at: DateTime<Utc>,
    /// Entrants and winners per equal slice of the entry window, earliest first.
    pub buckets: Vec<(i64, i64)>,
    /// Attempts to enter refused by the rate limits.
    pub refused_rate_limited: i64,
    /// Attempts to enter refused by the bot check, and whether there is one.
    pub refused_bot_check: i64,
    pub bot_check_enabled: bool,
}

#[cfg(feature = "ssr")]
impl From<&coupon::draw::FairnessReport> for FairnessView {
    fn from(report: &coupon::draw::FairnessReport) -> Self {
        let e4 = |fraction: f64| (fraction * 10_000.0).round() as i64;
        let times = &report.entry_times;
        Self {
            entrants: report.entrants,
            drawn: report.drawn,
            not_drawn: report.not_drawn,
            commitment: report.commitment.clone(),
            secret: report.secret.clone(),
            cutoff: report.cutoff.clone(),
            ks_distance_e4: times.ks_distance.map(e4),
            ks_fair_bound_e4: times.ks_fair_bound.map(e4),
            entries_open_at: report.entries_open_at,
            draw_at: report.draw_at,
            buckets: times
                .buckets
                .iter()
                .map(|bucket| (bucket.entrants, bucket.drawn))
                .collect(),
            refused_rate_limited: report.refused.rate_limited,
            refused_bot_check: report.refused.bot_check,
            bot_check_enabled: report.refused.bot_check_enabled,
        }
    }
}
