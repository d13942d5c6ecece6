//! Extractors whose rejections are API errors: JSON bodies and numeric path ids.

use super::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use coupon::CampaignId;
use serde::de::DeserializeOwned;

/// A JSON body; a syntax error, a missing or wrong-typed field, or an oversized body becomes
/// a JSON error naming the problem.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

fn reject(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::Malformed("the body must be JSON with Content-Type: application/json".into())
        }
        _ => ApiError::Malformed(text),
    }
}

/// The `{id}` of a campaign route; anything but a positive whole number is a 404.
pub struct CampaignPath(pub CampaignId);

impl<S: Send + Sync> FromRequestParts<S> for CampaignPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("no such campaign"))?;
        params
            .iter()
            .find(|(name, _)| name == "id")
            .and_then(|(_, raw)| raw.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(|id| Self(CampaignId(id)))
            .ok_or(ApiError::NotFound("no such campaign"))
    }
}
