//! What Redis holds of a campaign's claim state, and how it stands against the record.

use super::formats::count_issued;
use super::identity::NodeIdentity;
use crate::campaign::Campaign;
use crate::redis::{CampaignKeys, RedisLink};
use redis::{FromRedisValue, RedisResult};

/// The meta hash's fields (`None` when the hash is missing), as claim.lua and repair.lua use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaView {
    /// `active`, `paused` or `ended`.
    pub status: Option<String>,
    /// The window, in milliseconds since the epoch.
    pub starts_ms: Option<i64>,
    /// The window's end, in milliseconds since the epoch.
    pub ends_ms: Option<i64>,
    /// The total quantity Redis issues against.
    pub quantity: Option<i64>,
    /// The last sequence number handed out (or reserved to continue after).
    pub seq: Option<i64>,
    /// The run id of the Redis that last verified this state against PostgreSQL.
    pub run: Option<String>,
    /// Its replication id then (`None` in states stamped before replication ids were).
    pub replid: Option<String>,
    /// The state's format ([`STATE_FORMAT`](super::formats::STATE_FORMAT), or `None` from a
    /// release before it).
    pub format: Option<i64>,
    /// The version of the verification that last wrote this state (repair.lua's `verified`;
    /// `None` in states written before the record kept one, read as 0).
    pub verified: Option<i64>,
}

impl MetaView {
    /// The fields, in the order [`MetaView::read`] asks for them.
    pub const FIELDS: [&str; 9] = [
        "status",
        "starts_ms",
        "ends_ms",
        "quantity",
        "seq",
        "run",
        "format",
        "replid",
        "verified",
    ];

    /// Adds the `HMGET` that reads these fields to `pipe`.
    pub fn read(pipe: &mut redis::Pipeline, keys: &CampaignKeys) {
        pipe.hmget(&keys.meta, &Self::FIELDS);
    }

    /// Whether the status, window and quantity are the record's.
    pub fn agrees_with(&self, campaign: &Campaign) -> bool {
        self.status.as_deref() == Some(campaign.status.as_str())
            && self.starts_ms == Some(campaign.claim_starts_at.timestamp_millis())
            && self.ends_ms == Some(campaign.claim_ends_at.timestamp_millis())
            && self.quantity == Some(campaign.quantity)
    }

    /// Whether the state was last verified by `node`, as it is now.
    pub fn stamped_by(&self, node: &NodeIdentity) -> bool {
        node.stamped(self.run.as_deref(), self.replid.as_deref())
    }

    /// Whether the state was written by the verification the record names as the campaign's
    /// last (`latest`, from src/reconcile/verifications.rs; 0 for none on either side).
    pub fn verified_as(&self, latest: i64) -> bool {
        self.verified.unwrap_or(0) == latest
    }
}

impl FromRedisValue for MetaView {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        let (status, starts_ms, ends_ms, quantity, seq, run, format, replid, verified) =
            FromRedisValue::from_redis_value(value)?;
        Ok(Self {
            status,
            starts_ms,
            ends_ms,
            quantity,
            seq,
            run,
            replid,
            format,
            verified,
        })
    }
}

/// A campaign's whole claim state as a verification sees it.
#[derive(Debug, Clone)]
pub struct StateView {
    pub meta: MetaView,
    /// Whether the counter exists.
    pub counter: bool,
    /// Users who hold a coupon (the issued hash's fields, or set's members in format 1).
    pub issued: i64,
}

impl StateView {
    /// Reads it: one round trip, and one more to count the users when there are any.
    pub async fn read(redis: &mut RedisLink, keys: &CampaignKeys) -> RedisResult<Self> {
        let mut pipe = redis::pipe();
        MetaView::read(&mut pipe, keys);
        pipe.exists(&keys.counter).key_type(&keys.issued);
        let (meta, counter, kind): (MetaView, bool, redis::ValueType) =
            pipe.query_async(redis).await?;
        let mut count = redis::pipe();
        count_issued(&mut count, keys, kind);
        let (issued,) = count.query_async(redis).await?;
        Ok(Self {
            meta,
            counter,
            issued,
        })
    }

    /// Whether the claim script would answer from this state on the node `node`: present, in
    /// this release's format, and stamped by that node.
    pub fn is_ready_in(&self, node: &NodeIdentity) -> bool {
        self.is_present() && self.meta.is_current_format() && self.meta.stamped_by(node)
    }

    fn is_present(&self) -> bool {
        self.counter && self.meta.status.is_some()
    }

    /// How the state stands against the record of `campaign`, whose highest recorded sequence
    /// number is `recorded` and whose last verification had the version `verified`, on the
    /// node `node`.
    pub fn against(
        &self,
        campaign: &Campaign,
        recorded: i64,
        verified: i64,
        node: &NodeIdentity,
    ) -> Standing {
        let Some(seq) = self.meta.seq.filter(|_| self.is_present()) else {
            return Standing::Missing;
        };
        if seq < recorded {
            Standing::Behind { seq, recorded }
        } else if !self.meta.verified_as(verified) {
            Standing::Superseded
        } else if !self.meta.stamped_by(node) {
            Standing::OtherRedis
        } else if !self.meta.is_current_format() {
            Standing::OldFormat
        } else if !self.meta.agrees_with(campaign) {
            Standing::OutOfStep
        } else {
            Standing::Agrees
        }
    }
}

/// What a verification found, from the worst case to the best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No state (never loaded here, or Redis lost it).
    Missing,
    /// An older copy of the state: the record holds numbers it has not handed out yet, so it
    /// may lack members the record has. Restored from an older append-only file, or a replica
    /// that was behind.
    Behind { seq: i64, recorded: i64 },
    /// Not behind by its numbers, but the record's last verification wrote another state (or
    /// set out to and failed): this one is a primary deposed since and reached again, an older
    /// copy, or a state whose repair did not land. Coupons recorded since came from that other
    /// state and may be numbered below this one's last number, so its numbers prove nothing:
    /// the recorded holders are merged in, as for `Behind`.
    Superseded,
    /// Present and not behind the record, but last verified in another Redis (a restart, a
    /// failover or a failback since, or stamped before replication ids were): claims it handed
    /// out after its last write may have been lost.
    OtherRedis,
    /// Written by a release that kept the issued users in a set: converted to this release's
    /// format (each user's sequence number), the rest as it is (`formats.rs`).
    OldFormat,
    /// Verified here, but its status, window or quantity is not the record's (a control whose
    /// PostgreSQL commit failed after Redis applied it, or the other way round).
    OutOfStep,
    /// Nothing to do.
    Agrees,
}

impl Standing {
    /// The name used in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Behind { .. } => "behind",
            Self::Superseded => "superseded",
            Self::OtherRedis => "other_redis",
            Self::OldFormat => "old_format",
            Self::OutOfStep => "out_of_step",
            Self::Agrees => "agrees",
        }
    }
}
