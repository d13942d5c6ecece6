//! The fair draw of a chaos run (issue 29): a campaign whose entries are open from the start and
//! whose draw (`claim_starts_at`) falls a third of the way into the fault schedule. Its clients
//! enter members through the JSON API (202 `entered`), keep asking for their result (404
//! `entered` before the draw, 503 `draw_in_progress` during it, then 200 with the code or 404
//! `not_drawn`) and claim after the draw; draw_checker.rs holds their answers against the record.

use crate::clients::{Action, Answer, request};
use chrono::{DateTime, Utc};
use coupon::{CampaignId, Engine};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// Clients of the draw, beside the run's twelve (whose dice are left as they were).
const CLIENTS: usize = 4;
/// Members who may enter: more than the coupons, so that some are not drawn.
const MEMBERS: usize = 400;
/// Members who only claim after the draw, never having entered.
const LATECOMERS: usize = 100;
/// Coupons of the draw.
const QUANTITY: i64 = 120;

/// The draw's campaign, as the run created it.
pub struct FairDraw {
    pub id: CampaignId,
    pub quantity: i64,
    /// Its `claim_starts_at`: the time of the draw.
    pub draw_at: DateTime<Utc>,
    /// The commitment published at its creation, before anyone entered (hex SHA-256).
    pub commitment: String,
}

impl FairDraw {
    /// Entries open from now on; the draw a third of `run` from now; claims open long after.
    pub async fn create(engine: &Engine, run: Duration) -> Self {
        let now = Utc::now();
        let span = |of: Duration| chrono::Duration::from_std(of).expect("a duration");
        let mut draft = crate::support::draft(QUANTITY);
        draft.opening = Some("fair_draw".to_owned());
        draft.entries_open_at = Some(now - chrono::Duration::minutes(1));
        draft.claim_starts_at = now + span(run / 3);
        draft.claim_ends_at = now + span(run) + chrono::Duration::hours(1);
        let campaign = engine.create_campaign(&draft).await.expect("a fair draw");
        let report = engine
            .draw_report(campaign.id)
            .await
            .expect("the draw's public facts")
            .expect("a fair draw has a draw");
        Self {
            id: campaign.id,
            quantity: QUANTITY,
            draw_at: campaign.claim_starts_at,
            commitment: report.draw_commitment,
        }
    }
}

/// One answer of a draw client, with what a status or a lookup showed of the draw.
#[derive(Debug, Clone)]
pub struct DrawAnswer {
    pub answer: Answer,
    /// A status answer's `draw_commitment` and `draw_secret`.
    pub commitment: Option<String>,
    pub secret: Option<String>,
    /// The member's digest as shown (`not_drawn`, or a winner's lookup) and a winner's rank.
    pub digest: Option<String>,
    pub rank: Option<i64>,
}

/// The draw's clients, until [`Clients::finish`].
pub struct Clients {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    answers: Arc<Mutex<Vec<DrawAnswer>>>,
}

impl Clients {
    pub fn start(seed: u64, urls: Vec<String>, draw: &FairDraw) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for n in 0..CLIENTS {
            let mut client = Client {
                http: http.clone(),
                urls: urls.clone(),
                rng: StdRng::seed_from_u64(seed.wrapping_mul(7_000_003).wrapping_add(n as u64)),
                campaign: draw.id,
                draw_at: draw.draw_at,
                entered: Vec::new(),
            };
            let (stop, answers) = (stop.clone(), answers.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let answer = client.act().await;
                    answers.lock().await.push(answer);
                    // A member's pace, not a load generator's: the run's twelve clients are that.
                    let pause = Duration::from_millis(client.rng.random_range(10..40));
                    tokio::time::sleep(pause).await;
                }
            });
        }
        Self {
            stop,
            tasks,
            answers,
        }
    }

    /// Stops the clients (each finishes its request in flight) and returns every answer.
    pub async fn finish(mut self) -> Vec<DrawAnswer> {
        self.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("a draw client panicked");
        }
        std::mem::take(&mut *self.answers.lock().await)
    }
}

struct Client {
    http: reqwest::Client,
    urls: Vec<String>,
    rng: StdRng,
    campaign: CampaignId,
    draw_at: DateTime<Utc>,
    /// Members this client was told `entered` for: whose result it asks for.
    entered: Vec<String>,
}

impl Client {
    async fn act(&mut self) -> DrawAnswer {
        let dice = self.rng.random_range(0..100);
        if dice < 10 {
            return self.status().await;
        }
        if dice < 50 && !self.entered.is_empty() {
            let member = self.entered[self.rng.random_range(0..self.entered.len())].clone();
            return self.lookup(member).await;
        }
        let member = if dice >= 85 && Utc::now() >= self.draw_at {
            let n = self.rng.random_range(0..LATECOMERS);
            format!("late{}-{n}", self.campaign)
        } else {
            format!("d{}-{}", self.campaign, self.rng.random_range(0..MEMBERS))
        };
        self.claim(member).await
    }

    /// An entry before the draw, a claim after it.
    async fn claim(&mut self, member: String) -> DrawAnswer {
        let path = format!("/api/v1/campaigns/{}/claims", self.campaign);
        let body = json!({ "user_id": member });
        let (status, reply, sent, received) =
            self.send(reqwest::Method::POST, &path, Some(body)).await;
        let outcome = outcome_of(&reply);
        if status == 202 && outcome.as_deref() == Some("entered") && !self.entered.contains(&member)
        {
            self.entered.push(member.clone());
        }
        let answer = self.answer(Action::Claim, member, &reply, status, (sent, received));
        DrawAnswer {
            digest: text(&reply["digest"]),
            ..plain(answer)
        }
    }

    /// The member's result: 404 `entered`, 503 `draw_in_progress`, 200 or 404 `not_drawn`.
    async fn lookup(&mut self, member: String) -> DrawAnswer {
        let path = format!("/api/v1/campaigns/{}/claims/{member}", self.campaign);
        let (status, reply, sent, received) = self.send(reqwest::Method::GET, &path, None).await;
        let answer = self.answer(Action::Lookup, member, &reply, status, (sent, received));
        DrawAnswer {
            digest: text(&reply["draw_digest"]).or_else(|| text(&reply["error"]["digest"])),
            rank: reply["draw_rank"].as_i64(),
            ..plain(answer)
        }
    }

    /// The campaign's public facts: the commitment, and the secret once the draw is completed.
    async fn status(&mut self) -> DrawAnswer {
        let path = format!("/api/v1/campaigns/{}", self.campaign);
        let (status, reply, sent, received) = self.send(reqwest::Method::GET, &path, None).await;
        let times = (sent, received);
        let mut answer = self.answer(Action::Status, String::new(), &reply, status, times);
        answer.code = None;
        DrawAnswer {
            commitment: text(&reply["draw_commitment"]),
            secret: text(&reply["draw_secret"]),
            ..plain(answer)
        }
    }

    fn answer(
        &self,
        action: Action,
        member: String,
        reply: &Value,
        status: u16,
        (sent, received): (DateTime<Utc>, DateTime<Utc>),
    ) -> Answer {
        Answer {
            action,
            campaign: self.campaign,
            member,
            code: text(&reply["code"]),
            order: None,
            status,
            outcome: outcome_of(reply),
            sent,
            received,
        }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, DateTime<Utc>, DateTime<Utc>) {
        let base = &self.urls[self.rng.random_range(0..self.urls.len())];
        request(&self.http, method, &format!("{base}{path}"), body).await
    }
}

fn plain(answer: Answer) -> DrawAnswer {
    DrawAnswer {
        answer,
        commitment: None,
        secret: None,
        digest: None,
        rank: None,
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A claim's `outcome`, or an error's `code` (`entered`, `not_drawn`, `draw_in_progress`, …).
fn outcome_of(reply: &Value) -> Option<String> {
    text(&reply["outcome"]).or_else(|| text(&reply["error"]["code"]))
}
