//! The sync round's check: whether a campaign's Redis state, as the round read it (its meta
//! hash, in the same pipelined call as the queue lengths), may disagree with the record.
//!
//! Cheap and outside the row lock, so it only picks the campaigns to verify: a campaign it names
//! is verified under the lock (`load.rs`, `repair.rs`), which looks again and finds the state
//! agrees if the round read it stale. It is what catches what no claim shows: a state rolled back
//! in place (keys restored by an operator keep both identities), a control that reached only one
//! side, an older release's format on a campaign nobody claims from.

use super::identity::NodeIdentity;
use super::view::MetaView;
use crate::campaign::Campaign;

/// Whether the campaign's Redis state (loaded: a state not loaded is loaded by its next
/// claim) may disagree with the record: its last number is below `known_recorded`, the highest
/// the caller knows recorded (the drainer knows the record's highest for the campaigns it
/// drains), it was last verified by another Redis than `expected`, the one holding it, it is
/// in an older release's format, or its status, window or quantity differ.
pub(crate) fn disagrees(
    campaign: &Campaign,
    meta: &MetaView,
    known_recorded: Option<i64>,
    expected: Option<&NodeIdentity>,
) -> bool {
    if meta.status.is_none() {
        return false;
    }
    let behind = meta.seq.unwrap_or(0) < known_recorded.unwrap_or(0);
    // An unknown run id (no script call yet, a node that did not answer) is no finding:
    // the claims learn it before they are decided.
    let other_redis = expected.is_some_and(|node| !meta.stamped_by(node));
    behind || other_redis || !meta.is_current_format() || !meta.agrees_with(campaign)
}
