//! What "issued" means: on the primary alone (the default), or on the primary and on N replicas
//! (`CLAIM_ACK=replicated`). With replicas, a failover that promotes one of them loses no claim a
//! member was told is theirs.
//!
//! One `WAIT` per round of script calls, not per claim: every claim of the round was written on
//! the same connection before it, so one answer covers them all (on a cluster, redis-rs sends it
//! to every primary, on the connection the round's calls took, and takes the lowest answer).
//! A round that does not reach N replicas in time has its issued claims answered "try again"
//! (they stand in Redis: the member's next try hears "already claimed"). After such a round, and
//! until enough replicas are connected again, rounds are refused before they reach Redis.

use crate::error::EngineError;
use crate::redis::RedisLink;
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

/// The claim rounds' view of the replicas.
pub(crate) struct Acknowledger {
    ack: ClaimAck,
    /// The last round fell short: check that enough replicas are connected before the next.
    short: bool,
}

impl Acknowledger {
    pub fn new(ack: ClaimAck) -> Self {
        Self { ack, short: false }
    }

    /// Before a round: refused while fewer replicas are connected than the setting needs (only
    /// looked at after a round fell short, so the normal path costs nothing).
    pub async fn before_round(&mut self, redis: &mut RedisLink) -> Result<(), Unconfirmed> {
        let ClaimAck::Replicated { replicas, .. } = self.ack else {
            return Ok(());
        };
        if !self.short {
            return Ok(());
        }
        let connected = connected_replicas(redis)
            .await
            .map_err(Unconfirmed::Redis)?;
        if connected < i64::from(replicas) {
            return Err(Unconfirmed::Short {
                connected,
                wanted: replicas,
            });
        }
        self.short = false;
        Ok(())
    }

    /// After a round that wrote (issued something): whether enough replicas have it.
    pub async fn after_round(&mut self, redis: &mut RedisLink) -> Result<(), Unconfirmed> {
        let ClaimAck::Replicated { replicas, timeout } = self.ack else {
            return Ok(());
        };
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let acked: i64 = redis::cmd("WAIT")
            .arg(replicas)
            .arg(timeout_ms)
            .query_async(redis)
            .await
            .map_err(Unconfirmed::Redis)?;
        if acked < i64::from(replicas) {
            self.short = true;
            crate::metrics::claims_unreplicated();
            return Err(Unconfirmed::Short {
                connected: acked,
                wanted: replicas,
            });
        }
        Ok(())
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

/// `connected_slaves` of `INFO replication`: on a cluster, the fewest any primary has (each
/// primary's claims wait for its own replicas).
pub(crate) async fn connected_replicas(redis: &mut RedisLink) -> redis::RedisResult<i64> {
    let answers = redis
        .on_primaries(redis::cmd("INFO").arg("replication"))
        .await?;
    let mut fewest = None;
    for (_, answer) in answers {
        let info: String = redis::from_redis_value(answer)?;
        let connected = info
            .lines()
            .find_map(|line| line.trim().strip_prefix("connected_slaves:"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        fewest = Some(fewest.map_or(connected, |known: i64| known.min(connected)));
    }
    Ok(fewest.unwrap_or(0))
}
