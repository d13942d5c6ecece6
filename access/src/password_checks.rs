//! The queue in front of password checks: a few hashes at once, a bounded number waiting, and
//! a bounded share of both per client address. An attempt that finds no place is refused at
//! once (429), so a burst costs at most the queue's length in hashing, never minutes.

use crate::limits::{Limited, address_key};
use crate::passwords::Decoy;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How password checks are bounded.
#[derive(Debug, Clone, Copy)]
pub struct HashingSettings {
    /// Hashes computed at once (each takes ~19 MiB and a core for a moment).
    pub at_once: usize,
    /// Checks that may wait for a free hasher; more are refused rather than queued.
    pub waiting: usize,
    /// Checks one client address may have running or waiting, so that one address cannot fill
    /// the queue in front of another's sign-in.
    pub per_address: usize,
}

impl Default for HashingSettings {
    /// As many hashes at once as this machine has cores (so hashing never starves the claims
    /// of more than the cores it uses), 32 waiting, and each address up to the cores' worth.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        Self {
            at_once: cores,
            waiting: 32,
            per_address: cores,
        }
    }
}

/// The queue of password checks. Cheap to clone; the server keeps one per process in its
/// state.
#[derive(Clone)]
pub struct PasswordChecks(Arc<Queue>);

struct Queue {
    settings: HashingSettings,
    hashers: Arc<Semaphore>,
    places: Mutex<Places>,
    /// What an unknown email is checked against, made by the first such check.
    decoy: Decoy,
}

/// The places taken: running or waiting checks, in all and per address key.
#[derive(Default)]
struct Places {
    taken: usize,
    by_address: HashMap<String, usize>,
}

/// A place in the queue of password checks; given back when dropped (after the hash it ran,
/// even if the request was abandoned meanwhile).
pub struct Turn {
    queue: Arc<Queue>,
    address: String,
}

/// How long a refused attempt is told to wait: the queue moves a hash at a time.
const QUEUE_FULL_RETRY: Duration = Duration::from_secs(1);

impl Default for PasswordChecks {
    fn default() -> Self {
        Self::new(HashingSettings::default())
    }
}

impl PasswordChecks {
    pub fn new(settings: HashingSettings) -> Self {
        let at_once = settings.at_once.max(1);
        Self(Arc::new(Queue {
            settings: HashingSettings {
                at_once,
                ..settings
            },
            hashers: Arc::new(Semaphore::new(at_once)),
            places: Mutex::new(Places::default()),
            decoy: Decoy::default(),
        }))
    }

    /// A place for a check by a client at `address`, or how long to wait when the queue, or
    /// that address's share of it, is full.
    pub fn queue(&self, address: Option<IpAddr>) -> Result<Turn, Limited> {
        let settings = self.0.settings;
        let address = address.map_or_else(|| "none".to_owned(), address_key);
        let mut places = self.0.places.lock().unwrap_or_else(PoisonError::into_inner);
        let of_address = places.by_address.get(&address).copied().unwrap_or(0);
        if places.taken >= settings.at_once.saturating_add(settings.waiting)
            || of_address >= settings.per_address
        {
            return Err(Limited {
                retry_after: QUEUE_FULL_RETRY,
            });
        }
        places.taken += 1;
        places.by_address.insert(address.clone(), of_address + 1);
        Ok(Turn {
            queue: Arc::clone(&self.0),
            address,
        })
    }
}

impl Turn {
    /// Runs `work` on the blocking pool once a hasher is free, handing it the queue's decoy.
    /// The place and the hasher go into the blocking task: a request abandoned while its hash
    /// runs does not free them early, which would let more hashes run than the bound allows.
    pub(crate) async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce(&Decoy) -> T + Send + 'static,
    ) -> T {
        // The semaphore is never closed, so acquiring only waits.
        let hasher: Option<OwnedSemaphorePermit> =
            Arc::clone(&self.queue.hashers).acquire_owned().await.ok();
        on_blocking_pool(move || {
            let value = work(&self.queue.decoy);
            // Given back only now that the hash is done.
            drop((self, hasher));
            value
        })
        .await
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut places = self
            .queue
            .places
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        places.taken = places.taken.saturating_sub(1);
        // An address without a place is forgotten: the map holds at most the queue's length.
        if let Some(count) = places.by_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                places.by_address.remove(&self.address);
            }
        }
    }
}

/// Runs CPU-heavy work on the blocking pool.
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
    }

    fn checks(at_once: usize, waiting: usize, per_address: usize) -> PasswordChecks {
        PasswordChecks::new(HashingSettings {
            at_once,
            waiting,
            per_address,
        })
    }

    #[test]
    fn a_full_queue_refuses_and_a_given_back_place_is_taken_again() {
        let queue = checks(1, 2, 10);
        let addresses: Vec<IpAddr> = (1..=4).map(|n| v4(192, 0, 2, n)).collect();
        let first = queue.queue(Some(addresses[0])).ok();
        let second = queue.queue(Some(addresses[1])).ok();
        let third = queue.queue(Some(addresses[2])).ok();
        assert!(first.is_some() && second.is_some() && third.is_some());
        assert!(
            queue.queue(Some(addresses[3])).is_err(),
            "one hashing, two waiting"
        );
        drop(first);
        assert!(queue.queue(Some(addresses[3])).is_ok());
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let queue = checks(2, 32, 2);
        let attacker = v4(198, 51, 100, 7);
        let taken: Vec<Turn> = (0..2)
            .filter_map(|_| queue.queue(Some(attacker)).ok())
            .collect();
        assert_eq!(taken.len(), 2);
        assert!(queue.queue(Some(attacker)).is_err());
        assert!(queue.queue(Some(v4(203, 0, 113, 20))).is_ok());
        drop(taken);
        assert!(queue.queue(Some(attacker)).is_ok(), "its places came back");
        assert!(
            queue.0.places.lock().unwrap().by_address.is_empty(),
            "addresses without a place are forgotten"
        );
    }
}
