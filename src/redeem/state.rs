//! A recorded coupon's state at checkout, as PostgreSQL's clock sees it.

use super::terms::CouponTerms;
use crate::campaign::{Discount, DiscountKind, OrderRules};
use crate::store::redemptions::CouponRow;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where a coupon is in its life at checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    /// Can be held or redeemed.
    Available,
    /// Reserved for an order whose payment is pending, until its hold ends.
    Held,
    /// Used on an order.
    Redeemed,
    /// Past its validity, never redeemed.
    Expired,
}

impl CouponState {
    /// The state's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Redeemed => "redeemed",
            Self::Expired => "expired",
        }
    }
}

/// A coupon as `GET /api/v1/coupons/{code}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponView {
    pub code: String,
    pub campaign_id: i64,
    pub user_id: String,
    pub claimed_at: DateTime<Utc>,
    /// `claimed_at` plus the campaign's `valid_days`: usable until just before this instant.
    pub expires_at: DateTime<Utc>,
    pub state: CouponState,
    /// The order holding it or that redeemed it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub discount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hold_expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// When a coupon claimed at `claimed_at` stops being usable: a fixed span after the claim,
/// whatever the time zone (a claim at 23:30 KST with one day is usable until 23:30 KST the
/// next day, not until midnight).
pub fn expires_at(claimed_at: DateTime<Utc>, valid_days: i32) -> DateTime<Utc> {
    claimed_at + Duration::days(i64::from(valid_days))
}

/// A recorded coupon with its campaign's terms for using it.
pub(super) struct Recorded {
    pub row: CouponRow,
    pub terms: CouponTerms,
}

impl TryFrom<CouponRow> for Recorded {
    type Error = sqlx::Error;

    // The table's CHECK constraint admits only known kinds: anything else means the schema and
    // the code disagree, a decoding error.
    fn try_from(row: CouponRow) -> Result<Self, Self::Error> {
        let kind = DiscountKind::parse(&row.discount_kind)
            .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        let terms = CouponTerms {
            discount: Discount {
                kind,
                amount: row.discount_amount,
            },
            order_rules: OrderRules {
                min_order_amount: row.min_order_amount,
                max_discount_amount: row.max_discount_amount,
            },
            valid_days: row.valid_days,
        };
        Ok(Self { row, terms })
    }
}

impl Recorded {
    pub fn expires_at(&self) -> DateTime<Utc> {
        expires_at(self.row.claimed_at, self.terms.valid_days)
    }

    /// The end of a live hold.
    pub fn live_hold(&self) -> Option<DateTime<Utc>> {
        self.row.held_until.filter(|until| *until > self.row.now)
    }

    pub fn is_expired(&self) -> bool {
        self.expires_at() <= self.row.now
    }

    pub fn state(&self) -> CouponState {
        if self.row.redeemed_at.is_some() {
            CouponState::Redeemed
        } else if self.live_hold().is_some() {
            CouponState::Held
        } else if self.is_expired() {
            CouponState::Expired
        } else {
            CouponState::Available
        }
    }

    pub fn view(&self) -> CouponView {
        let state = self.state();
        let with_order = matches!(state, CouponState::Held | CouponState::Redeemed);
        let row = &self.row;
        CouponView {
            code: row.code.clone(),
            campaign_id: row.campaign_id,
            user_id: row.user_id.clone(),
            claimed_at: row.claimed_at,
            expires_at: self.expires_at(),
            state,
            order_id: row.order_id.clone().filter(|_| with_order),
            order_amount: row.order_amount.filter(|_| with_order),
            discount: row.discount.filter(|_| with_order),
            hold_expires_at: self.live_hold(),
            redeemed_at: row.redeemed_at,
        }
    }
}
