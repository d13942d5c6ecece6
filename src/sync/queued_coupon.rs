//! The queue entry format written by claim.lua: `seq<TAB>ms_since_open<TAB>code<TAB>user`, the
//! claim time counted from the campaign's opening and the code in its compact form (both to keep
//! every queued coupon small in Redis).

use crate::code;
use chrono::{DateTime, Utc};

/// An issued coupon waiting in Redis to be recorded in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCoupon {
    /// Order of the claim within the campaign.
    pub sequence: i64,
    /// When Redis accepted the claim (Redis's clock).
    pub claimed_at: DateTime<Utc>,
    /// The coupon code the user was given, in the grouped form people see.
    pub code: String,
    /// Who claimed it.
    pub user_id: String,
}

impl QueuedCoupon {
    /// Parses one entry of a campaign that opened at `opened_at`; `None` if it is not in
    /// claim.lua's format.
    pub fn parse(entry: &str, opened_at: DateTime<Utc>) -> Option<Self> {
        // The user id is last and user ids have no control characters, so at most three tabs
        // separate fields; splitn keeps any later text inside the user id.
        let mut fields = entry.splitn(4, '\t');
        let sequence = fields.next()?.parse().ok()?;
        let claimed_at = claim_time(fields.next()?, opened_at)?;
        let code = fields.next()?;
        let user_id = fields.next()?;
        if code.is_empty() || user_id.is_empty() {
            return None;
        }
        Some(Self {
            sequence,
            claimed_at,
            code: code::grouped(code),
            user_id: user_id.to_owned(),
        })
    }

    /// Only the claim time, for measuring how long the oldest entry has waited.
    pub fn claimed_at_of(entry: &str, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        claim_time(entry.split('\t').nth(1)?, opened_at)
    }
}

/// Redis holds the opening in whole milliseconds (PostgreSQL may have microseconds), and the
/// claim script counted from that.
fn claim_time(ms_since_open: &str, opened_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let millis: i64 = ms_since_open.parse().ok()?;
    DateTime::from_timestamp_millis(opened_at.timestamp_millis().checked_add(millis)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_000_000_000).unwrap()
    }

    #[test]
    fn an_entry_written_by_the_claim_script_parses() {
        let coupon = QueuedCoupon::parse("7\t123\tABCDEFGH\t회원 42", opened()).unwrap();
        assert_eq!(coupon.sequence, 7);
        assert_eq!(coupon.claimed_at.timestamp_millis(), 1_764_000_000_123);
        assert_eq!(coupon.code, "ABCD-EFGH");
        assert_eq!(coupon.user_id, "회원 42");
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for entry in [
            "",
            "x\t1\tc\tu",
            "1\tx\tc\tu",
            "1\t2\tc",
            "1\t2\t\tu",
            "1\t2\tc\t",
            "1\t99999999999999999999\tc\tu",
        ] {
            assert!(QueuedCoupon::parse(entry, opened()).is_none(), "{entry:?}");
        }
    }

    #[test]
    fn the_claim_time_counts_from_the_opening_in_whole_milliseconds() {
        let opened_with_micros = opened() + chrono::TimeDelta::microseconds(700);
        let coupon = QueuedCoupon::parse("1\t5\tc\tu", opened_with_micros).unwrap();
        assert_eq!(coupon.claimed_at.timestamp_millis(), 1_764_000_000_005);
        assert_eq!(coupon.claimed_at.timestamp_subsec_micros() % 1000, 0);
    }

    #[test]
    fn the_claim_time_is_read_without_parsing_the_rest() {
        let at = QueuedCoupon::claimed_at_of("1\t2500\tc\tu", opened()).unwrap();
        assert_eq!(at.timestamp_millis(), 1_764_000_002_500);
    }
}
