//! Which Redis this instance is talking to: the node's run id (its process) and replication id
//! (the history of its data).
//!
//! Every campaign's meta hash is stamped with both, as the Redis that last verified it against
//! PostgreSQL had them; the claim script answers from a state only while both are its node's.
//! - A process gets a new run id when it starts; a state restored from an older append-only file
//!   carries the run id of the process before.
//! - A primary gets a new replication id when a replica is promoted, and when it restarts from
//!   an append-only file (from an RDB snapshot Redis 7 may keep it: the run id tells then). A
//!   *failback* keeps the run id: a primary that was demoted, resynced from the new primary,
//!   fell behind it and is promoted again is the same process, with its script cache (checked
//!   on Redis 7.0.15), so it neither answers `NOSCRIPT` nor shows another run id; its promotion
//!   gave it a new replication id, which the states it copied from the other primary lack.
//!
//! The claim script reads its node's replication id itself on every call (a few microseconds,
//! docs/internals.md), so no belief of the caller's can take an older state as verified. The run
//! id the caller passes is the one it last read: again whenever the link's connection may have
//! been made again or was swapped for another primary's ([`RedisIdentity::outdated`]), again on
//! `NOSCRIPT` (src/redis/scripts.rs reads it through [`RedisIdentity::refresh`] in both cases),
//! and on every load and verification (which
//! read the node's identity through a script call on one of the campaign's keys,
//! `Scripts::identity_for`). A sync round reads every node's ([`ExpectedRuns`]). A repair writes
//! only on the node whose identity it was given (repair.lua checks).

use crate::redis::{CampaignKeys, RedisLink, Scripts};
use redis::{RedisError, RedisResult};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A node's identity as states are stamped with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeIdentity {
    pub run: Arc<str>,
    pub replid: Arc<str>,
}

impl NodeIdentity {
    /// From the `INFO server` and `INFO replication` replies; `None` if either field is missing.
    pub fn from_info(server: &str, replication: &str) -> Option<Self> {
        Some(Self {
            run: Arc::from(run_id_in(server)?),
            replid: Arc::from(field_in(replication, "master_replid:")?),
        })
    }

    /// Whether a state stamped with `run` and `replid` was verified by this node.
    pub fn stamped(&self, run: Option<&str>, replid: Option<&str>) -> bool {
        run == Some(&*self.run) && replid == Some(&*self.replid)
    }
}

/// The run id of the Redis last seen (empty until the first script call reads it), and how many
/// connections the link had made again or swapped when it was read ([`RedisLink::reconnects`]).
#[derive(Default)]
pub(crate) struct RedisIdentity(RwLock<(Arc<str>, u64)>);

impl RedisIdentity {
    /// The run id last read.
    pub fn current(&self) -> Arc<str> {
        self.read().0.clone()
    }

    /// Whether the link's connection may have been made again since the run id was read: the
    /// Redis behind it may be another process, which need not answer `NOSCRIPT`.
    pub fn outdated(&self, redis: &RedisLink) -> bool {
        self.read().1 != redis.reconnects()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Arc<str>, u64)> {
        // Only ever replaced whole, so a poisoned lock still holds a consistent value.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the run id from Redis again; logs and counts it when it changed.
    pub async fn refresh(&self, redis: &mut RedisLink) -> RedisResult<()> {
        let reconnects = redis.reconnects();
        let info: String = redis::cmd("INFO").arg("server").query_async(redis).await?;
        let run_id = run_id_in(&info)
            .ok_or_else(|| RedisError::from(std::io::Error::other("INFO server has no run_id")))?;
        self.observe(run_id, reconnects);
        Ok(())
    }

    /// Takes `run_id`, read from the one Redis there is when the link had made `reconnects`
    /// connections again, as the current one; logs and counts it when it changed.
    pub fn observe(&self, run_id: &str, reconnects: u64) {
        let mut known = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.1 = reconnects;
        let known = &mut known.0;
        if &**known != run_id {
            if !known.is_empty() {
                tracing::warn!(
                    before = %known,
                    now = run_id,
                    "Redis changed (restart or failover): every campaign is verified against \
                     PostgreSQL before its next claim is answered"
                );
                crate::metrics::redis_changed();
            }
            *known = Arc::from(run_id);
        }
    }
}

impl Scripts {
    /// The identity a campaign's state must be stamped with to be answered from: that of the
    /// node that holds the campaign's keys now, asked through a script call on one of them (on
    /// one node, the run id read becomes the one the claims pass).
    pub async fn identity_for(
        &self,
        redis: &mut RedisLink,
        keys: &CampaignKeys,
    ) -> RedisResult<NodeIdentity> {
        let reconnects = redis.reconnects();
        let (run, replid): (String, String) = self
            .call(&self.identity_of)
            .key(&keys.meta)
            .invoke(redis)
            .await?;
        if redis.cluster().is_none() {
            self.identity.observe(&run, reconnects);
        }
        Ok(NodeIdentity {
            run: Arc::from(run),
            replid: Arc::from(replid),
        })
    }
}

/// The identity each campaign's state should carry, as a sync round sees it: that of the one
/// Redis there is, read for the round, or on a cluster each primary's, with a campaign's node
/// taken from the slot owners last read. A stale owner only makes the round ask for a
/// verification that finds the state agrees; the claim script checks its own node either way.
pub(crate) enum ExpectedRuns {
    One(Option<NodeIdentity>),
    PerNode(HashMap<String, NodeIdentity>),
}

impl ExpectedRuns {
    pub async fn read(redis: &mut RedisLink) -> Self {
        if redis.cluster().is_none() {
            let mut pipe = redis::pipe();
            pipe.cmd("INFO")
                .arg("server")
                .cmd("INFO")
                .arg("replication");
            let read: RedisResult<(String, String)> = pipe.query_async(redis).await;
            // Not taken as the run id the claims pass: a reply read just before a restart and
            // handled after the claims' own refresh would put the old one back.
            let node = read
                .ok()
                .and_then(|(server, replication)| NodeIdentity::from_info(&server, &replication));
            return Self::One(node);
        }
        let servers = info_of_primaries(redis, "server").await;
        let mut replications = info_of_primaries(redis, "replication").await;
        let nodes = servers
            .into_iter()
            .filter_map(|(node, server)| {
                let replication = replications.remove(&node)?;
                Some((node, NodeIdentity::from_info(&server, &replication)?))
            })
            .collect();
        Self::PerNode(nodes)
    }

    /// The identity the state of the campaign with these keys should carry; `None` if unknown.
    pub fn of(&self, redis: &RedisLink, keys: &CampaignKeys) -> Option<&NodeIdentity> {
        match self {
            Self::One(node) => node.as_ref(),
            Self::PerNode(nodes) => {
                let node = redis.node_of(keys.meta.as_bytes())?;
                nodes.get(&*node)
            }
        }
    }
}

/// `INFO <section>` of every primary of a cluster, by node; those that did not answer left out.
async fn info_of_primaries(redis: &mut RedisLink, section: &str) -> HashMap<String, String> {
    redis
        .on_primaries(redis::cmd("INFO").arg(section))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(node, answer)| Some((node, redis::from_redis_value::<String>(answer).ok()?)))
        .collect()
}

/// The `run_id:` field of an `INFO server` reply.
fn run_id_in(info: &str) -> Option<&str> {
    field_in(info, "run_id:")
}

/// The value after `prefix` on a line of an `INFO` reply, if not empty.
fn field_in<'a>(info: &'a str, prefix: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_is_read_from_info_server() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:66dd05\r\ntcp_port:6379\r\n";
        assert_eq!(run_id_in(info), Some("66dd05"));
        assert_eq!(run_id_in("# Server\r\nrun_id:\r\n"), None);
        assert_eq!(run_id_in(""), None);
    }

    #[test]
    fn a_nodes_identity_is_its_run_id_and_replication_id() {
        let server = "# Server\r\nrun_id:66dd05\r\n";
        let replication = "# Replication\r\nrole:master\r\nmaster_replid:ab12\r\n\
                           master_replid2:0000\r\n";
        let node = NodeIdentity::from_info(server, replication).expect("both fields");
        assert!(node.stamped(Some("66dd05"), Some("ab12")));
        assert!(
            !node.stamped(Some("66dd05"), Some("0000")),
            "promoted since"
        );
        assert!(
            !node.stamped(Some("66dd05"), None),
            "stamped before replication ids"
        );
        assert_eq!(NodeIdentity::from_info(server, "# Replication\r\n"), None);
    }
}
