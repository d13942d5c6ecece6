//! `POST /api/v1/campaigns` and `GET /api/v1/campaigns/{id}`.

use super::error::ApiError;
use super::extract::{ApiJson, CampaignPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coupon::{Campaign, CampaignDraft, Engine, StatusReport};

/// Creates a campaign: 201 with the campaign, or 422 naming every bad field.
pub async fn create(
    State(engine): State<Engine>,
    ApiJson(draft): ApiJson<CampaignDraft>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    let campaign = engine.create_campaign(&draft).await?;
    tracing::info!(campaign = %campaign.id, "campaign created through the API");
    Ok((StatusCode::CREATED, Json(campaign)))
}

/// The campaign's live numbers: quantity, remaining, claimed, queued, synced, sync state.
pub async fn status(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
) -> Result<Json<StatusReport>, ApiError> {
    engine
        .status(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no such campaign"))
}
