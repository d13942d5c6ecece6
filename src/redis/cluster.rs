//! Redis Cluster (`REDIS_CLUSTER_NODES`): redis-rs's cluster connection routes every command by
//! its first key, follows `MOVED` and `ASK` while slots migrate, and reconnects after a
//! failover. Every key of a campaign carries the campaign id as a hash tag, so a campaign lives
//! in one slot and each script call runs on the one primary that owns it.
//!
//! What this module adds:
//!
//! - Which primary owns each slot, as last read from `CLUSTER SLOTS` every second. It only
//!   names nodes (the campaign page, `/readyz`, the metrics' `node` label); routing never
//!   depends on it, so a stale answer mislabels, it never misroutes.
//! - A watchdog that replaces the cluster connection when it stops answering. redis-rs 1.8
//!   reacts to what a node *says* (`MOVED`, `READONLY`, a closed socket) but not to a node that
//!   says nothing: a command that times out is retried on the same connection to the same node
//!   and triggers neither a reconnect nor a slot refresh, and a slot refresh that fails is
//!   retried over the same per-node connections only, never from the seed nodes, while no
//!   command is sent meanwhile (`docs/internals.md`, "The cluster connection"). Every second the
//!   watchdog sends `PING` routed as a claim is, by slot, to one slot of each primary; after
//!   [`FAILED_ROUNDS`] rounds in a row with a miss it opens a fresh connection from the seed
//!   nodes and, if that one gets an answer from every primary, swaps it in. A cluster that is
//!   really down fails both, and the connection is kept.

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, RedisError, RedisResult, Value};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

/// How often the slot owners are read again.
const READ_OWNERS_EVERY: Duration = Duration::from_secs(1);

/// How often the watchdog probes the connection, and how long a probe may go unanswered.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probe rounds in a row with a miss after which a fresh connection is tried (and again after as
/// many more, for as long as the misses go on).
const FAILED_ROUNDS: u32 = 3;

/// Longest a fresh connection may take to connect, read the slot owners and answer its probes.
const FRESH_WITHIN: Duration = Duration::from_secs(5);

/// Slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The cluster connection and the slot owners last read.
#[derive(Clone)]
pub struct Clustered {
    pub(super) connection: Current,
    owners: Arc<SlotOwners>,
}

/// The cluster connection in use. A command takes a clone of it (a handle on redis-rs's
/// connection task); the watchdog replaces it whole. The old task ends when the last command
/// that took it is answered or has timed out (redis-rs bounds every command by its response
/// timeout, retries included), and its pending commands fail at once when it ends.
#[derive(Clone)]
pub(super) struct Current(Arc<RwLock<ClusterConnection>>);

/// `host:port` of the primary owning each slot; empty until first read.
#[derive(Default)]
struct SlotOwners(RwLock<Vec<(u16, u16, Arc<str>)>>);

impl Clustered {
    /// Connects through the seed nodes (`host:port` each), starts reading the slot owners and
    /// starts the watchdog.
    pub async fn connect(nodes: &[String]) -> RedisResult<Self> {
        let clustered = Self {
            connection: Current(Arc::new(RwLock::new(open(nodes).await?))),
            owners: Arc::default(),
        };
        clustered.read_owners().await?;
        tokio::spawn(keep_reading_owners(
            Arc::downgrade(&clustered.connection.0),
            Arc::downgrade(&clustered.owners),
        ));
        tokio::spawn(watch(
            Arc::downgrade(&clustered.connection.0),
            Arc::downgrade(&clustered.owners),
            nodes.to_vec(),
        ));
        Ok(clustered)
    }

    /// The primary that owned `slot` when last read, if known.
    pub fn owner_of(&self, slot: u16) -> Option<Arc<str>> {
        self.owners.owner_of(slot)
    }

    /// Every primary and how many slots it owns, when last read.
    pub fn primaries(&self) -> Vec<(Arc<str>, u32)> {
        let ranges = self.owners.ranges();
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
        let ranges = read_slot_ranges(&mut self.connection.get()).await?;
        self.owners.set(ranges);
        Ok(())
    }
}

impl Current {
    /// The connection in use now.
    pub(super) fn get(&self) -> ClusterConnection {
        // Only ever replaced whole, so a poisoned lock still holds a usable connection.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends `cmd` where `routing` says, on the connection in use now.
    pub(super) async fn route_command(&self, cmd: Cmd, routing: RoutingInfo) -> RedisResult<Value> {
        let mut connection = self.get();
        connection.route_command(cmd, routing).await
    }

    fn replace(&self, fresh: ClusterConnection) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    }
}

impl SlotOwners {
    fn ranges(&self) -> Vec<(u16, u16, Arc<str>)> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, ranges: Vec<(u16, u16, Arc<str>)>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = ranges;
    }

    fn owner_of(&self, slot: u16) -> Option<Arc<str>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, owner)| owner.clone())
    }
}

/// A cluster connection through the seed nodes, with bounded waits. Giving up on the attempt
/// drops the half-made connection, and with it redis-rs's task.
async fn open(nodes: &[String]) -> RedisResult<ClusterConnection> {
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
    tokio::time::timeout(FRESH_WITHIN, client.get_async_connection())
        .await
        .unwrap_or_else(|_| Err(timed_out("no seed node gave a cluster connection in time")))
}

fn timed_out(what: &str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        what.to_owned(),
    ))
}

async fn keep_reading_owners(
    connection: Weak<RwLock<ClusterConnection>>,
    owners: Weak<SlotOwners>,
) {
    let mut ticks = tokio::time::interval(READ_OWNERS_EVERY);
    loop {
        ticks.tick().await;
        let (Some(connection), Some(owners)) = (connection.upgrade(), owners.upgrade()) else {
            return;
        };
        let mut connection = Current(connection).get();
        // `CLUSTER SLOTS` goes to a node picked at random; one that was just killed is retried
        // for seconds, and the owners must not stay stale that long: the next tick picks again.
        match tokio::time::timeout(READ_OWNERS_EVERY, read_slot_ranges(&mut connection)).await {
            Ok(Ok(ranges)) => owners.set(ranges),
            Ok(Err(error)) => tracing::debug!(%error, "could not read the cluster's slot owners"),
            Err(_) => tracing::debug!("no node told the cluster's slot owners within a second"),
        }
    }
}

/// The watchdog: every second a `PING` to one slot of each primary, routed by slot as a claim
/// is; after [`FAILED_ROUNDS`] rounds in a row with a miss, a fresh connection from the seed
/// nodes is opened and swapped in if every primary answers it. Ends when the link is dropped.
async fn watch(
    connection: Weak<RwLock<ClusterConnection>>,
    owners: Weak<SlotOwners>,
    seeds: Vec<String>,
) {
    let mut ticks = tokio::time::interval(PROBE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failed_rounds: u32 = 0;
    loop {
        ticks.tick().await;
        let (Some(connection), Some(owners)) = (connection.upgrade(), owners.upgrade()) else {
            return;
        };
        let (current, slots) = (Current(connection), one_slot_each(&owners.ranges()));
        drop(owners);
        let miss = match probe(&current.get(), &slots).await {
            Ok(()) => {
                failed_rounds = 0;
                continue;
            }
            Err(miss) => miss,
        };
        failed_rounds = failed_rounds.saturating_add(1);
        tracing::debug!(%miss, failed_rounds, "the Redis Cluster connection missed a probe");
        if !failed_rounds.is_multiple_of(FAILED_ROUNDS) {
            continue;
        }
        match fresh_connection(&seeds).await {
            Ok(fresh) => {
                current.replace(fresh);
                tracing::warn!(
                    %miss,
                    failed_rounds,
                    "the Redis Cluster connection stopped answering while a fresh one reaches \
                     every primary: swapped the fresh one in"
                );
                failed_rounds = 0;
            }
            Err(why) => tracing::warn!(
                %miss,
                fresh = %why,
                failed_rounds,
                "the Redis Cluster connection is not answering, nor is a fresh one: the cluster \
                 is not whole yet; keeping the connection"
            ),
        }
    }
}

/// The first slot of each primary's first range (slot 0 while none is known): one probe per
/// primary reaches every node a claim can be sent to.
fn one_slot_each(ranges: &[(u16, u16, Arc<str>)]) -> Vec<u16> {
    let mut owners: Vec<&Arc<str>> = Vec::new();
    let mut slots = Vec::new();
    for (first, _, owner) in ranges {
        if !owners.contains(&owner) {
            owners.push(owner);
            slots.push(*first);
        }
    }
    if slots.is_empty() {
        slots.push(0);
    }
    slots
}

/// `PING` to the primary of each of `slots`, all at once, each routed by its slot the way a
/// script call on a key of that slot is; the first miss (an error, another answer, or none
/// within [`PROBE_EVERY`]).
async fn probe(connection: &ClusterConnection, slots: &[u16]) -> Result<(), String> {
    let pings = slots.iter().map(|&slot| {
        let mut connection = connection.clone();
        async move {
            let route = Route::new(slot, SlotAddr::Master);
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
            let ping = connection.route_command(redis::cmd("PING"), routing);
            match tokio::time::timeout(PROBE_EVERY, ping).await {
                Ok(Ok(Value::SimpleString(pong))) if pong == "PONG" => Ok(()),
                Ok(Ok(other)) => Err(format!("slot {slot}: answered {other:?}")),
                Ok(Err(error)) => Err(format!("slot {slot}: {error}")),
                Err(_) => Err(format!("slot {slot}: no answer within {PROBE_EVERY:?}")),
            }
        }
    });
    futures::future::try_join_all(pings).await.map(drop)
}

/// A new connection from the seed nodes, if within [`FRESH_WITHIN`] it reads the slot owners,
/// a node tells it `cluster_state:ok`, and the primary of every range answers its probe.
async fn fresh_connection(seeds: &[String]) -> Result<ClusterConnection, String> {
    let attempt = async {
        let mut fresh = open(seeds).await.map_err(|error| error.to_string())?;
        let ranges = read_slot_ranges(&mut fresh)
            .await
            .map_err(|error| error.to_string())?;
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut fresh)
            .await
            .map_err(|error| error.to_string())?;
        if !info.contains("cluster_state:ok") {
            return Err("a node says the cluster is not ok".to_owned());
        }
        if ranges.is_empty() {
            return Err("no slot owners read".to_owned());
        }
        probe(&fresh, &one_slot_each(&ranges)).await?;
        Ok::<_, String>(fresh)
    };
    tokio::time::timeout(FRESH_WITHIN, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("not ready within {FRESH_WITHIN:?}")))
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
