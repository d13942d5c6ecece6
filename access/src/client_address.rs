//! The client's address, as the rate limits key it: the connection's peer, or behind proxies
//! the rightmost `X-Forwarded-For` hop that is not one of them. Each proxy appends the address
//! it got the request from, so the hops right of the client's were written by our proxies and
//! the ones left of it by whoever sent the request: the leftmost entry is whatever the client
//! chose to write.

use crate::proxies::TrustedProxies;
use axum::http::request::Parts;
use std::net::IpAddr;

/// Which peers are proxies whose `X-Forwarded-For` counts.
#[derive(Debug, Clone, Default)]
pub struct ClientAddressRule {
    /// `TRUSTED_PROXIES`: their hops are skipped.
    pub proxies: TrustedProxies,
    /// `TRUST_FORWARDED_FOR`: the direct peer is a proxy whatever its address.
    pub trust_forwarded_for: bool,
}

impl ClientAddressRule {
    /// The client's address of a request.
    pub fn client_of(&self, parts: &Parts) -> Option<IpAddr> {
        client_of(&self.proxies, self.trust_forwarded_for, parts)
    }
}

/// The client's address of a request whose proxies are `proxies` (and, with
/// `trust_forwarded_for`, whatever the direct peer is).
pub fn client_of(
    proxies: &TrustedProxies,
    trust_forwarded_for: bool,
    parts: &Parts,
) -> Option<IpAddr> {
    let peer = peer_of(parts);
    let behind_proxy = trust_forwarded_for || peer.is_some_and(|peer| proxies.contains(peer));
    if !behind_proxy {
        return peer;
    }
    let hops: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut leftmost_trusted = None;
    for hop in hops.iter().rev() {
        // A hop that is not an address was not written by one of our proxies: it stops
        // the walk, and the last proxy's peer is the answer.
        let Ok(address) = hop.parse::<IpAddr>() else {
            break;
        };
        if !proxies.contains(address) {
            return Some(address);
        }
        leftmost_trusted = Some(address);
    }
    leftmost_trusted.or(peer)
}

/// The address at the other end of the request's connection.
pub fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;

    fn request(peer: &str, forwarded: &[&str]) -> Parts {
        let mut builder = axum::http::Request::builder();
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        let peer: std::net::SocketAddr = format!("{peer}:4000").parse().unwrap();
        parts.extensions.insert(ConnectInfo(peer));
        parts
    }

    fn rule(proxies: &str, trust_forwarded_for: bool) -> ClientAddressRule {
        ClientAddressRule {
            proxies: TrustedProxies::parse(proxies).unwrap(),
            trust_forwarded_for,
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_spoofed_leftmost_entry_is_ignored_behind_trusted_proxies() {
        let rule = rule("10.0.0.0/8", false);
        let spoofed = request("10.0.0.2", &["6.6.6.6, 203.0.113.9, 10.0.0.1"]);
        assert_eq!(rule.client_of(&spoofed), ip("203.0.113.9"));
        let split_headers = request("10.0.0.2", &["6.6.6.6", "203.0.113.9"]);
        assert_eq!(rule.client_of(&split_headers), ip("203.0.113.9"));
    }

    #[test]
    fn a_peer_that_is_not_a_proxy_is_the_client_whatever_it_forwards() {
        let rule = rule("10.0.0.0/8", false);
        assert_eq!(
            rule.client_of(&request("198.51.100.4", &["1.2.3.4"])),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn trust_forwarded_for_takes_the_hop_the_direct_proxy_appended() {
        let rule = rule("", true);
        let forwarded = request("127.0.0.1", &["6.6.6.6, 203.0.113.9"]);
        assert_eq!(rule.client_of(&forwarded), ip("203.0.113.9"));
        assert_eq!(rule.client_of(&request("127.0.0.1", &[])), ip("127.0.0.1"));
        let garbage = request("127.0.0.1", &["not-an-address"]);
        assert_eq!(rule.client_of(&garbage), ip("127.0.0.1"));
    }
}
