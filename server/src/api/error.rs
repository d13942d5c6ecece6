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
    /// 404 with a code of its own (`unknown_code`, `not_held`), for clients that branch on it.
    Missing {
        code: &'static str,
        message: &'static str,
    },
    /// 429: too many attempts; retry after the given time.
    RateLimited(std::time::Duration),
    /// 409 with a code of its own (`draw_not_done`): the request comes too early.
    Conflict {
        code: &'static str,
        message: &'static str,
    },
    /// 404 `not_drawn`: the member entered the fair draw and was not drawn; `digest` is their
    /// place in it (hex), which they can check against the published cutoff.
    NotDrawn { digest: String },
    /// 503 `draw_in_progress` with `Retry-After: 1`: the campaign's fair draw is running; its
    /// claims and lookups are answered once every winner's coupon is in the record.
    DrawInProgress,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a str>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_request"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Missing { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::NotDrawn { .. } => (StatusCode::NOT_FOUND, "not_drawn"),
            Self::DrawInProgress => (StatusCode::SERVICE_UNAVAILABLE, "draw_in_progress"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Unauthorized(why) | Self::NotFound(why) => (*why).to_owned(),
            Self::Missing { message, .. } | Self::Conflict { message, .. } => (*message).to_owned(),
            Self::NotDrawn { .. } => "this member entered the draw and was not drawn: their \
                 digest comes after the published cutoff"
                .to_owned(),
            Self::DrawInProgress => "the draw is in progress; try again in a moment".to_owned(),
            Self::Malformed(why) | Self::TooLarge(why) => why.clone(),
            Self::Invalid(fields) => fields
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Self::RateLimited(after) => format!(
                "too many claims for this user; retry in {} s",
                after.as_secs().max(1)
            ),
            Self::Unavailable => {
                "the service is temporarily unavailable; try again shortly".to_owned()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let fields = match &self {
            Self::Invalid(fields) => &fields[..],
            _ => &[],
        };
        let digest = match &self {
            Self::NotDrawn { digest } => Some(digest.as_str()),
            _ => None,
        };
        let body = Body {
            error: Detail {
                code,
                message: self.message(),
                fields,
                digest,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::DrawInProgress = &self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        if let Self::RateLimited(after) = &self
            && let Ok(value) = after.as_secs().max(1).to_string().parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Invalid(errors) => Self::Invalid(errors.0),
            EngineError::DrawInProgress(_) => Self::DrawInProgress,
            // Logged once per batch where it failed (src/draw/entries.rs).
            EngineError::EntryUndecided => Self::Unavailable,
            // Counted in /metrics: not worth a log line a claim.
            shed if shed.is_shed() => Self::Unavailable,
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
