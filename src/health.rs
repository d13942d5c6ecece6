//! Readiness: can this instance serve claims and record them?

use crate::campaign::CampaignId;
use crate::claim::{ClaimAck, connected_replicas};
use crate::engine::Engine;
use crate::store::{MIGRATOR, campaigns};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What `/readyz` reports: each dependency, and whether all are fine.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// All checks passed.
    pub ready: bool,
    /// `ok`, or why Redis is not usable.
    pub redis: String,
    /// `ok`, or why PostgreSQL is not usable.
    pub postgres: String,
    /// `ok`, or which migrations are missing.
    pub migrations: String,
    /// With replicated acknowledgments: `ok`, or how many of the replicas needed are connected
    /// (every claim is answered "try again" meanwhile); `not required` otherwise.
    pub replicas: String,
    /// With Redis Sentinel: the primary it names now (`host:port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_primary: Option<String>,
    /// On a Redis Cluster: each primary, whether it answers, and which campaigns it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_cluster: Option<Vec<ClusterNode>>,
}

/// One primary of a Redis Cluster, as `/readyz` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterNode {
    /// `host:port`.
    pub node: String,
    /// Slots it owns.
    pub slots: u32,
    /// `ok`, or what it answered instead of `PONG`.
    pub redis: String,
    /// Campaigns not yet drained whose keys it holds (their slot is one of its own).
    pub campaigns: usize,
    /// Their ids, lowest first, at most [`LISTED_CAMPAIGNS`].
    pub campaign_ids: Vec<i64>,
}

/// Most campaign ids `/readyz` lists per node.
pub const LISTED_CAMPAIGNS: usize = 50;

impl Engine {
    /// Pings Redis and PostgreSQL and checks that every migration this build knows is applied.
    pub async fn readiness(&self) -> Readiness {
        let redis = match redis::cmd("PING")
            .query_async::<String>(&mut self.redis())
            .await
        {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        let applied: Result<i64, sqlx::Error> =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(self.db())
                .await;
        let known = MIGRATOR.iter().count() as i64;
        let (postgres, migrations) = match applied {
            Ok(n) if n >= known => ("ok".to_owned(), "ok".to_owned()),
            Ok(n) => ("ok".to_owned(), format!("{n} of {known} applied")),
            Err(error) => (error.to_string(), "unknown".to_owned()),
        };
        let missing = self.replicas_missing().await;
        let replicas = match (&missing, self.claim_ack()) {
            (Some(why), _) => why.clone(),
            (None, ClaimAck::Replicated { .. }) => "ok".to_owned(),
            (None, ClaimAck::Primary) => "not required".to_owned(),
        };
        let redis_cluster = self.cluster_nodes().await;
        let nodes_ok = redis_cluster
            .iter()
            .flatten()
            .all(|node| node.redis == "ok");
        Readiness {
            ready: redis == "ok"
                && nodes_ok
                && postgres == "ok"
                && migrations == "ok"
                && missing.is_none(),
            redis,
            postgres,
            migrations,
            replicas,
            redis_primary: self.redis().primary(),
            redis_cluster,
        }
    }

    /// Each primary of the cluster with the campaigns it holds; `None` without a cluster.
    async fn cluster_nodes(&self) -> Option<Vec<ClusterNode>> {
        let mut redis = self.redis();
        let primaries = redis.cluster()?.primaries();
        let pings = redis.on_primaries(&redis::cmd("PING")).await;
        let mut held: HashMap<Arc<str>, Vec<i64>> = HashMap::new();
        for id in campaigns::watched_ids(self.db()).await.unwrap_or_default() {
            if let Some(node) = redis.node_of_campaign(CampaignId(id)) {
                held.entry(node).or_default().push(id);
            }
        }
        let nodes = primaries
            .into_iter()
            .map(|(node, slots)| {
                let redis = match &pings {
                    Ok(answers) => match answers.iter().find(|(at, _)| **at == *node) {
                        Some((_, redis::Value::SimpleString(pong))) if pong == "PONG" => {
                            "ok".to_owned()
                        }
                        Some((_, other)) => format!("{other:?}"),
                        None => "no answer".to_owned(),
                    },
                    Err(error) => error.to_string(),
                };
                let ids = held.remove(&node).unwrap_or_default();
                ClusterNode {
                    node: node.to_string(),
                    slots,
                    redis,
                    campaigns: ids.len(),
                    campaign_ids: ids.into_iter().take(LISTED_CAMPAIGNS).collect(),
                }
            })
            .collect();
        Some(nodes)
    }

    /// With replicated acknowledgments, while fewer replicas are connected than needed (every
    /// claim is answered "try again"): how many are, or why that is unknown. `None` otherwise.
    pub(crate) async fn replicas_missing(&self) -> Option<String> {
        let ClaimAck::Replicated { replicas, .. } = self.claim_ack() else {
            return None;
        };
        match connected_replicas(&mut self.redis()).await {
            Ok(connected) if connected >= i64::from(replicas) => None,
            Ok(connected) => Some(format!("{connected} of {replicas} replicas connected")),
            Err(error) => Some(error.to_string()),
        }
    }
}
