//! A setting the server cannot read stops it at start-up, and the error names the setting: one
//! test per kind of value (`main` returns this error before anything connects).

use super::{Config, ConfigError};
use std::collections::HashMap;

/// What the configuration says of `pairs` added to the two settings every server needs.
fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut settings: HashMap<String, String> = HashMap::from([
        (
            "REDIS_URL".to_owned(),
            "redis://127.0.0.1:6379/0".to_owned(),
        ),
        (
            "DATABASE_URL".to_owned(),
            "postgres://postgres@127.0.0.1:5432/coupon".to_owned(),
        ),
    ]);
    for (name, value) in pairs {
        settings.insert((*name).to_owned(), (*value).to_owned());
    }
    Config::from_lookup(|name| settings.get(name).cloned())
}

/// The refusal of `pairs`, which must name `setting`.
fn refusal_naming(setting: &str, pairs: &[(&str, &str)]) -> String {
    let Err(refusal) = read(pairs) else {
        panic!("{pairs:?} was accepted");
    };
    assert!(
        refusal.0.contains(setting),
        "{setting} not named: {}",
        refusal.0
    );
    refusal.0
}

#[test]
fn the_settings_of_the_refusal_tests_are_accepted_alone() {
    assert!(read(&[]).is_ok());
}

#[test]
fn a_number_that_is_not_one_is_refused_by_name() {
    let refusal = refusal_naming("LIVE_TICK_MS", &[("LIVE_TICK_MS", "soon")]);
    assert_eq!(refusal, "LIVE_TICK_MS must be a whole number, got \"soon\"");
    refusal_naming("SYNC_LEASE_MS", &[("SYNC_LEASE_MS", "-1")]);
}

#[test]
fn a_count_below_one_is_refused_by_name() {
    let refusal = refusal_naming(
        "LIVE_STREAMS_PER_ADDRESS",
        &[("LIVE_STREAMS_PER_ADDRESS", "0")],
    );
    assert_eq!(refusal, "LIVE_STREAMS_PER_ADDRESS must be at least 1");
}

#[test]
fn a_rate_out_of_its_range_is_refused_by_name() {
    refusal_naming(
        "RATE_CLAIMS_PER_USER_PER_MINUTE",
        &[("RATE_CLAIMS_PER_USER_PER_MINUTE", "0")],
    );
    refusal_naming(
        "RATE_SIGNINS_PER_MINUTE",
        &[("RATE_SIGNINS_PER_MINUTE", "5000000000")],
    );
}

#[test]
fn a_duration_out_of_its_range_is_refused_by_name() {
    refusal_naming(
        "CLAIM_ACK_TIMEOUT_MS",
        &[
            ("CLAIM_ACK", "replicated"),
            ("CLAIM_ACK_TIMEOUT_MS", "5000"),
        ],
    );
    refusal_naming(
        "MEMBER_SESSION_MINUTES",
        &[("MEMBER_SESSION_MINUTES", "forever")],
    );
}

#[test]
fn a_flag_that_is_neither_true_nor_false_is_refused_by_name() {
    let refusal = refusal_naming("COOKIE_SECURE", &[("COOKIE_SECURE", "yes")]);
    assert_eq!(refusal, "COOKIE_SECURE must be true or false, got \"yes\"");
    refusal_naming("TRUST_FORWARDED_FOR", &[("TRUST_FORWARDED_FOR", "on")]);
}

#[test]
fn a_choice_outside_its_options_is_refused_by_name() {
    refusal_naming("CLAIM_ACK", &[("CLAIM_ACK", "all")]);
}

#[test]
fn an_origin_with_a_path_or_without_a_scheme_is_refused_by_name() {
    refusal_naming(
        "PUBLIC_ORIGIN",
        &[("PUBLIC_ORIGIN", "https://shop.example/coupons")],
    );
    refusal_naming("PUBLIC_ORIGIN", &[("PUBLIC_ORIGIN", "shop.example")]);
}

#[test]
fn a_store_url_that_does_not_parse_is_refused_by_name_without_repeating_it() {
    let redis = refusal_naming("REDIS_URL", &[("REDIS_URL", "127.0.0.1:6379")]);
    let postgres = refusal_naming(
        "DATABASE_URL",
        &[("DATABASE_URL", "postgres://user:hunter2@[::1")],
    );
    assert!(
        !postgres.contains("hunter2"),
        "the password was repeated: {postgres}"
    );
    assert!(!redis.contains("127.0.0.1"), "{redis}");
}

#[test]
fn a_listen_address_that_is_not_host_and_port_is_refused_by_name() {
    refusal_naming("METRICS_ADDR", &[("METRICS_ADDR", "9100")]);
    refusal_naming("LEPTOS_SITE_ADDR", &[("LEPTOS_SITE_ADDR", "localhost")]);
}

#[test]
fn a_list_with_an_entry_that_is_not_host_and_port_is_refused_by_name() {
    refusal_naming(
        "REDIS_SENTINELS",
        &[
            ("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2"),
            ("REDIS_SENTINEL_MASTER", "coupon"),
        ],
    );
}

#[test]
fn a_proxy_range_that_is_not_an_address_is_refused_by_name() {
    let refusal = refusal_naming("TRUSTED_PROXIES", &[("TRUSTED_PROXIES", "10.0.0.0/33")]);
    assert!(refusal.contains("10.0.0.0/33"), "{refusal}");
}

#[test]
fn a_header_name_that_is_not_one_is_refused_by_name() {
    refusal_naming(
        "MEMBER_HEADER",
        &[
            ("MEMBER_HEADER", "X Member"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    );
}

#[test]
fn a_secret_too_short_to_sign_with_is_refused_by_name() {
    refusal_naming("MEMBER_TOKEN_SECRET", &[("MEMBER_TOKEN_SECRET", "short")]);
}

#[test]
fn a_key_file_that_holds_no_key_is_refused_by_name() {
    // A file that exists and is not a key: this crate's manifest.
    let not_a_key = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    refusal_naming(
        "MEMBER_TOKEN_KEYS",
        &[
            ("MEMBER_TOKEN_KEYS", not_a_key),
            ("MEMBER_TOKEN_AUDIENCE", "coupon-web"),
        ],
    );
}
