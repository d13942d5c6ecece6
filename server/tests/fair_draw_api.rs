//! Fair draws through the JSON API: the opening fields and their refusals, entries (202), the
//! draw run by the server's own loop, `not_drawn` on claim and lookup, the published list, the
//! fairness report.

mod support;

use coupon::draw::{DrawSecret, digest_hex, parse_digest};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration as StdDuration;
use support::draw::fair_draw_body;
use support::*;

async fn claim(server: &TestServer, id: i64, user: &str) -> (StatusCode, Value) {
    let response = server
        .api(reqwest::Method::POST, &format!("/campaigns/{id}/claims"))
        .json(&json!({ "user_id": user }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = server.api(reqwest::Method::GET, path).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_bad_opening_gets_422_naming_the_field_and_writes_nothing() {
    let server = spawn_server().await;
    let name = format!("bad opening {}", unique_marker());
    let mut unknown = fair_draw_body(&name, 5, 60_000);
    unknown["opening"] = json!("lottery");
    let mut missing = fair_draw_body(&name, 5, 60_000);
    missing.as_object_mut().unwrap().remove("entries_open_at");
    let mut late = fair_draw_body(&name, 5, 60_000);
    late["entries_open_at"] = late["claim_starts_at"].clone();

    for (field, body) in [
        ("opening", unknown),
        ("entries_open_at", missing),
        ("entries_open_at", late),
    ] {
        let response = server
            .api(reqwest::Method::POST, "/campaigns")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}"
        );
        let error = response.json::<Value>().await.unwrap()["error"].clone();
        assert_eq!(error["code"], "invalid_input");
        assert_eq!(error["fields"][0]["field"], field, "{error}");
    }
    let written = server.engine.campaigns().await.unwrap();
    assert!(written.iter().all(|c| c.name != name), "nothing written");
}

#[tokio::test]
async fn entries_are_accepted_then_drawn_and_the_draw_can_be_checked() {
    // Arrange: 3 coupons, the draw in three seconds.
    let server = spawn_server().await;
    let name = format!("API draw {}", unique_marker());
    let created = server
        .api(reqwest::Method::POST, "/campaigns")
        .json(&fair_draw_body(&name, 3, 3000))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["opening"], "fair_draw");
    let id = created["id"].as_i64().unwrap();
    let commitment = created["draw_commitment"].as_str().unwrap().to_owned();

    // Act: 8 members enter, one twice; the lookup and the list before the draw.
    let members: Vec<String> = (0..8).map(|n| format!("api-entrant-{n}")).collect();
    for member in &members {
        let (status, body) = claim(&server, id, member).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["outcome"], "entered");
        assert_eq!(body["draw_at"], created["claim_starts_at"]);
    }
    let (again, _) = claim(&server, id, &members[0]).await;
    let first_lookup = format!("/campaigns/{id}/claims/{}", members[0]);
    let (lookup_before, lookup_body) = get(&server, &first_lookup).await;
    let (list_before, list_body) = get(&server, &format!("/campaigns/{id}/draw")).await;

    // The server's draw loop draws once the window starts.
    let status_path = format!("/campaigns/{id}");
    eventually(
        "the draw to be completed",
        StdDuration::from_secs(20),
        || async { get(&server, &status_path).await.1["draw_secret"].is_string() },
    )
    .await;
    let (_, status) = get(&server, &status_path).await;
    let (list_status, list) = get(&server, &format!("/campaigns/{id}/draw?limit=10000")).await;

    // Assert: entries and lookups before the draw.
    assert_eq!(again, StatusCode::ACCEPTED);
    assert_eq!(lookup_before, StatusCode::NOT_FOUND);
    assert_eq!(lookup_body["error"]["code"], "entered");
    assert_eq!(list_before, StatusCode::CONFLICT);
    assert_eq!(list_body["error"]["code"], "draw_not_done");

    // Assert: the commitment holds, the list has every entrant in order, 3 drawn.
    // (tests/fair_draw.rs checks the same with hmac and sha2 directly.)
    let secret = parse_digest(status["draw_secret"].as_str().unwrap()).expect("32 bytes, hex");
    let secret = DrawSecret::from_bytes(&secret).unwrap();
    assert_eq!(secret.commitment(), commitment);
    assert_eq!(status["entrants"], 8);
    assert_eq!(status["winners"], 3);
    assert_eq!(list_status, StatusCode::OK);
    let digests: Vec<String> = list["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    let mut sorted = digests.clone();
    sorted.sort();
    assert_eq!(digests, sorted);
    assert_eq!(digests.len(), 8);
    let cutoff = status["cutoff"].as_str().unwrap();
    assert_eq!(cutoff, digests[2]);

    // Assert: each member's answer agrees with their digest against the cutoff.
    for member in &members {
        let digest = digest_hex(&secret.digest_of(member));
        let (lookup, body) = get(&server, &format!("/campaigns/{id}/claims/{member}")).await;
        let (claimed, claim_body) = claim(&server, id, member).await;
        if digest.as_str() <= cutoff {
            assert_eq!(lookup, StatusCode::OK, "{body}");
            assert_eq!(body["draw_digest"], digest.as_str());
            assert_eq!(claim_body["outcome"], "already_claimed");
        } else {
            assert_eq!(lookup, StatusCode::NOT_FOUND);
            assert_eq!(body["error"]["code"], "not_drawn");
            assert_eq!(body["error"]["digest"], digest.as_str());
            assert_eq!(claimed, StatusCode::CONFLICT);
            assert_eq!(claim_body["outcome"], "not_drawn");
        }
    }
}

#[tokio::test]
async fn the_fairness_report_follows_the_draw_and_counts_the_entries_refused_by_the_limits() {
    // Arrange: a server allowing 2 claims per member a minute; a fair draw of 2 coupons in four
    // seconds, and a first-come campaign.
    let server = spawn_server_with(|state| {
        let tight = coupon_access::limits::LimitSettings {
            claims_per_user_per_minute: 2,
            ..coupon_access::limits::LimitSettings::default()
        };
        state.access.limits = limits_of_its_own(state, tight);
    })
    .await;
    let created: Value = server
        .api(reqwest::Method::POST, "/campaigns")
        .json(&fair_draw_body(
            &format!("fairness {}", unique_marker()),
            2,
            4000,
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let mut first_come_json = fair_draw_body(&format!("first come {}", unique_marker()), 2, 4000);
    if let Some(fields) = first_come_json.as_object_mut() {
        fields.remove("opening");
        fields.remove("entries_open_at");
    }
    let first_come: Value = server
        .api(reqwest::Method::POST, "/campaigns")
        .json(&first_come_json)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_come_id = first_come["id"].as_i64().unwrap();

    // Act: 5 members enter; one of them tries 5 more times (over the limit); the report
    // before and after the draw.
    for n in 0..5 {
        let (status, body) = claim(&server, id, &format!("fair-entrant-{n}")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let mut refused = 0;
    for _ in 0..5 {
        let (status, body) = claim(&server, id, "fair-entrant-0").await;
        match status {
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            StatusCode::ACCEPTED => {}
            other => panic!("an entry again: {other} {body}"),
        }
    }
    let fairness_path = format!("/campaigns/{id}/fairness");
    let (before, before_body) = get(&server, &fairness_path).await;
    let status_path = format!("/campaigns/{id}");
    eventually(
        "the draw to be completed",
        StdDuration::from_secs(20),
        || async { get(&server, &status_path).await.1["draw_secret"].is_string() },
    )
    .await;
    // The draw loop writes the refusals it counted about once a second.
    eventually(
        "the refused entries to be written",
        StdDuration::from_secs(10),
        || async {
            get(&server, &fairness_path).await.1["refused"]["rate_limited"] == json!(refused)
        },
    )
    .await;
    let (after, report) = get(&server, &fairness_path).await;
    let (_, status) = get(&server, &status_path).await;
    let (no_draw, no_draw_body) =
        get(&server, &format!("/campaigns/{first_come_id}/fairness")).await;

    // Assert
    assert!(
        refused > 0,
        "the limit refused some of the repeated entries"
    );
    assert_eq!(before, StatusCode::CONFLICT);
    assert_eq!(before_body["error"]["code"], "draw_not_done");
    assert_eq!(after, StatusCode::OK, "{report}");
    assert_eq!(report["entrants"], 5);
    assert_eq!(report["drawn"], 2);
    assert_eq!(report["not_drawn"], 3);
    assert_eq!(report["commitment"], status["draw_commitment"]);
    assert_eq!(report["secret"], status["draw_secret"]);
    assert_eq!(report["cutoff"], status["cutoff"]);
    assert!(report["entry_times"]["ks_distance"].is_number(), "{report}");
    let buckets = report["entry_times"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), coupon::draw::TIME_BUCKETS);
    let entered: i64 = buckets
        .iter()
        .map(|b| b["entrants"].as_i64().unwrap())
        .sum();
    let drawn: i64 = buckets.iter().map(|b| b["drawn"].as_i64().unwrap()).sum();
    assert_eq!((entered, drawn), (5, 2));
    assert_eq!(report["refused"]["bot_check"], 0);
    assert_eq!(report["refused"]["bot_check_enabled"], false);
    assert_eq!(no_draw, StatusCode::NOT_FOUND);
    assert_eq!(no_draw_body["error"]["code"], "no_draw");
}
