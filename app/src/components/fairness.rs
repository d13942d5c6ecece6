//! A completed fair draw's fairness report on the admin campaign page: the counts, the
//! commitment and the revealed secret, the Kolmogorov–Smirnov distance between the winners'
//! entry times and everyone's with what it means, and both distributions as two series of SVG
//! bars (no chart library in the wasm). What the numbers mean: src/draw/fairness.rs.

use crate::api::FairnessView;
use crate::i18n::{format_count, format_datetime, format_rate};
use crate::use_lang;
use leptos::prelude::*;

// Whole numbers in a tenfold view box, as in the claims chart (components/chart.rs): no float
// printer in the wasm bundle.
const WIDTH: u64 = 6000;
const HEIGHT: u64 = 1200;
/// Room left above the tallest bar.
const HEADROOM: u64 = 40;

/// The "Fairness" section of a completed fair draw.
#[component]
pub fn FairnessSection(id: i64, fairness: FairnessView) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let stat = |value: String, label: &'static str, test_id: &'static str| {
        view! {
            <div class="stat">
                <span class="stat-value" data-testid=test_id>{value}</span>
                <span class="stat-label">{label}</span>
            </div>
        }
    };
    let ks = fairness
        .ks_distance_e4
        .map(format_ten_thousandths)
        .unwrap_or_else(|| "–".into());
    let bound = fairness.ks_fair_bound_e4.map(format_ten_thousandths);
    let bot_check = if fairness.bot_check_enabled {
        format_count(fairness.refused_bot_check)
    } else {
        format!(
            "{} ({})",
            format_count(fairness.refused_bot_check),
            t.fairness_bot_check_off
        )
    };
    let cutoff = fairness.cutoff.clone().unwrap_or_else(|| "–".into());
    let opened = format_datetime(lang, fairness.entries_open_at);
    let drawn_at = format_datetime(lang, fairness.draw_at);
    view! {
        <section class="panel fairness" data-testid="fairness">
            <h2>{t.fairness}</h2>
            <div class="stats">
                {stat(format_count(fairness.entrants), t.fairness_entrants, "fairness-entrants")}
                {stat(format_count(fairness.drawn), t.fairness_drawn, "fairness-drawn")}
                {stat(format_count(fairness.not_drawn), t.fairness_not_drawn, "fairness-not-drawn")}
                {stat(
                    format_count(fairness.refused_rate_limited),
                    t.fairness_refused_rate_limited,
                    "fairness-refused-rate-limited",
                )}
                {stat(bot_check, t.fairness_refused_bot_check, "fairness-refused-bot-check")}
            </div>
            <dl class="digests">
                <dt>{t.fairness_commitment}</dt>
                <dd class="digest" data-testid="fairness-commitment">{fairness.commitment.clone()}</dd>
                <dt>{t.fairness_secret}</dt>
                <dd class="digest" data-testid="fairness-secret">{fairness.secret.clone()}</dd>
                <dt>{t.fairness_cutoff}</dt>
                <dd class="digest" data-testid="fairness-cutoff">{cutoff}</dd>
            </dl>
            <p class="ks">
                <strong>{t.fairness_ks} ": " <span data-testid="fairness-ks">{ks}</span></strong>
                {bound.map(|bound| view! { " · " {t.fairness_ks_bound} " " {bound} })}
            </p>
            <p class="hint">{t.fairness_ks_explained}</p>
            <EntryTimesChart
                buckets=fairness.buckets.clone()
                entrants=fairness.entrants
                drawn=fairness.drawn
                opened
                drawn_at
            />
            <div class="button-row">
                <a class="button" href=format!("/admin/campaigns/{id}/fairness.csv") rel="external" download>
                    {t.fairness_export_csv}
                </a>
            </div>
        </section>
    }
}

/// Entrants and winners per slice of the entry window, each as a share of its own group, side
/// by side: in a fair draw the two series have the same shape. Each bar's title gives the
/// count and the share.
#[component]
fn EntryTimesChart(
    buckets: Vec<(i64, i64)>,
    entrants: i64,
    drawn: i64,
    /// When entries opened and when the draw was: the window's ends, under the chart.
    opened: String,
    drawn_at: String,
) -> impl IntoView {
    let t = use_lang().texts();
    let shares: Vec<(u64, u64)> = buckets
        .iter()
        .map(|&(all, won)| (share(all, entrants), share(won, drawn)))
        .collect();
    let peak = shares
        .iter()
        .map(|&(all, won)| all.max(won))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / (shares.len().max(1) as u64);
    let bar = slot * 2 / 5;
    let pad = (slot - 2 * bar) / 2;
    let height = move |share: u64| share * (HEIGHT - HEADROOM) / peak;
    let bars = buckets
        .iter()
        .zip(&shares)
        .enumerate()
        .map(|(i, (&(all, won), &(all_share, won_share)))| {
            let x = i as u64 * slot + pad;
            let (all_height, won_height) = (height(all_share), height(won_share));
            let all_title = format!(
                "{}: {} ({})",
                t.fairness_all_entrants,
                format_count(all),
                format_rate(all, entrants)
            );
            let won_title = format!(
                "{}: {} ({})",
                t.fairness_drawn,
                format_count(won),
                format_rate(won, drawn)
            );
            view! {
                <rect class="all" x=x y=HEIGHT - all_height width=bar height=all_height>
                    <title>{all_title}</title>
                </rect>
                <rect class="drawn" x=x + bar y=HEIGHT - won_height width=bar height=won_height>
                    <title>{won_title}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure class="chart fairness-chart">
            <figcaption>
                {t.fairness_chart}
                <span class="legend">
                    <span class="swatch all"></span> {t.fairness_all_entrants} " "
                    <span class="swatch drawn"></span> {t.fairness_drawn}
                </span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=t.fairness_chart>
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis" vector-effect="non-scaling-stroke"/>
                {bars}
            </svg>
            <div class="chart-axis"><span>{opened}</span><span>{drawn_at}</span></div>
        </figure>
    }
}

/// `count` of `total` in ten-thousandths (0 of nothing).
fn share(count: i64, total: i64) -> u64 {
    if total <= 0 {
        return 0;
    }
    let share = i128::from(count.max(0)) * 10_000 / i128::from(total);
    u64::try_from(share).unwrap_or(0)
}

/// Ten-thousandths as a decimal with four places: 123 → "0.0123", 10,000 → "1.0000". Integer
/// arithmetic, as in `i18n::format_rate`.
fn format_ten_thousandths(value: i64) -> String {
    let value = value.max(0);
    format!("{}.{:04}", value / 10_000, value % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_have_four_decimals_without_floats() {
        assert_eq!(format_ten_thousandths(0), "0.0000");
        assert_eq!(format_ten_thousandths(123), "0.0123");
        assert_eq!(format_ten_thousandths(7_500), "0.7500");
        assert_eq!(format_ten_thousandths(10_000), "1.0000");
    }

    #[test]
    fn shares_are_of_each_group_in_ten_thousandths() {
        assert_eq!(share(1, 4), 2_500);
        assert_eq!(share(10, 10), 10_000);
        assert_eq!(share(3, 0), 0);
    }
}
