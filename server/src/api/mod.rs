//! The JSON API for shop backends, under `/api/v1`, behind an API key; and beside it, without
//! one, the bot check's challenges the claim page asks for. What the API changes is recorded in
//! the audit log as `api`'s (actor.rs).

mod actor;
mod audit;
mod auth;
mod campaigns;
mod challenge;
mod claims;
mod controls;
mod coupons;
mod error;
mod extract;

pub use audit::filter_of as audit_filter_of;
pub use auth::ApiKey;
pub use error::ApiError;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use coupon::Engine;
use coupon_access::Access;
use coupon_access::limits::RateLimits;

/// Largest request body the API reads; a campaign or a claim is far smaller.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The API's routes, to be nested at `/api/v1`. All need the API key but the bot check's
/// challenge, which browsers ask for (also when the API is disabled: the claim page needs it).
pub fn routes<S: Clone + Send + Sync + 'static>(
    engine: Engine,
    key: ApiKey,
    access: Access,
) -> Router<S> {
    let state = ApiState {
        engine,
        limits: access.limits.clone(),
        access,
    };
    let public: Router<S> = Router::new()
        .route("/campaigns/{id}/challenge", get(challenge::challenge))
        .with_state(state.clone());
    let keyed: Router<S> = Router::new()
        .route("/campaigns", post(campaigns::create))
        .route(
            "/campaigns/{id}",
            get(campaigns::status).patch(controls::change_quantity),
        )
        .route("/campaigns/{id}/pause", post(controls::pause))
        .route("/campaigns/{id}/resume", post(controls::resume))
        .route("/campaigns/{id}/end", post(controls::end))
        .route("/campaigns/{id}/draw", get(campaigns::draw))
        .route("/campaigns/{id}/fairness", get(campaigns::fairness))
        .route("/campaigns/{id}/claims", post(claims::claim))
        .route("/campaigns/{id}/claims/{user_id}", get(claims::find))
        .route("/audit-events", get(audit::list))
        .route("/coupons/{code}", get(coupons::find))
        .route("/coupons/{code}/validate", post(coupons::validate))
        .route("/coupons/{code}/holds", post(coupons::hold))
        .route("/coupons/{code}/redemptions", post(coupons::redeem))
        .route(
            "/coupons/{code}/redemptions/{order_id}",
            delete(coupons::release),
        )
        .fallback(|| async { ApiError::NotFound("no such API route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            key,
            auth::require_api_key,
        ))
        .with_state(state);
    public.merge(keyed)
}

/// What the API handlers share.
#[derive(Clone, axum::extract::FromRef)]
pub struct ApiState {
    engine: Engine,
    limits: RateLimits,
    /// The client address of a request (for the audit log), behind the trusted proxies.
    access: Access,
}
