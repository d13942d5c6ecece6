//! A whole server started on port 0 against the Redis and PostgreSQL that `./dev test` runs,
//! plus an HTTP client that keeps cookies like a browser.
#![allow(dead_code)] // each test binary uses its own subset

pub mod cluster;
pub mod draw;
pub mod process;
pub mod rerouted_wait;
pub mod sentinel;
pub mod stack;
pub mod storm;

use chrono::{Duration, Utc};
use coupon::{Campaign, CampaignDraft, Engine};
use coupon_access::limits::{LimitSettings, RateLimits};
use leptos::prelude::LeptosOptions;
use server::config::Config;
use server::{AppState, run, run_with_operator_listener};
use std::net::SocketAddr;
use std::time::Duration as StdDuration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const API_KEY: &str = "test-api-key-0123456789";
/// The arguments of `list_campaigns` for its first page, unfiltered.
pub const LIST_ALL: &[(&str, &str)] = &[("status", ""), ("name", ""), ("page", "0")];
pub const ADMIN_EMAIL: &str = "marketer@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Engine,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// A JSON API request to `/api/v1{path}` with the API key.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(API_KEY)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `Origin` a browser on the server's own pages sends with every POST.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A campaign open now for an hour.
    pub async fn campaign(&self, quantity: i64) -> Campaign {
        self.engine.create_campaign(&draft(quantity)).await.unwrap()
    }

    /// Claims in `campaign` for members `<prefix>-0` to `<prefix>-<count - 1>`, one after
    /// another, straight through the engine; their outcomes in that order.
    pub async fn claims_by(
        &self,
        campaign: &Campaign,
        prefix: &str,
        count: usize,
    ) -> Vec<coupon::ClaimOutcome> {
        let mut outcomes = Vec::with_capacity(count);
        for n in 0..count {
            let user = coupon::UserId::parse(&format!("{prefix}-{n}")).unwrap();
            outcomes.push(self.engine.claim(campaign.id, &user).await.unwrap());
        }
        outcomes
    }
}

pub async fn spawn_server() -> TestServer {
    spawn_server_with(|_| {}).await
}

/// A server whose state `adjust` may change first (e.g. tighter rate limits).
pub async fn spawn_server_with(adjust: impl FnOnce(&mut AppState)) -> TestServer {
    spawn(adjust, None).await
}

/// A server with `/metrics` and `/readyz` on a listener of their own (`METRICS_ADDR`), and
/// that listener's address.
pub async fn spawn_server_with_operator_listener() -> (TestServer, SocketAddr) {
    let operators = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = operators.local_addr().unwrap();
    (spawn(|_| {}, Some(operators)).await, addr)
}

async fn spawn(
    adjust: impl FnOnce(&mut AppState),
    operators: Option<tokio::net::TcpListener>,
) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let leptos_options = LeptosOptions::builder()
        .output_name("coupon")
        .site_addr(addr)
        .build();
    // Built as `main` builds it: from the configuration, which also creates the first admin.
    let mut state = AppState::build(&test_config(), leptos_options)
        .await
        .expect("connect");
    let engine = state.engine.clone();
    state.access.limits = limits_of_its_own(&state, LimitSettings::default());
    adjust(&mut state);
    let shutdown = state.shutdown.clone();
    let handle = match operators {
        Some(operators) => tokio::spawn(run_with_operator_listener(listener, operators, state)),
        None => tokio::spawn(run(listener, state)),
    };
    TestServer {
        addr,
        engine,
        shutdown,
        handle,
    }
}

/// The settings of a test server: the stores `./dev test` started (it runs the suites a second
/// time with `REDIS_CLUSTER_NODES` set), a quick sync and live tick, the test API key and admin,
/// and members signing in by typing their id, as `./dev serve` runs it (tests/members.rs turns
/// that off to test the real sources). Nothing else is read from the environment.
pub fn test_config() -> Config {
    let settings = [
        ("API_KEY", API_KEY),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("CLAIM_ACK", "primary"),
        ("SYNC_LEASE_MS", "500"),
        ("SYNC_IDLE_MS", "20"),
        ("LIVE_TICK_MS", "100"),
        ("MEMBER_DEMO_SIGN_IN", "true"),
    ];
    let stores = ["REDIS_URL", "REDIS_CLUSTER_NODES", "DATABASE_URL"];
    Config::from_lookup(|name| match settings.iter().find(|(set, _)| *set == name) {
        Some((_, value)) => Some((*value).to_owned()),
        None if stores.contains(&name) => std::env::var(name).ok(),
        None => None,
    })
    .expect("REDIS_URL and DATABASE_URL: run through ./dev test")
}

/// Rate limits that count for this test server alone (the tests share one Redis and one
/// client address).
pub fn limits_of_its_own(state: &AppState, settings: LimitSettings) -> RateLimits {
    RateLimits::in_namespace(state.engine.redis(), settings, &unique_marker())
}

/// Member identity with the demo sign-in on and nothing else.
pub fn demo_sign_in() -> coupon_access::MemberSources {
    coupon_access::MemberSources::new(coupon_access::member::Sources {
        demo_sign_in: true,
        session_lifetime: StdDuration::from_secs(3600),
        ..Default::default()
    })
}

pub fn draft(quantity: i64) -> CampaignDraft {
    CampaignDraft {
        name: format!("server test {}", unique_marker()),
        discount_kind: "percentage".into(),
        discount_amount: 15,
        quantity,
        claim_starts_at: Utc::now() - Duration::minutes(1),
        claim_ends_at: Utc::now() + Duration::hours(1),
        valid_days: 7,
        min_order_amount: None,
        max_discount_amount: None,
        opening: None,
        entries_open_at: None,
        bot_check_bits: None,
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after `within`.
pub async fn eventually<F, Fut>(what: &str, within: StdDuration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let held = first_within(within, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await;
    assert!(held.is_some(), "timed out waiting for {what}");
}

/// Polls `ask` every 20 ms until it answers; `None` if it has not within `within`.
pub async fn first_within<T, F, Fut>(within: StdDuration, ask: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    first_within_every(StdDuration::from_millis(20), within, ask).await
}

/// Polls `ask` every `every` until it answers; `None` if it has not within `within`.
pub async fn first_within_every<T, F, Fut>(
    every: StdDuration,
    within: StdDuration,
    mut ask: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut polls = tokio::time::interval(every);
    loop {
        polls.tick().await;
        if let Some(answer) = ask().await {
            return Some(answer);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}

/// A client that keeps cookies, as a browser does.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Calls a server function the way a page does (form-encoded POST to `/api/<name>`).
pub async fn call(
    client: &reqwest::Client,
    server: &TestServer,
    name: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(server.url(&format!("/api/{name}")))
        .header("origin", server.origin())
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A browser signed in as the test admin.
pub async fn admin_browser(server: &TestServer) -> reqwest::Client {
    let client = browser();
    let response = call(
        &client,
        server,
        "admin_sign_in",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "true");
    client
}

/// A random marker that keeps test data of one run apart from another's.
pub fn unique_marker() -> String {
    format!("{:016x}", rand::random::<u64>())
}
