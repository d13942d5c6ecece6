//! Which Redis this instance is talking to, as far as it knows: the server's run id.
//!
//! A Redis process gets a new run id every time it starts, and a replica promoted by a failover
//! has its own. Every campaign's meta hash is stamped with the run id of the Redis that last
//! verified it against PostgreSQL; a state restored from an older append-only file or a replica
//! carries an earlier run id, so the claim script refuses to answer from it until it has been
//! verified again (see `src/loader.rs`).
//!
//! How an instance learns that the run id changed: its scripts carry a token of the process, so
//! their SHA is its own, and Redis 7 neither persists nor replicates the script cache. A restarted
//! or promoted Redis therefore answers this instance's next script call with `NOSCRIPT`, and the
//! instance reads the run id again before it loads the script and retries.

use super::{CampaignKeys, RedisLink};
use redis::{RedisError, RedisResult};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The run id of the Redis last seen; empty until the first script call reads it.
#[derive(Default)]
pub(crate) struct RedisIdentity(RwLock<Arc<str>>);

impl RedisIdentity {
    /// The run id last read.
    pub fn current(&self) -> Arc<str> {
        // Only ever replaced whole, so a poisoned lock still holds a consistent value.
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the run id from Redis again; logs and counts it when it changed.
    pub async fn refresh(&self, redis: &mut RedisLink) -> RedisResult<()> {
        let info: String = redis::cmd("INFO").arg("server").query_async(redis).await?;
        let run_id = run_id_in(&info)
            .ok_or_else(|| RedisError::from(std::io::Error::other("INFO server has no run_id")))?;
        let mut known = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        Ok(())
    }
}

/// The run id each campaign's state should carry, as a sync round sees it: the one Redis's (as
/// last read; unknown until this instance's first script call), or on a cluster each primary's,
/// read for the round, with a campaign's node taken from the slot owners last read. A stale
/// owner only makes the round ask for a verification that finds the state agrees; the claim
/// script checks its own node either way.
pub(crate) enum ExpectedRuns {
    One(Arc<str>),
    PerNode(HashMap<String, String>),
}

impl ExpectedRuns {
    pub async fn read(redis: &mut RedisLink, identity: &RedisIdentity) -> Self {
        if redis.cluster().is_none() {
            return Self::One(identity.current());
        }
        let answers = redis
            .on_primaries(redis::cmd("INFO").arg("server"))
            .await
            .unwrap_or_default();
        let runs = answers
            .into_iter()
            .filter_map(|(node, answer)| {
                let info = redis::from_redis_value::<String>(answer).ok()?;
                Some((node, run_id_in(&info)?.to_owned()))
            })
            .collect();
        Self::PerNode(runs)
    }

    /// The run id the state of the campaign with these keys should carry; `None` if unknown.
    pub fn of(&self, redis: &RedisLink, keys: &CampaignKeys) -> Option<&str> {
        match self {
            Self::One(run) => Some(&**run).filter(|run| !run.is_empty()),
            Self::PerNode(runs) => {
                let node = redis.node_of(keys.meta.as_bytes())?;
                runs.get(&*node).map(String::as_str)
            }
        }
    }
}

/// The `run_id:` field of an `INFO server` reply.
fn run_id_in(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("run_id:"))
        .filter(|id| !id.is_empty())
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
}
