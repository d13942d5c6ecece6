//! PostgreSQL: the durable record of campaigns and issued coupons.
//!
//! Queries are plain `sqlx::query` calls (not the compile-time checked macros) so that building
//! the project never needs a running database.
//!
//! One table is written elsewhere, by the rule it serves: `campaign_sequence_ceilings`, the
//! sequence numbers reserved before Redis may hand them out (src/reconcile/reservations.rs).
//! `audit_events` (audit.rs) is written through src/audit/, in the transaction of the change an
//! entry describes where there is one.

pub mod audit;
pub mod campaigns;
pub mod code_key;
pub mod coupons;
pub mod draws;
pub mod redemptions;

/// The embedded migrations (`migrations/` at the project root).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
