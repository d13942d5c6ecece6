//! The marketer's controls on a running campaign: pause, resume, end, and change the quantity.
//!
//! PostgreSQL is the record and Redis follows it; the two are changed one after the other, so a
//! failure in between (a reset connection, a failed commit, Redis gone) leaves them apart for a
//! moment. The order makes that moment safe, and the sync closes it: every round it compares
//! each campaign's status, window and quantity in Redis with the record and repairs what differs
//! (src/reconcile/disagreement.rs, asked by the sync's round).
//! - Changes that restrict issuing (pause, end, a lower quantity) go to Redis first: if the
//!   record's commit then fails, Redis issued less than the record allows, never more, until the
//!   sync puts it back.
//! - Changes that allow more (resume, a higher quantity) go to the record first: if Redis then
//!   fails, it lags behind the record until the sync catches it up.
//!
//! So Redis never issues more than the record's quantity, and a campaign the record says has
//! ended never reopens. Each change holds the campaign's row `FOR UPDATE`, which orders it
//! against rebuilds, sync batches and other changes; its Redis write is fenced by a version
//! taken under that lock (src/reconcile/fence.rs), so a write that arrives after a later
//! change's is dropped instead of undoing it.
//!
//! The `…_by` calls record the change in the audit log (src/audit/) in the same transaction as
//! the record's change: a refused or failed change leaves no entry, a committed one exactly one.

use crate::audit::{self, Actor, AuditEvent};
use crate::campaign::{Campaign, CampaignId, CampaignStatus, Quantity};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::reconcile::fence::Fenced;
use crate::reconcile::reservations;
use crate::store::campaigns::{self, RowLock};
use crate::store::coupons;
use crate::validation::{FieldError, ValidationErrors};

/// Why a control of an ended campaign is refused, on its `status` field (reopening it).
const REOPEN_ENDED: &str = "the campaign has ended and cannot be reopened";
/// Why a control of an ended campaign is refused, on its `quantity` field.
const RESIZE_ENDED: &str = "the campaign has ended";

impl EngineError {
    /// Whether a control was refused because its campaign has ended: a change that can never be
    /// made, not a bad value (the JSON API answers it 409 rather than 422).
    pub fn refuses_ended_campaign(&self) -> bool {
        matches!(self, Self::Invalid(errors)
            if errors.0.iter().any(|e| e.reason == REOPEN_ENDED || e.reason == RESIZE_ENDED))
    }
}

impl Engine {
    /// Sets campaign `id`'s status; `None` if there is no such campaign. An ended campaign stays
    /// ended: changing it is refused as invalid input on the `status` field. Records no audit
    /// entry: for tools and tests (the web layer calls [`Engine::set_status_by`]).
    pub async fn set_status(
        &self,
        id: CampaignId,
        status: CampaignStatus,
    ) -> Result<Option<Campaign>, EngineError> {
        self.change_status(id, status, None).await
    }

    /// [`Engine::set_status`] by `by`: `campaign.paused`, `campaign.resumed` or `campaign.ended`
    /// in the audit log, with the status before and after.
    pub async fn set_status_by(
        &self,
        id: CampaignId,
        status: CampaignStatus,
        by: &Actor,
    ) -> Result<Option<Campaign>, EngineError> {
        self.change_status(id, status, Some(by)).await
    }

    /// Sets campaign `id`'s total quantity; `None` if there is no such campaign. Refused as
    /// invalid input on the `quantity` field if it is out of range, below the coupons already
    /// claimed, or the campaign has ended. Records no audit entry: for tools and tests (the
    /// web layer calls [`Engine::set_quantity_by`]).
    pub async fn set_quantity(
        &self,
        id: CampaignId,
        quantity: i64,
    ) -> Result<Option<Campaign>, EngineError> {
        self.change_quantity(id, quantity, None).await
    }

    /// [`Engine::set_quantity`] by `by`: `campaign.quantity_changed` in the audit log, with the
    /// quantity before and after.
    pub async fn set_quantity_by(
        &self,
        id: CampaignId,
        quantity: i64,
        by: &Actor,
    ) -> Result<Option<Campaign>, EngineError> {
        self.change_quantity(id, quantity, Some(by)).await
    }

    async fn change_status(
        &self,
        id: CampaignId,
        status: CampaignStatus,
        by: Option<&Actor>,
    ) -> Result<Option<Campaign>, EngineError> {
        let mut tx = self.db().begin().await?;
        let Some(mut campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(None);
        };
        if campaign.status == CampaignStatus::Ended && status != CampaignStatus::Ended {
            return Err(refused("status", REOPEN_ENDED));
        }
        self.verify_locked(&mut tx, &campaign).await?;
        let version = campaigns::take_control_version(&mut tx).await?;
        let event = AuditEvent::status_changed(id, campaign.status, status);
        if status == CampaignStatus::Active {
            campaigns::update_status(&mut tx, id, status, version).await?;
            audit::record_in(&mut tx, by, &event).await?;
            tx.commit().await?;
            self.follow_in_redis(id, self.fenced_status(id, status, version).await);
        } else {
            restricted(self.fenced_status(id, status, version).await?)?;
            campaigns::update_status(&mut tx, id, status, version).await?;
            audit::record_in(&mut tx, by, &event).await?;
            tx.commit().await?;
        }
        tracing::info!(campaign = %id, status = status.as_str(), "campaign status changed");
        campaign.status = status;
        Ok(Some(campaign))
    }

    async fn change_quantity(
        &self,
        id: CampaignId,
        quantity: i64,
        by: Option<&Actor>,
    ) -> Result<Option<Campaign>, EngineError> {
        let quantity = Quantity::parse(quantity).map_err(|e| EngineError::Invalid(one(e)))?;
        let mut tx = self.db().begin().await?;
        let Some(mut campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(None);
        };
        if campaign.status == CampaignStatus::Ended {
            return Err(refused("quantity", RESIZE_ENDED));
        }
        self.verify_locked(&mut tx, &campaign).await?;
        let version = campaigns::take_control_version(&mut tx).await?;
        let event = AuditEvent::quantity_changed(id, campaign.quantity, quantity.get());
        let raised_by = quantity.get() - campaign.quantity;
        if raised_by > 0 {
            // More coupons mean more sequence numbers Redis may hand out: reserved first.
            let recorded = coupons::highest_sequence(&mut tx, id).await?;
            reservations::reserve(self.reservations(), id, recorded, raised_by).await?;
            campaigns::update_quantity(&mut tx, id, quantity.get(), version).await?;
            audit::record_in(&mut tx, by, &event).await?;
            tx.commit().await?;
            self.follow_in_redis(id, self.fenced_quantity(id, quantity.get(), version).await);
        } else {
            restricted(self.fenced_quantity(id, quantity.get(), version).await?)?;
            campaigns::update_quantity(&mut tx, id, quantity.get(), version).await?;
            audit::record_in(&mut tx, by, &event).await?;
            tx.commit().await?;
        }
        tracing::info!(campaign = %id, quantity = quantity.get(), "campaign quantity changed");
        campaign.quantity = quantity.get();
        Ok(Some(campaign))
    }

    /// After the record changed: Redis failing to follow is logged, not returned (the change
    /// is made; the sync brings Redis in line within a round). A write Redis dropped as older
    /// lost to a later change, which is what Redis should hold.
    fn follow_in_redis(&self, id: CampaignId, applied: Result<Fenced, EngineError>) {
        match applied {
            Ok(Fenced::Applied) => {}
            Ok(Fenced::Older) => tracing::info!(
                campaign = %id,
                "recorded; a later change reached Redis first, so Redis keeps that one"
            ),
            Err(error) => tracing::warn!(
                campaign = %id,
                %error,
                "recorded, but Redis did not follow yet; the sync will bring it in line"
            ),
        }
    }
}

/// A restricting change goes to Redis while it holds the row, so no later change can have
/// reached Redis first; if one did anyway, nothing is committed and the caller tries again.
fn restricted(fenced: Fenced) -> Result<(), EngineError> {
    match fenced {
        Fenced::Applied => Ok(()),
        Fenced::Older => Err(EngineError::Contended),
    }
}

fn one(error: FieldError) -> ValidationErrors {
    ValidationErrors(vec![error])
}

/// Refused as invalid input on `field`, for `reason`; nothing was written.
pub(crate) fn refused(field: &str, reason: &str) -> EngineError {
    EngineError::Invalid(one(FieldError::new(field, reason)))
}
