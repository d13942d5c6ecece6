//! A Redis primary lost mid-storm (SIGKILL) and a replica promoted, by Sentinel or by Redis
//! Cluster, with real processes: the server follows the new primary without a restart. With
//! replicated acknowledgments no acknowledged claim is lost; without them every other invariant
//! holds and the loss is counted. A neighbour campaign on the same primary is claimed at the same
//! time, so the failover also cuts calls that carry both campaigns' claims.

mod support;

use coupon::redis::{CampaignKeys, RedisLink, RedisTarget};
use coupon::{CampaignId, ClaimAck, RedisSettings};
use std::collections::HashSet;
use support::cluster::{LocalCluster, campaign_beside};
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

    /// A new campaign whose keys sit on the same primary as `campaign`'s.
    async fn neighbour_of(
        &self,
        engine: &coupon::Engine,
        campaign: CampaignId,
        quantity: i64,
    ) -> coupon::Campaign {
        let cluster = match self {
            Self::Sentinel(_) => None,
            Self::Cluster(cluster) => Some(cluster),
        };
        campaign_beside(engine, cluster, campaign, quantity).await
    }
}

/// What one campaign's storm saw through the failover, with the stores left after the drain.
struct Claimed {
    seen: Seen,
    rows: Vec<coupon::store::coupons::IssuedCoupon>,
    in_redis: HashSet<String>,
    remaining: Option<i64>,
    quantity: i64,
}

impl Claimed {
    async fn read(
        engine: &coupon::Engine,
        campaign: CampaignId,
        quantity: i64,
        seen: Seen,
    ) -> Self {
        until_drained(engine, campaign).await;
        Self {
            seen,
            rows: engine.recorded_coupons(campaign).await.expect("rows"),
            in_redis: issued_in_redis(engine, campaign).await,
            remaining: engine.status(campaign).await.unwrap().unwrap().remaining,
            quantity,
        }
    }
}

/// Kills the primary once the hot campaign's storm has had a third of its quantity in answers
/// (its neighbour's storm running beside it), lets the storms run out, and returns what they
/// saw.
struct Failover {
    hot: Claimed,
    neighbour: Claimed,
    /// Claims answered once the replica had taken over: the hot campaign's, the neighbour's.
    /// None can be issued while no primary serves, so a storm told "issued" more often than
    /// this, plus one claim in flight for each of its clients, was issued after the failover.
    answered_at_takeover: (usize, usize),
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
    let neighbour = redis
        .neighbour_of(&engine, campaign.id, 10 * quantity)
        .await;
    let mut env = redis.server_env();
    env.extend(ack.iter().cloned());
    let server = ServerProcess::start_with(name, free_port(), "", &database.url, &env).await;

    let users = 3 * quantity as usize;
    let storm = Storm::start(vec![server.url("")], campaign.id, users, 1, 20);
    let beside = Storm::start_from(users, vec![server.url("")], neighbour.id, users, 1, 10);
    storm.until_answered(quantity as usize / 3).await;
    redis.kill_primary_of(campaign.id).await;
    let answered_at_takeover = (storm.answered(), beside.answered());
    let seen = storm.run_out().await;
    let seen_beside = beside.run_out().await;

    let hot = Claimed::read(&engine, campaign.id, quantity, seen).await;
    let neighbour = Claimed::read(&engine, neighbour.id, 10 * quantity, seen_beside).await;
    let ready = readiness_once_caught_up(&server).await;
    drop(server);
    engine.db().close().await;
    database.remove().await;
    Failover {
        hot,
        neighbour,
        answered_at_takeover,
        ready,
    }
}

/// The server's `/readyz` answer once every Redis node it lists answers: it reads a cluster's
/// slot owners every second, so just after a takeover it may still name the killed primary.
async fn readiness_once_caught_up(server: &ServerProcess) -> (u16, serde_json::Value) {
    server
        .readiness_once(
            "/readyz to list only Redis nodes that answer",
            std::time::Duration::from_secs(15),
            |_, body| {
                body["redis_cluster"]
                    .as_array()
                    .is_none_or(|nodes| nodes.iter().all(|node| node["redis"] == "ok"))
            },
        )
        .await
}

/// Every invariant but "never lose an acknowledged claim": nobody twice, no code twice, never
/// beyond the quantity, no row without a claim, Redis and the record agree.
fn assert_all_but_loss(claimed: &Claimed) {
    let members: HashSet<&str> = claimed.rows.iter().map(|r| r.user_id.as_str()).collect();
    let codes: HashSet<&str> = claimed.rows.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(members.len(), claimed.rows.len(), "a member recorded twice");
    assert_eq!(codes.len(), claimed.rows.len(), "a code recorded twice");
    assert!(claimed.rows.len() as i64 <= claimed.quantity, "over-issued");
    for row in &claimed.rows {
        assert!(
            claimed.seen.attempted.contains(&row.user_id),
            "{} never claimed",
            row.user_id
        );
    }
    let recorded: HashSet<String> = members.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        claimed.in_redis, recorded,
        "Redis's issued set and the record disagree"
    );
    assert_eq!(
        claimed.remaining,
        Some(claimed.quantity - claimed.rows.len() as i64)
    );
    assert!(
        !claimed.seen.statuses.contains_key(&500),
        "{:?}",
        claimed.seen.statuses
    );
}

/// Members told "issued" whose coupon the record does not have.
fn lost(claimed: &Claimed) -> Vec<&String> {
    let recorded: HashSet<(&str, &str)> = claimed
        .rows
        .iter()
        .map(|r| (r.user_id.as_str(), r.code.as_str()))
        .collect();
    claimed
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

/// `WAIT` counts the replicas that hold the writes of its own connection. A fresh connection to a
/// primary the sentinels just named has written nothing, so a `WAIT` there confirms at once with
/// whatever replicas that primary has — claims written on the old one included, which none of
/// them may hold. A claim round therefore keeps the connection its calls took
/// (`RedisLink::pinned`): its `WAIT` goes to the node it wrote to, and cannot confirm there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rounds_wait_goes_to_the_primary_it_wrote_to_even_after_the_sentinels_name_another() {
    let stack = Replicated::start().await;
    let link = RedisLink::connect(&RedisTarget::Sentinel {
        sentinels: vec![stack.sentinels()],
        master: MASTER.into(),
    })
    .await
    .expect("connect through the sentinel");
    let mut round = link.pinned();
    let () = redis::cmd("SET")
        .arg("written-by-the-round")
        .arg("1")
        .query_async(&mut round)
        .await
        .expect("a write on the primary");

    // The sentinel hands the primary's role to the replica; the old primary becomes its replica.
    let sentinel = redis::Client::open(format!("redis://{}", stack.sentinels())).expect("url");
    let mut sentinel = sentinel
        .get_multiplexed_async_connection()
        .await
        .expect("the sentinel");
    let () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(MASTER)
        .query_async(&mut sentinel)
        .await
        .expect("a failover");
    stack.until_replica_promoted().await;
    let new_primary = format!("127.0.0.1:{}", stack.replica.port);
    let mut followed = link.clone();
    support::eventually(
        "the link to follow the new primary, and the old one to replicate it",
        std::time::Duration::from_secs(30),
        || {
            let mut followed = followed.clone();
            let new_primary = new_primary.clone();
            async move {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut followed)
                    .await
                    .unwrap_or_default();
                followed.primary().as_deref() == Some(new_primary.as_str())
                    && info.contains("connected_slaves:1")
                    && info.contains("state=online")
            }
        },
    )
    .await;

    let mut wait = redis::cmd("WAIT");
    wait.arg(1).arg(200);
    let on_the_new_connection: i64 = wait.query_async(&mut followed).await.expect("WAIT");
    assert_eq!(
        on_the_new_connection, 1,
        "a connection that wrote nothing is confirmed by every replica at once"
    );
    let on_the_rounds_connection: redis::RedisResult<i64> = wait.query_async(&mut round).await;
    assert!(
        !matches!(on_the_rounds_connection, Ok(confirmed) if confirmed >= 1),
        "the round's WAIT must not confirm its write: {on_the_rounds_connection:?}"
    );
}

async fn no_acknowledged_claim_lost(name: &str, cluster: bool) {
    let ack = [
        ("CLAIM_ACK", "replicated".to_owned()),
        ("CLAIM_ACK_REPLICAS", "1".to_owned()),
    ];
    let failover = storm_through_a_failover(name, cluster, &ack, 400).await;

    assert!(
        !failover.hot.seen.issued.is_empty(),
        "claims were acknowledged before the kill"
    );
    for claimed in [&failover.hot, &failover.neighbour] {
        assert_eq!(
            lost(claimed),
            Vec::<&String>::new(),
            "acknowledged claims lost"
        );
        assert_all_but_loss(claimed);
    }
    // The promoted replica has no replica of its own: from then on every claim is "try again",
    // and the server says why.
    assert!(failover.hot.seen.statuses.get(&503).copied().unwrap_or(0) > 0);
    let (status, body) = &failover.ready;
    assert_eq!(*status, 503, "{body}");
    assert_eq!(body["replicas"], "0 of 1 replicas connected", "{body}");
}

async fn every_other_invariant_kept(name: &str, cluster: bool) {
    let failover = storm_through_a_failover(name, cluster, &[], 400).await;

    for claimed in [&failover.hot, &failover.neighbour] {
        println!(
            "acknowledged claims lost in the failover: {} of {} (statuses {:?})",
            lost(claimed).len(),
            claimed.seen.issued.len(),
            claimed.seen.statuses
        );
        assert_all_but_loss(claimed);
    }
    assert_eq!(failover.ready.0, 200, "{}", failover.ready.1);
    // Claims go on on the promoted replica, for both campaigns (20 and 10 clients).
    let (hot_answered, neighbour_answered) = failover.answered_at_takeover;
    assert!(
        failover.hot.seen.issued.len() > hot_answered + 20,
        "issued after the failover too: {:?}",
        failover.hot.seen.statuses
    );
    let neighbour = &failover.neighbour.seen;
    assert!(
        neighbour.issued.len() > neighbour_answered + 10,
        "the neighbour issued after the failover too: {:?}",
        neighbour.statuses
    );
}
