//! `GET /api/v1/audit-events?campaign_id=&actor=&action=&page=`: the audit log, 50 entries a
//! page, newest first, as `{"events": [...], "next_page"?}` (src/audit/).

use super::error::ApiError;
use axum::Json;
use axum::extract::{RawQuery, State};
use coupon::audit::{AuditFilter, AuditPage};
use coupon::{Engine, ValidationErrors};

/// One page of entries; 422 naming each bad filter (a `campaign_id` or `page` that is not a
/// whole number above 0, an `action` that names no kind).
pub async fn list(
    State(engine): State<Engine>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let filter = filter_of(query.as_deref().unwrap_or(""))
        .map_err(|refused| ApiError::Invalid(refused.0))?;
    Ok(Json(engine.audit_page(&filter).await?))
}

/// The filter a query string names (`campaign_id`, `actor`, `action`, `page`; anything else is
/// ignored, and the last of a repeated one counts); also read by the admin's CSV export.
pub fn filter_of(query: &str) -> Result<AuditFilter, ValidationErrors> {
    let (mut campaign_id, mut actor, mut action, mut page) =
        (String::new(), String::new(), String::new(), String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "campaign_id" => &mut campaign_id,
            "actor" => &mut actor,
            "action" => &mut action,
            "page" => &mut page,
            _ => continue,
        };
        *slot = value.into_owned();
    }
    AuditFilter::parse(&campaign_id, &actor, &action, &page)
}
