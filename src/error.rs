//! The engine's error type. Expected outcomes of a claim (sold out, already claimed, …) are
//! values of [`crate::ClaimOutcome`], not errors: errors are bad input or broken infrastructure.

use crate::campaign::CampaignId;
use crate::validation::ValidationErrors;

/// Why an engine call could not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input broke one or more field rules; nothing was written. (A 4xx for callers.)
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationErrors),
    /// Redis could not be reached or refused a command. (A 503 for callers: try again.)
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// PostgreSQL could not be reached or refused a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date at start-up.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The campaign exists but its Redis state is still missing right after loading it, which
    /// only happens if Redis is losing data as we write it.
    #[error("campaign {0}: its claim state could not be loaded into Redis")]
    NotLoaded(CampaignId),
    /// The task that sends claims to Redis has stopped (its runtime is shutting down), so this
    /// claim was not decided. (A 503 for callers: try again.)
    #[error("the claim sender has stopped; the claim was not decided")]
    ClaimsStopped,
    /// This instance's claim queue is full (Redis is slow or not answering), so the claim was
    /// refused at once and not decided. (A 503 for callers: try again.)
    #[error("too many claims are waiting for Redis; the claim was not decided")]
    Busy,
    /// Replicated acknowledgments are on and fewer replicas than needed have the claim (or are
    /// connected), so it is not acknowledged. If it was issued in Redis, the member hears
    /// "already claimed" on the next try. (A 503 for callers: try again.)
    #[error("only {connected} of {wanted} Redis replicas confirmed; the claim is not acknowledged")]
    NotReplicated {
        /// Replicas that confirmed (or are connected).
        connected: i64,
        /// Replicas the setting needs.
        wanted: u32,
    },
    /// The task loading a campaign's state stopped before it finished (the runtime is shutting
    /// down). (A 503 for callers: try again.)
    #[error("campaign {0}: loading its claim state was interrupted")]
    LoadInterrupted(CampaignId),
    /// A coupon's row changed under a checkout call on every try (others keep writing it), so
    /// the call was not decided. (A 503 for callers: try again.)
    #[error("the coupon changed under this call on every try; it was not decided")]
    Contended,
    /// Queued coupons were read from a Redis state the record was not last verified on (a
    /// primary deposed since, a state whose repair did not land): nothing was recorded from it.
    /// The sync verifies the campaign and reads again (src/sync/round.rs). (A 503 for callers.)
    #[error("campaign {campaign}: Redis state of verification {read}, the record's is {latest}")]
    NotVerified {
        /// Whose queue.
        campaign: CampaignId,
        /// The version the state read carries (`verified` in its meta hash, 0 for none).
        read: i64,
        /// The version of the record's last verification.
        latest: i64,
    },
    /// The campaign opens with a fair draw, its window has started and the draw is not
    /// completed yet (src/draw/): nothing is decided or shown until every winner's coupon is in
    /// the record. (A 503 with `Retry-After: 1` for callers: try again.)
    #[error("campaign {0}: the draw is in progress; try again in a moment")]
    DrawInProgress(CampaignId),
    /// A fair draw's entry was not confirmed (PostgreSQL failed or did not answer in time), so
    /// it is not acknowledged; it may or may not have been written. (A 503 for callers: try
    /// again; a repeated entry changes nothing.)
    #[error("the entry was not recorded in time; it is not acknowledged")]
    EntryUndecided,
    /// A Redis reply or queue entry did not have the shape our scripts produce.
    #[error("campaign {campaign}: unexpected data in Redis: {detail}")]
    CorruptState {
        /// Whose keys held it.
        campaign: CampaignId,
        /// What was found.
        detail: String,
    },
}

impl EngineError {
    /// Whether Redis could not decide the call just now (unreachable or failing, this instance's
    /// queue to it full, fewer replicas than needed confirmed), or a fair draw is running or
    /// could not record an entry: a second try is safe (a claim
    /// issued meanwhile hears "already claimed") and may succeed, so callers answer "try again"
    /// rather than fail.
    pub fn is_retryable(&self) -> bool {
        self.is_shed()
            || matches!(
                self,
                Self::Redis(_) | Self::DrawInProgress(_) | Self::EntryUndecided
            )
    }

    /// Whether the engine refused the call on purpose to stay within its bounds (its queue to
    /// Redis full, replicas short). Retryable, and counted in the metrics, so no news for the log.
    pub fn is_shed(&self) -> bool {
        matches!(self, Self::Busy | Self::NotReplicated { .. })
    }
}
