//! The fair draw's checks (draw.rs runs its clients): the record read after the run, and every
//! answer held against it. The order is recomputed here from the revealed secret with
//! HMAC-SHA256 of the test's own (the `hmac` and `sha2` crates, not the engine's code).

use crate::checker::{self, Campaign, Findings, Record, WINDOW_SLACK_MS};
use crate::clients::{Action, Answer};
use crate::draw::{DrawAnswer, FairDraw};
use chrono::{DateTime, Utc};
use coupon::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};

/// One row of `draw_entries`.
pub struct Entry {
    pub member: String,
    pub digest: Vec<u8>,
    pub rank: Option<i64>,
}

/// The draw as PostgreSQL holds it after the run.
pub struct DrawRecord {
    pub secret: Vec<u8>,
    pub commitment: String,
    pub drawn_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub entrants: Option<i64>,
    pub winners: Option<i64>,
    pub cutoff: Option<Vec<u8>>,
    pub entries: Vec<Entry>,
    /// Every recorded coupon of the campaign: member → (code, claimed at), one a row.
    pub coupons: Vec<(String, String, DateTime<Utc>)>,
}

type DrawRow = (
    Vec<u8>,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
);

/// Reads the draw's row, entries and coupons; once the draw is completed, after the campaign's
/// queue has drained (claims after the draw included).
pub async fn read_record(engine: &Engine, draw: &FairDraw) -> DrawRecord {
    let db = engine.db();
    let completed: bool = sqlx::query_scalar(
        "SELECT completed_at IS NOT NULL FROM campaign_draws WHERE campaign_id = $1",
    )
    .bind(draw.id.0)
    .fetch_one(db)
    .await
    .expect("the draw's row");
    if completed {
        crate::support::storm::until_drained(engine, draw.id).await;
    }
    let (secret, commitment, drawn_at, completed_at, entrants, winners, cutoff): DrawRow =
        sqlx::query_as(
            "SELECT secret, commitment, drawn_at, completed_at, entrants, winners, cutoff \
             FROM campaign_draws WHERE campaign_id = $1",
        )
        .bind(draw.id.0)
        .fetch_one(db)
        .await
        .expect("the draw's row");
    let entries: Vec<(String, Vec<u8>, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, digest, drawn_rank FROM draw_entries WHERE campaign_id = $1",
    )
    .bind(draw.id.0)
    .fetch_all(db)
    .await
    .expect("the draw's entries");
    let coupons: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT user_id, code, claimed_at FROM issued_coupons WHERE campaign_id = $1",
    )
    .bind(draw.id.0)
    .fetch_all(db)
    .await
    .expect("the draw's coupons");
    DrawRecord {
        secret,
        commitment,
        drawn_at,
        completed_at,
        entrants,
        winners,
        cutoff,
        entries: entries
            .into_iter()
            .map(|(member, digest, rank)| Entry {
                member,
                digest,
                rank,
            })
            .collect(),
        coupons,
    }
}

/// HMAC-SHA256 of `member` under the draw's secret: the member's place, lowest first.
fn place_of(secret: &[u8], member: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(member.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A claim's coupon may be claimed this much before `completed_at` as recorded and still be
/// after it: the record keeps claim times to the millisecond.
const CLAIM_TIME_GRAIN_MS: i64 = 1;

/// Holds the draw clients' answers and the record against the draw's rules; each finding is a
/// break, and a draw not completed by the end of the run is one. Returns a line for the report.
pub fn check(
    answers: &[DrawAnswer],
    draw: &FairDraw,
    record: &DrawRecord,
    losses_allowed: bool,
    findings: &mut Findings,
) -> String {
    let plain: Vec<Answer> = answers.iter().map(|a| a.answer.clone()).collect();
    for answer in &plain {
        checker::tally(answer, findings);
    }
    // The run's own check: never over the quantity, no member told two codes, no code two
    // members (lookups that found a code count as telling it).
    let campaign = Campaign {
        id: draw.id,
        quantity: draw.quantity,
        ends_at: None,
    };
    let mut codes = Record::default();
    let held = record.coupons.iter();
    codes.coupons.insert(
        draw.id,
        held.map(|(member, code, _)| (member.clone(), code.clone()))
            .collect(),
    );
    checker::check_claims(&plain, &campaign, &codes, losses_allowed, findings);
    check_entries(answers, draw, record, findings);
    let seen_before = check_commitment(answers, draw, record, findings);
    let Some(completed_at) = record.completed_at else {
        findings.breaks.push(format!(
            "the fair draw of campaign {} never completed within the run: {}",
            draw.id,
            not_completed(draw, record)
        ));
        return format!("not completed; {} entrants", record.entries.len());
    };
    let winners = check_winners(draw, record, findings);
    check_holders(record, completed_at, &winners, findings);
    check_results(answers, record, completed_at, &winners, findings);
    format!(
        "{} entrants, {} drawn, completed {:.1}s after the draw time; commitment seen {} times \
         before it",
        record.entries.len(),
        winners.len(),
        (completed_at - draw.draw_at).num_milliseconds() as f64 / 1000.0,
        seen_before
    )
}

/// Why the draw is not completed, from what its row and entries say.
fn not_completed(draw: &FairDraw, record: &DrawRecord) -> String {
    let Some(drawn_at) = record.drawn_at else {
        return format!(
            "no winners were chosen (draw time {}, {} entries)",
            draw.draw_at,
            record.entries.len()
        );
    };
    let holders: HashSet<&str> = record
        .coupons
        .iter()
        .map(|(member, ..)| member.as_str())
        .collect();
    let recorded = record
        .entries
        .iter()
        .filter(|entry| entry.rank.is_some() && holders.contains(entry.member.as_str()))
        .count();
    format!(
        "winners chosen at {drawn_at}, {recorded} of {:?} winners' coupons recorded",
        record.winners
    )
}

/// Every entry acknowledged (202) is in `draw_entries`, and none after the draw time; `entered`
/// and `draw_in_progress` are only said on their side of it.
fn check_entries(
    answers: &[DrawAnswer],
    draw: &FairDraw,
    record: &DrawRecord,
    findings: &mut Findings,
) {
    let entered: HashSet<&str> = record
        .entries
        .iter()
        .map(|entry| entry.member.as_str())
        .collect();
    let after_draw = |at: DateTime<Utc>| (at - draw.draw_at).num_milliseconds() > WINDOW_SLACK_MS;
    for DrawAnswer { answer, .. } in answers {
        let outcome = answer.outcome.as_deref();
        let entry = answer.action == Action::Claim && answer.status == 202;
        let said_entered = outcome == Some("entered");
        if entry && !said_entered {
            findings
                .breaks
                .push(format!("202 that is not an entry: {answer:?}"));
        }
        if (entry || said_entered) && !entered.contains(answer.member.as_str()) {
            findings
                .breaks
                .push(format!("told entered, not in draw_entries: {answer:?}"));
        }
        if said_entered && after_draw(answer.sent) {
            findings
                .breaks
                .push(format!("told entered after the draw time: {answer:?}"));
        }
        // A lookup is only ever asked for members this client was told entered.
        if answer.action == Action::Lookup && outcome == Some("not_found") {
            findings
                .breaks
                .push(format!("an entrant's entry not found: {answer:?}"));
        }
        if outcome == Some("draw_in_progress")
            && (draw.draw_at - answer.received).num_milliseconds() > WINDOW_SLACK_MS
        {
            findings
                .breaks
                .push(format!("draw in progress before its time: {answer:?}"));
        }
    }
}

/// SHA-256 of the revealed secret is the commitment published at creation, every client was
/// shown that commitment, and the secret only once the draw was completed. Returns how many
/// status answers showed the commitment before the draw time (none is a break).
fn check_commitment(
    answers: &[DrawAnswer],
    draw: &FairDraw,
    record: &DrawRecord,
    findings: &mut Findings,
) -> usize {
    let of_secret = hex::encode(Sha256::digest(&record.secret));
    if of_secret != draw.commitment || record.commitment != draw.commitment {
        findings.breaks.push(format!(
            "draw {}: SHA-256 of the secret is {of_secret}, the commitment published before \
             the draw {}, the recorded one {}",
            draw.id, draw.commitment, record.commitment
        ));
    }
    let secret = hex::encode(&record.secret);
    let mut seen_before = 0;
    for shown in answers {
        if let Some(commitment) = &shown.commitment {
            if *commitment != draw.commitment {
                findings
                    .breaks
                    .push(format!("shown commitment {commitment}: {shown:?}"));
            }
            if shown.answer.received < draw.draw_at {
                seen_before += 1;
            }
        }
        let Some(revealed) = &shown.secret else {
            continue;
        };
        if record
            .completed_at
            .is_none_or(|done| shown.answer.received < done)
        {
            findings
                .breaks
                .push(format!("secret revealed before completion: {shown:?}"));
        }
        if *revealed != secret {
            findings
                .breaks
                .push(format!("revealed {revealed}, recorded {secret}"));
        }
    }
    if seen_before == 0 {
        findings.breaks.push(format!(
            "draw {}: no client was shown the commitment before the draw time",
            draw.id
        ));
    }
    seen_before
}

/// The winners are exactly the first min(quantity, entrants) entrants in the order recomputed
/// here, ranked as recomputed; the row's counts and cutoff agree. Returns member → rank.
fn check_winners(
    draw: &FairDraw,
    record: &DrawRecord,
    findings: &mut Findings,
) -> HashMap<String, i64> {
    let mut order: Vec<(Vec<u8>, &str)> = Vec::with_capacity(record.entries.len());
    for entry in &record.entries {
        let place = place_of(&record.secret, &entry.member);
        if place != entry.digest {
            findings.breaks.push(format!(
                "{}: stored digest {} is not HMAC-SHA256 of the id under the revealed secret ({})",
                entry.member,
                hex::encode(&entry.digest),
                hex::encode(&place)
            ));
        }
        order.push((place, entry.member.as_str()));
    }
    // By place, then member id (bytes), as the draw's ORDER BY digest, user_id COLLATE "C".
    order.sort();
    let drawn = usize::try_from(draw.quantity).unwrap_or(0).min(order.len());
    let winners: HashMap<String, i64> = order[..drawn]
        .iter()
        .zip(1..)
        .map(|((_, member), rank)| ((*member).to_owned(), rank))
        .collect();
    for entry in &record.entries {
        let expected = winners.get(&entry.member).copied();
        if entry.rank != expected {
            findings.breaks.push(format!(
                "{}: drawn_rank {:?}, the recomputed order ranks it {expected:?}",
                entry.member, entry.rank
            ));
        }
    }
    let cutoff = drawn.checked_sub(1).map(|last| order[last].0.clone());
    let counts = (record.entrants, record.winners);
    if counts != (Some(order.len() as i64), Some(drawn as i64)) || record.cutoff != cutoff {
        findings.breaks.push(format!(
            "draw {}: recorded (entrants, winners) {counts:?}, cutoff {:?}; recomputed \
             ({}, {drawn}), {:?}",
            draw.id,
            record.cutoff.as_deref().map(hex::encode),
            order.len(),
            cutoff.as_deref().map(hex::encode)
        ));
    }
    winners
}

/// Each winner holds exactly one coupon; anyone else holding one claimed it after the draw was
/// completed (what is left after a draw is first come, first served).
fn check_holders(
    record: &DrawRecord,
    completed_at: DateTime<Utc>,
    winners: &HashMap<String, i64>,
    findings: &mut Findings,
) {
    let mut held: HashMap<&str, usize> = HashMap::new();
    for (member, code, claimed_at) in &record.coupons {
        *held.entry(member.as_str()).or_default() += 1;
        let early = (completed_at - *claimed_at).num_milliseconds() > CLAIM_TIME_GRAIN_MS;
        if !winners.contains_key(member) && early {
            findings.breaks.push(format!(
                "{member}, not drawn, holds {code} claimed at {claimed_at}, before the draw \
                 completed at {completed_at}"
            ));
        }
    }
    for (member, rank) in winners {
        let coupons = held.get(member.as_str()).copied().unwrap_or(0);
        if coupons != 1 {
            findings.breaks.push(format!(
                "winner {member} (rank {rank}) holds {coupons} coupons in the record"
            ));
        }
    }
}

/// What members were told agrees with the draw: nobody issued a code by a claim before the
/// draw was completed, or told one the record does not hold; `not_drawn` only to entrants not
/// drawn, after completion, with their own digest; a winner's lookup shows their digest and rank.
fn check_results(
    answers: &[DrawAnswer],
    record: &DrawRecord,
    completed_at: DateTime<Utc>,
    winners: &HashMap<String, i64>,
    findings: &mut Findings,
) {
    let recorded: HashMap<&str, &str> = record
        .coupons
        .iter()
        .map(|(member, code, _)| (member.as_str(), code.as_str()))
        .collect();
    let entrants: HashSet<&str> = record
        .entries
        .iter()
        .map(|entry| entry.member.as_str())
        .collect();
    for shown in answers {
        let answer = &shown.answer;
        let before = answer.received < completed_at;
        let issued = answer.action == Action::Claim && answer.status == 201;
        let found = answer.action == Action::Lookup && answer.status == 200;
        if issued && before {
            findings
                .breaks
                .push(format!("issued before the draw completed: {answer:?}"));
        }
        if (issued || found)
            && before
            && answer.code.as_deref() != recorded.get(answer.member.as_str()).copied()
        {
            findings.breaks.push(format!(
                "told during the draw a code the record does not hold: {answer:?}"
            ));
        }
        let place = || Some(hex::encode(place_of(&record.secret, &answer.member)));
        if answer.outcome.as_deref() == Some("not_drawn") {
            let entrant = entrants.contains(answer.member.as_str());
            if before || !entrant || winners.contains_key(&answer.member) || shown.digest != place()
            {
                findings.breaks.push(format!(
                    "told not_drawn (entrant: {entrant}, drawn: {:?}, digest {:?}): {shown:?}",
                    winners.get(&answer.member),
                    place()
                ));
            }
        }
        if found
            && shown.digest.is_some()
            && (shown.digest != place() || shown.rank != winners.get(&answer.member).copied())
        {
            findings.breaks.push(format!(
                "a winner's lookup shows digest {:?} and rank {:?}; recomputed {:?}, {:?}",
                shown.digest,
                shown.rank,
                place(),
                winners.get(&answer.member)
            ));
        }
    }
}
