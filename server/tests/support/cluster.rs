//! A Redis Cluster of the test's own: six real processes (three primaries, each with a
//! replica), made into a cluster by `redis-cli --cluster create`, stopped when dropped. The
//! test may kill a primary or move a slot without disturbing any other test.

use super::process::RedisProcess;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct LocalCluster {
    pub nodes: Vec<RedisProcess>,
}

/// One slot range of `CLUSTER SLOTS`: first and last slot, and the primary's port.
type Range = (u16, u16, u16);

impl LocalCluster {
    /// Starts six nodes and waits until every one says the cluster is ok and three replicas
    /// have caught up with their primaries (a replica that never synced may not take over).
    pub async fn start() -> Self {
        let mut nodes = Vec::with_capacity(6);
        for _ in 0..6 {
            nodes.push(RedisProcess::cluster_node().await);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes };
        super::eventually("the cluster to form", Duration::from_secs(60), || {
            cluster.is_formed()
        })
        .await;
        cluster
    }

    /// `REDIS_CLUSTER_NODES` for a server: every node.
    pub fn seeds(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        seeds.join(",")
    }

    /// The same as a list.
    pub fn seed_list(&self) -> Vec<String> {
        self.seeds().split(',').map(str::to_owned).collect()
    }

    /// How many replicas are in sync with their primaries, if every running node but `except`
    /// says `cluster_state:ok`; `None` otherwise.
    pub async fn synced_replicas(&self, except: Option<u16>) -> Option<usize> {
        let mut synced = 0;
        for node in &self.nodes {
            if Some(node.port) == except || node.pid().is_none() {
                continue;
            }
            let mut connection = connect(node.port).await.ok()?;
            let info: Result<String, _> = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut connection)
                .await;
            if !info.is_ok_and(|info| info.contains("cluster_state:ok")) {
                return None;
            }
            let replication: Result<String, _> = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut connection)
                .await;
            if replication.is_ok_and(|info| info.contains("master_link_status:up")) {
                synced += 1;
            }
        }
        Some(synced)
    }

    async fn is_formed(&self) -> bool {
        if self.synced_replicas(None).await != Some(3) {
            return false;
        }
        let Some(ranges) = self.ranges().await else {
            return false;
        };
        let Ok(mut connection) = connect(self.nodes[0].port).await else {
            return false;
        };
        let nodes: Result<String, _> = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut connection)
            .await;
        !ranges.is_empty() && nodes.is_ok_and(|nodes| nodes.matches(" slave ").count() == 3)
    }

    /// The slot ranges as a live node sees them.
    async fn ranges(&self) -> Option<Vec<Range>> {
        for node in &self.nodes {
            if node.pid().is_none() {
                continue;
            }
            let Ok(mut connection) = connect(node.port).await else {
                continue;
            };
            let reply: Result<Vec<redis::Value>, _> = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut connection)
                .await;
            if let Ok(reply) = reply {
                return Some(reply.into_iter().filter_map(range_of).collect());
            }
        }
        None
    }

    /// The port of the primary that owns `slot` now.
    pub async fn primary_of(&self, slot: u16) -> u16 {
        let ranges = self.ranges().await.expect("a node answers CLUSTER SLOTS");
        ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, port)| *port)
            .expect("every slot is served")
    }

    /// The ports of the primaries, lowest first.
    pub async fn primaries(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .ranges()
            .await
            .expect("a node answers CLUSTER SLOTS")
            .iter()
            .map(|(_, _, port)| *port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The process on `port`.
    pub fn node(&mut self, port: u16) -> &mut RedisProcess {
        self.nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster")
    }

    /// Waits (bounded) until another primary than `old` serves `slot` and the cluster is ok
    /// again as the promoted node sees it.
    pub async fn until_failed_over(&self, slot: u16, old: u16) {
        super::eventually(
            "a replica to take over",
            Duration::from_secs(30),
            || async {
                let Some(ranges) = self.ranges().await else {
                    return false;
                };
                let Some((_, _, now)) = ranges
                    .iter()
                    .find(|(first, last, _)| (*first..=*last).contains(&slot))
                else {
                    return false;
                };
                if *now == old {
                    return false;
                }
                let Ok(mut connection) = connect(*now).await else {
                    return false;
                };
                let info: Result<String, _> = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut connection)
                    .await;
                info.is_ok_and(|info| info.contains("cluster_state:ok"))
            },
        )
        .await;
    }

    /// Moves `slot` from the primary on `from` to the one on `to` as `redis-cli --cluster
    /// reshard` does: importing and migrating marks, its keys moved a few at a time with
    /// `MIGRATE`, then the slot given to its new owner. `between_batches` runs after each
    /// batch (a storm's next answers: claims arrive while some keys are on each side).
    pub async fn migrate_slot<F, Fut>(&self, slot: u16, from: u16, to: u16, between_batches: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut source = connect(from).await.expect("source");
        let mut target = connect(to).await.expect("target");
        let source_id = node_id(&mut source).await;
        let target_id = node_id(&mut target).await;
        set_slot(&mut target, slot, "IMPORTING", &source_id).await;
        set_slot(&mut source, slot, "MIGRATING", &target_id).await;
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(2)
                .query_async(&mut source)
                .await
                .expect("GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            let _: () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(to)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query_async(&mut source)
                .await
                .expect("MIGRATE");
            between_batches().await;
        }
        set_slot(&mut target, slot, "NODE", &target_id).await;
        set_slot(&mut source, slot, "NODE", &target_id).await;
    }

    /// Script calls (`EVALSHA` and `EVAL`) each primary has run so far, by port.
    pub async fn script_calls(&self) -> HashMap<u16, u64> {
        let mut calls = HashMap::new();
        for port in self.primaries().await {
            let mut connection = connect(port).await.expect("primary");
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(&mut connection)
                .await
                .expect("INFO commandstats");
            let count = ["cmdstat_evalsha:calls=", "cmdstat_eval:calls="]
                .iter()
                .filter_map(|prefix| {
                    info.lines()
                        .find_map(|line| line.strip_prefix(prefix))
                        .and_then(|rest| rest.split(',').next())
                        .and_then(|n| n.parse::<u64>().ok())
                })
                .sum();
            calls.insert(port, count);
        }
        calls
    }

    /// Keys each primary holds, by port.
    pub async fn keys_per_primary(&self) -> HashMap<u16, u64> {
        let mut keys = HashMap::new();
        for port in self.primaries().await {
            let mut connection = connect(port).await.expect("primary");
            let count: u64 = redis::cmd("DBSIZE")
                .query_async(&mut connection)
                .await
                .expect("DBSIZE");
            keys.insert(port, count);
        }
        keys
    }
}

async fn connect(port: u16) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
}

async fn node_id(connection: &mut MultiplexedConnection) -> String {
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(connection)
        .await
        .expect("CLUSTER MYID")
}

async fn set_slot(connection: &mut MultiplexedConnection, slot: u16, state: &str, node: &str) {
    let _: () = redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(state)
        .arg(node)
        .query_async(connection)
        .await
        .expect("CLUSTER SETSLOT");
}

fn range_of(range: redis::Value) -> Option<Range> {
    let redis::Value::Array(fields) = range else {
        return None;
    };
    let first = redis::from_redis_value_ref(fields.first()?).ok()?;
    let last = redis::from_redis_value_ref(fields.get(1)?).ok()?;
    let redis::Value::Array(primary) = fields.get(2)? else {
        return None;
    };
    let port = redis::from_redis_value_ref(primary.get(1)?).ok()?;
    Some((first, last, port))
}

/// A new campaign of `quantity` coupons whose keys sit on the same Redis as `campaign`'s, so
/// that their claims share script calls: any campaign off a cluster, and on `cluster` one whose
/// slot the same primary owns (campaigns are created until one hashes there: one in three does).
pub async fn campaign_beside(
    engine: &coupon::Engine,
    cluster: Option<&LocalCluster>,
    campaign: coupon::CampaignId,
    quantity: i64,
) -> coupon::Campaign {
    let create = || async {
        engine
            .create_campaign(&super::draft(quantity))
            .await
            .expect("create campaign")
    };
    let Some(cluster) = cluster else {
        return create().await;
    };
    let slot_of = coupon::redis::CampaignKeys::slot;
    let primary = cluster.primary_of(slot_of(campaign)).await;
    loop {
        let created = create().await;
        if cluster.primary_of(slot_of(created.id)).await == primary {
            return created;
        }
    }
}
