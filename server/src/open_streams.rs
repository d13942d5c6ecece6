//! Bounds on live event streams: at most so many open per client address on this instance, and
//! an admin's stream ends once its session does (sign-out, expiry, or the admin removed).

use crate::sessions::RedisSessionStore;
use coupon::Engine;
use coupon_access::admin_check::{ADMIN_CHECK_TTL, AdminCheck};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower_sessions::session::Id;

/// Open streams per client address, by default (`LIVE_STREAMS_PER_ADDRESS`).
pub const DEFAULT_STREAMS_PER_ADDRESS: usize = 20;

/// Counts this instance's open streams per address.
#[derive(Clone)]
pub struct OpenStreams {
    per_address: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// Held by an open stream; counts it closed when dropped.
pub struct StreamTicket {
    address: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl OpenStreams {
    pub fn new(per_address: usize) -> Self {
        Self {
            per_address,
            open: Arc::default(),
        }
    }

    /// A ticket for one more stream from `address`, or `None` if it has its share open.
    pub fn open(&self, address: String) -> Option<StreamTicket> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(address.clone()).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(StreamTicket {
            address,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(count) = open.get_mut(&self.address)
        {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Resolves once session `id` is gone from Redis (signed out or expired) or its admin
/// `admin_id` was removed (as `admins` sees it); looks every few seconds.
pub async fn admin_session_ended(engine: Engine, admins: AdminCheck, id: Id, admin_id: i64) {
    let key = RedisSessionStore::key(&id);
    let mut looks = tokio::time::interval(ADMIN_CHECK_TTL);
    looks.tick().await;
    loop {
        looks.tick().await;
        let present: Result<bool, _> =
            redis::AsyncCommands::exists(&mut engine.redis(), &key).await;
        let still_admin = admins.is_still_admin(admin_id).await;
        // A store that cannot answer ends nothing: the next look decides.
        if matches!(present, Ok(false)) || matches!(still_admin, Ok(false)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_a_closed_stream_frees_a_place() {
        let streams = OpenStreams::new(2);
        let first = streams.open("192.0.2.1".into()).unwrap();
        let _second = streams.open("192.0.2.1".into()).unwrap();
        assert!(streams.open("192.0.2.1".into()).is_none());
        assert!(streams.open("192.0.2.2".into()).is_some(), "per address");
        drop(first);
        assert!(streams.open("192.0.2.1".into()).is_some());
    }
}
