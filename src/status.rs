//! The numbers a marketer watches: how far a campaign has drained and how far the sync is.

use crate::campaign::{Campaign, CampaignId};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::{campaigns, coupons};
use crate::sync::QueuedCoupon;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A campaign's live numbers, from Redis (the fast path) and PostgreSQL (the record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The campaign as recorded.
    pub campaign: Campaign,
    /// Total coupons.
    pub quantity: i64,
    /// Coupons still available in Redis; `None` while the campaign is not loaded there.
    pub remaining: Option<i64>,
    /// Users Redis knows got a coupon.
    pub claimed: i64,
    /// Issued coupons waiting in the Redis queue for the sync.
    pub queued: i64,
    /// When the oldest waiting coupon was claimed (how far behind the sync is).
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Coupons recorded in PostgreSQL.
    pub synced: i64,
    /// When a sync step last committed and acknowledged a batch of this campaign.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The last sync failure, if it happened after the last success.
    pub last_sync_error: Option<String>,
    /// When that failure happened.
    pub last_sync_error_at: Option<DateTime<Utc>>,
}

/// Counter, issued count, queue length, oldest queue entry, and the sync state's
/// (last_ok_ms, last_error, last_error_ms), as one pipeline returns them.
type RedisNumbers = (
    Option<i64>,
    i64,
    i64,
    Option<String>,
    (Option<i64>, Option<String>, Option<i64>),
);

impl Engine {
    /// The live numbers of campaign `id`, or `None` if there is no such campaign.
    pub async fn status(&self, id: CampaignId) -> Result<Option<StatusReport>, EngineError> {
        let Some(campaign) = campaigns::find(&self.db, id).await? else {
            return Ok(None);
        };
        let synced = coupons::count(&self.db, id).await?;
        let keys = CampaignKeys::new(id);
        // One round trip for every Redis number.
        let (remaining, claimed, queued, oldest, sync_state): RedisNumbers = redis::pipe()
            .get(&keys.counter)
            .scard(&keys.issued)
            .llen(&keys.queue)
            .lindex(&keys.queue, 0)
            .hmget(
                &keys.sync_state,
                &["last_ok_ms", "last_error", "last_error_ms"],
            )
            .query_async(&mut self.redis.clone())
            .await?;
        let (last_ok_ms, last_error, last_error_ms) = sync_state;
        Ok(Some(StatusReport {
            quantity: campaign.quantity,
            campaign,
            remaining,
            claimed,
            queued,
            oldest_queued_at: oldest.as_deref().and_then(QueuedCoupon::claimed_at_of),
            synced,
            last_synced_at: last_ok_ms.and_then(DateTime::from_timestamp_millis),
            last_sync_error: last_error,
            last_sync_error_at: last_error_ms.and_then(DateTime::from_timestamp_millis),
        }))
    }
}
