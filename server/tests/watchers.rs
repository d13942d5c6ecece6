//! Anonymous visitors cost no pass over the coupons: a claim page watching a campaign live is
//! fed from the campaign's row and its Redis counter, whatever number of coupons the campaign
//! has, only while someone watches, and for a bounded number of campaigns; the home page reads
//! a bounded list of the campaigns on offer.

mod support;

use chrono::{Duration, Utc};
use coupon::store::campaigns::MOST_ON_OFFER;
use coupon::{CampaignDraft, CampaignId};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use server::live::LiveHub;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use support::*;

/// Coupons recorded for the campaign the anonymous page watches.
const ROWS: i64 = 5_000;
/// Ticks (100 ms each in tests) the PostgreSQL reads are counted over.
const TICKS: usize = 30;

/// The tests here run one at a time: the first counts the rows read in the whole coupons
/// table, which the others' campaigns (loaded, synced) would add to.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn an_anonymous_live_page_reads_no_coupon_rows_and_still_follows_the_claims() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Arrange: a campaign with 5,000 coupons recorded in PostgreSQL.
    let server = spawn_server().await;
    let campaign = server.campaign(ROWS + 10).await;
    claim_concurrently(&server, campaign.id, ROWS as usize).await;
    until_recorded(&server, campaign.id, ROWS).await;
    let url = server.url(&format!("/live/campaigns/{}", campaign.id));
    let mut page = Events::open(&url).await;
    let first = page
        .until("the page to show what Redis has left", |numbers| {
            numbers["remaining"] == 10
        })
        .await;

    // Act: the page watches for a few dozen ticks while nothing happens.
    let before = coupon_rows_read(&server).await;
    for _ in 0..TICKS {
        page.next().await;
    }
    let read = coupon_rows_read(&server).await - before;

    // Assert: fewer coupon rows read over all those ticks than one pass over the campaign's
    // (the grouped pass each tick read all 5,000, every tick).
    assert!(
        read < ROWS,
        "{read} coupon rows read over {TICKS} ticks of an anonymous live page"
    );
    let mut fields: Vec<&str> = first
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["quantity", "remaining", "status"],
        "only the public numbers"
    );
    eventually(
        "every coupon to be recorded",
        StdDuration::from_secs(30),
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM issued_coupons WHERE campaign_id = $1",
            )
            .bind(campaign.id.0)
            .fetch_one(server.engine.db())
            .await
            .is_ok_and(|recorded| recorded == ROWS)
        },
    )
    .await;

    // Act: claims while nobody can read the coupons table at all.
    let mut lock = server.engine.db().begin().await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '10s'")
        .execute(&mut *lock)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE issued_coupons IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    server.claims_by(&campaign, "after-the-lock", 3).await;

    // Assert: the page follows them all the same.
    page.until("the page to show the new claims", |numbers| {
        numbers["remaining"] == 7
    })
    .await;
    lock.rollback().await.unwrap();
}

#[tokio::test]
async fn anonymous_pages_watch_a_bounded_number_of_campaigns_and_free_them_on_leaving() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Arrange: a server that feeds end users' pages for two campaigns at most.
    let server = spawn_server_with(|state| {
        state.hub = Arc::new(
            LiveHub::new(state.engine.clone(), StdDuration::from_millis(100))
                .with_most_public_feeds(2),
        );
    })
    .await;
    let (first, second, third) = (
        server.campaign(5).await,
        server.campaign(5).await,
        server.campaign(5).await,
    );
    let url = |id: CampaignId| server.url(&format!("/live/campaigns/{id}"));
    let watching_first = reqwest::get(url(first.id)).await.unwrap();
    let watching_second = reqwest::get(url(second.id)).await.unwrap();

    // Act
    let again_first = reqwest::get(url(first.id)).await.unwrap();
    let refused_third = reqwest::get(url(third.id)).await.unwrap();

    // Assert: a campaign already watched is shared; a third is refused.
    assert_eq!(
        (
            watching_first.status(),
            watching_second.status(),
            again_first.status()
        ),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(refused_third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused_third.headers().contains_key("retry-after"));

    // Act: every page of the first campaign closes.
    drop((watching_first, again_first));

    // Assert: its place goes to the third at once, without waiting out a keep period.
    eventually(
        "the third campaign to be watchable",
        StdDuration::from_secs(10),
        || async { reqwest::get(url(third.id)).await.unwrap().status() == StatusCode::OK },
    )
    .await;
    drop(watching_second);
}

#[tokio::test]
async fn the_home_page_lists_a_bounded_number_of_campaigns_open_ones_first() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Arrange: more open campaigns than the home page lists, and one that opens later.
    let server = spawn_server().await;
    let mut open = Vec::new();
    for _ in 0..=MOST_ON_OFFER {
        open.push(server.campaign(1).await);
    }
    let upcoming = server
        .engine
        .create_campaign(&CampaignDraft {
            claim_starts_at: Utc::now() + Duration::hours(1),
            claim_ends_at: Utc::now() + Duration::hours(2),
            ..draft(1)
        })
        .await
        .unwrap();
    let newest_open = open.last().expect("campaigns").id.0;

    // Act
    let response = call(&browser(), &server, "open_campaigns", &[]).await;

    // Assert: at most the bound, all open (open ones come first), newest first.
    assert_eq!(response.status(), StatusCode::OK);
    let listed: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<i64> = listed
        .iter()
        .map(|campaign| campaign["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(ids.len() as i64, MOST_ON_OFFER, "{ids:?}");
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    assert!(ids.contains(&newest_open), "{ids:?}");
    assert!(
        !ids.contains(&upcoming.id.0),
        "an upcoming campaign listed before open ones: {ids:?}"
    );
}

/// Claims by `count` members, a few dozen at a time, straight through the engine.
async fn claim_concurrently(server: &TestServer, campaign: CampaignId, count: usize) {
    let marker = unique_marker();
    let issued = futures::stream::iter(0..count)
        .map(|n| {
            let user = coupon::UserId::parse(&format!("{marker}-{n}")).unwrap();
            let engine = server.engine.clone();
            async move { engine.claim(campaign, &user).await.unwrap() }
        })
        .buffer_unordered(32)
        .filter(|outcome| {
            std::future::ready(matches!(outcome, coupon::ClaimOutcome::Issued { .. }))
        })
        .count()
        .await;
    assert_eq!(issued, count);
}

/// Waits until the sync recorded the campaign's claim number `last` (batches are recorded in
/// claim order), looking at that one row only, so that the wait itself reads next to nothing.
async fn until_recorded(server: &TestServer, campaign: CampaignId, last: i64) {
    eventually(
        "the claims to be recorded",
        StdDuration::from_secs(60),
        || async {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM issued_coupons \
                 WHERE campaign_id = $1 AND sequence = $2)",
            )
            .bind(campaign.0)
            .bind(last)
            .fetch_one(server.engine.db())
            .await
            .unwrap_or(false)
        },
    )
    .await;
}

/// Rows of `issued_coupons` read so far by scans and index fetches, as PostgreSQL counts them.
async fn coupon_rows_read(server: &TestServer) -> i64 {
    sqlx::query_scalar(
        "SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::bigint \
         FROM pg_stat_user_tables WHERE relid = 'issued_coupons'::regclass",
    )
    .fetch_one(server.engine.db())
    .await
    .unwrap()
}

/// The JSON payloads of a server-sent event stream, one at a time.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(url: &str) -> Self {
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; fails the test after 10 s without one.
    async fn next(&mut self) -> Value {
        tokio::time::timeout(StdDuration::from_secs(10), self.read())
            .await
            .expect("an event within 10 s")
    }

    /// The first event `wanted` accepts; fails the test after 15 s without one.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(15);
        loop {
            let event = tokio::time::timeout_at(deadline, self.read())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            if wanted(&event) {
                return event;
            }
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                // Keep-alive comments carry no data.
                if !data.is_empty() {
                    return serde_json::from_str(&data).expect("JSON numbers");
                }
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("the stream reads")
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
