//! Configuration from environment variables (documented in the README).

mod members;
#[cfg(test)]
mod refusals;
mod values;

use coupon::redis::RedisTarget;
use coupon::{ClaimAck, RedisSettings, SyncSettings};
use coupon_access::{AccessSettings, HashingSettings, LimitSettings, MemberSources};
use std::time::Duration;
use values::{flag, host_ports, postgres_url, public_origin, redis_url, socket_address};

/// Everything the server reads from its environment, besides Leptos's own `LEPTOS_*` variables
/// (the listen address is `LEPTOS_SITE_ADDR`, checked here too so that a bad one is named).
///
/// Adding a setting: a field here, its parsing in [`Config::from_lookup`] (with a parser of
/// `values` for its kind), the line that hands it on in `AppState::build` (or in the settings of
/// the part that uses it, such as [`AccessSettings`]), and its row in the README.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where Redis is and what "issued" means: `REDIS_URL` (e.g. `redis://127.0.0.1:6379`), or
    /// `REDIS_SENTINELS` (`host:port,…`) with `REDIS_SENTINEL_MASTER`, or `REDIS_CLUSTER_NODES`
    /// (`host:port,…`, seed nodes of a Redis Cluster); `CLAIM_ACK` (`primary`
    /// or `replicated`) with `CLAIM_ACK_REPLICAS` and `CLAIM_ACK_TIMEOUT_MS`.
    pub redis: RedisSettings,
    /// `DATABASE_URL`, e.g. `postgres://postgres@127.0.0.1:5432/coupon`.
    pub database_url: String,
    /// `SYNC_BATCH_SIZE`, `SYNC_ROWS_PER_STATEMENT`, `SYNC_IDLE_MS`, `SYNC_LEASE_MS`: the
    /// background sync's tunables.
    pub sync: SyncSettings,
    /// `API_KEY`: the shop backends' bearer token; unset disables the JSON API.
    pub api_key: Option<String>,
    /// `ADMIN_EMAIL` / `ADMIN_PASSWORD`: the first admin, created at start-up if none exists.
    pub first_admin: Option<(String, String)>,
    /// `COOKIE_SECURE`: mark session cookies `Secure` (set it when the site is served over https).
    pub secure_cookies: bool,
    /// `LIVE_TICK_MS`: how often open pages receive fresh numbers.
    pub live_tick: Duration,
    /// Who is asking and whether to let them through: `RATE_*` (the rate limits),
    /// `TRUST_FORWARDED_FOR` (take the client address from `X-Forwarded-For`), and where the
    /// claiming member comes from: `MEMBER_TOKEN_*`, `MEMBER_HEADER` with `TRUSTED_PROXIES`,
    /// `MEMBER_DEMO_SIGN_IN`, `MEMBER_SESSION_MINUTES` (see `members`).
    pub access: AccessSettings,
    /// `PUBLIC_ORIGIN`: the site's origin as browsers see it (`https://coupons.shop.example`).
    pub public_origin: Option<String>,
    /// `METRICS_ADDR`: where `/metrics` and `/readyz` are served instead of the public listener.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `LIVE_STREAMS_PER_ADDRESS`: live pages one client address may keep open on an instance.
    pub live_streams_per_address: usize,
}

/// A missing or unparsable variable, named so the operator knows what to fix.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::error::Error for ConfigError {}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError(format!("{name} must be set")))
        };
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(raw) => raw.parse().map_err(|_| {
                    ConfigError(format!("{name} must be a whole number, got {raw:?}"))
                }),
            }
        };
        let defaults = SyncSettings::default();
        // A size of at least one, that fits in memory.
        let size = |name: &str, default: usize| -> Result<usize, ConfigError> {
            match number(name, default as u64)? {
                0 => Err(ConfigError(format!("{name} must be at least 1"))),
                n => usize::try_from(n).map_err(|_| ConfigError(format!("{name} is too large"))),
            }
        };
        let sync = SyncSettings {
            batch_size: size("SYNC_BATCH_SIZE", defaults.batch_size)?,
            rows_per_statement: size("SYNC_ROWS_PER_STATEMENT", defaults.rows_per_statement)?,
            idle_interval: Duration::from_millis(number(
                "SYNC_IDLE_MS",
                defaults.idle_interval.as_millis() as u64,
            )?),
            lease_ttl: Duration::from_millis(number(
                "SYNC_LEASE_MS",
                defaults.lease_ttl.as_millis() as u64,
            )?),
            ..defaults
        };
        let optional = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let first_admin = match (optional("ADMIN_EMAIL"), optional("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, password)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "ADMIN_EMAIL and ADMIN_PASSWORD must be set together".into(),
                ));
            }
        };
        let flag = |name: &str| flag(&optional, name);
        let rate = |name: &str, default: u32| -> Result<u32, ConfigError> {
            let value = number(name, u64::from(default))?;
            u32::try_from(value)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| ConfigError(format!("{name} must be between 1 and {}", u32::MAX)))
        };
        let default_limits = LimitSettings::default();
        let limits = LimitSettings {
            sign_ins_per_minute: rate(
                "RATE_SIGNINS_PER_MINUTE",
                default_limits.sign_ins_per_minute,
            )?,
            claims_per_user_per_minute: rate(
                "RATE_CLAIMS_PER_USER_PER_MINUTE",
                default_limits.claims_per_user_per_minute,
            )?,
            claims_per_address_per_second: rate(
                "RATE_CLAIMS_PER_ADDRESS_PER_SECOND",
                default_limits.claims_per_address_per_second,
            )?,
        };
        let live_tick = Duration::from_millis(number("LIVE_TICK_MS", 1000)?.max(50));
        let target = match (optional("REDIS_CLUSTER_NODES"), optional("REDIS_SENTINELS")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "REDIS_CLUSTER_NODES and REDIS_SENTINELS exclude each other: set one".into(),
                ));
            }
            (Some(list), None) => RedisTarget::Cluster(host_ports("REDIS_CLUSTER_NODES", &list)?),
            (None, Some(list)) => {
                let sentinels = host_ports("REDIS_SENTINELS", &list)?;
                let master = optional("REDIS_SENTINEL_MASTER").ok_or_else(|| {
                    ConfigError("REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS".into())
                })?;
                RedisTarget::Sentinel { sentinels, master }
            }
            (None, None) => RedisTarget::Url(redis_url(required("REDIS_URL")?)?),
        };
        let ack = match optional("CLAIM_ACK").as_deref() {
            None | Some("primary") => ClaimAck::Primary,
            Some("replicated") => ClaimAck::Replicated {
                replicas: match number("CLAIM_ACK_REPLICAS", 1)? {
                    0 => return Err(ConfigError("CLAIM_ACK_REPLICAS must be at least 1".into())),
                    n => u32::try_from(n)
                        .map_err(|_| ConfigError("CLAIM_ACK_REPLICAS is too large".into()))?,
                },
                // Below the 2.5 s a claim waits for its answer at most, with room for the round.
                timeout: match number("CLAIM_ACK_TIMEOUT_MS", 250)? {
                    ms @ 1..=2000 => Duration::from_millis(ms),
                    _ => {
                        return Err(ConfigError(
                            "CLAIM_ACK_TIMEOUT_MS must be between 1 and 2000".into(),
                        ));
                    }
                },
            },
            Some(other) => {
                return Err(ConfigError(format!(
                    "CLAIM_ACK must be primary or replicated, got {other:?}"
                )));
            }
        };
        // Leptos reads its own settings, the listen address among them, and its error would
        // not name the variable.
        if let Some(raw) = optional("LEPTOS_SITE_ADDR") {
            socket_address("LEPTOS_SITE_ADDR", &raw)?;
        }
        Ok(Self {
            redis: RedisSettings { target, ack },
            database_url: postgres_url(required("DATABASE_URL")?)?,
            sync,
            api_key: optional("API_KEY"),
            first_admin,
            secure_cookies: flag("COOKIE_SECURE")?,
            live_tick,
            access: AccessSettings {
                members: MemberSources::new(members::member_sources(optional)?),
                trust_forwarded_for: flag("TRUST_FORWARDED_FOR")?,
                limits,
                hashing: HashingSettings::default(),
            },
            public_origin: optional("PUBLIC_ORIGIN")
                .map(|raw| public_origin(&raw))
                .transpose()?,
            live_streams_per_address: size(
                "LIVE_STREAMS_PER_ADDRESS",
                crate::open_streams::DEFAULT_STREAMS_PER_ADDRESS,
            )?,
            metrics_addr: optional("METRICS_ADDR")
                .map(|raw| socket_address("METRICS_ADDR", &raw))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_public_origin_is_read_as_browsers_write_it() {
        assert_eq!(
            public_origin("HTTPS://Coupons.Shop.example/").unwrap(),
            "https://coupons.shop.example"
        );
        assert!(public_origin("coupons.shop.example").is_err());
        assert!(public_origin("https://shop.example/coupons").is_err());
    }

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn sentinels_replace_the_redis_url_and_need_the_master_name() {
        let base = [
            ("DATABASE_URL", "postgres://y"),
            ("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379"),
        ];
        let err = Config::from_lookup(lookup(&base)).unwrap_err();
        assert_eq!(
            err.0,
            "REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS"
        );
        let mut named = base.to_vec();
        named.push(("REDIS_SENTINEL_MASTER", "coupon"));
        let config = Config::from_lookup(lookup(&named)).unwrap();
        assert_eq!(
            config.redis.target,
            RedisTarget::Sentinel {
                sentinels: vec!["10.0.0.1:26379".into(), "10.0.0.2:26379".into()],
                master: "coupon".into(),
            }
        );
    }

    #[test]
    fn cluster_nodes_replace_the_redis_url_and_exclude_sentinels() {
        let base = [
            ("DATABASE_URL", "postgres://y"),
            ("REDIS_CLUSTER_NODES", "10.0.0.1:7000, 10.0.0.2:7000,"),
        ];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(
            config.redis.target,
            RedisTarget::Cluster(vec!["10.0.0.1:7000".into(), "10.0.0.2:7000".into()])
        );
        let refusal = |pairs: &[(&str, &str)]| Config::from_lookup(lookup(pairs)).unwrap_err().0;
        assert_eq!(
            refusal(&[
                ("DATABASE_URL", "postgres://y"),
                ("REDIS_CLUSTER_NODES", "10.0.0.1")
            ]),
            "REDIS_CLUSTER_NODES must be host:port entries separated by commas, got \"10.0.0.1\""
        );
        let mut both = base.to_vec();
        both.push(("REDIS_SENTINELS", "10.0.0.1:26379"));
        assert_eq!(
            refusal(&both),
            "REDIS_CLUSTER_NODES and REDIS_SENTINELS exclude each other: set one"
        );
    }

    #[test]
    fn replicated_acknowledgments_are_read_and_checked_by_name() {
        let base = [("REDIS_URL", "redis://x"), ("DATABASE_URL", "postgres://y")];
        assert_eq!(
            Config::from_lookup(lookup(&base)).unwrap().redis.ack,
            ClaimAck::Primary
        );
        let mut replicated = base.to_vec();
        replicated.push(("CLAIM_ACK", "replicated"));
        replicated.push(("CLAIM_ACK_REPLICAS", "2"));
        assert_eq!(
            Config::from_lookup(lookup(&replicated)).unwrap().redis.ack,
            ClaimAck::Replicated {
                replicas: 2,
                timeout: Duration::from_millis(250)
            }
        );
        let mut wrong = base.to_vec();
        wrong.push(("CLAIM_ACK", "all"));
        let err = Config::from_lookup(lookup(&wrong)).unwrap_err();
        assert!(err.0.contains("CLAIM_ACK"), "{}", err.0);
    }

    #[test]
    fn urls_are_required_and_named_when_missing() {
        let err = Config::from_lookup(lookup(&[("REDIS_URL", "redis://x")])).unwrap_err();
        assert_eq!(err.0, "DATABASE_URL must be set");
    }

    #[test]
    fn sync_settings_default_and_can_be_overridden() {
        let base = [("REDIS_URL", "redis://x"), ("DATABASE_URL", "postgres://y")];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.sync.batch_size, 5000);
        assert_eq!(config.sync.rows_per_statement, 100);
        let mut custom = base.to_vec();
        custom.push(("SYNC_BATCH_SIZE", "50"));
        custom.push(("SYNC_ROWS_PER_STATEMENT", "20"));
        let sync = Config::from_lookup(lookup(&custom)).unwrap().sync;
        assert_eq!((sync.batch_size, sync.rows_per_statement), (50, 20));
    }

    #[test]
    fn sync_sizes_of_zero_are_refused_by_name() {
        for name in ["SYNC_BATCH_SIZE", "SYNC_ROWS_PER_STATEMENT"] {
            let pairs = [
                ("REDIS_URL", "redis://x"),
                ("DATABASE_URL", "postgres://y"),
                (name, "0"),
            ];
            let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
            assert_eq!(err.0, format!("{name} must be at least 1"));
        }
    }

    #[test]
    fn the_first_admin_needs_both_email_and_password() {
        let pairs = [
            ("REDIS_URL", "redis://x"),
            ("DATABASE_URL", "postgres://y"),
            ("ADMIN_EMAIL", "a@b.c"),
        ];
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.0.contains("ADMIN_PASSWORD"), "{}", err.0);
    }

    #[test]
    fn a_non_numeric_setting_is_named_in_the_error() {
        let pairs = [
            ("REDIS_URL", "redis://x"),
            ("DATABASE_URL", "postgres://y"),
            ("SYNC_IDLE_MS", "soon"),
        ];
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.0.contains("SYNC_IDLE_MS"), "{}", err.0);
    }
}
