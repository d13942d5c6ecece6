//! Each instance's memory of which campaigns open with a draw that is not completed yet.
//!
//! A first-come campaign, or a draw that is completed, never goes back: once known, its claims
//! go straight to Redis after one lookup in this map (no PostgreSQL, no extra await). The first
//! claim or lookup of a campaign on an instance reads its opening once (concurrent first claims
//! share that read). A pending draw's completion is read again at most every [`PHASE_FRESH`].
//!
//! A campaign PostgreSQL does not know is not remembered: an id probed before its campaign is
//! created must not be taken for a first-come campaign later.

use super::secret::DrawSecret;
use crate::campaign::{CampaignId, OpeningKind};
use crate::error::EngineError;
use crate::store::draws::{self, GateRow};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How long "the draw is not completed" read from PostgreSQL is believed.
pub(crate) const PHASE_FRESH: Duration = Duration::from_millis(100);

/// Campaigns remembered at most (a few dozen bytes each; unknown ids are never remembered);
/// past it only pending draws are kept and the rest is read again on their next claim.
const MOST_REMEMBERED: usize = 1_000_000;

/// What this instance knows of a campaign's opening.
#[derive(Clone)]
pub(crate) enum Gate {
    /// First come (or no such campaign): the ordinary claim path, nothing more.
    Open,
    /// A completed draw: the ordinary claim path, and a refused member who entered and was not
    /// drawn hears so.
    Drawn,
    /// A fair draw not known to be completed.
    Draw(Arc<PendingDraw>),
}

/// A fair draw this instance has not seen completed.
pub(crate) struct PendingDraw {
    /// The draw's secret: entries' digests are made with it.
    pub secret: DrawSecret,
    /// When entries open.
    pub entries_open_at: DateTime<Utc>,
    /// When the window starts: the draw.
    pub claim_starts_at: DateTime<Utc>,
    /// When PostgreSQL last said the draw was not completed; held while it is asked again, so
    /// one caller asks and the others wait for its answer.
    checked: tokio::sync::Mutex<Instant>,
}

/// The first read of a campaign, shared by the callers that arrive while it is on its way.
type FirstRead = Arc<tokio::sync::OnceCell<Option<Gate>>>;

/// The instance's gates, one per campaign seen.
#[derive(Default)]
pub(crate) struct DrawGates {
    known: RwLock<HashMap<CampaignId, Gate>>,
    reading: Mutex<HashMap<CampaignId, FirstRead>>,
}

impl DrawGates {
    /// Whether `campaign` is known to be first come, first served (the hot path's check).
    pub fn is_open(&self, campaign: CampaignId) -> bool {
        matches!(read(&self.known).get(&campaign), Some(Gate::Open))
    }

    /// Whether this instance knows `campaign`'s entries to be open now: a pending draw whose
    /// entry window holds this clock's time (for counting refused entries, src/draw/refusals.rs;
    /// never a reason to take or refuse one, which PostgreSQL's clock decides).
    pub fn entries_open(&self, campaign: CampaignId) -> bool {
        match read(&self.known).get(&campaign) {
            Some(Gate::Draw(draw)) => {
                let now = Utc::now();
                draw.entries_open_at <= now && now < draw.claim_starts_at
            }
            _ => false,
        }
    }

    /// Whether `campaign`'s draw is known to be completed.
    fn is_drawn(&self, campaign: CampaignId) -> bool {
        matches!(read(&self.known).get(&campaign), Some(Gate::Drawn))
    }

    /// The campaign's gate, read from PostgreSQL the first time.
    pub async fn gate(&self, db: &PgPool, campaign: CampaignId) -> Result<Gate, EngineError> {
        if let Some(known) = read(&self.known).get(&campaign) {
            return Ok(known.clone());
        }
        let cell: FirstRead = lock(&self.reading).entry(campaign).or_default().clone();
        let read = cell
            .get_or_try_init(|| async {
                let row = draws::gate_of(db, campaign).await?;
                Ok::<_, EngineError>(row.map(gate_of_row))
            })
            .await;
        let gate = match read {
            Ok(Some(gate)) => {
                self.remember(campaign, gate.clone());
                gate.clone()
            }
            // Unknown campaigns take the ordinary path, which answers `unknown_campaign`.
            Ok(None) => Gate::Open,
            Err(error) => {
                lock(&self.reading).remove(&campaign);
                return Err(error);
            }
        };
        lock(&self.reading).remove(&campaign);
        Ok(gate)
    }

    /// Remembers that `campaign`'s draw is completed (by this instance's runner).
    pub fn drawn(&self, campaign: CampaignId) {
        self.remember(campaign, Gate::Drawn);
    }

    /// Remembers the gates of the campaigns in `rows` not known yet (read in bulk at start-up
    /// and every second by the draw loop): their first claim then needs no read, and a
    /// campaign that is known can be claimed while PostgreSQL is down.
    pub fn learn(&self, rows: Vec<GateRow>) {
        for row in rows {
            let campaign = CampaignId(row.id);
            let known = read(&self.known);
            // A full memory is left to the campaigns' own first claims.
            if known.len() >= MOST_REMEMBERED {
                return;
            }
            if known.contains_key(&campaign) {
                continue;
            }
            drop(known);
            self.remember(campaign, gate_of_row(row));
        }
    }

    /// Whether `draw` (of `campaign`) is completed: asked of PostgreSQL at most every
    /// [`PHASE_FRESH`]; once it is, that is remembered for good.
    pub async fn completed(
        &self,
        db: &PgPool,
        campaign: CampaignId,
        draw: &PendingDraw,
    ) -> Result<bool, EngineError> {
        let mut checked = draw.checked.lock().await;
        if self.is_drawn(campaign) {
            return Ok(true);
        }
        if checked.elapsed() < PHASE_FRESH {
            return Ok(false);
        }
        let completed = draws::is_completed(db, campaign).await?;
        *checked = Instant::now();
        if completed {
            self.remember(campaign, Gate::Drawn);
        }
        Ok(completed)
    }

    fn remember(&self, campaign: CampaignId, gate: Gate) {
        let mut known = write(&self.known);
        if known.len() >= MOST_REMEMBERED && !known.contains_key(&campaign) {
            known.retain(|_, gate| matches!(gate, Gate::Draw(_)));
        }
        // A completed draw stays completed: an older read must not undo it.
        if !matches!(known.get(&campaign), Some(Gate::Open | Gate::Drawn)) {
            known.insert(campaign, gate);
        }
    }
}

/// The gate a campaign's row calls for.
fn gate_of_row(row: GateRow) -> Gate {
    let fair_draw = OpeningKind::parse(&row.opening) == Ok(OpeningKind::FairDraw);
    let secret = row.secret.as_deref().and_then(DrawSecret::from_bytes);
    match (fair_draw, secret, row.entries_open_at) {
        (true, Some(secret), Some(entries_open_at)) if !row.completed => {
            Gate::Draw(Arc::new(PendingDraw {
                secret,
                entries_open_at,
                claim_starts_at: row.claim_starts_at,
                checked: tokio::sync::Mutex::new(Instant::now()),
            }))
        }
        (true, None, _) | (true, _, None) if !row.completed => {
            // The migration's constraints make this impossible; never let such a campaign
            // issue first come, first served.
            tracing::error!(
                claim_starts_at = %row.claim_starts_at,
                "a fair-draw campaign without its draw row: claims refused"
            );
            Gate::Draw(Arc::new(PendingDraw {
                secret: DrawSecret::generate(),
                entries_open_at: row.claim_starts_at,
                claim_starts_at: row.claim_starts_at,
                checked: tokio::sync::Mutex::new(Instant::now()),
            }))
        }
        (true, _, _) => Gate::Drawn,
        (false, _, _) => Gate::Open,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are only inserted and removed whole: a poisoned map is consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
