//! The [`Engine`] handle: connections and settings shared by every engine operation.

use crate::bot_check::BotChecks;
use crate::claim::ClaimAck;
use crate::claim::ClaimBatcher;
use crate::code::CodeKey;
use crate::draw::{DrawGates, DrawTallies, EntryBatcher, FairnessCache, RefusalTally};
use crate::error::EngineError;
use crate::reconcile::LoadTurns;
use crate::redis::Scripts;
use crate::redis::{RedisLink, RedisTarget};
use crate::store::{MIGRATOR, code_key};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a Redis command may go unanswered before it fails (and the claim with it).
pub(crate) const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Tunables of the background sync.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Most queue entries moved to PostgreSQL in one transaction (one round of a campaign).
    /// Each batch pays fixed costs (the campaign list, the lease, reading and trimming the queue,
    /// its transaction), so under a steady rush small batches leave the sync behind (lags
    /// measured: docs/benchmark.md). The statements within stay short either way
    /// (`rows_per_statement`).
    pub batch_size: usize,
    /// Most rows in one `INSERT` of a batch: short statements keep PostgreSQL from holding a
    /// core for long stretches (see [`crate::store::coupons::insert_batch`]).
    pub rows_per_statement: usize,
    /// How far behind the sync must be (the age of a batch's oldest coupon) to write the batch
    /// in one statement instead, in two halves on two connections at once: catching up then
    /// matters more than sharing the cores. Whole-batch statements move a backlog faster; the
    /// halves use a second PostgreSQL backend, where one alone kept a core busy and was the
    /// limit (see [`SyncSettings::catch_up_split`]; figures in docs/benchmark.md).
    pub catch_up_after: Duration,
    /// How long an instance keeps the right to drain a campaign without renewing it; after a
    /// crash, another instance takes over once this has passed.
    pub lease_ttl: Duration,
    /// Pause between rounds when no campaign has pending coupons.
    pub idle_interval: Duration,
    /// Longest pause between rounds after repeated failures (back-off cap).
    pub max_backoff: Duration,
    /// How long after a window's end a campaign with an empty queue is still watched, to cover
    /// clock differences between Redis and PostgreSQL.
    pub drained_grace: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            batch_size: 5000,
            rows_per_statement: 100,
            catch_up_after: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            idle_interval: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            drained_grace: Duration::from_secs(60),
        }
    }
}

impl SyncSettings {
    /// Rows per `INSERT` for a batch of `len` coupons whose oldest has waited `lag`.
    pub fn statement_rows(&self, len: usize, lag: Duration) -> usize {
        if self.is_behind(lag) {
            len.max(1)
        } else {
            self.rows_per_statement.max(1)
        }
    }

    /// Where a batch of `len` coupons whose oldest has waited `lag` splits into the part written
    /// in the batch's own transaction and the part written beside it, on a second connection
    /// and in a second transaction, at the same time. `len` (no second part) while the sync
    /// keeps up, and for batches too small to be worth a second transaction.
    ///
    /// Why: draining a backlog, one PostgreSQL backend was busy the whole time (nearly all of it
    /// index upkeep) while everything else waited on it (docs/benchmark.md).
    pub fn catch_up_split(&self, len: usize, lag: Duration) -> usize {
        let worth_splitting = len >= 2 * self.rows_per_statement.max(1);
        if self.is_behind(lag) && worth_splitting {
            len.div_ceil(2)
        } else {
            len
        }
    }

    /// Whether a batch whose oldest coupon has waited `lag` is written in catch-up mode.
    fn is_behind(&self, lag: Duration) -> bool {
        lag >= self.catch_up_after
    }
}

/// Cheap to clone: one reference count. Redis is one multiplexed connection (concurrent requests
/// are pipelined on it) and PostgreSQL a pool. Claims go through one claim batcher
/// (`src/claim/batcher.rs`) shared by every clone, started with the first claim (on that
/// caller's tokio runtime).
///
/// Why one `Arc` around everything: the web layer clones the engine a few times per request
/// (axum's state, the handler's captured context, extractors) and drops each clone again. With a
/// count per part (connection manager, pool, scripts, batcher) that was four contended atomic
/// updates per clone and per drop, on counters every thread touches, which showed in the
/// server's CPU profile under the JSON API benchmark (docs/benchmark.md).
#[derive(Clone)]
pub struct Engine(Arc<Parts>);

struct Parts {
    redis: RedisLink,
    /// The claim rounds' own connection when their `WAIT` must not hold up everything else
    /// (replicated acknowledgments); otherwise the shared one.
    claims_redis: RedisLink,
    ack: ClaimAck,
    db: PgPool,
    reservations: PgPool,
    /// Fair-draw entries' own connections.
    entries_db: PgPool,
    scripts: Scripts,
    settings: SyncSettings,
    codes: CodeKey,
    claims: OnceLock<ClaimBatcher>,
    load_turns: LoadTurns,
    coupon_terms: crate::redeem::KnownTerms,
    /// Which campaigns open with a draw not completed yet (src/draw/gate.rs).
    draw_gates: DrawGates,
    /// The fair draws' entrant counts the live pages show (src/draw/tally.rs).
    draw_tallies: DrawTallies,
    /// Fair-draw entries, coalesced into inserts; started with the first entry.
    entries: OnceLock<EntryBatcher>,
    /// Attempts to enter refused by the web layer, not written yet (src/draw/refusals.rs).
    refusals: RefusalTally,
    /// The entry-time distributions of completed draws computed here (src/draw/fairness.rs).
    fairness: FairnessCache,
    /// The bot check's key and the campaigns' bits seen here (src/bot_check/).
    bot_checks: BotChecks,
}

/// How the engine reaches Redis, and what "issued" means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// A fixed address or the primary the sentinels name.
    pub target: RedisTarget,
    /// Acknowledged on the primary, or on the primary and replicas.
    pub ack: ClaimAck,
}

impl Engine {
    /// Connects to both stores (Redis at a fixed address, claims acknowledged by the primary),
    /// applies pending migrations and reads the code key (made on the first start).
    pub async fn connect(
        redis_url: &str,
        database_url: &str,
        settings: SyncSettings,
    ) -> Result<Self, EngineError> {
        let redis = RedisSettings {
            target: RedisTarget::Url(redis_url.to_owned()),
            ack: ClaimAck::Primary,
        };
        Self::connect_to(&redis, database_url, settings).await
    }

    /// The same, with Redis reached and acknowledging as `redis` says.
    pub async fn connect_to(
        redis: &RedisSettings,
        database_url: &str,
        settings: SyncSettings,
    ) -> Result<Self, EngineError> {
        let shared = RedisLink::connect(&redis.target).await?;
        let claims_redis = match redis.ack {
            ClaimAck::Primary => shared.clone(),
            ClaimAck::Replicated { .. } => RedisLink::connect(&redis.target).await?,
        };
        let db = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect(database_url)
            .await?;
        MIGRATOR.run(&db).await?;
        // Sequence numbers are reserved on connections of their own, committed while a loader
        // holds the campaign's row on the main pool (see `reconcile::reservations`). On the main
        // pool they could wait forever: a rush of claims on a campaign Redis lost fills every
        // main connection with loaders waiting for that row, behind the one loader that holds it.
        let reservations = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(database_url)?;
        // Fair-draw entries write on connections of their own, without the pool's ping before
        // each use: a batch is one statement, and the ping was a second round trip for it (a
        // connection PostgreSQL dropped fails its batch, answered "try again", and is replaced).
        let entries_db = PgPoolOptions::new()
            .max_connections(crate::draw::ENTRY_CONNECTIONS)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(database_url)?;
        let (codes, bot_check_key) = code_key::load_or_create_keys(&db).await?;
        let engine = Self(Arc::new(Parts {
            redis: shared,
            claims_redis,
            ack: redis.ack,
            db,
            reservations,
            entries_db,
            scripts: Scripts::new(),
            settings,
            codes,
            claims: OnceLock::new(),
            load_turns: LoadTurns::default(),
            coupon_terms: crate::redeem::KnownTerms::default(),
            draw_gates: DrawGates::default(),
            draw_tallies: DrawTallies::default(),
            entries: OnceLock::new(),
            refusals: RefusalTally::default(),
            fairness: FairnessCache::default(),
            bot_checks: BotChecks::new(bot_check_key),
        }));
        // Known openings let first-come claims skip the draw's gate from the first one.
        engine.learn_openings().await?;
        Ok(engine)
    }

    /// The campaign terms checkouts have read (see `redeem::terms`).
    pub(crate) fn coupon_terms(&self) -> &crate::redeem::KnownTerms {
        &self.0.coupon_terms
    }

    /// What "issued" means for this engine.
    pub fn claim_ack(&self) -> ClaimAck {
        self.0.ack
    }

    /// The claim batcher, started on first use.
    pub(crate) fn claims(&self) -> &ClaimBatcher {
        self.0.claims.get_or_init(|| {
            ClaimBatcher::start(
                self.0.claims_redis.clone(),
                self.scripts().clone(),
                self.codes().clone(),
                self.0.ack,
            )
        })
    }

    /// This instance's memory of the campaigns' openings (src/draw/gate.rs).
    pub(crate) fn draw_gates(&self) -> &DrawGates {
        &self.0.draw_gates
    }

    /// The fair draws' latest entrant counts (src/draw/tally.rs).
    pub(crate) fn draw_tallies_memory(&self) -> &DrawTallies {
        &self.0.draw_tallies
    }

    /// Refused entries counted on this instance, not written yet (src/draw/refusals.rs).
    pub(crate) fn refusal_tally(&self) -> &RefusalTally {
        &self.0.refusals
    }

    /// The entry-time distributions this instance computed (src/draw/fairness.rs).
    pub(crate) fn fairness_cache(&self) -> &FairnessCache {
        &self.0.fairness
    }

    /// The bot check's key and the campaigns' bits (src/bot_check/).
    pub(crate) fn bot_checks(&self) -> &BotChecks {
        &self.0.bot_checks
    }

    /// The entry batcher, started on first use.
    pub(crate) fn entries(&self) -> &EntryBatcher {
        self.0
            .entries
            .get_or_init(|| EntryBatcher::start(self.0.entries_db.clone()))
    }

    /// Whose turn it is to load each campaign on this instance.
    pub(crate) fn load_turns(&self) -> &LoadTurns {
        &self.0.load_turns
    }

    /// The key coupon codes are made with.
    pub fn codes(&self) -> &CodeKey {
        &self.0.codes
    }

    /// The Lua scripts.
    pub(crate) fn scripts(&self) -> &Scripts {
        &self.0.scripts
    }

    /// The PostgreSQL pool, for callers that read the record directly.
    pub fn db(&self) -> &PgPool {
        &self.0.db
    }

    /// The pool sequence numbers are reserved on (see [`Engine::connect`]).
    pub(crate) fn reservations(&self) -> &PgPool {
        &self.0.reservations
    }

    /// A handle on the shared Redis connection.
    pub fn redis(&self) -> RedisLink {
        self.0.redis.clone()
    }

    /// The sync settings in force.
    pub fn sync_settings(&self) -> &SyncSettings {
        &self.0.settings
    }
}

/// A random token identifying one loader run or one draining instance.
pub(crate) fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_keeping_up_writes_short_statements_and_one_behind_writes_whole_batches() {
        let settings = SyncSettings::default();
        let just_claimed = Duration::from_millis(150);
        let behind = settings.catch_up_after;
        assert_eq!(settings.statement_rows(1000, just_claimed), 100);
        assert_eq!(settings.statement_rows(5000, behind), 5000);
        assert_eq!(
            settings.statement_rows(0, behind),
            1,
            "never zero rows a statement"
        );
    }

    #[test]
    fn a_sync_behind_writes_a_batch_in_two_halves_and_one_keeping_up_in_one_part() {
        let settings = SyncSettings::default();
        let just_claimed = Duration::from_millis(150);
        let behind = settings.catch_up_after;
        assert_eq!(settings.catch_up_split(1000, just_claimed), 1000);
        assert_eq!(settings.catch_up_split(5001, behind), 2501);
        assert_eq!(
            settings.catch_up_split(150, behind),
            150,
            "too small to be worth a second transaction"
        );
        assert_eq!(settings.catch_up_split(0, behind), 0);
    }
}
