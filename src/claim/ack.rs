//! What "issued" means: on the primary alone (the default), or on the primary and on N replicas
//! (`CLAIM_ACK=replicated`). With replicas, a failover that promotes one of them loses no claim a
//! member was told is theirs.
//!
//! One `WAIT` per round of script calls and shard, not per claim. What `WAIT` counts is the
//! replicas that have what *its own connection* wrote, and the connection that waits must be the
//! one that wrote: the connection manager reconnects on its own, and on a cluster a failover
//! between the calls and the `WAIT` routes it to the new primary. On one Redis the round's calls
//! and its `WAIT` go out in one pipeline (batcher/waited.rs). On a cluster, after the calls, each
//! shard's `WAIT` goes out in a pipeline after a short-lived write of its own (its connection has
//! then written past every claim of the round, if it reached the same Redis). Either way an
//! `INFO replication` follows the `WAIT` on its connection, and it counts only if that Redis is
//! still the primary of the history the claims were written in (the replication id claim.lua
//! read as it wrote them). On a cluster each primary waits for its own replicas, and a shard
//! without enough of them holds up its campaigns only.
//! A round that does not reach N replicas in time has its issued claims answered "try again"
//! (they stand in Redis: the member's next try hears "already claimed"). After such a round, and
//! until enough replicas are connected again, calls to that shard are refused before they reach
//! Redis.

use crate::campaign::CampaignId;
use crate::error::EngineError;
use crate::redis::{CampaignKeys, RedisLink};
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

    /// After a round that issued something: whether enough replicas have what each shard of
    /// `written` was given, in the order given.
    pub async fn after_round(
        &self,
        redis: &RedisLink,
        written: &[Written],
    ) -> Vec<Result<(), Unconfirmed>> {
        let Some(wait) = self.wait() else {
            return written.iter().map(|_| Ok(())).collect();
        };
        let waits = written
            .iter()
            .map(|written| wait_for_replicas(redis.clone(), written, wait));
        let confirmed = futures::future::join_all(waits).await;
        for (written, confirmed) in written.iter().zip(&confirmed) {
            self.note(written, confirmed);
        }
        confirmed
    }

    /// What a round's `WAIT` asks for; `None` when claims are acknowledged by the primary alone.
    pub fn wait(&self) -> Option<Wait> {
        let ClaimAck::Replicated { replicas, timeout } = self.ack else {
            return None;
        };
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        Some(Wait {
            replicas,
            timeout_ms,
        })
    }

    /// Judges the replies of a [`Wait::add_to`] sent on the connection that wrote `written`
    /// right after its writes.
    pub fn judge(
        &self,
        written: &Written,
        wait: Wait,
        acked: redis::Value,
        info: redis::Value,
    ) -> Result<(), Unconfirmed> {
        let judged = read_confirmation(written, wait, acked, info);
        self.note(written, &judged);
        judged
    }

    /// A shard that fell short has its replicas counted before its next call.
    fn note(&self, written: &Written, confirmed: &Result<(), Unconfirmed>) {
        if let Err(Unconfirmed::Short { .. }) = confirmed {
            self.short().insert(written.shard);
            crate::metrics::claims_unreplicated();
        }
    }
}

/// A round's `WAIT`: how many replicas, for how long at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    pub replicas: u32,
    pub timeout_ms: u64,
}

impl Wait {
    /// Appends the `WAIT` and the `INFO replication` it is judged with; on the connection that
    /// wrote the claims, after them.
    pub fn add_to(self, pipeline: &mut redis::Pipeline) {
        pipeline
            .cmd("WAIT")
            .arg(self.replicas)
            .arg(self.timeout_ms)
            .cmd("INFO")
            .arg("replication");
    }
}

/// What a round wrote to one shard: where, a campaign of it (naming the slot), and the
/// replication id of the history its calls wrote in (`None` when its calls did not all see the
/// same one: a failover in the middle of the round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub shard: Shard,
    pub campaign: CampaignId,
    pub replid: Option<String>,
}

/// How long the probe written before a `WAIT` lives: long enough to be seen by the `WAIT`.
const PROBE_LIFETIME_MS: u64 = 10_000;

/// On a cluster, after the round's calls: a probe written to the shard, then its `WAIT` and
/// `INFO replication`, in one pipeline on one connection (the probe makes that connection one
/// that wrote past the claims, if it reached the Redis that has them).
async fn wait_for_replicas(
    mut redis: RedisLink,
    written: &Written,
    wait: Wait,
) -> Result<(), Unconfirmed> {
    let mut pipeline = redis::pipe();
    pipeline
        .cmd("SET")
        .arg(CampaignKeys::ack_probe(written.campaign))
        .arg(1)
        .arg("PX")
        .arg(PROBE_LIFETIME_MS);
    wait.add_to(&mut pipeline);
    let replies = redis
        .pipeline_shard(&pipeline, 3, written.shard)
        .await
        .map_err(Unconfirmed::Redis)?;
    let [_, acked, info] = <[redis::Value; 3]>::try_from(replies)
        .map_err(|replies| Unconfirmed::Redis(unexpected(replies.len())))?;
    read_confirmation(written, wait, acked, info)
}

/// Whether a `WAIT` answered `acked`, followed on its connection by `info`, confirms `written`.
fn read_confirmation(
    written: &Written,
    wait: Wait,
    acked: redis::Value,
    info: redis::Value,
) -> Result<(), Unconfirmed> {
    let Some(replid) = &written.replid else {
        return Err(Unconfirmed::Short {
            connected: 0,
            wanted: wait.replicas,
        });
    };
    let acked: i64 =
        redis::from_redis_value(acked).map_err(|error| Unconfirmed::Redis(error.into()))?;
    let info: String =
        redis::from_redis_value(info).map_err(|error| Unconfirmed::Redis(error.into()))?;
    confirmation(replid, acked, &info, wait.replicas)
}

fn unexpected(replies: usize) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "a replicated acknowledgment's pipeline",
        format!("{replies} replies for 3 commands"),
    ))
}

/// Whether a `WAIT` that counted `acked` replicas, followed on its connection by `info`,
/// confirms claims written in the history `written_on`: only if the Redis that waited is the
/// primary of that history (a promoted replica starts a new one, so its replicas counting its
/// own writes says nothing about the claims).
pub(crate) fn confirmation(
    written_on: &str,
    acked: i64,
    info: &str,
    wanted: u32,
) -> Result<(), Unconfirmed> {
    let same_history =
        field(info, "role") == Some("master") && field(info, "master_replid") == Some(written_on);
    let counted = if same_history { acked } else { 0 };
    if counted >= i64::from(wanted) {
        Ok(())
    } else {
        Err(Unconfirmed::Short {
            connected: counted,
            wanted,
        })
    }
}

/// A `name:value` line of an `INFO` answer.
fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim()
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
    })
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
    field(info, "connected_slaves")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIMARY: &str = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
        master_replid:aaa\r\nmaster_repl_offset:90\r\n";

    #[test]
    fn a_wait_on_the_history_the_claims_were_written_in_counts() {
        assert!(confirmation("aaa", 1, PRIMARY, 1).is_ok());
        assert!(matches!(
            confirmation("aaa", 0, PRIMARY, 1),
            Err(Unconfirmed::Short { connected: 0, .. })
        ));
    }

    #[test]
    fn a_wait_answered_by_another_history_confirms_nothing() {
        // The primary promoted since the claims were written: its replicas have its writes.
        assert!(confirmation("bbb", 2, PRIMARY, 1).is_err());
        // The old primary, demoted: it shares the history but is no longer where claims land.
        let demoted = PRIMARY.replace("role:master", "role:slave");
        assert!(confirmation("aaa", 2, &demoted, 1).is_err());
        assert!(confirmation("aaa", 2, "", 1).is_err(), "no INFO to go on");
    }
}
