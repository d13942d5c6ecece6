//! The raw input of "create a campaign", and its validation into a [`NewCampaign`].

use super::fields::{
    BotCheckBits, CampaignName, ClaimWindow, Discount, DiscountKind, Quantity, ValidDays,
};
use super::opening::Opening;
use super::order_rules::OrderRules;
use crate::validation::ValidationErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a marketer (or a shop backend) asks for, exactly as sent: nothing is trusted yet.
///
/// The discount kind is plain text so that an unknown kind becomes a field error rather than
/// a deserialisation failure. A field it does not know is refused (a misspelled
/// `min_order_amout` must not silently create a campaign without a minimum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDraft {
    /// Display name.
    pub name: String,
    /// `fixed_amount` or `percentage`.
    pub discount_kind: String,
    /// Won, or percent.
    pub discount_amount: i64,
    /// Number of coupons.
    pub quantity: i64,
    /// Window start.
    pub claim_starts_at: DateTime<Utc>,
    /// Window end.
    pub claim_ends_at: DateTime<Utc>,
    /// Coupon validity after claiming, in days.
    pub valid_days: i64,
    /// Smallest order (won) a coupon applies to; none if absent.
    #[serde(default)]
    pub min_order_amount: Option<i64>,
    /// Cap (won) of a percentage discount; none if absent.
    #[serde(default)]
    pub max_discount_amount: Option<i64>,
    /// `first_come` (when absent) or `fair_draw`; text, so that an unknown one is a field error.
    #[serde(default)]
    pub opening: Option<String>,
    /// With `fair_draw`: when entries open, before `claim_starts_at`.
    #[serde(default)]
    pub entries_open_at: Option<DateTime<Utc>>,
    /// The web's bot check: leading zero bits a solved challenge must have, 0 to 28; absent or
    /// 0 is off (src/bot_check/).
    #[serde(default)]
    pub bot_check_bits: Option<i64>,
}

/// A campaign that passed every rule and can be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    /// Display name.
    pub name: CampaignName,
    /// What the coupon takes off.
    pub discount: Discount,
    /// Number of coupons.
    pub quantity: Quantity,
    /// When claims are accepted.
    pub window: ClaimWindow,
    /// Coupon validity after claiming.
    pub valid_days: ValidDays,
    /// Minimum order and discount cap.
    pub order_rules: OrderRules,
    /// First come, first served, or a fair draw.
    pub opening: Opening,
    /// The web's bot check (0: off).
    pub bot_check_bits: BotCheckBits,
}

impl CampaignDraft {
    /// Checks every field and reports every refusal at once, each naming its field.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<NewCampaign, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.check(CampaignName::parse(&self.name));
        let discount = errors
            .check(DiscountKind::parse(&self.discount_kind))
            .and_then(|kind| errors.check(Discount::parse(kind, self.discount_amount)));
        let quantity = errors.check(Quantity::parse(self.quantity));
        let window = errors.check(ClaimWindow::parse(
            self.claim_starts_at,
            self.claim_ends_at,
            now,
        ));
        let valid_days = errors.check(ValidDays::parse(self.valid_days));
        let opening = errors.check(Opening::parse(
            self.opening.as_deref(),
            self.entries_open_at,
            Some(self.claim_starts_at),
            now,
        ));
        let bot_check_bits = errors.check(BotCheckBits::parse(self.bot_check_bits));
        let kind = DiscountKind::parse(&self.discount_kind).ok();
        let order_rules =
            match OrderRules::parse(kind, self.min_order_amount, self.max_discount_amount) {
                Ok(rules) => Some(rules),
                Err(refusals) => {
                    errors.0.extend(refusals);
                    None
                }
            };
        match (
            name,
            discount,
            quantity,
            window,
            valid_days,
            order_rules,
            opening,
            bot_check_bits,
        ) {
            (
                Some(name),
                Some(discount),
                Some(quantity),
                Some(window),
                Some(valid_days),
                Some(order_rules),
                Some(opening),
                Some(bot_check_bits),
            ) => Ok(NewCampaign {
                name,
                discount,
                quantity,
                window,
                valid_days,
                order_rules,
                opening,
                bot_check_bits,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn valid_draft(now: DateTime<Utc>) -> CampaignDraft {
        CampaignDraft {
            name: "3,000원 할인".into(),
            discount_kind: "fixed_amount".into(),
            discount_amount: 3000,
            quantity: 500,
            claim_starts_at: now,
            claim_ends_at: now + Duration::days(2),
            valid_days: 30,
            min_order_amount: None,
            max_discount_amount: None,
            opening: None,
            entries_open_at: None,
            bot_check_bits: None,
        }
    }

    #[test]
    fn a_valid_draft_becomes_a_new_campaign() {
        let now = Utc::now();
        let campaign = valid_draft(now).validate(now).unwrap();
        assert_eq!(campaign.quantity.get(), 500);
        assert_eq!(campaign.discount.kind, DiscountKind::FixedAmount);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let now = Utc::now();
        let draft = CampaignDraft {
            name: "".into(),
            quantity: 0,
            valid_days: 0,
            claim_ends_at: now - Duration::days(1),
            ..valid_draft(now)
        };
        let errors = draft.validate(now).unwrap_err();
        for field in ["name", "quantity", "valid_days", "claim_ends_at"] {
            assert!(
                errors.for_field(field).is_some(),
                "{field} missing in {errors}"
            );
        }
        assert!(errors.for_field("discount_amount").is_none());
    }

    #[test]
    fn a_fair_draw_whose_entries_open_at_the_start_is_refused_by_field() {
        let now = Utc::now();
        let starts = now + Duration::hours(1);
        let draft = CampaignDraft {
            opening: Some("fair_draw".into()),
            entries_open_at: Some(starts),
            claim_starts_at: starts,
            ..valid_draft(now)
        };
        let errors = draft.validate(now).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].field, "entries_open_at");
        let draft = CampaignDraft {
            entries_open_at: Some(starts - Duration::minutes(5)),
            ..draft
        };
        let valid = draft.validate(now).unwrap();
        assert!(matches!(valid.opening, Opening::FairDraw { .. }));
    }

    #[test]
    fn a_bot_check_out_of_range_is_refused_by_field_and_absent_is_off() {
        let now = Utc::now();
        let off = valid_draft(now).validate(now).unwrap();
        assert_eq!(off.bot_check_bits.get(), 0);
        let on = CampaignDraft {
            bot_check_bits: Some(20),
            ..valid_draft(now)
        };
        assert_eq!(on.validate(now).unwrap().bot_check_bits.get(), 20);
        let draft = CampaignDraft {
            bot_check_bits: Some(29),
            ..valid_draft(now)
        };
        let errors = draft.validate(now).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].field, "bot_check_bits");
    }

    #[test]
    fn an_unknown_kind_does_not_also_blame_the_amount() {
        let now = Utc::now();
        let draft = CampaignDraft {
            discount_kind: "bogus".into(),
            ..valid_draft(now)
        };
        let errors = draft.validate(now).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].field, "discount_kind");
    }
}
