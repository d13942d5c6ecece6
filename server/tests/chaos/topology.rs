//! The Redis of a chaos run (one process, a primary and replica under Sentinel, or a six-node
//! cluster) and the faults each can suffer, applied and healed on real processes.

use crate::support::cluster::LocalCluster;
use crate::support::process::RedisProcess;
use crate::support::sentinel::{MASTER, Replicated};
use coupon::CampaignId;
use coupon::redis::{CampaignKeys, RedisTarget};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Single,
    Sentinel,
    Cluster,
}

impl Topology {
    pub fn name(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Sentinel => "sentinel",
            Self::Cluster => "cluster",
        }
    }

    /// The Redis faults a schedule draws from on this topology (PostgreSQL down and an instance
    /// killed are drawn on every one).
    pub fn redis_faults(self) -> &'static [Fault] {
        match self {
            Self::Single => &[
                Fault::RedisKilled,
                Fault::RedisOlder,
                Fault::Paused,
                Fault::Flushed,
            ],
            Self::Sentinel => &[
                Fault::PrimaryKilled,
                Fault::FailoverBehind,
                Fault::ReplicaLost,
                Fault::Paused,
                Fault::Flushed,
            ],
            Self::Cluster => &[
                Fault::PrimaryKilled,
                Fault::SlotMigrated,
                Fault::Paused,
                Fault::Flushed,
            ],
        }
    }

    /// How the servers acknowledge claims: on Sentinel after the primary alone (so a failover
    /// to a replica that fell behind can lose claims, which the checker counts), on a cluster
    /// once a replica has them.
    pub fn ack_env(self) -> Vec<(&'static str, String)> {
        match self {
            Self::Cluster => vec![
                ("CLAIM_ACK", "replicated".to_owned()),
                ("CLAIM_ACK_REPLICAS", "1".to_owned()),
            ],
            Self::Single | Self::Sentinel => Vec::new(),
        }
    }

    /// Whether `fault` may lose acknowledged claims not recorded yet on this topology (README,
    /// "What survives each failure").
    pub fn may_lose_claims(self, fault: Fault) -> bool {
        match fault {
            Fault::RedisOlder | Fault::Flushed | Fault::FailoverBehind => true,
            Fault::PrimaryKilled => self == Self::Sentinel,
            _ => false,
        }
    }
}

/// One fault of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The one Redis SIGKILLed, restarted from its own files after the hold.
    RedisKilled,
    /// The one Redis restarted from a copy of its files taken at the previous fault.
    RedisOlder,
    /// `CLIENT PAUSE WRITE` on a primary for the hold.
    Paused,
    /// `FLUSHALL` on a primary.
    Flushed,
    /// A primary SIGKILLed; its replica promoted; the old one restarted after the hold.
    PrimaryKilled,
    /// Sentinel: the replica paused and cut off from the primary, which acknowledges claims for
    /// the hold; then the primary killed and the replica, behind it, promoted.
    FailoverBehind,
    /// Sentinel: the replica SIGKILLed, restarted after the hold.
    ReplicaLost,
    /// Cluster: a campaign's slot moved to another primary.
    SlotMigrated,
    /// PostgreSQL cut off (every connection dropped, new ones refused) for the hold.
    PostgresDown,
    /// A server instance SIGKILLed, restarted after the hold.
    InstanceKilled,
    /// The large campaign paused for the hold, then resumed, by a third instance.
    Controlled,
}

/// The Redis side of a run.
pub enum Redis {
    Single {
        redis: RedisProcess,
        older: Option<crate::support::process::tempdir::Dir>,
    },
    Sentinel(Replicated),
    Cluster(LocalCluster),
}

impl Redis {
    pub async fn start(topology: Topology) -> Self {
        match topology {
            Topology::Single => Self::Single {
                redis: RedisProcess::start().await,
                older: None,
            },
            Topology::Sentinel => Self::Sentinel(Replicated::start().await),
            Topology::Cluster => Self::Cluster(LocalCluster::start().await),
        }
    }

    /// A number of its own, to name the run's database.
    pub fn tag(&self) -> u16 {
        match self {
            Self::Single { redis, .. } => redis.port,
            Self::Sentinel(stack) => stack.sentinel_port,
            Self::Cluster(cluster) => cluster.nodes[0].port,
        }
    }

    pub fn target(&self) -> RedisTarget {
        match self {
            Self::Single { redis, .. } => RedisTarget::Url(redis.url()),
            Self::Sentinel(stack) => RedisTarget::Sentinel {
                sentinels: vec![stack.sentinels()],
                master: MASTER.into(),
            },
            Self::Cluster(cluster) => RedisTarget::Cluster(cluster.seed_list()),
        }
    }

    /// The server's `REDIS_URL` and the variables that point it at this Redis.
    pub fn server_env(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            Self::Single { redis, .. } => (redis.url(), Vec::new()),
            Self::Sentinel(stack) => (
                String::new(),
                vec![
                    ("REDIS_SENTINELS", stack.sentinels()),
                    ("REDIS_SENTINEL_MASTER", MASTER.to_owned()),
                ],
            ),
            Self::Cluster(cluster) => (
                String::new(),
                vec![("REDIS_CLUSTER_NODES", cluster.seeds())],
            ),
        }
    }

    /// Applies `fault` to the node holding `campaign`'s keys (where it matters), holds it for
    /// `hold`, and heals it; whether it became a failover it was not meant to be (see the
    /// Sentinel's pause). Faults on the server side are the caller's.
    pub async fn suffer(&mut self, fault: Fault, campaign: CampaignId, hold: Duration) -> bool {
        match (self, fault) {
            // A pause longer than the sentinel's down-after time can look like a dead primary:
            // the sentinel may promote the replica, and then the fault is a failover, with what
            // a failover may lose when only the primary acknowledges (README, "What survives").
            (Self::Sentinel(stack), Fault::Paused) => {
                let primary = sentinel_primary(stack).await;
                pause(process_on(stack, primary), hold).await;
                // The sentinel may decide just after the pause ends: watch it a little longer.
                let another = crate::support::first_within(FAILOVER_SETTLES, || async {
                    stack.named_primary().await.filter(|port| *port != primary)
                });
                let failed_over = another.await.is_some();
                if failed_over {
                    until_replica_synced(stack).await;
                }
                return failed_over;
            }
            (this, fault) => this.suffer_as_meant(fault, campaign, hold).await,
        }
        false
    }

    async fn suffer_as_meant(&mut self, fault: Fault, campaign: CampaignId, hold: Duration) {
        match (self, fault) {
            (Self::Single { redis, older }, Fault::RedisKilled) => {
                // One copy at a time: a copy's directory is removed when it is dropped.
                *older = None;
                *older = Some(redis.copy_data());
                redis.kill();
                keep_for(hold).await;
                redis.restart().await;
            }
            (Self::Single { redis, older }, Fault::RedisOlder) => {
                let copy = match older.take() {
                    Some(copy) => copy,
                    None => redis.copy_data(),
                };
                keep_for(hold).await;
                redis.restart_from(&copy).await;
                drop(copy);
                *older = Some(redis.copy_data());
            }
            (Self::Single { redis, .. }, Fault::Paused) => pause(redis, hold).await,
            (Self::Single { redis, .. }, Fault::Flushed) => redis.flushall().await,
            (Self::Sentinel(stack), Fault::Flushed) => {
                let primary = sentinel_primary(stack).await;
                process_on(stack, primary).flushall().await;
            }
            (Self::Sentinel(stack), Fault::PrimaryKilled) => {
                let primary = sentinel_primary(stack).await;
                process_on(stack, primary).kill();
                until_sentinel_names_another(stack, primary).await;
                keep_for(hold).await;
                process_on(stack, primary).restart().await;
                until_replica_synced(stack).await;
            }
            (Self::Sentinel(stack), Fault::FailoverBehind) => {
                let primary = sentinel_primary(stack).await;
                let replica = other_port(stack, primary);
                process_on(stack, replica).signal("STOP");
                let _: redis::RedisResult<i64> = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("TYPE")
                    .arg("replica")
                    .query_async(&mut process_on(stack, primary).admin().await)
                    .await;
                keep_for(hold).await;
                process_on(stack, primary).kill();
                process_on(stack, replica).signal("CONT");
                until_sentinel_names_another(stack, primary).await;
                process_on(stack, primary).restart().await;
                until_replica_synced(stack).await;
            }
            (Self::Sentinel(stack), Fault::ReplicaLost) => {
                let primary = sentinel_primary(stack).await;
                let replica = other_port(stack, primary);
                process_on(stack, replica).kill();
                keep_for(hold).await;
                process_on(stack, replica).restart().await;
                until_replica_synced(stack).await;
            }
            (Self::Cluster(cluster), Fault::Paused) => {
                let primary = cluster.primary_of(CampaignKeys::slot(campaign)).await;
                pause(cluster.node(primary), hold).await;
            }
            (Self::Cluster(cluster), Fault::Flushed) => {
                let primary = cluster.primary_of(CampaignKeys::slot(campaign)).await;
                cluster.node(primary).flushall().await;
            }
            (Self::Cluster(cluster), Fault::PrimaryKilled) => {
                let slot = CampaignKeys::slot(campaign);
                let primary = cluster.primary_of(slot).await;
                cluster.node(primary).kill();
                cluster.until_failed_over(slot, primary).await;
                keep_for(hold).await;
                cluster.node(primary).restart().await;
                until_whole(cluster).await;
            }
            (Self::Cluster(cluster), Fault::SlotMigrated) => {
                let slot = CampaignKeys::slot(campaign);
                let from = cluster.primary_of(slot).await;
                let primaries = cluster.primaries().await;
                if let Some(to) = primaries.into_iter().find(|port| *port != from) {
                    cluster.migrate_slot(slot, from, to, || async {}).await;
                }
            }
            (_, fault) => panic!("{fault:?} is not drawn on this topology"),
        }
    }
}

/// Waits until every node says the cluster is ok and all three replicas are in sync, so that
/// the next fault starts from a whole cluster (a replica that never synced may not take over).
async fn until_whole(cluster: &LocalCluster) {
    crate::support::eventually(
        "the cluster to be whole again",
        Duration::from_secs(60),
        || async { cluster.synced_replicas(None).await == Some(3) },
    )
    .await;
}

/// Lets the run go on as it is for `duration`: a fault held in place (how long Redis stays down,
/// paused or cut off) or the quiet gap before the next one. The schedule's own timing, which is
/// what the run tests, not a wait for something to happen.
pub async fn keep_for(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Holds back every client's writes on `redis` for `hold`.
async fn pause(redis: &RedisProcess, hold: Duration) {
    let millis = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
    redis.pause_writes(millis).await;
    keep_for(hold).await;
}

/// The process of the stack's Redis on `port`.
fn process_on(stack: &mut Replicated, port: u16) -> &mut RedisProcess {
    if stack.primary.port == port {
        &mut stack.primary
    } else {
        &mut stack.replica
    }
}

fn other_port(stack: &Replicated, port: u16) -> u16 {
    if stack.primary.port == port {
        stack.replica.port
    } else {
        stack.primary.port
    }
}

/// How long after a pause the run watches for a failover the pause set off (the sentinel's
/// down-after time is 1 s, its failover takes about as long again).
const FAILOVER_SETTLES: Duration = Duration::from_secs(3);

/// The port the sentinel names as the primary now.
async fn sentinel_primary(stack: &Replicated) -> u16 {
    crate::support::first_within(Duration::from_secs(30), || stack.named_primary())
        .await
        .expect("no sentinel named a primary")
}

async fn until_sentinel_names_another(stack: &Replicated, old: u16) {
    crate::support::eventually(
        "the sentinel to promote the replica",
        Duration::from_secs(30),
        || async { stack.named_primary().await.is_some_and(|port| port != old) },
    )
    .await;
}

/// Waits until the replica (the process the sentinel does not name) replicates the primary
/// with its link up, so that the next fault starts from a whole pair. The sentinel turns a
/// primary that comes back into a replica by itself; if it has not within 20 s, the run does
/// what an operator would (`REPLICAOF` the named primary) and waits again.
async fn until_replica_synced(stack: &mut Replicated) {
    let primary = sentinel_primary(stack).await;
    let replica = other_port(stack, primary);
    let url = process_on(stack, replica).url();
    for attempt in 0..2 {
        let within = Duration::from_secs(20 + 40 * attempt);
        let synced = crate::support::first_within(within, || async {
            replicates(&url, primary).await.then_some(())
        });
        if synced.await.is_some() {
            return;
        }
        println!("    the sentinel did not make {replica} a replica of {primary}: REPLICAOF");
        let _: redis::RedisResult<()> = redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(primary)
            .query_async(&mut process_on(stack, replica).admin().await)
            .await;
    }
    panic!("{replica} did not replicate {primary}");
}

/// Whether the Redis at `url` replicates the one on `primary` with its link up.
async fn replicates(url: &str, primary: u16) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut connection)
        .await
        .unwrap_or_default();
    info.contains(&format!("master_port:{primary}")) && info.contains("master_link_status:up")
}
