//! Fenced writes of the marketer's controls to Redis.
//!
//! A control changes the record and Redis one after the other (src/control.rs), so two controls
//! of two instances can reach Redis in the other order than they committed: a raise delayed
//! between its commit and its Redis write would land after a later cut and leave Redis above
//! the record. So each change takes a version from a PostgreSQL sequence while it holds the
//! campaign's row (the record keeps it in `campaigns.control_version`), and the scripts apply a
//! change only if its version is above the one Redis's meta holds (`control`). Numbers from a
//! sequence are never handed out twice, not even after a rolled-back transaction: a change that
//! reached Redis and then failed to commit cannot share its number with the next change.
//! A repair (`repair.rs`) takes a version of its own the same way and is dropped by repair.lua
//! when Redis holds a newer one: a repair delayed past a later change cannot undo it either.
//!
//! Meta hashes written before versions existed have no `control`: read as 0, below any version.

use crate::campaign::{CampaignId, CampaignStatus};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;

/// A control's version: the order in which changes of one campaign took its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ControlVersion(pub i64);

/// What Redis did with a fenced write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fenced {
    Applied,
    /// Redis had applied a change of the same or a later version: this one was older, dropped.
    Older,
}

impl Engine {
    /// Sets the campaign's status in Redis unless a newer change is there already.
    pub(crate) async fn fenced_status(
        &self,
        id: CampaignId,
        status: CampaignStatus,
        version: ControlVersion,
    ) -> Result<Fenced, EngineError> {
        let keys = CampaignKeys::new(id);
        let reply: i64 = self
            .scripts()
            .call(&self.scripts().set_status)
            .key(&keys.meta)
            .arg(status.as_str())
            .arg(version.0)
            .invoke(&mut self.redis())
            .await?;
        match reply {
            1 => Ok(Fenced::Applied),
            2 => Ok(Fenced::Older),
            0 => Err(EngineError::NotLoaded(id)),
            other => Err(EngineError::CorruptState {
                campaign: id,
                detail: format!("set_status replied {other}"),
            }),
        }
    }

    /// Sets the campaign's quantity in Redis unless a newer change is there already; refused
    /// as invalid input on `quantity` below the coupons Redis knows are claimed.
    pub(crate) async fn fenced_quantity(
        &self,
        id: CampaignId,
        quantity: i64,
        version: ControlVersion,
    ) -> Result<Fenced, EngineError> {
        let keys = CampaignKeys::new(id);
        let reply: Vec<i64> = self
            .scripts()
            .call(&self.scripts().set_quantity)
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .arg(quantity)
            .arg(version.0)
            .invoke(&mut self.redis())
            .await?;
        match reply.as_slice() {
            [1, _remaining] => Ok(Fenced::Applied),
            [3, _applied] => Ok(Fenced::Older),
            [2, claimed] => Err(crate::control::refused(
                "quantity",
                &format!("must be at least {claimed}, the coupons already claimed"),
            )),
            [0] => Err(EngineError::NotLoaded(id)),
            other => Err(EngineError::CorruptState {
                campaign: id,
                detail: format!("set_quantity replied {other:?}"),
            }),
        }
    }
}
