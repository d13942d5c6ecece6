//! A Redis primary lost mid-storm (SIGKILL) and a replica promoted, by Sentinel or by Redis
//! Cluster, with real processes: the server follows the new primary without a restart. With
//! replicated acknowledgments no acknowledged claim is lost; without them every other invariant
//! holds and the loss is counted.

mod support;

use coupon::redis::{CampaignKeys, RedisTarget};
use coupon::{CampaignId, ClaimAck, RedisSettings};
use std::collections::HashSet;
use support::cluster::LocalCluster;
use support::process::{ServerProcess, free_port};
use support::sentinel::{MASTER, Replicated};
use support::stack::{Database, test_engine};
use support::storm::{Seen, Storm, issued_in_redis, until_drained};

/// A primary with a replica to take over: watched by Sentinel, or a shard of a Redis Cluster.
enum Redundant {
    Sentinel(Replicated),
    Cluster(LocalCluster),
}

impl Redundant {
    async fn start(cluster: bool) -> Self {
        if cluster {
            Self::Cluster(LocalCluster::start().await)
        } else {
            Self::Sentinel(Replicated::start().await)
        }
    }

    /// A number of its own, to name the test's database.
    fn tag(&self) -> u16 {
        match self {
            Self::Sentinel(redis) => redis.sentinel_port,
            Self::Cluster(cluster) => cluster.nodes[0].port,
        }
    }

    fn target(&self) -> RedisTarget {
        match self {
            Self::Sentinel(redis) => RedisTarget::Sentinel {
                sentinels: vec![redis.sentinels()],
                master: MASTER.into(),
            },
            Self::Cluster(cluster) => RedisTarget::Cluster(cluster.seed_list()),
        }
    }

    fn server_env(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Sentinel(redis) => vec![
                ("REDIS_SENTINELS", redis.sentinels()),
                ("REDIS_SENTINEL_MASTER", MASTER.to_owned()),
            ],
            Self::Cluster(cluster) => vec![("REDIS_CLUSTER_NODES", cluster.seeds())],
        }
    }

    /// SIGKILLs the primary holding the campaign's keys and waits until its replica serves.
    async fn kill_primary_of(&mut self, campaign: CampaignId) {
        match self {
            Self::Sentinel(redis) => {
                redis.primary.kill();
                redis.until_replica_promoted().await;
            }
            Self::Cluster(cluster) => {
                let slot = CampaignKeys::slot(campaign);
                let primary = cluster.primary_of(slot).await;
                cluster.node(primary).kill();
                cluster.until_failed_over(slot, primary).await;
            }
        }
    }
}

/// Kills the primary once the storm has had `before` answers, lets the storm run out, and
/// returns what it saw, with the stores left after the drain: (rows, Redis's issued set).
struct Failover {
    seen: Seen,
    rows: Vec<coupon::store::coupons::IssuedCoupon>,
    in_redis: HashSet<String>,
    remaining: Option<i64>,
    /// The server's `/readyz` answer after the failover: status and body.
    ready: (u16, serde_json::Value),
}

async fn storm_through_a_failover(
    name: &str,
    cluster: bool,
    ack: &[(&str, String)],
    quantity: i64,
) -> Failover {
    let mut redis = Redundant::start(cluster).await;
    let database = Database::create(name, redis.tag()).await;
    let settings = RedisSettings {
        target: redis.target(),
        ack: ClaimAck::Primary,
    };
    let engine = test_engine(&settings, &database.url).await;
    let campaign = engine
        .create_campaign(&support::draft(quantity))
        .await
        .expect("create campaign");
    let mut env = redis.server_env();
    env.extend(ack.iter().cloned());
    let server = ServerProcess::start_with(name, free_port(), "", &database.url, &env).await;

    let storm = Storm::start(
        vec![server.url("")],
        campaign.id,
        3 * quantity as usize,
        1,
        20,
    );
    storm.until_answered(quantity as usize / 3).await;
    redis.kill_primary_of(campaign.id).await;
    let seen = storm.run_out().await;
    until_drained(&engine, campaign.id).await;

    let rows = engine.recorded_coupons(campaign.id).await.expect("rows");
    let in_redis = issued_in_redis(&engine, campaign.id).await;
    let remaining = engine.status(campaign.id).await.unwrap().unwrap().remaining;
    let readyz = reqwest::get(server.url("/readyz")).await.expect("/readyz");
    let ready = (readyz.status().as_u16(), readyz.json().await.expect("JSON"));
    drop(server);
    engine.db().close().await;
    database.remove().await;
    Failover {
        seen,
        rows,
        in_redis,
        remaining,
        ready,
    }
}

/// Every invariant but "never lose an acknowledged claim": nobody twice, no code twice, never
/// beyond the quantity, no row without a claim, Redis and the record agree.
fn assert_all_but_loss(failover: &Failover, quantity: i64) {
    let members: HashSet<&str> = failover.rows.iter().map(|r| r.user_id.as_str()).collect();
    let codes: HashSet<&str> = failover.rows.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        members.len(),
        failover.rows.len(),
        "a member recorded twice"
    );
    assert_eq!(codes.len(), failover.rows.len(), "a code recorded twice");
    assert!(failover.rows.len() as i64 <= quantity, "over-issued");
    for row in &failover.rows {
        assert!(
            failover.seen.attempted.contains(&row.user_id),
            "{} never claimed",
            row.user_id
        );
    }
    let recorded: HashSet<String> = members.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        failover.in_redis, recorded,
        "Redis's issued set and the record disagree"
    );
    assert_eq!(
        failover.remaining,
        Some(quantity - failover.rows.len() as i64)
    );
    assert!(
        !failover.seen.statuses.contains_key(&500),
        "{:?}",
        failover.seen.statuses
    );
}

/// Members told "issued" whose coupon the record does not have.
fn lost(failover: &Failover) -> Vec<&String> {
    let recorded: HashSet<(&str, &str)> = failover
        .rows
        .iter()
        .map(|r| (r.user_id.as_str(), r.code.as_str()))
        .collect();
    failover
        .seen
        .issued
        .iter()
        .filter(|(user, code)| !recorded.contains(&(user.as_str(), code.as_str())))
        .map(|(user, _)| user)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_replicated_acknowledgments_a_primary_killed_mid_storm_loses_no_acknowledged_claim() {
    no_acknowledged_claim_lost("replicated", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_with_replicated_acknowledgments_a_primary_killed_mid_storm_loses_no_acknowledged_claim()
 {
    no_acknowledged_claim_lost("clusterreplicated", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_replicated_acknowledgments_a_failover_keeps_every_other_invariant_and_counts_the_loss()
 {
    every_other_invariant_kept("primaryack", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_without_replicated_acknowledgments_a_failover_keeps_every_other_invariant() {
    every_other_invariant_kept("clusterprimaryack", true).await;
}

async fn no_acknowledged_claim_lost(name: &str, cluster: bool) {
    let ack = [
        ("CLAIM_ACK", "replicated".to_owned()),
        ("CLAIM_ACK_REPLICAS", "1".to_owned()),
    ];
    let failover = storm_through_a_failover(name, cluster, &ack, 400).await;

    assert!(
        !failover.seen.issued.is_empty(),
        "claims were acknowledged before the kill"
    );
    assert_eq!(
        lost(&failover),
        Vec::<&String>::new(),
        "acknowledged claims lost"
    );
    assert_all_but_loss(&failover, 400);
    // The promoted replica has no replica of its own: from then on every claim is "try again",
    // and the server says why.
    assert!(failover.seen.statuses.get(&503).copied().unwrap_or(0) > 0);
    let (status, body) = &failover.ready;
    assert_eq!(*status, 503, "{body}");
    assert_eq!(body["replicas"], "0 of 1 replicas connected", "{body}");
}

async fn every_other_invariant_kept(name: &str, cluster: bool) {
    let failover = storm_through_a_failover(name, cluster, &[], 400).await;

    let lost = lost(&failover);
    println!(
        "acknowledged claims lost in the failover: {} of {} (statuses {:?})",
        lost.len(),
        failover.seen.issued.len(),
        failover.seen.statuses
    );
    assert_all_but_loss(&failover, 400);
    assert_eq!(failover.ready.0, 200, "{}", failover.ready.1);
    // Claims go on on the promoted replica.
    assert!(
        failover.seen.issued.len() > 400 / 3,
        "issued after the failover too: {:?}",
        failover.seen.statuses
    );
}
