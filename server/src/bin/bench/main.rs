//! Helper of `./dev bench`: the steps that need the engine itself. Each prints `key=value`
//! lines that the script collects into the table. Redis is the cluster `REDIS_CLUSTER_NODES`
//! names when it is set, else `REDIS_URL`.
//!
//!   bench raw-setup | raw-teardown   a Redis-only campaign for redis-benchmark's raw line
//!   bench campaign <quantity> [n]    n real campaigns (PostgreSQL + Redis; one if not given);
//!                                    prints their ids, separated by commas
//!   bench fill <quantity>            a campaign with that many claims queued; Redis bytes each
//!   bench drain <id>                 runs the sync until the queue is empty; rows per second
//!   bench lag <id> <seconds>         samples the age of the oldest queued claim; p99
//!   bench check <id>...              the invariants; exits 1 on any violation
//!   bench sessions <n> <file>        n signed-in member sessions; their cookies, one a line
//!   bench coupons <n> <file>         a campaign of n recorded coupons; their codes, one a line
//!   bench redeemed <id>              its coupons redeemed; exits 1 if one was redeemed twice
//!   bench draw-campaign <quantity> <seconds>
//!                                    a fair draw, entries open, the draw that many seconds ahead
//!   bench memory                     Redis's data bytes now (the entries' delta)
//!   bench draw-wait <id>             the draw measured: seconds to completion, longest command

use chrono::{Duration, Utc};
use coupon::redis::{CLAIM_SCRIPT, CampaignKeys, RedisTarget};
use coupon::sync::{Drainer, StepOutcome};
use coupon::{
    CampaignDraft, CampaignId, ClaimAck, ClaimOutcome, Engine, RedisSettings, SyncSettings, UserId,
};
use redis::AsyncCommands;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

mod draw;
mod redemptions;

/// The raw line's campaign lives only in Redis, under an id PostgreSQL never hands out, so the
/// sync never sees its queue: it only ever holds redis-benchmark's throwaway claims.
const RAW: CampaignId = CampaignId(0);

/// The raw line's stand-in for the run id (see claim.lua's ARGV[1]).
const RAW_RUN: &str = "raw";

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Failure> {
    let defaults = SyncSettings::default();
    let settings = SyncSettings {
        batch_size: env_number("SYNC_BATCH_SIZE", defaults.batch_size)?,
        rows_per_statement: env_number("SYNC_ROWS_PER_STATEMENT", defaults.rows_per_statement)?,
        ..defaults
    };
    let redis = RedisSettings {
        target: RedisTarget::from_environment().ok_or("REDIS_URL must be set")?,
        ack: ClaimAck::Primary,
    };
    let engine = Engine::connect_to(&redis, &env("DATABASE_URL")?, settings).await?;
    let number =
        |i: usize| -> Result<i64, Failure> { Ok(args.get(i).ok_or("missing argument")?.parse()?) };
    match args.first().map(String::as_str) {
        Some("raw-setup") => raw_setup(&engine).await,
        Some("raw-teardown") => delete_keys(&engine, RAW).await,
        Some("campaign") => {
            let count = if args.len() > 2 { number(2)? } else { 1 };
            let mut ids = Vec::new();
            for _ in 0..count {
                ids.push(
                    engine
                        .create_campaign(&draft(number(1)?))
                        .await?
                        .id
                        .to_string(),
                );
            }
            println!("id={}", ids.join(","));
            Ok(())
        }
        Some("fill") => fill(&engine, number(1)?).await,
        Some("drain") => {
            for id in ids_in(&args[1..])? {
                drain(&engine, id).await?;
            }
            Ok(())
        }
        Some("lag") => lag(&engine, CampaignId(number(1)?), number(2)?).await,
        Some("sessions") => {
            let file = args.get(2).ok_or("missing the cookie file")?;
            sessions(&engine, number(1)?, file).await
        }
        Some("coupons") => {
            let file = args.get(2).ok_or("missing the code file")?;
            redemptions::coupons(&engine, number(1)?, file).await
        }
        Some("redeemed") => redemptions::redeemed(&engine, number(1)?).await,
        Some("draw-campaign") => draw::campaign(&engine, number(1)?, number(2)?).await,
        Some("memory") => draw::memory(&engine).await,
        Some("draw-wait") => draw::wait(&engine, CampaignId(number(1)?)).await,
        Some("check") => {
            for id in ids_in(&args[1..])? {
                check(&engine, id).await?;
            }
            println!("invariants=ok");
            Ok(())
        }
        _ => Err(
            "usage: bench raw-setup|raw-teardown|campaign|fill|drain|lag|check|sessions|coupons|\
                 redeemed|draw-campaign|memory|draw-wait"
                .into(),
        ),
    }
}

/// Campaign ids given as arguments, each of them one id or several separated by commas.
fn ids_in(args: &[String]) -> Result<Vec<CampaignId>, Failure> {
    let mut ids = Vec::new();
    for arg in args {
        for id in arg.split(',').filter(|id| !id.is_empty()) {
            ids.push(CampaignId(id.parse()?));
        }
    }
    Ok(ids)
}

fn env(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| format!("{name} must be set").into())
}

fn env_number(name: &str, default: usize) -> Result<usize, Failure> {
    std::env::var(name).map_or(Ok(default), |v| Ok(v.parse()?))
}

fn draft(quantity: i64) -> CampaignDraft {
    CampaignDraft {
        name: format!("bench {}", Utc::now().format("%H:%M:%S")),
        discount_kind: "fixed_amount".into(),
        discount_amount: 1000,
        quantity,
        claim_starts_at: Utc::now() - Duration::minutes(1),
        claim_ends_at: Utc::now() + Duration::days(1),
        valid_days: 7,
        min_order_amount: None,
        max_discount_amount: None,
        opening: None,
        entries_open_at: None,
        bot_check_bits: None,
    }
}

async fn raw_setup(engine: &Engine) -> Result<(), Failure> {
    let keys = CampaignKeys::new(RAW);
    delete_keys(engine, RAW).await?;
    let mut redis = engine.redis();
    let now = Utc::now().timestamp_millis();
    // The claim script reads its node's replication id itself; the state must carry it. Asked
    // through a call naming the meta key, so that on a cluster it is that key's node's.
    let replid: String = redis::cmd("EVAL")
        .arg("return string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')")
        .arg(1)
        .arg(&keys.meta)
        .query_async(&mut redis)
        .await?;
    let meta = [
        ("status", "active".to_owned()),
        ("starts_ms", (now - 60_000).to_string()),
        ("ends_ms", (now + 86_400_000).to_string()),
        ("quantity", "1000000000".to_owned()),
        ("seq", "0".to_owned()),
        // Stands for the run id the claim script checks; redis-benchmark passes the same.
        ("run", RAW_RUN.to_owned()),
        ("replid", replid),
        ("format", "2".to_owned()),
    ];
    let _: () = redis.hset_multiple(&keys.meta, &meta).await?;
    let _: () = redis.set(&keys.counter, 1_000_000_000_i64).await?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(CLAIM_SCRIPT)
        .query_async(&mut redis)
        .await?;
    println!("sha={sha}");
    println!("run={RAW_RUN}");
    println!(
        "keys={} {} {} {}",
        keys.meta, keys.counter, keys.issued, keys.queue
    );
    Ok(())
}

async fn delete_keys(engine: &Engine, id: CampaignId) -> Result<(), Failure> {
    let keys = CampaignKeys::new(id);
    let _: () = engine.redis().del(&keys.all()[..]).await?;
    Ok(())
}

/// What Redis holds as data (on a cluster, every primary together): `used_memory` less its
/// client and AOF buffers. Those are transient (a pipelined burst leaves megabytes in a
/// connection's query buffer for a few seconds) and would make the figure depend on the moment
/// it is read.
async fn used_memory(engine: &Engine) -> Result<i64, Failure> {
    let answers = engine
        .redis()
        .on_primaries(redis::cmd("INFO").arg("memory"))
        .await?;
    let mut total = 0;
    for (_, answer) in answers {
        let info: String = redis::from_redis_value(answer)?;
        let field = |name: &str| -> Result<i64, Failure> {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .ok_or_else(|| format!("INFO memory has no {name}"))?
                .trim()
                .parse()
                .map_err(Into::into)
        };
        total += field("used_memory")? - field("mem_clients_normal")? - field("mem_aof_buffer")?;
    }
    Ok(total)
}

/// Claims `quantity` coupons of a fresh campaign from 200 concurrent tasks (the sync must not
/// be running), and reports Redis memory per issued coupon while they wait in the queue.
async fn fill(engine: &Engine, quantity: i64) -> Result<(), Failure> {
    let campaign = engine.create_campaign(&draft(quantity)).await?;
    let before = used_memory(engine).await?;
    let started = Instant::now();
    let tasks = 200;
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let engine = engine.clone();
        set.spawn(async move {
            let mut n = task;
            while n < quantity {
                let user = UserId::parse(&format!("member-{n:08}"))?;
                if !matches!(
                    engine.claim(campaign.id, &user).await?,
                    ClaimOutcome::Issued { .. }
                ) {
                    return Err::<(), Failure>(format!("claim {n} was not issued").into());
                }
                n += tasks;
            }
            Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let took = started.elapsed().as_secs_f64();
    let after = used_memory(engine).await?;
    println!("id={}", campaign.id);
    println!("fill_claims_per_s={:.0}", quantity as f64 / took);
    println!(
        "redis_bytes_per_coupon={:.1}",
        (after - before) as f64 / quantity as f64
    );
    Ok(())
}

/// Runs drain steps of one campaign until its queue is empty; rows per second.
async fn drain(engine: &Engine, id: CampaignId) -> Result<(), Failure> {
    let drainer = Drainer::new(engine.clone());
    let started = Instant::now();
    let mut rows = 0u64;
    loop {
        match drainer.drain_step(id).await? {
            StepOutcome::Moved(batch) => rows += batch.inserted,
            StepOutcome::Empty => break,
            StepOutcome::NotOwner => return Err("another instance holds the drain lease".into()),
        }
    }
    let took = started.elapsed().as_secs_f64();
    println!("sync_rows={rows}");
    println!("sync_rows_per_s={:.0}", rows as f64 / took);
    Ok(())
}

/// Samples the age of the oldest queued claim every 50 ms for `seconds`; prints the p99 in ms.
async fn lag(engine: &Engine, id: CampaignId, seconds: i64) -> Result<(), Failure> {
    let keys = CampaignKeys::new(id);
    let opened_at = engine
        .campaign(id)
        .await?
        .ok_or(format!("no campaign {id}"))?
        .claim_starts_at;
    let until = Instant::now() + std::time::Duration::from_secs(u64::try_from(seconds)?);
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(50));
    let mut ages = Vec::new();
    while Instant::now() < until {
        ticks.tick().await;
        let oldest: Option<String> = engine.redis().lindex(&keys.queue, 0).await?;
        let age = oldest
            .as_deref()
            .and_then(|entry| coupon::sync::QueuedCoupon::claimed_at_of(entry, opened_at))
            .map_or(0, |at| (Utc::now() - at).num_milliseconds().max(0));
        ages.push(age);
    }
    ages.sort_unstable();
    let p99 = ages
        .get((ages.len() * 99 / 100).min(ages.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0);
    println!("sync_lag_p99_ms={p99}");
    println!("sync_lag_max_ms={}", ages.last().copied().unwrap_or(0));
    Ok(())
}

/// Issued (Redis) = rows (PostgreSQL), none twice, none over quantity, queue drained.
async fn check(engine: &Engine, id: CampaignId) -> Result<(), Failure> {
    let status = engine
        .status(id)
        .await?
        .ok_or(format!("no campaign {id}"))?;
    let rows = engine.recorded_coupons(id).await?;
    let users: HashSet<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    let codes: HashSet<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    let problems = [
        (
            status.queued != 0,
            format!("{} claims still queued", status.queued),
        ),
        (
            status.claimed != rows.len() as i64,
            format!(
                "Redis issued {} but PostgreSQL has {} rows",
                status.claimed,
                rows.len()
            ),
        ),
        (
            users.len() != rows.len(),
            "a user holds two coupons".to_owned(),
        ),
        (
            codes.len() != rows.len(),
            "a code was issued twice".to_owned(),
        ),
        (
            rows.len() as i64 > status.quantity,
            format!("{} rows over a quantity of {}", rows.len(), status.quantity),
        ),
    ];
    for (broken, what) in problems {
        if broken {
            return Err(format!("INVARIANT BROKEN in campaign {id}: {what}").into());
        }
    }
    println!("campaign_{id}_issued={}", rows.len());
    Ok(())
}

/// Writes `n` sessions of signed-in members straight into Redis (signing each in over HTTP
/// would take longer than the measurement), and their cookie values into `file`.
async fn sessions(engine: &Engine, n: i64, file: &str) -> Result<(), Failure> {
    use std::io::Write;
    use tower_sessions::session::{Id, Record};
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    let mut redis = engine.redis();
    let mut pipe = redis::pipe();
    let mut pending = 0;
    for n in 0..n {
        let record = Record {
            id: Id::default(),
            data: [(
                coupon_access::session::MEMBER_KEY.to_owned(),
                serde_json::Value::String(format!("bench-member-{n}")),
            )]
            .into_iter()
            .collect(),
            expiry_date: expiry,
        };
        pipe.set_ex(
            server::sessions::RedisSessionStore::key(&record.id),
            serde_json::to_string(&record)?,
            3600,
        )
        .ignore();
        writeln!(out, "{}", record.id)?;
        pending += 1;
        if pending == 1000 {
            let _: () = pipe.query_async(&mut redis).await?;
            pipe = redis::pipe();
            pending = 0;
        }
    }
    if pending > 0 {
        let _: () = pipe.query_async(&mut redis).await?;
    }
    out.flush()?;
    println!("sessions={n}");
    Ok(())
}
