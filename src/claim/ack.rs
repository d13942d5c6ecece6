//! What "issued" means: on the primary alone (the default), or on the primary and on N replicas
//! (`CLAIM_ACK=replicated`). With replicas, a failover that promotes one of them loses no claim a
//! member was told is theirs.
//!
//! One `WAIT` per round of script calls, not per claim: every claim of the round was written on
//! the same connection before it, so one answer covers them all. On a cluster, one per slot the
//! round wrote to, sent to its primary on the connection the calls took: each primary waits for
//! its own replicas, and a shard without enough of them holds up its campaigns only.
//! A round that does not reach N replicas in time has its issued claims answered "try again"
//! (they stand in Redis: the member's next try hears "already claimed"). After such a round, and
//! until enough replicas are connected again, calls to that shard are refused before they reach
//! Redis.

use crate::error::EngineError;
use crate::redis::RedisLink;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// When a claim counts as issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClaimAck {
    /// Once the primary has applied it (and its append-only file policy has run).
    #[default]
    Primary,
    /// Once the primary and `replicas` replicas have it, waiting at most `timeout` for them.
    Replicated {
        /// Replicas that must have the round.
        replicas: u32,
        /// Longest wait for them (`WAIT`'s timeout).
        timeout: Duration,
    },
}

/// Where a call's writes land as far as replication goes: the one primary (`None`), or on a
/// cluster the slot of the campaign (its primary waits for its own replicas).
pub(crate) type Shard = Option<u16>;

/// The claim rounds' view of the replicas, shared by the rounds of every node.
pub(crate) struct Acknowledger {
    ack: ClaimAck,
    /// Shards whose last round fell short: their replicas are counted before their next call.
    short: Mutex<HashSet<Shard>>,
}

impl Acknowledger {
    pub fn new(ack: ClaimAck) -> Self {
        Self {
            ack,
            short: Mutex::default(),
        }
    }

    /// The shards that fell short; only ever changed by single inserts and removals, so a
    /// poisoned lock still holds a usable set.
    fn short(&self) -> std::sync::MutexGuard<'_, HashSet<Shard>> {
        self.short
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before a call to `shard`: refused while it has fewer replicas connected than the setting
    /// needs (only looked at after a round there fell short, so the normal path costs nothing).
    pub async fn before_call(
        &self,
        redis: &mut RedisLink,
        shard: Shard,
    ) -> Result<(), Unconfirmed> {
        let ClaimAck::Replicated { replicas, .. } = self.ack else {
            return Ok(());
        };
        if !self.short().contains(&shard) {
            return Ok(());
        }
        let connected = replicas_of(redis, shard)
            .await
            .map_err(Unconfirmed::Redis)?;
        if connected < i64::from(replicas) {
            return Err(Unconfirmed::Short {
                connected,
                wanted: replicas,
            });
        }
        self.short().remove(&shard);
        Ok(())
    }

    /// After a round that wrote (issued something) to `shards`: whether enough replicas of
    /// each have it, in the order given.
    pub async fn after_round(
        &self,
        redis: &RedisLink,
        shards: &[Shard],
    ) -> Vec<Result<(), Unconfirmed>> {
        let ClaimAck::Replicated { replicas, timeout } = self.ack else {
            return shards.iter().map(|_| Ok(())).collect();
        };
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let waits = shards.iter().map(|shard| {
            let mut redis = redis.clone();
            async move {
                let mut wait = redis::cmd("WAIT");
                wait.arg(replicas).arg(timeout_ms);
                redis.query_shard::<i64>(&wait, *shard).await
            }
        });
        let acked = futures::future::join_all(waits).await;
        shards
            .iter()
            .zip(acked)
            .map(|(shard, acked)| match acked {
                Ok(acked) if acked >= i64::from(replicas) => Ok(()),
                Ok(acked) => {
                    self.short().insert(*shard);
                    crate::metrics::claims_unreplicated();
                    Err(Unconfirmed::Short {
                        connected: acked,
                        wanted: replicas,
                    })
                }
                Err(error) => Err(Unconfirmed::Redis(error)),
            })
            .collect()
    }
}

/// Why a round's claims are not acknowledged; every claim of it hears the same.
#[derive(Debug, Clone)]
pub(crate) enum Unconfirmed {
    /// Too few replicas confirmed or are connected.
    Short { connected: i64, wanted: u32 },
    /// Redis did not answer the question.
    Redis(redis::RedisError),
}

impl Unconfirmed {
    pub fn to_error(&self) -> EngineError {
        match self {
            Self::Short { connected, wanted } => EngineError::NotReplicated {
                connected: *connected,
                wanted: *wanted,
            },
            Self::Redis(error) => EngineError::Redis(error.clone()),
        }
    }
}

/// `connected_slaves` of `INFO replication`: on a cluster, the fewest any primary has.
pub(crate) async fn connected_replicas(redis: &mut RedisLink) -> redis::RedisResult<i64> {
    let answers = redis
        .on_primaries(redis::cmd("INFO").arg("replication"))
        .await?;
    let mut fewest = None;
    for (_, answer) in answers {
        let connected = replicas_in(&redis::from_redis_value::<String>(answer)?);
        fewest = Some(fewest.map_or(connected, |known: i64| known.min(connected)));
    }
    Ok(fewest.unwrap_or(0))
}

/// The replicas connected to the primary of `shard`.
async fn replicas_of(redis: &mut RedisLink, shard: Shard) -> redis::RedisResult<i64> {
    let mut info = redis::cmd("INFO");
    info.arg("replication");
    Ok(replicas_in(
        &redis.query_shard::<String>(&info, shard).await?,
    ))
}

fn replicas_in(info: &str) -> i64 {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("connected_slaves:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
