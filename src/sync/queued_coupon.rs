//! The queue entry format written by claim.lua: `seq<TAB>ms_since_open<TAB>user`, the claim
//! time counted from the campaign's opening (a few digits instead of thirteen, on every queued
//! coupon). The code is not stored: it is made from the campaign and the sequence (src/code/).
//!
//! Entries queued by releases that drew random codes carry the code as a third field,
//! `seq<TAB>ms_since_open<TAB>code<TAB>user`; those members were told that code, so it is kept.
//! User ids have no control characters, so the number of tabs tells the two apart. The
//! four-field form can go once every queue was drained past the upgrade to derived codes
//! (src/reconcile/formats.rs).

use crate::campaign::{Campaign, CampaignId};
use crate::code::{self, CodeKey};
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

/// What reading a campaign's queue entries takes besides the entries.
#[derive(Debug, Clone, Copy)]
pub struct QueueOf<'a> {
    /// Whose queue it is (codes are made from it).
    pub campaign: CampaignId,
    /// When its window opened (claim times count from it).
    pub opened_at: DateTime<Utc>,
    /// The key codes are made with.
    pub codes: &'a CodeKey,
}

impl<'a> QueueOf<'a> {
    /// The queue of `campaign` as PostgreSQL records it, its codes made with `codes`.
    pub fn of(campaign: &Campaign, codes: &'a CodeKey) -> Self {
        Self {
            campaign: campaign.id,
            opened_at: campaign.claim_starts_at,
            codes,
        }
    }

    /// Reads one entry; `None` if it is in neither of claim.lua's formats.
    pub fn parse(&self, entry: &str) -> Option<QueuedCoupon> {
        let mut fields = entry.split('\t');
        let sequence = fields.next()?.parse().ok()?;
        let claimed_at = claim_time(fields.next()?, self.opened_at)?;
        let third = fields.next()?;
        let (stored_code, user_id) = match (fields.next(), fields.next()) {
            (None, _) => (None, third),
            (Some(user), None) if !third.is_empty() => (Some(third), user),
            _ => return None,
        };
        if user_id.is_empty() {
            return None;
        }
        let code = match stored_code {
            Some(code) => code::grouped(code),
            None => self.codes.code_of(self.campaign, sequence)?,
        };
        Some(QueuedCoupon {
            sequence,
            claimed_at,
            code,
            user_id: user_id.to_owned(),
        })
    }
}

impl QueuedCoupon {
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

    fn key() -> CodeKey {
        CodeKey::from_bytes(&[3; CodeKey::LEN]).unwrap()
    }

    fn opened() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_000_000_000).unwrap()
    }

    fn parse(entry: &str) -> Option<QueuedCoupon> {
        let key = key();
        let queue = QueueOf {
            campaign: CampaignId(4),
            opened_at: opened(),
            codes: &key,
        };
        queue.parse(entry)
    }

    #[test]
    fn an_entry_written_by_the_claim_script_parses_and_gets_its_sequences_code() {
        let coupon = parse("7\t123\t회원 42").unwrap();
        assert_eq!(coupon.sequence, 7);
        assert_eq!(coupon.claimed_at.timestamp_millis(), 1_764_000_000_123);
        assert_eq!(coupon.code, key().code_of(CampaignId(4), 7).unwrap());
        assert_eq!(coupon.user_id, "회원 42");
    }

    #[test]
    fn an_entry_queued_with_a_random_code_keeps_the_code_its_member_was_told() {
        let coupon = parse("7\t123\tABCDEFGH\tmember").unwrap();
        assert_eq!(coupon.code, "ABCD-EFGH");
        assert_eq!((coupon.sequence, coupon.user_id.as_str()), (7, "member"));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for entry in [
            "",
            "x\t1\tu",
            "1\tx\tu",
            "1\t2",
            "1\t2\t",
            "1\t2\t\tu",
            "1\t2\tc\t",
            "1\t2\tc\tu\tv",
            "0\t2\tu",
            "1\t99999999999999999999\tu",
        ] {
            assert!(parse(entry).is_none(), "{entry:?}");
        }
    }

    #[test]
    fn the_claim_time_counts_from_the_opening_in_whole_milliseconds() {
        let key = key();
        let queue = QueueOf {
            campaign: CampaignId(4),
            opened_at: opened() + chrono::TimeDelta::microseconds(700),
            codes: &key,
        };
        let coupon = queue.parse("1\t5\tu").unwrap();
        assert_eq!(coupon.claimed_at.timestamp_millis(), 1_764_000_000_005);
        assert_eq!(coupon.claimed_at.timestamp_subsec_micros() % 1000, 0);
    }

    #[test]
    fn the_claim_time_is_read_without_parsing_the_rest() {
        let at = QueuedCoupon::claimed_at_of("1\t2500\tu", opened()).unwrap();
        assert_eq!(at.timestamp_millis(), 1_764_000_002_500);
    }
}
