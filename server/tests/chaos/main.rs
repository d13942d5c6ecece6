//! A randomized, seeded fault schedule with a checker (`./dev chaos`): twelve clients claim,
//! redeem, release and retry released orders through two server instances, and four more enter
//! a fair draw held a third of the way in, ask for their result and claim after it (draw.rs),
//! while the schedule mixes the faults of the topology (Redis killed, restored from an older
//! append-only file, paused, flushed; a primary killed, a failover to a replica that fell
//! behind, a replica lost; a slot migrated) with PostgreSQL cut off and an instance SIGKILLed.
//! Afterwards every answer is held against the record (checker.rs, draw_checker.rs). A failing
//! run prints its seed; the same seed replays the same schedule.
//!
//! `CHAOS_SEED` (default 1), `CHAOS_MINUTES` (default 1) and `CHAOS_TOPOLOGY` (`single`,
//! `sentinel` or `cluster`; unset: all three, one after the other) choose the run.

#[path = "../support/mod.rs"]
mod support;

mod checker;
mod clients;
mod draw;
mod draw_checker;
mod topology;

use checker::{Campaign, Record, check};
use chrono::Utc;
use clients::{Clients, Target};
use coupon::{CampaignId, ClaimAck, Engine, RedisSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::API_KEY;
use support::process::{Proxy, ServerProcess, free_port};
use support::stack::{Database, test_engine};
use topology::{Fault, Redis, Topology};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_fault_schedule_on_one_redis_breaks_no_guarantee() {
    run(Topology::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_fault_schedule_on_sentinel_breaks_no_guarantee() {
    run(Topology::Sentinel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_fault_schedule_on_a_cluster_breaks_no_guarantee() {
    run(Topology::Cluster).await;
}

/// The three topologies' runs share the machine's two cores: one at a time.
static ONE_RUN_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CLIENTS: usize = 12;
/// The campaign claimed until it says "sold out": small, so that it sells out during the run.
const SELLS_OUT: i64 = 150;
/// Claims must be served again this soon after the last fault was healed.
const RECOVERY: Duration = Duration::from_secs(30);

struct Settings {
    seed: u64,
    duration: Duration,
}

fn settings() -> Settings {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(1);
    let minutes: f64 = std::env::var("CHAOS_MINUTES")
        .ok()
        .and_then(|minutes| minutes.parse().ok())
        .filter(|minutes: &f64| *minutes > 0.0)
        .unwrap_or(1.0);
    Settings {
        seed,
        duration: Duration::from_secs_f64(minutes * 60.0),
    }
}

fn chosen(topology: Topology) -> bool {
    std::env::var("CHAOS_TOPOLOGY").map_or(true, |wanted| wanted == topology.name())
}

async fn run(topology: Topology) {
    if !chosen(topology) {
        println!("chaos {}: not chosen by CHAOS_TOPOLOGY", topology.name());
        return;
    }
    let _alone = ONE_RUN_AT_A_TIME.lock().await;
    let Settings { seed, duration } = settings();
    println!(
        "chaos {}: seed {seed}, {:.1} minutes (replay: ./dev chaos --seed {seed}{})",
        topology.name(),
        duration.as_secs_f64() / 60.0,
        match topology {
            Topology::Single => "",
            Topology::Sentinel => " --sentinel",
            Topology::Cluster => " --cluster",
        }
    );
    let mut redis = Redis::start(topology).await;
    let database = Database::create(&format!("chaos_{}", topology.name()), redis.tag()).await;
    let engine = test_engine(
        &RedisSettings {
            target: redis.target(),
            ack: ClaimAck::Primary,
        },
        &database.url,
    )
    .await;
    let postgres = Proxy::start(address_of(&database.url)).await;
    let proxied = with_port(&database.url, postgres.port);
    let campaigns = create_campaigns(&engine, duration).await;
    let fair_draw = draw::FairDraw::create(&engine, duration).await;

    let (redis_url, mut env) = redis.server_env();
    env.extend(topology.ack_env());
    let instances = Instances {
        name: format!("chaos-{}", topology.name()),
        ports: [free_port(), free_port()],
        redis_url,
        database_url: proxied,
        env,
    };
    let mut servers = vec![instances.start(0).await, instances.start(1).await];
    let urls: Vec<String> = servers.iter().map(|server| server.url("")).collect();
    let targets = vec![
        Target {
            campaign: campaigns[0].id,
            members: 600,
        },
        Target {
            campaign: campaigns[1].id,
            members: 4000,
        },
        Target {
            campaign: campaigns[2].id,
            members: 4000,
        },
    ];
    let clients = Clients::start(seed, CLIENTS, urls.clone(), targets);
    let draw_clients = draw::Clients::start(seed, urls.clone(), &fair_draw);

    // The schedule.
    let mut dice = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    let mut losses_allowed = false;
    let mut last_healed = Instant::now();
    loop {
        let gap = Duration::from_millis(dice.random_range(2_000..6_000));
        if started.elapsed() + gap + Duration::from_secs(3) > duration {
            break;
        }
        topology::keep_for(gap).await;
        let fault = draw(&mut dice, topology);
        let hold = Duration::from_millis(dice.random_range(500..3_000));
        let campaign = campaigns[dice.random_range(0..campaigns.len())].id;
        let which = dice.random_range(0..servers.len());
        println!(
            "  {:>5.1}s {fault:?} for {:.1}s",
            started.elapsed().as_secs_f64(),
            hold.as_secs_f64()
        );
        match fault {
            Fault::PostgresDown => {
                postgres.cut().await;
                topology::keep_for(hold).await;
                postgres.restore();
            }
            Fault::InstanceKilled => {
                servers[which].kill();
                topology::keep_for(hold).await;
                servers[which] = instances.start(which).await;
            }
            Fault::Controlled => pause_and_resume(&engine, campaigns[1].id, hold).await,
            redis_fault => {
                if redis.suffer(redis_fault, campaign, hold).await {
                    println!("    ... and the sentinel failed the paused primary over");
                    losses_allowed = true;
                }
            }
        }
        losses_allowed |= topology.may_lose_claims(fault);
        *faults.entry(format!("{fault:?}")).or_default() += 1;
        last_healed = Instant::now();
    }
    let recovered = served_again(&urls, campaigns[1].id).await;
    let recovered_after = recovered.map(|at| at.saturating_duration_since(last_healed));
    let answers = clients.finish().await;
    let draw_answers = draw_clients.finish().await;
    let schedule_took = started.elapsed();
    let topped_up = top_up(&urls[0], campaigns[0].id).await;
    for campaign in &campaigns {
        support::storm::until_drained(&engine, campaign.id).await;
    }
    let record = read_record(&engine, &campaigns).await;
    let draw_record = draw_checker::read_record(&engine, &fair_draw).await;

    let mut findings = check(&answers, &campaigns, &record, losses_allowed);
    let draw_summary = draw_checker::check(
        &draw_answers,
        &fair_draw,
        &draw_record,
        losses_allowed,
        &mut findings,
    );
    let sold = record.coupons.get(&campaigns[0].id).map_or(0, |c| c.len()) as i64;
    if !topped_up || sold != SELLS_OUT {
        findings.breaks.push(format!(
            "undersold: campaign {} said sold out: {topped_up}, holds {sold} of {SELLS_OUT}",
            campaigns[0].id
        ));
    }
    match recovered_after {
        Some(after) if after <= RECOVERY => {}
        other => findings.breaks.push(format!(
            "claims not served again within {RECOVERY:?} of the last fault: {other:?}"
        )),
    }

    let answered_claims = answers
        .iter()
        .filter(|a| a.action == clients::Action::Claim && matches!(a.status, 201 | 409))
        .count();
    println!("chaos {}: seed {seed}", topology.name());
    println!("  faults: {faults:?}");
    for ((action, status), count) in &findings.answers {
        println!("  {action} {status}: {count}");
    }
    println!(
        "  claims answered: {answered_claims} ({:.0}/s); acknowledged claims lost to faults that \
         allow it: {}; members told a second code after a loss: {}; served again {:?} after the \
         last fault",
        answered_claims as f64 / schedule_took.as_secs_f64(),
        findings.lost,
        findings.told_again_after_loss,
        recovered_after
    );
    println!("  fair draw {}: {draw_summary}", fair_draw.id);
    println!("  breaks: {}", findings.breaks.len());
    for found in findings.breaks.iter().take(20) {
        println!("    {found}");
    }
    assert!(
        findings.breaks.is_empty(),
        "chaos {} seed {seed}: {} breaks (first: {})",
        topology.name(),
        findings.breaks.len(),
        findings.breaks[0]
    );
    drop(servers);
    engine.db().close().await;
    database.remove().await;
}

/// A fault for this topology: Redis faults twice as often as the others.
fn draw(dice: &mut StdRng, topology: Topology) -> Fault {
    let redis = topology.redis_faults();
    let index = dice.random_range(0..redis.len() * 2 + 3);
    match index.checked_sub(redis.len() * 2) {
        Some(0) => Fault::PostgresDown,
        Some(1) => Fault::InstanceKilled,
        Some(_) => Fault::Controlled,
        None => redis[index / 2],
    }
}

/// A marketer (a third instance: the checker's own engine) pauses the campaign for `hold`, then
/// resumes it, while the servers claim: controls racing claims and the faults before them.
async fn pause_and_resume(engine: &Engine, campaign: CampaignId, hold: Duration) {
    for status in [
        coupon::CampaignStatus::Paused,
        coupon::CampaignStatus::Active,
    ] {
        // Redis may still be coming back from the previous fault: asked again until it answers.
        let set = support::first_within(Duration::from_secs(30), || async {
            engine.set_status(campaign, status).await.ok()
        });
        assert!(
            set.await.is_some(),
            "the campaign could not be set {status:?}"
        );
        if status == coupon::CampaignStatus::Paused {
            topology::keep_for(hold).await;
        }
    }
}

/// The run's campaigns: one that sells out, one that does not, one whose window closes at 60%
/// of the run.
async fn create_campaigns(engine: &Engine, run: Duration) -> Vec<Campaign> {
    let mut made = Vec::new();
    for (quantity, closes) in [(SELLS_OUT, false), (100_000, false), (100_000, true)] {
        let mut draft = support::draft(quantity);
        let ends_at = closes.then(|| {
            Utc::now() + chrono::Duration::from_std(run.mul_f64(0.6)).expect("a duration")
        });
        if let Some(ends_at) = ends_at {
            draft.claim_ends_at = ends_at;
        }
        let campaign = engine.create_campaign(&draft).await.expect("a campaign");
        made.push(Campaign {
            id: campaign.id,
            quantity,
            ends_at,
        });
    }
    made
}

/// How to start (and start again) the two server instances.
struct Instances {
    name: String,
    ports: [u16; 2],
    redis_url: String,
    database_url: String,
    env: Vec<(&'static str, String)>,
}

impl Instances {
    async fn start(&self, which: usize) -> ServerProcess {
        ServerProcess::start_with(
            &format!("{}-{which}", self.name),
            self.ports[which],
            &self.redis_url,
            &self.database_url,
            &self.env,
        )
        .await
    }
}

/// When a claim was first served (issued or refused, not "try again") through every instance,
/// asked from now on; `None` if not within [`RECOVERY`].
async fn served_again(urls: &[String], campaign: CampaignId) -> Option<Instant> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let deadline = Instant::now() + RECOVERY + Duration::from_secs(5);
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    for url in urls {
        let within = deadline.saturating_duration_since(Instant::now());
        let served = support::first_within(within, || async {
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let answer = http
                .post(format!("{url}/api/v1/campaigns/{campaign}/claims"))
                .bearer_auth(API_KEY)
                .json(&serde_json::json!({ "user_id": format!("recovery-{attempt}") }))
                .send()
                .await;
            answer
                .is_ok_and(|answer| matches!(answer.status().as_u16(), 201 | 409))
                .then_some(())
        });
        served.await?;
    }
    Some(Instant::now())
}

/// Claims the campaign with members of its own until it answers "sold out"; whether it did.
async fn top_up(url: &str, campaign: CampaignId) -> bool {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let answer = http
            .post(format!("{url}/api/v1/campaigns/{campaign}/claims"))
            .bearer_auth(API_KEY)
            .json(&serde_json::json!({ "user_id": format!("top-up-{n}") }))
            .send()
            .await;
        let Ok(answer) = answer else { continue };
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        if body["outcome"] == "sold_out" {
            return true;
        }
    }
    false
}

async fn read_record(engine: &Engine, campaigns: &[Campaign]) -> Record {
    let mut record = Record::default();
    for campaign in campaigns {
        let rows = engine
            .recorded_coupons(campaign.id)
            .await
            .expect("the recorded coupons");
        record.coupons.insert(
            campaign.id,
            rows.into_iter()
                .map(|row| (row.user_id, row.code))
                .collect(),
        );
    }
    let ids: Vec<i64> = campaigns.iter().map(|campaign| campaign.id.0).collect();
    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT i.code, e.kind, e.order_id FROM coupon_events e \
         JOIN issued_coupons i ON i.campaign_id = e.campaign_id AND i.sequence = e.sequence \
         WHERE e.campaign_id = ANY($1) ORDER BY e.id",
    )
    .bind(&ids)
    .fetch_all(engine.db())
    .await
    .expect("the coupons' histories");
    for (code, kind, order) in events {
        let pair = (code, order);
        if kind != "released" && record.released.contains(&pair) {
            record.taken_after_release.push(pair.clone());
        }
        match kind.as_str() {
            "redeemed" => record.redeemed.insert(pair),
            "released" => record.released.insert(pair),
            _ => false,
        };
    }
    record
}

/// `host:port` of a `postgres://` URL.
fn address_of(url: &str) -> String {
    let rest = url.split_once('@').map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// The URL with its port replaced.
fn with_port(url: &str, port: u16) -> String {
    let address = address_of(url);
    let host = address
        .rsplit_once(':')
        .map_or(address.as_str(), |(host, _)| host);
    url.replacen(&address, &format!("{host}:{port}"), 1)
}
