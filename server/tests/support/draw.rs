//! Fair draws for the tests: a campaign made through the JSON API, entries from many clients at
//! once, and the check that the record holds exactly what the revealed secret says the draw
//! had to give.

use super::API_KEY;
use coupon::draw::{DrawListing, DrawSecret, digest_hex, parse_digest};
use coupon::{CampaignId, Engine};
use redis::AsyncCommands;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Clients entering at once.
const ENTERING_CLIENTS: usize = 16;

/// A fair draw of `quantity` coupons, entries open now, the draw `starts_in_ms` from now.
pub fn fair_draw_body(name: &str, quantity: i64, starts_in_ms: i64) -> Value {
    let now = chrono::Utc::now();
    json!({
        "name": name,
        "discount_kind": "fixed_amount",
        "discount_amount": 3000,
        "quantity": quantity,
        "opening": "fair_draw",
        "entries_open_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "claim_starts_at": (now + chrono::Duration::milliseconds(starts_in_ms)).to_rfc3339(),
        "claim_ends_at": (now + chrono::Duration::days(1)).to_rfc3339(),
        "valid_days": 30
    })
}

/// A fair draw made through the JSON API at `base`.
pub struct FairDraw {
    pub id: CampaignId,
    pub commitment: String,
    pub draw_at: chrono::DateTime<chrono::Utc>,
}

impl FairDraw {
    pub async fn create(base: &str, quantity: i64, starts_in_ms: i64) -> Self {
        let name = format!("draw {}", super::unique_marker());
        let response = reqwest::Client::new()
            .post(format!("{base}/api/v1/campaigns"))
            .bearer_auth(API_KEY)
            .json(&fair_draw_body(&name, quantity, starts_in_ms))
            .send()
            .await
            .expect("create the draw");
        assert_eq!(response.status(), 201, "the draw was created");
        let body: Value = response.json().await.expect("JSON");
        Self {
            id: CampaignId(body["id"].as_i64().expect("id")),
            commitment: body["draw_commitment"]
                .as_str()
                .expect("commitment")
                .to_owned(),
            draw_at: body["claim_starts_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .expect("claim_starts_at")
                .to_utc(),
        }
    }
}

/// `count` member ids starting with `prefix`.
pub fn members(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n}")).collect()
}

/// Enters every member through the JSON API, from several clients at once spread over `bases`;
/// the members answered 202 `entered` (the acknowledged entries).
pub async fn enter(bases: &[String], campaign: CampaignId, members: &[String]) -> HashSet<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let members = Arc::new(members.to_vec());
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..ENTERING_CLIENTS {
        let base = bases[client % bases.len()].clone();
        let (next, members) = (next.clone(), members.clone());
        clients.spawn(async move {
            let http = reqwest::Client::new();
            let url = format!("{base}/api/v1/campaigns/{}/claims", campaign.0);
            let mut entered = HashSet::new();
            while let Some(member) = members.get(next.fetch_add(1, Ordering::Relaxed)) {
                let answer = http
                    .post(&url)
                    .bearer_auth(API_KEY)
                    .json(&json!({ "user_id": member }))
                    .send()
                    .await;
                let Ok(answer) = answer else { continue };
                if answer.status() != 202 {
                    continue;
                }
                let body: Value = answer.json().await.unwrap_or_default();
                if body["outcome"] == "entered" {
                    entered.insert(member.clone());
                }
            }
            entered
        });
    }
    let mut entered = HashSet::new();
    while let Some(joined) = clients.join_next().await {
        entered.extend(joined.expect("an entering client"));
    }
    entered
}

/// The draw is completed in the record.
pub async fn is_completed(engine: &Engine, campaign: CampaignId) -> bool {
    matches!(engine.draw_report(campaign).await,
        Ok(Some(report)) if report.draw_completed_at.is_some())
}

/// The draw as published is the one the commitment promised, over exactly the `entrants`, and
/// the record and Redis hold a coupon for exactly its first `quantity`, nobody twice, every
/// code unique: the same result whatever happened on the way.
pub async fn assert_drawn_as_published(
    engine: &Engine,
    draw: &FairDraw,
    entrants: &HashSet<String>,
    quantity: usize,
) {
    let report = engine
        .draw_report(draw.id)
        .await
        .expect("report")
        .expect("a draw");
    let secret = report
        .draw_secret
        .as_deref()
        .and_then(parse_digest)
        .and_then(|bytes| DrawSecret::from_bytes(&bytes))
        .expect("the secret is revealed once the draw is completed");
    assert_eq!(secret.commitment(), draw.commitment, "the commitment holds");
    assert_eq!(
        report.entrants,
        Some(entrants.len() as i64),
        "every entrant"
    );

    // The order, recomputed from the secret, is the one published.
    let mut order: Vec<(String, &String)> = entrants
        .iter()
        .map(|member| (digest_hex(&secret.digest_of(member)), member))
        .collect();
    order.sort();
    let DrawListing::Page(page) = engine
        .draw_listing(draw.id, None, coupon::draw::MOST_DIGESTS_PER_PAGE)
        .await
        .expect("listing")
    else {
        panic!("the draw is listed once completed");
    };
    let published: Vec<&String> = order.iter().map(|(digest, _)| digest).collect();
    assert_eq!(page.digests.iter().collect::<Vec<_>>(), published);

    // Exactly the first `quantity` hold a coupon, in the record and in Redis.
    let winners: HashSet<String> = order
        .iter()
        .take(quantity)
        .map(|(_, member)| (*member).clone())
        .collect();
    let rows = engine.recorded_coupons(draw.id).await.expect("rows");
    let recorded: HashSet<String> = rows.iter().map(|row| row.user_id.clone()).collect();
    assert_eq!(recorded.len(), rows.len(), "a member recorded twice");
    let codes: HashSet<&str> = rows.iter().map(|row| row.code.as_str()).collect();
    assert_eq!(codes.len(), rows.len(), "a code issued twice");
    assert_eq!(recorded, winners, "the record holds the published winners");
    assert_eq!(issued_now(engine, draw.id).await, winners, "so does Redis");
    assert_eq!(report.winners, Some(winners.len() as i64));
}

/// The members Redis holds a coupon of `campaign` for; asks again while the test's connection
/// comes back from a Redis restarted under it.
async fn issued_now(engine: &Engine, campaign: CampaignId) -> HashSet<String> {
    let keys = coupon::redis::CampaignKeys::new(campaign);
    super::first_within(Duration::from_secs(10), || async {
        engine.redis().hkeys(&keys.issued).await.ok()
    })
    .await
    .expect("Redis answers HKEYS")
}
