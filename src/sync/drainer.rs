//! One instance's drain of the campaign queues.

use super::backoff::Resting;
use super::queued_coupon::{QueueOf, QueuedCoupon};
use super::set_aside;
use crate::campaign::CampaignId;
use crate::engine::{Engine, random_token};
use crate::error::EngineError;
use crate::metrics;
use crate::reconcile::verifications;
use crate::redis::CampaignKeys;
use crate::store::campaigns::{self, RowLock, Watched};
use crate::store::coupons;
use chrono::Utc;
use redis::AsyncCommands;
use sqlx::{Postgres, Transaction};
use std::collections::HashMap;

/// Entries read from the head of a campaign's queue, not yet removed from it.
///
/// It owns an open PostgreSQL transaction holding the campaign's row `FOR SHARE` since before
/// the entries were read, so a rebuild of the campaign's Redis state waits for this batch (see
/// [`Engine::load_campaign`]). Dropping a batch without committing it (a crash) rolls it back.
/// It was read from the state the record's last verification wrote (the `verified` stamp read
/// with the entries is the version `campaign_verifications` holds under that lock), so no
/// verification of another state has happened since: whatever state it records from is the
/// one every later verification judges (src/reconcile/verifications.rs).
pub struct Batch {
    /// Whose queue.
    pub campaign: CampaignId,
    /// The entries, oldest first.
    pub coupons: Vec<QueuedCoupon>,
    /// Whether the queue held more than one batch when this one was read.
    pub more_pending: bool,
    /// Entries the queue held when this batch was read.
    pub(super) waiting: usize,
    /// The entries read, verbatim, in the order of `coupons`: an entry PostgreSQL refuses is
    /// set aside as it was queued.
    pub(super) entries: Vec<String>,
    /// The first and last entries read, verbatim: removing the batch checks that they still
    /// head the queue.
    pub(super) head: QueueHead,
    /// Coupons given a new number because the record held theirs for another member.
    pub(super) renumbered: usize,
    pub(super) tx: Transaction<'static, Postgres>,
}

/// The first and last entries of a batch as they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueueHead {
    first: String,
    last: String,
}

impl Batch {
    /// How long its oldest coupon has waited (`None` if Redis's clock is ahead of ours).
    pub fn lag(&self) -> Option<std::time::Duration> {
        let oldest = self.coupons.first()?;
        (Utc::now() - oldest.claimed_at).to_std().ok()
    }
}

/// A batch PostgreSQL has committed, still to be removed from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Coupons given a new number because the record held theirs for another member: proof
    /// that Redis answered from a state behind the record.
    pub renumbered: usize,
    /// The highest sequence number the batch recorded.
    pub highest_sequence: i64,
    /// Entries PostgreSQL refused, recorded in `set_aside_coupons` instead (removed from the
    /// queue with the rest).
    pub set_aside: usize,
    pub(super) head: QueueHead,
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Entries set aside because PostgreSQL refused their row (see `set_aside.rs`).
    pub set_aside: usize,
    /// Campaigns not visited because they are backing off after a failure
    /// ([`Drainer::sync_due`] only).
    pub resting: usize,
    /// Whether some queue still had entries beyond the batch just moved.
    pub more_pending: bool,
}

/// Drains campaign queues on behalf of one instance, identified by a random token.
///
/// A campaign is drained by one instance at a time: whoever holds its lease in Redis. The lease
/// expires if its holder dies, and removing entries is fenced by it (acknowledge.lua), so two
/// instances never trim each other's batches.
pub struct Drainer {
    pub(super) engine: Engine,
    pub(super) token: String,
    /// The campaigns the last successful listing returned. While PostgreSQL is down the
    /// listing fails, but the drain steps still run for these, so each campaign records the
    /// failure where its status (and the admin page) shows it.
    last_watched: std::sync::Mutex<Vec<Watched>>,
    /// The highest sequence number known recorded for each campaign this drainer committed
    /// batches of (read from PostgreSQL once, then kept up by its own commits; forgotten when a
    /// commit fails). A lower bound of the record's: exact while this instance holds the lease.
    recorded_through: std::sync::Mutex<HashMap<CampaignId, i64>>,
    /// The campaigns whose last visit failed, and until when the background loop leaves each
    /// alone: a failing campaign backs off on its own, the others keep syncing.
    pub(super) resting: Resting,
}

impl Drainer {
    /// A drainer with a fresh identity.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            token: random_token(),
            last_watched: std::sync::Mutex::new(Vec::new()),
            recorded_through: std::sync::Mutex::new(HashMap::new()),
            resting: Resting::default(),
        }
    }

    /// The highest sequence number this drainer knows recorded for `campaign`.
    pub(super) fn known_recorded(&self, campaign: CampaignId) -> Option<i64> {
        self.lock_recorded().get(&campaign).copied()
    }

    fn note_recorded(&self, campaign: CampaignId, sequence: i64) {
        let mut known = self.lock_recorded();
        let entry = known.entry(campaign).or_insert(sequence);
        *entry = (*entry).max(sequence);
    }

    fn forget_recorded(&self, campaign: CampaignId) {
        self.lock_recorded().remove(&campaign);
    }

    fn lock_recorded(&self) -> std::sync::MutexGuard<'_, HashMap<CampaignId, i64>> {
        // Entries are only inserted, raised and removed whole: a poisoned map is consistent.
        self.recorded_through
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The campaigns to visit this round: a fresh listing, or the last one while PostgreSQL
    /// cannot answer (then also the error, to report once the round is done).
    pub(super) async fn campaigns_to_visit(&self) -> (Vec<Watched>, Option<EngineError>) {
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
        let scripts = self.engine.scripts();
        let held: i64 = scripts
            .call(&scripts.acquire_lease)
            .key(&keys.drain_lease)
            .arg(&self.token)
            .arg(lease_ms)
            .invoke(&mut redis)
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
        // No verification runs while the row is held, so this is the version of the last one
        // until the batch commits.
        let latest = verifications::latest(&mut tx, campaign).await?;
        let size = self.engine.sync_settings().batch_size.max(1);
        // One entry more than a batch tells whether another round is needed right away.
        let last = isize::try_from(size).unwrap_or(isize::MAX);
        // The state's stamp with the entries, in one pipeline on one connection: what carries
        // the stamp is what the entries were read from.
        let (read, mut entries): (Option<i64>, Vec<String>) = redis::pipe()
            .hget(&keys.meta, "verified")
            .lrange(&keys.queue, 0, last)
            .query_async(&mut redis)
            .await?;
        if entries.is_empty() {
            return Ok(Taken::Empty);
        }
        // A state the record was not last verified on: a primary deposed since, still reached
        // by this instance (its link has not followed the failover yet), or one whose repair
        // did not land. Recorded now, its coupons could be missing from the state verified
        // after it, which would issue to their members again.
        let read = read.unwrap_or(0);
        if read != latest {
            return Err(EngineError::NotVerified {
                campaign,
                read,
                latest,
            });
        }
        let more_pending = entries.len() > size;
        entries.truncate(size);
        let queue = QueueOf::of(&recorded, self.engine.codes());
        let mut coupons = entries
            .iter()
            .map(|entry| {
                queue.parse(entry).ok_or_else(|| EngineError::CorruptState {
                    campaign,
                    detail: format!("queue entry {entry:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let highest = match self.known_recorded(campaign) {
            Some(highest) => highest,
            None => {
                let highest = coupons::highest_sequence(&mut tx, campaign).await?;
                self.note_recorded(campaign, highest);
                highest
            }
        };
        let renumbered = self
            .engine
            .renumber_clashes(&mut tx, campaign, highest, &mut coupons)
            .await?;
        let head = QueueHead {
            first: entries.first().cloned().unwrap_or_default(),
            last: entries.last().cloned().unwrap_or_default(),
        };
        Ok(Taken::Batch(Batch {
            campaign,
            coupons,
            more_pending,
            waiting,
            entries,
            head,
            renumbered,
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
        let highest_sequence = batch.coupons.iter().map(|c| c.sequence).max().unwrap_or(0);
        Ok(CommittedBatch {
            highest_sequence,
            campaign: batch.campaign,
            entries: batch.coupons.len(),
            inserted,
            more_pending: batch.more_pending,
            waiting: batch.waiting,
            renumbered: batch.renumbered,
            set_aside: 0,
            head: batch.head,
        })
    }

    /// Step 3: removes the committed entries from the queue, if this drainer still holds the
    /// lease and they still head the queue (otherwise the next round re-reads and re-commits
    /// them harmlessly). Returns whether they were removed.
    pub async fn acknowledge(&self, batch: &CommittedBatch) -> Result<bool, EngineError> {
        let keys = CampaignKeys::new(batch.campaign);
        let scripts = self.engine.scripts();
        let removed: i64 = scripts
            .call(&scripts.acknowledge)
            .key(&keys.drain_lease)
            .key(&keys.queue)
            .key(&keys.sync_state)
            .arg(&self.token)
            .arg(batch.entries)
            .arg(Utc::now().timestamp_millis())
            .arg(&batch.head.first)
            .arg(&batch.head.last)
            .invoke(&mut self.engine.redis())
            .await?;
        if removed == 2 {
            tracing::warn!(
                campaign = %batch.campaign,
                "the queue's head changed under a committed batch (Redis came back older?); \
                 nothing removed, the next round reads it again"
            );
        }
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
        let committed = match self.commit(batch).await {
            Ok(committed) => committed,
            // Read again (the failed batch's transaction is gone) and recorded row by row
            // where needed, the rows PostgreSQL refuses set aside.
            Err(error) if set_aside::refuses_a_row(&error) => {
                self.forget_recorded(campaign);
                tracing::warn!(%campaign, %error, "PostgreSQL refused a row of the batch");
                let batch = match self.take(campaign).await? {
                    Taken::NotOwner => return Ok(StepOutcome::NotOwner),
                    Taken::Empty => return Ok(StepOutcome::Empty),
                    Taken::Batch(batch) => batch,
                };
                self.commit_setting_aside(batch)
                    .await
                    .inspect_err(|_| self.forget_recorded(campaign))?
            }
            Err(error) => {
                self.forget_recorded(campaign);
                return Err(error);
            }
        };
        self.note_recorded(campaign, committed.highest_sequence);
        metrics::batch_committed(committed.inserted);
        self.acknowledge(&committed).await?;
        metrics::queue_seen(campaign, committed.waiting_after(), lag);
        if committed.renumbered > 0 {
            // Redis handed out numbers the record holds: its state is behind; repair it now.
            self.engine.verify_campaign(campaign).await?;
        }
        Ok(StepOutcome::Moved(committed))
    }

    pub(super) async fn record_error(&self, campaign: CampaignId, error: &EngineError) {
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
}
