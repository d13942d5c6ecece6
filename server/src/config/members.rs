//! The member-identity part of the configuration: where the claiming member's id comes from.

use super::ConfigError;
use axum::http::HeaderName;
use coupon_access::member::Sources;
use coupon_access::member_token::MemberTokens;
use coupon_access::proxies::TrustedProxies;
use std::time::Duration;

/// Member sessions last this long unless `MEMBER_SESSION_MINUTES` says otherwise: a shared
/// device forgets its member within the hour.
const DEFAULT_MEMBER_SESSION_MINUTES: u64 = 60;

/// Reads `MEMBER_TOKEN_SECRET`, `MEMBER_TOKEN_KEYS` (a file), `MEMBER_TOKEN_ISSUER`,
/// `MEMBER_TOKEN_AUDIENCE` (or `MEMBER_TOKEN_AUDIENCE_ANY`), `MEMBER_HEADER`, `TRUSTED_PROXIES`,
/// `MEMBER_DEMO_SIGN_IN` and `MEMBER_SESSION_MINUTES` through `optional` (unset or empty:
/// `None`).
pub fn member_sources(optional: impl Fn(&str) -> Option<String>) -> Result<Sources, ConfigError> {
    let keys_document = match optional("MEMBER_TOKEN_KEYS") {
        None => None,
        Some(path) => Some(std::fs::read_to_string(&path).map_err(|error| {
            ConfigError(format!("MEMBER_TOKEN_KEYS: cannot read {path:?}: {error}"))
        })?),
    };
    let tokens = MemberTokens::new(
        optional("MEMBER_TOKEN_SECRET").as_deref(),
        keys_document.as_deref(),
        optional("MEMBER_TOKEN_ISSUER"),
        token_audience(&optional, keys_document.is_some())?,
    )
    .map_err(ConfigError)?;
    let trusted_proxies = TrustedProxies::parse(&optional("TRUSTED_PROXIES").unwrap_or_default())
        .map_err(ConfigError)?;
    let header = match optional("MEMBER_HEADER") {
        None => None,
        Some(name) => {
            if trusted_proxies.is_empty() {
                return Err(ConfigError(
                    "MEMBER_HEADER needs TRUSTED_PROXIES: the header is believed only from them"
                        .into(),
                ));
            }
            Some(HeaderName::try_from(name.as_str()).map_err(|_| {
                ConfigError(format!("MEMBER_HEADER: {name:?} is not a header name"))
            })?)
        }
    };
    let demo_sign_in = super::flag(&optional, "MEMBER_DEMO_SIGN_IN")?;
    let minutes = match optional("MEMBER_SESSION_MINUTES") {
        None => DEFAULT_MEMBER_SESSION_MINUTES,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|m| (1..=7 * 24 * 60).contains(m))
            .ok_or_else(|| {
                ConfigError(format!(
                    "MEMBER_SESSION_MINUTES must be between 1 and 10080, got {raw:?}"
                ))
            })?,
    };
    Ok(Sources {
        tokens,
        header,
        trusted_proxies,
        demo_sign_in,
        session_lifetime: Duration::from_secs(minutes * 60),
    })
}

/// `MEMBER_TOKEN_AUDIENCE`, the `aud` member tokens must carry; `None` accepts any.
///
/// An OpenID provider signs the ID tokens of every application it serves with the same keys,
/// so with `MEMBER_TOKEN_KEYS` and no audience, a token the provider issued to any other
/// application (another shop's, a test app's) would name a member here. That is refused at
/// start-up unless the operator accepts it knowingly with `MEMBER_TOKEN_AUDIENCE_ANY=true`
/// (say, for a provider that issues no `aud`). An HS256 `MEMBER_TOKEN_SECRET` is the shop's
/// own, so alone it needs no audience.
fn token_audience(
    optional: &impl Fn(&str) -> Option<String>,
    has_keys: bool,
) -> Result<Option<String>, ConfigError> {
    let audience = optional("MEMBER_TOKEN_AUDIENCE");
    let any = super::flag(optional, "MEMBER_TOKEN_AUDIENCE_ANY")?;
    match (audience, any) {
        (Some(_), true) => Err(ConfigError(
            "MEMBER_TOKEN_AUDIENCE and MEMBER_TOKEN_AUDIENCE_ANY=true exclude each other: set one"
                .into(),
        )),
        (None, false) if has_keys => Err(ConfigError(
            "MEMBER_TOKEN_KEYS needs MEMBER_TOKEN_AUDIENCE (your client id at the provider): \
             without it, tokens the provider issued to any other application would be accepted; \
             set MEMBER_TOKEN_AUDIENCE_ANY=true to accept them knowingly"
                .into(),
        )),
        (None, true) if has_keys => {
            tracing::warn!(
                "MEMBER_TOKEN_AUDIENCE_ANY is on: member tokens issued for any audience are \
                 accepted, including those the provider issued to other applications"
            );
            Ok(None)
        }
        (audience, _) => Ok(audience),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Sources, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        member_sources(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_configured_means_no_tokens_no_header_no_demo() {
        let sources = read(&[]).unwrap();
        assert!(sources.tokens.is_none() && sources.header.is_none() && !sources.demo_sign_in);
        assert_eq!(sources.session_lifetime, Duration::from_secs(3600));
    }

    #[test]
    fn each_wrong_value_is_named() {
        let short = read(&[("MEMBER_TOKEN_SECRET", "short")]).unwrap_err();
        assert!(short.0.contains("MEMBER_TOKEN_SECRET"), "{}", short.0);
        let header = read(&[("MEMBER_HEADER", "X-Auth-Request-User")]).unwrap_err();
        assert!(header.0.contains("TRUSTED_PROXIES"), "{}", header.0);
        let keys = read(&[("MEMBER_TOKEN_KEYS", "/nonexistent/keys.json")]).unwrap_err();
        assert!(keys.0.contains("MEMBER_TOKEN_KEYS"), "{}", keys.0);
        let demo = read(&[("MEMBER_DEMO_SIGN_IN", "yes")]).unwrap_err();
        assert!(demo.0.contains("MEMBER_DEMO_SIGN_IN"), "{}", demo.0);
        let minutes = read(&[("MEMBER_SESSION_MINUTES", "0")]).unwrap_err();
        assert!(
            minutes.0.contains("MEMBER_SESSION_MINUTES"),
            "{}",
            minutes.0
        );
    }

    /// The JWKS fixture of the member tests, as `MEMBER_TOKEN_KEYS` would name it.
    const JWKS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/member_jwks.json"
    );

    #[test]
    fn provider_keys_without_an_audience_are_refused_unless_any_audience_is_chosen() {
        let refused = read(&[("MEMBER_TOKEN_KEYS", JWKS)]).unwrap_err();
        assert!(refused.0.contains("MEMBER_TOKEN_AUDIENCE"), "{}", refused.0);
        assert!(
            read(&[
                ("MEMBER_TOKEN_KEYS", JWKS),
                ("MEMBER_TOKEN_AUDIENCE", "coupon-web")
            ])
            .unwrap()
            .tokens
            .is_some()
        );
        assert!(
            read(&[
                ("MEMBER_TOKEN_KEYS", JWKS),
                ("MEMBER_TOKEN_AUDIENCE_ANY", "true")
            ])
            .unwrap()
            .tokens
            .is_some()
        );
        let both = read(&[
            ("MEMBER_TOKEN_KEYS", JWKS),
            ("MEMBER_TOKEN_AUDIENCE", "coupon-web"),
            ("MEMBER_TOKEN_AUDIENCE_ANY", "true"),
        ])
        .unwrap_err();
        assert!(both.0.contains("MEMBER_TOKEN_AUDIENCE_ANY"), "{}", both.0);
        let not_a_flag = read(&[
            ("MEMBER_TOKEN_KEYS", JWKS),
            ("MEMBER_TOKEN_AUDIENCE_ANY", "yes"),
        ])
        .unwrap_err();
        assert!(
            not_a_flag.0.contains("MEMBER_TOKEN_AUDIENCE_ANY"),
            "{}",
            not_a_flag.0
        );
    }

    #[test]
    fn a_shop_secret_alone_needs_no_audience() {
        let sources = read(&[(
            "MEMBER_TOKEN_SECRET",
            "a-shop-secret-of-at-least-32-bytes!!",
        )]);
        assert!(sources.unwrap().tokens.is_some());
    }

    #[test]
    fn the_header_is_read_with_its_proxies() {
        let sources = read(&[
            ("MEMBER_HEADER", "X-Auth-Request-User"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ])
        .unwrap();
        assert_eq!(sources.header.unwrap().as_str(), "x-auth-request-user");
        assert!(
            sources
                .trusted_proxies
                .contains("10.1.2.3".parse().unwrap())
        );
    }
}
