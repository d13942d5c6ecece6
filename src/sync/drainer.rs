//! One instance's drain of the campaign queues.

use super::queued_coupon::{QueueOf, QueuedCoupon};
use crate::campaign::CampaignId;
use crate::engine::{Engine, random_token};
use crate::error::EngineError;
use crate::metrics;
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, RowLock, Watched};
use crate::store::coupons;
use chrono::Utc;
use redis::AsyncCommands;
use sqlx::{Postgres, Transaction};

/// Entries read from the head of a campaign's queue, not yet removed from it.
///
/// It owns an open PostgreSQL transaction holding the campaign's row `FOR SHARE` since before
/// the entries were read, so a rebuild of the campaign's Redis state waits for this batch (see
/// [`Engine::load_campaign`]). Dropping a batch without committing it (a crash) rolls it back.
pub struct Batch {
    /// Whose queue.
    pub campaign: CampaignId,
    /// The entries, oldest first.
    pub coupons: Vec<QueuedCoupon>,
    /// Whether the queue held more than one batch when this one was read.
    pub more_pending: bool,
    /// Entries the queue held when this batch was read.
    waiting: usize,
    tx: Transaction<'static, Postgres>,
}

impl Batch {
    /// How long its oldest coupon has waited (`None` if Redis's clock is ahead of ours).
    pub fn lag(&self) -> Option<std::time::Duration> {
        let oldest = self.coupons.first()?;
        (Utc::now() - oldest.claimed_at).to_std().ok()
    }
}

/// A batch PostgreSQL has committed, still to be removed from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedBatch {
    /// Whose queue.
    pub campaign: CampaignId,
    /// Entries the batch held.
    pub entries: usize,
    /// Rows PostgreSQL did not have yet (fewer than `entries` after a crash replay).
    pub inserted: u64,
    /// Whether the queue held more than this batch.
    pub more_pending: bool,
    /// Entries the queue held when the batch was read.
    pub waiting: usize,
}

impl CommittedBatch {
    /// Entries left once this batch is removed (claims since the read come on top).
    pub fn waiting_after(&self) -> usize {
        self.waiting.saturating_sub(self.entries)
    }
}

/// What reading the head of a queue found.
enum Taken {
    NotOwner,
    Empty,
    Batch(Batch),
}

/// What one drain step of one campaign did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Another instance holds the drain lease.
    NotOwner,
    /// The queue was empty.
    Empty,
    /// A batch was committed and acknowledged.
    Moved(CommittedBatch),
}

/// What one round over every watched campaign did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Campaigns looked at.
    pub campaigns: usize,
    /// Entries removed from queues.
    pub entries: usize,
    /// Rows inserted into PostgreSQL.
    pub inserted: u64,
    /// Campaigns whose step failed (the error is recorded in their sync state).
    pub failed: usize,
    /// Whether some queue still had entries beyond the batch just moved.
    pub more_pending: bool,
}

/// Drains campaign queues on behalf of one instance, identified by a random token.
///
/// A campaign is drained by one instance at a time: whoever holds its lease in Redis. The lease
/// expires if its holder dies, and removing entries is fenced by it (acknowledge.lua), so two
/// instances never trim each other's batches.
pub struct Drainer {
    engine: Engine,
    token: String,
    /// The campaigns the last successful listing returned. While PostgreSQL is down the
    /// listing fails, but the drain steps still run for these, so each campaign records the
    /// failure where its status (and the admin page) shows it.
    last_watched: std::sync::Mutex<Vec<Watched>>,
}

impl Drainer {
    /// A drainer with a fresh identity.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            token: random_token(),
            last_watched: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The campaigns to visit this round: a fresh listing, or the last one while PostgreSQL
    /// cannot answer (then also the error, to report once the round is done).
    async fn campaigns_to_visit(&self) -> (Vec<Watched>, Option<EngineError>) {
        match campaigns::watched(self.engine.db()).await {
            Ok(fresh) => {
                *self.lock_watched() = fresh.clone();
                (fresh, None)
            }
            Err(error) => (self.lock_watched().clone(), Some(error.into())),
        }
    }

    fn lock_watched(&self) -> std::sync::MutexGuard<'_, Vec<Watched>> {
        // Only ever replaced whole, so a poisoned lock still holds a consistent list.
        self.last_watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Step 1: takes (or renews) the lease and reads up to one batch from the queue head.
    /// `None` if another instance holds the lease or the queue is empty.
    pub async fn take_batch(&self, campaign: CampaignId) -> Result<Option<Batch>, EngineError> {
        match self.take(campaign).await? {
            Taken::Batch(batch) => Ok(Some(batch)),
            Taken::NotOwner | Taken::Empty => Ok(None),
        }
    }

    async fn take(&self, campaign: CampaignId) -> Result<Taken, EngineError> {
        let keys = CampaignKeys::new(campaign);
        let mut redis = self.engine.redis();
        let lease_ms =
            u64::try_from(self.engine.sync_settings().lease_ttl.as_millis()).unwrap_or(u64::MAX);
        let held: i64 = self
            .engine
            .scripts()
            .acquire_lease
            .key(&keys.drain_lease)
            .arg(&self.token)
            .arg(lease_ms)
            .invoke_async(&mut redis)
            .await?;
        if held != 1 {
            return Ok(Taken::NotOwner);
        }
        // Idle rounds stop here, without opening a transaction.
        let waiting: usize = redis.llen(&keys.queue).await?;
        if waiting == 0 {
            metrics::queue_seen(campaign, 0, None);
            return Ok(Taken::Empty);
        }
        let mut tx = self.engine.db().begin().await?;
        let Some(recorded) = campaigns::find_locked(&mut tx, campaign, RowLock::Share).await?
        else {
            return Err(EngineError::CorruptState {
                campaign,
                detail: "queued coupons for a campaign PostgreSQL does not have".into(),
            });
        };
        let size = self.engine.sync_settings().batch_size.max(1);
        // One entry more than a batch tells whether another round is needed right away.
        let last = isize::try_from(size).unwrap_or(isize::MAX);
        let mut entries: Vec<String> = redis.lrange(&keys.queue, 0, last).await?;
        if entries.is_empty() {
            return Ok(Taken::Empty);
        }
        let more_pending = entries.len() > size;
        entries.truncate(size);
        let queue = QueueOf::of(&recorded, self.engine.codes());
        let coupons = entries
            .iter()
            .map(|entry| {
                queue.parse(entry).ok_or_else(|| EngineError::CorruptState {
                    campaign,
                    detail: format!("queue entry {entry:?}"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Taken::Batch(Batch {
            campaign,
            coupons,
            more_pending,
            waiting,
            tx,
        }))
    }

    /// Step 2: writes the batch to PostgreSQL and commits. While the sync keeps up: in short
    /// statements, in the batch's transaction. Once it is behind: in two halves written at the
    /// same time, the second on a connection and in a transaction of its own. That one commits
    /// first: the batch's transaction holds the campaign's row `FOR SHARE` until it commits, so
    /// a rebuild of the Redis state still waits until both halves are recorded. (Locking the row
    /// in the second transaction as well could deadlock behind a rebuild already waiting.)
    /// Committing the same entries again (after a crash before step 3, or between the two
    /// commits) inserts only what is missing.
    pub async fn commit(&self, mut batch: Batch) -> Result<CommittedBatch, EngineError> {
        let settings = self.engine.sync_settings();
        let lag = batch.lag().unwrap_or_default();
        let rows = settings.statement_rows(batch.coupons.len(), lag);
        let split = settings.catch_up_split(batch.coupons.len(), lag);
        let (first, second) = batch.coupons.split_at(split);
        let inserted = if second.is_empty() {
            let inserted =
                coupons::insert_batch(&mut batch.tx, batch.campaign, first, rows).await?;
            batch.tx.commit().await?;
            inserted
        } else {
            let mut beside = self.engine.db().begin().await?;
            let (in_first, in_second) = tokio::try_join!(
                coupons::insert_batch(&mut batch.tx, batch.campaign, first, rows),
                coupons::insert_batch(&mut beside, batch.campaign, second, rows),
            )?;
            beside.commit().await?;
            batch.tx.commit().await?;
            in_first + in_second
        };
        Ok(CommittedBatch {
            campaign: batch.campaign,
            entries: batch.coupons.len(),
            inserted,
            more_pending: batch.more_pending,
            waiting: batch.waiting,
        })
    }

    /// Step 3: removes the committed entries from the queue, if this drainer still holds the
    /// lease (otherwise the next holder re-reads and re-commits them harmlessly). Returns whether
    /// they were removed.
    pub async fn acknowledge(&self, batch: &CommittedBatch) -> Result<bool, EngineError> {
        let keys = CampaignKeys::new(batch.campaign);
        let removed: i64 = self
            .engine
            .scripts()
            .acknowledge
            .key(&keys.drain_lease)
            .key(&keys.queue)
            .key(&keys.sync_state)
            .arg(&self.token)
            .arg(batch.entries)
            .arg(Utc::now().timestamp_millis())
            .invoke_async(&mut self.engine.redis())
            .await?;
        Ok(removed == 1)
    }

    /// Steps 1–3 for one campaign. A failure is recorded in the campaign's sync state (so the
    /// status and the admin page show it) and returned.
    pub async fn drain_step(&self, campaign: CampaignId) -> Result<StepOutcome, EngineError> {
        let result = self.try_drain_step(campaign).await;
        if let Err(error) = &result {
            metrics::sync_failed();
            tracing::warn!(%campaign, %error, "sync step failed; will retry");
            self.record_error(campaign, error).await;
        }
        result
    }

    async fn try_drain_step(&self, campaign: CampaignId) -> Result<StepOutcome, EngineError> {
        let batch = match self.take(campaign).await? {
            Taken::NotOwner => return Ok(StepOutcome::NotOwner),
            Taken::Empty => return Ok(StepOutcome::Empty),
            Taken::Batch(batch) => batch,
        };
        let lag = batch.lag();
        let committed = self.commit(batch).await?;
        metrics::batch_committed(committed.inserted);
        self.acknowledge(&committed).await?;
        metrics::queue_seen(campaign, committed.waiting_after(), lag);
        Ok(StepOutcome::Moved(committed))
    }

    async fn record_error(&self, campaign: CampaignId, error: &EngineError) {
        let keys = CampaignKeys::new(campaign);
        let now = Utc::now().timestamp_millis();
        let fields = [
            ("last_error", error.to_string()),
            ("last_error_ms", now.to_string()),
        ];
        let written: Result<(), _> = self
            .engine
            .redis()
            .hset_multiple(&keys.sync_state, &fields)
            .await;
        if let Err(redis_error) = written {
            // Redis itself is the problem; the failure above is already logged.
            tracing::debug!(%campaign, %redis_error, "could not record the sync error");
        }
    }

    /// One round: one drain step for every campaign that may have pending coupons. Campaigns whose
    /// window ended (plus a grace period) and whose queue is empty are marked drained and skipped
    /// from then on. Fails only if the list of campaigns cannot be read.
    ///
    /// The round first reads every queue's length in one pipelined call, and only campaigns with
    /// a queued coupon get a step (lease, read, commit). Most watched campaigns are idle at any
    /// moment (not open yet, or already drained up to now), and a step each would cost the busy
    /// ones two round trips per idle campaign on every round.
    pub async fn sync_once(&self) -> Result<SyncReport, EngineError> {
        let (watched, listing_failed) = self.campaigns_to_visit().await;
        if watched.is_empty()
            && let Some(error) = listing_failed
        {
            return Err(error);
        }
        let grace = chrono::Duration::from_std(self.engine.sync_settings().drained_grace)
            .unwrap_or(chrono::Duration::MAX);
        let mut report = SyncReport {
            campaigns: watched.len(),
            ..SyncReport::default()
        };
        let lengths: Vec<Option<usize>> = match self.queue_lengths(&watched).await {
            Some(lengths) => lengths.into_iter().map(Some).collect(),
            None => vec![None; watched.len()],
        };
        for (campaign, length) in watched.into_iter().zip(lengths) {
            let step = match length {
                Some(0) => {
                    metrics::queue_seen(campaign.id, 0, None);
                    Ok(StepOutcome::Empty)
                }
                // Something is queued, or the lengths could not be read: a full step (which
                // records a failure in the campaign's sync state, where its status shows it).
                _ => self.drain_step(campaign.id).await,
            };
            match step {
                Ok(StepOutcome::Moved(batch)) => {
                    report.entries += batch.entries;
                    report.inserted += batch.inserted;
                    report.more_pending |= batch.more_pending;
                }
                Ok(StepOutcome::Empty) => {
                    let over = campaign.claim_ends_at.checked_add_signed(grace);
                    let expired = over.is_some_and(|over| over < Utc::now());
                    if expired
                        && let Err(error) =
                            campaigns::mark_drained(self.engine.db(), campaign.id).await
                    {
                        tracing::warn!(campaign = %campaign.id, %error, "could not mark drained");
                        report.failed += 1;
                    }
                }
                Ok(StepOutcome::NotOwner) => {}
                Err(_) => report.failed += 1,
            }
        }
        match listing_failed {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// The length of each campaign's queue, in the order given, from one pipelined call; `None`
    /// if Redis did not answer.
    async fn queue_lengths(&self, campaigns: &[Watched]) -> Option<Vec<usize>> {
        if campaigns.is_empty() {
            return Some(Vec::new());
        }
        let mut pipe = redis::pipe();
        for campaign in campaigns {
            pipe.llen(CampaignKeys::new(campaign.id).queue);
        }
        let lengths: Result<Vec<usize>, _> = pipe.query_async(&mut self.engine.redis()).await;
        match lengths {
            Ok(lengths) if lengths.len() == campaigns.len() => Some(lengths),
            Ok(_) => None,
            Err(error) => {
                tracing::debug!(%error, "could not read the queue lengths; visiting every campaign");
                None
            }
        }
    }

    /// Gives up every lease this drainer holds, so other instances take over without waiting.
    pub async fn release_leases(&self) -> Result<(), EngineError> {
        let watched = campaigns::watched(self.engine.db()).await?;
        let mut redis = self.engine.redis();
        for campaign in watched {
            let keys = CampaignKeys::new(campaign.id);
            let _: i64 = self
                .engine
                .scripts()
                .release_lease
                .key(&keys.drain_lease)
                .arg(&self.token)
                .invoke_async(&mut redis)
                .await?;
        }
        Ok(())
    }
}
