//! A claim storm through the JSON API, and the invariants checked after it.

use coupon::{CampaignId, Engine};
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// What the clients of a storm saw.
#[derive(Default)]
pub struct Seen {
    /// Users told "issued", with the code they were given.
    pub issued: HashMap<String, String>,
    /// Every user who sent a claim (answered or not).
    pub attempted: HashSet<String>,
    /// Answers by HTTP status (0 = no answer: connection refused, reset or timed out).
    pub statuses: HashMap<u16, usize>,
    /// The slowest answer of any kind.
    pub slowest: Duration,
    /// Users told "issued" a second time (only possible if Redis lost an unsynced claim).
    pub told_twice: Vec<String>,
}

/// A storm in progress: `tasks` clients claiming for users `user-0`, `user-1`, … (each user id
/// used `repeat` times) against the base URLs in turn, until the users run out or `stop()`.
pub struct Storm {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    tasks: JoinSet<()>,
    seen: Arc<Mutex<Seen>>,
}

impl Storm {
    pub fn start(
        urls: Vec<String>,
        campaign: CampaignId,
        users: usize,
        repeat: usize,
        tasks: usize,
    ) -> Self {
        Self::start_from(0, urls, campaign, users, repeat, tasks)
    }

    /// The same for users `user-{first}`, `user-{first + 1}`, ….
    pub fn start_from(
        first: usize,
        urls: Vec<String>,
        campaign: CampaignId,
        users: usize,
        repeat: usize,
        tasks: usize,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut set = JoinSet::new();
        for _ in 0..tasks {
            let (client, stop, next, answered, seen, urls) = (
                client.clone(),
                stop.clone(),
                next.clone(),
                answered.clone(),
                seen.clone(),
                urls.clone(),
            );
            set.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= users * repeat {
                        return;
                    }
                    let user = format!("user-{}", first + n % users);
                    let base = &urls[n % urls.len()];
                    let url = format!("{base}/api/v1/campaigns/{campaign}/claims");
                    let started = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(super::API_KEY)
                        .json(&serde_json::json!({ "user_id": user }))
                        .send()
                        .await;
                    let took = started.elapsed();
                    let (status, code) = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let body: serde_json::Value = response.json().await.unwrap_or_default();
                            (status, body["code"].as_str().map(str::to_owned))
                        }
                        Err(_) => (0, None),
                    };
                    answered.fetch_add(1, Ordering::SeqCst);
                    let mut seen = seen.lock().await;
                    seen.attempted.insert(user.clone());
                    *seen.statuses.entry(status).or_default() += 1;
                    seen.slowest = seen.slowest.max(took);
                    if let (201, Some(code)) = (status, code)
                        && seen.issued.insert(user.clone(), code).is_some()
                    {
                        seen.told_twice.push(user);
                    }
                }
            });
        }
        Self {
            stop,
            answered,
            tasks: set,
            seen,
        }
    }

    /// Claims answered so far.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until at least `n` claims were answered.
    pub async fn until_answered(&self, n: usize) {
        let answered = &self.answered;
        super::eventually(
            "the storm to get answers",
            Duration::from_secs(30),
            || async { answered.load(Ordering::SeqCst) >= n },
        )
        .await;
    }

    /// Stops sending and returns what was seen.
    pub async fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("a storm client panicked");
        }
        std::mem::take(&mut *self.seen.lock().await)
    }

    /// Lets the storm run out of users, then returns what was seen.
    pub async fn run_out(mut self) -> Seen {
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("a storm client panicked");
        }
        std::mem::take(&mut *self.seen.lock().await)
    }
}

impl Seen {
    /// What this storm and a later one saw together (a user told "issued" in both counts as
    /// told twice).
    pub fn and_then(mut self, later: Seen) -> Seen {
        self.attempted.extend(later.attempted);
        for (status, n) in later.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.slowest = self.slowest.max(later.slowest);
        self.told_twice.extend(later.told_twice);
        for (user, code) in later.issued {
            if self.issued.insert(user.clone(), code).is_some() {
                self.told_twice.push(user);
            }
        }
        self
    }
}

/// Waits (bounded) until the campaign's queue is empty, i.e. everything issued is recorded.
pub async fn until_drained(engine: &Engine, campaign: CampaignId) {
    super::eventually("the campaign to drain", Duration::from_secs(30), || async {
        matches!(engine.status(campaign).await, Ok(Some(status))
            if status.queued == 0 && status.remaining.is_some())
    })
    .await;
}

/// The users Redis says hold a coupon of `campaign` (the issued hash's fields).
pub async fn issued_in_redis(engine: &Engine, campaign: CampaignId) -> HashSet<String> {
    let keys = coupon::redis::CampaignKeys::new(campaign);
    engine.redis().hkeys(&keys.issued).await.expect("HKEYS")
}

/// The README's guarantees after a storm: Redis's issued users, PostgreSQL's rows and the claims
/// answered `issued` agree one to one; no row without a claim; nobody twice; never more than
/// the quantity; every code unique.
pub async fn assert_invariants(engine: &Engine, campaign: CampaignId, quantity: i64, seen: &Seen) {
    assert!(
        seen.told_twice.is_empty(),
        "told issued twice: {:?}",
        seen.told_twice
    );
    let rows = engine.recorded_coupons(campaign).await.expect("rows");
    let recorded: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r.user_id.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(recorded.len(), rows.len(), "a user recorded twice");
    let codes: HashSet<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes.len(), rows.len(), "a code issued twice");
    assert!(
        rows.len() as i64 <= quantity,
        "over-issued: {} > {quantity}",
        rows.len()
    );
    for (user, code) in &seen.issued {
        assert_eq!(
            recorded.get(user.as_str()),
            Some(&code.as_str()),
            "{user} was told {code} but PostgreSQL does not have it"
        );
    }
    for row in &rows {
        assert!(
            seen.attempted.contains(&row.user_id),
            "a row for {} who never claimed",
            row.user_id
        );
    }
    let in_redis = issued_in_redis(engine, campaign).await;
    let in_postgres: HashSet<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    assert_eq!(
        in_redis, in_postgres,
        "Redis's issued set and PostgreSQL disagree"
    );
    let status = engine
        .status(campaign)
        .await
        .expect("status")
        .expect("campaign");
    assert_eq!(status.remaining, Some(quantity - rows.len() as i64));
}
