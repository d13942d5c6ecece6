//! PostgreSQL: the durable record of campaigns and issued coupons.
//!
//! Queries are plain `sqlx::query` calls (not the compile-time checked macros) so that building
//! the project never needs a running database.

pub mod campaigns;
pub mod code_key;
pub mod coupons;
pub mod redemptions;
pub mod sequences;
pub mod verifications;

/// The embedded migrations (`migrations/` at the project root).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
