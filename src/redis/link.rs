//! The connection to Redis every part of the engine shares: one multiplexed connection (redis-rs's
//! `ConnectionManager`, which pipelines concurrent requests and reconnects on its own), either
//! to a fixed address or to whichever node Redis Sentinel names as the primary; or redis-rs's
//! cluster connection, one multiplexed connection per node (`cluster.rs`), which a watchdog
//! replaces with a fresh one when it stops answering while the cluster itself answers.
//!
//! Following a failover: a task asks the sentinels for the primary's address a few times a
//! second and, when it moved, opens a connection to the new primary and swaps it in. Commands
//! sent meanwhile fail ("try again"). The new primary is a Redis this instance has not talked to,
//! so its first script call answers `NOSCRIPT` and every campaign is verified against the record
//! before it answers a claim (see src/reconcile/identity.rs).
//!
//! Every link counts the connections it may have made again or swapped ([`Reconnects`]): a
//! connection made again may reach another Redis process, one that knows this instance's scripts
//! (a failback), so the run id is read again after it rather than inferred from a `NOSCRIPT`
//! that may never come.

use super::CampaignKeys;
use super::cluster::Clustered;
use crate::campaign::CampaignId;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Where the engine finds Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One address (`REDIS_URL`).
    Url(String),
    /// The primary the sentinels name (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`).
    Sentinel {
        /// `host:port` of each sentinel.
        sentinels: Vec<String>,
        /// The name the sentinels monitor the primary under.
        master: String,
    },
    /// A Redis Cluster, found through these seed nodes (`REDIS_CLUSTER_NODES`, `host:port`).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The cluster `REDIS_CLUSTER_NODES` names (`host:port,…`) when it is set, else the
    /// address `REDIS_URL` holds; `None` with neither. For the tools and tests that take no
    /// other setting (the server reads its own, with checks: `server/src/config`).
    pub fn from_environment() -> Option<Self> {
        match std::env::var("REDIS_CLUSTER_NODES") {
            Ok(list) if !list.trim().is_empty() => Some(Self::Cluster(
                list.split(',')
                    .map(str::trim)
                    .filter(|node| !node.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            _ => std::env::var("REDIS_URL").ok().map(Self::Url),
        }
    }
}

/// How often the sentinels are asked where the primary is.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// A handle on the shared connection; cheap to clone.
#[derive(Clone)]
pub enum RedisLink {
    /// A fixed address (`host:port`, as the metrics name it).
    Fixed(ConnectionManager, Arc<str>, Reconnects),
    /// The primary named by the sentinels, swapped when it moves.
    Followed(Arc<Followed>),
    /// A Redis Cluster.
    Cluster(Clustered),
}

/// How many times a link's connection may have been made again or was swapped for another
/// primary's: the identity of the Redis behind it is read again when this changed. The manager
/// makes a new connection only after a command failed on the old one (it is told of nothing
/// else without RESP3), and every command goes through the link, so a failure that means "the
/// connection is gone" is counted here, as is every swap.
#[derive(Clone, Default)]
pub struct Reconnects(Arc<AtomicU64>);

impl Reconnects {
    /// The count so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts `result` if its error may have cost the connection (a timeout counts too: an extra
    /// read of the identity is cheap, a missed one is not).
    fn note<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(error) = &result
            && (error.is_io_error()
                || error.is_connection_dropped()
                || error.is_connection_refusal()
                || error.is_timeout())
        {
            self.bump();
        }
        result
    }
}

/// The connection to the current primary, and where it points.
pub struct Followed {
    current: RwLock<(Arc<str>, ConnectionManager)>,
    reconnects: Reconnects,
    sentinels: Vec<String>,
    master: String,
}

impl RedisLink {
    /// Connects to `target` (for a sentinel target, to the primary the sentinels name now, and
    /// starts following it on the current tokio runtime).
    pub async fn connect(target: &RedisTarget) -> RedisResult<Self> {
        match target {
            RedisTarget::Url(url) => {
                let reconnects = Reconnects::default();
                let connection = manager(url).await?;
                Ok(Self::Fixed(connection, address_in(url).into(), reconnects))
            }
            RedisTarget::Cluster(nodes) => Ok(Self::Cluster(Clustered::connect(nodes).await?)),
            RedisTarget::Sentinel { sentinels, master } => {
                let address = primary_address(sentinels, master).await?;
                let reconnects = Reconnects::default();
                let connection = manager(&format!("redis://{address}")).await?;
                let followed = Arc::new(Followed {
                    current: RwLock::new((address.into(), connection)),
                    reconnects,
                    sentinels: sentinels.clone(),
                    master: master.clone(),
                });
                tokio::spawn(follow(Arc::downgrade(&followed)));
                Ok(Self::Followed(followed))
            }
        }
    }

    /// The primary the sentinels named last (`host:port`); `None` for a fixed address or a
    /// cluster.
    pub fn primary(&self) -> Option<String> {
        match self {
            Self::Followed(followed) => Some(followed.connection().0.to_string()),
            Self::Fixed(..) | Self::Cluster(_) => None,
        }
    }

    /// Whether the primary this link reaches now is the one the sentinels name, asked afresh;
    /// always `true` for a fixed address and a cluster (nobody else decides there). A followed
    /// link lags a failover by up to [`FOLLOW_EVERY`], and its connection reconnects by itself
    /// to the address it had: a primary that was deposed and restarted is a primary again at
    /// that address until the sentinels turn it into a replica (seconds later), so commands
    /// still reach it meanwhile. What must not be written to such a primary (a verification's
    /// stamp, src/loader/) asks this first.
    pub async fn is_named_primary(&self) -> RedisResult<bool> {
        match self {
            Self::Followed(followed) => {
                let named = primary_address(&followed.sentinels, &followed.master).await?;
                Ok(*named == *followed.connection().0)
            }
            Self::Fixed(..) | Self::Cluster(_) => Ok(true),
        }
    }

    /// This link held to the connection it has now: a followed primary's is not swapped for the
    /// next one's under it (a fixed address and a cluster are returned as they are). What must
    /// reach the node that took earlier commands uses it: `WAIT` counts the replicas that have the
    /// writes of its own connection, so sent on the next primary's fresh connection after the
    /// sentinels named it, it would confirm writes made on the old one that no replica has.
    pub fn pinned(&self) -> Self {
        match self {
            Self::Followed(followed) => {
                let (address, connection) = followed.connection();
                Self::Fixed(connection, address, followed.reconnects.clone())
            }
            Self::Fixed(..) | Self::Cluster(_) => self.clone(),
        }
    }

    /// The connections this link lost or swapped so far (always 0 on a cluster, whose script
    /// calls read their node's identity themselves).
    pub fn reconnects(&self) -> u64 {
        match self {
            Self::Fixed(.., reconnects) => reconnects.count(),
            Self::Followed(followed) => followed.reconnects.count(),
            Self::Cluster(_) => 0,
        }
    }

    /// The cluster behind this link, if it is one.
    pub fn cluster(&self) -> Option<&Clustered> {
        match self {
            Self::Cluster(clustered) => Some(clustered),
            Self::Fixed(..) | Self::Followed(_) => None,
        }
    }

    /// The node (`host:port`) holding the keys of the slot `key` hashes to, as last known:
    /// the one node without a cluster; `None` when the cluster's owner of it is not known yet.
    pub fn node_of(&self, key: &[u8]) -> Option<Arc<str>> {
        self.node_of_slot(|| super::cluster::slot_of(key))
    }

    /// The same for a campaign's keys.
    pub fn node_of_campaign(&self, id: CampaignId) -> Option<Arc<str>> {
        self.node_of_slot(|| CampaignKeys::slot(id))
    }

    /// The slot is only worked out on a cluster.
    fn node_of_slot(&self, slot: impl FnOnce() -> u16) -> Option<Arc<str>> {
        match self {
            Self::Fixed(_, address, _) => Some(address.clone()),
            Self::Followed(followed) => Some(followed.connection().0),
            Self::Cluster(clustered) => clustered.owner_of(slot()),
        }
    }
}

impl Followed {
    fn connection(&self) -> (Arc<str>, ConnectionManager) {
        // Only ever replaced whole, so a poisoned lock still holds a usable connection.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl ConnectionLike for RedisLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Fixed(connection, _, reconnects) => {
                let (mut connection, reconnects) = (connection.clone(), reconnects.clone());
                Box::pin(async move { reconnects.note(connection.req_packed_command(cmd).await) })
            }
            Self::Cluster(clustered) => {
                // The connection in use now: the cluster's watchdog may swap it for a fresh one.
                let mut connection = clustered.connection.get();
                Box::pin(async move { connection.req_packed_command(cmd).await })
            }
            Self::Followed(followed) => {
                let (mut connection, reconnects) =
                    (followed.connection().1, followed.reconnects.clone());
                Box::pin(async move { reconnects.note(connection.req_packed_command(cmd).await) })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Fixed(connection, _, reconnects) => {
                let (mut connection, reconnects) = (connection.clone(), reconnects.clone());
                Box::pin(async move {
                    let sent = connection
                        .req_packed_commands(pipeline, offset, count)
                        .await;
                    reconnects.note(sent)
                })
            }
            Self::Cluster(clustered) => {
                let mut connection = clustered.connection.get();
                Box::pin(async move {
                    connection
                        .req_packed_commands(pipeline, offset, count)
                        .await
                })
            }
            Self::Followed(followed) => {
                let (mut connection, reconnects) =
                    (followed.connection().1, followed.reconnects.clone());
                Box::pin(async move {
                    let sent = connection
                        .req_packed_commands(pipeline, offset, count)
                        .await;
                    reconnects.note(sent)
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Fixed(connection, ..) => connection.get_db(),
            Self::Followed(followed) => followed.connection().1.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

/// A connection with bounded waits: while Redis is down or restarting, a command fails within
/// about a second with a "try again" answer instead of hanging; the manager keeps reconnecting.
async fn manager(url: &str) -> RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(crate::engine::REDIS_RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client, config).await
}

/// `host:port` of a `redis://` URL, for the metrics' node label.
fn address_in(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// Swaps in a connection to the new primary whenever the sentinels name another one; ends when
/// the link is dropped.
async fn follow(link: Weak<Followed>) {
    let mut ticks = tokio::time::interval(FOLLOW_EVERY);
    loop {
        ticks.tick().await;
        let Some(followed) = link.upgrade() else {
            return;
        };
        let address = match primary_address(&followed.sentinels, &followed.master).await {
            Ok(address) => address,
            Err(error) => {
                tracing::warn!(%error, "no sentinel named the Redis primary");
                continue;
            }
        };
        if *address == *followed.connection().0 {
            continue;
        }
        match manager(&format!("redis://{address}")).await {
            Ok(connection) => {
                tracing::warn!(primary = %address, "Redis primary moved (failover): following it");
                *followed
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    (address.as_str().into(), connection);
                followed.reconnects.bump();
            }
            Err(error) => {
                tracing::warn!(%error, primary = %address, "cannot reach the new Redis primary yet")
            }
        }
    }
}

/// `host:port` of the primary named `master`, from the first sentinel that answers.
async fn primary_address(sentinels: &[String], master: &str) -> RedisResult<String> {
    let mut last_error = None;
    for sentinel in sentinels {
        match ask_sentinel(sentinel, master).await {
            Ok(address) => return Ok(address),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error
        .unwrap_or_else(|| RedisError::from(std::io::Error::other("no sentinel is configured"))))
}

async fn ask_sentinel(sentinel: &str, master: &str) -> RedisResult<String> {
    let client = redis::Client::open(format!("redis://{sentinel}"))?;
    let ask = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        let reply: Option<(String, String)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master)
            .query_async(&mut connection)
            .await?;
        reply
            .map(|(host, port)| format!("{host}:{port}"))
            .ok_or_else(|| {
                RedisError::from(std::io::Error::other(format!(
                    "sentinel {sentinel} does not monitor {master:?}"
                )))
            })
    };
    tokio::time::timeout(Duration::from_secs(1), ask)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("sentinel {sentinel} did not answer"),
            )))
        })
}
