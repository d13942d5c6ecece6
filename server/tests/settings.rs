//! The server binary refuses to start with a setting it cannot read, and says which. It stops
//! before it connects to anything, so these need no Redis or PostgreSQL. (Each kind of value has
//! its unit test in `config::refusals`; these check that `main` stops on them.)

use std::process::{Command, ExitStatus};

/// The exit status and standard error of the server started with `pairs` and a Redis and
/// PostgreSQL URL that parse (nothing else in its environment).
fn start_with(pairs: &[(&str, &str)]) -> (ExitStatus, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .envs(pairs.iter().copied())
        .output()
        .expect("run the server binary");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status, stderr)
}

#[test]
fn a_setting_it_cannot_parse_stops_the_server_naming_it() {
    // Act
    let (status, stderr) = start_with(&[("LIVE_TICK_MS", "soon")]);

    // Assert
    assert!(!status.success(), "it started: {stderr}");
    assert!(stderr.contains("LIVE_TICK_MS"), "{stderr}");
}

#[test]
fn a_listen_address_it_cannot_parse_stops_the_server_naming_it() {
    let (status, stderr) = start_with(&[("LEPTOS_SITE_ADDR", "localhost")]);

    assert!(!status.success(), "it started: {stderr}");
    assert!(stderr.contains("LEPTOS_SITE_ADDR"), "{stderr}");
}

#[test]
fn a_log_filter_it_cannot_parse_stops_the_server_naming_it() {
    let (status, stderr) = start_with(&[("RUST_LOG", "server=loud")]);

    assert!(!status.success(), "it started: {stderr}");
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}
