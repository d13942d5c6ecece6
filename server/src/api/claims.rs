//! `POST /api/v1/campaigns/{id}/claims` and `GET /api/v1/campaigns/{id}/claims/{user_id}`.

use super::error::ApiError;
use super::extract::{ApiJson, CampaignPath};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coupon::{ClaimOutcome, Engine, HeldCoupon, UserId};
use coupon_access::limits::{LimitRefusal, RateLimits};
use serde::Deserialize;

/// The claim request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    user_id: String,
}

/// Claims for `user_id`. 201 `issued` with `code` and `remaining`; 409 for a refusal
/// (`already_claimed`, `sold_out`, `not_open`, `ended`, `paused`); 404 for no such campaign;
/// 422 for a bad user id; 429 for a user claiming too often; 503 while Redis is unreachable. The body always has `outcome`.
pub async fn claim(
    State(engine): State<Engine>,
    State(limits): State<RateLimits>,
    CampaignPath(id): CampaignPath,
    ApiJson(request): ApiJson<ClaimRequest>,
) -> Result<Response, ApiError> {
    let user = UserId::parse(&request.user_id)?;
    limits
        .claim(user.as_str(), None)
        .await
        .map_err(|refusal| match refusal {
            LimitRefusal::Limited(limited) => ApiError::RateLimited(limited.retry_after),
            LimitRefusal::Unavailable(error) => {
                tracing::error!(%error, "rate limits unreadable: claim refused");
                ApiError::Unavailable
            }
        })?;
    let outcome = engine.claim(id, &user).await?;
    let status = match outcome {
        ClaimOutcome::Issued { .. } => StatusCode::CREATED,
        ClaimOutcome::UnknownCampaign => return Err(ApiError::NotFound("no such campaign")),
        _ => StatusCode::CONFLICT,
    };
    Ok((status, Json(outcome)).into_response())
}

/// The coupon `user_id` holds in the campaign: 200 with code, sequence, claim time and whether
/// it is synced yet; 404 if they hold none.
pub async fn find(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<Json<HeldCoupon>, ApiError> {
    let user = UserId::parse(&user_id)?;
    if engine.campaign(id).await?.is_none() {
        return Err(ApiError::NotFound("no such campaign"));
    }
    engine
        .coupon_of(id, &user)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(
            "this user holds no coupon of this campaign",
        ))
}
