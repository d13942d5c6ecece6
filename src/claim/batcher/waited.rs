//! A round on one Redis (a fixed address, or the primary the sentinels name) with replicated
//! acknowledgments: its script calls, the `WAIT` and `INFO replication` go out as one pipeline
//! on one connection. Redis runs a connection's commands in order, so the `WAIT` counts the
//! replicas that have every claim of the round, on the Redis that wrote them, and costs no round
//! trip of its own; a connection lost midway fails the whole pipeline, so no reconnect can come
//! between the claims and their `WAIT`. (On a cluster a round's calls are routed slot by slot and
//! each shard waits afterwards, with a probe write of its own: ack.rs.)
//!
//! Calls answered `NOSCRIPT` (Redis restarted or was swapped) wrote nothing: the script is
//! loaded, the run id read again, and they go out once more in a pipeline of their own, judged
//! by its own `WAIT`.

use super::{
    Answered, CallFailure, ClaimCall, Confirmed, Part, PartAnswers, fail_part, written_shards,
};
use crate::claim::ack::{Acknowledger, Wait};
use crate::code::CodeKey;
use crate::redis::{RedisLink, Scripts, is_unknown_script};
use redis::{RedisError, Value};

/// Runs `calls` (every campaign on the one Redis `redis` reaches) confirmed by `WAIT`.
pub(super) async fn run_calls_waited(
    calls: Vec<Vec<Part>>,
    redis: &mut RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
    acknowledger: &Acknowledger,
    wait: Wait,
) -> Vec<Confirmed> {
    let (first, unknown) = run_pipeline(calls, redis, scripts, codes, acknowledger, wait).await;
    let mut confirmed = vec![first];
    let Some(unknown) = unknown else {
        return confirmed;
    };
    let again = match scripts.call(&scripts.claim).reload(redis).await {
        Ok(()) => {
            let (again, still_unknown) =
                run_pipeline(unknown.calls, redis, scripts, codes, acknowledger, wait).await;
            if let Some(still) = still_unknown {
                confirmed.push(failed(still.calls, &CallFailure::Redis(still.error)));
            }
            again
        }
        Err(error) => failed(unknown.calls, &CallFailure::Redis(error)),
    };
    confirmed.push(again);
    confirmed
}

/// Calls answered `NOSCRIPT`, with that answer.
struct UnknownScript {
    calls: Vec<Vec<Part>>,
    error: RedisError,
}

/// One pipeline of `calls` and the `WAIT`: what it decided and confirmed, and the calls Redis
/// did not know the script for.
async fn run_pipeline(
    calls: Vec<Vec<Part>>,
    redis: &mut RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
    acknowledger: &Acknowledger,
    wait: Wait,
) -> (Confirmed, Option<UnknownScript>) {
    let calls: Vec<Vec<Part>> = calls
        .into_iter()
        .filter(|parts| !parts.is_empty())
        .collect();
    let built: Vec<ClaimCall<'_>> = calls
        .iter()
        .filter_map(|parts| ClaimCall::of(parts, scripts))
        .collect();
    if let Some(first) = built.first()
        && let Err(error) = first.call.prepare(redis).await
    {
        return (failed(calls, &CallFailure::Redis(error)), None);
    }
    let mut pipeline = redis::pipe();
    pipeline.ignore_errors();
    for call in &built {
        call.call.add_to(&mut pipeline, redis);
    }
    wait.add_to(&mut pipeline);
    let replies: Vec<Value> = match pipeline.query_async::<Vec<Value>>(redis).await {
        Ok(replies) if replies.len() == built.len() + 2 => replies,
        Ok(replies) => {
            let error = RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "a claim round's pipeline",
                format!("{} replies for {} commands", replies.len(), built.len() + 2),
            ));
            return (failed(calls, &CallFailure::Redis(error)), None);
        }
        Err(error) => return (failed(calls, &CallFailure::Redis(error)), None),
    };
    let mut replies = replies.into_iter();
    let mut decided: Answered = Vec::new();
    let mut unknown: Option<UnknownScript> = None;
    for ((parts, call), reply) in calls.into_iter().zip(&built).zip(replies.by_ref()) {
        let reply = reply
            .extract_error()
            .and_then(|value| Ok(redis::from_redis_value::<Vec<Value>>(value)?));
        match reply {
            Err(error) if is_unknown_script(&error) => {
                let unknown = unknown.get_or_insert_with(|| UnknownScript {
                    calls: Vec::new(),
                    error: error.clone(),
                });
                unknown.calls.push(parts);
            }
            reply => decided.extend(call.answer(parts, reply, codes).into_iter().map(
                // Only a cluster's script finds a campaign elsewhere.
                |outcome| {
                    outcome.unwrap_or_else(|part| {
                        fail_part(
                            part,
                            &CallFailure::Corrupt(
                                "the claim script found a campaign elsewhere on one Redis"
                                    .to_owned(),
                            ),
                        )
                    })
                },
            )),
        }
    }
    // Both are there (the count was checked); a missing one would read as no confirmation.
    let acked = replies.next().unwrap_or(Value::Nil);
    let info = replies.next().unwrap_or(Value::Nil);
    let written = written_shards(&decided);
    let confirmed = written
        .iter()
        .map(|written| acknowledger.judge(written, wait, acked.clone(), info.clone()))
        .collect();
    let group = Confirmed {
        decided,
        written,
        confirmed,
    };
    (group, unknown)
}

/// Every claim of `calls` hears `failure`.
fn failed(calls: Vec<Vec<Part>>, failure: &CallFailure) -> Confirmed {
    let decided: Vec<PartAnswers> = calls
        .into_iter()
        .flatten()
        .map(|part| fail_part(part, failure))
        .collect();
    Confirmed {
        decided,
        written: Vec::new(),
        confirmed: Vec::new(),
    }
}
