//! The `campaign_sequence_ceilings` table: for each campaign, a number no sequence number its
//! Redis state hands out can exceed. A rebuild of that state continues above it, so a sequence
//! number, and the code made from it, is never handed out twice, even when Redis lost claims
//! that had not reached PostgreSQL.
//!
//! Each statement here runs on a connection of its own and commits before Redis may use the
//! numbers it reserves: a crash in between leaves the ceiling too high (numbers skipped), never
//! too low.

use crate::campaign::CampaignId;
use sqlx::PgPool;

/// Reserves the numbers a (re)built state of `campaign` may hand out: `available` of them,
/// above both the highest recorded (`highest_recorded`) and everything reserved before.
/// Returns the number to continue after.
pub async fn reserve(
    db: &PgPool,
    campaign: CampaignId,
    highest_recorded: i64,
    available: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO campaign_sequence_ceilings AS reserved (campaign_id, ceiling) \
         VALUES ($1, $2 + $3) \
         ON CONFLICT (campaign_id) \
         DO UPDATE SET ceiling = greatest(reserved.ceiling, $2) + $3 \
         RETURNING ceiling - $3",
    )
    .bind(campaign.0)
    .bind(highest_recorded)
    .bind(available)
    .fetch_one(db)
    .await
}

/// Reserves `more` numbers on top, for a quantity raised by that much.
pub async fn extend(db: &PgPool, campaign: CampaignId, more: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaign_sequence_ceilings SET ceiling = ceiling + $2 WHERE campaign_id = $1",
    )
    .bind(campaign.0)
    .bind(more)
    .execute(db)
    .await?;
    Ok(())
}
