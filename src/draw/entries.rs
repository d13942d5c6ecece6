//! Coalescing entries: every entry that arrives while the previous insert is on its way goes to
//! PostgreSQL in the next one, one multi-row statement (`unnest`) in one transaction, the way
//! claims share script calls (src/claim/batcher.rs). An entry is answered only after its
//! transaction committed, so an acknowledged entry survives anything Redis does: it never was
//! in Redis.
//!
//! A few inserts in flight per instance ([`INSERTS_IN_FLIGHT`]): while they wait for PostgreSQL
//! the next batch gathers, so the rate follows PostgreSQL's latency instead of paying a
//! transaction per entry, and PostgreSQL commits several at once (one in flight left a core
//! idle: docs/benchmark.md, line 7). At most
//! [`MOST_ENTRIES_WAITING`] entries wait on one instance; beyond that an entry is answered "try
//! again" at once ([`EngineError::Busy`]).

use crate::campaign::CampaignId;
use crate::error::EngineError;
use crate::store::draws::{self, EntryWindow, NewEntry};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Inserts running at once on one instance.
const INSERTS_IN_FLIGHT: usize = 3;

/// Connections of the entries' own pool: one per insert in flight.
pub const ENTRY_CONNECTIONS: u32 = INSERTS_IN_FLIGHT as u32;

/// Most entries in one insert.
const MOST_ENTRIES_PER_INSERT: usize = 4096;

/// Most entries waiting for their insert on one instance.
pub const MOST_ENTRIES_WAITING: usize = 4 * MOST_ENTRIES_PER_INSERT;

/// Longest an entry waits for its answer: the pool's acquire timeout (5 s, `Engine::connect`)
/// and a little more. An entry still waiting then may yet be written; the member's next try
/// hears "entered" either way.
const LONGEST_WAIT: Duration = Duration::from_secs(6);

/// Where an entry's campaign stood when its batch was written (and so whether it was written).
type Answer = Result<EntryWindow, EngineError>;

/// The sending end; the inserts run in a task that ends when the last engine clone is dropped.
pub(crate) struct EntryBatcher {
    requests: mpsc::Sender<Request>,
}

struct Request {
    entry: NewEntry,
    answer: oneshot::Sender<Answer>,
}

impl EntryBatcher {
    /// Starts the inserts on the current tokio runtime.
    pub(crate) fn start(db: PgPool) -> Self {
        let (requests, incoming) = mpsc::channel(MOST_ENTRIES_WAITING);
        tokio::spawn(run_inserts(incoming, db));
        Self { requests }
    }

    /// Writes `entry` if its campaign's entries are open; says where they stood.
    pub(crate) async fn enter(&self, entry: NewEntry) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.requests
            .try_send(Request { entry, answer })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => EngineError::Busy,
                mpsc::error::TrySendError::Closed(_) => EngineError::ClaimsStopped,
            })?;
        match tokio::time::timeout(LONGEST_WAIT, answered).await {
            Ok(answer) => answer.map_err(|_| EngineError::ClaimsStopped)?,
            Err(_) => Err(EngineError::EntryUndecided),
        }
    }
}

async fn run_inserts(mut incoming: mpsc::Receiver<Request>, db: PgPool) {
    let slots = Arc::new(Semaphore::new(INSERTS_IN_FLIGHT));
    loop {
        // The slot is taken before the batch: while every insert is on its way, entries gather.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut arrived: Vec<Request> = Vec::with_capacity(MOST_ENTRIES_PER_INSERT);
        if incoming
            .recv_many(&mut arrived, MOST_ENTRIES_PER_INSERT)
            .await
            == 0
        {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            write_batch(arrived, &db).await;
            drop(slot);
        });
    }
}

/// Writes one batch and answers its callers.
async fn write_batch(arrived: Vec<Request>, db: &PgPool) {
    // A caller that stopped waiting is not entered: nobody would hear that it was.
    let (entries, answers): (Vec<NewEntry>, Vec<(CampaignId, oneshot::Sender<Answer>)>) = arrived
        .into_iter()
        .filter(|request| !request.answer.is_closed())
        .map(|request| {
            let campaign = request.entry.campaign;
            (request.entry, (campaign, request.answer))
        })
        .unzip();
    if entries.is_empty() {
        return;
    }
    // In key order, once each: two batches in flight that hold the same members then take their
    // rows in the same order and never wait on each other in a cycle.
    let mut entries = entries;
    entries.sort_by(|a, b| (a.campaign.0, &a.user_id).cmp(&(b.campaign.0, &b.user_id)));
    entries.dedup_by(|a, b| a.campaign == b.campaign && a.user_id == b.user_id);
    match draws::insert_entries(db, &entries).await {
        Ok(windows) => {
            crate::metrics::entries_written(entries.len());
            for (campaign, answer) in answers {
                // No draw row: the gate saw a draw PostgreSQL does not have; never entered.
                let window = windows
                    .get(&campaign)
                    .copied()
                    .unwrap_or(EntryWindow::Closed);
                let _ = answer.send(Ok(window));
            }
        }
        Err(error) => {
            // Nothing of the batch is acknowledged; each caller answers "try again".
            tracing::warn!(%error, entries = entries.len(), "a batch of entries failed");
            for (_, answer) in answers {
                let _ = answer.send(Err(EngineError::EntryUndecided));
            }
        }
    }
}
