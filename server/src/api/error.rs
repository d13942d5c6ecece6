//! The JSON API's errors: one enum, each variant with the status it answers. Every error body
//! is `{"error": {"code": …, "message": …, "fields": [...]}}`, so clients can branch on `code`
//! and show `message`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coupon::{EngineError, FieldError};
use serde::Serialize;

/// Why an API request was refused or failed.
#[derive(Debug)]
pub enum ApiError {
    /// 401: no or wrong API key.
    Unauthorized(&'static str),
    /// 400: the body is not JSON of the expected shape (the message names the field).
    Malformed(String),
    /// 413: the body is larger than the API accepts.
    TooLarge(String),
    /// 422: fields that break a rule; nothing was written.
    Invalid(Vec<FieldError>),
    /// 404: no such campaign (or coupon).
    NotFound(&'static str),
    /// 503: Redis or PostgreSQL is unreachable; the client should retry.
    Unavailable,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, fields) = match &self {
            Self::Unauthorized(why) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                why.to_string(),
                &[][..],
            ),
            Self::Malformed(why) => (
                StatusCode::BAD_REQUEST,
                "malformed_request",
                why.clone(),
                &[][..],
            ),
            Self::TooLarge(why) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                why.clone(),
                &[][..],
            ),
            Self::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                &fields[..],
            ),
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                what.to_string(),
                &[][..],
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is temporarily unavailable; try again shortly".to_string(),
                &[][..],
            ),
        };
        let body = Body {
            error: Detail {
                code,
                message,
                fields,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Invalid(errors) => Self::Invalid(errors.0),
            other => {
                // Logged once here; the client gets no internals.
                tracing::error!(error = %other, "API request failed");
                Self::Unavailable
            }
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}
