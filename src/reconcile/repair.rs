//! Verifying a campaign's Redis state against the record under the campaign's row lock, and
//! repairing it when it disagrees: rebuilt when Redis lost it, merged with the recorded holders
//! when it came back *older* (a crash that lost the last second of writes, a failover to a
//! replica that was behind), numbering continued above every reserved number when another
//! Redis verified it last, converted when an older release wrote it, and its status, window and
//! quantity put back to the record's when a control reached only one side. One atomic call of
//! repair.lua writes it all, or nothing when Redis changed meanwhile.
//!
//! Who asks: a load (`load.rs`: a claim or lookup that found the state not ready, a new
//! campaign), the sync's round and its renumbering (`Engine::verify_campaign`), and every
//! control before it changes a campaign (src/control.rs), all holding the row `FOR UPDATE`.

use super::reservations;
use super::view::{Standing, StateView};
use crate::campaign::{Campaign, CampaignId};
use crate::engine::{Engine, random_token};
use crate::error::EngineError;
use crate::reconcile::verifications;
use crate::redis::CampaignKeys;
use crate::store::campaigns;
use crate::store::coupons;
use sqlx::PgConnection;

/// Holders are read from PostgreSQL and copied into Redis in pages of this many, so that no
/// command blocks Redis for long and no rebuild holds a million holders in memory.
const PAGE: i64 = 10_000;
/// A staging hash left behind by a crashed loader disappears on its own after this; it is set
/// with the first page, so a loader that dies mid-copy leaves nothing without a TTL.
const STAGING_TTL_SECONDS: i64 = 600;

impl Engine {
    /// Verifies `campaign` against the record and repairs its Redis state if it disagrees, from
    /// inside a transaction that holds its row `FOR UPDATE`.
    ///
    /// The lock orders this against sync batches (each holds the row `FOR SHARE` from before it
    /// reads the queue until it commits, so the rows of a batch in flight are counted) and
    /// against the marketer's controls. A repair records its version as the campaign's last
    /// verification before it writes (src/reconcile/verifications.rs): from then on coupons are
    /// recorded only from the state it stamps, so no batch read from another state (a deposed
    /// primary) lands behind its back.
    pub(crate) async fn verify_locked(
        &self,
        tx: &mut PgConnection,
        campaign: &Campaign,
    ) -> Result<(), EngineError> {
        let mut redis = self.redis();
        // The stamp written must be the identity of the Redis that was read, so it is read
        // first; a change after this leaves an old stamp behind, which claims refuse.
        let keys = CampaignKeys::new(campaign.id);
        let node = self.scripts().identity_for(&mut redis, &keys).await?;
        let view = StateView::read(&mut redis, &keys).await?;
        let recorded = coupons::highest_sequence(tx, campaign.id).await?;
        let verified = verifications::latest(tx, campaign.id).await?;
        let standing = view.against(campaign, recorded, verified, &node);
        if standing == Standing::Agrees {
            return Ok(());
        }
        // On Sentinel, only the primary the sentinels name now is written: a primary deposed by
        // a failover and restarted is a primary again until they turn it into a replica
        // (seconds), and an instance whose link has not followed the failover yet still reaches
        // it. Verified, it would answer claims and have its queue recorded beside the new
        // primary, whose verification did not see them.
        if !redis.is_named_primary().await? {
            tracing::warn!(
                campaign = %campaign.id,
                reached = ?redis.primary(),
                "not verified: the sentinels name another Redis primary than the one this \
                 instance reaches (a failover it has not followed yet)"
            );
            return Err(EngineError::Contended);
        }
        let (staging, continue_after) = match standing {
            Standing::Agrees => return Ok(()),
            Standing::OutOfStep | Standing::OldFormat => (None, 0),
            // Claims answered after the last write that reached this copy may be lost with
            // their numbers: numbering goes on above every number ever reserved.
            Standing::OtherRedis => {
                let available = (campaign.quantity - view.issued).max(0);
                let after =
                    reservations::reserve(self.reservations(), campaign.id, recorded, available)
                        .await?;
                (None, after)
            }
            Standing::Missing | Standing::Behind { .. } | Standing::Superseded => {
                let staging = CampaignKeys::loading(campaign.id, &random_token());
                let holders = self.stage_holders(tx, campaign.id, &staging).await?;
                let available = (campaign.quantity - holders).max(0);
                let after =
                    reservations::reserve(self.reservations(), campaign.id, recorded, available)
                        .await?;
                (Some(staging), after)
            }
        };
        // With nothing to add, a key of the campaign's slot that is never written.
        let staging = staging.unwrap_or_else(|| CampaignKeys::loading(campaign.id, "none"));
        // A version of its own, as a control's: a repair delayed past the row lock and a later
        // change (a stalled packet) must not write what it read over that change.
        let version = campaigns::take_control_version(tx).await?;
        // Recorded (and committed) before the state is stamped with it: from now on no coupon
        // is recorded from a state that does not carry it.
        verifications::raise(self.reservations(), campaign.id, version).await?;
        let claimed: i64 = self
            .scripts()
            .call(&self.scripts().repair)
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .key(&staging)
            .key(&keys.queue)
            .key(CampaignKeys::converting(campaign.id))
            .arg(campaign.status.as_str())
            .arg(campaign.claim_starts_at.timestamp_millis())
            .arg(campaign.claim_ends_at.timestamp_millis())
            .arg(campaign.quantity)
            .arg(continue_after)
            .arg(&*node.run)
            .arg(version.0)
            .arg(&*node.replid)
            .invoke(&mut redis)
            .await?;
        if claimed < 0 {
            // Redis changed under the verification, or a newer control is there: nothing was
            // written, and the next load or round judges the state again.
            tracing::info!(
                campaign = %campaign.id,
                reply = claimed,
                "repair not applied: Redis changed or a newer control reached it meanwhile"
            );
            return Err(EngineError::Contended);
        }
        crate::metrics::state_repaired(standing.name());
        match standing {
            Standing::Missing => tracing::info!(
                campaign = %campaign.id,
                claimed,
                "claim state loaded into Redis from PostgreSQL"
            ),
            _ => tracing::warn!(
                campaign = %campaign.id,
                found = standing.name(),
                ?standing,
                claimed,
                continue_after,
                "claim state in Redis disagreed with PostgreSQL: repaired"
            ),
        }
        Ok(())
    }

    /// Copies every recorded holder of `campaign` and their sequence number into the hash
    /// `staging`, page by page (it expires from its first page on), then the members whose
    /// coupon the sync set aside (told "yours", refused by PostgreSQL: a rebuilt state must
    /// neither issue to them again nor hand their coupon to someone else); returns how many
    /// there are.
    async fn stage_holders(
        &self,
        tx: &mut PgConnection,
        campaign: CampaignId,
        staging: &str,
    ) -> Result<i64, EngineError> {
        let (mut after, mut holders) = (0, 0);
        loop {
            let page = coupons::holders_after(tx, campaign, after, PAGE).await?;
            if let Some((last, _)) = page.last() {
                after = *last;
            }
            holders += self.stage(staging, &page).await?;
            if page.len() < PAGE as usize {
                break;
            }
        }
        let set_aside = coupons::set_aside_holders(tx, campaign).await?;
        holders += self.stage(staging, &set_aside).await?;
        Ok(holders)
    }

    /// Adds holders (sequence, member) to the hash `staging`; how many.
    async fn stage(&self, staging: &str, page: &[(i64, String)]) -> Result<i64, EngineError> {
        if page.is_empty() {
            return Ok(0);
        }
        let holders_page: Vec<(&str, String)> = page
            .iter()
            .map(|(sequence, user)| (user.as_str(), format!("{sequence:x}")))
            .collect();
        let _: () = redis::pipe()
            .hset_multiple(staging, &holders_page)
            .ignore()
            .expire(staging, STAGING_TTL_SECONDS)
            .ignore()
            .query_async(&mut self.redis())
            .await?;
        Ok(page.len() as i64)
    }
}
