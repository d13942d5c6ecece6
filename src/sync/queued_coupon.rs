//! The queue entry format written by claim.lua: `seq<TAB>claimed_ms<TAB>code<TAB>user`.

use chrono::{DateTime, Utc};

/// An issued coupon waiting in Redis to be recorded in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCoupon {
    /// Order of the claim within the campaign.
    pub sequence: i64,
    /// When Redis accepted the claim (Redis's clock).
    pub claimed_at: DateTime<Utc>,
    /// The coupon code the user was given.
    pub code: String,
    /// Who claimed it.
    pub user_id: String,
}

impl QueuedCoupon {
    /// Parses one entry; `None` if it is not in claim.lua's format.
    pub fn parse(entry: &str) -> Option<Self> {
        // The user id is last and user ids have no control characters, so at most three tabs
        // separate fields; splitn keeps any later text inside the user id.
        let mut fields = entry.splitn(4, '\t');
        let sequence = fields.next()?.parse().ok()?;
        let claimed_ms = fields.next()?.parse().ok()?;
        let code = fields.next()?;
        let user_id = fields.next()?;
        if code.is_empty() || user_id.is_empty() {
            return None;
        }
        Some(Self {
            sequence,
            claimed_at: DateTime::from_timestamp_millis(claimed_ms)?,
            code: code.to_owned(),
            user_id: user_id.to_owned(),
        })
    }

    /// Only the claim time, for measuring how long the oldest entry has waited.
    pub fn claimed_at_of(entry: &str) -> Option<DateTime<Utc>> {
        let millis = entry.split('\t').nth(1)?.parse().ok()?;
        DateTime::from_timestamp_millis(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_written_by_the_claim_script_parses() {
        let coupon = QueuedCoupon::parse("7\t1764000000123\tABCD-EFGH\t회원 42").unwrap();
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
        ] {
            assert!(QueuedCoupon::parse(entry).is_none(), "{entry:?}");
        }
    }

    #[test]
    fn the_claim_time_is_read_without_parsing_the_rest() {
        let at = QueuedCoupon::claimed_at_of("1\t1764000000000\tc\tu").unwrap();
        assert_eq!(at.timestamp_millis(), 1_764_000_000_000);
    }
}
