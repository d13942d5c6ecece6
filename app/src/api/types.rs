//! What the pages and the server exchange: plain serializable values, compiled on both sides.
//! Expected outcomes (a refused field, a sold-out campaign) are values here, not errors.
//!
//! Instants travel as milliseconds since the epoch, not as RFC 3339 text: the browser then reads
//! them as numbers, and chrono's date parser stays out of the wasm bundle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A campaign as the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignView {
    pub id: i64,
    pub name: String,
    /// `fixed_amount` or `percentage`.
    pub discount_kind: String,
    pub discount_amount: i64,
    pub quantity: i64,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub claim_starts_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub claim_ends_at: DateTime<Utc>,
    pub valid_days: i32,
    /// `active`, `paused` or `ended`.
    pub status: String,
    /// A fair draw's: when entries open (the draw is at `claim_starts_at`); `None` for first
    /// come, first served.
    #[serde(default, with = "chrono::serde::ts_milliseconds_option")]
    pub entries_open_at: Option<DateTime<Utc>>,
    /// The bot check of the page's claims: leading zero bits a solved challenge must have
    /// (public/pow.js solves it); 0 for none.
    #[serde(default)]
    pub bot_check_bits: u8,
}

impl CampaignView {
    /// Whether the campaign opens with a fair draw.
    pub fn is_fair_draw(&self) -> bool {
        self.entries_open_at.is_some()
    }
}

/// A campaign's live numbers, pushed to the admin page about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LiveNumbers {
    pub status: String,
    pub quantity: i64,
    /// `None` while the campaign is not loaded in Redis.
    pub remaining: Option<i64>,
    pub claimed: i64,
    pub queued: i64,
    /// Age of the oldest item waiting for the sync, in milliseconds.
    pub oldest_waiting_ms: Option<i64>,
    pub synced: i64,
    /// Redeemed, held, expired, and the won the redemptions took off (the record's numbers).
    pub redeemed: i64,
    pub held: i64,
    pub expired: i64,
    pub discount_granted: i64,
    #[serde(with = "chrono::serde::ts_milliseconds_option")]
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_sync_error: Option<String>,
    /// With replicated acknowledgments, while too few replicas are connected (every claim is
    /// answered "try again"): how many are.
    #[serde(default)]
    pub replicas_missing: Option<String>,
    /// The Redis node (`host:port`) holding the campaign's keys (on a cluster, its slot's
    /// primary).
    #[serde(default)]
    pub redis_node: Option<String>,
    /// Claims per second, oldest first, one entry per second (at most 300).
    pub per_second: Vec<u32>,
    /// A fair draw's entrants so far; `None` for first come, first served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrants: Option<i64>,
}

/// What an end user's claim page shows: the public part of the live numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PublicNumbers {
    pub status: String,
    pub quantity: i64,
    pub remaining: Option<i64>,
    /// A fair draw's entrants so far (counted at most once a second); `None` for first come,
    /// first served, whose pages receive the three numbers above only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrants: Option<i64>,
    /// Whether a fair draw is completed: the page then shows the member's result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draw_completed: bool,
}

/// One refused form field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

/// The answer to a form submission: done, or the fields to fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormResult<T> {
    Done(T),
    Invalid(Vec<FieldProblem>),
}

impl<T> FormResult<T> {
    /// The reason `field` was refused, if it was.
    pub fn problem(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid(problems) => problems
                .iter()
                .find(|p| p.field == field)
                .map(|p| p.reason.clone()),
            Self::Done(_) => None,
        }
    }
}

/// The coupon a member holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponView {
    pub code: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub claimed_at: DateTime<Utc>,
    /// When it was used at checkout, if it was.
    #[serde(with = "chrono::serde::ts_milliseconds_option", default)]
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// The answer to "Claim", and what the claim page shows for a member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClaimView {
    /// Got one (now or earlier).
    Issued {
        coupon: CouponView,
        just_now: bool,
    },
    SoldOut,
    NotOpen {
        #[serde(with = "chrono::serde::ts_milliseconds")]
        opens_at: DateTime<Utc>,
    },
    Ended,
    Paused,
    /// A fair draw's entry is recorded; the draw is at `draw_at`.
    Entered {
        #[serde(with = "chrono::serde::ts_milliseconds")]
        draw_at: DateTime<Utc>,
    },
    /// The member entered the fair draw and was not drawn.
    NotDrawn,
    /// Nothing decided yet: the member may click "Claim".
    CanClaim,
    /// Redis is unreachable: try again.
    Unavailable,
    /// The bot check refused the claim (`bot_check_required`, `bot_check_failed`,
    /// `bot_check_expired`, `bot_check_reused`); nothing was written: try again.
    BotCheckRefused {
        code: String,
    },
}

/// Everything the claim page needs on first render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimPageData {
    pub campaign: CampaignView,
    pub numbers: PublicNumbers,
    /// The signed-in member, if any.
    pub member: Option<String>,
    /// What the member sees; `None` when nobody is signed in.
    pub state: Option<ClaimView>,
    /// Whether the member is remembered by this browser's session (and can sign out here).
    pub member_in_session: bool,
    /// Whether visitors may type any member id (`MEMBER_DEMO_SIGN_IN`).
    pub demo_sign_in: bool,
    /// A fair draw's commitment (hex SHA-256 of its secret), published before anyone enters.
    #[serde(default)]
    pub draw_commitment: Option<String>,
    /// A fair draw as the page shows it: the commitment, and once it is completed what proves
    /// it and the member's own place; `None` for first come, first served.
    #[serde(default)]
    pub draw: Option<DrawView>,
    /// When the server rendered the page: its countdowns start from here, so that the browser's
    /// first render is the server's (it then follows its own clock).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub rendered_at: DateTime<Utc>,
}

/// A fair draw on the claim page (README, "Fair draws": how anyone checks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawView {
    /// Hex SHA-256 of the secret, published at creation.
    pub commitment: String,
    /// When the draw is (the claim window's start).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub draw_at: DateTime<Utc>,
    /// Whether it is completed; the fields below are shown from then on.
    pub completed: bool,
    /// The secret, hex.
    pub secret: Option<String>,
    /// The last winner's digest, hex: a digest at most this was drawn.
    pub cutoff: Option<String>,
    pub entrants: Option<i64>,
    pub winners: Option<i64>,
    /// The signed-in member's digest (HMAC-SHA256 of their id under the secret), once drawn.
    pub digest: Option<String>,
    /// Their rank among the winners (1 = first), if drawn.
    pub rank: Option<i64>,
}
