//! One validated type per campaign field; each `parse` names the field and the rule it broke.

use crate::validation::{FieldError, has_control_chars};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// Longest campaign name, in characters (matches the database constraint).
pub const NAME_MAX_CHARS: usize = 100;
/// Largest fixed discount, in won: a typo guard, not a business rule.
pub const MAX_DISCOUNT_WON: i64 = 10_000_000;
/// Largest campaign: bounds the Redis memory one campaign can take (docs/benchmark.md, line 6).
pub const MAX_QUANTITY: i64 = 10_000_000;
/// Longest coupon validity: ten years.
pub const MAX_VALID_DAYS: i64 = 3650;
/// Earliest year a claim window may start or end in (UTC). An earlier date is a typo or a
/// probe, and chrono parses years PostgreSQL's `timestamptz` cannot store (it begins in 4713 BC):
/// such a campaign used to fail at the insert, answered as "database unavailable".
pub const FIRST_CLAIM_YEAR: i32 = 1970;
/// Most leading zero bits a campaign's bot check may require: 2^28 hashes, minutes on a phone
/// (src/bot_check/).
pub const MAX_BOT_CHECK_BITS: i64 = 28;
/// Latest year a claim window may start or end in (UTC): the last that RFC 3339's four-digit
/// years can write, far inside `timestamptz` (294276 AD) even with [`MAX_VALID_DAYS`] of coupon
/// validity added.
pub const LAST_CLAIM_YEAR: i32 = 9999;

/// A campaign's display name: 1–100 characters, trimmed, in NFC, no control characters and no
/// invisible formatting characters (see `crate::text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignName(String);

impl CampaignName {
    /// Trims surrounding whitespace and composes it (NFC), then checks length and characters.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = crate::text::nfc(raw.trim());
        let name = name.as_str();
        if name.is_empty() {
            return Err(FieldError::new("name", "must not be empty"));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::new(
                "name",
                format!("must be at most {NAME_MAX_CHARS} characters"),
            ));
        }
        if has_control_chars(name) {
            return Err(FieldError::new(
                "name",
                "must not contain control characters",
            ));
        }
        crate::text::refuse_invisible("name", name)?;
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How the discount is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// A fixed number of won off.
    FixedAmount,
    /// A percentage off.
    Percentage,
}

impl DiscountKind {
    /// The name used in the API and in PostgreSQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FixedAmount => "fixed_amount",
            Self::Percentage => "percentage",
        }
    }

    /// Accepts `fixed_amount` or `percentage`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "fixed_amount" => Ok(Self::FixedAmount),
            "percentage" => Ok(Self::Percentage),
            _ => Err(FieldError::new(
                "discount_kind",
                "must be \"fixed_amount\" or \"percentage\"",
            )),
        }
    }
}

/// What a coupon takes off: won for a fixed amount, percent for a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    /// Fixed amount or percentage.
    pub kind: DiscountKind,
    /// Won, or percent.
    pub amount: i64,
}

impl Discount {
    /// Checks the amount against the kind: 1–10,000,000 won, or 1–100 percent.
    pub fn parse(kind: DiscountKind, amount: i64) -> Result<Self, FieldError> {
        let field = "discount_amount";
        if amount < 1 {
            return Err(FieldError::new(field, "must be at least 1"));
        }
        let (max, unit) = match kind {
            DiscountKind::FixedAmount => (MAX_DISCOUNT_WON, "won"),
            DiscountKind::Percentage => (100, "percent"),
        };
        if amount > max {
            return Err(FieldError::new(
                field,
                format!(
                    "must be at most {max} {unit} for a {} discount",
                    kind.as_str()
                ),
            ));
        }
        Ok(Self { kind, amount })
    }
}

/// How many coupons a campaign holds: 1–10,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    /// Checks the range.
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        if raw < 1 {
            return Err(FieldError::new("quantity", "must be at least 1"));
        }
        if raw > MAX_QUANTITY {
            return Err(FieldError::new(
                "quantity",
                format!("must be at most {MAX_QUANTITY}"),
            ));
        }
        Ok(Self(raw))
    }

    /// The number of coupons.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// Days an issued coupon stays usable: 1–3650.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidDays(i32);

impl ValidDays {
    /// Checks the range.
    pub fn parse(raw: i64) -> Result<Self, FieldError> {
        if raw < 1 {
            return Err(FieldError::new("valid_days", "must be at least 1"));
        }
        if raw > MAX_VALID_DAYS {
            return Err(FieldError::new(
                "valid_days",
                format!("must be at most {MAX_VALID_DAYS}"),
            ));
        }
        // In range, so it fits: MAX_VALID_DAYS < i32::MAX.
        Ok(Self(raw as i32))
    }

    /// The number of days.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// How hard the bot check of the web's claims and entries is: the leading zero bits a solved
/// challenge's SHA-256 must have, 0 (off, the default) to [`MAX_BOT_CHECK_BITS`]
/// (src/bot_check/).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BotCheckBits(u8);

impl BotCheckBits {
    /// Checks the range; absent is 0, off.
    pub fn parse(raw: Option<i64>) -> Result<Self, FieldError> {
        let raw = raw.unwrap_or(0);
        if raw < 0 {
            return Err(FieldError::new("bot_check_bits", "must be at least 0"));
        }
        if raw > MAX_BOT_CHECK_BITS {
            return Err(FieldError::new(
                "bot_check_bits",
                format!("must be at most {MAX_BOT_CHECK_BITS}"),
            ));
        }
        // In range, so it fits: MAX_BOT_CHECK_BITS < u8::MAX.
        Ok(Self(raw as u8))
    }

    /// The number of bits; 0 is off.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// When claims are accepted: from `starts_at` (inclusive) to `ends_at` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimWindow {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl ClaimWindow {
    /// The end must come after the start and after `now` (a campaign that is already over
    /// could never issue anything). The start may be in the past: the campaign opens at once.
    pub fn parse(
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        storable("claim_starts_at", starts_at)?;
        storable("claim_ends_at", ends_at)?;
        if ends_at <= starts_at {
            return Err(FieldError::new(
                "claim_ends_at",
                "must be after claim_starts_at",
            ));
        }
        if ends_at <= now {
            return Err(FieldError::new("claim_ends_at", "must be in the future"));
        }
        Ok(Self { starts_at, ends_at })
    }

    /// First instant claims are accepted.
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }

    /// First instant claims are no longer accepted.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }
}

/// Refuses an instant outside [`FIRST_CLAIM_YEAR`]..=[`LAST_CLAIM_YEAR`], naming `field`.
pub(super) fn storable(field: &str, at: DateTime<Utc>) -> Result<(), FieldError> {
    if (FIRST_CLAIM_YEAR..=LAST_CLAIM_YEAR).contains(&at.year()) {
        return Ok(());
    }
    Err(FieldError::new(
        field,
        format!("must be in the years {FIRST_CLAIM_YEAR} to {LAST_CLAIM_YEAR} (UTC)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            CampaignName::parse("  봄 세일 ").unwrap().as_str(),
            "봄 세일"
        );
    }

    #[test]
    fn a_blank_name_is_refused() {
        let err = CampaignName::parse(" \u{3000} ").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.reason.as_str()),
            ("name", "must not be empty")
        );
    }

    #[test]
    fn a_name_of_101_characters_is_refused() {
        assert!(CampaignName::parse(&"쿠".repeat(100)).is_ok());
        assert!(
            CampaignName::parse(&"쿠".repeat(101))
                .unwrap_err()
                .reason
                .contains("100")
        );
    }

    #[test]
    fn a_name_with_a_newline_inside_is_refused() {
        assert!(
            CampaignName::parse("a\nb")
                .unwrap_err()
                .reason
                .contains("control")
        );
    }

    #[test]
    fn an_unknown_discount_kind_is_refused() {
        let err = DiscountKind::parse("free_lunch").unwrap_err();
        assert_eq!(err.field, "discount_kind");
    }

    #[test]
    fn a_percentage_over_100_is_refused_and_100_accepted() {
        assert!(Discount::parse(DiscountKind::Percentage, 100).is_ok());
        let err = Discount::parse(DiscountKind::Percentage, 101).unwrap_err();
        assert_eq!(err.field, "discount_amount");
        assert!(err.reason.contains("100 percent"), "{}", err.reason);
    }

    #[test]
    fn a_fixed_amount_may_exceed_100_but_not_the_typo_guard() {
        assert!(Discount::parse(DiscountKind::FixedAmount, 3000).is_ok());
        assert!(Discount::parse(DiscountKind::FixedAmount, MAX_DISCOUNT_WON + 1).is_err());
    }

    #[test]
    fn zero_and_negative_amounts_are_refused() {
        for amount in [0, -5] {
            let err = Discount::parse(DiscountKind::FixedAmount, amount).unwrap_err();
            assert_eq!(err.reason, "must be at least 1");
        }
    }

    #[test]
    fn quantity_must_be_between_1_and_the_maximum() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-1).is_err());
        assert!(Quantity::parse(MAX_QUANTITY + 1).is_err());
        assert_eq!(Quantity::parse(500).unwrap().get(), 500);
    }

    #[test]
    fn valid_days_must_be_between_1_and_3650() {
        assert!(ValidDays::parse(0).is_err());
        assert!(ValidDays::parse(3651).is_err());
        assert!(ValidDays::parse(i64::MAX).is_err());
        assert_eq!(ValidDays::parse(30).unwrap().get(), 30);
    }

    #[test]
    fn bot_check_bits_are_off_by_default_and_at_most_the_maximum() {
        assert_eq!(BotCheckBits::parse(None).unwrap().get(), 0);
        assert_eq!(BotCheckBits::parse(Some(0)).unwrap().get(), 0);
        assert_eq!(BotCheckBits::parse(Some(20)).unwrap().get(), 20);
        assert_eq!(
            BotCheckBits::parse(Some(MAX_BOT_CHECK_BITS)).unwrap().get(),
            28
        );
        for raw in [-1, MAX_BOT_CHECK_BITS + 1, i64::MAX] {
            let err = BotCheckBits::parse(Some(raw)).unwrap_err();
            assert_eq!(err.field, "bot_check_bits", "{raw}");
        }
        assert_eq!(
            BotCheckBits::parse(Some(29)).unwrap_err().reason,
            "must be at most 28"
        );
    }

    #[test]
    fn a_reversed_or_empty_window_is_refused() {
        let now = Utc::now();
        let later = now + Duration::hours(1);
        let err = ClaimWindow::parse(later, now + Duration::minutes(1), now).unwrap_err();
        assert_eq!(err.field, "claim_ends_at");
        assert!(ClaimWindow::parse(later, later, now).is_err());
    }

    #[test]
    fn a_window_already_over_is_refused() {
        let now = Utc::now();
        let err =
            ClaimWindow::parse(now - Duration::days(2), now - Duration::days(1), now).unwrap_err();
        assert_eq!(err.reason, "must be in the future");
    }

    #[test]
    fn a_window_that_started_in_the_past_is_accepted() {
        let now = Utc::now();
        assert!(ClaimWindow::parse(now - Duration::days(1), now + Duration::days(1), now).is_ok());
    }

    #[test]
    fn dates_outside_the_storable_years_are_refused_by_name() {
        let now = Utc::now();
        let at = |raw: &str| raw.parse::<DateTime<Utc>>().unwrap();
        let too_early =
            ClaimWindow::parse(at("-10000-01-01T00:00:00Z"), now + Duration::days(1), now)
                .unwrap_err();
        assert_eq!(too_early.field, "claim_starts_at");
        assert!(too_early.reason.contains("1970"), "{}", too_early.reason);
        let too_late = ClaimWindow::parse(now, at("+10000-01-01T00:00:00Z"), now).unwrap_err();
        assert_eq!(too_late.field, "claim_ends_at");
        assert!(
            ClaimWindow::parse(at("1970-01-01T00:00:00Z"), at("9999-12-31T23:59:59Z"), now).is_ok(),
            "the bounds themselves are accepted"
        );
    }
}
