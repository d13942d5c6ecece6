//! The `campaign_verifications` table: for each campaign, the version of the last verification
//! that set out to write its Redis state. repair.lua stamps the same version into the state
//! (meta `verified`), and queued coupons are recorded only from a state that carries the
//! version recorded here (the sync's batches, a checkout recording a coupon ahead of the sync).
//!
//! Why: two Redis states of one campaign can be reachable at once for a moment after a
//! failover (the deposed primary restarted, a primary again until the sentinels turn it into a
//! replica, and an instance whose link has not followed yet). If the new primary was verified
//! first and a coupon queued only in the deposed one was recorded after, the new primary would
//! lack its member, tell them a second code, and nothing would notice. With the version, every
//! coupon recorded after a verification comes from the state that verification wrote, so the
//! next verification of any other state finds it (src/reconcile/view.rs, `Standing`).
//!
//! Raised on a connection of its own, committed before repair.lua writes the stamp, as
//! sequence ceilings are (`sequences.rs`): a verification that fails after it leaves a version
//! no state carries, so nothing is recorded until the next verification stamps one (the sync
//! asks for it: src/sync/round.rs); never a state stamped with a version the record lacks.

use crate::campaign::CampaignId;
use crate::reconcile::fence::ControlVersion;
use sqlx::{PgConnection, PgPool};

/// Records `version` as the campaign's last verification (never lowering it).
pub(crate) async fn raise(
    db: &PgPool,
    campaign: CampaignId,
    version: ControlVersion,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO campaign_verifications AS verified (campaign_id, version) VALUES ($1, $2) \
         ON CONFLICT (campaign_id) \
         DO UPDATE SET version = greatest(verified.version, excluded.version)",
    )
    .bind(campaign.0)
    .bind(version.0)
    .execute(db)
    .await?;
    Ok(())
}

/// The version of the campaign's last verification; 0 if none was recorded (a campaign of the
/// release before the fence, whose state carries none either). Read by a caller that holds the
/// campaign's row, so no verification changes it until the caller commits.
pub(crate) async fn latest(
    db: &mut PgConnection,
    campaign: CampaignId,
) -> Result<i64, sqlx::Error> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM campaign_verifications WHERE campaign_id = $1")
            .bind(campaign.0)
            .fetch_optional(db)
            .await?;
    Ok(version.unwrap_or(0))
}
