//! How each kind of value is read: flags, origins, addresses, lists and store URLs. Each parser
//! names the variable it refuses, so the server stops at start-up saying what to fix.

use super::ConfigError;

/// A `true`/`false` (or `1`/`0`) variable read through `optional`; unset is `false`.
pub(super) fn flag(
    optional: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<bool, ConfigError> {
    match optional(name).as_deref() {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ConfigError(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

/// `https://host[:port]`, as a browser writes it in `Origin`: lower case, no path.
pub(super) fn public_origin(raw: &str) -> Result<String, ConfigError> {
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let bad = || {
        ConfigError(format!(
            "PUBLIC_ORIGIN must be scheme://host[:port] (e.g. https://coupons.shop.example), got {raw:?}"
        ))
    };
    let (scheme, host) = origin.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains(['/', '?', '#']) {
        return Err(bad());
    }
    Ok(origin)
}

/// `host:port` entries separated by commas, as `name` must hold them.
pub(super) fn host_ports(name: &str, list: &str) -> Result<Vec<String>, ConfigError> {
    let entries: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect();
    let well_formed = |entry: &String| {
        entry
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
    };
    if entries.is_empty() || !entries.iter().all(well_formed) {
        return Err(ConfigError(format!(
            "{name} must be host:port entries separated by commas, got {list:?}"
        )));
    }
    Ok(entries)
}

/// `host:port` as a socket address (an IP address, not a host name), as `name` must hold it.
pub(super) fn socket_address(name: &str, raw: &str) -> Result<std::net::SocketAddr, ConfigError> {
    raw.parse()
        .map_err(|_| ConfigError(format!("{name} must be host:port, got {raw:?}")))
}

/// `REDIS_URL` as redis-rs reads it when it connects. Checked here because that error would not
/// name the variable; the URL itself is not repeated (it may hold a password).
pub(super) fn redis_url(raw: String) -> Result<String, ConfigError> {
    match redis::IntoConnectionInfo::into_connection_info(raw.as_str()) {
        Ok(_) => Ok(raw),
        Err(error) => Err(ConfigError(format!(
            "REDIS_URL must be a Redis URL (redis://host:port/db): {error}"
        ))),
    }
}

/// `DATABASE_URL` as sqlx reads it when it connects (checked here for the same reasons as
/// [`redis_url`]).
pub(super) fn postgres_url(raw: String) -> Result<String, ConfigError> {
    match raw.parse::<sqlx::postgres::PgConnectOptions>() {
        Ok(_) => Ok(raw),
        Err(error) => Err(ConfigError(format!(
            "DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host/database): {error}"
        ))),
    }
}
