//! `POST /api/v1/campaigns`, `GET /api/v1/campaigns/{id}` and, for a fair draw,
//! `GET /api/v1/campaigns/{id}/draw` and `GET /api/v1/campaigns/{id}/fairness`.

use super::actor::ApiActor;
use super::error::ApiError;
use super::extract::{ApiJson, CampaignPath};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use coupon::draw::{
    DrawListing, DrawPage, DrawReport, FairnessListing, FairnessReport, MOST_DIGESTS_PER_PAGE,
    parse_digest,
};
use coupon::{Campaign, CampaignDraft, Engine, FieldError, StatusReport};
use serde::Serialize;

/// A created campaign: the campaign, and for a fair draw its public facts (`draw_commitment`).
#[derive(Serialize)]
pub struct Created {
    #[serde(flatten)]
    campaign: Campaign,
    #[serde(flatten)]
    draw: Option<DrawReport>,
}

/// Creates a campaign: 201 with the campaign, or 422 naming every bad field. Recorded in the
/// audit log as `api`'s, in the transaction that records the campaign.
pub async fn create(
    State(engine): State<Engine>,
    ApiActor(by): ApiActor,
    ApiJson(draft): ApiJson<CampaignDraft>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let campaign = engine.create_campaign_by(&draft, &by).await?;
    tracing::info!(campaign = %campaign.id, "campaign created through the API");
    // The campaign exists: a failed read of its draw must not read as a failed creation (the
    // client would create it again), so the commitment is then left to GET.
    let draw = if campaign.is_fair_draw() {
        engine
            .draw_report(campaign.id)
            .await
            .inspect_err(|error| tracing::warn!(%error, "draw of a new campaign unreadable"))
            .ok()
            .flatten()
    } else {
        None
    };
    Ok((StatusCode::CREATED, Json(Created { campaign, draw })))
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

/// Digests a page holds when `limit` is not given.
const DEFAULT_DIGESTS_PER_PAGE: i64 = 1000;

/// The published draw: every entrant's digest in draw order (`?after=<digest>&limit=`, at most
/// 10,000 a page; `next` names the next page), with the secret, the counts and the cutoff.
/// 409 `draw_not_done` before the draw is completed; 404 `no_draw` for a first-come campaign.
pub async fn draw(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
    RawQuery(query): RawQuery,
) -> Result<Json<DrawPage>, ApiError> {
    let (after, limit) = page_of(query.as_deref().unwrap_or(""))?;
    if engine.campaign(id).await?.is_none() {
        return Err(ApiError::NotFound("no such campaign"));
    }
    match engine.draw_listing(id, after, limit).await? {
        DrawListing::Page(page) => Ok(Json(page)),
        DrawListing::NotDone => Err(ApiError::Conflict {
            code: "draw_not_done",
            message: "the draw is not completed yet: the order is published once it is",
        }),
        DrawListing::NoDraw => Err(ApiError::Missing {
            code: "no_draw",
            message: "this campaign opens first come, first served: it has no draw",
        }),
    }
}

/// The fairness report of a completed fair draw: entrants, drawn, not drawn, the commitment,
/// the secret and the cutoff, the Kolmogorov–Smirnov distance between the winners' entry times
/// and everyone's with a 20-slice histogram of both, and the attempts to enter refused before
/// the draw. 409 `draw_not_done` before the draw is completed; 404 `no_draw` for a first-come
/// campaign.
pub async fn fairness(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
) -> Result<Json<FairnessReport>, ApiError> {
    if engine.campaign(id).await?.is_none() {
        return Err(ApiError::NotFound("no such campaign"));
    }
    match engine.fairness_report(id).await? {
        FairnessListing::Report(report) => Ok(Json(*report)),
        FairnessListing::NotDone => Err(ApiError::Conflict {
            code: "draw_not_done",
            message: "the draw is not completed yet: its fairness report follows once it is",
        }),
        FairnessListing::NoDraw => Err(ApiError::Missing {
            code: "no_draw",
            message: "this campaign opens first come, first served: it has no draw",
        }),
    }
}

/// `after` (a digest, 64 hex digits) and `limit` (1 to 10,000) from the query string; each
/// bad one named.
fn page_of(query: &str) -> Result<(Option<coupon::draw::Digest>, i64), ApiError> {
    let mut after = None;
    let mut limit = DEFAULT_DIGESTS_PER_PAGE;
    let mut problems = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "after" => match parse_digest(&value) {
                Some(digest) => after = Some(digest),
                None => problems.push(FieldError::new(
                    "after",
                    "must be a digest from this list: 64 hexadecimal digits",
                )),
            },
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=MOST_DIGESTS_PER_PAGE).contains(&n) => limit = n,
                _ => problems.push(FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MOST_DIGESTS_PER_PAGE}"),
                )),
            },
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok((after, limit))
    } else {
        Err(ApiError::Invalid(problems))
    }
}
