//! The coupon server: axum hosting the Leptos app, the JSON API, live event streams, health,
//! and the background sync and fair draws.
//!
//! [`run`] takes a bound listener and the state (which carries the shutdown token), so tests
//! start it on port 0 and stop it when they are done; `main.rs` only reads the configuration
//! ([`config`]), builds the state from it ([`AppState::build`]) and waits for a signal. Who may
//! do what (members, admins, rate limits) is decided by `coupon_access`, which the state holds
//! as one handle and hands to the server functions as one context value.

pub mod api;
mod audit_export;
pub mod config;
pub mod export;
mod guard;
mod headers;
mod health;
pub mod live;
mod member_link;
pub mod open_streams;
mod route_list;
pub mod sessions;
mod state;
pub mod telemetry;
mod web;

use app::shell;
use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use leptos::prelude::provide_context;
use leptos_axum::LeptosRoutes;
use sessions::RedisSessionStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

pub use state::{AppState, SharedState, StartError};

/// How long a session lives after it was last written, i.e. after sign-in. Using a session does
/// not extend it: the session layer writes a session only when it changed (`always_save` off),
/// so a claim costs one Redis `GET`, not a `GET` and a `SET`. Members and admins sign in again
/// after seven days.
const SESSION_LIFETIME: time::Duration = time::Duration::days(7);

/// The HTTP routes: health, metrics and readiness, the JSON API, then the pages with their
/// sessions.
pub fn router(state: AppState) -> Router {
    public_routes(SharedState(Arc::new(state)), true)
}

/// `/metrics`, `/readyz` and `/healthz`, for a listener only operators reach (`METRICS_ADDR`).
fn private_routes(state: SharedState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(telemetry::metrics))
        .with_state(state)
}

/// The public routes; `/metrics` and `/readyz` among them unless they have a listener of their
/// own (they tell how the deployment is built and how it is doing).
fn public_routes(state: SharedState, with_operator_routes: bool) -> Router {
    let routes = route_list::routes();
    let options = state.leptos_options.clone();
    let engine = state.engine.clone();
    let access = state.access.clone();
    // `__Host-` makes browsers refuse the cookie unless it is Secure, for this host and path `/`
    // (no subdomain can plant or read it); only possible over https.
    let cookie_name = if state.secure_cookies {
        "__Host-coupon_session"
    } else {
        "coupon_session"
    };
    let sessions = SessionManagerLayer::new(RedisSessionStore::new(state.engine.redis()))
        .with_name(cookie_name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.secure_cookies)
        .with_expiry(Expiry::OnInactivity(SESSION_LIFETIME));
    let pages = Router::new()
        .route("/admin/live/campaigns/{id}", get(web::admin_stream))
        .route("/live/campaigns/{id}", get(web::public_stream))
        .route("/admin/campaigns/{id}/coupons.csv", get(web::export_csv))
        .route("/admin/campaigns/{id}/fairness.csv", get(web::fairness_csv))
        .route("/admin/audit.csv", get(audit_export::audit_csv))
        .route("/lang/{tag}", get(web::switch_language))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(engine.clone());
                provide_context(access.clone());
            },
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<SharedState, _>(shell))
        .layer(axum::middleware::from_fn(guard::bad_arguments_are_400))
        .layer(axum::middleware::from_fn_with_state(
            guard::PublicOrigin(state.public_origin.clone()),
            guard::same_origin_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            member_link::sign_in_from_link,
        ))
        .layer(sessions);
    let mut routes = Router::new().route("/healthz", get(health::healthz));
    if with_operator_routes {
        routes = routes
            .route("/readyz", get(health::readyz))
            .route("/metrics", get(telemetry::metrics));
    }
    let routes = routes
        .nest(
            "/api/v1",
            api::routes(
                state.engine.clone(),
                state.api_key.clone(),
                state.access.clone(),
            ),
        )
        .merge(pages)
        .layer(telemetry::trace_layer())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(
            telemetry::SequentialRequestId::default(),
        ));
    let https = state.secure_cookies;
    headers::with_security_headers(routes, https).with_state(state)
}

/// How long in-flight requests may take to finish once shutdown is requested; those still
/// running then are dropped unanswered (their clients see the connection close).
pub const REQUESTS_GRACE: Duration = Duration::from_secs(5);

/// How long the background tasks (the sync's round and the release of its leases, the live
/// ticker) may take to stop once the requests are done; then they are dropped where they are,
/// which the sync survives as it survives a SIGKILL (its queue entries leave Redis only after
/// their commit, and inserting one twice adds no row).
pub const TASKS_GRACE: Duration = Duration::from_secs(4);

/// Serves until `state.shutdown` is cancelled, running the background sync and the live
/// ticker alongside. On shutdown, live streams end, in-flight requests finish (within
/// [`REQUESTS_GRACE`]), the sync finishes its current round (within [`TASKS_GRACE`] more), then
/// this returns, whatever Redis and PostgreSQL do meanwhile.
pub async fn run(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    serve(listener, None, state).await
}

/// [`run`], with `/metrics` and `/readyz` served on `operators` only (`METRICS_ADDR`).
pub async fn run_with_operator_listener(
    listener: TcpListener,
    operators: TcpListener,
    state: AppState,
) -> std::io::Result<()> {
    serve(listener, Some(operators), state).await
}

async fn serve(
    listener: TcpListener,
    operators: Option<TcpListener>,
    state: AppState,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let sync = tokio::spawn(coupon::sync::run_sync_loop(
        state.engine.clone(),
        shutdown.clone(),
    ));
    // Fair draws that are due, on every instance: one draws, the others find it drawn or
    // resume it (src/draw/runner.rs).
    let draws = tokio::spawn(coupon::draw::run_draw_loop(
        state.engine.clone(),
        shutdown.clone(),
    ));
    let ticker = tokio::spawn(state.hub.clone().run(shutdown.clone()));
    let metrics = state.metrics.clone();
    tokio::spawn(every(METRICS_UPKEEP, shutdown.clone(), move || {
        metrics.run_upkeep();
    }));
    let state = SharedState(Arc::new(state));
    let with_operator_routes = operators.is_none();
    if let Some(operators) = operators {
        let private = private_routes(state.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(operators, private)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the operators' listener stopped");
            }
        });
    }
    let app = public_routes(state, with_operator_routes)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Answers go out as soon as they are written: a response or a live event is one small write,
    // and Nagle's algorithm would hold it back while an earlier one waits for its acknowledgement.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    let serving = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    let served = tokio::select! {
        served = serving => served,
        () = shutdown_and(&shutdown, REQUESTS_GRACE) => {
            tracing::warn!(
                "requests still in flight {REQUESTS_GRACE:?} after shutdown was requested: \
                 dropping them"
            );
            Ok(())
        }
    };
    // Whatever stopped the server also stops the background tasks.
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + TASKS_GRACE;
    for (name, mut task) in [("sync", sync), ("draw", draws), ("live ticker", ticker)] {
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "{name} task panicked"),
            Err(_) => {
                task.abort();
                tracing::warn!("the {name} task had not stopped {TASKS_GRACE:?} later: dropped it");
            }
        }
    }
    served
}

/// Ends `grace` after `shutdown` is cancelled.
async fn shutdown_and(shutdown: &CancellationToken, grace: Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace).await;
}

/// How often the Prometheus recorder folds the latency samples it collected into its
/// histograms. It keeps every sample until then; without this, an instance nobody scrapes would
/// grow by eight bytes a claim, without end.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Runs `chore` every `period` until `shutdown` is cancelled.
async fn every(period: Duration, shutdown: CancellationToken, mut chore: impl FnMut()) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => chore(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chore_runs_every_period_until_shutdown() {
        let (ran, mut runs) = tokio::sync::mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(every(
            Duration::from_millis(10),
            shutdown.clone(),
            move || {
                let _ = ran.send(());
            },
        ));

        for run in 1..=3 {
            let next = tokio::time::timeout(Duration::from_secs(10), runs.recv()).await;
            assert!(matches!(next, Ok(Some(()))), "run {run} did not come");
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the loop ends once shut down")
            .unwrap();
        // The chore went with the loop: whatever it sent before, the channel then closes.
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            while runs.recv().await.is_some() {}
        })
        .await;
        assert!(closed.is_ok(), "the chore outlived the loop");
    }
}
