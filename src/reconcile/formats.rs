//! The format of a campaign's Redis state, and what remains of the older ones.
//!
//! Operators upgrade without flushing Redis, so a state an older release wrote is read or
//! converted where it is met. Each older form below names where it is handled and when that
//! code can go: once no Redis the deployment uses can still hold it. Campaigns the sync still
//! watches are seen by every round; a campaign drained before the upgrade is seen only by its
//! next claim, lookup or control, so "every campaign" below means every campaign whose keys are
//! still in Redis (delete those of long-finished campaigns, or load each once, before deleting
//! a conversion).
//!
//! - **Format 1** (commits before 80fa95c): `issued` a SET of users, no `format` in meta.
//!   Handled by [`MetaView::is_current_format`] (such a state is not ready: view.rs
//!   `Standing::OldFormat`, the round's check in `disagreement.rs`), [`count_issued`] (and
//!   src/status.rs `issued_kinds`, which reads the key's type for it), repair.lua's conversion
//!   (the `TYPE … == 'set'` block and its scratch key, `CampaignKeys::converting`), lookup.lua's
//!   reply 3 (src/lookup.rs `Located::OldFormat`: load, then ask again), and the `0` a converted
//!   member gets in the issued hash (lookup.lua sends it to PostgreSQL). Deletable when every
//!   campaign in Redis was loaded, verified or converted once by a release from 80fa95c on;
//!   the `0` values only when no campaign converted from format 1 has keys left. The format
//!   checks of claim.lua and set_quantity.lua stay: they guard the next format change.
//!   tests/state_format.rs and tests/fixtures/claim_previous_release.lua go with it.
//! - **Meta without `control`** (written before 48c53a6): set_status.lua, set_quantity.lua and
//!   repair.lua read a missing version as 0 (`or '0'`), below any control's. Deletable when
//!   every meta hash in Redis was written by repair.lua from 48c53a6 on: such a meta was also
//!   stamped before replication ids (below), so the first load or round of a release from
//!   8ada0a3 on repairs it, and the repair writes `control`.
//! - **Stamps without `replid`** (verified before 8ada0a3): no code of their own. `MetaView`
//!   reads the missing field as `None`, which no node's identity matches, so the state counts
//!   as verified by another Redis and is verified again (tests/stale_state.rs). Nothing to delete.
//! - **Queue entries carrying their code** `seq⇥ms_since_open⇥code⇥user` (queued before
//!   2ca04db, when codes were drawn at random): src/sync/queued_coupon.rs keeps the code the
//!   member was told; repair.lua's format-1 conversion reads the member from the last field
//!   either way. Deletable when every queue in Redis was drained past the upgrade (the sync
//!   trims in order: a queue whose head a later release wrote holds none).

use super::view::MetaView;
use crate::redis::CampaignKeys;

/// The format of the state this release writes (the meta hash's `format`): 2 keeps each issued
/// user's sequence number (`issued` is a hash); before it, `issued` was a set of users and meta
/// had no `format`. claim.lua and set_quantity.lua answer "not loaded" for any other, so an
/// older state is converted (repair.lua) before its next claim.
pub const STATE_FORMAT: i64 = 2;

impl MetaView {
    /// Whether the state is in the format this release reads.
    pub fn is_current_format(&self) -> bool {
        self.format == Some(STATE_FORMAT)
    }
}

/// Adds the count of the users who hold a coupon to `pipe`, for an issued key of type `kind`:
/// the hash's fields, or the members of a set an older release left.
///
/// The set's branch goes with format 1 (see the module's list).
pub fn count_issued(pipe: &mut redis::Pipeline, keys: &CampaignKeys, kind: redis::ValueType) {
    match kind {
        redis::ValueType::Set => pipe.scard(&keys.issued),
        _ => pipe.hlen(&keys.issued),
    };
}
