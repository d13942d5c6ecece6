//! Redemption at checkout: a shop's checkout validates a code against an order, holds it while
//! the payment is pending, redeems it exactly once, and releases it when the order is cancelled.
//!
//! The record (PostgreSQL) decides: each change is one conditional statement on the coupon's
//! row, so any number of concurrent or repeated calls leave one outcome, and the order id makes
//! a repeated call answer as the first did. A coupon claimed a moment ago and still queued in
//! Redis is recorded on the spot (as the sync would), so a checkout never waits for the sync.

mod checkout;
mod finding;
mod input;
mod state;
mod terms;

pub(crate) use terms::KnownTerms;

pub use crate::store::redemptions::CouponEvent;
pub use checkout::{Checkout, Hold, Redemption, Refusal, Release, Valid};
pub use input::{
    DEFAULT_HOLD_SECONDS, HoldRequest, MAX_HOLD_SECONDS, ORDER_ID_MAX_CHARS, Order, RedeemRequest,
    ValidateRequest,
};
pub use state::{CouponState, CouponView, expires_at};
