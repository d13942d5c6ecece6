//! The coupon server: axum hosting the Leptos app, health endpoints and the background sync.
//!
//! [`run`] takes a bound listener and a shutdown token, so tests start it on port 0 and stop it
//! when they are done; `main.rs` only reads the configuration and waits for a signal.

pub mod config;
mod health;

use app::{App, shell};
use axum::Router;
use axum::routing::get;
use coupon::Engine;
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared state of every request handler.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    /// Leptos's settings (site root, output name, …).
    pub leptos_options: LeptosOptions,
    /// The issuing engine.
    pub engine: Engine,
}

/// The HTTP routes: health endpoints, then the Leptos pages, then static files.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, running the background sync alongside. On shutdown,
/// in-flight requests finish, the sync finishes its current round, then this returns.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let sync = tokio::spawn(coupon::sync::run_sync_loop(
        state.engine.clone(),
        shutdown.clone(),
    ));
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    // Whatever stopped the server also stops the sync.
    shutdown.cancel();
    if let Err(error) = sync.await {
        tracing::error!(%error, "sync task panicked");
    }
    served
}
