//! Shared test helpers: an engine on the Redis and PostgreSQL that `./dev test` started, and
//! campaign fixtures. Tests share one database; each works on campaigns of its own, so they can
//! run in parallel without seeing each other.
#![allow(dead_code)] // each test binary uses its own subset

use chrono::{DateTime, Duration, Utc};
use coupon::redis::{CampaignKeys, RedisTarget};
use coupon::store::MIGRATOR;
use coupon::sync::Drainer;
use coupon::{
    Campaign, CampaignDraft, CampaignId, ClaimAck, ClaimOutcome, Engine, RedisSettings,
    SyncSettings, UserId,
};
use std::future::Future;
use std::time::Duration as StdDuration;

pub mod held_link;

/// An engine with the given sync settings, migrations applied.
pub async fn engine_with(settings: SyncSettings) -> Engine {
    let database_url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the tests through ./dev test");
    let redis = RedisSettings {
        // `./dev test` runs the suites a second time with REDIS_CLUSTER_NODES set.
        target: RedisTarget::from_environment()
            .expect("REDIS_URL is not set: run the tests through ./dev test"),
        ack: ClaimAck::Primary,
    };
    let engine = Engine::connect_to(&redis, &database_url, settings)
        .await
        .expect("connect to Redis and PostgreSQL");
    MIGRATOR.run(engine.db()).await.expect("migrations");
    engine
}

/// An engine with small sync batches written in several statements each, so that tests
/// exercise several batches and statements.
pub async fn engine() -> Engine {
    engine_with(SyncSettings {
        batch_size: 100,
        rows_per_statement: 30,
        ..SyncSettings::default()
    })
    .await
}

/// A campaign draft that is open now for a day; `quantity` coupons of 3,000 won.
pub fn open_draft(quantity: i64) -> CampaignDraft {
    let now = Utc::now();
    CampaignDraft {
        name: format!("test campaign {}", rand_suffix()),
        discount_kind: "fixed_amount".into(),
        discount_amount: 3000,
        quantity,
        claim_starts_at: now - Duration::minutes(1),
        claim_ends_at: now + Duration::days(1),
        valid_days: 30,
        min_order_amount: None,
        max_discount_amount: None,
        opening: None,
        entries_open_at: None,
        bot_check_bits: None,
    }
}

/// Creates an open campaign of `quantity` coupons through the engine.
pub async fn open_campaign(engine: &Engine, quantity: i64) -> Campaign {
    engine
        .create_campaign(&open_draft(quantity))
        .await
        .expect("create campaign")
}

/// Inserts a campaign straight into PostgreSQL, bypassing validation and Redis, to set up states
/// the engine's API does not create (a window already over, a paused or ended campaign).
pub async fn recorded_campaign(
    engine: &Engine,
    quantity: i64,
    status: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> CampaignId {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO campaigns (name, discount_kind, discount_amount, quantity, claim_starts_at, \
         claim_ends_at, valid_days, status) VALUES ($1, 'percentage', 10, $2, $3, $4, 7, $5) \
         RETURNING id",
    )
    .bind(format!("fixture {}", rand_suffix()))
    .bind(quantity)
    .bind(starts_at)
    .bind(ends_at)
    .bind(status)
    .fetch_one(engine.db())
    .await
    .expect("insert fixture campaign");
    CampaignId(id)
}

/// A user id unique to this test run.
pub fn user(n: usize) -> UserId {
    UserId::parse(&format!("user-{n}")).expect("valid user id")
}

/// Rows PostgreSQL holds for a campaign.
pub async fn rows(engine: &Engine, id: CampaignId) -> i64 {
    coupon::store::coupons::count(engine.db(), id)
        .await
        .expect("count rows")
}

/// The run id of the Redis node that holds the campaign's keys (claim.lua's first argument):
/// a script call on one of them reaches that node on a cluster too.
pub async fn redis_run_id(engine: &Engine, id: CampaignId) -> String {
    redis::cmd("EVAL")
        .arg("return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')")
        .arg(1)
        .arg(CampaignKeys::new(id).meta)
        .query_async(&mut engine.redis())
        .await
        .expect("the node's run id")
}

/// The sum over every primary of a number `INFO <section>` reports on a `name:value` line, or
/// of one field of it (`name:field=value,…`).
pub async fn info_sum(engine: &Engine, section: &str, name: &str, field: Option<&str>) -> u64 {
    let answers = engine
        .redis()
        .on_primaries(redis::cmd("INFO").arg(section))
        .await
        .expect("INFO on every primary");
    answers
        .into_iter()
        .map(|(_, answer)| {
            let info: String = redis::from_redis_value(answer).expect("INFO text");
            let prefix = format!("{name}:");
            let Some(value) = info
                .lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
            else {
                return 0;
            };
            let value = match field {
                None => value.trim(),
                Some(field) => value
                    .split(',')
                    .find_map(|part| part.strip_prefix(&format!("{field}=")))
                    .unwrap_or("0"),
            };
            value.trim().parse::<u64>().expect("a count")
        })
        .sum()
}

/// Deletes Redis keys, as a Redis that lost its data would have.
pub async fn delete_keys(engine: &Engine, keys: &[&str]) {
    use redis::AsyncCommands;
    let _: () = engine.redis().del(keys).await.expect("delete keys");
}

/// Holders recorded for the large-campaign rebuild tests.
pub const HOLDERS: i64 = 100_000;

/// Records `HOLDERS` members of the campaign straight into PostgreSQL, numbered 1 and up, then
/// deletes its Redis state: a large campaign whose Redis lost everything.
pub async fn recorded_holders_and_lost_state(engine: &Engine, id: CampaignId) {
    sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         SELECT $1, 'holder-' || n, 'HOLDER-' || $1 || '-' || n, n, now() \
         FROM generate_series(1, $2) AS n",
    )
    .bind(id.0)
    .bind(HOLDERS)
    .execute(engine.db())
    .await
    .expect("record the holders");
    delete_keys(engine, &CampaignKeys::new(id).all()).await;
}

/// Members `members` claim a coupon of `id` at the same moment (one task each, released
/// together); their outcomes, in member order.
pub async fn claim_at_once(
    engine: &Engine,
    id: CampaignId,
    members: std::ops::Range<usize>,
) -> Vec<(usize, ClaimOutcome)> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(members.len()));
    let tasks: Vec<_> = members
        .map(|n| {
            let (engine, start) = (engine.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                (n, engine.claim(id, &user(n)).await)
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (n, outcome) = task.await.expect("claim task");
        outcomes.push((n, outcome.expect("claim answered")));
    }
    outcomes
}

/// What the members who got a coupon were told: (member, sequence, code), in the given order.
pub fn issued_coupons(
    outcomes: impl IntoIterator<Item = (usize, ClaimOutcome)>,
) -> Vec<(usize, i64, String)> {
    outcomes
        .into_iter()
        .filter_map(|(n, outcome)| match outcome {
            ClaimOutcome::Issued { code, sequence, .. } => Some((n, sequence, code)),
            _ => None,
        })
        .collect()
}

/// Runs drain steps of one campaign until its queue is empty (bounded).
pub async fn drain(engine: &Engine, id: CampaignId) {
    let drainer = Drainer::new(engine.clone());
    eventually("the queue to drain", || async {
        drainer.drain_step(id).await.expect("drain step") == coupon::sync::StepOutcome::Empty
    })
    .await;
}

/// Polls `condition` every 20 ms until it holds; fails the test after 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    let mut ticks = tokio::time::interval(StdDuration::from_millis(20));
    loop {
        ticks.tick().await;
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
    }
}

fn rand_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The constraint a database error names, if it names one.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}

/// The campaign's claim state (meta, counter, issued, queue) as DUMP payloads: a copy of it as
/// one Redis holds it now.
pub async fn snapshot(engine: &Engine, id: CampaignId) -> Vec<(String, Vec<u8>)> {
    let keys = CampaignKeys::new(id);
    let mut saved = Vec::new();
    for key in [&keys.meta, &keys.counter, &keys.issued, &keys.queue] {
        let dump: Option<Vec<u8>> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut engine.redis())
            .await
            .expect("DUMP");
        if let Some(dump) = dump {
            saved.push((key.clone(), dump));
        }
    }
    saved
}

/// Puts a [`snapshot`] back over whatever the keys hold now (keys it lacks are deleted): the
/// campaign as an older copy of Redis, or another Redis, holds it.
pub async fn roll_back(engine: &Engine, id: CampaignId, saved: &[(String, Vec<u8>)]) {
    let keys = CampaignKeys::new(id);
    delete_keys(
        engine,
        &[&keys.meta, &keys.counter, &keys.issued, &keys.queue],
    )
    .await;
    for (key, dump) in saved {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(dump.as_slice())
            .query_async(&mut engine.redis())
            .await
            .expect("RESTORE");
    }
}

/// Stamps the campaign's state as verified by an earlier Redis process: a promoted replica holds
/// the old primary's stamp, a Redis restarted from its files its previous process's.
pub async fn stamp_by_an_earlier_redis(engine: &Engine, id: CampaignId) {
    let keys = CampaignKeys::new(id);
    let _: () =
        redis::AsyncCommands::hset(&mut engine.redis(), &keys.meta, "run", "an-earlier-redis")
            .await
            .expect("HSET");
}

/// Runs drain steps of one campaign with `drainer` until its queue is empty (one drainer a
/// test: each holds the campaign's lease once it drained it).
pub async fn drain_with(drainer: &Drainer, id: CampaignId) {
    eventually("the queue to drain", || async {
        drainer.drain_step(id).await.expect("drain step") == coupon::sync::StepOutcome::Empty
    })
    .await;
}
