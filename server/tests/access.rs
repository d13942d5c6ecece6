//! Who may call what: every admin server function and admin route refuses a request without
//! an admin session (they are plain HTTP endpoints anyone can call), sign-in renews the
//! session id, and members claim through their session.

mod support;

use coupon::CampaignStatus;
use reqwest::StatusCode;
use std::time::Duration;
use support::*;

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .cookies()
        .find(|c| c.name() == "coupon_session")
        .map(|c| c.value().to_owned())
}

#[tokio::test]
async fn admin_server_functions_refuse_callers_without_an_admin_session() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let id = campaign.id.to_string();
    let stranger = browser();
    let calls: [(&str, Vec<(&str, &str)>); 7] = [
        ("list_campaigns", LIST_ALL.to_vec()),
        (
            "list_audit_events",
            vec![
                ("campaign_id", ""),
                ("actor", ""),
                ("action", ""),
                ("page", ""),
            ],
        ),
        ("find_coupons", vec![("query", "member-1")]),
        ("campaign_detail", vec![("id", &id)]),
        (
            "set_campaign_status",
            vec![("id", &id), ("status", "paused")],
        ),
        (
            "set_campaign_quantity",
            vec![("id", &id), ("quantity", "1")],
        ),
        (
            "create_campaign",
            vec![
                ("form[name]", "forged"),
                ("form[discount_kind]", "percentage"),
                ("form[discount_amount]", "10"),
                ("form[quantity]", "10"),
                ("form[claim_starts_at]", "2030-01-01T10:00"),
                ("form[claim_ends_at]", "2030-01-02T10:00"),
                ("form[valid_days]", "7"),
            ],
        ),
    ];
    for (name, form) in &calls {
        let response = call(&stranger, &server, name, form).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    }

    let after = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!((after.status, after.quantity), (CampaignStatus::Active, 5));
    // By name, not by count: the suite's other tests create campaigns in the same database
    // while this one runs.
    let all = server.engine.campaigns().await.unwrap();
    assert!(
        all.iter().all(|c| c.name != "forged"),
        "a refused campaign was written"
    );
}

#[tokio::test]
async fn admin_routes_refuse_callers_without_an_admin_session() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let stranger = browser();

    for path in [
        format!("/admin/campaigns/{}/coupons.csv", campaign.id),
        format!("/admin/campaigns/{}/fairness.csv", campaign.id),
        format!("/admin/live/campaigns/{}", campaign.id),
        "/admin/audit.csv".to_string(),
    ] {
        let response = stranger.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_a_right_one_renews_the_session_id() {
    let server = spawn_server().await;
    let client = browser();
    // A session exists before sign-in (a member signed in on this browser).
    let before = call(
        &client,
        &server,
        "member_sign_in",
        &[("member_id", "someone")],
    )
    .await;
    let before = session_cookie(&before).expect("a session cookie");

    let wrong = call(
        &client,
        &server,
        "admin_sign_in",
        &[("email", ADMIN_EMAIL), ("password", "not it")],
    )
    .await;
    assert_eq!(wrong.text().await.unwrap(), "false");
    let refused = call(&client, &server, "list_campaigns", LIST_ALL).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let right = call(
        &client,
        &server,
        "admin_sign_in",
        &[
            ("email", &ADMIN_EMAIL.to_uppercase()),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await;

    assert_eq!(right.status(), StatusCode::OK);
    let set_cookie = right
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let after = session_cookie(&right).expect("a renewed session cookie");
    assert_ne!(before, after, "the session id changes at sign-in");
    let listed = call(&client, &server, "list_campaigns", LIST_ALL).await;
    assert_eq!(listed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_signed_in_admin_pauses_a_campaign_and_exports_its_coupons() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let admin = admin_browser(&server).await;
    let member = coupon::UserId::parse("=cmd|' /C calc'!A0").unwrap();
    server.engine.claim(campaign.id, &member).await.unwrap();
    let id = campaign.id.to_string();

    let paused = call(
        &admin,
        &server,
        "set_campaign_status",
        &[("id", &id), ("status", "paused")],
    )
    .await;
    assert_eq!(paused.status(), StatusCode::OK);
    assert_eq!(
        server
            .engine
            .campaign(campaign.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        CampaignStatus::Paused
    );
    let csv = wait_for_csv_rows(&server, &admin, campaign.id, 1).await;

    assert!(
        csv.starts_with(
            "sequence,user_id,code,claimed_at,synced_at,state,order_id,redeemed_at\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.ends_with(",\"available\",\"\",\"\"\r\n"),
        "a coupon not used yet: {csv}"
    );
    assert!(
        csv.contains("\"'=cmd|' /C calc'!A0\""),
        "formula defused: {csv}"
    );
}

/// The export lists synced rows; waits (bounded) for the background sync to record them.
async fn wait_for_csv_rows(
    server: &TestServer,
    admin: &reqwest::Client,
    id: coupon::CampaignId,
    rows: usize,
) -> String {
    let url = server.url(&format!("/admin/campaigns/{id}/coupons.csv"));
    let latest = std::sync::Mutex::new(String::new());
    eventually(
        "the export to list the synced rows",
        Duration::from_secs(10),
        || async {
            let csv = admin.get(&url).send().await.unwrap().text().await.unwrap();
            let enough = csv.lines().count() > rows;
            *latest.lock().unwrap() = csv;
            enough
        },
    )
    .await;
    latest.into_inner().unwrap()
}

#[tokio::test]
async fn a_member_claims_through_the_session_once() {
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let member = browser();
    let id = campaign.id.to_string();

    let anonymous = call(&member, &server, "claim", &[("campaign_id", &id)]).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    call(
        &member,
        &server,
        "member_sign_in",
        &[("member_id", "member-7")],
    )
    .await;
    let first = call(&member, &server, "claim", &[("campaign_id", &id)]).await;
    let second = call(&member, &server, "claim", &[("campaign_id", &id)]).await;

    // A claim reads the session and does not write it back (nor extend it with a new cookie).
    assert!(
        first.headers().get(reqwest::header::SET_COOKIE).is_none(),
        "a claim rewrote the session: {:?}",
        first.headers()
    );
    let first: serde_json::Value = first.json().await.unwrap();
    let second: serde_json::Value = second.json().await.unwrap();
    let code = &first["Issued"]["coupon"]["code"];
    assert!(code.is_string(), "{first}");
    assert_eq!(second["Issued"]["just_now"], false);
    assert_eq!(&second["Issued"]["coupon"]["code"], code);
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, 1);
}
