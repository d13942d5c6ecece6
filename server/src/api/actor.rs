//! Who the audit log names for a JSON API request: `api` (whoever holds the key), from the
//! client's address as the rate limits see it (`coupon_access::client_address`: behind the
//! trusted proxies, the hop they appended).

use super::ApiState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use coupon::audit::Actor;
use std::convert::Infallible;

/// The actor of this request; never refuses (the API key was checked before any handler runs).
pub struct ApiActor(pub Actor);

impl FromRequestParts<ApiState> for ApiActor {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(Actor::api(state.access.client_of(parts))))
    }
}
