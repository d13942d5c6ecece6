//! Typed access to the session: who is signed in as an admin, and which member is claiming.
//! Keys live here as constants so no other code touches session data by string. The server
//! functions reach the session through `app`'s `backend::session`, the axum handlers through
//! their `Session` extractor; both read and write it with these.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const ADMIN_KEY: &str = "admin";
/// Where the member id lives in the session (the benchmark writes sessions with it too).
pub const MEMBER_KEY: &str = "member";

/// A signed-in marketer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminIdentity {
    pub id: i64,
    pub email: String,
}

/// The admin signed in on this session, if any. A broken session reads as signed out.
pub async fn admin(session: &Session) -> Option<AdminIdentity> {
    session.get(ADMIN_KEY).await.ok().flatten()
}

/// Signs `admin` in, with a fresh session id so that an id planted before sign-in is useless.
pub async fn sign_in_admin(
    session: &Session,
    admin: &AdminIdentity,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(ADMIN_KEY, admin).await
}

/// The member id this session claims for, if any.
pub async fn member(session: &Session) -> Option<String> {
    session.get(MEMBER_KEY).await.ok().flatten()
}

/// Remembers the member id for `lifetime` from now (a member token's link, or the demo
/// sign-in), with a fresh session id.
pub async fn sign_in_member(
    session: &Session,
    member: &str,
    lifetime: std::time::Duration,
) -> Result<(), tower_sessions::session::Error> {
    use tower_sessions::cookie::time::Duration;
    session.cycle_id().await?;
    let lifetime = Duration::try_from(lifetime).unwrap_or(Duration::hours(1));
    session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(lifetime)));
    session.insert(MEMBER_KEY, member).await
}

/// Forgets everything: admin and member.
pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}
