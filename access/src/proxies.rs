//! `TRUSTED_PROXIES`: the address ranges of the proxies in front of this server, the only
//! peers whose identity headers (`MEMBER_HEADER`) are believed.

use std::net::IpAddr;

/// A list of CIDR ranges (`10.0.0.0/8`, `::1/128`; a bare address is a range of one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 192.168.1.7, fd00::/8`; the error names the entry that is wrong.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("TRUSTED_PROXIES: {entry:?} is not an address or CIDR range");
            let (address, bits) = match entry.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (entry, None),
            };
            let address: IpAddr = address.parse().map_err(|_| bad())?;
            let most = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= most)
                    .ok_or_else(bad)?,
                None => most,
            };
            ranges.push((address, bits));
        }
        Ok(Self(ranges))
    }

    /// Whether `peer` is one of the proxies.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = canonical(peer);
        self.0
            .iter()
            .any(|(range, bits)| same_prefix(canonical(*range), peer, *bits))
    }

    /// Whether no proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 peer seen through an IPv6 socket (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn same_prefix(range: IpAddr, peer: IpAddr, bits: u8) -> bool {
    let (range, peer, width) = match (range, peer) {
        (IpAddr::V4(r), IpAddr::V4(p)) => (u128::from(r.to_bits()), u128::from(p.to_bits()), 32),
        (IpAddr::V6(r), IpAddr::V6(p)) => (r.to_bits(), p.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (range >> shift) == (peer >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_their_addresses_only() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, fd00::/8").unwrap();
        assert!(proxies.contains(ip("10.200.3.4")));
        assert!(
            proxies.contains(ip("::ffff:10.0.0.1")),
            "IPv4 through an IPv6 socket"
        );
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(!proxies.contains(ip("fe80::1")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
    }

    #[test]
    fn a_bad_entry_is_named() {
        let error = TrustedProxies::parse("10.0.0.0/8, 10.0.0.0/33").unwrap_err();
        assert!(error.contains("10.0.0.0/33"), "{error}");
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
