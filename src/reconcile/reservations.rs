//! The `campaign_sequence_ceilings` table: for each campaign, a number no sequence number its
//! Redis state hands out can exceed. A rebuild of that state continues above it, so a sequence
//! number, and the code made from it, is never handed out twice, even when Redis lost claims
//! that had not reached PostgreSQL.
//!
//! Reserved by: a repair that rebuilds or continues a state (`repair.rs`), a raised quantity
//! (src/control.rs) and the sync's renumbering of clashes (`renumber.rs`). This module is the
//! table's only writer.
//!
//! Each statement here runs on a connection of its own and commits before Redis may use the
//! numbers it reserves: a crash in between leaves the ceiling too high (numbers skipped), never
//! too low.

use crate::campaign::CampaignId;
use sqlx::PgPool;

/// Reserves `count` more numbers for `campaign`, above both the highest recorded
/// (`highest_recorded`) and everything reserved before, and returns the number to continue
/// after: for a (re)built Redis state (as many as it may issue), a raised quantity (the raise),
/// or coupons the sync renumbers. A campaign with no ceiling yet gets one (an upsert: never a
/// silent no-op).
pub async fn reserve(
    db: &PgPool,
    campaign: CampaignId,
    highest_recorded: i64,
    count: i64,
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
    .bind(count)
    .fetch_one(db)
    .await
}
