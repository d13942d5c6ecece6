//! Coalescing claims: every claim that arrives while the previous round of script calls is on
//! its way goes to Redis with the other claims of its campaign, and of the other campaigns its
//! Redis node holds, in one call of claim.lua.
//!
//! Why: most of what a script call costs Redis is per call, not per claim (running the script,
//! the clock, the run id, the reply; `redis-benchmark` figures in docs/benchmark.md, line 1).
//! Under a rush the server therefore spends a fraction of a call per claim, whether the rush is
//! on one campaign or spread over many (a call per campaign would give 30 campaigns calls of one
//! or two claims each); a lone claim still goes out at once, as a call of one.
//!
//! What does not change: the script decides each claim in the order the claims of its campaign
//! reached this instance, atomically, with the same checks as a call of one; the calls of one
//! round to one node are pipelined on its connection, so Redis runs them in order too. Each node
//! has one round in flight at a time (`queues.rs`), which is where the batching comes from: while
//! a node's round waits for it, that node's next round gathers; a slow node delays its own
//! campaigns only. A claim whose caller stopped waiting before its round went out is left out of
//! the call and is not issued a coupon.
//!
//! On a cluster a call is routed by its first campaign's keys; the others were put with it by the
//! slot owners last read, and the script leaves any whose keys it does not find on its node
//! (a slot moved since) for a call of its own in the same round.

use super::ClaimOutcome;
use super::ack::{Acknowledger, ClaimAck, Shard, Unconfirmed, Written};
use super::queues::{ForCampaign, NodeQueues, Round};
use super::reply::{CallReply, read_call_reply, split_call_reply};
use crate::campaign::CampaignId;
use crate::code::CodeKey;
use crate::engine::REDIS_RESPONSE_TIMEOUT;
use crate::error::EngineError;
use crate::redis::{Call, CampaignKeys, RedisLink, Scripts};
use crate::user::UserId;
use futures::stream::{FuturesUnordered, StreamExt};
use redis::RedisError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

mod waited;

/// Most claims in one script call. Bounds the time one call holds Redis (a few µs a claim)
/// and the size of the script's reply; more claims than this of one campaign in a round become
/// several calls, pipelined.
const MOST_CLAIMS_PER_CALL: usize = 64;

/// Most claims taken into one round; the rest wait for the next.
const MOST_CLAIMS_PER_ROUND: usize = 1024;

/// Most claims waiting for a round on one instance (in the hand-off to the rounds' task), and
/// on one Redis node (queued behind its round in flight, and that round). Beyond it a claim is
/// refused at once ([`EngineError::Busy`], "try again"): while a node does not answer, claims
/// would otherwise pile up in memory for as long as it hangs. At the rates Redis decides claims
/// here (tens of thousands a second), a full queue is a fraction of a second of work; a few
/// hundred bytes a claim, it is a few megabytes at most.
pub const MOST_CLAIMS_WAITING: usize = 16 * MOST_CLAIMS_PER_ROUND;

/// Most claims queued on one node behind its round in flight.
const MOST_QUEUED_PER_NODE: usize = MOST_CLAIMS_WAITING - MOST_CLAIMS_PER_ROUND;

/// Longest a claim waits for its answer: Redis's response timeout (see [`Engine::connect`]) and
/// a little more. A node's rounds run one after another, so while it does not answer, a claim that
/// missed the round in flight would otherwise wait for that round to time out and then for its
/// own: twice as long. A claim that gives up before its round goes out is not sent at all.
///
/// [`Engine::connect`]: crate::Engine::connect
const LONGEST_WAIT: Duration = REDIS_RESPONSE_TIMEOUT.saturating_add(Duration::from_millis(500));

/// What a claim hears back: its outcome, or `None` when the campaign is not ready in Redis
/// (not loaded, or not verified since Redis changed).
type Answer = Result<Option<ClaimOutcome>, EngineError>;

/// The sending end; the rounds run in a task that ends when the last engine clone is dropped.
pub(crate) struct ClaimBatcher {
    requests: mpsc::Sender<Request>,
    direct: Arc<Direct>,
}

/// One claim waiting for its round.
struct Request {
    campaign: CampaignId,
    user: UserId,
    answer: oneshot::Sender<Answer>,
}

impl ClaimBatcher {
    /// Starts the rounds on the current tokio runtime; issued coupons get their codes from
    /// `codes`.
    pub(crate) fn start(redis: RedisLink, scripts: Scripts, codes: CodeKey, ack: ClaimAck) -> Self {
        let (requests, incoming) = mpsc::channel(MOST_CLAIMS_WAITING);
        let acknowledger = Arc::new(Acknowledger::new(ack));
        let direct = Arc::new(Direct {
            redis: redis.clone(),
            scripts: scripts.clone(),
            codes: codes.clone(),
            acknowledger: acknowledger.clone(),
        });
        tokio::spawn(run_rounds(incoming, redis, scripts, codes, acknowledger));
        Self { requests, direct }
    }

    /// Decides `user`'s claim of `campaign`.
    pub(crate) async fn claim(&self, campaign: CampaignId, user: &UserId) -> Answer {
        let (answer, answered) = oneshot::channel();
        let request = Request {
            campaign,
            user: user.clone(),
            answer,
        };
        self.requests
            .try_send(request)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => {
                    crate::metrics::claim_shed();
                    EngineError::Busy
                }
                mpsc::error::TrySendError::Closed(_) => EngineError::ClaimsStopped,
            })?;
        match tokio::time::timeout(LONGEST_WAIT, answered).await {
            Ok(answer) => answer.map_err(|_| EngineError::ClaimsStopped)?,
            // What the caller tells the user is "try again", as for any Redis failure. If the
            // round had already gone out, Redis may still issue the coupon; the user then hears
            // "already claimed" with its code on the next try.
            Err(_) => Err(EngineError::Redis(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not decide the claim in time",
            )))),
        }
    }

    /// Decides the claims of `users` of `campaign` (at most [`MOST_CLAIMS_PER_CALL`]) in one
    /// script call of their own, in this order: a fair draw's winners, in rank order
    /// (src/draw/runner.rs). One call is decided whole, in order, or not at all, so no winner is
    /// issued ahead of an earlier one; it goes out at once, beside the rounds.
    pub(crate) async fn claim_together(
        &self,
        campaign: CampaignId,
        users: &[UserId],
    ) -> Vec<Answer> {
        if users.len() > MOST_CLAIMS_PER_CALL {
            let detail = format!("{} claims for one call", users.len());
            return users
                .iter()
                .map(|_| {
                    Err(EngineError::CorruptState {
                        campaign,
                        detail: detail.clone(),
                    })
                })
                .collect();
        }
        let (requests, waiting): (Vec<Request>, Vec<_>) = users
            .iter()
            .map(|user| {
                let (answer, answered) = oneshot::channel();
                let request = Request {
                    campaign,
                    user: user.clone(),
                    answer,
                };
                (request, answered)
            })
            .unzip();
        let direct = &self.direct;
        run_round(
            requests,
            &direct.redis,
            &direct.scripts,
            &direct.codes,
            &direct.acknowledger,
        )
        .await;
        let mut answers = Vec::with_capacity(waiting.len());
        for answered in waiting {
            answers.push(answered.await.unwrap_or(Err(EngineError::ClaimsStopped)));
        }
        answers
    }
}

/// What a round needs, kept beside the rounds' task for calls that go out on their own.
struct Direct {
    redis: RedisLink,
    scripts: Scripts,
    codes: CodeKey,
    acknowledger: Arc<Acknowledger>,
}

async fn run_rounds(
    mut incoming: mpsc::Receiver<Request>,
    redis: RedisLink,
    scripts: Scripts,
    codes: CodeKey,
    acknowledger: Arc<Acknowledger>,
) {
    let mut queues: NodeQueues<Request> =
        NodeQueues::new(MOST_CLAIMS_PER_ROUND, MOST_QUEUED_PER_NODE);
    let mut arrived: Vec<Request> = Vec::with_capacity(MOST_CLAIMS_PER_ROUND);
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    loop {
        for Round { node, claims } in queues.take_ready() {
            let campaigns: Vec<CampaignId> = claims.iter().map(|claim| claim.campaign).collect();
            let round = run_round(claims, &redis, &scripts, &codes, &acknowledger);
            in_flight.push(async move {
                round.await;
                (node, campaigns)
            });
        }
        if !open && queues.is_idle() {
            return;
        }
        tokio::select! {
            received = incoming.recv_many(&mut arrived, MOST_CLAIMS_PER_ROUND), if open => {
                open = received > 0;
                for claim in arrived.drain(..) {
                    if let Err(refused) = queues.push(claim, |campaign| redis.node_of_campaign(campaign)) {
                        crate::metrics::claim_shed();
                        let _ = refused.answer.send(Err(EngineError::Busy));
                    }
                }
            }
            Some((node, campaigns)) = in_flight.next() => queues.finished(&node, &campaigns),
            else => return,
        }
    }
}

/// One round of one node's claims: their calls, then (with replicated acknowledgments) one
/// `WAIT` per shard they wrote to, then every claim's answer.
async fn run_round(
    round: Vec<Request>,
    redis: &RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
    acknowledger: &Acknowledger,
) {
    // One connection for the round's calls and its `WAIT`, even if a failover is followed
    // meanwhile: the `WAIT` must count the replicas of the node the calls wrote to.
    let mut redis = redis.pinned();
    let mut parts = Vec::new();
    for (campaign, claims) in parts_of_round(round.into_iter()) {
        let shard = shard_of(&redis, campaign);
        match acknowledger.before_call(&mut redis, shard).await {
            Ok(()) => parts.push(Part {
                shard,
                campaign,
                claims,
            }),
            Err(refused) => {
                for claim in claims {
                    let _ = claim.answer.send(Err(refused.to_error()));
                }
            }
        }
    }
    let calls = calls_of_parts(parts, |campaign| redis.node_of_campaign(campaign));
    let confirmed = match acknowledger.wait() {
        Some(wait) if redis.cluster().is_none() => {
            waited::run_calls_waited(calls, &mut redis, scripts, codes, acknowledger, wait).await
        }
        _ => {
            let decided = run_calls(calls, &redis, scripts, codes).await;
            let written = written_shards(&decided);
            let confirmed = if written.is_empty() {
                Vec::new()
            } else {
                acknowledger.after_round(&redis, &written).await
            };
            vec![Confirmed {
                decided,
                written,
                confirmed,
            }]
        }
    };
    for group in confirmed {
        group.answer();
    }
}

/// Parts decided together, the shards they wrote to and whether each shard's replicas
/// confirmed it (in the order of `written`).
struct Confirmed {
    decided: Answered,
    written: Vec<Written>,
    confirmed: Vec<Result<(), Unconfirmed>>,
}

impl Confirmed {
    /// Sends each claim its answer: an issued claim whose shard was not confirmed hears why.
    fn answer(self) {
        for part in self.decided {
            let unconfirmed = self
                .written
                .iter()
                .position(|known| known.shard == part.shard)
                .and_then(|at| self.confirmed.get(at))
                .and_then(|confirmed| confirmed.as_ref().err());
            for (claim, answer) in part.answers {
                let answer = match unconfirmed {
                    Some(unconfirmed) if is_issued(&answer) => Err(unconfirmed.to_error()),
                    _ => answer,
                };
                // A caller that stopped waiting has nobody to tell; its claim stands as decided.
                let _ = claim.answer.send(answer);
            }
        }
    }
}

impl ForCampaign for Request {
    fn campaign(&self) -> CampaignId {
        self.campaign
    }
}

/// Claims of one campaign that go out together, in arrival order.
struct Part {
    shard: Shard,
    campaign: CampaignId,
    claims: Vec<Request>,
}

/// Where the campaign's writes are replicated from: its slot on a cluster.
fn shard_of(redis: &RedisLink, campaign: CampaignId) -> Shard {
    redis.cluster().map(|_| CampaignKeys::slot(campaign))
}

/// The shards the round issued something on, each with the history its calls wrote in.
fn written_shards(decided: &Answered) -> Vec<Written> {
    let mut written: Vec<Written> = Vec::new();
    let issued = decided
        .iter()
        .filter(|part| part.answers.iter().any(|(_, answer)| is_issued(answer)));
    for part in issued {
        match written.iter_mut().find(|known| known.shard == part.shard) {
            Some(known) if known.replid != part.written_on => known.replid = None,
            Some(_) => {}
            None => written.push(Written {
                shard: part.shard,
                campaign: part.campaign,
                replid: part.written_on.clone(),
            }),
        }
    }
    written
}

fn is_issued(answer: &Answer) -> bool {
    matches!(answer, Ok(Some(ClaimOutcome::Issued { .. })))
}

/// Splits a round into parts: one campaign's claims each, in arrival order, at most
/// [`MOST_CLAIMS_PER_CALL`] each. A claim whose caller stopped waiting (client gone) is left out:
/// nobody would hear that it was issued.
fn parts_of_round(round: impl Iterator<Item = Request>) -> Vec<(CampaignId, Vec<Request>)> {
    let mut by_campaign: HashMap<CampaignId, Vec<Request>> = HashMap::new();
    for claim in round.filter(|claim| !claim.answer.is_closed()) {
        by_campaign.entry(claim.campaign).or_default().push(claim);
    }
    let mut parts = Vec::with_capacity(by_campaign.len());
    for (campaign, mut claims) in by_campaign {
        while claims.len() > MOST_CLAIMS_PER_CALL {
            let rest = claims.split_off(MOST_CLAIMS_PER_CALL);
            parts.push((campaign, claims));
            claims = rest;
        }
        parts.push((campaign, claims));
    }
    parts
}

/// Packs parts into script calls: the parts of campaigns held by one node (as last known; every
/// campaign on a single Redis) share calls of at most [`MOST_CLAIMS_PER_CALL`] claims, in the
/// order given. A campaign whose node is not known yet goes out in calls of its own.
fn calls_of_parts(
    parts: Vec<Part>,
    node_of: impl Fn(CampaignId) -> Option<Arc<str>>,
) -> Vec<Vec<Part>> {
    let mut open: Vec<(Option<Arc<str>>, Vec<Part>, usize)> = Vec::new();
    let mut calls = Vec::new();
    for part in parts {
        let node = node_of(part.campaign);
        let size = part.claims.len();
        let joinable = node.as_ref().and_then(|node| {
            open.iter_mut()
                .find(|(known, _, _)| known.as_ref() == Some(node))
        });
        match joinable {
            Some((_, call, claims)) if *claims + size <= MOST_CLAIMS_PER_CALL => {
                call.push(part);
                *claims += size;
            }
            Some((_, call, claims)) => {
                calls.push(std::mem::replace(call, vec![part]));
                *claims = size;
            }
            None => open.push((node, vec![part], size)),
        }
    }
    calls.extend(open.into_iter().map(|(_, call, _)| call));
    calls
}

/// Runs a round's calls at once; the parts a call found elsewhere (their slot moved away from
/// the node that ran it) go out again in calls of their own, which Redis Cluster routes to the
/// slot's node. Each part's claims with their answers (sent once the round is confirmed).
async fn run_calls(
    calls: Vec<Vec<Part>>,
    redis: &RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
) -> Answered {
    let (mut decided, elsewhere) = run_at_once(calls, redis, scripts, codes).await;
    for part in &elsewhere {
        crate::metrics::claims_resent(part.claims.len());
    }
    let alone = elsewhere.into_iter().map(|part| vec![part]).collect();
    let (decided_alone, still_elsewhere) = run_at_once(alone, redis, scripts, codes).await;
    decided.extend(decided_alone);
    for part in still_elsewhere {
        // Only a part after the first can be elsewhere; a call of one part never is.
        decided.push(fail_part(
            part,
            &CallFailure::Corrupt(
                "the claim script found a campaign elsewhere in a call of its own".to_owned(),
            ),
        ));
    }
    decided
}

/// One part's claims with their answers, where the campaign's writes are replicated from, and
/// the replication id of the node that decided them (`None` when its call failed).
struct PartAnswers {
    shard: Shard,
    campaign: CampaignId,
    written_on: Option<String>,
    answers: Vec<(Request, Answer)>,
}

/// Every part's [`PartAnswers`].
type Answered = Vec<PartAnswers>;

/// Runs `calls` in parallel: what they decided, and the parts they found elsewhere.
async fn run_at_once(
    calls: Vec<Vec<Part>>,
    redis: &RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
) -> (Answered, Vec<Part>) {
    let sent = calls
        .into_iter()
        .map(|parts| run_call(parts, redis.clone(), scripts, codes));
    let mut decided = Vec::new();
    let mut elsewhere = Vec::new();
    for outcome in futures::future::join_all(sent).await.into_iter().flatten() {
        match outcome {
            Ok(answered) => decided.push(answered),
            Err(part) => elsewhere.push(part),
        }
    }
    (decided, elsewhere)
}

/// What became of one part of a call: its claims with their answers, or the part itself when
/// its keys are not on the node that ran the call.
type PartOutcome = Result<PartAnswers, Part>;

/// One call of claim.lua for `parts`: the first part's keys are the call's (they route it),
/// every other part is named by its campaign id.
async fn run_call(
    parts: Vec<Part>,
    mut redis: RedisLink,
    scripts: &Scripts,
    codes: &CodeKey,
) -> Vec<PartOutcome> {
    let Some(call) = ClaimCall::of(&parts, scripts) else {
        return Vec::new();
    };
    let reply = call.call.invoke(&mut redis).await;
    call.answer(parts, reply, codes)
}

/// A call of claim.lua carrying some parts, and what it carries of each.
struct ClaimCall<'s> {
    call: Call<'s>,
    /// Each part's campaign and number of claims, in order.
    segments: Vec<(CampaignId, usize)>,
}

impl<'s> ClaimCall<'s> {
    /// The call for `parts`; `None` for none.
    fn of(parts: &[Part], scripts: &'s Scripts) -> Option<Self> {
        let first = parts.first()?;
        let keys = CampaignKeys::new(first.campaign);
        let mut call = scripts.call(&scripts.claim);
        call.key(&keys.meta)
            .key(&keys.counter)
            .key(&keys.issued)
            .key(&keys.queue)
            .identity_first();
        for (at, part) in parts.iter().enumerate() {
            if at > 0 {
                call.arg(format!("\n{}", part.campaign));
            }
            for claim in &part.claims {
                call.arg(claim.user.as_str());
            }
        }
        let segments: Vec<(CampaignId, usize)> = parts
            .iter()
            .map(|part| (part.campaign, part.claims.len()))
            .collect();
        crate::metrics::claim_call(segments.iter().map(|(_, claims)| claims).sum());
        Some(Self { call, segments })
    }

    /// What became of each of `parts` (this call's) given the call's reply.
    fn answer(
        &self,
        parts: Vec<Part>,
        reply: Result<Vec<redis::Value>, RedisError>,
        codes: &CodeKey,
    ) -> Vec<PartOutcome> {
        let read = reply
            .map_err(CallFailure::Redis)
            .and_then(|reply| split_call_reply(reply).map_err(CallFailure::Corrupt))
            .and_then(|(replid, decisions)| {
                let replies = read_call_reply(&decisions, &self.segments, codes);
                Ok((replid, replies.map_err(CallFailure::Corrupt)?))
            });
        match read {
            Ok((replid, replies)) => parts
                .into_iter()
                .zip(replies)
                .map(|(part, reply)| answer_part(part, reply, &replid))
                .collect(),
            Err(failure) => parts
                .into_iter()
                .map(|part| Ok(fail_part(part, &failure)))
                .collect(),
        }
    }
}

fn answer_part(part: Part, reply: CallReply, replid: &str) -> PartOutcome {
    let campaign = part.campaign;
    let answers: Vec<Answer> = match reply {
        CallReply::Elsewhere => return Err(part),
        CallReply::NotLoaded => part.claims.iter().map(|_| Ok(None)).collect(),
        CallReply::Decided(decisions) => decisions
            .into_iter()
            .map(|decision| {
                decision
                    .map(Some)
                    .map_err(|detail| EngineError::CorruptState { campaign, detail })
            })
            .collect(),
    };
    Ok(PartAnswers {
        shard: part.shard,
        campaign,
        written_on: Some(replid.to_owned()),
        answers: part.claims.into_iter().zip(answers).collect(),
    })
}

/// Every claim of `part` hears the call's failure.
fn fail_part(part: Part, failure: &CallFailure) -> PartAnswers {
    let answers = part
        .claims
        .into_iter()
        .map(|claim| (claim, Err(failure.to_error(part.campaign))))
        .collect();
    PartAnswers {
        shard: part.shard,
        campaign: part.campaign,
        written_on: None,
        answers,
    }
}

/// Why a whole call went unanswered; every claim in it hears the same.
enum CallFailure {
    Redis(RedisError),
    Corrupt(String),
}

impl CallFailure {
    fn to_error(&self, campaign: CampaignId) -> EngineError {
        match self {
            Self::Redis(error) => EngineError::Redis(error.clone()),
            Self::Corrupt(detail) => EngineError::CorruptState {
                campaign,
                detail: detail.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim of `campaign` by member `n`, and the receiver its caller would wait on.
    fn request(campaign: i64, n: usize) -> (Request, oneshot::Receiver<Answer>) {
        let (answer, answered) = oneshot::channel();
        let request = Request {
            campaign: CampaignId(campaign),
            user: UserId::parse(&format!("member-{n}")).unwrap(),
            answer,
        };
        (request, answered)
    }

    /// Which members each call carries, calls sorted by campaign.
    fn members(calls: &[(CampaignId, Vec<Request>)]) -> Vec<(i64, Vec<&str>)> {
        let mut members: Vec<(i64, Vec<&str>)> = calls
            .iter()
            .map(|(campaign, claims)| {
                let users = claims.iter().map(|claim| claim.user.as_str()).collect();
                (campaign.0, users)
            })
            .collect();
        members.sort_by_key(|(campaign, _)| *campaign);
        members
    }

    #[test]
    fn a_round_becomes_one_call_per_campaign_in_arrival_order() {
        let (round, _waiting): (Vec<_>, Vec<_>) = [(1, 0), (2, 1), (1, 2), (2, 3), (1, 4)]
            .into_iter()
            .map(|(campaign, n)| request(campaign, n))
            .unzip();
        let calls = parts_of_round(round.into_iter());
        assert_eq!(
            members(&calls),
            vec![
                (1, vec!["member-0", "member-2", "member-4"]),
                (2, vec!["member-1", "member-3"]),
            ]
        );
    }

    #[test]
    fn a_campaign_with_more_claims_than_a_call_holds_gets_several_calls_in_order() {
        let (round, _waiting): (Vec<_>, Vec<_>) = (0..2 * MOST_CLAIMS_PER_CALL + 1)
            .map(|n| request(7, n))
            .unzip();
        let calls = parts_of_round(round.into_iter());
        let sizes: Vec<usize> = calls.iter().map(|(_, claims)| claims.len()).collect();
        assert_eq!(sizes, [MOST_CLAIMS_PER_CALL, MOST_CLAIMS_PER_CALL, 1]);
        let order: Vec<&str> = calls
            .iter()
            .flat_map(|(_, claims)| claims.iter().map(|claim| claim.user.as_str()))
            .collect();
        let arrival: Vec<String> = (0..order.len()).map(|n| format!("member-{n}")).collect();
        assert_eq!(order, arrival, "arrival order kept across calls");
    }

    #[test]
    fn a_claim_whose_caller_stopped_waiting_is_not_sent() {
        let (gone, gone_waiting) = request(1, 0);
        let (kept, _kept_waiting) = request(1, 1);
        drop(gone_waiting);
        let calls = parts_of_round([gone, kept].into_iter());
        assert_eq!(members(&calls), vec![(1, vec!["member-1"])]);
    }

    /// A part of `campaign` carrying `claims` claims.
    fn part(campaign: i64, claims: usize) -> (Part, Vec<oneshot::Receiver<Answer>>) {
        let (claims, waiting) = (0..claims).map(|n| request(campaign, n)).unzip();
        let part = Part {
            shard: None,
            campaign: CampaignId(campaign),
            claims,
        };
        (part, waiting)
    }

    /// The campaigns of each call, in order.
    fn campaigns_of(calls: &[Vec<Part>]) -> Vec<Vec<i64>> {
        let campaigns = |call: &Vec<Part>| call.iter().map(|part| part.campaign.0).collect();
        calls.iter().map(campaigns).collect()
    }

    #[test]
    fn campaigns_of_one_node_share_calls_of_at_most_a_calls_claims() {
        let node = |campaign: CampaignId| {
            let name = if campaign.0 % 2 == 0 { "even" } else { "odd" };
            Some(Arc::from(name))
        };
        let (parts, _waiting): (Vec<_>, Vec<_>) = [(1, 30), (2, 5), (3, 30), (4, 5), (5, 10)]
            .into_iter()
            .map(|(campaign, claims)| part(campaign, claims))
            .unzip();
        let calls = calls_of_parts(parts, node);
        let mut campaigns = campaigns_of(&calls);
        campaigns.sort();
        assert_eq!(campaigns, vec![vec![1, 3], vec![2, 4], vec![5]]);
        assert!(calls.iter().all(
            |call| call.iter().map(|part| part.claims.len()).sum::<usize>() <= MOST_CLAIMS_PER_CALL
        ));
    }

    #[test]
    fn a_campaign_whose_node_is_not_known_goes_out_alone() {
        let (parts, _waiting): (Vec<_>, Vec<_>) = [(1, 1), (2, 1)]
            .into_iter()
            .map(|(c, n)| part(c, n))
            .unzip();
        let calls = calls_of_parts(parts, |_| None);
        assert_eq!(campaigns_of(&calls), vec![vec![1], vec![2]]);
    }
}
