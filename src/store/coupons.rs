//! The `issued_coupons` table.

use crate::campaign::CampaignId;
use crate::sync::QueuedCoupon;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;

/// A coupon as recorded in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct IssuedCoupon {
    /// The campaign it came from.
    pub campaign_id: i64,
    /// Who got it.
    pub user_id: String,
    /// What they show at checkout.
    pub code: String,
    /// Order of the claim within the campaign.
    pub sequence: i64,
    /// When Redis accepted the claim.
    pub claimed_at: DateTime<Utc>,
    /// When the sync wrote this row.
    pub synced_at: DateTime<Utc>,
}

/// Inserts one batch in a single statement (the caller commits); returns the rows actually
/// inserted.
///
/// `ON CONFLICT (campaign_id, user_id) DO NOTHING` makes a repeated batch (after a crash between
/// this commit and the queue trim) a no-op. Only that conflict is absorbed: a clash on the code or
/// the sequence would mean a real bug and fails loudly instead of dropping a claim.
pub async fn insert_batch(
    tx: &mut PgConnection,
    campaign: CampaignId,
    batch: &[QueuedCoupon],
) -> Result<u64, sqlx::Error> {
    let mut users = Vec::with_capacity(batch.len());
    let mut codes = Vec::with_capacity(batch.len());
    let mut sequences = Vec::with_capacity(batch.len());
    let mut claimed = Vec::with_capacity(batch.len());
    for coupon in batch {
        users.push(coupon.user_id.as_str());
        codes.push(coupon.code.as_str());
        sequences.push(coupon.sequence);
        claimed.push(coupon.claimed_at);
    }
    let result = sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         SELECT $1, u, c, s, t FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) \
             AS batch(u, c, s, t) \
         ON CONFLICT (campaign_id, user_id) DO NOTHING",
    )
    .bind(campaign.0)
    .bind(&users)
    .bind(&codes)
    .bind(&sequences)
    .bind(&claimed)
    .execute(tx)
    .await?;
    Ok(result.rows_affected())
}

/// Number of coupons of a campaign recorded in PostgreSQL.
pub async fn count(db: &PgPool, campaign: CampaignId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM issued_coupons WHERE campaign_id = $1")
        .bind(campaign.0)
        .fetch_one(db)
        .await
}

/// Every user who holds a coupon of the campaign, and the highest sequence number used.
pub async fn holders(
    tx: &mut PgConnection,
    campaign: CampaignId,
) -> Result<(Vec<String>, i64), sqlx::Error> {
    let users: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM issued_coupons WHERE campaign_id = $1")
            .bind(campaign.0)
            .fetch_all(&mut *tx)
            .await?;
    let max_sequence: Option<i64> =
        sqlx::query_scalar("SELECT max(sequence) FROM issued_coupons WHERE campaign_id = $1")
            .bind(campaign.0)
            .fetch_one(&mut *tx)
            .await?;
    Ok((users, max_sequence.unwrap_or(0)))
}

/// The coupon a user holds in a campaign, once it reached PostgreSQL.
pub async fn find(
    db: &PgPool,
    campaign: CampaignId,
    user_id: &str,
) -> Result<Option<IssuedCoupon>, sqlx::Error> {
    sqlx::query_as(
        "SELECT campaign_id, user_id, code, sequence, claimed_at, synced_at \
         FROM issued_coupons WHERE campaign_id = $1 AND user_id = $2",
    )
    .bind(campaign.0)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Every coupon of a campaign in claim order (for checks and exports).
pub async fn all(db: &PgPool, campaign: CampaignId) -> Result<Vec<IssuedCoupon>, sqlx::Error> {
    sqlx::query_as(
        "SELECT campaign_id, user_id, code, sequence, claimed_at, synced_at \
         FROM issued_coupons WHERE campaign_id = $1 ORDER BY sequence",
    )
    .bind(campaign.0)
    .fetch_all(db)
    .await
}

/// Rows recorded per campaign, for campaigns that have any.
pub async fn counts(db: &PgPool) -> Result<HashMap<CampaignId, i64>, sqlx::Error> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT campaign_id, count(*) FROM issued_coupons GROUP BY campaign_id")
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, count)| (CampaignId(id), count))
        .collect())
}
