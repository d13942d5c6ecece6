//! Server-side helpers of the server functions (compiled with `ssr` only): the engine and the
//! access checks from context, the session and member of the call, and conversions from engine
//! values to page values. Who may do what is decided in `coupon_access`; what is here only
//! finds its handle in the Leptos context and turns its answers into server-function errors.

pub mod audit;
pub mod member;
pub mod session;

use crate::api::{CampaignView, FieldProblem, LiveNumbers, PublicNumbers};
use coupon::{Campaign, Engine, EngineError, StatusReport};
use coupon_access::limits::{LimitRefusal, Limited, RateLimits};
use coupon_access::{Access, MemberSources};
use leptos::prelude::*;

/// The engine the server put into the context of every request.
pub fn engine() -> Result<Engine, ServerFnError> {
    use_context::<Engine>().ok_or_else(|| ServerFnError::new("the engine is not configured"))
}

/// Turns an infrastructure failure into a server-function error the page can show, logging
/// the detail once here rather than sending it to the browser.
pub fn unavailable(error: EngineError) -> ServerFnError {
    tracing::error!(%error, "engine call failed");
    set_status(503);
    ServerFnError::new("the service is temporarily unavailable; please try again")
}

/// Sets the HTTP status of the server function's response.
pub fn set_status(code: u16) {
    if let (Some(options), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(code),
    ) {
        options.set_status(status);
    }
}

/// The field problems of invalid input, or `None` for any other failure.
pub fn field_problems(error: &EngineError) -> Option<Vec<FieldProblem>> {
    match error {
        EngineError::Invalid(errors) => Some(
            errors
                .0
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
        ),
        _ => None,
    }
}

use chrono::SubsecRound;

impl From<&Campaign> for CampaignView {
    fn from(c: &Campaign) -> Self {
        Self {
            id: c.id.0,
            name: c.name.clone(),
            discount_kind: c.discount.kind.as_str().to_owned(),
            discount_amount: c.discount.amount,
            quantity: c.quantity,
            // Milliseconds, as the browser receives them: the server's render and the hydrating
            // browser then choose the same countdown phase.
            claim_starts_at: c.claim_starts_at.trunc_subsecs(3),
            claim_ends_at: c.claim_ends_at.trunc_subsecs(3),
            valid_days: c.valid_days,
            status: c.status.as_str().to_owned(),
            entries_open_at: c
                .entries_open_at
                .filter(|_| c.is_fair_draw())
                .map(|at| at.trunc_subsecs(3)),
            bot_check_bits: c.bot_check_bits,
        }
    }
}

impl LiveNumbers {
    /// The numbers of a status report; the claims-per-second history is added by the caller.
    pub fn from_report(report: &StatusReport, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            status: report.campaign.status.as_str().to_owned(),
            quantity: report.quantity,
            remaining: report.remaining,
            claimed: report.claimed,
            queued: report.queued,
            oldest_waiting_ms: report
                .oldest_queued_at
                .map(|at| (now - at).num_milliseconds().max(0)),
            synced: report.synced,
            redeemed: report.checkout.redeemed,
            held: report.checkout.held,
            expired: report.checkout.expired,
            discount_granted: report.checkout.discount_granted,
            last_synced_at: report.last_synced_at,
            last_sync_error: report.last_sync_error.clone(),
            replicas_missing: report.replicas_missing.clone(),
            redis_node: report.redis_node.clone(),
            per_second: Vec::new(),
            // The recorded count once the draw is completed; the live count is the caller's.
            entrants: report.draw.as_ref().and_then(|draw| draw.entrants),
        }
    }

    /// What end users may see of these numbers.
    pub fn public(&self) -> PublicNumbers {
        PublicNumbers {
            status: self.status.clone(),
            quantity: self.quantity,
            remaining: self.remaining,
            entrants: self.entrants,
            // Not among these numbers: the public feed reads it (server/src/live.rs).
            draw_completed: false,
        }
    }
}

/// Reads the access handle the server put into the context, in place (a copy of the whole
/// handle would cost every claim a reference count per part).
fn with_access<T>(read: impl FnOnce(&Access) -> T) -> Option<T> {
    with_context(read)
}

/// The access handle, for the server functions that need more than one of its parts.
pub fn access() -> Result<Access, ServerFnError> {
    with_access(Access::clone).ok_or_else(|| ServerFnError::new("access is not configured"))
}

/// The rate limits the server put into the context.
pub fn limits() -> Result<RateLimits, ServerFnError> {
    with_access(|access| access.limits.clone())
        .ok_or_else(|| ServerFnError::new("rate limits are not configured"))
}

/// Where members come from; none configured if the server put no access into the context.
pub fn member_sources() -> MemberSources {
    with_access(|access| access.members.clone()).unwrap_or_default()
}

/// The address of the client calling this server function (see `coupon_access::client_address`
/// for the rule).
pub fn client_address() -> Option<std::net::IpAddr> {
    let (members, trust_forwarded_for) =
        with_access(|access| (access.members.clone(), access.trust_forwarded_for))
            .unwrap_or_default();
    // Read in place: taking the parts out of the context would copy every header and extension
    // of the request, on every claim.
    with_context(|parts: &axum::http::request::Parts| {
        coupon_access::client_address::client_of(
            &members.trusted_proxies,
            trust_forwarded_for,
            parts,
        )
    })
    .flatten()
}

/// Answers a refused attempt: 429 with `Retry-After` over a limit, 503 when the limits could
/// not be read.
pub fn refused(refusal: LimitRefusal) -> ServerFnError {
    match refusal {
        LimitRefusal::Limited(limited) => too_many(limited),
        LimitRefusal::Unavailable(error) => {
            tracing::error!(%error, "rate limits unreadable: attempt refused");
            set_status(503);
            ServerFnError::new("the service is temporarily unavailable; please try again")
        }
    }
}

/// Answers 429 with `Retry-After`, for a refused attempt.
pub fn too_many(limited: Limited) -> ServerFnError {
    set_status(429);
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        let seconds = limited.retry_after.as_secs().max(1);
        if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
            options.insert_header(axum::http::header::RETRY_AFTER, value);
        }
    }
    ServerFnError::new(format!(
        "too many attempts; try again in {} s",
        limited.retry_after.as_secs().max(1)
    ))
}
