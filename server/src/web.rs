//! Routes the pages use besides server functions: the live event streams, the CSV exports
//! (coupons, a fair draw's fairness report; each download recorded in the audit log) and the
//! language switch.

use crate::audit_export::record_download;
use crate::export;
use crate::open_streams::{StreamTicket, admin_session_ended};
use crate::{AppState, SharedState};
use app::api::{LiveNumbers, PublicNumbers};
use app::i18n::{LANG_COOKIE, Lang};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use coupon::CampaignId;
use coupon::audit::AuditEvent;
use coupon_access::limits::address_key;
use coupon_access::session::{self, AdminIdentity};
use futures::StreamExt;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tower_sessions::Session;

/// A refusal already shaped as the response to send.
type Refused = Response;

/// Lets only a signed-in admin through, one the `admins` table still has.
pub(crate) async fn require_admin(
    state: &AppState,
    session: &Session,
) -> Result<AdminIdentity, Refused> {
    let refused = || (StatusCode::UNAUTHORIZED, "sign in as an admin first").into_response();
    let admin = session::admin(session).await.ok_or_else(refused)?;
    match state.access.admins.is_still_admin(admin.id).await {
        Ok(true) => Ok(admin),
        Ok(false) => Err(refused()),
        Err(error) => {
            tracing::warn!(%error, "admin check failed");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// Lets a request for an existing campaign through: 404 otherwise, 503 if PostgreSQL cannot
/// say.
async fn require_campaign(state: &AppState, id: CampaignId) -> Result<(), Refused> {
    match state.engine.campaign(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err((StatusCode::NOT_FOUND, "no such campaign").into_response()),
        Err(error) => {
            tracing::warn!(campaign = %id, %error, "campaign lookup failed");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// `GET /admin/live/campaigns/{id}`: every number of the admin page, about once a second,
/// until the admin's session ends.
pub async fn admin_stream(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<i64>,
    parts: Parts,
) -> Response {
    let admin = match require_admin(&state, &session).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    let Some(session_id) = session.id() else {
        return (StatusCode::UNAUTHORIZED, "sign in as an admin first").into_response();
    };
    let id = CampaignId(id);
    let ticket = match admit_stream(&state, &parts, id).await {
        Ok(ticket) => ticket,
        Err(refused) => return refused,
    };
    let ended = admin_session_ended(
        state.engine.clone(),
        state.access.admins.clone(),
        session_id,
        admin.id,
    );
    stream(&state, ticket, state.hub.subscribe(id), ended, admin_event)
}

/// `GET /live/campaigns/{id}`: what the claim page shows (status, quantity, remaining), fed
/// without reading the campaign's coupons: anyone may open it.
pub async fn public_stream(
    State(state): State<SharedState>,
    Path(id): Path<i64>,
    parts: Parts,
) -> Response {
    let id = CampaignId(id);
    let ticket = match admit_stream(&state, &parts, id).await {
        Ok(ticket) => ticket,
        Err(refused) => return refused,
    };
    let Some(feed) = state.hub.subscribe_public(id) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "too many campaigns watched live on this server",
        )
            .into_response();
    };
    stream(&state, ticket, feed, std::future::pending(), public_event)
}

fn admin_event(numbers: &LiveNumbers) -> Result<Event, axum::Error> {
    Event::default().json_data(numbers)
}

fn public_event(numbers: &PublicNumbers) -> Result<Event, axum::Error> {
    Event::default().json_data(numbers)
}

/// Lets one more stream of an existing campaign through: each client address has a bounded
/// number open at a time.
async fn admit_stream(
    state: &AppState,
    parts: &Parts,
    id: CampaignId,
) -> Result<StreamTicket, Refused> {
    let address = state
        .access
        .client_of(parts)
        .map_or_else(|| "unknown".to_owned(), address_key);
    let Some(ticket) = state.streams.open(address) else {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "10")],
            "too many live pages open from this address",
        )
            .into_response());
    };
    require_campaign(state, id).await?;
    Ok(ticket)
}

/// An event stream of a feed's snapshots, ending when `ended` resolves or the server shuts
/// down (open streams would otherwise hold a graceful shutdown forever); `ticket` is held
/// until then.
fn stream<T: Send + Sync + 'static>(
    state: &AppState,
    ticket: StreamTicket,
    feed: watch::Receiver<Option<Arc<T>>>,
    ended: impl std::future::Future<Output = ()> + Send + 'static,
    to_event: fn(&T) -> Result<Event, axum::Error>,
) -> Response {
    let stop = state.shutdown.clone();
    let events = WatchStream::new(feed)
        .filter_map(move |snapshot: Option<Arc<T>>| async move {
            snapshot.and_then(|numbers| to_event(&numbers).ok())
        })
        .map(move |event| {
            // Kept alive with the stream: dropped (the place freed) when the stream is.
            let _open = &ticket;
            Ok::<_, Infallible>(event)
        })
        .take_until(async move {
            tokio::select! {
                () = stop.cancelled_owned() => {}
                () = ended => {}
            }
        });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /admin/campaigns/{id}/coupons.csv`: every coupon PostgreSQL recorded, in claim order.
pub async fn export_csv(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<i64>,
    parts: Parts,
) -> Response {
    let id = CampaignId(id);
    let admin = match require_admin(&state, &session).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    if let Err(refused) = require_campaign(&state, id).await {
        return refused;
    }
    let download = AuditEvent::export_downloaded(id, "coupons.csv");
    if let Err(refused) = record_download(&state, &admin, &parts, &download).await {
        return refused;
    }
    // Streamed: the rows are read a page at a time while the download runs. A failure after
    // the first bytes can only cut the download short, which the browser reports as failed.
    let chunks =
        export::csv_chunks(state.engine.clone(), id, export::ROWS_PER_PAGE).inspect(move |chunk| {
            if let Err(error) = chunk {
                tracing::error!(campaign = %id, %error, "export cut short");
            }
        });
    let disposition = format!("attachment; filename=\"campaign-{id}-coupons.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// `GET /admin/campaigns/{id}/fairness.csv`: a completed fair draw's fairness report
/// (src/draw/fairness.rs), one measure a row; 409 before the draw is completed, 404 for a
/// first-come campaign.
pub async fn fairness_csv(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<i64>,
    parts: Parts,
) -> Response {
    use coupon::draw::FairnessListing;
    let id = CampaignId(id);
    let admin = match require_admin(&state, &session).await {
        Ok(admin) => admin,
        Err(refused) => return refused,
    };
    if let Err(refused) = require_campaign(&state, id).await {
        return refused;
    }
    let report = match state.engine.fairness_report(id).await {
        Ok(FairnessListing::Report(report)) => report,
        Ok(FairnessListing::NotDone) => {
            return (StatusCode::CONFLICT, "the draw is not completed yet").into_response();
        }
        Ok(FairnessListing::NoDraw) => {
            return (StatusCode::NOT_FOUND, "this campaign has no draw").into_response();
        }
        Err(error) => {
            tracing::warn!(campaign = %id, %error, "fairness report failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // Recorded once there is a report to send: a 404 or 409 downloaded nothing.
    let download = AuditEvent::export_downloaded(id, "fairness.csv");
    if let Err(refused) = record_download(&state, &admin, &parts, &download).await {
        return refused;
    }
    let disposition = format!("attachment; filename=\"campaign-{id}-fairness.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        export::fairness_csv(&report),
    )
        .into_response()
}

/// `GET /lang/{tag}`: remembers the language for a year and goes back to the page.
pub async fn switch_language(Path(tag): Path<String>, headers: HeaderMap) -> Response {
    let Some(lang) = Lang::from_tag(&tag) else {
        return (StatusCode::NOT_FOUND, "unsupported language").into_response();
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(same_site_path)
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    let mut response = Redirect::to(&back).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The path and query of a referring URL, never another site (no open redirect).
fn same_site_path(referer: &str) -> Option<String> {
    let after_scheme = referer.split_once("://")?.1;
    let path = &after_scheme[after_scheme.find('/')?..];
    (!path.starts_with("//")).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_switch_goes_back_only_to_a_path() {
        assert_eq!(
            same_site_path("http://x:3000/c/4?a=1").as_deref(),
            Some("/c/4?a=1")
        );
        assert_eq!(same_site_path("http://x"), None);
        assert_eq!(same_site_path("http://x//evil.com"), None);
    }
}
