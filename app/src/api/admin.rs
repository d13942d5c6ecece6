//! Admin sign-in and sign-out.

use leptos::prelude::*;

/// Signs a marketer in. `Ok(false)` means wrong email or password (the same answer for both,
/// so the form cannot be used to find out which accounts exist).
#[server(endpoint = "admin_sign_in")]
pub async fn admin_sign_in(email: String, password: String) -> Result<bool, ServerFnError> {
    use crate::backend::{accounts, client_address, engine, limits, refused, session, unavailable};
    let limits = limits()?;
    let address = client_address();
    limits
        .sign_in_allowed(&email, address)
        .await
        .map_err(refused)?;
    let engine = engine()?;
    let found = accounts::authenticate(engine.db(), &email, &password)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let Some(admin) = found else {
        tracing::info!("admin sign-in refused: wrong email or password");
        limits
            .sign_in_failed(&email, address)
            .await
            .map_err(refused)?;
        return Ok(false);
    };
    session::sign_in_admin(&session::current().await?, &admin)
        .await
        .map_err(session_unsaved)?;
    tracing::info!(admin = %admin.email, "admin signed in");
    Ok(true)
}

/// Signs out whoever is signed in on this browser (admin and member).
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    use crate::backend::session;
    session::sign_out(&session::current().await?)
        .await
        .map_err(session_unsaved)
}

/// A session Redis did not take: logged here, a plain "try again" for the browser.
#[cfg(feature = "ssr")]
pub(crate) fn session_unsaved(error: tower_sessions::session::Error) -> ServerFnError {
    tracing::error!(%error, "session not saved");
    crate::backend::set_status(503);
    ServerFnError::new("the service is temporarily unavailable; please try again")
}

/// The signed-in admin's email, if any (pages use it to decide what to show; every admin
/// server function still checks on its own).
#[server(endpoint = "current_admin")]
pub async fn current_admin() -> Result<Option<String>, ServerFnError> {
    use crate::backend::session;
    Ok(session::admin(&session::current().await?)
        .await
        .map(|admin| admin.email))
}
