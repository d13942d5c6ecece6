//! The promise "Redis agrees with the record", and the rules that keep it.
//!
//! PostgreSQL is the record; Redis answers claims from a copy of each campaign's state. That
//! copy can be lost (a flush, a restart without persistence), *older* than the record (a crash
//! that lost the last second of writes, a failover to a replica that was behind, a failback, keys
//! restored in place), out of step with it (a control that reached only one side), or written by
//! an older release. No claim is answered from such a state: it is found out and repaired from
//! the record first, without over-issue and without a recorded member or number handed out again.
//!
//! The rules, where each lives, and what sets it off:
//! - **Which Redis this is** (`identity.rs`): a node is its run id (the process) and its
//!   replication id (the history of its data), never guessed from `NOSCRIPT`. Every verified
//!   state is stamped with both. Read when a script call answers `NOSCRIPT` (a restarted or
//!   swapped Redis does not know this process's scripts: src/redis/scripts.rs reads the run id
//!   again before retrying), by every load and verification on the campaign's own node
//!   (`Scripts::identity_for`, identity.lua), and once a sync round (`ExpectedRuns`, every
//!   primary on a cluster); claim.lua reads its node's replication id itself on every call.
//! - **The stamp check on the claim path** (src/redis/lua/claim.lua): a state missing, stamped
//!   by another node, or not in this release's format is answered 0, "not ready"; the claim
//!   (src/claim/mod.rs) then loads the campaign and asks once more. The load first asks the same
//!   question from Rust (`StateView::is_ready_in`, `view.rs`).
//! - **Verification and repair** (`load.rs`, `repair.rs`, `view.rs`, `turns.rs`): under the
//!   campaign's row `FOR UPDATE`, the state is judged against the record (`Standing`: missing,
//!   behind, verified by another Redis, old format, out of step) and repair.lua rebuilds, merges,
//!   converts or corrects it in one atomic call, stamped for the node that was read. Set off by a
//!   claim answered 0, lookup.lua's "old format" (src/lookup.rs), a new campaign
//!   (src/campaign/api.rs), the round's check below, a batch that had to be renumbered, and every
//!   control before it writes (src/control.rs). One load per campaign per instance at a time.
//! - **The round's check** (`disagreement.rs`): every sync round, for every watched campaign,
//!   from the meta hash read with the queue lengths (src/sync/round.rs): a state behind the
//!   highest number recorded, stamped by another node, in an older format or out of step is
//!   verified. It finds what no claim shows, on campaigns nobody claims from.
//! - **Renumbering clashes** (`renumber.rs`): a queued coupon whose number the record holds for
//!   another member (claims answered from an older state before it was found out) gets a new
//!   number and code instead of jamming the sync. Asked by every sync batch before it commits
//!   (src/sync/drainer.rs); the campaign is verified after it.
//! - **Sequence reservations** (`reservations.rs`): numbers are reserved in PostgreSQL before
//!   Redis may hand them out, so no number, recorded or lost with Redis, is handed out twice.
//!   Taken by a repair that rebuilds a state or continues one another node verified, by a raised
//!   quantity (src/control.rs) and by renumbering.
//! - **Recording only from the verified state** (`verifications.rs`): each repair records its
//!   version as the campaign's last verification before it stamps the state with it; the sync's
//!   batches and a checkout's record-on-the-spot record queued coupons only from a state carrying
//!   that version, so a coupon read from another state (a deposed primary still reached by an
//!   instance that has not followed the failover) never lands behind the verified state's back.
//!   On Sentinel a repair writes only to the primary the sentinels name when it runs.
//! - **Old formats** (`formats.rs`): what a state written by an older release looks like, where
//!   it is read or converted, and when each conversion can be deleted.
//! - **The controls' write rule** ([`fence`]): every change of a campaign's status or quantity
//!   carries a version taken while it holds the campaign's row; Redis applies only a version
//!   above the one it holds, so no order of arrival can put an older change over a newer one.
//!   Repairs take a version the same way. Set off by every control (src/control.rs).
//!
//! Beside it, the sync's acknowledgment is fenced by the batch's own entries (acknowledge.lua,
//! src/sync/drainer.rs): a lease that survived a rollback cannot trim entries it never read.

mod disagreement;
pub(crate) mod fence;
mod formats;
mod identity;
mod load;
mod renumber;
mod repair;
pub(crate) mod reservations;
mod turns;
pub(crate) mod verifications;
mod view;

pub(crate) use disagreement::disagrees;
pub(crate) use formats::count_issued;
pub(crate) use identity::{ExpectedRuns, RedisIdentity};
pub(crate) use turns::LoadTurns;
pub(crate) use view::MetaView;
