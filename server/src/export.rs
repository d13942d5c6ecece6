//! A campaign's coupons as CSV, read and sent a page at a time: a campaign of a million coupons
//! goes out without the server ever holding all of its rows, or all of its CSV, in memory.
//! Beside it, a fair draw's fairness report as CSV ([`fairness_csv`]): a few dozen rows.

use axum::body::Bytes;
use coupon::draw::FairnessReport;
use coupon::store::coupons::ExportRow;
use coupon::{CampaignId, Engine, EngineError};
use futures::{Stream, StreamExt, stream};

/// Rows per PostgreSQL read: about half a megabyte of CSV, and a short query each.
pub const ROWS_PER_PAGE: i64 = 5_000;

const HEADER: &str = "sequence,user_id,code,claimed_at,synced_at,state,order_id,redeemed_at\r\n";

/// The export of `campaign`: the header line, then one chunk of CSV per page of rows, in claim
/// order. Rows recorded while it runs are included if their turn has not passed yet (a sync
/// catching up records the second half of a batch a moment before the first, so an export
/// running during a backlog drain is a snapshot of a moving record, like any export then).
pub fn csv_chunks(
    engine: Engine,
    campaign: CampaignId,
    rows_per_page: i64,
) -> impl Stream<Item = Result<Bytes, EngineError>> + Send + 'static {
    let rows_per_page = rows_per_page.max(1);
    // The state is the sequence number the next page starts after; `None` once a page came back
    // short, which means there is nothing after it.
    let pages = stream::try_unfold(Some(0_i64), move |after| {
        let engine = engine.clone();
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let page = engine
                .export_rows_after(campaign, after, rows_per_page)
                .await?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            let full = i64::try_from(page.len()).is_ok_and(|rows| rows == rows_per_page);
            let next = full.then_some(last.sequence);
            Ok(Some((Bytes::from(csv_rows(&page)), next)))
        }
    });
    stream::once(async { Ok(Bytes::from_static(HEADER.as_bytes())) }).chain(pages)
}

/// CSV lines for `coupons`, every field quoted.
fn csv_rows(coupons: &[ExportRow]) -> String {
    let mut csv = String::with_capacity(coupons.len() * 140);
    for coupon in coupons {
        push_field(&mut csv, &coupon.sequence.to_string());
        csv.push(',');
        push_field(&mut csv, &coupon.user_id);
        csv.push(',');
        push_field(&mut csv, &coupon.code);
        csv.push(',');
        push_field(&mut csv, &coupon.claimed_at.to_rfc3339());
        csv.push(',');
        push_field(&mut csv, &coupon.synced_at.to_rfc3339());
        csv.push(',');
        push_field(&mut csv, &coupon.state);
        csv.push(',');
        push_field(&mut csv, coupon.order_id.as_deref().unwrap_or_default());
        csv.push(',');
        let redeemed_at = coupon.redeemed_at.map(|at| at.to_rfc3339());
        push_field(&mut csv, redeemed_at.as_deref().unwrap_or_default());
        csv.push_str("\r\n");
    }
    csv
}

const FAIRNESS_HEADER: &str = "measure,from,to,value\r\n";

/// A fair draw's fairness report as CSV, one measure a row, in the coupons export's style (a
/// plain header, every field quoted): `measure,from,to,value`, where `from` and `to` bound
/// the entry-time slice of the histogram rows (`entrants_entered`, `drawn_entered`) and are
/// empty for the others. The distance has six decimals; a report without one (nobody entered)
/// leaves the value empty.
pub fn fairness_csv(report: &FairnessReport) -> String {
    let mut csv = String::with_capacity(4096);
    csv.push_str(FAIRNESS_HEADER);
    let mut row = |measure: &str, from: &str, to: &str, value: &str| {
        push_field(&mut csv, measure);
        csv.push(',');
        push_field(&mut csv, from);
        csv.push(',');
        push_field(&mut csv, to);
        csv.push(',');
        push_field(&mut csv, value);
        csv.push_str("\r\n");
    };
    let decimal = |value: Option<f64>| value.map(|v| format!("{v:.6}")).unwrap_or_default();
    let times = &report.entry_times;
    row("campaign_id", "", "", &report.campaign_id.to_string());
    row("entrants", "", "", &report.entrants.to_string());
    row("drawn", "", "", &report.drawn.to_string());
    row("not_drawn", "", "", &report.not_drawn.to_string());
    row("commitment", "", "", &report.commitment);
    row("secret", "", "", &report.secret);
    row(
        "cutoff",
        "",
        "",
        report.cutoff.as_deref().unwrap_or_default(),
    );
    row(
        "entries_open_at",
        "",
        "",
        &report.entries_open_at.to_rfc3339(),
    );
    row("draw_at", "", "", &report.draw_at.to_rfc3339());
    let drawn_at = report.drawn_at.map(|at| at.to_rfc3339());
    row("drawn_at", "", "", drawn_at.as_deref().unwrap_or_default());
    row("completed_at", "", "", &report.completed_at.to_rfc3339());
    row("ks_distance", "", "", &decimal(times.ks_distance));
    row("ks_fair_bound", "", "", &decimal(times.ks_fair_bound));
    row(
        "refused_rate_limited",
        "",
        "",
        &report.refused.rate_limited.to_string(),
    );
    row(
        "refused_bot_check",
        "",
        "",
        &report.refused.bot_check.to_string(),
    );
    let bot_check = if report.refused.bot_check_enabled {
        "on"
    } else {
        "off"
    };
    row("bot_check", "", "", bot_check);
    for bucket in &times.buckets {
        let (from, to) = (bucket.from.to_rfc3339(), bucket.to.to_rfc3339());
        row("entrants_entered", &from, &to, &bucket.entrants.to_string());
        row("drawn_entered", &from, &to, &bucket.drawn.to_string());
    }
    csv
}

/// Appends `value` as one quoted CSV field. A value that a spreadsheet would run as a formula
/// (user ids come from outside) gets a leading apostrophe, so it opens as text.
pub(crate) fn push_field(csv: &mut String, value: &str) {
    csv.push('"');
    if value.starts_with(['=', '+', '-', '@']) {
        csv.push('\'');
    }
    for part in value.split_inclusive('"') {
        csv.push_str(part);
        if part.ends_with('"') {
            csv.push('"');
        }
    }
    csv.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(value: &str) -> String {
        let mut csv = String::new();
        push_field(&mut csv, value);
        csv
    }

    #[test]
    fn the_fairness_report_is_one_quoted_measure_a_row() {
        use chrono::{DateTime, TimeDelta};
        use coupon::draw::{EntryTimes, RefusedEntries, TimeBucket};
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let report = FairnessReport {
            campaign_id: CampaignId(7),
            entrants: 40,
            drawn: 10,
            not_drawn: 30,
            commitment: "c0".repeat(32),
            secret: "5e".repeat(32),
            cutoff: Some("0f".repeat(32)),
            entries_open_at: at,
            draw_at: at + TimeDelta::seconds(20),
            drawn_at: Some(at + TimeDelta::seconds(20)),
            completed_at: at + TimeDelta::seconds(21),
            entry_times: EntryTimes {
                ks_distance: Some(0.75),
                ks_fair_bound: None,
                buckets: vec![TimeBucket {
                    from: at,
                    to: at + TimeDelta::seconds(1),
                    entrants: 10,
                    drawn: 10,
                }],
            },
            refused: RefusedEntries {
                rate_limited: 3,
                bot_check: 0,
                bot_check_enabled: false,
            },
        };

        let csv = fairness_csv(&report);

        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "measure,from,to,value");
        assert!(lines.contains(&"\"entrants\",\"\",\"\",\"40\""));
        assert!(lines.contains(&"\"ks_distance\",\"\",\"\",\"0.750000\""));
        assert!(lines.contains(&"\"ks_fair_bound\",\"\",\"\",\"\""));
        assert!(lines.contains(&"\"refused_rate_limited\",\"\",\"\",\"3\""));
        assert!(lines.contains(&"\"bot_check\",\"\",\"\",\"off\""));
        assert!(lines.contains(
            &"\"drawn_entered\",\"2027-01-15T08:00:00+00:00\",\"2027-01-15T08:00:01+00:00\",\"10\""
        ));
        assert_eq!(lines.last(), Some(&""), "every row ends with CRLF");
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("a\"b,c"), "\"a\"\"b,c\"");
        assert_eq!(field("\"\""), "\"\"\"\"\"\"");
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        assert_eq!(field("plain"), "\"plain\"");
    }
}
