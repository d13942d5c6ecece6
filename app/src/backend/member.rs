//! The member a server-function call speaks for. The sources and their order are
//! `coupon_access::member`'s; this reads them from the call's context and falls back to the
//! session.

use axum::http::request::Parts;
pub use coupon_access::member::{MemberOf, MemberSources};
use leptos::prelude::{ServerFnError, with_context};

/// The member the current server-function request speaks for: by request (token, header),
/// else by session. `Err` is a refused token or header (the caller answers 401).
pub async fn current_member() -> Result<Option<MemberOf>, ServerFnError> {
    let sources = super::member_sources();
    let by_request =
        with_context(|parts: &Parts| sources.member_of_request(parts)).unwrap_or(Ok(None));
    match by_request {
        Ok(Some(member)) => return Ok(Some(MemberOf::Request(member))),
        Ok(None) => {}
        Err(refused) => {
            super::set_status(401);
            return Err(ServerFnError::new(refused.0));
        }
    }
    let session = super::session::current().await?;
    Ok(super::session::member(&session)
        .await
        .and_then(|member| coupon::UserId::parse(&member).ok())
        .map(MemberOf::Session))
}
