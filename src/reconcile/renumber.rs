//! Renumbering a queued coupon whose number the record holds for another member.
//!
//! Only a state behind the record hands out such numbers: claims Redis answered from an older
//! copy (restored from an older append-only file, a replica that was behind, a failback) before
//! the copy was found out. The sync meets them when it records the queue (src/sync/drainer.rs
//! asks before each commit), gives them numbers above every reserved one (`reservations.rs`),
//! and then has the state verified (`load.rs`), which repairs what handed them out.

use super::reservations;
use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::metrics;
use crate::store::coupons;
use crate::sync::QueuedCoupon;
use sqlx::{Postgres, Transaction};

impl Engine {
    /// Gives a new number (and so a new code) to each coupon of the batch whose number the
    /// record already holds for another member; returns how many. Such coupons come from claims
    /// Redis answered from a state behind the record (restored from an older copy before it was
    /// detected): recording them as they are would clash on the unique sequence on every retry
    /// and stop the campaign's sync for good. Their members keep their coupon (the lookup shows
    /// the new code); the old number stays with the member the record gave it to.
    ///
    /// Costs nothing while the batch is new to the record (its first number is above
    /// `highest`, the highest known recorded); a replay after a crash reads who holds its
    /// numbers once. If `highest` was behind the record (another instance recorded meanwhile),
    /// a clash fails the commit, which makes the drainer read the record's highest again.
    pub(crate) async fn renumber_clashes(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        campaign: CampaignId,
        highest: i64,
        coupons: &mut [QueuedCoupon],
    ) -> Result<usize, EngineError> {
        if coupons.first().is_none_or(|first| first.sequence > highest) {
            return Ok(0);
        }
        let clashing = coupons::numbered_for_others(tx, campaign, coupons).await?;
        if clashing.is_empty() {
            return Ok(0);
        }
        let count = i64::try_from(clashing.len()).unwrap_or(i64::MAX);
        let after = reservations::reserve(self.reservations(), campaign, highest, count).await?;
        for (offset, &i) in (1..).zip(&clashing) {
            let coupon = &mut coupons[i];
            let sequence = after + offset;
            tracing::error!(
                %campaign,
                user = %coupon.user_id,
                told = coupon.sequence,
                now = sequence,
                "a queued coupon's number is recorded for another member: renumbered"
            );
            coupon.sequence = sequence;
            coupon.code = self.codes().code_of(campaign, sequence).ok_or_else(|| {
                EngineError::CorruptState {
                    campaign,
                    detail: format!("sequence {sequence} is beyond what a code can carry"),
                }
            })?;
        }
        metrics::renumbered(clashing.len());
        Ok(clashing.len())
    }
}
