//! The marketer's coupon search: one coupon by its code, or a member's coupons, each with its
//! state and history.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A coupon as the search shows it. Instants as milliseconds (see `types`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundCoupon {
    pub code: String,
    pub campaign_id: i64,
    pub user_id: String,
    /// `available`, `held`, `redeemed` or `expired`.
    pub state: String,
    pub claimed_at_ms: i64,
    pub expires_at_ms: i64,
    pub order_id: Option<String>,
    pub history: Vec<HistoryLine>,
}

/// One hold, redemption or release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryLine {
    /// `held`, `redeemed` or `released`.
    pub kind: String,
    pub order_id: String,
    pub order_amount: Option<i64>,
    pub discount: Option<i64>,
    pub at_ms: i64,
}

/// Most coupons one member search lists.
#[cfg(feature = "ssr")]
const MOST_FOUND: i64 = 50;

/// The coupon with this code, or the coupons of the member with this id.
#[server(endpoint = "find_coupons")]
pub async fn find_coupons(query: String) -> Result<Vec<FoundCoupon>, ServerFnError> {
    use crate::backend::{engine, session::require_admin, unavailable};
    require_admin().await?;
    let engine = engine()?;
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    // Text shaped like a code is a code first; a member id may look like one too, so when no
    // coupon has that code it is searched as a member id.
    let mut found: Vec<_> = if coupon::code::canonical(query).is_some() {
        engine
            .coupon_with_history(query)
            .await
            .map_err(unavailable)?
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    if found.is_empty()
        && let Ok(member) = coupon::UserId::parse(query)
    {
        found = engine
            .coupons_of_member(&member, MOST_FOUND)
            .await
            .map_err(unavailable)?;
    }
    Ok(found.into_iter().map(found_coupon).collect())
}

#[cfg(feature = "ssr")]
fn found_coupon(
    (coupon, history): (coupon::redeem::CouponView, Vec<coupon::redeem::CouponEvent>),
) -> FoundCoupon {
    FoundCoupon {
        code: coupon.code,
        campaign_id: coupon.campaign_id,
        user_id: coupon.user_id,
        state: coupon.state.as_str().to_owned(),
        claimed_at_ms: coupon.claimed_at.timestamp_millis(),
        expires_at_ms: coupon.expires_at.timestamp_millis(),
        order_id: coupon.order_id,
        history: history
            .into_iter()
            .map(|event| HistoryLine {
                kind: event.kind,
                order_id: event.order_id,
                order_amount: event.order_amount,
                discount: event.discount,
                at_ms: event.at.timestamp_millis(),
            })
            .collect(),
    }
}
