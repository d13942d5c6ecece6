//! The promise "Redis agrees with the record", and the rules that keep it.
//!
//! - [`fence`]: the controls' write rule. Every change of a campaign's status or quantity
//!   carries a version taken while it holds the campaign's row; Redis applies only a version
//!   above the one it holds, so no order of arrival can put an older change over a newer one.
//!
//! Verification and repair of a campaign's whole state live in `src/loader/`, the per-round
//! comparison in `src/sync/round.rs`, and which Redis this instance talks to in
//! `src/redis/identity.rs`.

mod disagreement;
pub(crate) mod fence;
mod formats;
mod identity;
mod load;
mod renumber;
mod repair;
pub(crate) mod reservations;
mod turns;
mod view;

pub(crate) use disagreement::disagrees;
pub(crate) use formats::count_issued;
pub(crate) use identity::{ExpectedRuns, RedisIdentity};
pub(crate) use turns::LoadTurns;
pub(crate) use view::MetaView;
