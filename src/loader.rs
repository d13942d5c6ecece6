//! Loading a campaign's claim state into Redis from PostgreSQL: at creation, and again whenever
//! Redis lost it (restart without persistence, failover, eviction, a flush).

use crate::campaign::{Campaign, CampaignId};
use crate::engine::{Engine, random_token};
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, RowLock};
use crate::store::{coupons, sequences};
use redis::AsyncCommands;
use sqlx::PgConnection;

/// Users are copied into Redis in chunks so that no single command blocks Redis for long.
const CHUNK: usize = 10_000;
/// A staging set left behind by a crashed loader disappears on its own after this.
const STAGING_TTL_SECONDS: i64 = 600;

impl Engine {
    /// Makes sure campaign `id` can be claimed: loads its state into Redis unless already there.
    /// Returns `false` if PostgreSQL has no such campaign.
    ///
    /// Runs inside a transaction holding the campaign's row `FOR UPDATE`. A sync batch holds the
    /// same row `FOR SHARE` from before it reads the queue until it commits, so a rebuild never
    /// runs while a batch is only in a drainer's memory: if Redis lost its data while a batch was
    /// in flight, the rebuild waits for that batch's rows and counts them.
    pub async fn load_campaign(&self, id: CampaignId) -> Result<bool, EngineError> {
        let mut tx = self.db().begin().await?;
        let Some(campaign) = campaigns::find_locked(&mut tx, id, RowLock::Update).await? else {
            return Ok(false);
        };
        self.load_locked(&mut tx, &campaign).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Loads `campaign` into Redis unless already there, from inside a transaction that holds
    /// its row `FOR UPDATE` (for callers that change the campaign under that same lock).
    pub(crate) async fn load_locked(
        &self,
        tx: &mut PgConnection,
        campaign: &Campaign,
    ) -> Result<(), EngineError> {
        // Loaders of a campaign take turns (they hold its row), and only loaders create its
        // state: if it is there now, there is nothing to load and nothing to reserve. Checked
        // first, so that pausing a campaign of a million coupons does not read a million rows.
        let keys = CampaignKeys::new(campaign.id);
        let (meta, counter): (bool, bool) = redis::pipe()
            .exists(&keys.meta)
            .exists(&keys.counter)
            .query_async(&mut self.redis())
            .await?;
        if meta && counter {
            return Ok(());
        }
        let (holders, max_sequence) = coupons::holders(tx, campaign.id).await?;
        self.write_state(campaign, &holders, max_sequence).await
    }

    /// Builds the Redis state of `campaign` from its recorded holders, atomically and only if
    /// missing (see load.lua). Safe to run from any number of instances at once.
    ///
    /// The rebuilt state numbers its claims from above the campaign's sequence ceiling, not
    /// merely above the highest recorded: Redis may have lost claims it numbered and answered
    /// but had not synced, and their numbers (and so their codes) must not go to anyone else.
    async fn write_state(
        &self,
        campaign: &Campaign,
        holders: &[String],
        max_sequence: i64,
    ) -> Result<(), EngineError> {
        let keys = CampaignKeys::new(campaign.id);
        let mut redis = self.redis();
        let recorded = i64::try_from(holders.len()).unwrap_or(i64::MAX);
        let available = campaign.quantity.saturating_sub(recorded).max(0);
        let continue_after =
            sequences::reserve(self.reservations(), campaign.id, max_sequence, available).await?;
        // A private staging key per run: concurrent loaders never see each other's half-copies.
        let staging = CampaignKeys::loading(campaign.id, &random_token());
        for chunk in holders.chunks(CHUNK) {
            let _: () = redis.sadd(&staging, chunk).await?;
        }
        if !holders.is_empty() {
            let _: () = redis.expire(&staging, STAGING_TTL_SECONDS).await?;
        }
        let built: i64 = self
            .scripts()
            .load
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .key(&staging)
            .arg(campaign.status.as_str())
            .arg(campaign.claim_starts_at.timestamp_millis())
            .arg(campaign.claim_ends_at.timestamp_millis())
            .arg(campaign.quantity)
            .arg(continue_after)
            .invoke_async(&mut redis)
            .await?;
        if built == 1 {
            tracing::info!(
                campaign = %campaign.id,
                recorded = holders.len(),
                "claim state loaded into Redis from PostgreSQL"
            );
        }
        Ok(())
    }
}
