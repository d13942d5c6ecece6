//! Admin sign-in and sign-out. Sign-ins and failed sign-ins are recorded in the audit log.

use leptos::prelude::*;

/// Signs a marketer in. `Ok(false)` means wrong email or password (the same answer for both,
/// so the form cannot be used to find out which accounts exist).
///
/// The attempt is counted against the limits before its password is checked, and then waits
/// for the hashing in a bounded queue: a burst of attempts gets 429s beyond the limit and beyond
/// the queue, instead of all being hashed in front of the real admin.
///
/// Every attempt whose password was checked is recorded: `admin.sign_in_failed` under the email
/// typed, `admin.signed_in` under the admin's. Attempts refused by the limits before that are
/// not (they are what the limits exist to make cheap; the limits count them).
#[server(endpoint = "admin_sign_in")]
pub async fn admin_sign_in(email: String, password: String) -> Result<bool, ServerFnError> {
    use crate::backend::audit::record;
    use crate::backend::{access, client_address, engine, refused, session, too_many, unavailable};
    use coupon::audit::{Actor, AuditAction, AuditEvent};
    use coupon_access::accounts;
    // Before anything is counted: the email becomes part of the limits' Redis keys.
    if email.len() > accounts::MOST_EMAIL_BYTES {
        return Err(email_too_long());
    }
    let access = access()?;
    let (limits, checks) = (&access.limits, &access.password_checks);
    let engine = engine()?;
    let address = client_address();
    let attempt = limits
        .sign_in_attempt(&email, address)
        .await
        .map_err(refused)?;
    let turn = checks.queue(address).map_err(too_many)?;
    let found = accounts::authenticate(engine.db(), turn, &email, &password)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let Some(admin) = found else {
        tracing::info!("admin sign-in refused: wrong email or password");
        let failed = AuditEvent::of(AuditAction::AdminSignInFailed);
        record(&Actor::signing_in(&email, address), &failed).await?;
        return Ok(false);
    };
    // Recorded before any of it takes effect: a sign-in the log cannot name does not happen.
    let signed_in = AuditEvent::of(AuditAction::AdminSignedIn);
    record(&Actor::admin(&admin.email, address), &signed_in).await?;
    if let Err(error) = limits.sign_in_succeeded(attempt).await {
        // The admin is who they said; the attempt only counts a little longer against them.
        tracing::warn!(%error, "a successful sign-in stayed counted against the limits");
    }
    session::sign_in_admin(&session::current().await?, &admin)
        .await
        .map_err(session_unsaved)?;
    tracing::info!(admin = %admin.email, "admin signed in");
    Ok(true)
}

/// An email longer than any address can be: 422, naming the field.
#[cfg(feature = "ssr")]
fn email_too_long() -> ServerFnError {
    crate::backend::set_status(422);
    ServerFnError::new(format!(
        "email: at most {} bytes",
        coupon_access::accounts::MOST_EMAIL_BYTES
    ))
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
