//! The first claim a member (or an address) makes on this instance in a window is counted here
//! only, not in Redis: most members claim once, so the claim path then costs no Redis round trip
//! for its limits. From the second attempt on, the counter goes to Redis, with the attempts it
//! skipped added. So the limits hold across instances to within one attempt per instance and
//! window (measured cost and history: docs/benchmark.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

/// This instance's attempts of the current window, per subject, for one kind of counter.
pub struct FirstFree {
    window: Duration,
    counts: Mutex<(u64, HashMap<u64, u32>)>,
    hasher: std::collections::hash_map::RandomState,
}

/// What to do with an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Its subject's first attempt here this window: counted here only.
    Free,
    /// Count it in Redis, adding this many (the attempt and the free one before it).
    Redis(u32),
}

impl FirstFree {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            counts: Mutex::new((0, HashMap::new())),
            hasher: Default::default(),
        }
    }

    /// Counts an attempt of `subject` at `now` (since the epoch).
    pub fn route(&self, subject: &str, now: Duration) -> Route {
        let window = now.as_secs() / self.window.as_secs().max(1);
        let key = {
            let mut hasher = self.hasher.build_hasher();
            hasher.write(subject.as_bytes());
            hasher.finish()
        };
        let Ok(mut counts) = self.counts.lock() else {
            return Route::Redis(1);
        };
        let (current, map) = &mut *counts;
        // A new window: the old counts decide nothing any more (and memory stays bounded by
        // the subjects of one window).
        if *current != window {
            *current = window;
            map.clear();
        }
        let seen = map.entry(key).or_insert(0);
        *seen = seen.saturating_add(1);
        match *seen {
            1 => Route::Free,
            2 => Route::Redis(2),
            _ => Route::Redis(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_of_a_window_is_free_and_the_second_brings_it_along() {
        let limiter = FirstFree::new(Duration::from_secs(60));
        let now = Duration::from_secs(600);
        assert_eq!(limiter.route("m", now), Route::Free);
        assert_eq!(limiter.route("m", now), Route::Redis(2));
        assert_eq!(limiter.route("m", now), Route::Redis(1));
        assert_eq!(limiter.route("other", now), Route::Free);
        let next_window = Duration::from_secs(660);
        assert_eq!(limiter.route("m", next_window), Route::Free);
    }
}
