//! Claiming: one Lua script call decides and applies a claim; PostgreSQL is never touched
//! unless the campaign's Redis state is missing and must be loaded first.

use crate::campaign::CampaignId;
use crate::code;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::redis::CampaignKeys;
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
        }
    }
}

impl Engine {
    /// Claims a coupon of `campaign` for `user`.
    ///
    /// The normal path is exactly one Redis round trip. If the campaign's Redis state is
    /// missing (new instance, Redis flushed), it is rebuilt from PostgreSQL and the claim retried
    /// once; the rebuild counts every coupon already recorded, so it cannot cause over-issue.
    pub async fn claim(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        let started = std::time::Instant::now();
        let result = self.decide_claim(campaign, user).await;
        let outcome = result.as_ref().map_or("error", ClaimOutcome::name);
        crate::metrics::claim_answered(outcome, started.elapsed());
        result
    }

    async fn decide_claim(
        &self,
        campaign: CampaignId,
        user: &UserId,
    ) -> Result<ClaimOutcome, EngineError> {
        let keys = CampaignKeys::new(campaign);
        let code = code::generate_compact();
        if let Some(outcome) = self.run_claim_script(campaign, &keys, user, &code).await? {
            return Ok(outcome);
        }
        if !self.load_campaign(campaign).await? {
            return Ok(ClaimOutcome::UnknownCampaign);
        }
        self.run_claim_script(campaign, &keys, user, &code)
            .await?
            .ok_or(EngineError::NotLoaded(campaign))
    }

    /// Runs claim.lua; `None` means the campaign is not loaded in Redis.
    async fn run_claim_script(
        &self,
        campaign: CampaignId,
        keys: &CampaignKeys,
        user: &UserId,
        code: &str,
    ) -> Result<Option<ClaimOutcome>, EngineError> {
        let reply: Vec<i64> = self
            .scripts
            .claim
            .key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .key(&keys.queue)
            .arg(user.as_str())
            .arg(code)
            .invoke_async(&mut self.redis.clone())
            .await?;
        decode_reply(campaign, &reply, code)
    }
}

/// Turns claim.lua's integer array (see the script's header) into an outcome.
fn decode_reply(
    campaign: CampaignId,
    reply: &[i64],
    code: &str,
) -> Result<Option<ClaimOutcome>, EngineError> {
    let outcome = match reply {
        [0] => return Ok(None),
        [1, remaining, sequence] => ClaimOutcome::Issued {
            code: code::grouped(code),
            sequence: *sequence,
            remaining: *remaining,
        },
        [2] => ClaimOutcome::AlreadyClaimed,
        [3] => ClaimOutcome::SoldOut,
        [4, starts_ms] => ClaimOutcome::NotOpen {
            opens_at: DateTime::from_timestamp_millis(*starts_ms).ok_or_else(|| {
                EngineError::CorruptState {
                    campaign,
                    detail: format!("window start {starts_ms} ms is out of range"),
                }
            })?,
        },
        [5] => ClaimOutcome::Ended,
        [6] => ClaimOutcome::Paused,
        other => {
            return Err(EngineError::CorruptState {
                campaign,
                detail: format!("claim script replied {other:?}"),
            });
        }
    };
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_reply_carries_the_code_sequence_and_remaining_count() {
        let outcome = decode_reply(CampaignId(1), &[1, 4, 1], "C0DE").unwrap();
        assert_eq!(
            outcome,
            Some(ClaimOutcome::Issued {
                code: "C0DE".into(),
                sequence: 1,
                remaining: 4
            })
        );
    }

    #[test]
    fn an_unexpected_reply_is_an_error_not_a_panic() {
        assert!(decode_reply(CampaignId(1), &[9, 9], "x").is_err());
        assert!(decode_reply(CampaignId(1), &[], "x").is_err());
    }

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
