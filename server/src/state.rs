//! The state every request handler shares, built from the configuration in one place
//! ([`AppState::build`]): a setting is read in `config` and becomes state here, never patched
//! in afterwards.

use crate::config::Config;
use crate::live::LiveHub;
use crate::{api, open_streams, telemetry};
use axum::extract::FromRef;
use coupon::{Engine, EngineError};
use coupon_access::Access;
use leptos::prelude::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What every request handler shares, as configured before the server starts. The router holds
/// it behind one [`Arc`] ([`SharedState`]).
#[derive(Clone)]
pub struct AppState {
    /// Leptos's settings (site root, output name, …).
    pub leptos_options: LeptosOptions,
    /// The issuing engine.
    pub engine: Engine,
    /// The live numbers' fan-out.
    pub hub: Arc<LiveHub>,
    /// The JSON API's key (`None`: API disabled).
    pub api_key: api::ApiKey,
    /// Whether session cookies carry `Secure` (the site is served over https).
    pub secure_cookies: bool,
    /// Cancelled to stop the server: ends live streams, then the sync finishes its round.
    pub shutdown: CancellationToken,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Who is asking and whether to let them through: members, client addresses, rate limits,
    /// password checks and the admin check (shared with the server functions as one context
    /// value).
    pub access: Access,
    /// `PUBLIC_ORIGIN`: the site's origin, which browser writes must come from.
    pub public_origin: Option<String>,
    /// Live event streams open on this instance, per client address.
    pub streams: open_streams::OpenStreams,
}

/// Why the server could not start (a setting it cannot parse stops it earlier, in `config`).
#[derive(Debug)]
pub enum StartError {
    /// Redis or PostgreSQL could not be reached, or the migrations failed.
    Engine(EngineError),
    /// The first admin (`ADMIN_EMAIL`, `ADMIN_PASSWORD`) could not be created.
    FirstAdmin(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Engine(error) => write!(f, "cannot start the engine: {error}"),
            Self::FirstAdmin(reason) => write!(f, "cannot create the first admin: {reason}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<EngineError> for StartError {
    fn from(error: EngineError) -> Self {
        Self::Engine(error)
    }
}

impl AppState {
    /// Connects to Redis and PostgreSQL, creates the first admin if there is none, and builds
    /// every part of the state from `config`.
    pub async fn build(config: &Config, leptos_options: LeptosOptions) -> Result<Self, StartError> {
        // Before anything can claim: the engine takes its metric handles at the first claim.
        let metrics = telemetry::metrics_handle();
        let engine =
            Engine::connect_to(&config.redis, &config.database_url, config.sync.clone()).await?;
        if let Some((email, password)) = &config.first_admin
            && coupon_access::accounts::ensure_first_admin(engine.db(), email, password)
                .await
                .map_err(StartError::FirstAdmin)?
        {
            tracing::info!(%email, "created the first admin account");
        }
        Ok(Self {
            leptos_options,
            hub: Arc::new(LiveHub::new(engine.clone(), config.live_tick)),
            access: Access::new(config.access.clone(), &engine),
            api_key: api::ApiKey(config.api_key.clone().map(Into::into)),
            secure_cookies: config.secure_cookies,
            shutdown: CancellationToken::new(),
            metrics,
            public_origin: config.public_origin.clone(),
            streams: open_streams::OpenStreams::new(config.live_streams_per_address),
            engine,
        })
    }
}

/// The router's state: the [`AppState`] behind one `Arc`. axum hands every request its own copy
/// of the state, and Leptos puts one into the context of every server-function call, so on the
/// claim path a copy must cost one reference count, not one per field (the fields' own copies
/// were about 5% of the server's time under claim load).
#[derive(Clone)]
pub struct SharedState(pub(crate) Arc<AppState>);

impl std::ops::Deref for SharedState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl FromRef<SharedState> for LeptosOptions {
    fn from_ref(state: &SharedState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<SharedState> for Engine {
    fn from_ref(state: &SharedState) -> Self {
        state.engine.clone()
    }
}

impl FromRef<SharedState> for PrometheusHandle {
    fn from_ref(state: &SharedState) -> Self {
        state.metrics.clone()
    }
}
