//! Loading a campaign's claim state: the way in for everything that found the state not ready
//! (claim.lua's reply 0, lookup.lua's "old format", a campaign just created) or in disagreement
//! with the record (the sync's round, a batch the sync had to renumber). Each ends in a
//! verification under the campaign's row lock (`repair.rs`).
//!
//! When is a state verified: its meta hash carries the identity of the Redis that last verified
//! it (`identity.rs`). A copy restored after a restart or a failover carries an earlier one, so
//! claim.lua answers "not ready" for it, and the claim comes here before it is decided. The sync
//! compares every round too (`disagreement.rs`): a state whose last sequence number is below the
//! highest recorded is behind the record whatever its stamp.

use super::view::StateView;
use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, RowLock};

impl Engine {
    /// Makes sure campaign `id` can be claimed: its state is in Redis and verified against
    /// PostgreSQL for the Redis answering now. Returns `false` if PostgreSQL has no such
    /// campaign.
    ///
    /// One load per campaign per instance runs at a time, the other callers wait for it; it runs
    /// in a task of its own, so it finishes even if the claim that started it gave up.
    pub async fn load_campaign(&self, id: CampaignId) -> Result<bool, EngineError> {
        self.in_own_task(id, false).await
    }

    /// Verifies campaign `id` against the record and repairs its Redis state if it disagrees,
    /// even if the state says it was verified (the sync calls this when the state is behind or
    /// out of step). Returns `false` if PostgreSQL has no such campaign.
    pub async fn verify_campaign(&self, id: CampaignId) -> Result<bool, EngineError> {
        self.in_own_task(id, true).await
    }

    async fn in_own_task(&self, id: CampaignId, always: bool) -> Result<bool, EngineError> {
        let engine = self.clone();
        tokio::spawn(async move { engine.load_in_turn(id, always).await })
            .await
            .map_err(|_| EngineError::LoadInterrupted(id))?
    }

    async fn load_in_turn(&self, id: CampaignId, always: bool) -> Result<bool, EngineError> {
        let _turn = self.load_turns().take(id).await;
        if !always && self.is_ready(id).await? {
            return Ok(true);
        }
        // An unknown id (a typo, a bot) costs one indexed read, not a transaction.
        if campaigns::find(self.db(), id).await?.is_none() {
            return Ok(false);
        }
        let mut tx = self.db().begin().await?;
        let Some(campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(false);
        };
        self.verify_locked(&mut tx, &campaign).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the claim script would answer for the campaign now (present, stamped with the run
    /// id of the Redis last seen): one Redis read, no PostgreSQL.
    async fn is_ready(&self, id: CampaignId) -> Result<bool, EngineError> {
        let keys = CampaignKeys::new(id);
        let mut redis = self.redis();
        let view = StateView::read(&mut redis, &keys).await?;
        let node = self.scripts().identity_for(&mut redis, &keys).await?;
        Ok(view.is_ready_in(&node))
    }
}
