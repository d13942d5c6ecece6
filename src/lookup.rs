//! Looking up who holds which coupon: for a member asking "what was my code?", a shop backend
//! checking a coupon, and the marketer's export.

use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;
use crate::store::campaigns;
use crate::store::coupons::{self, IssuedCoupon};
use crate::sync::QueueOf;
use crate::user::UserId;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// How many queue entries one `LRANGE` reads while looking for a not-yet-synced coupon.
const QUEUE_SCAN_CHUNK: isize = 1000;

/// A coupon a user holds, whether or not the sync has recorded it yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCoupon {
    /// What they show at checkout.
    pub code: String,
    /// Order of the claim within the campaign.
    pub sequence: i64,
    /// When Redis accepted the claim.
    pub claimed_at: DateTime<Utc>,
    /// Whether PostgreSQL has recorded it (false while it waits in the queue).
    pub synced: bool,
}

impl From<IssuedCoupon> for HeldCoupon {
    fn from(row: IssuedCoupon) -> Self {
        Self {
            code: row.code,
            sequence: row.sequence,
            claimed_at: row.claimed_at,
            synced: true,
        }
    }
}

impl Engine {
    /// The coupon `user` holds in `campaign`, if any.
    ///
    /// PostgreSQL answers for synced coupons; a claim still waiting for the sync is found in the
    /// Redis queue (which the sync keeps short), so a member who just claimed sees the code.
    pub async fn coupon_of(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<Option<HeldCoupon>, EngineError> {
        if let Some(row) = coupons::find(self.db(), campaign, user.as_str()).await? {
            return Ok(Some(row.into()));
        }
        let keys = CampaignKeys::new(campaign);
        let mut redis = self.redis();
        if !redis.sismember(&keys.issued, user.as_str()).await? {
            return Ok(None);
        }
        // Queue entries count their claim time from the campaign's opening.
        let Some(recorded) = campaigns::find(self.db(), campaign).await? else {
            return Ok(None);
        };
        let queue = QueueOf::of(&recorded, self.codes());
        // From the tail, by negative index: the sync trims the head while we read, which moves
        // every entry's positive index forward (walking from the head, a trim between two chunks
        // skipped the entries it moved past), but not its distance from the tail. Claims
        // appended meanwhile only make a chunk repeat entries. The tail is also where a member
        // who just claimed is.
        let mut newest = -1;
        loop {
            let entries: Vec<String> = redis
                .lrange(&keys.queue, newest - QUEUE_SCAN_CHUNK + 1, newest)
                .await?;
            if let Some(found) = entries
                .iter()
                // The user id is an entry's last field; only the member's own entry is read
                // whole (reading makes the code, eight SipHash rounds).
                .filter(|entry| entry.rsplit('\t').next() == Some(user.as_str()))
                .find_map(|entry| queue.parse(entry))
            {
                return Ok(Some(HeldCoupon {
                    code: found.code,
                    sequence: found.sequence,
                    claimed_at: found.claimed_at,
                    synced: false,
                }));
            }
            if entries.len() < QUEUE_SCAN_CHUNK as usize {
                break;
            }
            newest -= QUEUE_SCAN_CHUNK;
        }
        // It left the queue while we scanned: the sync has recorded it by now.
        Ok(coupons::find(self.db(), campaign, user.as_str())
            .await?
            .map(HeldCoupon::from))
    }

    /// Every coupon of `campaign` PostgreSQL has recorded, in claim order (for checks after a
    /// run; an export reads them in pages instead, see `recorded_coupons_after`).
    pub async fn recorded_coupons(
        &self,
        campaign: CampaignId,
    ) -> Result<Vec<IssuedCoupon>, EngineError> {
        Ok(coupons::all(self.db(), campaign).await?)
    }

    /// Up to `limit` recorded coupons of `campaign` after the one numbered `after_sequence`
    /// (0 for the first page), in claim order.
    pub async fn recorded_coupons_after(
        &self,
        campaign: CampaignId,
        after_sequence: i64,
        limit: i64,
    ) -> Result<Vec<IssuedCoupon>, EngineError> {
        Ok(coupons::page_after(self.db(), campaign, after_sequence, limit).await?)
    }
}
