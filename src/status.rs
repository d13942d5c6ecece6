//! The numbers a marketer watches: how far a campaign has drained and how far the sync is.

use crate::campaign::{Campaign, CampaignId};
use crate::draw::DrawReport;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::reconcile::count_issued;
use crate::redis::{CampaignKeys, RedisLink};
use crate::store::campaigns;
use crate::store::campaigns::CampaignFilter;
use crate::store::coupons::{self, CheckoutNumbers};
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
    /// Of those, redeemed, held, expired, and the discount granted.
    #[serde(flatten)]
    pub checkout: CheckoutNumbers,
    /// When a sync step last committed and acknowledged a batch of this campaign.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The last sync failure, if it happened after the last success.
    pub last_sync_error: Option<String>,
    /// When that failure happened.
    pub last_sync_error_at: Option<DateTime<Utc>>,
    /// With replicated acknowledgments, while fewer replicas are connected than needed (every
    /// claim is answered "try again"): how many are, e.g. `0 of 1 replicas connected`.
    pub replicas_missing: Option<String>,
    /// The Redis node (`host:port`) holding the campaign's keys: on a cluster, the primary that
    /// owns its slot as last read; `None` while that is not known.
    #[serde(default)]
    pub redis_node: Option<String>,
    /// A fair draw's public facts (`draw_commitment`, and once it is completed `draw_secret`,
    /// `entrants`, `winners`, `cutoff`), flat beside the numbers; absent for first-come
    /// campaigns and in the marketer's list.
    #[serde(flatten)]
    pub draw: Option<DrawReport>,
}

/// What an end user's page shows of a campaign: the record's campaign and the coupons Redis
/// still has. Without a count of the recorded rows, which would be a `count(*)` per page view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicStatus {
    /// The campaign as recorded.
    pub campaign: Campaign,
    /// Coupons still available in Redis; `None` while the campaign is not loaded there.
    pub remaining: Option<i64>,
    /// A fair draw's public facts (see [`StatusReport::draw`]); only on a single campaign's
    /// page ([`Engine::public_status`]).
    #[serde(flatten)]
    pub draw: Option<DrawReport>,
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
        let Some(campaign) = campaigns::find(self.db(), id).await? else {
            return Ok(None);
        };
        let draw = if campaign.is_fair_draw() {
            self.draw_report(id).await?
        } else {
            None
        };
        let record = coupons::numbers_of(self.db(), &[id]).await?;
        let numbers = record.get(&id).copied().unwrap_or_default();
        let mut reports = self.reports(vec![(campaign, numbers)]).await?;
        let mut report = reports.pop();
        if let Some(report) = report.as_mut() {
            report.draw = draw;
        }
        Ok(report)
    }

    /// What an end user's page shows of campaign `id` (one read by primary key, one `GET`; a
    /// fair draw's row besides), or `None` if there is no such campaign.
    pub async fn public_status(&self, id: CampaignId) -> Result<Option<PublicStatus>, EngineError> {
        let Some(campaign) = campaigns::find(self.db(), id).await? else {
            return Ok(None);
        };
        let remaining: Option<i64> =
            redis::AsyncCommands::get(&mut self.redis(), CampaignKeys::new(id).counter).await?;
        let draw = if campaign.is_fair_draw() {
            self.draw_report(id).await?
        } else {
            None
        };
        Ok(Some(PublicStatus {
            campaign,
            remaining,
            draw,
        }))
    }

    /// What end users' pages show of each of these campaigns that exists, in no particular
    /// order: one PostgreSQL read of their rows by primary key and one `GET` of each counter.
    /// No coupon row is read, so an anonymous page watching a campaign costs the same whether
    /// it has ten coupons or ten million.
    pub async fn public_statuses(
        &self,
        ids: &[CampaignId],
    ) -> Result<Vec<PublicStatus>, EngineError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = campaigns::find_many(self.db(), ids).await?;
        let mut redis = self.redis();
        let mut groups = redis.groups();
        for campaign in &found {
            groups.group().get(CampaignKeys::new(campaign.id).counter);
        }
        let counters: Vec<Option<i64>> = groups
            .query(&mut redis)
            .await?
            .into_iter()
            .flatten()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()
            .map_err(redis::RedisError::from)?;
        Ok(found
            .into_iter()
            .zip(counters)
            .map(|(campaign, remaining)| PublicStatus {
                campaign,
                remaining,
                draw: None,
            })
            .collect())
    }

    /// The live numbers of one page of campaigns (newest first, see [`CampaignFilter`]), and
    /// whether more follow: two PostgreSQL queries and one Redis round trip for the page.
    pub async fn overview(
        &self,
        filter: &CampaignFilter,
    ) -> Result<(Vec<StatusReport>, bool), EngineError> {
        let (page, more) = campaigns::page(self.db(), filter).await?;
        let ids: Vec<CampaignId> = page.iter().map(|c| c.id).collect();
        let record = coupons::numbers_of(self.db(), &ids).await?;
        let with_numbers = page
            .into_iter()
            .map(|campaign| {
                let numbers = record.get(&campaign.id).copied().unwrap_or_default();
                (campaign, numbers)
            })
            .collect();
        Ok((self.reports(with_numbers).await?, more))
    }

    /// Adds the Redis numbers of each campaign, read in one pipeline.
    async fn reports(
        &self,
        campaigns: Vec<(Campaign, (i64, CheckoutNumbers))>,
    ) -> Result<Vec<StatusReport>, EngineError> {
        let mut redis = self.redis();
        let kinds = issued_kinds(&mut redis, &campaigns).await?;
        let mut groups = redis.groups();
        for ((campaign, _), kind) in campaigns.iter().zip(kinds) {
            let keys = CampaignKeys::new(campaign.id);
            let pipe = groups.group();
            pipe.get(&keys.counter);
            count_issued(pipe, &keys, kind);
            pipe.llen(&keys.queue).lindex(&keys.queue, 0).hmget(
                &keys.sync_state,
                &["last_ok_ms", "last_error", "last_error_ms"],
            );
        }
        let replicas_missing = self.replicas_missing().await;
        // Five replies per campaign, made into one tuple each.
        let numbers: Vec<RedisNumbers> = groups
            .query(&mut redis)
            .await?
            .into_iter()
            .map(|replies| redis::from_redis_value(redis::Value::Array(replies)))
            .collect::<Result<_, _>>()
            .map_err(redis::RedisError::from)?;
        Ok(campaigns
            .into_iter()
            .zip(numbers)
            .map(|((campaign, record), numbers)| {
                let mut report = report(campaign, record, numbers);
                report.replicas_missing = replicas_missing.clone();
                report.redis_node = redis
                    .node_of_campaign(report.campaign.id)
                    .map(|node| node.to_string());
                report
            })
            .collect())
    }
}

/// The type of each campaign's issued key: a hash, or a set where an older release left it and
/// no claim or sync round has converted it yet (goes with format 1: src/reconcile/formats.rs).
async fn issued_kinds(
    redis: &mut RedisLink,
    campaigns: &[(Campaign, (i64, CheckoutNumbers))],
) -> Result<Vec<redis::ValueType>, EngineError> {
    let mut groups = redis.groups();
    for (campaign, _) in campaigns {
        groups
            .group()
            .key_type(CampaignKeys::new(campaign.id).issued);
    }
    let kinds = groups.query(redis).await?.into_iter().flatten();
    Ok(kinds
        .map(redis::from_redis_value)
        .collect::<Result<_, _>>()
        .map_err(redis::RedisError::from)?)
}

fn report(
    campaign: Campaign,
    (synced, checkout): (i64, CheckoutNumbers),
    numbers: RedisNumbers,
) -> StatusReport {
    let (remaining, claimed, queued, oldest, (last_ok_ms, last_error, last_error_ms)) = numbers;
    let oldest_queued_at = oldest
        .as_deref()
        .and_then(|entry| QueuedCoupon::claimed_at_of(entry, campaign.claim_starts_at));
    StatusReport {
        quantity: campaign.quantity,
        campaign,
        remaining,
        claimed,
        queued,
        oldest_queued_at,
        synced,
        checkout,
        last_synced_at: last_ok_ms.and_then(DateTime::from_timestamp_millis),
        last_sync_error: last_error,
        last_sync_error_at: last_error_ms.and_then(DateTime::from_timestamp_millis),
        replicas_missing: None,
        redis_node: None,
        draw: None,
    }
}
