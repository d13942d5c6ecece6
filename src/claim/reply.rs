//! Reading claim.lua's reply (see the script's header): `{0}`, or three integers per claim.

use super::ClaimOutcome;
use crate::campaign::CampaignId;
use crate::code::CodeKey;
use chrono::DateTime;

/// What one call of the script said about each of its claims, in the order they were sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CallReply {
    /// The campaign is not ready in Redis (not loaded, or not verified against the record since
    /// Redis changed): none of the claims was decided.
    NotLoaded,
    /// One decision per claim; a decision that could not be read is the reason why.
    Decided(Vec<Result<ClaimOutcome, String>>),
}

/// Reads the reply of a call of `campaign` that carried `claims` claims; an issued coupon's code
/// is made from its sequence number with `codes`. A reply of the wrong length is one reason for
/// the whole call, returned as the error.
pub(crate) fn read_call_reply(
    reply: &[i64],
    campaign: CampaignId,
    claims: usize,
    codes: &CodeKey,
) -> Result<CallReply, String> {
    if reply == [0] {
        return Ok(CallReply::NotLoaded);
    }
    if reply.len() != 3 * claims {
        return Err(format!(
            "claim script replied {} integers for {claims} claims",
            reply.len(),
        ));
    }
    let decisions = reply
        .chunks_exact(3)
        .map(|decision| read_decision(decision, campaign, codes))
        .collect();
    Ok(CallReply::Decided(decisions))
}

/// One claim's three integers.
fn read_decision(
    decision: &[i64],
    campaign: CampaignId,
    codes: &CodeKey,
) -> Result<ClaimOutcome, String> {
    Ok(match decision {
        [1, remaining, sequence] => ClaimOutcome::Issued {
            code: codes
                .code_of(campaign, *sequence)
                .ok_or_else(|| format!("sequence {sequence} is beyond what a code can carry"))?,
            sequence: *sequence,
            remaining: *remaining,
        },
        [2, ..] => ClaimOutcome::AlreadyClaimed,
        [3, ..] => ClaimOutcome::SoldOut,
        [4, starts_ms, _] => ClaimOutcome::NotOpen {
            opens_at: DateTime::from_timestamp_millis(*starts_ms)
                .ok_or_else(|| format!("window start {starts_ms} ms is out of range"))?,
        },
        [5, ..] => ClaimOutcome::Ended,
        [6, ..] => ClaimOutcome::Paused,
        other => return Err(format!("claim script replied {other:?} for one claim")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAMPAIGN: CampaignId = CampaignId(12);

    fn codes() -> CodeKey {
        CodeKey::from_bytes(&[1; CodeKey::LEN]).unwrap()
    }

    #[test]
    fn each_claim_of_a_call_reads_its_own_three_integers_and_gets_its_sequences_code() {
        let reply = read_call_reply(&[1, 4, 7, 2, 0, 0, 3, 0, 0], CAMPAIGN, 3, &codes()).unwrap();
        assert_eq!(
            reply,
            CallReply::Decided(vec![
                Ok(ClaimOutcome::Issued {
                    code: codes().code_of(CAMPAIGN, 7).unwrap(),
                    sequence: 7,
                    remaining: 4
                }),
                Ok(ClaimOutcome::AlreadyClaimed),
                Ok(ClaimOutcome::SoldOut),
            ])
        );
    }

    #[test]
    fn a_lone_zero_means_the_campaign_is_not_loaded() {
        assert_eq!(
            read_call_reply(&[0], CAMPAIGN, 2, &codes()),
            Ok(CallReply::NotLoaded)
        );
    }

    #[test]
    fn an_unexpected_reply_is_an_error_not_a_panic() {
        let read = |reply: &[i64], claims| read_call_reply(reply, CAMPAIGN, claims, &codes());
        assert!(read(&[1, 4], 1).is_err(), "too short");
        assert!(read(&[], 1).is_err(), "empty");
        let CallReply::Decided(decisions) = read(&[9, 9, 9, 4, i64::MAX, 0, 1, 0, 0], 3).unwrap()
        else {
            panic!("expected decisions");
        };
        assert!(decisions.iter().all(Result::is_err), "{decisions:?}");
    }
}
