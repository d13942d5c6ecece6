//! A campaign's terms for using its coupons, and the engine's memory of them.
//!
//! The terms (discount, minimum order, cap, validity) never change once a campaign exists, so a
//! checkout that has read them once writes a redemption in one statement, without first reading
//! the coupon and its campaign again (the row's own state is checked by that statement).

use crate::campaign::{CampaignId, Discount, OrderRules};
use std::collections::HashMap;
use std::sync::Mutex;

/// What a campaign's coupons take off, when they apply, and how long they are usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CouponTerms {
    pub discount: Discount,
    pub order_rules: OrderRules,
    pub valid_days: i32,
}

impl CouponTerms {
    /// What a coupon takes off an order of `order_amount` won.
    pub fn discount_on(&self, order_amount: i64) -> i64 {
        self.order_rules.discount_on(self.discount, order_amount)
    }
}

/// Campaigns held in memory at most; past it the memory starts over (a read each refills it).
const MOST_REMEMBERED: usize = 10_000;

/// The terms of the campaigns this engine's checkouts have read.
#[derive(Default)]
pub(crate) struct KnownTerms(Mutex<HashMap<CampaignId, CouponTerms>>);

impl KnownTerms {
    pub fn get(&self, campaign: CampaignId) -> Option<CouponTerms> {
        self.lock().get(&campaign).copied()
    }

    pub fn remember(&self, campaign: CampaignId, terms: CouponTerms) {
        let mut known = self.lock();
        if known.len() >= MOST_REMEMBERED && !known.contains_key(&campaign) {
            known.clear();
        }
        known.insert(campaign, terms);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CampaignId, CouponTerms>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
