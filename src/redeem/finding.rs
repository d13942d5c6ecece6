//! Finding the coupon a checkout names by its code: in the record, or still queued in Redis
//! (then recorded on the spot).

use super::state::Recorded;
use super::{CouponEvent, CouponView};
use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::{campaigns, redemptions};
use crate::sync::QueueOf;
use crate::validation::{FieldError, ValidationErrors};

impl Engine {
    /// The coupon with this code, with its state; `None` if no coupon has it. Text that is not
    /// a code at all is refused by field (`code`).
    pub async fn coupon_by_code(&self, code: &str) -> Result<Option<CouponView>, EngineError> {
        Ok(self.recorded_coupon(code).await?.map(|found| found.view()))
    }

    /// The coupon with this code and its history (holds, redemptions, releases), oldest first.
    pub async fn coupon_with_history(
        &self,
        code: &str,
    ) -> Result<Option<(CouponView, Vec<CouponEvent>)>, EngineError> {
        let Some(found) = self.recorded_coupon(code).await? else {
            return Ok(None);
        };
        let history = redemptions::history(
            self.db(),
            CampaignId(found.row.campaign_id),
            found.row.sequence,
        )
        .await?;
        Ok(Some((found.view(), history)))
    }

    /// The recorded coupons `user` holds (newest campaign first, at most `limit`) with their
    /// histories, for the marketer's coupon search.
    pub async fn coupons_of_member(
        &self,
        user: &crate::UserId,
        limit: i64,
    ) -> Result<Vec<(CouponView, Vec<CouponEvent>)>, EngineError> {
        let rows = redemptions::of_member(self.db(), user.as_str(), limit).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let coupon = Recorded::try_from(row)?;
            let campaign = CampaignId(coupon.row.campaign_id);
            let history = redemptions::history(self.db(), campaign, coupon.row.sequence).await?;
            found.push((coupon.view(), history));
        }
        Ok(found)
    }

    /// The recorded coupon with this code. A derived code leads to its row by (campaign,
    /// sequence), a coupon still waiting in the Redis queue being recorded first; a random code
    /// from an older release is found by its text.
    pub(super) async fn recorded_coupon(
        &self,
        code: &str,
    ) -> Result<Option<Recorded>, EngineError> {
        let canonical = crate::code::canonical(code).ok_or_else(|| {
            ValidationErrors(vec![FieldError::new(
                "code",
                "is not a coupon code: sixteen letters and digits, like 7K3M-Q9ZD-T2XH-B8NC",
            )])
        })?;
        if let Some((campaign, sequence)) = self.codes().locate(&canonical) {
            if let Some(found) = self.recorded_at(campaign, sequence, &canonical).await? {
                return Ok(Some(found));
            }
            // Still queued: recorded now, as the sync would. Not queued either: the sync may
            // have moved it between the two reads, so the record is asked again.
            self.record_if_queued(campaign, sequence, &canonical)
                .await?;
            if let Some(found) = self.recorded_at(campaign, sequence, &canonical).await? {
                return Ok(Some(found));
            }
        }
        let older = redemptions::find_random_code(self.db(), &canonical).await?;
        Ok(older.map(Recorded::try_from).transpose()?)
    }

    async fn recorded_at(
        &self,
        campaign: CampaignId,
        sequence: i64,
        code: &str,
    ) -> Result<Option<Recorded>, EngineError> {
        match redemptions::find(self.db(), campaign, sequence).await? {
            Some(row) if row.code == code => {
                let found = Recorded::try_from(row)?;
                self.coupon_terms().remember(campaign, found.terms);
                Ok(Some(found))
            }
            _ => Ok(None),
        }
    }

    /// Records the coupon numbered `sequence` if it waits in the campaign's Redis queue under
    /// this code, in the state the record was last verified on.
    async fn record_if_queued(
        &self,
        campaign: CampaignId,
        sequence: i64,
        code: &str,
    ) -> Result<(), EngineError> {
        let Some((entry, verified)) = self.queued_entry_numbered(campaign, sequence).await? else {
            return Ok(());
        };
        let Some(recorded) = campaigns::find(self.db(), campaign).await? else {
            return Ok(());
        };
        let Some(queued) = QueueOf::of(&recorded, self.codes()).parse(&entry) else {
            return Err(EngineError::CorruptState {
                campaign,
                detail: format!("queue entry {entry:?}"),
            });
        };
        if queued.code == code {
            redemptions::record_queued(self.db(), campaign, &queued, verified).await?;
            crate::metrics::recorded_for_checkout();
        }
        Ok(())
    }
}
