//! Rate limits on the paths worth abusing: admin sign-in (password guessing) and claims (bots
//! hammering a campaign). Token buckets in memory, per instance: they cost no Redis round trip
//! on the claim path. With several instances the effective limit is the sum over instances.

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The configured limits (attempts per period, each with a burst of the same size).
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Sign-in attempts per account per minute, and per client address per minute.
    pub sign_ins_per_minute: u32,
    /// Claims per member (or API user id) per minute.
    pub claims_per_user_per_minute: u32,
    /// Claims per client address per second (web claims only: API calls come from the shop).
    pub claims_per_address_per_second: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            sign_ins_per_minute: 10,
            claims_per_user_per_minute: 30,
            claims_per_address_per_second: 100,
        }
    }
}

/// A refusal: how long until the next attempt may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// Every limiter of one server instance; cheap to clone.
#[derive(Clone)]
pub struct RateLimits(Arc<Limiters>);

/// Users and accounts are keyed by a 64-bit hash of their id rather than the id itself: a
/// storm of distinct members then costs a few dozen bytes each until the idle sweep, and a
/// claim allocates nothing here. A collision only makes two ids share a bucket.
struct Limiters {
    sign_in_account: Keyed<u64>,
    sign_in_address: Keyed<IpAddr>,
    claim_user: Keyed<u64>,
    claim_address: Keyed<IpAddr>,
}

fn hashed(id: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut hasher = SEED.get_or_init(Default::default).build_hasher();
    hasher.write(id.as_bytes());
    hasher.finish()
}

fn quota(per: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(per.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period / burst.get())
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

impl RateLimits {
    pub fn new(settings: LimitSettings) -> Self {
        let minute = Duration::from_secs(60);
        Self(Arc::new(Limiters {
            sign_in_account: RateLimiter::keyed(quota(settings.sign_ins_per_minute, minute)),
            sign_in_address: RateLimiter::keyed(quota(settings.sign_ins_per_minute * 3, minute)),
            claim_user: RateLimiter::keyed(quota(settings.claims_per_user_per_minute, minute)),
            claim_address: RateLimiter::keyed(quota(
                settings.claims_per_address_per_second,
                Duration::from_secs(1),
            )),
        }))
    }

    /// A sign-in attempt for `account` from `address`.
    pub fn sign_in(&self, account: &str, address: Option<IpAddr>) -> Result<(), Limited> {
        check(
            &self.0.sign_in_account,
            &hashed(&account.trim().to_lowercase()),
        )?;
        address.map_or(Ok(()), |ip| check(&self.0.sign_in_address, &ip))
    }

    /// A demo member sign-in from `address` (the address's sign-in budget: each one would
    /// otherwise write a session to Redis).
    pub fn member_sign_in(&self, address: Option<IpAddr>) -> Result<(), Limited> {
        address.map_or(Ok(()), |ip| check(&self.0.sign_in_address, &ip))
    }

    /// A claim by `user` from `address` (`None` for API calls).
    pub fn claim(&self, user: &str, address: Option<IpAddr>) -> Result<(), Limited> {
        if let Some(ip) = address {
            check(&self.0.claim_address, &ip)?;
        }
        check(&self.0.claim_user, &hashed(user))
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.0.sign_in_account.retain_recent();
        self.0.sign_in_address.retain_recent();
        self.0.claim_user.retain_recent();
        self.0.claim_address.retain_recent();
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), Limited> {
    limiter.check_key(key).map_err(|not_until| Limited {
        retry_after: not_until
            .wait_time_from(governor::clock::Clock::now(&DefaultClock::default()))
            .max(Duration::from_millis(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_allowed_and_the_next_attempt_is_refused() {
        let limits = RateLimits::new(LimitSettings {
            sign_ins_per_minute: 3,
            ..LimitSettings::default()
        });
        for _ in 0..3 {
            assert!(limits.sign_in("a@b.c", None).is_ok());
        }
        let refused = limits.sign_in("A@B.C", None).unwrap_err();
        assert!(refused.retry_after > Duration::ZERO);
        assert!(limits.sign_in("other@b.c", None).is_ok(), "per account");
    }
}
