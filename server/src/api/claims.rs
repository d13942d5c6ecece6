//! `POST /api/v1/campaigns/{id}/claims` and `GET /api/v1/campaigns/{id}/claims/{user_id}`.

use super::error::ApiError;
use super::extract::{ApiJson, CampaignPath};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coupon::draw::{DrawStanding, RefusalReason};
use coupon::{ClaimOutcome, Engine, HeldCoupon, UserId};
use coupon_access::limits::{LimitRefusal, RateLimits};
use serde::{Deserialize, Serialize};

/// The claim request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    user_id: String,
}

/// Claims for `user_id`. 201 `issued` with `code` and `remaining`; 202 `entered` with
/// `draw_at` (a fair draw's entry); 409 for a refusal (`already_claimed`, `sold_out`,
/// `not_open`, `ended`, `paused`, `not_drawn`); 404 for no such campaign; 422 for a bad user
/// id; 429 for a user claiming too often; 503 while Redis (or, for an entry, PostgreSQL) is
/// unreachable, and `draw_in_progress` with `Retry-After: 1` while a fair draw runs. The body
/// always has `outcome`, except on an error.
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
            LimitRefusal::Limited(limited) => {
                // Counted for the fair draw's report if this was an entry (no I/O).
                engine.note_refused_entry(id, RefusalReason::RateLimited);
                ApiError::RateLimited(limited.retry_after)
            }
            LimitRefusal::Unavailable(error) => {
                tracing::error!(%error, "rate limits unreadable: claim refused");
                ApiError::Unavailable
            }
        })?;
    let outcome = engine.claim(id, &user).await?;
    let status = match outcome {
        ClaimOutcome::Issued { .. } => StatusCode::CREATED,
        ClaimOutcome::Entered { .. } => StatusCode::ACCEPTED,
        ClaimOutcome::UnknownCampaign => return Err(ApiError::NotFound("no such campaign")),
        _ => StatusCode::CONFLICT,
    };
    Ok((status, Json(outcome)).into_response())
}

/// A held coupon as the lookup answers it: for a fair draw, with the member's digest.
#[derive(Serialize)]
pub struct FoundCoupon {
    #[serde(flatten)]
    coupon: HeldCoupon,
    /// The member's place in the fair draw (hex), for winners.
    #[serde(skip_serializing_if = "Option::is_none")]
    draw_digest: Option<String>,
    /// Their rank among the winners (1 = first).
    #[serde(skip_serializing_if = "Option::is_none")]
    draw_rank: Option<i64>,
}

/// The coupon `user_id` holds in the campaign: 200 with code, sequence, claim time and whether
/// it is synced yet (a fair draw's winner also `draw_digest` and `draw_rank`); 404 if they hold
/// none: `not_found`, or for a fair draw `entered` (the draw has not taken place) or
/// `not_drawn` (with their `digest`); 503 `draw_in_progress` while the draw runs.
pub async fn find(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    Path((_, user_id)): Path<(String, String)>,
) -> Result<Json<FoundCoupon>, ApiError> {
    let user = UserId::parse(&user_id)?;
    let Some(campaign) = engine.campaign(id).await? else {
        return Err(ApiError::NotFound("no such campaign"));
    };
    let held = engine.coupon_of(id, &user).await?;
    let standing = if campaign.is_fair_draw() {
        engine.draw_standing(id, &user).await?
    } else {
        None
    };
    match (held, standing) {
        (Some(coupon), Some(DrawStanding::Drawn { digest, rank })) => Ok(Json(FoundCoupon {
            coupon,
            draw_digest: Some(digest),
            draw_rank: Some(rank),
        })),
        (Some(coupon), _) => Ok(Json(FoundCoupon {
            coupon,
            draw_digest: None,
            draw_rank: None,
        })),
        (None, Some(DrawStanding::Entered { .. })) => Err(ApiError::Missing {
            code: "entered",
            message: "this member entered the draw; it has not taken place yet",
        }),
        (None, Some(DrawStanding::Drawing)) => Err(ApiError::DrawInProgress),
        (None, Some(DrawStanding::NotDrawn { digest })) => Err(ApiError::NotDrawn { digest }),
        (None, _) => Err(ApiError::NotFound(
            "this user holds no coupon of this campaign",
        )),
    }
}
