//! The fair draw line's helpers: a campaign whose entries are open now and whose draw is ahead
//! (the load generator enters members meanwhile), and the draw measured when it comes: how
//! long from its time to the last winner's coupon in the record (`completed_at`, which the
//! server's draw loop sets only then), and the longest Redis command while it ran.

use super::{Failure, draft};
use chrono::{DateTime, Duration, Utc};
use coupon::{CampaignDraft, CampaignId, Engine};
use redis::Value;
use std::time::Instant;

/// Slow-log entries kept per node while the draw runs: every command is logged (threshold 0),
/// and a draw of 10,000 coupons takes a few hundred script calls plus the sync's commands.
const SLOWLOG_ROOM: i64 = 100_000;

/// How long after its time the draw may take before the line gives up on it.
const DRAW_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// A fair draw of `quantity` coupons, entries open from a minute ago, the draw `seconds` from
/// now; prints its id and the time of the draw (Unix milliseconds).
pub async fn campaign(engine: &Engine, quantity: i64, seconds: i64) -> Result<(), Failure> {
    let now = Utc::now();
    let draft = CampaignDraft {
        opening: Some("fair_draw".to_owned()),
        entries_open_at: Some(now - Duration::minutes(1)),
        claim_starts_at: now + Duration::seconds(seconds),
        ..draft(quantity)
    };
    let campaign = engine.create_campaign(&draft).await?;
    println!("id={}", campaign.id);
    println!("draw_at_ms={}", campaign.claim_starts_at.timestamp_millis());
    Ok(())
}

/// What Redis holds as data, for the entries' memory delta (they live in PostgreSQL).
pub async fn memory(engine: &Engine) -> Result<(), Failure> {
    println!("redis_used_memory={}", super::used_memory(engine).await?);
    Ok(())
}

/// Waits for the campaign's draw (run by the server's draw loop) to complete: from a second
/// before its time every Redis command is slow-logged; prints how long the draw took from its
/// time to `completed_at`, the entrants, winners and coupons recorded, and the longest command.
pub async fn wait(engine: &Engine, id: CampaignId) -> Result<(), Failure> {
    let draw_at = engine
        .campaign(id)
        .await?
        .ok_or(format!("no campaign {id}"))?
        .claim_starts_at;
    if let Ok(lead) = (draw_at - Utc::now() - Duration::seconds(1)).to_std() {
        tokio::time::sleep(lead).await;
    }
    let saved = slowlog_settings(engine).await?;
    set_slowlog(engine, "0", &SLOWLOG_ROOM.to_string()).await?;
    let completed = until_completed(engine, id, draw_at).await;
    // Read and restored whether or not the draw completed.
    let slowest = slowest_command(engine).await;
    set_slowlog(engine, &saved.0, &saved.1).await?;
    let (completed_at, entrants, winners) = completed?;
    let (micros, command, logged, full) = slowest?;
    let issued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM issued_coupons WHERE campaign_id = $1")
            .bind(id.0)
            .fetch_one(engine.db())
            .await?;
    let took = (completed_at - draw_at).num_milliseconds() as f64 / 1000.0;
    println!("draw_seconds={took:.3}");
    println!("draw_entrants={entrants}");
    println!("draw_winners={winners}");
    println!("draw_issued={issued}");
    println!("draw_slowest_ms={:.2}", micros as f64 / 1000.0);
    println!("draw_slowest_command={command}");
    println!("draw_commands_logged={logged}");
    // The slow log kept only the last SLOWLOG_ROOM commands: the longest may be missing.
    println!("draw_slowlog_full={}", u8::from(full));
    Ok(())
}

/// Polls the draw's row until `completed_at` is set: (completed_at, entrants, winners).
/// A draw's `completed_at`, `entrants` and `winners`.
type DrawProgressRow = (Option<DateTime<Utc>>, Option<i64>, Option<i64>);

async fn until_completed(
    engine: &Engine,
    id: CampaignId,
    draw_at: DateTime<Utc>,
) -> Result<(DateTime<Utc>, i64, i64), Failure> {
    let patience = (draw_at - Utc::now()).to_std().unwrap_or_default() + DRAW_PATIENCE;
    let deadline = Instant::now() + patience;
    loop {
        let row: Option<DrawProgressRow> = sqlx::query_as(
            "SELECT completed_at, entrants, winners FROM campaign_draws WHERE campaign_id = $1",
        )
        .bind(id.0)
        .fetch_optional(engine.db())
        .await?;
        match row {
            None => return Err(format!("campaign {id} has no draw").into()),
            Some((Some(completed_at), entrants, winners)) => {
                return Ok((completed_at, entrants.unwrap_or(0), winners.unwrap_or(0)));
            }
            Some(_) if Instant::now() >= deadline => {
                return Err(format!(
                    "the draw of campaign {id} did not complete within {DRAW_PATIENCE:?} of its time"
                )
                .into());
            }
            Some(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// `slowlog-log-slower-than` and `slowlog-max-len` as the (first) primary has them.
async fn slowlog_settings(engine: &Engine) -> Result<(String, String), Failure> {
    let mut values = Vec::new();
    for name in ["slowlog-log-slower-than", "slowlog-max-len"] {
        let answers = engine
            .redis()
            .on_primaries(redis::cmd("CONFIG").arg("GET").arg(name))
            .await?;
        let (_, answer) = answers.into_iter().next().ok_or("no Redis primary")?;
        let pair: std::collections::HashMap<String, String> = redis::from_redis_value(answer)?;
        values.push(
            pair.get(name)
                .cloned()
                .ok_or(format!("CONFIG GET {name}"))?,
        );
    }
    let max_len = values.pop().unwrap_or_default();
    let slower_than = values.pop().unwrap_or_default();
    Ok((slower_than, max_len))
}

/// Sets the slow log's threshold (microseconds) and length on every primary, and empties it.
async fn set_slowlog(engine: &Engine, slower_than: &str, max_len: &str) -> Result<(), Failure> {
    let mut redis = engine.redis();
    // One setting a call: Redis before 7 takes one pair per CONFIG SET.
    for (name, value) in [
        ("slowlog-log-slower-than", slower_than),
        ("slowlog-max-len", max_len),
    ] {
        let set = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).clone();
        redis.on_primaries(&set).await?;
    }
    redis
        .on_primaries(redis::cmd("SLOWLOG").arg("RESET"))
        .await?;
    Ok(())
}

/// The longest command in every primary's slow log: (microseconds, its name, entries read,
/// whether a log was full).
async fn slowest_command(engine: &Engine) -> Result<(i64, String, usize, bool), Failure> {
    let answers = engine
        .redis()
        .on_primaries(redis::cmd("SLOWLOG").arg("GET").arg(SLOWLOG_ROOM))
        .await?;
    let (mut micros, mut command, mut logged, mut full) = (0, String::from("none"), 0, false);
    for (_, answer) in answers {
        let entries: Vec<Vec<Value>> = redis::from_redis_value(answer)?;
        full |= entries.len() as i64 >= SLOWLOG_ROOM;
        logged += entries.len();
        // Each entry: id, Unix time, duration (µs), the command's arguments, client, name.
        for entry in entries {
            let mut fields = entry.into_iter().skip(2);
            let (Some(duration), Some(args)) = (fields.next(), fields.next()) else {
                continue;
            };
            let duration: i64 = redis::from_redis_value(duration)?;
            if duration > micros {
                let args: Vec<Vec<u8>> = redis::from_redis_value(args)?;
                micros = duration;
                command = args
                    .first()
                    .map(|name| String::from_utf8_lossy(name).to_uppercase())
                    .unwrap_or_default();
            }
        }
    }
    Ok((micros, command, logged, full))
}
