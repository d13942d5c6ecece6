//! Moving issued coupons from the Redis queues into PostgreSQL.
//!
//! Delivery is at-least-once (entries leave Redis only after PostgreSQL committed them) and the
//! insert is idempotent (`ON CONFLICT (campaign_id, user_id) DO NOTHING`), so every acknowledged
//! claim ends up as exactly one row whatever crashes in between.
//!
//! - [`QueuedCoupon`]: one queue entry, as claim.lua writes it, read by [`QueueOf`].
//! - [`Drainer`]: one instance's drain of one campaign, split into the steps a crash can fall
//!   between (take a batch, commit it, acknowledge it).
//! - [`Drainer::sync_once`] (`round.rs`): one round over every campaign, which also verifies each
//!   campaign's Redis state against the record and repairs it when it came back older (the
//!   check, the repair and the renumbering of clashes live in src/reconcile/).
//! - `set_aside.rs`: an entry PostgreSQL refuses to record moves to `set_aside_coupons` with the
//!   reason, so it cannot stop its campaign's sync.
//! - [`run_sync_loop`]: the background task the server runs; a campaign whose visit fails backs
//!   off on its own (`backoff.rs`).

mod backoff;
mod drainer;
mod queued_coupon;
mod round;
mod set_aside;
mod worker;

pub use drainer::{Batch, CommittedBatch, Drainer, StepOutcome, SyncReport};
pub use queued_coupon::{QueueOf, QueuedCoupon};
pub use set_aside::{SetAsideCoupon, set_aside_coupons, set_aside_reasons};
pub use worker::run_sync_loop;
