//! The marketer's controls for shop backends: `POST /api/v1/campaigns/{id}/pause`, `…/resume`,
//! `…/end` and `PATCH /api/v1/campaigns/{id}` `{"quantity"}`. The engine calls and rules of the
//! admin page's controls (src/control.rs), recorded in the audit log as `api`'s in the change's
//! own transaction: a refused change writes nothing, no entry either.

use super::actor::ApiActor;
use super::error::ApiError;
use super::extract::{ApiJson, CampaignPath};
use axum::Json;
use axum::extract::State;
use coupon::audit::Actor;
use coupon::{Campaign, CampaignId, CampaignStatus, Engine, EngineError, StatusReport};
use serde::{Deserialize, Serialize};

/// What a control answers: the campaign's numbers as `GET /api/v1/campaigns/{id}` answers
/// them; the campaign alone if they could not be read after the change (it is made).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Controlled {
    Report(Box<StatusReport>),
    Campaign { campaign: Campaign },
}

/// The body of `PATCH /api/v1/campaigns/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityChange {
    quantity: i64,
}

/// Pauses the campaign: 200 with its numbers; 404 unknown campaign; 409 `campaign_ended`.
pub async fn pause(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    ApiActor(by): ApiActor,
) -> Result<Json<Controlled>, ApiError> {
    set_status(&engine, id, CampaignStatus::Paused, &by).await
}

/// Resumes the campaign: 200 with its numbers; 404 unknown campaign; 409 `campaign_ended`.
pub async fn resume(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    ApiActor(by): ApiActor,
) -> Result<Json<Controlled>, ApiError> {
    set_status(&engine, id, CampaignStatus::Active, &by).await
}

/// Ends the campaign for good (ending it again answers the same; the audit log shows the
/// repeat): 200 with its numbers; 404 unknown campaign.
pub async fn end(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    ApiActor(by): ApiActor,
) -> Result<Json<Controlled>, ApiError> {
    set_status(&engine, id, CampaignStatus::Ended, &by).await
}

/// Sets the campaign's total quantity: 200 with its numbers; 422 naming `quantity` out of range
/// or below the coupons already claimed; 404 unknown campaign; 409 `campaign_ended`; 400 for
/// a body that is not `{"quantity": <whole number>}`.
pub async fn change_quantity(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    ApiActor(by): ApiActor,
    ApiJson(change): ApiJson<QuantityChange>,
) -> Result<Json<Controlled>, ApiError> {
    let changed = engine.set_quantity_by(id, change.quantity, &by).await;
    answer(&engine, id, changed).await
}

async fn set_status(
    engine: &Engine,
    id: CampaignId,
    status: CampaignStatus,
    by: &Actor,
) -> Result<Json<Controlled>, ApiError> {
    let changed = engine.set_status_by(id, status, by).await;
    answer(engine, id, changed).await
}

async fn answer(
    engine: &Engine,
    id: CampaignId,
    changed: Result<Option<Campaign>, EngineError>,
) -> Result<Json<Controlled>, ApiError> {
    let campaign = match changed {
        Ok(Some(campaign)) => campaign,
        Ok(None) => return Err(ApiError::NotFound("no such campaign")),
        // A change that can never be made, not a bad value: 409, like a claim of an ended
        // campaign.
        Err(error) if error.refuses_ended_campaign() => {
            return Err(ApiError::Conflict {
                code: "campaign_ended",
                message: "the campaign has ended: it cannot be paused, resumed or resized",
            });
        }
        Err(error) => return Err(error.into()),
    };
    // The change is made and recorded: a failed read of the numbers must not read as a failed
    // change (the client would make it again), so the answer is then the campaign alone.
    match engine.status(id).await {
        Ok(Some(report)) => Ok(Json(Controlled::Report(Box::new(report)))),
        Ok(None) => Ok(Json(Controlled::Campaign { campaign })),
        Err(error) => {
            tracing::warn!(campaign = %id, %error, "numbers of a changed campaign unreadable");
            Ok(Json(Controlled::Campaign { campaign }))
        }
    }
}
