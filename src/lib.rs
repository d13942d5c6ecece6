//! The issuing engine of a first-come-first-served coupon system. No web code lives here.
//!
//! A claim is one atomic Lua script in Redis: it checks the campaign's status and window, the
//! user's previous claim and the stock, then decrements the counter, remembers the user and
//! enqueues the issued coupon, all or nothing. A background sync moves the queue into PostgreSQL
//! (the record) in batches, removing entries only after they are committed, so an acknowledged
//! claim is never lost and never recorded twice. If Redis loses a campaign's state, it is
//! rebuilt from PostgreSQL before that campaign answers claims again.
//!
//! Layout:
//! - [`campaign`], [`user`], [`validation`]: the domain model and its input rules.
//! - [`code`]: coupon codes, made from (campaign, sequence) under the deployment's key.
//! - [`Engine`]: the handle (Redis connection, PostgreSQL pool, settings) whose methods are the
//!   engine's API: `create_campaign`, `claim`, `status`, `load_campaign`.
//! - [`redis`](mod@crate::redis): key names and the Lua scripts (`src/redis/lua/*.lua`).
//! - [`store`]: PostgreSQL tables and migrations.
//! - [`sync`]: the queue drain, its crash-safe steps and the background loop.
//! - `reconcile`: the rules that keep Redis in agreement with the record; today the controls'
//!   fenced writes (`reconcile::fence`).
//!
//! Beside it in the workspace: `access/` (who may do what: member identity, admin accounts, the
//! admin check, rate limits), `app/` (the Leptos UI) and `server/` (the axum binary).

pub mod campaign;
mod campaigns;
mod claim;
pub mod code;
mod control;
mod engine;
mod error;
mod health;
mod loader;
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

pub use campaign::{Campaign, CampaignDraft, CampaignId, CampaignStatus};
pub use claim::{ClaimAck, ClaimOutcome, MOST_CLAIMS_WAITING};
pub use engine::{Engine, RedisSettings, SyncSettings};
pub use error::EngineError;
pub use health::Readiness;
pub use lookup::HeldCoupon;
pub use status::{PublicStatus, StatusReport};
pub use user::UserId;
pub use validation::{FieldError, ValidationErrors};
