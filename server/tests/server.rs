//! The server as a whole, started on port 0 against the real Redis and PostgreSQL that
//! `./dev test` runs: health, the rendered pages, the background sync, the export, and clean
//! shutdown.

mod support;

use coupon::ClaimOutcome;
use futures::StreamExt;
use std::time::Duration as StdDuration;
use support::*;

#[tokio::test]
async fn healthz_answers_ok_as_json() {
    let server = spawn_server().await;

    let response = reqwest::get(server.url("/healthz")).await.unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn the_home_page_is_rendered_on_the_server() {
    let server = spawn_server().await;

    let response = reqwest::get(server.url("/")).await.unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("선착순 쿠폰"), "{html}");
    assert!(
        html.contains("/pkg/coupon.js"),
        "hydration script is linked"
    );
}

#[tokio::test]
async fn admin_pages_embed_each_value_once_so_the_browser_hydrates_from_what_was_shown() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let admin = admin_browser(&server).await;

    for path in [
        "/admin".to_string(),
        format!("/admin/campaigns/{}", campaign.id),
    ] {
        // Act
        let html = admin
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();

        // Assert: the browser looks values up by their order of registration; a value embedded
        // twice (a resource registered twice while rendering) shifts every later lookup.
        let values = embedded_values(&html);
        let naming_the_campaign = values
            .iter()
            .filter(|value| value.contains(&campaign.name))
            .count();
        assert_eq!(naming_the_campaign, 1, "{path}: {values:#?}");
        assert!(
            values.iter().all(|value| value.starts_with(r#""{\"Ok\""#)),
            "{path}: every embedded value is a success: {values:#?}"
        );
    }
}

/// The server values a page embeds for the browser to hydrate from, in the page's order.
fn embedded_values(html: &str) -> Vec<&str> {
    html.split("__RESOLVED_RESOURCES[")
        .skip(1)
        .filter_map(|entry| {
            entry
                .split_once("] = ")?
                .1
                .split_once("\";")
                .map(|(value, _)| value)
        })
        .collect()
}

#[tokio::test]
async fn the_server_syncs_claims_into_postgres_in_the_background() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(10).await;

    // Act
    for outcome in server.claims_by(&campaign, "member", 4).await {
        assert!(matches!(outcome, ClaimOutcome::Issued { .. }));
    }

    // Assert: the server's own sync task records them, with no test-driven sync step.
    eventually(
        "the background sync",
        StdDuration::from_secs(10),
        || async {
            let status = server.engine.status(campaign.id).await.unwrap().unwrap();
            status.synced == 4 && status.queued == 0
        },
    )
    .await;
}

#[tokio::test]
async fn an_export_reads_its_rows_in_pages_and_sends_each_row_once_in_claim_order() {
    // Arrange: seven recorded coupons, exported three rows a page.
    let server = spawn_server().await;
    let campaign = server.campaign(10).await;
    server.claims_by(&campaign, "exported", 7).await;
    eventually("the sync", StdDuration::from_secs(10), || async {
        let status = server.engine.status(campaign.id).await.unwrap().unwrap();
        status.synced == 7
    })
    .await;

    // Act
    let chunks: Vec<String> = server::export::csv_chunks(server.engine.clone(), campaign.id, 3)
        .map(|chunk| String::from_utf8(chunk.unwrap().to_vec()).unwrap())
        .collect()
        .await;

    // Assert: the header, then pages of 3, 3 and 1 rows; the rows in claim order, none twice.
    let rows_per_chunk: Vec<usize> = chunks.iter().map(|chunk| chunk.lines().count()).collect();
    assert_eq!(rows_per_chunk, [1, 3, 3, 1], "{chunks:#?}");
    let csv = chunks.concat();
    let sequences: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(
        sequences,
        [
            "\"1\"", "\"2\"", "\"3\"", "\"4\"", "\"5\"", "\"6\"", "\"7\""
        ]
    );
    for n in 0..7 {
        assert_eq!(
            csv.matches(&format!("\"exported-{n}\"")).count(),
            1,
            "{csv}"
        );
    }
}

#[tokio::test]
async fn an_export_lists_each_coupons_state_order_and_redemption_time() {
    let server = spawn_server().await;
    let campaign = server.campaign(2).await;
    server.claims_by(&campaign, "buyer", 2).await;
    let member = coupon::UserId::parse("buyer-0").unwrap();
    let held = server
        .engine
        .coupon_of(campaign.id, &member)
        .await
        .unwrap()
        .unwrap();
    let request = coupon::redeem::RedeemRequest {
        order_id: "order-7".into(),
        order_amount: 20_000,
        user_id: None,
    };
    let coupon::redeem::Checkout::Done { answer, .. } =
        server.engine.redeem(&held.code, &request).await.unwrap()
    else {
        panic!("expected a redemption");
    };
    eventually("the sync", StdDuration::from_secs(10), || async {
        server
            .engine
            .status(campaign.id)
            .await
            .unwrap()
            .unwrap()
            .synced
            == 2
    })
    .await;

    let csv: String = server::export::csv_chunks(server.engine.clone(), campaign.id, 10)
        .map(|chunk| String::from_utf8(chunk.unwrap().to_vec()).unwrap())
        .collect::<Vec<_>>()
        .await
        .concat();

    let redeemed = format!(
        "\"redeemed\",\"order-7\",\"{}\"\r\n",
        answer.redeemed_at.to_rfc3339()
    );
    assert!(csv.contains(&redeemed), "{csv}");
    assert!(csv.contains("\"buyer-1\""), "{csv}");
    assert_eq!(
        csv.matches("\"available\",\"\",\"\"\r\n").count(),
        1,
        "{csv}"
    );
}

#[tokio::test]
async fn cancelling_shutdown_stops_the_server_promptly() {
    let server = spawn_server().await;
    assert_eq!(
        reqwest::get(server.url("/healthz")).await.unwrap().status(),
        200
    );

    let health_url = server.url("/healthz");
    server.shutdown.cancel();

    let stopped = tokio::time::timeout(StdDuration::from_secs(5), server.handle)
        .await
        .expect("the server stops within 5 s");
    stopped.unwrap().unwrap();
    assert!(
        reqwest::get(health_url).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn readyz_reports_each_dependency_and_requests_carry_an_id() {
    let server = spawn_server().await;

    let response = reqwest::get(server.url("/readyz")).await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(
        (&body["redis"], &body["postgres"], &body["migrations"]),
        (&"ok".into(), &"ok".into(), &"ok".into())
    );
}

#[tokio::test]
async fn metrics_count_claims_by_outcome_in_prometheus_format() {
    let server = spawn_server().await;
    let campaign = server.campaign(1).await;
    server.claims_by(&campaign, "metrics", 2).await;

    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        text.contains("coupon_claims_total{outcome=\"issued\"}"),
        "{text}"
    );
    assert!(
        text.contains("coupon_claims_total{outcome=\"sold_out\"}"),
        "{text}"
    );
    assert!(
        text.contains("coupon_claim_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn many_viewers_of_a_campaign_share_one_status_read_per_tick() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let hub = server::live::LiveHub::new(server.engine.clone(), StdDuration::from_secs(3600));
    let mut viewers: Vec<_> = (0..3).map(|_| hub.subscribe(campaign.id)).collect();

    hub.refresh().await;

    let first = viewers[0].borrow_and_update().clone().expect("numbers");
    for viewer in &mut viewers[1..] {
        let seen = viewer.borrow_and_update().clone().expect("numbers");
        assert!(
            std::sync::Arc::ptr_eq(&first, &seen),
            "one read, fanned out"
        );
    }
    assert_eq!(first.remaining, Some(5));
}
