//! Access: who is asking, and whether to let them through. Kept apart from the UI so that the
//! server functions (in `app`) and the axum server (in `server`) ask the same code the same
//! questions, and so that none of it (argon2, sqlx, redis) ever reaches the browser's wasm.
//!
//! Layout:
//! - [`Access`] (`handle.rs`): the handle the server keeps in its state and puts into the
//!   context of every server-function call, built once from [`AccessSettings`].
//! - Members: [`member`] (where a request's member comes from), [`member_token`] (signed
//!   tokens: an HS256 secret, PEM keys, a JWKS), [`proxies`] (`TRUSTED_PROXIES`) and
//!   [`client_address`] (the client behind them).
//! - Admins: [`accounts`] (the `admins` table, argon2id hashes), [`passwords`] (hashing),
//!   [`password_checks`] (the bounded queue sign-ins wait in), [`admin_check`] (whether a
//!   signed-in admin still is one) and [`session`] (typed access to the session).
//! - [`limits`]: the rate limits, counted in Redis across every instance.
//!
//! Nothing here keeps state in a `static`: every cache belongs to a value the server owns, so
//! two servers in one process (as in the tests) never share one.

pub mod accounts;
pub mod admin_check;
pub mod client_address;
mod handle;
pub mod limits;
pub mod member;
pub mod member_token;
pub mod password_checks;
pub mod passwords;
pub mod proxies;
pub mod session;

pub use admin_check::AdminCheck;
pub use handle::{Access, AccessSettings};
pub use limits::{LimitRefusal, LimitSettings, Limited, RateLimits};
pub use member::{MemberOf, MemberSources};
pub use password_checks::{HashingSettings, PasswordChecks};
pub use session::AdminIdentity;
