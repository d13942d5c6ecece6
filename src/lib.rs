//! The issuing engine of a first-come-first-served coupon system. No web code lives here.
//!
//! A claim is one atomic Lua script in Redis: it checks the campaign's status and window, the
//! user's previous claim and the stock, then decrements the counter, remembers the user and
//! enqueues the issued coupon, all or nothing. A background sync moves the queue into PostgreSQL
//! (the record) in batches, removing entries only after they are committed, so an acknowledged
//! claim is never lost and never recorded twice. If Redis loses a campaign's state, it is
//! rebuilt from PostgreSQL before that campaign answers claims again (`reconcile`).
//!
//! Layout, one line a module (`src/<name>.rs` or `src/<name>/`):
//! - [`campaign`]: campaigns as input and as stored, and the engine's calls that create and
//!   read them.
//! - [`audit`]: the audit log of admin actions (who, from where, what, before and after),
//!   written with the change it describes; its kinds, filters and pages.
//! - [`user`]: the member claiming a coupon ([`UserId`]).
//! - [`bot_check`]: the proof of work a campaign may ask of the web's claims and entries.
//! - [`validation`]: field errors, collected so that a form shows them all at once.
//! - [`text`]: what text people give us may contain (no invisible characters, one encoding).
//! - [`code`]: coupon codes, made from (campaign, sequence) under the deployment's key.
//! - `engine`: the [`Engine`] handle (Redis link, PostgreSQL pool, settings); its methods, the
//!   engine's API, live in the modules that own each job.
//! - `error`: [`EngineError`], the one error type of the engine, and which failures are
//!   retryable.
//! - `claim`: `Engine::claim`, claims coalesced into script calls per Redis node, replicated
//!   acknowledgments.
//! - `control`: the marketer's pause, resume, end and quantity changes on a running campaign.
//! - [`draw`]: fair draws: entries before the window, the draw at its start (issued through the
//!   same claim path, in the published order), commit-reveal of the order.
//! - `reconcile`: the one home of "Redis agrees with the record": the Redis identity, loading,
//!   verifying and repairing a campaign's state, the sync round's check, the renumbering of
//!   clashes, the sequence reservations, the older formats, the controls' fenced writes.
//! - `lookup`: who holds which coupon (a member's own code, a shop's check, the export).
//! - [`redeem`]: checkout: validate, hold, redeem and release a coupon, decided by PostgreSQL.
//! - `status`: the numbers a marketer and a claim page watch ([`StatusReport`],
//!   [`PublicStatus`]).
//! - `health`: whether this instance can serve claims and record them ([`Readiness`]).
//! - [`metrics`](mod@crate::metrics): what the engine reports to the `metrics` facade.
//! - [`redis`](mod@crate::redis): key names, the Lua scripts (`src/redis/lua/*.lua`) and the
//!   connection.
//! - [`store`]: PostgreSQL tables and migrations.
//! - [`sync`]: the queue drain, its crash-safe steps and the background loop.
//!
//! Beside it in the workspace: `access/` (who may do what: member identity, admin accounts, the
//! admin check, rate limits), `app/` (the Leptos UI) and `server/` (the axum binary).

pub mod audit;
pub mod bot_check;
pub mod campaign;
mod claim;
pub mod code;
mod control;
pub mod draw;
mod engine;
mod error;
mod health;
mod lookup;
pub mod metrics;
mod reconcile;
pub mod redeem;
pub mod redis;
mod status;
pub mod store;
pub mod sync;
pub mod text;
pub mod user;
pub mod validation;

pub use campaign::{Campaign, CampaignDraft, CampaignId, CampaignStatus, OpeningKind};
pub use claim::{ClaimAck, ClaimOutcome, MOST_CLAIMS_WAITING};
pub use engine::{Engine, RedisSettings, SyncSettings};
pub use error::EngineError;
pub use health::Readiness;
pub use lookup::HeldCoupon;
pub use status::{PublicStatus, StatusReport};
pub use user::UserId;
pub use validation::{FieldError, ValidationErrors};
