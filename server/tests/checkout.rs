//! The checkout API (`/api/v1/coupons/{code}`): each outcome with its status and body, the
//! campaign's order rules through the API, and unknown fields refused by name.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::*;

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A campaign made through the API with these extra fields, and one member's code.
async fn claimed_code(server: &TestServer, extra: Value) -> String {
    let mut body = json!({
        "name": format!("checkout {}", unique_marker()),
        "discount_kind": "percentage",
        "discount_amount": 10,
        "quantity": 5,
        "claim_starts_at": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        "claim_ends_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "valid_days": 30
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, campaign) = send(server.api(Method::POST, "/campaigns").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let id = campaign["id"].as_i64().unwrap();
    let path = format!("/campaigns/{id}/claims");
    let (status, claim) = send(
        server
            .api(Method::POST, &path)
            .json(&json!({"user_id": "buyer-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{claim}");
    claim["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_checkout_flow_answers_each_step_with_its_status() {
    let server = spawn_server().await;
    let code = claimed_code(
        &server,
        json!({"min_order_amount": 10000, "max_discount_amount": 2000}),
    )
    .await;
    let coupon = |rest: &str| format!("/coupons/{code}{rest}");

    let (status, found) = send(server.api(Method::GET, &coupon(""))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (found["state"].as_str(), found["user_id"].as_str()),
        (Some("available"), Some("buyer-1"))
    );
    assert!(
        found["expires_at"].is_string() && found["claimed_at"].is_string(),
        "{found}"
    );

    let (status, small) = send(
        server
            .api(Method::POST, &coupon("/validate"))
            .json(&json!({"order_amount": 9000})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        small,
        json!({"outcome": "below_minimum", "min_order_amount": 10000})
    );
    let (status, valid) = send(
        server
            .api(Method::POST, &coupon("/validate"))
            .json(&json!({"order_amount": 25000, "user_id": "buyer-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (valid["outcome"].as_str(), valid["discount"].as_i64()),
        (Some("valid"), Some(2000))
    );
    let (status, theirs) = send(
        server
            .api(Method::POST, &coupon("/validate"))
            .json(&json!({"order_amount": 25000, "user_id": "someone-else"})),
    )
    .await;
    assert_eq!(
        (status, theirs["outcome"].as_str()),
        (StatusCode::CONFLICT, Some("not_yours"))
    );

    let hold = json!({"order_id": "A-1", "order_amount": 15000, "hold_seconds": 600});
    let (status, held) = send(server.api(Method::POST, &coupon("/holds")).json(&hold)).await;
    assert_eq!(
        (status, held["outcome"].as_str()),
        (StatusCode::CREATED, Some("held"))
    );
    assert_eq!(held["discount"], 1500);
    let (status, again) = send(server.api(Method::POST, &coupon("/holds")).json(&hold)).await;
    assert_eq!((status, &again), (StatusCode::OK, &held));
    let other = json!({"order_id": "B-2", "order_amount": 15000});
    let (status, refused) = send(server.api(Method::POST, &coupon("/holds")).json(&other)).await;
    assert_eq!(
        (status, refused["outcome"].as_str()),
        (StatusCode::CONFLICT, Some("held"))
    );
    assert_eq!(refused["hold_expires_at"], held["hold_expires_at"]);

    let redeem = json!({"order_id": "A-1", "order_amount": 15000});
    let (status, redeemed) = send(
        server
            .api(Method::POST, &coupon("/redemptions"))
            .json(&redeem),
    )
    .await;
    assert_eq!(
        (status, redeemed["outcome"].as_str()),
        (StatusCode::CREATED, Some("redeemed"))
    );
    let (status, repeated) = send(
        server
            .api(Method::POST, &coupon("/redemptions"))
            .json(&redeem),
    )
    .await;
    assert_eq!(
        (status, &repeated),
        (StatusCode::OK, &redeemed),
        "a retry answers the same"
    );
    let (status, taken) = send(
        server
            .api(Method::POST, &coupon("/redemptions"))
            .json(&other),
    )
    .await;
    assert_eq!(
        (status, taken),
        (StatusCode::CONFLICT, json!({"outcome": "already_redeemed"}))
    );
    let (_, found) = send(server.api(Method::GET, &coupon(""))).await;
    assert_eq!(
        (found["state"].as_str(), found["order_id"].as_str()),
        (Some("redeemed"), Some("A-1"))
    );

    let (status, unheld) = send(server.api(Method::DELETE, &coupon("/redemptions/B-2"))).await;
    assert_eq!(
        (status, unheld["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_held"))
    );
    for _ in 0..2 {
        let (status, released) =
            send(server.api(Method::DELETE, &coupon("/redemptions/A-1"))).await;
        assert_eq!(
            (status, released["outcome"].as_str()),
            (StatusCode::OK, Some("released"))
        );
    }
    let (_, found) = send(server.api(Method::GET, &coupon(""))).await;
    assert_eq!(found["state"], "available");

    // The cancelled order's redemption arrives again (a client retry): refused, and the coupon
    // stays available for the member's next order.
    for path in ["/redemptions", "/holds"] {
        let (status, late) = send(server.api(Method::POST, &coupon(path)).json(&redeem)).await;
        assert_eq!(
            (status, late),
            (StatusCode::CONFLICT, json!({"outcome": "released"})),
            "a late {path} of the released order"
        );
    }
    let (_, found) = send(server.api(Method::GET, &coupon(""))).await;
    assert_eq!(found["state"], "available");
    let next = json!({"order_id": "C-3", "order_amount": 15000});
    let (status, _) = send(
        server
            .api(Method::POST, &coupon("/redemptions"))
            .json(&next),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "another order may use it");
}

#[tokio::test]
async fn unknown_codes_strings_that_are_no_code_and_unknown_fields_are_told_apart() {
    let server = spawn_server().await;
    let code = claimed_code(&server, json!({})).await;

    let (status, unknown) = send(server.api(Method::GET, "/coupons/0000-0000-0000-0000")).await;
    assert_eq!(
        (status, unknown["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_code"))
    );
    let (status, no_code) = send(server.api(Method::GET, "/coupons/hello")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_code["error"]["fields"][0]["field"], "code");

    let misspelled = json!({"order_id": "A-1", "order_amout": 15000});
    let (status, refused) = send(
        server
            .api(Method::POST, &format!("/coupons/{code}/redemptions"))
            .json(&misspelled),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order_amout"),
        "{refused}"
    );
    let bad = json!({"order_id": "", "order_amount": -1, "hold_seconds": 0});
    let (status, refused) = send(
        server
            .api(Method::POST, &format!("/coupons/{code}/holds"))
            .json(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = refused["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["order_id", "order_amount", "hold_seconds"]);
    let (_, found) = send(server.api(Method::GET, &format!("/coupons/{code}"))).await;
    assert_eq!(found["state"], "available", "nothing written: {found}");
}

#[tokio::test]
async fn a_campaign_with_a_misspelled_or_impossible_rule_is_refused_by_field() {
    let server = spawn_server().await;
    let name = format!("rules {}", unique_marker());
    let base = json!({
        "name": name,
        "discount_kind": "fixed_amount",
        "discount_amount": 3000,
        "quantity": 5,
        "claim_starts_at": chrono::Utc::now().to_rfc3339(),
        "claim_ends_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "valid_days": 30
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    let (status, misspelled) = send(
        server
            .api(Method::POST, "/campaigns")
            .json(&with(json!({"min_order_amout": 5000}))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        misspelled["error"]["message"]
            .as_str()
            .unwrap()
            .contains("min_order_amout")
    );
    let (status, capped_fixed) = send(server.api(Method::POST, "/campaigns").json(&with(
        json!({"max_discount_amount": 1000, "min_order_amount": -1}),
    )))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = capped_fixed["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["min_order_amount", "max_discount_amount"]);
    assert!(
        server
            .engine
            .campaigns()
            .await
            .unwrap()
            .iter()
            .all(|c| c.name != name),
        "nothing written"
    );

    let (status, created) = send(
        server
            .api(Method::POST, "/campaigns")
            .json(&with(json!({"min_order_amount": 5000}))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (
            created["min_order_amount"].as_i64(),
            created["max_discount_amount"].as_i64()
        ),
        (Some(5000), None)
    );
}

#[tokio::test]
async fn the_coupon_search_finds_by_code_and_by_a_member_id_shaped_like_a_code() {
    let server = spawn_server().await;
    let campaign = server.campaign(2).await;
    // Sixteen letters and digits: it reads as a code too.
    let member = format!("{:016X}", rand::random::<u64>() | (1 << 63));
    let issued = server
        .engine
        .claim(campaign.id, &coupon::UserId::parse(&member).unwrap())
        .await
        .unwrap();
    let coupon::ClaimOutcome::Issued { code, .. } = issued else {
        panic!("expected a coupon, got {issued:?}");
    };
    let admin = admin_browser(&server).await;

    for query in [code.as_str(), member.as_str()] {
        let found = call(&admin, &server, "find_coupons", &[("query", query)]).await;
        assert_eq!(found.status(), StatusCode::OK);
        let found: Value = found.json().await.unwrap();
        assert_eq!(found[0]["code"], code.as_str(), "{query}: {found}");
        assert_eq!(found[0]["user_id"], member.as_str(), "{query}: {found}");
    }
}
