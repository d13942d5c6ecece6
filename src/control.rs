//! The marketer's controls on a running campaign: pause, resume, end, and change the quantity.
//!
//! Each change holds the campaign's row `FOR UPDATE` (so it is ordered against Redis rebuilds
//! and other changes), applies the change to Redis atomically with respect to claims, and only
//! then commits the record. If Redis refuses, nothing is recorded; the marketer sees an error
//! and can retry. Redis first is deliberate: the opposite order could leave PostgreSQL saying
//! "paused" while Redis keeps issuing.

use crate::campaign::{Campaign, CampaignId, CampaignStatus, Quantity};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, RowLock};
use crate::store::sequences;
use crate::validation::{FieldError, ValidationErrors};

impl Engine {
    /// Sets campaign `id`'s status; `None` if there is no such campaign. An ended campaign stays
    /// ended: changing it is refused as invalid input on the `status` field.
    pub async fn set_status(
        &self,
        id: CampaignId,
        status: CampaignStatus,
    ) -> Result<Option<Campaign>, EngineError> {
        let mut tx = self.db().begin().await?;
        let Some(mut campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(None);
        };
        if campaign.status == CampaignStatus::Ended && status != CampaignStatus::Ended {
            return Err(refused(
                "status",
                "the campaign has ended and cannot be reopened",
            ));
        }
        self.load_locked(&mut tx, &campaign).await?;
        let keys = CampaignKeys::new(id);
        let set: i64 = self
            .scripts()
            .set_status
            .key(&keys.meta)
            .arg(status.as_str())
            .invoke_async(&mut self.redis())
            .await?;
        if set != 1 {
            return Err(EngineError::NotLoaded(id));
        }
        campaigns::update_status(&mut tx, id, status).await?;
        tx.commit().await?;
        tracing::info!(campaign = %id, status = status.as_str(), "campaign status changed");
        campaign.status = status;
        Ok(Some(campaign))
    }

    /// Sets campaign `id`'s total quantity; `None` if there is no such campaign. Refused as
    /// invalid input on the `quantity` field if it is out of range, below the coupons already
    /// claimed, or the campaign has ended.
    pub async fn set_quantity(
        &self,
        id: CampaignId,
        quantity: i64,
    ) -> Result<Option<Campaign>, EngineError> {
        let quantity = Quantity::parse(quantity).map_err(|e| EngineError::Invalid(one(e)))?;
        let mut tx = self.db().begin().await?;
        let Some(mut campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(None);
        };
        if campaign.status == CampaignStatus::Ended {
            return Err(refused("quantity", "the campaign has ended"));
        }
        self.load_locked(&mut tx, &campaign).await?;
        // More coupons mean more sequence numbers Redis may hand out: reserve them first.
        let raised_by = quantity.get() - campaign.quantity;
        if raised_by > 0 {
            sequences::extend(self.reservations(), id, raised_by).await?;
        }
        let keys = CampaignKeys::new(id);
        let reply: Vec<i64> = self
            .scripts()
            .set_quantity
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .arg(quantity.get())
            .invoke_async(&mut self.redis())
            .await?;
        match reply.as_slice() {
            [1, _remaining] => {}
            [2, claimed] => {
                return Err(refused(
                    "quantity",
                    &format!("must be at least {claimed}, the coupons already claimed"),
                ));
            }
            [0] => return Err(EngineError::NotLoaded(id)),
            other => {
                return Err(EngineError::CorruptState {
                    campaign: id,
                    detail: format!("set_quantity replied {other:?}"),
                });
            }
        }
        campaigns::update_quantity(&mut tx, id, quantity.get()).await?;
        tx.commit().await?;
        tracing::info!(campaign = %id, quantity = quantity.get(), "campaign quantity changed");
        campaign.quantity = quantity.get();
        Ok(Some(campaign))
    }
}

fn one(error: FieldError) -> ValidationErrors {
    ValidationErrors(vec![error])
}

fn refused(field: &str, reason: &str) -> EngineError {
    EngineError::Invalid(one(FieldError::new(field, reason)))
}
