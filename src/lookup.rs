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
use serde::{Deserialize, Serialize};

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
    /// When it was used at checkout, if it is redeemed (never while it waits in the queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed_at: Option<DateTime<Utc>>,
}

impl From<IssuedCoupon> for HeldCoupon {
    fn from(row: IssuedCoupon) -> Self {
        Self {
            code: row.code,
            sequence: row.sequence,
            claimed_at: row.claimed_at,
            synced: true,
            redeemed_at: row.redeemed_at,
        }
    }
}

/// Where Redis says a user's coupon is (lookup.lua's reply).
enum Located {
    Nowhere,
    Recorded,
    /// The queue entry, and the version of the verification that last wrote the state it was
    /// read from (src/reconcile/verifications.rs).
    Queued(String, i64),
    OldFormat,
}

impl Engine {
    /// The coupon `user` holds in `campaign`, if any.
    ///
    /// PostgreSQL answers for synced coupons; a claim still waiting for the sync is found in the
    /// Redis queue from the sequence number the issued hash keeps for its member, in a few
    /// commands however long the backlog, so a member who just claimed sees the code (except
    /// during a fair draw: src/draw/).
    pub async fn coupon_of(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<Option<HeldCoupon>, EngineError> {
        if let Some(row) = coupons::find(self.db(), campaign, user.as_str()).await? {
            return Ok(Some(row.into()));
        }
        // While a fair draw is not completed, only what the record holds is shown: a winner's
        // coupon waiting in the queue could still be lost with Redis and issued again.
        if !self.lookup_may_read_redis(campaign).await? {
            return Ok(None);
        }
        let mut located = self.locate(campaign, user).await?;
        if matches!(located, Located::OldFormat) {
            // Left by an older release (format 1, src/reconcile/formats.rs): converted by the
            // load, then asked again.
            self.load_campaign(campaign).await?;
            located = self.locate(campaign, user).await?;
        }
        let entry = match located {
            Located::Queued(entry, _) => entry,
            Located::Nowhere => return Ok(None),
            // It left the queue meanwhile: the sync has recorded it by now.
            Located::Recorded | Located::OldFormat => {
                return Ok(coupons::find(self.db(), campaign, user.as_str())
                    .await?
                    .map(HeldCoupon::from));
            }
        };
        // Queue entries count their claim time from the campaign's opening.
        let Some(recorded) = campaigns::find(self.db(), campaign).await? else {
            return Ok(None);
        };
        let found = QueueOf::of(&recorded, self.codes())
            .parse(&entry)
            .ok_or_else(|| EngineError::CorruptState {
                campaign,
                detail: format!("queue entry {entry:?}"),
            })?;
        Ok(Some(HeldCoupon {
            code: found.code,
            sequence: found.sequence,
            claimed_at: found.claimed_at,
            synced: false,
            redeemed_at: None,
        }))
    }

    async fn locate(&self, campaign: CampaignId, user: &UserId) -> Result<Located, EngineError> {
        self.run_lookup(campaign, user.as_str(), 0).await
    }

    /// The queue entry numbered `sequence`, whoever holds it, while it waits for the sync; with
    /// the version of the verification that last wrote the state it was read from.
    pub(crate) async fn queued_entry_numbered(
        &self,
        campaign: CampaignId,
        sequence: i64,
    ) -> Result<Option<(String, i64)>, EngineError> {
        Ok(match self.run_lookup(campaign, "", sequence).await? {
            Located::Queued(entry, verified) => Some((entry, verified)),
            _ => None,
        })
    }

    /// lookup.lua for `user`, or (with an empty `user`) for the entry numbered `sequence`.
    async fn run_lookup(
        &self,
        campaign: CampaignId,
        user: &str,
        sequence: i64,
    ) -> Result<Located, EngineError> {
        let keys = CampaignKeys::new(campaign);
        let (outcome, entry, verified): (i64, String, i64) = self
            .scripts()
            .call(&self.scripts().lookup)
            .key(&keys.issued)
            .key(&keys.queue)
            .key(&keys.meta)
            .arg(user)
            .arg(sequence)
            .invoke(&mut self.redis())
            .await?;
        Ok(match outcome {
            0 => Located::Nowhere,
            1 => Located::Recorded,
            2 => Located::Queued(entry, verified),
            3 => Located::OldFormat,
            other => {
                return Err(EngineError::CorruptState {
                    campaign,
                    detail: format!("lookup replied {other}"),
                });
            }
        })
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

    /// One page of the export of `campaign`: recorded coupons after `after_sequence`, in claim
    /// order, with their state at checkout.
    pub async fn export_rows_after(
        &self,
        campaign: CampaignId,
        after_sequence: i64,
        limit: i64,
    ) -> Result<Vec<coupons::ExportRow>, EngineError> {
        Ok(coupons::export_page_after(self.db(), campaign, after_sequence, limit).await?)
    }
}
