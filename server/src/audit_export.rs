//! The admin's downloads in the audit log, and the audit log's own CSV export.
//!
//! Every CSV route of the admin pages records `export.downloaded` (who, from which address,
//! which file) before it sends a byte: a download the log cannot name is refused (503), so none
//! goes unrecorded.

use crate::export::push_field;
use crate::web::require_admin;
use crate::{AppState, SharedState};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use coupon::audit::{Actor, AuditEntry, AuditEvent, AuditFilter};
use coupon::{Engine, EngineError};
use coupon_access::AdminIdentity;
use futures::{Stream, StreamExt, stream};
use tower_sessions::Session;

/// Records that `admin` downloads what `download` names, from the request's client address;
/// the response to send instead when the entry cannot be written.
pub(crate) async fn record_download(
    state: &AppState,
    admin: &AdminIdentity,
    parts: &Parts,
    download: &AuditEvent,
) -> Result<(), Response> {
    let by = Actor::admin(&admin.email, state.access.client_of(parts));
    state
        .engine
        .record_audit(&by, download)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "a download the audit log could not record was refused");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })
}

/// Entries per PostgreSQL read of the export: a short query each, and a bounded chunk.
const ENTRIES_PER_READ: i64 = 1_000;

const HEADER: &str = "id,at,actor,address,action,campaign_id,before,after\r\n";

/// `GET /admin/audit.csv?campaign_id=&actor=&action=`: every entry the filters select (those of
/// the admin page), newest first, read and sent a slice at a time. 422 naming a bad filter.
pub async fn audit_csv(
    State(state): State<SharedState>,
    session: Session,
    parts: Parts,
) -> Response {
    let admin = match require_admin(&state, &session).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let filter = match crate::api::audit_filter_of(parts.uri.query().unwrap_or("")) {
        // The whole selection, whichever page the admin was looking at.
        Ok(filter) => AuditFilter {
            before_id: None,
            ..filter
        },
        Err(refused) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, refused.to_string()).into_response();
        }
    };
    let download = AuditEvent::audit_downloaded(&filter);
    if let Err(refused) = record_download(&state, &admin, &parts, &download).await {
        return refused;
    }
    // Streamed like the coupons export: a failure after the first bytes cuts the download
    // short, which the browser reports as failed.
    let chunks = csv_chunks(state.engine.clone(), filter).inspect(|chunk| {
        if let Err(error) = chunk {
            tracing::error!(%error, "audit log export cut short");
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// The header line, then one chunk of CSV per slice of entries, newest first; each slice starts
/// below the last id of the one before, so entries written meanwhile never shift it.
fn csv_chunks(
    engine: Engine,
    filter: AuditFilter,
) -> impl Stream<Item = Result<Bytes, EngineError>> + Send + 'static {
    // The state is the filter of the next slice; `None` once a slice came back short.
    let slices = stream::try_unfold(Some(filter), move |filter| {
        let engine = engine.clone();
        async move {
            let Some(filter) = filter else {
                return Ok(None);
            };
            let entries = engine.audit_entries(&filter, ENTRIES_PER_READ).await?;
            let Some(last_id) = entries.last().map(|last| last.id) else {
                return Ok(None);
            };
            let full = i64::try_from(entries.len()).is_ok_and(|n| n == ENTRIES_PER_READ);
            let next = full.then_some(AuditFilter {
                before_id: Some(last_id),
                ..filter
            });
            Ok(Some((Bytes::from(csv_rows(&entries)), next)))
        }
    });
    stream::once(async { Ok(Bytes::from_static(HEADER.as_bytes())) }).chain(slices)
}

/// CSV lines for `entries`, every field quoted (a typed email or a campaign name that looks
/// like a formula opens as text: `push_field`).
fn csv_rows(entries: &[AuditEntry]) -> String {
    let mut csv = String::with_capacity(entries.len() * 200);
    for entry in entries {
        let campaign = entry.campaign_id.map(|id| id.to_string());
        let before = entry.before.as_ref().map(ToString::to_string);
        let after = entry.after.as_ref().map(ToString::to_string);
        let fields = [
            entry.id.to_string(),
            entry.at.to_rfc3339(),
            entry.actor.clone(),
            entry.address.clone().unwrap_or_default(),
            entry.action.clone(),
            campaign.unwrap_or_default(),
            before.unwrap_or_default(),
            after.unwrap_or_default(),
        ];
        for (n, field) in fields.iter().enumerate() {
            if n > 0 {
                csv.push(',');
            }
            push_field(&mut csv, field);
        }
        csv.push_str("\r\n");
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_one_quoted_row_with_its_values_as_json() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let entry = AuditEntry {
            id: 9,
            at,
            actor: "=evil@example.com".into(),
            address: None,
            action: "campaign.quantity_changed".into(),
            campaign_id: Some(4),
            before: Some(serde_json::json!({ "quantity": 5 })),
            after: Some(serde_json::json!({ "quantity": 8 })),
        };

        let csv = csv_rows(&[entry]);

        assert_eq!(
            csv,
            "\"9\",\"2027-01-15T08:00:00+00:00\",\"'=evil@example.com\",\"\",\
             \"campaign.quantity_changed\",\"4\",\"{\"\"quantity\"\":5}\",\
             \"{\"\"quantity\"\":8}\"\r\n"
        );
    }
}
