//! Claiming: one Lua script call decides and applies a claim, together with the other claims of
//! its campaign that arrived while the previous call was on its way ([`batcher`]). PostgreSQL is
//! never touched unless the campaign's Redis state is missing and must be loaded first.

mod ack;
mod batcher;
mod queues;
mod reply;

pub use ack::ClaimAck;
pub(crate) use ack::connected_replicas;
pub(crate) use batcher::ClaimBatcher;
pub use batcher::MOST_CLAIMS_WAITING;

use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::user::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The truthful answer to "can I have a coupon?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimOutcome {
    /// The coupon is yours; it will reach PostgreSQL even if this server dies now.
    Issued {
        /// What to show at checkout.
        code: String,
        /// This claim's place in the campaign (1 = first).
        sequence: i64,
        /// Coupons left after this one.
        remaining: i64,
    },
    /// This user already holds a coupon of this campaign.
    AlreadyClaimed,
    /// Every coupon is gone.
    SoldOut,
    /// The claim window has not started.
    NotOpen {
        /// When it starts.
        opens_at: DateTime<Utc>,
    },
    /// The window is over, or the marketer ended the campaign.
    Ended,
    /// The marketer paused the campaign.
    Paused,
    /// No campaign has this id.
    UnknownCampaign,
    /// A fair draw's entry (src/draw/): the member takes part in the draw at `draw_at`. A
    /// repeated entry answers the same.
    Entered {
        /// When the draw is: the window's start.
        draw_at: DateTime<Utc>,
    },
    /// The member entered the fair draw and was not drawn; nothing is left for them.
    NotDrawn {
        /// Their place in the draw (hex HMAC-SHA256 of their id), after the published cutoff.
        digest: String,
    },
}

impl ClaimOutcome {
    /// The outcome's name as used in the API (`issued`, `sold_out`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Issued { .. } => "issued",
            Self::AlreadyClaimed => "already_claimed",
            Self::SoldOut => "sold_out",
            Self::NotOpen { .. } => "not_open",
            Self::Ended => "ended",
            Self::Paused => "paused",
            Self::UnknownCampaign => "unknown_campaign",
            Self::Entered { .. } => "entered",
            Self::NotDrawn { .. } => "not_drawn",
        }
    }
}

impl Engine {
    /// Claims a coupon of `campaign` for `user`.
    ///
    /// The normal path is one Redis round trip, shared with the claims of the same campaign
    /// that arrived meanwhile, plus the wait for the call before it under load. If the
    /// campaign's Redis state is not ready (missing after a flush, or not verified since Redis
    /// restarted or failed over, when it may be an older copy), it is verified against
    /// PostgreSQL and rebuilt or repaired, and the claim retried once; the rebuild counts every
    /// coupon already recorded, so it cannot cause over-issue or hand out a recorded code.
    pub async fn claim(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        let started = std::time::Instant::now();
        // First-come campaigns (and completed draws) pass this in-memory check and nothing else;
        // a campaign this instance has not seen yet, or a fair draw, goes through src/draw/.
        let result = if self.draw_gates().is_open(campaign) {
            self.decide_claim(campaign, user).await
        } else {
            self.claim_through_draw(campaign, user).await
        };
        let outcome = result.as_ref().map_or("error", ClaimOutcome::name);
        crate::metrics::claim_answered(outcome, started.elapsed());
        result
    }

    /// The claim as Redis decides it, without the draw's gate: the ordinary path, and the draw's
    /// own issuing of its winners.
    pub(crate) async fn decide_claim(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        if let Some(outcome) = self.claims().claim(campaign, user).await? {
            return Ok(outcome);
        }
        if !self.load_campaign(campaign).await? {
            return Ok(ClaimOutcome::UnknownCampaign);
        }
        self.claims()
            .claim(campaign, user)
            .await?
            .ok_or(EngineError::NotLoaded(campaign))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialise_with_an_outcome_tag() {
        let json = serde_json::to_string(&ClaimOutcome::SoldOut).unwrap();
        assert_eq!(json, r#"{"outcome":"sold_out"}"#);
        let issued = ClaimOutcome::Issued {
            code: "AB".into(),
            sequence: 2,
            remaining: 3,
        };
        let json = serde_json::to_string(&issued).unwrap();
        assert_eq!(
            json,
            r#"{"outcome":"issued","code":"AB","sequence":2,"remaining":3}"#
        );
    }
}
