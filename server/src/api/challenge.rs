//! `GET /api/v1/campaigns/{id}/challenge`: a bot-check challenge for the claim page
//! (src/bot_check/). Public, unlike the rest of `/api/v1`: the browser asks for it, and handing
//! one out writes nothing (one HMAC, and the campaign's bits, which each instance remembers).

use super::error::ApiError;
use super::extract::CampaignPath;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use coupon::Engine;

/// 200 `{challenge, bits, expires_at}`: solve it (a nonce such that
/// `SHA-256(challenge:nonce)` has `bits` leading zero bits) and send both with the claim before
/// `expires_at` (two minutes); `bits` 0 means the campaign has no bot check. 404 for no such
/// campaign. Never cached: each answer is a new challenge.
pub async fn challenge(
    State(engine): State<Engine>,
    CampaignPath(id): CampaignPath,
) -> Result<Response, ApiError> {
    let Some(issued) = engine.bot_challenge(id).await? else {
        return Err(ApiError::NotFound("no such campaign"));
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(issued)).into_response())
}
