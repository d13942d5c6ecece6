//! Entry point: the configuration, the state built from it, the listeners, and signals.

// The claim path makes many small, short-lived allocations per request across threads, which
// mimalloc handles far better than glibc's malloc (profile: docs/benchmark.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use leptos::prelude::get_configuration;
use server::{AppState, config::Config, run, run_with_operator_listener};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter()?)
        // A log line that cannot be written is dropped. By default the subscriber reports the
        // failure with `eprintln!`, which panics when standard error is broken too: once the
        // process reading our output was gone (a supervisor restarting, `| tee` killed), every
        // task that logged panicked, the SIGTERM handler included, so the server never stopped.
        .log_internal_errors(false)
        .init();

    // Every setting is read (and a bad one refused, by name) before anything connects.
    let config = Config::from_env()?;
    let leptos_options = get_configuration(None)
        .map_err(|error| format!("the LEPTOS_* settings: {error}"))?
        .leptos_options;
    let state = AppState::build(&config, leptos_options).await?;
    if config.api_key.is_none() {
        tracing::warn!("API_KEY is not set: the JSON API answers 401 to every request");
    }
    if state.access.members.demo_sign_in {
        tracing::warn!("MEMBER_DEMO_SIGN_IN is on: anyone can claim as any member id they type");
    }
    let addr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr}");
    tokio::spawn(cancel_on_signal(state.shutdown.clone()));
    match config.metrics_addr {
        Some(metrics_addr) => {
            let operators = tokio::net::TcpListener::bind(metrics_addr).await?;
            tracing::info!("metrics and readiness on http://{metrics_addr}");
            run_with_operator_listener(listener, operators, state).await?;
        }
        None => {
            tracing::warn!(
                "METRICS_ADDR is not set: /metrics and /readyz are served on the public listener"
            );
            run(listener, state).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// `RUST_LOG`, or `info` when it is unset. A filter that cannot be parsed stops the server
/// (naming `RUST_LOG`) rather than logging at a level nobody chose.
fn log_filter() -> Result<EnvFilter, String> {
    match EnvFilter::try_from_default_env() {
        Ok(filter) => Ok(filter),
        Err(_) if std::env::var_os(EnvFilter::DEFAULT_ENV).is_none() => Ok(EnvFilter::new("info")),
        Err(error) => Err(format!("RUST_LOG: {error}")),
    }
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what an orchestrator sends before killing).
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
                shutdown.cancel();
                exit_by_the_deadline();
                return;
            }
        };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    // Cancel first: nothing the log does can then keep the server from stopping.
    shutdown.cancel();
    exit_by_the_deadline();
    tracing::info!("shutdown requested; finishing in-flight work");
}

/// Ends the process at [`SHUTDOWN_DEADLINE`] if it has not ended by then, whatever hangs:
/// requests, the sync, or every thread of the runtime (this is a thread of its own, not a task).
fn exit_by_the_deadline() {
    std::thread::spawn(|| {
        std::thread::sleep(SHUTDOWN_DEADLINE);
        let _ = std::panic::catch_unwind(|| {
            tracing::error!(
                "still running {SHUTDOWN_DEADLINE:?} after the shutdown request: exiting"
            )
        });
        std::process::exit(1);
    });
}

/// The process exits at most this long after SIGTERM or Ctrl-C: normally once the requests
/// ([`server::REQUESTS_GRACE`]) and then the background tasks ([`server::TASKS_GRACE`]) are
/// done, and with status 1 at this deadline if anything still holds it up.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
