//! Typed access to the session: who is signed in as an admin, and which member is claiming.
//! Keys live here as constants so no other code touches session data by string.

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

/// The session of the current server-function request.
///
/// Taken from the request parts in place (what `leptos_axum::extract` would do after copying
/// every header and extension of the request first, on every claim).
pub async fn current() -> Result<Session, leptos::prelude::ServerFnError> {
    leptos::prelude::with_context(|parts: &axum::http::request::Parts| {
        parts.extensions.get::<Session>().cloned()
    })
    .flatten()
    .ok_or_else(|| {
        leptos::prelude::ServerFnError::new("no session: the session layer is not installed")
    })
}

/// The signed-in admin, or a 401 error: every admin server function starts with this. The
/// session's admin must still be in the `admins` table (see `admin_check`).
pub async fn require_admin() -> Result<AdminIdentity, leptos::prelude::ServerFnError> {
    let session = current().await?;
    let identity = match admin(&session).await {
        Some(identity) => identity,
        None => return Err(not_admin()),
    };
    let engine = super::engine()?;
    match super::admin_check::is_still_admin(engine.db(), identity.id).await {
        Ok(true) => Ok(identity),
        Ok(false) => {
            tracing::warn!(admin = %identity.email, "a removed admin's session was refused");
            let _ = session.flush().await;
            Err(not_admin())
        }
        Err(error) => Err(super::unavailable(error.into())),
    }
}

fn not_admin() -> leptos::prelude::ServerFnError {
    super::set_status(401);
    leptos::prelude::ServerFnError::new("sign in as an admin first")
}
