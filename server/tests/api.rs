//! The JSON API for shop backends: key check, create, status, claim, lookup, and bad input
//! that gets a specific 4xx and writes nothing.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

fn api(server: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, server.url(&format!("/api/v1{path}")))
        .bearer_auth(API_KEY)
}

fn campaign_json(quantity: Value) -> Value {
    json!({
        "name": "API campaign",
        "discount_kind": "fixed_amount",
        "discount_amount": 3000,
        "quantity": quantity,
        "claim_starts_at": chrono::Utc::now().to_rfc3339(),
        "claim_ends_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "valid_days": 30
    })
}

async fn campaigns_named(server: &TestServer, name: &str) -> usize {
    let all = server.engine.campaigns().await.unwrap();
    all.iter().filter(|c| c.name == name).count()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (
        status,
        response.json::<Value>().await.unwrap()["error"].clone(),
    )
}

#[tokio::test]
async fn requests_without_or_with_a_wrong_key_are_refused() {
    let server = spawn_server().await;
    let url = server.url("/api/v1/campaigns");
    let client = reqwest::Client::new();

    let missing = client
        .post(&url)
        .json(&campaign_json(json!(5)))
        .send()
        .await
        .unwrap();
    let wrong = client
        .post(&url)
        .bearer_auth("not-the-key")
        .json(&campaign_json(json!(5)))
        .send()
        .await
        .unwrap();

    assert_eq!(error_of(missing).await.0, StatusCode::UNAUTHORIZED);
    let (status, error) = error_of(wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["message"], "wrong API key");
}

#[tokio::test]
async fn a_campaign_is_created_and_its_numbers_read_back() {
    let server = spawn_server().await;

    let created = api(&server, reqwest::Method::POST, "/campaigns")
        .json(&campaign_json(json!(5)))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let status = api(&server, reqwest::Method::GET, &format!("/campaigns/{id}"))
        .send()
        .await
        .unwrap();

    assert_eq!(status.status(), StatusCode::OK);
    let body: Value = status.json().await.unwrap();
    assert_eq!(
        (body["quantity"].as_i64(), body["remaining"].as_i64()),
        (Some(5), Some(5))
    );
}

#[tokio::test]
async fn claims_answer_with_an_outcome_and_distinct_statuses() {
    let server = spawn_server().await;
    let campaign = server.campaign(1).await;
    let claims = format!("/campaigns/{}/claims", campaign.id);
    let claim = |user: &'static str| {
        api(&server, reqwest::Method::POST, &claims)
            .json(&json!({ "user_id": user }))
            .send()
    };

    let first = claim("alice").await.unwrap();
    let again = claim("alice").await.unwrap();
    let late = claim("bob").await.unwrap();

    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["outcome"], "issued");
    assert_eq!(first["remaining"], 0);
    let code = first["code"].as_str().unwrap().to_owned();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        again.json::<Value>().await.unwrap()["outcome"],
        "already_claimed"
    );
    assert_eq!(late.status(), StatusCode::CONFLICT);
    assert_eq!(late.json::<Value>().await.unwrap()["outcome"], "sold_out");

    let held = api(&server, reqwest::Method::GET, &format!("{claims}/alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::OK);
    assert_eq!(held.json::<Value>().await.unwrap()["code"], code.as_str());
    let none = api(&server, reqwest::Method::GET, &format!("{claims}/bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_campaign_input_names_the_field_and_writes_nothing() {
    let server = spawn_server().await;
    let marker = format!("refused {}", unique_marker());
    let cases = [
        (
            campaign_json(json!(0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            campaign_json(json!(-5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            campaign_json(json!("many")),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            campaign_json(json!(1e12)),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({ "valid_days": 3 }),
            StatusCode::BAD_REQUEST,
            "missing field",
        ),
        (
            {
                let mut body = campaign_json(json!(5));
                body["discount_kind"] = json!("percentage");
                body["discount_amount"] = json!(150);
                body
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "discount_amount",
        ),
        (
            {
                let mut body = campaign_json(json!(5));
                let later = chrono::Utc::now() + chrono::Duration::days(2);
                body["claim_starts_at"] = json!(later.to_rfc3339());
                body
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "claim_ends_at",
        ),
        // Dates outside the accepted years (the first one PostgreSQL cannot even store, which
        // used to answer 503): refused by name.
        (
            {
                let mut body = campaign_json(json!(5));
                body["claim_starts_at"] = json!("-10000-01-01T00:00:00Z");
                body
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "claim_starts_at",
        ),
        (
            {
                let mut body = campaign_json(json!(5));
                body["claim_ends_at"] = json!("+10000-01-01T00:00:00Z");
                body
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "claim_ends_at",
        ),
    ];

    for (mut body, status, mentions) in cases {
        body["name"] = json!(marker);
        let response = api(&server, reqwest::Method::POST, "/campaigns")
            .json(&body)
            .send()
            .await
            .unwrap();
        let (got, error) = error_of(response).await;
        assert_eq!(got, status, "{body} → {error}");
        assert!(
            error["message"].as_str().unwrap().contains(mentions),
            "{error}"
        );
    }
    assert_eq!(
        campaigns_named(&server, &marker).await,
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn malformed_oversized_and_misdirected_requests_get_json_errors() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let claims = format!("/campaigns/{}/claims", campaign.id);

    let not_json = api(&server, reqwest::Method::POST, &claims)
        .header("content-type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .unwrap();
    let huge = api(&server, reqwest::Method::POST, &claims)
        .json(&json!({ "user_id": "x".repeat(100_000) }))
        .send()
        .await
        .unwrap();
    let long_id = api(&server, reqwest::Method::POST, &claims)
        .json(&json!({ "user_id": "x".repeat(200) }))
        .send()
        .await
        .unwrap();
    let unknown = api(
        &server,
        reqwest::Method::POST,
        "/campaigns/999999999/claims",
    )
    .json(&json!({ "user_id": "alice" }))
    .send()
    .await
    .unwrap();
    let not_an_id = api(&server, reqwest::Method::GET, "/campaigns/abc")
        .send()
        .await
        .unwrap();

    assert_eq!(error_of(not_json).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, error) = error_of(long_id).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["fields"][0]["field"], "user_id");
    assert_eq!(error_of(unknown).await.0, StatusCode::NOT_FOUND);
    assert_eq!(error_of(not_an_id).await.0, StatusCode::NOT_FOUND);
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, 0, "no bad request claimed anything");
}
