//! Loading a campaign's claim state into Redis from PostgreSQL: at creation, and again whenever
//! Redis lost it (restart without persistence, failover, eviction, a flush).

use crate::campaign::{Campaign, CampaignId};
use crate::engine::{Engine, random_token};
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::{campaigns, coupons};
use redis::AsyncCommands;

/// Users are copied into Redis in chunks so that no single command blocks Redis for long.
const CHUNK: usize = 10_000;
/// A staging set left behind by a crashed loader disappears on its own after this.
const STAGING_TTL_SECONDS: i64 = 600;

impl Engine {
    /// Makes sure campaign `id` can be claimed: loads its state into Redis unless already there.
    /// Returns `false` if PostgreSQL has no such campaign.
    pub async fn load_campaign(&self, id: CampaignId) -> Result<bool, EngineError> {
        match campaigns::find(&self.db, id).await? {
            Some(campaign) => {
                self.load_state(&campaign).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Builds the Redis state of `campaign` from its PostgreSQL record, atomically and only if
    /// missing (see load.lua). Safe to run from any number of instances at once. Returns whether
    /// this call built it.
    pub(crate) async fn load_state(&self, campaign: &Campaign) -> Result<bool, EngineError> {
        let keys = CampaignKeys::new(campaign.id);
        let (holders, max_sequence) = coupons::holders(&self.db, campaign.id).await?;
        // A private staging key per run: concurrent loaders never see each other's half-copies.
        let staging = CampaignKeys::loading(campaign.id, &random_token());
        let mut redis = self.redis.clone();
        for chunk in holders.chunks(CHUNK) {
            let _: () = redis.sadd(&staging, chunk).await?;
        }
        if !holders.is_empty() {
            let _: () = redis.expire(&staging, STAGING_TTL_SECONDS).await?;
        }
        let built: i64 = self
            .scripts
            .load
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .key(&staging)
            .arg(campaign.status.as_str())
            .arg(campaign.claim_starts_at.timestamp_millis())
            .arg(campaign.claim_ends_at.timestamp_millis())
            .arg(campaign.quantity)
            .arg(max_sequence)
            .invoke_async(&mut redis)
            .await?;
        if built == 1 {
            tracing::info!(
                campaign = %campaign.id,
                recorded = holders.len(),
                "claim state loaded into Redis from PostgreSQL"
            );
        }
        Ok(built == 1)
    }
}
