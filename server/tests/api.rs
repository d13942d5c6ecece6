//! The JSON API for shop backends: key check, create, status, claim, lookup, the campaign
//! controls (pause, resume, end, quantity), and bad input that gets a specific 4xx and writes
//! nothing. (What the controls record in the audit log: tests/audit.rs.)

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

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

    let created = server
        .api(reqwest::Method::POST, "/campaigns")
        .json(&campaign_json(json!(5)))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let status = server
        .api(reqwest::Method::GET, &format!("/campaigns/{id}"))
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
        server
            .api(reqwest::Method::POST, &claims)
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

    let held = server
        .api(reqwest::Method::GET, &format!("{claims}/alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::OK);
    assert_eq!(held.json::<Value>().await.unwrap()["code"], code.as_str());
    let none = server
        .api(reqwest::Method::GET, &format!("{claims}/bob"))
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
        let response = server
            .api(reqwest::Method::POST, "/campaigns")
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

    let not_json = server
        .api(reqwest::Method::POST, &claims)
        .header("content-type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .unwrap();
    let huge = server
        .api(reqwest::Method::POST, &claims)
        .json(&json!({ "user_id": "x".repeat(100_000) }))
        .send()
        .await
        .unwrap();
    let long_id = server
        .api(reqwest::Method::POST, &claims)
        .json(&json!({ "user_id": "x".repeat(200) }))
        .send()
        .await
        .unwrap();
    let unknown = server
        .api(reqwest::Method::POST, "/campaigns/999999999/claims")
        .json(&json!({ "user_id": "alice" }))
        .send()
        .await
        .unwrap();
    let not_an_id = server
        .api(reqwest::Method::GET, "/campaigns/abc")
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

/// A campaign id no test creates (ids are counted from 1; this is far past them).
fn unknown_campaign() -> i64 {
    900_000_000_000 + i64::from(rand::random::<u32>())
}

#[tokio::test]
async fn each_control_answers_with_the_campaign_as_get_does() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    server.claims_by(&campaign, "controlled", 2).await;
    let path = |action: &str| format!("/campaigns/{}/{action}", campaign.id);

    // Act
    let paused = server
        .api(reqwest::Method::POST, &path("pause"))
        .send()
        .await
        .unwrap();
    let resumed = server
        .api(reqwest::Method::POST, &path("resume"))
        .send()
        .await
        .unwrap();
    let resized = server
        .api(
            reqwest::Method::PATCH,
            &format!("/campaigns/{}", campaign.id),
        )
        .json(&json!({ "quantity": 8 }))
        .send()
        .await
        .unwrap();
    let ended = server
        .api(reqwest::Method::POST, &path("end"))
        .send()
        .await
        .unwrap();

    // Assert
    let mut bodies = Vec::new();
    for response in [paused, resumed, resized, ended] {
        assert_eq!(response.status(), StatusCode::OK);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    let statuses: Vec<&str> = bodies
        .iter()
        .map(|body| body["campaign"]["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["paused", "active", "active", "ended"]);
    assert_eq!(bodies[2]["quantity"], 8);
    assert_eq!(bodies[2]["remaining"], 6, "8 coupons, 2 claimed");
    assert_eq!(bodies[2]["claimed"], 2);
    let recorded = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (recorded.status, recorded.quantity),
        (coupon::CampaignStatus::Ended, 8)
    );
}

#[tokio::test]
async fn a_paused_campaign_refuses_claims_until_it_is_resumed_through_the_api() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let claim = |user: &'static str| {
        server
            .api(
                reqwest::Method::POST,
                &format!("/campaigns/{}/claims", campaign.id),
            )
            .json(&json!({ "user_id": user }))
            .send()
    };

    // Act
    let pause = format!("/campaigns/{}/pause", campaign.id);
    server
        .api(reqwest::Method::POST, &pause)
        .send()
        .await
        .unwrap();
    let while_paused = claim("paused-member").await.unwrap();
    let resume = format!("/campaigns/{}/resume", campaign.id);
    server
        .api(reqwest::Method::POST, &resume)
        .send()
        .await
        .unwrap();
    let after = claim("paused-member").await.unwrap();

    // Assert
    assert_eq!(while_paused.status(), StatusCode::CONFLICT);
    assert_eq!(
        while_paused.json::<Value>().await.unwrap()["outcome"],
        "paused"
    );
    assert_eq!(after.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_bad_quantity_is_named_and_changes_nothing() {
    // Arrange: 2 of 3 claimed.
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    server.claims_by(&campaign, "claimed", 2).await;
    let path = format!("/campaigns/{}", campaign.id);
    let cases = [
        (
            json!({ "quantity": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            json!({ "quantity": 0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            json!({ "quantity": -4 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            json!({ "quantity": 99_999_999_999_i64 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity",
        ),
        (
            json!({ "quantity": "many" }),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (
            json!({ "quantity": 1e12 }),
            StatusCode::BAD_REQUEST,
            "quantity",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "quantity"),
        (
            json!({ "quantity": 5, "status": "paused" }),
            StatusCode::BAD_REQUEST,
            "status",
        ),
    ];

    for (body, status, field) in cases {
        // Act
        let response = server
            .api(reqwest::Method::PATCH, &path)
            .json(&body)
            .send()
            .await
            .unwrap();

        // Assert
        let (got, error) = error_of(response).await;
        assert_eq!(got, status, "{body} → {error}");
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(error["fields"][0]["field"], field, "{body} → {error}");
        } else {
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{body} → {error}");
        }
    }
    let after = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(after.quantity, 3, "nothing was written");
}

#[tokio::test]
async fn controls_of_an_unknown_campaign_are_404_and_of_an_ended_one_409() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let unknown = unknown_campaign();
    let control = |id: String, action: &'static str| {
        let request = match action {
            "quantity" => server
                .api(reqwest::Method::PATCH, &format!("/campaigns/{id}"))
                .json(&json!({ "quantity": 10 })),
            _ => server.api(reqwest::Method::POST, &format!("/campaigns/{id}/{action}")),
        };
        request.send()
    };

    // Act + Assert: unknown campaigns.
    for action in ["pause", "resume", "end", "quantity"] {
        for id in [unknown.to_string(), "abc".to_string()] {
            let (status, error) = error_of(control(id.clone(), action).await.unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{action} {id}: {error}");
        }
    }
    // An ended campaign stays ended; ending it again changes nothing.
    let end = control(campaign.id.to_string(), "end").await.unwrap();
    assert_eq!(end.status(), StatusCode::OK);
    for action in ["pause", "resume", "quantity"] {
        let (status, error) =
            error_of(control(campaign.id.to_string(), action).await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {error}");
        assert_eq!(error["code"], "campaign_ended", "{action}");
    }
    let again = control(campaign.id.to_string(), "end").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let after = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.quantity),
        (coupon::CampaignStatus::Ended, 3)
    );
}

#[tokio::test]
async fn controls_and_the_audit_log_need_the_key() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let client = reqwest::Client::new();
    let url = |path: String| server.url(&format!("/api/v1{path}"));
    let requests = [
        client.post(url(format!("/campaigns/{}/pause", campaign.id))),
        client.post(url(format!("/campaigns/{}/resume", campaign.id))),
        client.post(url(format!("/campaigns/{}/end", campaign.id))),
        client
            .patch(url(format!("/campaigns/{}", campaign.id)))
            .json(&json!({ "quantity": 10 })),
        client.get(url("/audit-events".to_string())),
        client
            .post(url(format!("/campaigns/{}/end", campaign.id)))
            .bearer_auth("not-the-key"),
    ];

    for request in requests {
        // Act
        let (status, _) = error_of(request.send().await.unwrap()).await;

        // Assert
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let after = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.quantity),
        (coupon::CampaignStatus::Active, 3)
    );
}
