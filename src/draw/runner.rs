//! The draw itself: choose the winners once, issue them coupons in rank order through the claim
//! script, wait until the record holds every one, then mark the draw completed.
//!
//! Each step can run again from the start, on any instance, any number of times at once:
//! - choosing happens under the draw row's `FOR UPDATE` lock, only while `drawn_at` is unset;
//! - issuing sends the winners not yet in the record, in rank order, in calls of at most a
//!   script call's claims, each call only once the one before is answered. A winner issued
//!   already hears `already_claimed` (another instance drawing at the same time, or a resumed
//!   draw); the claim script still enforces the quantity and one coupon per member;
//! - completing waits for the sync (driving a drain step itself while it waits) and only then
//!   sets `completed_at`, before which nobody is told a code (src/draw/mod.rs). A Redis that
//!   loses what the draw issued before it is recorded makes the next step issue it again: nobody
//!   saw the lost code.
//!
//! PostgreSQL down at the window's start: the draw waits and tries again every
//! [`RETRY_AFTER`]; claims meanwhile answer "try again".

use super::gate::PHASE_FRESH;
use crate::campaign::CampaignId;
use crate::claim::ClaimOutcome;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::draws::{self, Chosen};
use crate::sync::{Drainer, StepOutcome};
use crate::user::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Winners sent to Redis at a time: one script call's worth (src/claim/batcher.rs), so the calls
/// of one draw never share a round out of order.
const ISSUE_CHUNK: usize = 64;

/// Winners read from PostgreSQL at a time.
const WINNERS_PAGE: i64 = 1024;

/// How long one step waits for the sync to record the winners before it gives the campaign
/// back to the loop (which tries again after [`RETRY_AFTER`]).
const RECORD_WAIT: Duration = Duration::from_secs(30);

/// How often the loop looks for draws that are due.
const TICK: Duration = PHASE_FRESH;

/// Every how many ticks the loop reads the openings of the watched campaigns (about once a
/// second), so this instance knows them before their first claim (src/draw/gate.rs), and
/// writes the refused entries it counted (src/draw/refusals.rs).
const LEARN_EVERY: u32 = 10;

/// Pause before a draw that could not finish is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What one step of a campaign's draw achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrawProgress {
    /// The campaign has no draw.
    NoDraw,
    /// Its window has not started yet.
    NotDue,
    /// The draw is completed: `issued` of the `winners` hold a coupon (fewer only when the
    /// campaign was ended, or its quantity lowered, before they were issued).
    Completed {
        /// Winners chosen.
        winners: i64,
        /// Winners issued a coupon, ranks 1 to `issued`.
        issued: i64,
    },
    /// Not completed yet, and why; the next step goes on.
    Waiting(&'static str),
}

/// Runs draws: one per instance (the loop), or as many as a test makes.
pub struct DrawRunner {
    engine: Engine,
    /// Drives the sync of a draw's campaign while the draw waits for its record; kept for the
    /// runner's life so its drain lease is the same from one step to the next.
    drainer: Drainer,
}

/// How issuing the winners ended.
enum Issued {
    /// Ranks 1 to this hold a coupon, or are on their way to the record.
    Through(i64),
    /// Not all could be issued now, and why.
    Wait(&'static str),
}

impl DrawRunner {
    /// A runner on `engine`.
    pub fn new(engine: Engine) -> Self {
        let drainer = Drainer::new(engine.clone());
        Self { engine, drainer }
    }

    /// One attempt at the campaign's draw, from wherever an earlier one (here or on another
    /// instance) stopped.
    pub async fn step(&self, campaign: CampaignId) -> Result<DrawProgress, EngineError> {
        let db = self.engine.db();
        let Some(row) = draws::find(db, campaign).await? else {
            return Ok(DrawProgress::NoDraw);
        };
        if row.completed_at.is_some() {
            self.engine.draw_gates().drawn(campaign);
            return Ok(DrawProgress::Completed {
                winners: row.winners.unwrap_or(0),
                issued: draws::recorded_through(db, campaign).await?,
            });
        }
        match draws::choose_winners(db, campaign).await? {
            Chosen::NoDraw => return Ok(DrawProgress::NoDraw),
            Chosen::NotDue => return Ok(DrawProgress::NotDue),
            Chosen::Chosen => {}
        }
        let issued = match self.issue(campaign).await? {
            Issued::Through(rank) => rank,
            Issued::Wait(why) => return Ok(DrawProgress::Waiting(why)),
        };
        if !self.wait_for_record(campaign, issued).await? {
            return Ok(DrawProgress::Waiting(
                "the sync has not recorded every winner yet",
            ));
        }
        draws::complete(db, campaign).await?;
        // This instance's claims take the ordinary path at once; others' within PHASE_FRESH.
        self.engine.draw_gates().drawn(campaign);
        crate::metrics::draw_completed();
        // The campaign's queue is the sync loop's again at once, not when the lease expires.
        if let Err(error) = self.drainer.release_leases().await {
            tracing::debug!(%campaign, %error, "draw's drain lease not released; it expires");
        }
        let winners = draws::find(db, campaign)
            .await?
            .and_then(|row| row.winners)
            .unwrap_or(0);
        tracing::info!(%campaign, winners, issued, "fair draw completed");
        Ok(DrawProgress::Completed { winners, issued })
    }

    /// Issues the winners not in the record yet, in rank order.
    async fn issue(&self, campaign: CampaignId) -> Result<Issued, EngineError> {
        let db = self.engine.db();
        let mut through = draws::recorded_through(db, campaign).await?;
        loop {
            let page = draws::winners_after(db, campaign, through, WINNERS_PAGE).await?;
            if page.is_empty() {
                return Ok(Issued::Through(through));
            }
            for chunk in page.chunks(ISSUE_CHUNK) {
                let users = chunk
                    .iter()
                    .map(|(_, user)| {
                        UserId::parse(user).map_err(|error| EngineError::CorruptState {
                            campaign,
                            detail: format!("entrant {user:?}: {error}"),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (issued, end) = self.issue_in_order(campaign, &users).await?;
                if let Some((rank, _)) = issued.checked_sub(1).and_then(|last| chunk.get(last)) {
                    through = *rank;
                }
                match end {
                    ChunkEnd::All => {}
                    // Sold out (the quantity was lowered) or ended: no later winner can get one.
                    ChunkEnd::Stopped => return Ok(Issued::Through(through)),
                    ChunkEnd::Wait(why) => return Ok(Issued::Wait(why)),
                }
            }
        }
    }

    /// Claims for `users` in this order; how many of them, from the first, hold a coupon now
    /// (issued or already claimed), and why the rest do not.
    async fn issue_in_order(
        &self,
        campaign: CampaignId,
        users: &[UserId],
    ) -> Result<(usize, ChunkEnd), EngineError> {
        let mut done = 0;
        while done < users.len() {
            let answers = self
                .engine
                .claims()
                .claim_together(campaign, &users[done..])
                .await;
            for answer in answers {
                match answer? {
                    Some(ClaimOutcome::Issued { .. } | ClaimOutcome::AlreadyClaimed) => {
                        done += 1;
                    }
                    Some(ClaimOutcome::SoldOut | ClaimOutcome::Ended) => {
                        if draws::is_closed_in_record(self.engine.db(), campaign).await? {
                            return Ok((done, ChunkEnd::Stopped));
                        }
                        let why = "Redis says sold out or ended and the record does not (yet)";
                        return Ok((done, ChunkEnd::Wait(why)));
                    }
                    Some(ClaimOutcome::Paused) => {
                        return Ok((done, ChunkEnd::Wait("the campaign is paused")));
                    }
                    // Redis's clock is behind PostgreSQL's, which said the window started.
                    Some(ClaimOutcome::NotOpen { .. }) => {
                        let why = "Redis says the window is not open";
                        return Ok((done, ChunkEnd::Wait(why)));
                    }
                    Some(other) => {
                        return Err(EngineError::CorruptState {
                            campaign,
                            detail: format!("the claim script answered {}", other.name()),
                        });
                    }
                    // Not ready in Redis (flushed, restarted, another primary): verified and
                    // loaded from the record. Earlier winners issued but not recorded yet may
                    // be gone with it, so issuing starts again from the record's last winner
                    // (the next step), never past them.
                    None => {
                        if !self.engine.load_campaign(campaign).await? {
                            return Err(EngineError::NotLoaded(campaign));
                        }
                        let why = "Redis lost the campaign; issuing resumes from the record";
                        return Ok((done, ChunkEnd::Wait(why)));
                    }
                }
            }
        }
        Ok((done, ChunkEnd::All))
    }

    /// Waits (driving the sync) until the record holds the coupons of ranks 1 to `through`;
    /// `false` if it does not within [`RECORD_WAIT`].
    async fn wait_for_record(
        &self,
        campaign: CampaignId,
        through: i64,
    ) -> Result<bool, EngineError> {
        let db = self.engine.db();
        let deadline = Instant::now() + RECORD_WAIT;
        loop {
            if draws::recorded_winners(db, campaign, through).await? >= through {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            match self.drainer.drain_step(campaign).await {
                Ok(StepOutcome::Moved(_)) => {}
                // Another drainer (this instance's sync loop, another instance) has it, or the
                // batch is on its way: look again shortly.
                Ok(StepOutcome::NotOwner | StepOutcome::Empty) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // The sync round would verify the campaign's state; so does the draw.
                Err(EngineError::NotVerified { .. }) => {
                    self.engine.verify_campaign(campaign).await?;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Why a chunk of winners stopped being issued.
enum ChunkEnd {
    /// Every one holds a coupon.
    All,
    /// Sold out or ended: nobody after can get one.
    Stopped,
    /// Not now, and why.
    Wait(&'static str),
}

/// Runs every due draw until `shutdown` is cancelled: looks for them every [`TICK`], each in a
/// task of its own (one per campaign on this instance); a draw that could not finish is tried
/// again after [`RETRY_AFTER`]. Started beside the sync loop; a draw left halfway by a shutdown
/// or a crash is resumed by the next start, or by another instance.
pub async fn run_draw_loop(engine: Engine, shutdown: CancellationToken) {
    let runner = Arc::new(DrawRunner::new(engine));
    let busy: Arc<Busy> = Arc::default();
    let mut ticks: u32 = 0;
    loop {
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(LEARN_EVERY) {
            if let Err(error) = runner.engine.learn_openings().await {
                tracing::debug!(%error, "could not read the campaigns' openings");
            }
            // The refused entries counted here since the last write (src/draw/refusals.rs).
            if let Err(error) = runner.engine.write_refused_entries().await {
                tracing::debug!(%error, "could not write the refused entries; kept for later");
            }
        }
        match draws::due(runner.engine.db()).await {
            Ok(due) => {
                for campaign in due {
                    if !claim_turn(&busy, campaign) {
                        continue;
                    }
                    let (runner, busy) = (runner.clone(), busy.clone());
                    tokio::spawn(async move {
                        let turn = Turn { busy, campaign };
                        let rest = match runner.step(campaign).await {
                            Ok(DrawProgress::Waiting(why)) => {
                                tracing::info!(%campaign, why, "fair draw not completed yet");
                                true
                            }
                            Ok(_) => false,
                            Err(error) => {
                                tracing::warn!(%campaign, %error, "fair draw step failed");
                                true
                            }
                        };
                        turn.end(rest);
                    });
                }
            }
            // PostgreSQL down: draws wait for it (claims meanwhile answer "try again").
            Err(error) => tracing::warn!(%error, "could not list the draws due"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(TICK) => {}
        }
    }
    if let Err(error) = runner.engine.write_refused_entries().await {
        tracing::warn!(%error, "refused entries counted here not written");
    }
    tracing::info!("draw loop stopped");
}

/// Takes the campaign's turn on this instance: `false` while a step of it runs or it rests.
fn claim_turn(busy: &Busy, campaign: CampaignId) -> bool {
    let mut busy = busy.lock().unwrap_or_else(PoisonError::into_inner);
    match busy.get(&campaign) {
        Some(None) => false,
        Some(Some(until)) if Instant::now() < *until => false,
        _ => {
            busy.insert(campaign, None);
            true
        }
    }
}

/// Campaigns whose step runs on this instance (`None`), or resting until the given time.
type Busy = Mutex<HashMap<CampaignId, Option<Instant>>>;

/// A campaign's turn; given back when the step ends, even by a panic.
struct Turn {
    busy: Arc<Busy>,
    campaign: CampaignId,
}

impl Turn {
    /// Ends the turn; the campaign rests for [`RETRY_AFTER`] if `rest`.
    fn end(self, rest: bool) {
        if rest {
            self.busy
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(self.campaign, Some(Instant::now() + RETRY_AFTER));
        }
        // Dropping removes the entry unless it now rests.
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(None) = busy.get(&self.campaign) {
            busy.remove(&self.campaign);
        }
    }
}
