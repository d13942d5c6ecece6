//! Who the audit log names for a server-function call: the signed-in admin's email, from the
//! client's address (the one the rate limits key, `coupon_access::client_address`).

use coupon::audit::{Actor, AuditEvent};
use coupon_access::AdminIdentity;
use leptos::prelude::ServerFnError;

/// The actor of an admin's call (after `require_admin`).
pub fn admin_actor(admin: &AdminIdentity) -> Actor {
    Actor::admin(&admin.email, super::client_address())
}

/// Records an action that changes nothing in the engine's tables (a sign-in), before it takes
/// effect: when the entry cannot be written the call fails (503), so nothing happens unrecorded.
pub async fn record(by: &Actor, event: &AuditEvent) -> Result<(), ServerFnError> {
    super::engine()?
        .record_audit(by, event)
        .await
        .map_err(super::unavailable)
}
