//! Holds every answer a client was given against what PostgreSQL recorded: a break is any
//! answer the README's guarantees do not allow, whatever faults the schedule mixed.

use crate::clients::{Action, Answer};
use chrono::{DateTime, Utc};
use coupon::CampaignId;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A campaign of the run, as the checker needs it.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: CampaignId,
    pub quantity: i64,
    /// The end of its window, when it closes during the run.
    pub ends_at: Option<DateTime<Utc>>,
}

/// What the record holds after the run, read once everything queued was recorded.
#[derive(Default)]
pub struct Record {
    /// Per campaign: member → code.
    pub coupons: HashMap<CampaignId, HashMap<String, String>>,
    /// (code, order) of every redemption and every release in the coupons' histories.
    pub redeemed: HashSet<(String, String)>,
    pub released: HashSet<(String, String)>,
    /// (code, order) pairs the history shows held or redeemed again after that order released
    /// the coupon: a late retry that went through, answered or not.
    pub taken_after_release: Vec<(String, String)>,
}

/// The checker's findings.
#[derive(Default)]
pub struct Findings {
    pub breaks: Vec<String>,
    /// Acknowledged claims the record does not hold, allowed by a fault that may lose them.
    pub lost: usize,
    /// Members told two codes because their first claim was lost.
    pub told_again_after_loss: usize,
    /// Answers by action and status.
    pub answers: BTreeMap<(String, u16), usize>,
}

impl Findings {
    fn broke(&mut self, what: String) {
        self.breaks.push(what);
    }
}

/// How late a claim may be sent after a window closed and still be issued: the request's
/// timestamp is taken just before it leaves, the window is judged by Redis's clock on the same
/// machine when the script runs.
pub const WINDOW_SLACK_MS: i64 = 50;

pub fn check(
    answers: &[Answer],
    campaigns: &[Campaign],
    record: &Record,
    losses_allowed: bool,
) -> Findings {
    let mut findings = Findings::default();
    for answer in answers {
        tally(answer, &mut findings);
    }
    for campaign in campaigns {
        check_claims(answers, campaign, record, losses_allowed, &mut findings);
    }
    for (code, order) in &record.taken_after_release {
        findings.broke(format!(
            "{code} taken again by {order} after {order} released it"
        ));
    }
    check_checkouts(answers, record, &mut findings);
    findings
}

/// Counts the answer by action and status; a server error other than "try again" is a break.
pub fn tally(answer: &Answer, findings: &mut Findings) {
    *findings
        .answers
        .entry((format!("{:?}", answer.action), answer.status))
        .or_default() += 1;
    if answer.status >= 500 && answer.status != 503 {
        findings.broke(format!("{} answered to {answer:?}", answer.status));
    }
}

/// Whether the answer told its member a code of the campaign: a claim issued (201), or a
/// lookup that found one (200; only the fair draw's clients look coupons up).
fn tells_code(answer: &Answer) -> bool {
    matches!(
        (answer.action, answer.status),
        (Action::Claim, 201) | (Action::Lookup, 200)
    )
}

/// A campaign's claims against its record: never more than the quantity, no code told to two
/// members, none told two codes unless a fault that allows it lost the first.
pub fn check_claims(
    answers: &[Answer],
    campaign: &Campaign,
    record: &Record,
    losses_allowed: bool,
    findings: &mut Findings,
) {
    let empty = HashMap::new();
    let recorded = record.coupons.get(&campaign.id).unwrap_or(&empty);
    if recorded.len() as i64 > campaign.quantity {
        findings.broke(format!(
            "campaign {}: {} recorded, quantity {}",
            campaign.id,
            recorded.len(),
            campaign.quantity
        ));
    }
    let mut codes_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut told: Vec<&Answer> = Vec::new();
    let mut holders_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for answer in answers
        .iter()
        .filter(|a| a.campaign == campaign.id && tells_code(a))
    {
        let Some(code) = answer.code.as_deref() else {
            findings.broke(format!("issued without a code: {answer:?}"));
            continue;
        };
        codes_of.entry(&answer.member).or_default().insert(code);
        told.push(answer);
        holders_of.entry(code).or_default().insert(&answer.member);
        if let Some(ends_at) = campaign.ends_at
            && (answer.sent - ends_at).num_milliseconds() > WINDOW_SLACK_MS
        {
            findings.broke(format!("issued after the window closed: {answer:?}"));
        }
    }
    let recorded_holders: HashMap<&str, &str> = recorded
        .iter()
        .map(|(member, code)| (code.as_str(), member.as_str()))
        .collect();
    for (code, members) in &holders_of {
        if members.len() > 1 {
            findings.broke(format!("{code} told to {members:?}"));
        }
        if let Some(holder) = recorded_holders.get(code)
            && !members.contains(holder)
        {
            findings.broke(format!("{code} told to {members:?}, recorded for {holder}"));
        }
    }
    for (member, codes) in &codes_of {
        let kept = recorded.get(*member).map(String::as_str);
        let lost: Vec<&&str> = codes.iter().filter(|code| Some(**code) != kept).collect();
        if lost.is_empty() {
            continue;
        }
        // A claim that was lost cannot be the recorded one: a member told the recorded code
        // before they were told another was issued twice, whatever faults happened.
        let recorded_told_first = told.iter().any(|first| {
            first.member == *member
                && Some(first.code.as_deref().unwrap_or_default()) == kept
                && told.iter().any(|later| {
                    later.member == *member
                        && later.code.as_deref() != kept
                        && later.sent > first.received
                })
        });
        if recorded_told_first {
            findings.broke(format!(
                "{member} was told their recorded code {kept:?}, then another: {codes:?}"
            ));
            continue;
        }
        if !losses_allowed {
            findings.broke(format!(
                "{member} was told {codes:?}, the record holds {kept:?}, and no fault allows a loss"
            ));
            continue;
        }
        findings.lost += lost.len();
        if codes.len() > 1 {
            findings.told_again_after_loss += 1;
        }
    }
}

fn check_checkouts(answers: &[Answer], record: &Record, findings: &mut Findings) {
    for answer in answers {
        let (Some(code), Some(order)) = (&answer.code, &answer.order) else {
            continue;
        };
        let key = (code.clone(), order.clone());
        let redeemed = crate::clients::redeemed(answer);
        match answer.action {
            Action::Redeem if redeemed && !record.redeemed.contains(&key) => findings.broke(
                format!("redemption acknowledged, not in the record: {answer:?}"),
            ),
            Action::Release if answer.status == 200 && !record.released.contains(&key) => findings
                .broke(format!(
                    "release acknowledged, not in the record: {answer:?}"
                )),
            Action::LateRetry if redeemed => findings.broke(format!(
                "a released order consumed its coupon again: {answer:?}"
            )),
            _ => {}
        }
    }
}
