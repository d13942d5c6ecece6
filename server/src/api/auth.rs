//! `Authorization: Bearer <API_KEY>` for the shop backends, compared in constant time so the
//! response time leaks nothing about how much of a guess was right.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The configured key; `None` disables the API.
#[derive(Clone)]
pub struct ApiKey(pub Option<Arc<str>>);

/// Lets the request through only with the right key.
pub async fn require_api_key(State(key): State<ApiKey>, request: Request, next: Next) -> Response {
    let Some(expected) = key.0.as_deref() else {
        return ApiError::Unauthorized("the JSON API is disabled: the server has no API_KEY")
            .into_response();
    };
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => {
            next.run(request).await
        }
        Some(_) => ApiError::Unauthorized("wrong API key").into_response(),
        None => ApiError::Unauthorized("send the API key as Authorization: Bearer <key>")
            .into_response(),
    }
}
