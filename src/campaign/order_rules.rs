//! What an order must be for a campaign's coupon to apply, and what the coupon takes off it.

use super::fields::{Discount, DiscountKind, MAX_DISCOUNT_WON};
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};

/// Largest order amount the engine accepts, in won: a typo guard, not a business rule.
pub const MAX_ORDER_WON: i64 = 100_000_000_000;

/// A campaign's optional rules for using its coupons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderRules {
    /// Smallest order (won) the coupon applies to.
    pub min_order_amount: Option<i64>,
    /// Largest discount (won) a percentage coupon grants.
    pub max_discount_amount: Option<i64>,
}

impl OrderRules {
    /// Checks both rules against the discount's kind; each error names its field.
    pub fn parse(
        kind: Option<DiscountKind>,
        min_order_amount: Option<i64>,
        max_discount_amount: Option<i64>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(min) = min_order_amount
            && !(0..=MAX_ORDER_WON).contains(&min)
        {
            errors.push(FieldError::new(
                "min_order_amount",
                format!("must be between 0 and {MAX_ORDER_WON} won"),
            ));
        }
        if let Some(cap) = max_discount_amount {
            if kind == Some(DiscountKind::FixedAmount) {
                errors.push(FieldError::new(
                    "max_discount_amount",
                    "applies only to percentage discounts (a fixed amount is its own cap)",
                ));
            } else if !(1..=MAX_DISCOUNT_WON).contains(&cap) {
                errors.push(FieldError::new(
                    "max_discount_amount",
                    format!("must be between 1 and {MAX_DISCOUNT_WON} won"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self {
                min_order_amount,
                max_discount_amount,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether an order of `order_amount` won is too small for the coupon.
    pub fn is_below_minimum(&self, order_amount: i64) -> bool {
        self.min_order_amount.is_some_and(|min| order_amount < min)
    }

    /// What `discount` takes off an order of `order_amount` won: a fixed amount, never more than
    /// the order; a percentage rounded down to the won, capped by `max_discount_amount`.
    pub fn discount_on(&self, discount: Discount, order_amount: i64) -> i64 {
        let order = order_amount.max(0);
        match discount.kind {
            DiscountKind::FixedAmount => discount.amount.min(order),
            DiscountKind::Percentage => {
                let share = i128::from(order) * i128::from(discount.amount) / 100;
                let share = i64::try_from(share).unwrap_or(i64::MAX);
                self.max_discount_amount.map_or(share, |cap| share.min(cap))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXED_3000: Discount = Discount {
        kind: DiscountKind::FixedAmount,
        amount: 3000,
    };
    const PERCENT_15: Discount = Discount {
        kind: DiscountKind::Percentage,
        amount: 15,
    };

    #[test]
    fn a_fixed_discount_never_exceeds_the_order() {
        let rules = OrderRules::default();
        assert_eq!(rules.discount_on(FIXED_3000, 25_000), 3000);
        assert_eq!(rules.discount_on(FIXED_3000, 2_000), 2000);
        assert_eq!(rules.discount_on(FIXED_3000, 0), 0);
    }

    #[test]
    fn a_percentage_is_rounded_down_to_the_won_and_capped() {
        let uncapped = OrderRules::default();
        assert_eq!(uncapped.discount_on(PERCENT_15, 10_001), 1500);
        assert_eq!(uncapped.discount_on(PERCENT_15, 99), 14);
        let capped = OrderRules {
            max_discount_amount: Some(5000),
            ..OrderRules::default()
        };
        assert_eq!(capped.discount_on(PERCENT_15, 30_000), 4500);
        assert_eq!(capped.discount_on(PERCENT_15, 40_000), 5000);
        assert_eq!(capped.discount_on(PERCENT_15, MAX_ORDER_WON), 5000);
    }

    #[test]
    fn the_minimum_is_inclusive() {
        let rules = OrderRules {
            min_order_amount: Some(20_000),
            ..OrderRules::default()
        };
        assert!(rules.is_below_minimum(19_999));
        assert!(!rules.is_below_minimum(20_000));
        assert!(!OrderRules::default().is_below_minimum(0));
    }

    #[test]
    fn bad_rules_are_refused_by_field() {
        let fixed = Some(DiscountKind::FixedAmount);
        let percent = Some(DiscountKind::Percentage);
        let field_of = |result: Result<OrderRules, Vec<FieldError>>| {
            result
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            field_of(OrderRules::parse(fixed, None, Some(100))),
            ["max_discount_amount"]
        );
        assert_eq!(
            field_of(OrderRules::parse(percent, Some(-1), Some(0))),
            ["min_order_amount", "max_discount_amount"]
        );
        assert!(OrderRules::parse(percent, Some(0), Some(1)).is_ok());
        assert!(OrderRules::parse(fixed, Some(50_000), None).is_ok());
    }
}
