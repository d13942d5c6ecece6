//! A campaign's coupons as CSV, read and sent a page at a time: a campaign of a million coupons
//! goes out without the server ever holding all of its rows, or all of its CSV, in memory.

use axum::body::Bytes;
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

/// Appends `value` as one quoted CSV field. A value that a spreadsheet would run as a formula
/// (user ids come from outside) gets a leading apostrophe, so it opens as text.
fn push_field(csv: &mut String, value: &str) {
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
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("a\"b,c"), "\"a\"\"b,c\"");
        assert_eq!(field("\"\""), "\"\"\"\"\"\"");
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        assert_eq!(field("plain"), "\"plain\"");
    }
}
