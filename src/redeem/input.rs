//! What a checkout sends, exactly as sent, and its validation: every refusal names its field.

use crate::campaign::MAX_ORDER_WON;
use crate::user::UserId;
use crate::validation::{FieldError, ValidationErrors, check_identifier};
use serde::Deserialize;

/// Longest order id, in characters (matches the database constraint).
pub const ORDER_ID_MAX_CHARS: usize = 128;
/// How long a hold lasts unless the checkout asks otherwise: a payment's usual time.
pub const DEFAULT_HOLD_SECONDS: i64 = 15 * 60;
/// Longest hold: a day (a payment pending longer should release and hold again).
pub const MAX_HOLD_SECONDS: i64 = 24 * 60 * 60;

/// `POST …/validate`: would the coupon apply to this order?
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub order_amount: i64,
    #[serde(default)]
    pub user_id: Option<String>,
    /// The order asking, so that its own hold does not count against it.
    #[serde(default)]
    pub order_id: Option<String>,
}

/// `POST …/holds`: reserve the coupon for an order whose payment is pending.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub order_id: String,
    pub order_amount: i64,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub hold_seconds: Option<i64>,
}

/// `POST …/redemptions`: use the coupon on an order (the order id is the idempotency key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    pub order_id: String,
    pub order_amount: i64,
    #[serde(default)]
    pub user_id: Option<String>,
}

/// A validated order: who asks, for which order, of what amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: Option<String>,
    pub order_amount: i64,
    pub user: Option<UserId>,
}

impl Order {
    /// Checks the fields every checkout call shares, reporting each refused one.
    fn parse(
        order_id: Option<&str>,
        order_amount: i64,
        user_id: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let order_id = order_id.map(|raw| errors.check(parse_order_id(raw)));
        let amount = errors.check(parse_amount(order_amount));
        let user = user_id.map(|raw| errors.check(UserId::parse(raw)));
        match (if_valid(order_id), amount, if_valid(user)) {
            (Some(order_id), Some(order_amount), Some(user)) if errors.is_empty() => Ok(Self {
                order_id,
                order_amount,
                user,
            }),
            _ => Err(errors),
        }
    }

    /// The order id of an order that must have one.
    pub fn id(&self) -> &str {
        self.order_id.as_deref().unwrap_or_default()
    }
}

impl ValidateRequest {
    /// Checks every field.
    pub fn parse(&self) -> Result<Order, ValidationErrors> {
        Order::parse(
            self.order_id.as_deref(),
            self.order_amount,
            self.user_id.as_deref(),
        )
    }
}

impl HoldRequest {
    /// Checks every field; the order and the hold's length in seconds.
    pub fn parse(&self) -> Result<(Order, i64), ValidationErrors> {
        let order = Order::parse(
            Some(&self.order_id),
            self.order_amount,
            self.user_id.as_deref(),
        );
        let seconds = self.hold_seconds.unwrap_or(DEFAULT_HOLD_SECONDS);
        let seconds = if (1..=MAX_HOLD_SECONDS).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(FieldError::new(
                "hold_seconds",
                format!("must be between 1 and {MAX_HOLD_SECONDS} seconds"),
            ))
        };
        match (order, seconds) {
            (Ok(order), Ok(seconds)) => Ok((order, seconds)),
            (order, seconds) => {
                let mut errors = order.err().unwrap_or_default();
                errors.0.extend(seconds.err());
                Err(errors)
            }
        }
    }
}

impl RedeemRequest {
    /// Checks every field.
    pub fn parse(&self) -> Result<Order, ValidationErrors> {
        Order::parse(
            Some(&self.order_id),
            self.order_amount,
            self.user_id.as_deref(),
        )
    }
}

/// An order id from the shop: 1–128 characters, no control characters, no surrounding spaces.
pub fn parse_order_id(raw: &str) -> Result<String, FieldError> {
    check_identifier("order_id", raw, ORDER_ID_MAX_CHARS)?;
    Ok(raw.to_owned())
}

/// An optional field: absent (`Some(None)`), valid (`Some(Some(value))`), or refused (`None`).
fn if_valid<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        None => Some(None),
        Some(checked) => checked.map(Some),
    }
}

fn parse_amount(amount: i64) -> Result<i64, FieldError> {
    if (0..=MAX_ORDER_WON).contains(&amount) {
        Ok(amount)
    } else {
        Err(FieldError::new(
            "order_amount",
            format!("must be between 0 and {MAX_ORDER_WON} won"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_bad_field_is_named() {
        let hold = HoldRequest {
            order_id: " ".into(),
            order_amount: -1,
            user_id: Some("".into()),
            hold_seconds: Some(0),
        };
        assert_eq!(
            fields(hold.parse().unwrap_err()),
            ["order_id", "order_amount", "user_id", "hold_seconds"]
        );
        let redeem = RedeemRequest {
            order_id: "o\u{200b}1".into(),
            order_amount: MAX_ORDER_WON + 1,
            user_id: None,
        };
        assert_eq!(
            fields(redeem.parse().unwrap_err()),
            ["order_id", "order_amount"]
        );
    }

    #[test]
    fn a_hold_lasts_fifteen_minutes_unless_asked() {
        let hold = HoldRequest {
            order_id: "order-1".into(),
            order_amount: 25_000,
            user_id: None,
            hold_seconds: None,
        };
        let (order, seconds) = hold.parse().unwrap();
        assert_eq!(seconds, DEFAULT_HOLD_SECONDS);
        assert_eq!(order.id(), "order-1");
    }
}
