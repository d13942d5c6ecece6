//! Rate limits on the paths worth abusing, kept in Redis so that they hold across every
//! instance: claims per member and per client address, demo sign-ins and sign-in links per
//! address, and failed admin sign-ins per (account, address) and per address.
//!
//! Every attempt is counted before the work it asks for: `INCR` answers each of a burst of
//! simultaneous attempts with a count of its own, so no more than the allowance pass, where a
//! read of the counters would let the whole burst through. (A successful admin sign-in is taken
//! back afterwards: those limits count failures.)
//!
//! - [`first_free`]: a claim counter reaches Redis from the second attempt an instance sees.
//!
//! Each limit counts in windows: an `INCR` and an `EXPIRE` of the key naming the current window,
//! and a `GET` of the one before, which is weighed by how much of it still lies within one
//! window's length from now (so a burst cannot get twice the allowance at a window's turn). All
//! counters of a request share one pipeline, one round trip (`docs/benchmark.md` has what it
//! costs a claim). Addresses are keyed whole for IPv4 and by their /64 for IPv6, the block
//! one subscriber gets.

mod first_free;

use coupon::redis::RedisLink;
use first_free::{FirstFree, Route};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The configured limits.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Failed admin sign-ins per account and address per minute (per address alone: 3×; each
    /// attempt counts until it succeeded); demo sign-ins and sign-in links per address per
    /// minute.
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

/// Why an attempt was not let through.
#[derive(Debug)]
pub enum LimitRefusal {
    /// Over a limit.
    Limited(Limited),
    /// Redis did not answer: the attempt is refused rather than let through unlimited.
    Unavailable(redis::RedisError),
}

impl From<redis::RedisError> for LimitRefusal {
    fn from(error: redis::RedisError) -> Self {
        Self::Unavailable(error)
    }
}

/// The limits of this deployment; cheap to clone.
#[derive(Clone)]
pub struct RateLimits(Arc<Limits>);

struct Limits {
    redis: RedisLink,
    settings: LimitSettings,
    /// Starts every key: deployments (or test servers) sharing a Redis count apart.
    prefix: String,
    claims_by_user: FirstFree,
    claims_by_address: FirstFree,
}

/// An admin sign-in attempt that was counted: [`RateLimits::sign_in_succeeded`] takes it back.
pub struct SignInAttempt {
    counters: Vec<Counter>,
    counted_at: Duration,
}

/// One counter: what it counts, whose, its allowance per window, and how many attempts this
/// count adds.
struct Counter {
    kind: &'static str,
    subject: String,
    allowed: u32,
    window: Duration,
    adds: u32,
}

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

impl RateLimits {
    pub fn new(redis: RedisLink, settings: LimitSettings) -> Self {
        Self::in_namespace(redis, settings, "")
    }

    /// Limits that count apart from those of other namespaces in the same Redis.
    pub fn in_namespace(redis: RedisLink, settings: LimitSettings, namespace: &str) -> Self {
        Self(Arc::new(Limits {
            redis,
            settings,
            prefix: format!("limit:{namespace}"),
            claims_by_user: FirstFree::new(MINUTE),
            claims_by_address: FirstFree::new(SECOND),
        }))
    }

    /// A claim by `user` from `address` (`None` for API calls).
    pub async fn claim(&self, user: &str, address: Option<IpAddr>) -> Result<(), LimitRefusal> {
        let settings = self.0.settings;
        let now = unix_now();
        let mut counters = Vec::new();
        if let Route::Redis(adds) = self.0.claims_by_user.route(user, now) {
            counters.push(Counter {
                kind: "claim_user",
                subject: user.to_owned(),
                allowed: settings.claims_per_user_per_minute,
                window: MINUTE,
                adds,
            });
        }
        if let Some(address) = address.map(address_key)
            && let Route::Redis(adds) = self.0.claims_by_address.route(&address, now)
        {
            counters.push(Counter {
                kind: "claim_addr",
                subject: address,
                allowed: settings.claims_per_address_per_second,
                window: SECOND,
                adds,
            });
        }
        if counters.is_empty() {
            return Ok(());
        }
        self.count(&counters).await
    }

    /// An attempt to become a member on this browser from `address`: a demo sign-in or a
    /// sign-in link (each writes a session to Redis).
    pub async fn member_sign_in(&self, address: Option<IpAddr>) -> Result<(), LimitRefusal> {
        let Some(address) = address else {
            return Ok(());
        };
        self.count(&[Counter {
            kind: "member_signin_addr",
            subject: address_key(address),
            allowed: self.0.settings.sign_ins_per_minute,
            window: MINUTE,
            adds: 1,
        }])
        .await
    }

    /// Counts an admin sign-in attempt for `account` from `address`, before its password is
    /// checked: refused once that pair, or that address, tried too often this minute. A right
    /// password from an address with few failures still works while others guess at the
    /// account.
    pub async fn sign_in_attempt(
        &self,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<SignInAttempt, LimitRefusal> {
        let counters = self.sign_in_failures(account, address);
        let counted_at = unix_now();
        self.count_at(&counters, counted_at).await?;
        Ok(SignInAttempt {
            counters,
            counted_at,
        })
    }

    /// Takes a successful sign-in's attempt back, so that the limits count failures only (an
    /// admin signing in often is not limited). Only success is forgiven: attempts refused by the
    /// hashing queue stay counted, or a flood of them would never reach its limit.
    pub async fn sign_in_succeeded(&self, attempt: SignInAttempt) -> Result<(), redis::RedisError> {
        let mut redis = self.0.redis.clone();
        let mut groups = redis.groups();
        for counter in &attempt.counters {
            // The window it was counted in, though the hash took long enough for the next.
            let [counted, _] = counter.keys(&self.0.prefix, attempt.counted_at);
            // The expiry again: a key that expired meanwhile must not come back without one.
            groups
                .group()
                .decr(&counted, counter.adds)
                .expire(&counted, counter.expiry_seconds());
        }
        groups.query(&mut redis).await?;
        Ok(())
    }

    fn sign_in_failures(&self, account: &str, address: Option<IpAddr>) -> Vec<Counter> {
        let allowed = self.0.settings.sign_ins_per_minute;
        let address = address.map_or_else(|| "none".to_owned(), address_key);
        vec![
            Counter {
                kind: "signin_fail",
                subject: format!("{}|{address}", account.trim().to_lowercase()),
                allowed,
                window: MINUTE,
                adds: 1,
            },
            Counter {
                kind: "signin_fail_addr",
                subject: address,
                allowed: allowed.saturating_mul(3),
                window: MINUTE,
                adds: 1,
            },
        ]
    }

    /// Adds one to each counter; refused if any is then over its allowance.
    async fn count(&self, counters: &[Counter]) -> Result<(), LimitRefusal> {
        self.count_at(counters, unix_now()).await
    }

    /// [`Self::count`] in the windows of `now`.
    async fn count_at(&self, counters: &[Counter], now: Duration) -> Result<(), LimitRefusal> {
        // One group per key: the two windows of a counter may hash to different cluster slots.
        let mut redis = self.0.redis.clone();
        let mut groups = redis.groups();
        for counter in counters {
            let [current, previous] = counter.keys(&self.0.prefix, now);
            groups
                .group()
                .incr(&current, counter.adds)
                .expire(&current, counter.expiry_seconds());
            groups.group().get(previous);
        }
        let replies = groups.query(&mut redis).await?;
        let counts = replies
            .chunks(2)
            .map(|pair| {
                let count = pair[0].first().cloned().unwrap_or(redis::Value::Nil);
                let before = pair[1].first().cloned().unwrap_or(redis::Value::Nil);
                Ok((
                    redis::from_redis_value(count)?,
                    redis::from_redis_value(before)?,
                ))
            })
            .collect::<Result<Vec<(u64, Option<u64>)>, redis::ParsingError>>()
            .map_err(redis::RedisError::from)?;
        verdict(counters, &counts, now)
    }
}

impl Counter {
    /// The keys of the current window and of the one before.
    fn keys(&self, prefix: &str, now: Duration) -> [String; 2] {
        let window = now.as_secs() / self.window.as_secs().max(1);
        let key = |index: u64| format!("{prefix}:{}:{}:{index}", self.kind, self.subject);
        [key(window), key(window.saturating_sub(1))]
    }

    /// Long enough for the next window to read it; refreshed at every count.
    fn expiry_seconds(&self) -> i64 {
        2 * i64::try_from(self.window.as_secs()).unwrap_or(60) + 1
    }

    /// This window's count plus the share of the previous one still within a window from now.
    fn estimate(&self, current: u64, previous: u64, now: Duration) -> f64 {
        let window = self.window.as_secs_f64().max(1.0);
        let into_window = now.as_secs_f64() % window;
        current as f64 + previous as f64 * (1.0 - into_window / window)
    }

    fn retry_after(&self, now: Duration) -> Duration {
        let window = self.window.as_secs().max(1);
        Duration::from_secs(window - now.as_secs() % window)
    }
}

/// Refused with the longest wait among the counters that are over their allowance; `counts`
/// holds each counter's (current, previous) window.
fn verdict(
    counters: &[Counter],
    counts: &[(u64, Option<u64>)],
    now: Duration,
) -> Result<(), LimitRefusal> {
    let wait = counters
        .iter()
        .zip(counts)
        .filter(|(counter, (current, previous))| {
            counter.estimate(*current, previous.unwrap_or(0), now) > f64::from(counter.allowed)
        })
        .map(|(counter, _)| counter.retry_after(now))
        .max();
    match wait {
        Some(retry_after) => Err(LimitRefusal::Limited(Limited { retry_after })),
        None => Ok(()),
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The part of an address that names one subscriber: an IPv4 address, an IPv6 /64.
pub fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_of_one_subscriber_share_a_key() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_block: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(same_block));
        assert_ne!(address_key(one), address_key(other));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn the_longest_wait_of_the_counters_over_their_allowance_is_the_answer() {
        let counter = |allowed, window| Counter {
            kind: "k",
            subject: "s".into(),
            allowed,
            window,
            adds: 1,
        };
        let counters = [counter(2, MINUTE), counter(5, SECOND)];
        let now = Duration::from_secs(6_000_030);
        assert!(verdict(&counters, &[(2, None), (5, None)], now).is_ok());
        let Err(LimitRefusal::Limited(limited)) = verdict(&counters, &[(3, None), (6, None)], now)
        else {
            panic!("over both");
        };
        assert_eq!(limited.retry_after, Duration::from_secs(30));
    }

    #[test]
    fn the_previous_window_counts_for_the_part_of_it_still_within_reach() {
        let per_minute = Counter {
            kind: "k",
            subject: "s".into(),
            allowed: 10,
            window: MINUTE,
            adds: 1,
        };
        // A quarter into this window: three quarters of the last one still count.
        let now = Duration::from_secs(60 * 1000 + 15);
        assert_eq!(per_minute.estimate(2, 8, now), 8.0);
        assert!(verdict(std::slice::from_ref(&per_minute), &[(5, Some(8))], now).is_err());
        assert!(verdict(std::slice::from_ref(&per_minute), &[(4, Some(8))], now).is_ok());
    }
}
