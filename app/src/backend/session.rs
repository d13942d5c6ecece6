//! The session of a server-function call: found in the request, and checked for an admin the
//! `admins` table still has. The typed session access itself is `coupon_access::session`,
//! re-exported here so that a server function finds everything about its session in one place.

pub use coupon_access::session::{
    AdminIdentity, admin, member, sign_in_admin, sign_in_member, sign_out,
};
use leptos::prelude::{ServerFnError, with_context};
use tower_sessions::Session;

/// The session of the current server-function request.
///
/// Taken from the request parts in place (what `leptos_axum::extract` would do after copying
/// every header and extension of the request first, on every claim).
pub async fn current() -> Result<Session, ServerFnError> {
    with_context(|parts: &axum::http::request::Parts| parts.extensions.get::<Session>().cloned())
        .flatten()
        .ok_or_else(|| ServerFnError::new("no session: the session layer is not installed"))
}

/// The signed-in admin, or a 401 error: every admin server function starts with this. The
/// session's admin must still be in the `admins` table (see `coupon_access::admin_check`).
pub async fn require_admin() -> Result<AdminIdentity, ServerFnError> {
    let session = current().await?;
    let identity = match admin(&session).await {
        Some(identity) => identity,
        None => return Err(not_admin()),
    };
    let admins = super::access()?.admins;
    match admins.is_still_admin(identity.id).await {
        Ok(true) => Ok(identity),
        Ok(false) => {
            tracing::warn!(admin = %identity.email, "a removed admin's session was refused");
            let _ = session.flush().await;
            Err(not_admin())
        }
        Err(error) => Err(super::unavailable(error.into())),
    }
}

fn not_admin() -> ServerFnError {
    super::set_status(401);
    ServerFnError::new("sign in as an admin first")
}
