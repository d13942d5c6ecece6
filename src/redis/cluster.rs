//! Redis Cluster (`REDIS_CLUSTER_NODES`): redis-rs's cluster connection routes every command by
//! its first key, follows `MOVED` and `ASK` while slots migrate, and reconnects after a
//! failover. Every key of a campaign carries the campaign id as a hash tag, so a campaign lives
//! in one slot and each script call runs on the one primary that owns it.
//!
//! What this module adds: which primary owns each slot, as last read from `CLUSTER SLOTS`
//! every second. It only names nodes (the campaign page, `/readyz`, the metrics' `node`
//! label); routing never depends on it, so a stale answer mislabels, it never misroutes.

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{RedisResult, Value};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// How often the slot owners are read again.
const READ_OWNERS_EVERY: Duration = Duration::from_secs(1);

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The cluster connection and the slot owners last read.
#[derive(Clone)]
pub struct Clustered {
    pub(super) connection: ClusterConnection,
    owners: Arc<SlotOwners>,
}

/// `host:port` of the primary owning each slot; empty until first read.
#[derive(Default)]
struct SlotOwners(RwLock<Vec<(u16, u16, Arc<str>)>>);

impl Clustered {
    /// Connects through the seed nodes (`host:port` each) and starts reading the slot owners.
    pub async fn connect(nodes: &[String]) -> RedisResult<Self> {
        let urls: Vec<String> = nodes.iter().map(|node| format!("redis://{node}")).collect();
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(crate::engine::REDIS_RESPONSE_TIMEOUT)
            // Redirects are retried at once; a node that does not answer (killed, failing
            // over) is retried with short waits, within about a second, then "try again".
            .retries(6)
            .min_retry_wait(50)
            .max_retry_wait(400)
            .build()?;
        let connection = client.get_async_connection().await?;
        let clustered = Self {
            connection,
            owners: Arc::default(),
        };
        clustered.read_owners().await?;
        tokio::spawn(keep_reading_owners(
            clustered.connection.clone(),
            Arc::downgrade(&clustered.owners),
        ));
        Ok(clustered)
    }

    /// The primary that owned `slot` when last read, if known.
    pub fn owner_of(&self, slot: u16) -> Option<Arc<str>> {
        self.owners.owner_of(slot)
    }

    /// Every primary and how many slots it owns, when last read.
    pub fn primaries(&self) -> Vec<(Arc<str>, u32)> {
        let ranges = self
            .owners
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut primaries: Vec<(Arc<str>, u32)> = Vec::new();
        for (first, last, owner) in ranges.iter() {
            let slots = u32::from(*last - *first) + 1;
            match primaries.iter_mut().find(|(known, _)| known == owner) {
                Some((_, count)) => *count += slots,
                None => primaries.push((owner.clone(), slots)),
            }
        }
        primaries.sort();
        primaries
    }

    async fn read_owners(&self) -> RedisResult<()> {
        let ranges = read_slot_ranges(&mut self.connection.clone()).await?;
        *self
            .owners
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ranges;
        Ok(())
    }
}

impl SlotOwners {
    fn owner_of(&self, slot: u16) -> Option<Arc<str>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, owner)| owner.clone())
    }
}

async fn keep_reading_owners(mut connection: ClusterConnection, owners: Weak<SlotOwners>) {
    let mut ticks = tokio::time::interval(READ_OWNERS_EVERY);
    loop {
        ticks.tick().await;
        let Some(owners) = owners.upgrade() else {
            return;
        };
        // `CLUSTER SLOTS` goes to a node picked at random; one that was just killed is retried
        // for seconds, and the owners must not stay stale that long: the next tick picks again.
        match tokio::time::timeout(READ_OWNERS_EVERY, read_slot_ranges(&mut connection)).await {
            Ok(Ok(ranges)) => {
                *owners
                    .0
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = ranges
            }
            Ok(Err(error)) => tracing::debug!(%error, "could not read the cluster's slot owners"),
            Err(_) => tracing::debug!("no node told the cluster's slot owners within a second"),
        }
    }
}

/// `CLUSTER SLOTS`: each range's first and last slot and its primary's `host:port`.
async fn read_slot_ranges(
    connection: &mut impl ConnectionLike,
) -> RedisResult<Vec<(u16, u16, Arc<str>)>> {
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(connection)
        .await?;
    let Value::Array(ranges) = reply else {
        return Ok(Vec::new());
    };
    Ok(ranges.iter().filter_map(range_of).collect())
}

/// One entry of `CLUSTER SLOTS`: `[first, last, [host, port, id], replicas…]`.
fn range_of(range: &Value) -> Option<(u16, u16, Arc<str>)> {
    let Value::Array(fields) = range else {
        return None;
    };
    let first = redis::from_redis_value_ref::<u16>(fields.first()?).ok()?;
    let last = redis::from_redis_value_ref::<u16>(fields.get(1)?).ok()?;
    let Value::Array(primary) = fields.get(2)? else {
        return None;
    };
    let host = redis::from_redis_value_ref::<String>(primary.first()?).ok()?;
    let port = redis::from_redis_value_ref::<u16>(primary.get(1)?).ok()?;
    Some((first, last, Arc::from(format!("{host}:{port}"))))
}

/// The slot of `key`: CRC16 (XMODEM) of its hash tag (the text between the first `{` and the
/// next `}`, when not empty) or of the whole key, modulo 16384.
pub fn slot_of(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&byte| byte == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&byte| byte == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(tagged) % SLOTS
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_ones_redis_cluster_computes() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(slot_of(b"123456789"), 12739);
        assert_eq!(slot_of(b"coupon:meta:{42}"), slot_of(b"42"));
        assert_eq!(
            slot_of(b"coupon:queue:{42}"),
            slot_of(b"coupon:counter:{42}")
        );
        assert_eq!(
            slot_of(b"a{}b"),
            slot_of(b"a{}b"),
            "an empty tag hashes the whole key"
        );
        assert_ne!(slot_of(b"a{}b"), slot_of(b""));
    }
}
