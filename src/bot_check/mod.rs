//! The bot check (issue 29, item 5): a self-hosted proof of work the web's claims and entries
//! must carry when their campaign asks for one; no third-party service.
//!
//! - A campaign sets `bot_check_bits` at creation (0, the default, is off; at most 28). It never
//!   changes, so each instance remembers it once read: learned with the openings at start-up and
//!   every second ([`Engine::learn_openings`]), else read by primary key on the campaign's first
//!   web claim on the instance. A claim costs no PostgreSQL for it.
//! - The page asks for a **challenge** ([`Engine::bot_challenge`], `GET
//!   /api/v1/campaigns/{id}/challenge`, public): the campaign id, an expiry two minutes ahead and
//!   16 random bytes, signed with HMAC-SHA256 under a key derived from the deployment's code key
//!   (`challenge.rs`). Handing one out writes nothing and reads nothing but the bits.
//! - The browser finds a nonce such that `SHA-256(challenge:nonce)` starts with `bits` zero
//!   bits (public/pow.js, about `2^bits` hashes) and sends both with the claim.
//! - The server checks it ([`Engine::check_bot_proof`]) before the claim: the tag, the campaign,
//!   the expiry and the hash, in microseconds and without I/O; then makes it single-use with one
//!   `SET pow:{tag} 1 NX PX <time left>` in Redis (one key: on a cluster, on whichever node owns
//!   its slot). Only then is the claim decided; a refused check writes nothing.
//! - The JSON API, which shop backends call with the API key, is exempt: the shop vouches for its
//!   members there. The check guards the pages' claim (the `claim` server function), whoever
//!   calls it.
//! - Refusals of a fair draw's entries are counted for its fairness report
//!   ([`crate::draw::RefusalReason::BotCheck`]).

mod challenge;

pub use challenge::{
    BotCheckKey, CHALLENGE_CHARS, Solved, TAG_LEN, Unsolved, leading_zero_bits, parse_nonce,
    proof_hash, solve, solves,
};

use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::campaigns;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// How long a challenge may be solved and used: long enough for a slow phone at the highest
/// setting the form offers, short enough that solutions cannot be stockpiled for long.
pub const CHALLENGE_TTL: TimeDelta = TimeDelta::seconds(120);

/// How long past its expiry (by this instance's clock) a used challenge is remembered: another
/// instance whose clock runs behind would still take it meanwhile.
const USED_MARGIN_MS: i64 = 5_000;

/// Campaigns whose bits one instance remembers (a few bytes each); past it the memory starts
/// again from nothing and is filled by the next reads.
const MOST_REMEMBERED: usize = 1_000_000;

/// A challenge as handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedChallenge {
    /// base64url text, 86 characters (`challenge.rs`).
    pub challenge: String,
    /// Leading zero bits the solution's hash must have (the campaign's; 0: no check).
    pub bits: u8,
    /// After this the challenge is refused as `bot_check_expired`.
    pub expires_at: DateTime<Utc>,
}

/// Why the bot check refused a claim; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCheckRefusal {
    /// No challenge or no nonce was sent.
    Required,
    /// Not a challenge of this deployment or of this campaign, or a nonce that does not solve it.
    Failed,
    /// The challenge's two minutes are over.
    Expired,
    /// The challenge was used before.
    Reused,
}

impl BotCheckRefusal {
    /// The code clients branch on.
    pub fn code(self) -> &'static str {
        match self {
            Self::Required => "bot_check_required",
            Self::Failed => "bot_check_failed",
            Self::Expired => "bot_check_expired",
            Self::Reused => "bot_check_reused",
        }
    }

    /// The refusal with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Required, Self::Failed, Self::Expired, Self::Reused]
            .into_iter()
            .find(|refusal| refusal.code() == code)
    }
}

/// What the bot check says of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCheckOutcome {
    /// The campaign has no bot check (or does not exist: the claim answers that).
    Off,
    /// A solved challenge, now used up.
    Passed,
    /// Refused; nothing was written.
    Refused(BotCheckRefusal),
}

/// This instance's bot check: the key, and the campaigns' bits it has seen.
pub(crate) struct BotChecks {
    key: BotCheckKey,
    bits: RwLock<HashMap<CampaignId, u8>>,
}

impl BotChecks {
    /// Checks signed and verified with `key`.
    pub fn new(key: BotCheckKey) -> Self {
        Self {
            key,
            bits: RwLock::new(HashMap::new()),
        }
    }

    fn known(&self, campaign: CampaignId) -> Option<u8> {
        self.bits
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&campaign)
            .copied()
    }

    /// Remembers a campaign's bits (they never change).
    pub fn remember(&self, campaign: CampaignId, bits: u8) {
        let mut known = self.bits.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MOST_REMEMBERED && !known.contains_key(&campaign) {
            known.clear();
        }
        known.insert(campaign, bits);
    }

    /// Remembers the bits of the campaigns not known yet (read with the openings).
    pub fn learn(&self, rows: impl IntoIterator<Item = (CampaignId, u8)>) {
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|(campaign, _)| self.known(*campaign).is_none())
            .collect();
        for (campaign, bits) in rows {
            self.remember(campaign, bits);
        }
    }
}

/// A field as sent, trimmed; `None` when absent or blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}

/// The Redis key that marks a challenge used: `pow:` and its tag in hex.
pub fn used_key(tag: &[u8]) -> String {
    format!("pow:{}", hex::encode(tag))
}

impl Engine {
    /// The campaign's bot check bits (0: off); `None` if there is no such campaign.
    pub async fn bot_check_bits(&self, campaign: CampaignId) -> Result<Option<u8>, EngineError> {
        if let Some(bits) = self.bot_checks().known(campaign) {
            return Ok(Some(bits));
        }
        let bits = campaigns::bot_check_bits_of(self.db(), campaign).await?;
        if let Some(bits) = bits {
            self.bot_checks().remember(campaign, bits);
        }
        Ok(bits)
    }

    /// A fresh challenge for the campaign's bot check, valid for [`CHALLENGE_TTL`]; `None` if
    /// there is no such campaign. Writes nothing (a campaign without a check gets one with
    /// `bits` 0, which any nonce solves and nothing asks for).
    pub async fn bot_challenge(
        &self,
        campaign: CampaignId,
    ) -> Result<Option<IssuedChallenge>, EngineError> {
        let Some(bits) = self.bot_check_bits(campaign).await? else {
            return Ok(None);
        };
        let expires_at = Utc::now() + CHALLENGE_TTL;
        Ok(Some(
            self.bot_challenge_expiring_at(campaign, bits, expires_at),
        ))
    }

    /// A challenge for `campaign` with the given bits and expiry, signed with this deployment's
    /// key: what [`Engine::bot_challenge`] hands out, and for tests one already expired.
    pub fn bot_challenge_expiring_at(
        &self,
        campaign: CampaignId,
        bits: u8,
        expires_at: DateTime<Utc>,
    ) -> IssuedChallenge {
        let expires_ms = expires_at.timestamp_millis();
        IssuedChallenge {
            challenge: self.bot_checks().key.issue(campaign, expires_ms),
            bits,
            // What the challenge carries: whole milliseconds.
            expires_at: DateTime::from_timestamp_millis(expires_ms).unwrap_or(expires_at),
        }
    }

    /// The bot check of a web claim of `campaign`, with the challenge and nonce it came with
    /// (absent or blank: none). For a campaign with a check: the solution is checked (no I/O),
    /// then the challenge is used up in Redis, so a second claim with it is refused. Call it
    /// right before the claim, after the rate limits (a refused claim must not use up a good
    /// solution). Errors are Redis failing (retryable) or PostgreSQL failing on a campaign this
    /// instance has not seen yet.
    pub async fn check_bot_proof(
        &self,
        campaign: CampaignId,
        challenge: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<BotCheckOutcome, EngineError> {
        let bits = match self.bot_check_bits(campaign).await? {
            Some(bits) if bits > 0 => bits,
            _ => return Ok(BotCheckOutcome::Off),
        };
        let (Some(challenge), Some(nonce)) = (given(challenge), given(nonce)) else {
            return Ok(BotCheckOutcome::Refused(BotCheckRefusal::Required));
        };
        let now_ms = Utc::now().timestamp_millis();
        let solved = match self
            .bot_checks()
            .key
            .check(challenge, nonce, campaign, bits, now_ms)
        {
            Ok(solved) => solved,
            Err(Unsolved::Failed) => {
                return Ok(BotCheckOutcome::Refused(BotCheckRefusal::Failed));
            }
            Err(Unsolved::Expired) => {
                return Ok(BotCheckOutcome::Refused(BotCheckRefusal::Expired));
            }
        };
        let keep_ms = (solved.expires_ms - now_ms).max(1) + USED_MARGIN_MS;
        let first: Option<String> = redis::cmd("SET")
            .arg(used_key(&solved.tag))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(keep_ms)
            .query_async(&mut self.redis())
            .await?;
        Ok(match first {
            Some(_) => BotCheckOutcome::Passed,
            None => BotCheckOutcome::Refused(BotCheckRefusal::Reused),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_code() {
        let codes: Vec<_> = [
            BotCheckRefusal::Required,
            BotCheckRefusal::Failed,
            BotCheckRefusal::Expired,
            BotCheckRefusal::Reused,
        ]
        .into_iter()
        .map(BotCheckRefusal::code)
        .collect();
        assert_eq!(
            codes,
            [
                "bot_check_required",
                "bot_check_failed",
                "bot_check_expired",
                "bot_check_reused"
            ]
        );
        for code in codes {
            assert_eq!(BotCheckRefusal::from_code(code).unwrap().code(), code);
        }
        assert_eq!(BotCheckRefusal::from_code("bot_check"), None);
    }

    #[test]
    fn bits_are_learned_once_and_remembered() {
        let checks = BotChecks::new(BotCheckKey::from_bytes([1; 32]));
        checks.learn([(CampaignId(1), 20), (CampaignId(2), 0)]);
        checks.learn([(CampaignId(1), 8)]);
        assert_eq!(checks.known(CampaignId(1)), Some(20), "known ones stay");
        assert_eq!(checks.known(CampaignId(2)), Some(0));
        assert_eq!(checks.known(CampaignId(3)), None);
        assert_eq!(used_key(&[0xab, 0x01]), "pow:ab01");
    }
}
