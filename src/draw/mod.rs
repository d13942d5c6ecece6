//! Fair draws (issue 29): a campaign may open with a draw instead of first come, first served.
//!
//! - Between `entries_open_at` and `claim_starts_at` a claim is an **entry**: written to
//!   PostgreSQL (`draw_entries`) with the member's digest, HMAC-SHA256 under the draw's secret of
//!   their id, and acknowledged only once committed ([`entries`](self::entries): coalesced into
//!   multi-row inserts). Entries never touch Redis, so no Redis fault can lose one.
//! - At `claim_starts_at` the **draw** ([`runner`](self::runner)): under the draw row's lock the
//!   first `quantity` entrants by digest become the winners (ranked), then they are issued
//!   coupons in rank order through the same claim script as every claim, and once the sync has
//!   recorded every one of them the draw is **completed**. Every step can run again after a
//!   crash, on any instance, with the same result.
//! - Until it is completed, claims after `claim_starts_at` answer "try again"
//!   ([`EngineError::DrawInProgress`]) and lookups show only what the record holds, so nobody
//!   hears a code that is not in the record yet. After it, claims take the ordinary path; a
//!   member who entered, was not drawn and is refused hears `not_drawn`. Whatever a raised
//!   quantity adds, or what is left when fewer members entered than there are coupons, is first
//!   come, first served, not-drawn members included.
//! - **Commit-reveal** ([`secret`](self::secret)): the secret is drawn when the campaign is
//!   created and its SHA-256 published at once; the secret, the entrant count, the cutoff and
//!   every digest in order are published once the draw is completed, so anyone can check it.
//! - Each instance remembers which campaigns are first come, pending or drawn
//!   ([`gate`](self::gate)): a first-come claim costs one map lookup more than before.
//! - Live pages show how many entered so far ([`tally`](self::tally)): one count per campaign
//!   at most every second on an instance, shared by every page.
//! - Once it is completed, the **fairness report** ([`fairness`](self::fairness)): the counts,
//!   the commitment and the secret, the winners' entry times against everyone's (the
//!   Kolmogorov–Smirnov distance and a histogram), and the attempts to enter refused before they
//!   reached the draw ([`refusals`](self::refusals)).

mod entries;
mod fairness;
mod gate;
mod refusals;
mod runner;
mod secret;
mod tally;

pub(crate) use entries::EntryBatcher;
pub use entries::{ENTRY_CONNECTIONS, MOST_ENTRIES_WAITING};
pub(crate) use fairness::FairnessCache;
pub use fairness::{
    EntryTimes, FairnessListing, FairnessReport, KsDistance, RefusedEntries, TIME_BUCKETS,
    TimeBucket, ks_distance, ks_fair_bound,
};
pub(crate) use gate::DrawGates;
pub use refusals::RefusalReason;
pub(crate) use refusals::RefusalTally;
pub use runner::{DrawProgress, DrawRunner, run_draw_loop};
pub use secret::{Digest, DrawSecret, SECRET_LEN, digest_hex, parse_digest};
pub(crate) use tally::DrawTallies;
pub use tally::{DrawTally, TALLY_FRESH};

use crate::campaign::CampaignId;
use crate::claim::ClaimOutcome;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::draws::{self, EntryWindow, NewEntry};
use crate::user::UserId;
use chrono::{DateTime, Utc};
use gate::Gate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// Most digests one page of the published draw holds.
pub const MOST_DIGESTS_PER_PAGE: i64 = 10_000;

/// What is public of a fair draw, flat in a campaign's JSON: the commitment from the start; the
/// secret, the counts and the cutoff once the draw is completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawReport {
    /// Hex SHA-256 of the secret.
    pub draw_commitment: String,
    /// When the draw is: the window's start.
    pub draw_at: DateTime<Utc>,
    /// When the winners were chosen.
    pub drawn_at: Option<DateTime<Utc>>,
    /// When every winner's coupon was in the record; the rest is published from then on.
    pub draw_completed_at: Option<DateTime<Utc>>,
    /// The secret, hex (after completion).
    pub draw_secret: Option<String>,
    /// Members who entered (after completion).
    pub entrants: Option<i64>,
    /// Members drawn: the smaller of the quantity and the entrants (after completion).
    pub winners: Option<i64>,
    /// The last winner's digest, hex: a member whose digest is at most this was drawn (after
    /// completion; none when nobody entered).
    pub cutoff: Option<String>,
}

/// Where one member stands in a campaign's draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum DrawStanding {
    /// Entered; the draw is at `draw_at`.
    Entered {
        /// When the draw is.
        draw_at: DateTime<Utc>,
    },
    /// Entered; the draw is under way.
    Drawing,
    /// Drawn, `rank`th; their digest.
    Drawn {
        /// Their place in the draw, hex.
        digest: String,
        /// 1 = first winner.
        rank: i64,
    },
    /// Entered and not drawn; their digest, after the cutoff.
    NotDrawn {
        /// Their place in the draw, hex.
        digest: String,
    },
}

/// A page of the published draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawPage {
    /// The draw's public facts.
    #[serde(flatten)]
    pub report: DrawReport,
    /// Entrants' digests in draw order, hex; member ids are never shown.
    pub digests: Vec<String>,
    /// Pass as `after` for the next page; none on the last.
    pub next: Option<String>,
}

/// What the published draw can show of a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrawListing {
    /// The campaign has no draw (first come, or no such campaign).
    NoDraw,
    /// The draw is not completed yet: nothing of the order is public.
    NotDone,
    /// A page of the order.
    Page(DrawPage),
}

/// Records the draw of a fair-draw campaign (a fresh secret) in the transaction that records
/// the campaign, so there is never one without the other.
pub(crate) async fn insert_draw(
    tx: &mut PgConnection,
    campaign: CampaignId,
) -> Result<(), EngineError> {
    draws::create(tx, campaign, &DrawSecret::generate()).await?;
    Ok(())
}

/// How far this instance's clock may run ahead of PostgreSQL's before it stops offering
/// entries after the window's start.
const ENTRY_CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

impl Engine {
    /// A claim of a campaign this instance does not know to be first come: an entry, "try
    /// again" while the draw runs, or the ordinary claim.
    pub(crate) async fn claim_through_draw(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        let draw = match self.draw_gates().gate(self.db(), campaign).await? {
            Gate::Open => return self.decide_claim(campaign, user).await,
            Gate::Drawn => return self.claim_after_draw(campaign, user).await,
            Gate::Draw(draw) => draw,
        };
        // Entries are judged by PostgreSQL's clock, in the statement that writes them; this
        // clock only spares a pointless insert well after the window's start (with a margin,
        // so an instance whose clock runs ahead does not turn away entries PostgreSQL takes).
        if Utc::now() < draw.claim_starts_at + ENTRY_CLOCK_MARGIN {
            let entry = NewEntry {
                campaign,
                user_id: user.as_str().to_owned(),
                digest: draw.secret.digest_of(user.as_str()),
            };
            match self.entries().enter(entry).await? {
                EntryWindow::Open => {
                    return Ok(ClaimOutcome::Entered {
                        draw_at: draw.claim_starts_at,
                    });
                }
                EntryWindow::NotOpen => {
                    return Ok(ClaimOutcome::NotOpen {
                        opens_at: draw.entries_open_at,
                    });
                }
                EntryWindow::Paused => return Ok(ClaimOutcome::Paused),
                EntryWindow::Ended => return Ok(ClaimOutcome::Ended),
                EntryWindow::Closed => {}
            }
        }
        if !self
            .draw_gates()
            .completed(self.db(), campaign, &draw)
            .await?
        {
            return Err(EngineError::DrawInProgress(campaign));
        }
        self.claim_after_draw(campaign, user).await
    }

    /// The ordinary claim after a completed draw; a member refused who entered and was not
    /// drawn hears `not_drawn` (one read of their entry, on refusals only).
    async fn claim_after_draw(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        let outcome = self.decide_claim(campaign, user).await?;
        if matches!(
            outcome,
            ClaimOutcome::Issued { .. } | ClaimOutcome::AlreadyClaimed
        ) {
            return Ok(outcome);
        }
        Ok(
            match draws::entry_of(self.db(), campaign, user.as_str()).await? {
                Some(entry) if entry.drawn && entry.drawn_rank.is_none() => {
                    ClaimOutcome::NotDrawn {
                        digest: digest_hex(&entry.digest),
                    }
                }
                _ => outcome,
            },
        )
    }

    /// Reads the openings of the campaigns the sync watches into this instance's gates, and
    /// their bot checks (at start-up, then every second from the draw loop).
    pub async fn learn_openings(&self) -> Result<(), EngineError> {
        let rows = draws::gates_of_watched(self.db()).await?;
        // The bot checks' bits come with them (src/bot_check/): never a read on a claim.
        self.bot_checks().learn(
            rows.iter().filter_map(|row| {
                Some((CampaignId(row.id), u8::try_from(row.bot_check_bits).ok()?))
            }),
        );
        self.draw_gates().learn(rows);
        Ok(())
    }

    /// Whether a member's coupon of `campaign` may be looked for in Redis: not while a draw
    /// is pending, when only what the record holds may be shown (src/lookup.rs).
    pub(crate) async fn lookup_may_read_redis(
        &self,
        campaign: CampaignId,
    ) -> Result<bool, EngineError> {
        if self.draw_gates().is_open(campaign) {
            return Ok(true);
        }
        Ok(match self.draw_gates().gate(self.db(), campaign).await? {
            Gate::Open | Gate::Drawn => true,
            Gate::Draw(draw) => {
                self.draw_gates()
                    .completed(self.db(), campaign, &draw)
                    .await?
            }
        })
    }

    /// What is public of the campaign's draw; `None` if it has none.
    pub async fn draw_report(
        &self,
        campaign: CampaignId,
    ) -> Result<Option<DrawReport>, EngineError> {
        Ok(draws::find(self.db(), campaign).await?.map(report_of))
    }

    /// Where `user` stands in the campaign's draw; `None` if they did not enter (or it has no
    /// draw).
    pub async fn draw_standing(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<Option<DrawStanding>, EngineError> {
        let Some(entry) = draws::entry_of(self.db(), campaign, user.as_str()).await? else {
            return Ok(None);
        };
        let digest = digest_hex(&entry.digest);
        Ok(Some(match entry.drawn_rank {
            _ if !entry.completed && !entry.drawn && Utc::now() < entry.claim_starts_at => {
                DrawStanding::Entered {
                    draw_at: entry.claim_starts_at,
                }
            }
            _ if !entry.completed => DrawStanding::Drawing,
            Some(rank) => DrawStanding::Drawn { digest, rank },
            None => DrawStanding::NotDrawn { digest },
        }))
    }

    /// Up to `limit` (at most [`MOST_DIGESTS_PER_PAGE`]) entrants' digests after `after`, in
    /// draw order, once the draw is completed.
    pub async fn draw_listing(
        &self,
        campaign: CampaignId,
        after: Option<Digest>,
        limit: i64,
    ) -> Result<DrawListing, EngineError> {
        let Some(row) = draws::find(self.db(), campaign).await? else {
            return Ok(DrawListing::NoDraw);
        };
        if row.completed_at.is_none() {
            return Ok(DrawListing::NotDone);
        }
        let limit = limit.clamp(1, MOST_DIGESTS_PER_PAGE);
        let digests = draws::digests_after(self.db(), campaign, after.as_ref(), limit).await?;
        let full = i64::try_from(digests.len()).unwrap_or(i64::MAX) >= limit;
        let next = digests.last().filter(|_| full).map(|last| digest_hex(last));
        Ok(DrawListing::Page(DrawPage {
            report: report_of(row),
            digests: digests.iter().map(|digest| digest_hex(digest)).collect(),
            next,
        }))
    }
}

/// The public part of a draw's row: the commitment always, the rest once it is completed.
fn report_of(row: draws::DrawRow) -> DrawReport {
    let completed = row.completed_at.is_some();
    DrawReport {
        draw_secret: completed.then(|| digest_hex(&row.secret)),
        draw_commitment: row.commitment,
        draw_at: row.claim_starts_at,
        drawn_at: row.drawn_at,
        draw_completed_at: row.completed_at,
        entrants: row.entrants.filter(|_| completed),
        winners: row.winners.filter(|_| completed),
        cutoff: row
            .cutoff
            .filter(|_| completed)
            .map(|cutoff| digest_hex(&cutoff)),
    }
}
