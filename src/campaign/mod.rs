//! Campaigns: what a marketer creates, as validated input and as stored, and the engine's calls
//! that create and read them (`api.rs`).

mod api;
mod draft;
mod fields;
mod opening;
mod order_rules;

pub use draft::{CampaignDraft, NewCampaign};
pub use fields::{
    BotCheckBits, CampaignName, ClaimWindow, Discount, DiscountKind, FIRST_CLAIM_YEAR,
    LAST_CLAIM_YEAR, MAX_BOT_CHECK_BITS, MAX_DISCOUNT_WON, MAX_QUANTITY, MAX_VALID_DAYS, Quantity,
    ValidDays,
};
pub use opening::{Opening, OpeningKind};
pub use order_rules::{MAX_ORDER_WON, OrderRules};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A campaign's database id; also the hash tag of its Redis keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CampaignId(pub i64);

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a campaign accepts claims, as set by the marketer (the window is checked separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Claims are accepted inside the window.
    Active,
    /// Temporarily closed by the marketer; can be resumed.
    Paused,
    /// Closed for good by the marketer.
    Ended,
}

impl CampaignStatus {
    /// The name stored in PostgreSQL and in the Redis metadata the claim script reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Ended => "ended",
        }
    }

    /// The status with this stored name.
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }
}

/// A campaign as recorded in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Database id.
    pub id: CampaignId,
    /// Shown to marketers and end users.
    pub name: String,
    /// What the coupon takes off.
    pub discount: Discount,
    /// How many coupons can be issued in total.
    pub quantity: i64,
    /// Claims are accepted from this instant… It never changes once the campaign exists: queued
    /// claims record their time as milliseconds since it (see [`crate::sync::QueuedCoupon`]), so
    /// a feature that moves it must first let the queue drain.
    pub claim_starts_at: DateTime<Utc>,
    /// …until just before this one.
    pub claim_ends_at: DateTime<Utc>,
    /// Days an issued coupon stays usable.
    pub valid_days: i32,
    /// Minimum order and discount cap for using its coupons (flat in JSON:
    /// `min_order_amount`, `max_discount_amount`).
    #[serde(flatten)]
    pub order_rules: OrderRules,
    /// Marketer's switch.
    pub status: CampaignStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// First come, first served, or a fair draw (src/draw/). Never changes.
    #[serde(default)]
    pub opening: OpeningKind,
    /// For a fair draw: when entries open (the draw is at `claim_starts_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries_open_at: Option<DateTime<Utc>>,
    /// The bot check of the web's claims and entries: leading zero bits a solved challenge must
    /// have, 0 for off (src/bot_check/). Never changes.
    #[serde(default)]
    pub bot_check_bits: u8,
}

impl Campaign {
    /// Whether the campaign opens with a fair draw.
    pub fn is_fair_draw(&self) -> bool {
        self.opening == OpeningKind::FairDraw
    }

    /// Whether the web's claims and entries must carry a solved bot-check challenge.
    pub fn has_bot_check(&self) -> bool {
        self.bot_check_bits > 0
    }
}
