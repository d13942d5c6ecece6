//! The clients of a chaos run: each claims, redeems, releases and retries released orders
//! through the JSON API of either instance, as its seeded dice say, and logs every answer.

use crate::support::API_KEY;
use chrono::{DateTime, Utc};
use coupon::CampaignId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
    Redeem,
    Release,
    /// A redemption sent again for an order this client saw released.
    LateRetry,
    /// A member's coupon asked for (`GET …/claims/{user_id}`): the fair draw's clients (draw.rs).
    Lookup,
    /// A campaign's public numbers asked for (`GET /api/v1/campaigns/{id}`): the fair draw's
    /// commitment, and its secret once it is completed.
    Status,
}

/// One request and what came back (status 0: no answer).
#[derive(Debug, Clone)]
pub struct Answer {
    pub action: Action,
    pub campaign: CampaignId,
    pub member: String,
    pub code: Option<String>,
    pub order: Option<String>,
    pub status: u16,
    pub outcome: Option<String>,
    /// Just before the request left.
    pub sent: DateTime<Utc>,
    /// When its answer was read.
    pub received: DateTime<Utc>,
}

/// A campaign the clients claim from, with the members who may claim it.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub campaign: CampaignId,
    pub members: usize,
}

/// The clients of a run, until [`Clients::finish`].
pub struct Clients {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    pub answers: Arc<Mutex<Vec<Answer>>>,
}

/// What one client holds of what it was told.
#[derive(Default)]
struct Held {
    coupons: Vec<(CampaignId, String, String)>,
    redeemed: Vec<(CampaignId, String, String, String)>,
    released: Vec<(CampaignId, String, String, String)>,
    orders: usize,
}

impl Clients {
    pub fn start(seed: u64, count: usize, urls: Vec<String>, targets: Vec<Target>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for client in 0..count {
            let (http, stop, answers, urls, targets) = (
                http.clone(),
                stop.clone(),
                answers.clone(),
                urls.clone(),
                targets.clone(),
            );
            let rng =
                StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(client as u64));
            tasks.spawn(async move {
                let mut client = Client {
                    id: client,
                    http,
                    urls,
                    rng,
                    held: Held::default(),
                };
                while !stop.load(Ordering::SeqCst) {
                    let answer = client.act(&targets).await;
                    answers.lock().await.push(answer);
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
    pub async fn finish(mut self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("a chaos client panicked");
        }
        std::mem::take(&mut *self.answers.lock().await)
    }
}

struct Client {
    id: usize,
    http: reqwest::Client,
    urls: Vec<String>,
    rng: StdRng,
    held: Held,
}

impl Client {
    async fn act(&mut self, targets: &[Target]) -> Answer {
        let dice = self.rng.random_range(0..100);
        if dice < 12 && !self.held.coupons.is_empty() {
            return self.redeem().await;
        }
        if dice < 22 && !self.held.redeemed.is_empty() {
            return self.release().await;
        }
        if dice < 28 && !self.held.released.is_empty() {
            return self.late_retry().await;
        }
        let target = targets[self.rng.random_range(0..targets.len())];
        let member = format!(
            "m{}-{}",
            target.campaign,
            self.rng.random_range(0..target.members)
        );
        let body = json!({ "user_id": member });
        let path = format!("/api/v1/campaigns/{}/claims", target.campaign);
        let (status, reply, sent, received) =
            self.send(reqwest::Method::POST, &path, Some(body)).await;
        let code = reply["code"].as_str().map(str::to_owned);
        if status == 201
            && let Some(code) = &code
        {
            self.held
                .coupons
                .push((target.campaign, member.clone(), code.clone()));
        }
        Answer {
            action: Action::Claim,
            campaign: target.campaign,
            member,
            code,
            order: None,
            status,
            outcome: reply["outcome"].as_str().map(str::to_owned),
            sent,
            received,
        }
    }

    async fn redeem(&mut self) -> Answer {
        let index = self.rng.random_range(0..self.held.coupons.len());
        let (campaign, member, code) = self.held.coupons.swap_remove(index);
        self.held.orders += 1;
        let order = format!("c{}-o{}", self.id, self.held.orders);
        let answer = self
            .checkout(
                Action::Redeem,
                (campaign, member.clone(), code.clone(), order.clone()),
            )
            .await;
        if redeemed(&answer) {
            self.held.redeemed.push((campaign, member, code, order));
        } else if answer.status != 409 {
            // Not decided (no answer, try again): the coupon may be tried again later.
            self.held.coupons.push((campaign, member, code));
        }
        answer
    }

    async fn release(&mut self) -> Answer {
        let index = self.rng.random_range(0..self.held.redeemed.len());
        let entry = self.held.redeemed.swap_remove(index);
        let answer = self.checkout(Action::Release, entry.clone()).await;
        if answer.status == 200 && answer.outcome.as_deref() == Some("released") {
            self.held.released.push(entry);
        } else {
            self.held.redeemed.push(entry);
        }
        answer
    }

    async fn late_retry(&mut self) -> Answer {
        let index = self.rng.random_range(0..self.held.released.len());
        let entry = self.held.released[index].clone();
        self.checkout(Action::LateRetry, entry).await
    }

    /// A redemption (`Redeem`, `LateRetry`) or a release of `code` for `order`, and its answer.
    async fn checkout(
        &mut self,
        action: Action,
        (campaign, member, code, order): (CampaignId, String, String, String),
    ) -> Answer {
        let (method, path, body) = match action {
            Action::Release => (
                reqwest::Method::DELETE,
                format!("/api/v1/coupons/{code}/redemptions/{order}"),
                None,
            ),
            _ => (
                reqwest::Method::POST,
                format!("/api/v1/coupons/{code}/redemptions"),
                Some(json!({ "order_id": order, "order_amount": 50_000 })),
            ),
        };
        let (status, reply, sent, received) = self.send(method, &path, body).await;
        Answer {
            action,
            campaign,
            member,
            code: Some(code),
            order: Some(order),
            status,
            outcome: reply["outcome"].as_str().map(str::to_owned),
            sent,
            received,
        }
    }

    /// Sends to one of the instances at random; status 0 when nothing came back.
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

/// Sends one request with the API key: its status (0 when nothing came back), its JSON body
/// (null when there was none), just before it left and when its answer was read.
pub async fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value, DateTime<Utc>, DateTime<Utc>) {
    let mut request = http.request(method, url).bearer_auth(API_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let sent = Utc::now();
    let (status, reply) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or_default())
        }
        Err(_) => (0, Value::Null),
    };
    (status, reply, sent, Utc::now())
}

/// Whether the answer says the coupon was redeemed for the order (the first time or again).
pub fn redeemed(answer: &Answer) -> bool {
    matches!(answer.status, 200 | 201) && answer.outcome.as_deref() == Some("redeemed")
}
