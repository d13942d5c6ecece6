//! Reading claim.lua's reply (see the script's header): the node's replication id, then for
//! each campaign of the call, in order, `0`, `-1` (another campaign only) or three integers per
//! claim.

use super::ClaimOutcome;
use crate::campaign::CampaignId;
use crate::code::CodeKey;
use chrono::DateTime;

/// What one call of the script said about one campaign's claims, in the order they were sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CallReply {
    /// The campaign is not ready in Redis (not loaded, or not verified against the record since
    /// Redis changed): none of the claims was decided.
    NotLoaded,
    /// The campaign joined a call of another campaign and its keys are not all on the node that
    /// ran it: none of the claims was decided, and they go out again in a call of their own.
    Elsewhere,
    /// One decision per claim; a decision that could not be read is the reason why.
    Decided(Vec<Result<ClaimOutcome, String>>),
}

/// Splits a call's reply into the replication id of the node that ran it and the decisions.
pub(crate) fn split_call_reply(reply: Vec<redis::Value>) -> Result<(String, Vec<i64>), String> {
    let mut values = reply.into_iter();
    let replid = match values.next() {
        Some(redis::Value::BulkString(bytes)) => String::from_utf8(bytes)
            .map_err(|_| "claim script replied a replication id that is not text".to_owned())?,
        Some(redis::Value::SimpleString(text)) => text,
        other => {
            return Err(format!(
                "claim script replied {other:?} for the replication id"
            ));
        }
    };
    let decisions = values
        .map(|value| match value {
            redis::Value::Int(n) => Ok(n),
            other => Err(format!("claim script replied {other:?} for a decision")),
        })
        .collect::<Result<_, _>>()?;
    Ok((replid, decisions))
}

/// Reads the reply of a call that carried, in order, `claims` claims of each `campaign` of
/// `segments`; an issued coupon's code is made from its campaign and sequence number with
/// `codes`. A reply of the wrong length is one reason for the whole call, returned as the error.
pub(crate) fn read_call_reply(
    reply: &[i64],
    segments: &[(CampaignId, usize)],
    codes: &CodeKey,
) -> Result<Vec<CallReply>, String> {
    let mut rest = reply;
    let mut replies = Vec::with_capacity(segments.len());
    for (at, &(campaign, claims)) in segments.iter().enumerate() {
        let read = match rest {
            [0, ..] => (CallReply::NotLoaded, 1),
            [-1, ..] if at > 0 => (CallReply::Elsewhere, 1),
            _ if rest.len() >= 3 * claims && claims > 0 => {
                let decisions = rest[..3 * claims]
                    .chunks_exact(3)
                    .map(|decision| read_decision(decision, campaign, codes))
                    .collect();
                (CallReply::Decided(decisions), 3 * claims)
            }
            _ => return Err(wrong_length(reply, segments)),
        };
        replies.push(read.0);
        rest = &rest[read.1..];
    }
    if rest.is_empty() {
        Ok(replies)
    } else {
        Err(wrong_length(reply, segments))
    }
}

fn wrong_length(reply: &[i64], segments: &[(CampaignId, usize)]) -> String {
    let claims: usize = segments.iter().map(|(_, claims)| claims).sum();
    format!(
        "claim script replied {} integers for {claims} claims of {} campaigns",
        reply.len(),
        segments.len()
    )
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
        let reply = read_call_reply(&[1, 4, 7, 2, 0, 0, 3, 0, 0], &[(CAMPAIGN, 3)], &codes());
        assert_eq!(
            reply.unwrap(),
            vec![CallReply::Decided(vec![
                Ok(ClaimOutcome::Issued {
                    code: codes().code_of(CAMPAIGN, 7).unwrap(),
                    sequence: 7,
                    remaining: 4
                }),
                Ok(ClaimOutcome::AlreadyClaimed),
                Ok(ClaimOutcome::SoldOut),
            ])]
        );
    }

    #[test]
    fn the_replication_id_comes_first_and_the_decisions_after_it() {
        use redis::Value;
        let reply = vec![Value::BulkString(b"8f2a".to_vec()), Value::Int(0)];
        assert_eq!(split_call_reply(reply), Ok(("8f2a".to_owned(), vec![0])));
        assert!(split_call_reply(vec![Value::Int(0)]).is_err(), "no id");
        assert!(split_call_reply(Vec::new()).is_err(), "empty");
        let text = vec![Value::BulkString(b"8f2a".to_vec()), Value::Nil];
        assert!(
            split_call_reply(text).is_err(),
            "a decision that is not a number"
        );
    }

    #[test]
    fn a_lone_zero_means_the_campaign_is_not_loaded() {
        assert_eq!(
            read_call_reply(&[0], &[(CAMPAIGN, 2)], &codes()),
            Ok(vec![CallReply::NotLoaded])
        );
    }

    #[test]
    fn an_unexpected_reply_is_an_error_not_a_panic() {
        let read = |reply: &[i64], claims| read_call_reply(reply, &[(CAMPAIGN, claims)], &codes());
        assert!(read(&[1, 4], 1).is_err(), "too short");
        assert!(read(&[], 1).is_err(), "empty");
        assert!(read(&[1, 4, 7, 1], 1).is_err(), "too long");
        assert!(
            read(&[-1], 1).is_err(),
            "the first campaign is never elsewhere"
        );
        let odd = read(&[9, 9, 9, 4, i64::MAX, 0, 1, 0, 0], 3);
        let Ok([CallReply::Decided(decisions)]) = odd.as_deref() else {
            panic!("expected decisions");
        };
        assert!(decisions.iter().all(Result::is_err), "{decisions:?}");
    }

    #[test]
    fn each_campaign_of_a_call_reads_its_own_part_of_the_reply() {
        let other = CampaignId(13);
        let third = CampaignId(14);
        let segments = [(CAMPAIGN, 1), (other, 2), (third, 1), (CAMPAIGN, 1)];
        let reply = [1, 0, 3, -1, 0, 5, 0, 0];
        assert_eq!(
            read_call_reply(&reply, &segments, &codes()).unwrap(),
            vec![
                CallReply::Decided(vec![Ok(ClaimOutcome::Issued {
                    code: codes().code_of(CAMPAIGN, 3).unwrap(),
                    sequence: 3,
                    remaining: 0
                })]),
                CallReply::Elsewhere,
                CallReply::NotLoaded,
                CallReply::Decided(vec![Ok(ClaimOutcome::Ended)]),
            ]
        );
    }
}
