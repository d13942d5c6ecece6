//! The audit log: each admin action (sign-in, failed sign-in, campaign creation through the
//! admin form and the API, pause/resume/end and quantity changes through the admin's server
//! functions and the API, the CSV exports) leaves exactly one entry with the right actor,
//! address, campaign and values; a refused action leaves none; the API and the admin page list
//! and filter the entries; the table refuses UPDATE, DELETE and TRUNCATE.

mod support;

use coupon::CampaignId;
use coupon::audit::{Actor, AuditEntry, AuditEvent, AuditFilter};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

/// Every request of the tests comes from here (the servers see the connection's peer).
const ADDRESS: &str = "127.0.0.1";

/// Every entry `filter` selects, newest first, read straight from the engine.
async fn recorded(server: &TestServer, filter: AuditFilter) -> Vec<AuditEntry> {
    server.engine.audit_entries(&filter, 1_000).await.unwrap()
}

async fn entries_of(server: &TestServer, id: CampaignId) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        campaign_id: Some(id),
        ..AuditFilter::default()
    };
    recorded(server, filter).await
}

async fn entries_by(server: &TestServer, actor: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        actor: Some(actor.to_owned()),
        ..AuditFilter::default()
    };
    recorded(server, filter).await
}

/// What an entry says, in one comparable line: action, actor, before, after.
fn said(entry: &AuditEntry) -> (&str, &str, Option<&Value>, Option<&Value>) {
    (
        entry.action.as_str(),
        entry.actor.as_str(),
        entry.before.as_ref(),
        entry.after.as_ref(),
    )
}

/// A campaign id no test creates (ids are counted from 1; this is far past them).
fn unknown_campaign() -> i64 {
    900_000_000_000 + i64::from(rand::random::<u32>())
}

/// An admin account of this test's own; its email and password.
async fn own_admin(server: &TestServer) -> (String, &'static str) {
    let email = format!("auditor-{}@example.com", unique_marker());
    let password = "auditor-password";
    coupon_access::accounts::create_admin(server.engine.db(), &email, password)
        .await
        .unwrap();
    (email, password)
}

fn created_form(name: &str) -> Vec<(&'static str, String)> {
    [
        ("form[name]", name),
        ("form[discount_kind]", "fixed_amount"),
        ("form[discount_amount]", "1000"),
        ("form[quantity]", "10"),
        ("form[claim_starts_at]", "2030-01-01T10:00"),
        ("form[claim_ends_at]", "2030-01-02T10:00"),
        ("form[valid_days]", "7"),
    ]
    .into_iter()
    .map(|(field, value)| (field, value.to_owned()))
    .collect()
}

#[tokio::test]
async fn a_sign_in_and_a_failed_one_leave_one_entry_each() {
    // Arrange
    let server = spawn_server().await;
    let (email, password) = own_admin(&server).await;
    let nobody = format!("Nobody-{}@Example.com", unique_marker());
    let client = browser();
    let sign_in = |email: String, password: &'static str| {
        let client = client.clone();
        let server = &server;
        async move {
            call(
                &client,
                server,
                "admin_sign_in",
                &[("email", email.as_str()), ("password", password)],
            )
            .await
            .text()
            .await
            .unwrap()
        }
    };

    // Act
    let wrong = sign_in(email.clone(), "not the password").await;
    let unknown = sign_in(nobody.clone(), password).await;
    let right = sign_in(email.to_uppercase(), password).await;

    // Assert
    assert_eq!(
        (wrong.as_str(), unknown.as_str(), right.as_str()),
        ("false", "false", "true")
    );
    let by_admin = entries_by(&server, &email).await;
    let said_by_admin: Vec<_> = by_admin.iter().map(said).collect();
    assert_eq!(
        said_by_admin,
        [
            ("admin.signed_in", email.as_str(), None, None),
            ("admin.sign_in_failed", email.as_str(), None, None),
        ]
    );
    assert!(
        by_admin
            .iter()
            .all(|entry| entry.address.as_deref() == Some(ADDRESS))
    );
    assert!(by_admin.iter().all(|entry| entry.campaign_id.is_none()));
    // A failed attempt is listed under the email typed, as accounts compare it.
    let typed = nobody.to_lowercase();
    let by_nobody = entries_by(&server, &typed).await;
    let said_by_nobody: Vec<_> = by_nobody.iter().map(said).collect();
    assert_eq!(
        said_by_nobody,
        [("admin.sign_in_failed", typed.as_str(), None, None)]
    );
}

#[tokio::test]
async fn a_campaign_created_by_the_admin_form_or_the_api_leaves_one_entry_with_its_fields() {
    // Arrange
    let server = spawn_server().await;
    let admin = admin_browser(&server).await;
    let by_form = format!("audited form {}", unique_marker());
    let by_api = format!("audited API {}", unique_marker());
    let form = created_form(&by_form);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Act
    let created = call(&admin, &server, "create_campaign", &form).await;
    let from_form: Value = created.json().await.unwrap();
    let created = server
        .api(reqwest::Method::POST, "/campaigns")
        .json(&json!({
            "name": by_api,
            "discount_kind": "percentage",
            "discount_amount": 10,
            "quantity": 7,
            "claim_starts_at": chrono::Utc::now().to_rfc3339(),
            "claim_ends_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
            "valid_days": 30
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let from_api: Value = created.json().await.unwrap();

    // Assert
    let form_id = CampaignId(from_form["Done"].as_i64().expect("created"));
    let api_id = CampaignId(from_api["id"].as_i64().expect("created"));
    for (id, actor, name, quantity) in [
        (form_id, ADMIN_EMAIL, &by_form, 10),
        (api_id, "api", &by_api, 7),
    ] {
        let entries = entries_of(&server, id).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        let entry = &entries[0];
        assert_eq!(
            (
                entry.action.as_str(),
                entry.actor.as_str(),
                entry.campaign_id
            ),
            ("campaign.created", actor, Some(id.0))
        );
        assert_eq!(entry.address.as_deref(), Some(ADDRESS));
        assert_eq!(entry.before, None);
        let after = entry.after.as_ref().expect("the campaign's fields");
        assert_eq!(after["name"], name.as_str());
        assert_eq!(after["quantity"], quantity);
        assert_eq!(after["status"], "active");
    }
}

#[tokio::test]
async fn each_admin_control_leaves_one_entry_with_the_values_before_and_after() {
    // Arrange: created straight through the engine, which records nothing.
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let admin = admin_browser(&server).await;
    let id = campaign.id.to_string();
    assert!(entries_of(&server, campaign.id).await.is_empty());

    // Act
    for (name, form) in [
        (
            "set_campaign_status",
            [("id", id.as_str()), ("status", "paused")],
        ),
        (
            "set_campaign_status",
            [("id", id.as_str()), ("status", "active")],
        ),
        (
            "set_campaign_quantity",
            [("id", id.as_str()), ("quantity", "8")],
        ),
        (
            "set_campaign_status",
            [("id", id.as_str()), ("status", "ended")],
        ),
    ] {
        let done: Value = call(&admin, &server, name, &form)
            .await
            .json()
            .await
            .unwrap();
        assert!(done.get("Done").is_some(), "{name} {form:?}: {done}");
    }

    // Assert
    let entries = entries_of(&server, campaign.id).await;
    let said: Vec<_> = entries.iter().map(said).collect();
    let values = |key: &str, before: Value, after: Value| {
        (Some(json!({ key: before })), Some(json!({ key: after })))
    };
    let (paused, resumed) = (
        values("status", json!("active"), json!("paused")),
        values("status", json!("paused"), json!("active")),
    );
    let resized = values("quantity", json!(5), json!(8));
    let ended = values("status", json!("active"), json!("ended"));
    assert_eq!(
        said,
        [
            (
                "campaign.ended",
                ADMIN_EMAIL,
                ended.0.as_ref(),
                ended.1.as_ref()
            ),
            (
                "campaign.quantity_changed",
                ADMIN_EMAIL,
                resized.0.as_ref(),
                resized.1.as_ref()
            ),
            (
                "campaign.resumed",
                ADMIN_EMAIL,
                resumed.0.as_ref(),
                resumed.1.as_ref()
            ),
            (
                "campaign.paused",
                ADMIN_EMAIL,
                paused.0.as_ref(),
                paused.1.as_ref()
            ),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|entry| entry.address.as_deref() == Some(ADDRESS))
    );
}

#[tokio::test]
async fn each_api_control_leaves_one_entry_as_api() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let path = |action: &str| format!("/campaigns/{}/{action}", campaign.id);

    // Act
    for request in [
        server.api(reqwest::Method::POST, &path("pause")),
        server.api(reqwest::Method::POST, &path("resume")),
        server
            .api(
                reqwest::Method::PATCH,
                &format!("/campaigns/{}", campaign.id),
            )
            .json(&json!({ "quantity": 9 })),
        server.api(reqwest::Method::POST, &path("end")),
    ] {
        assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    }

    // Assert
    let entries = entries_of(&server, campaign.id).await;
    let kinds: Vec<_> = entries
        .iter()
        .map(|entry| (entry.action.as_str(), entry.actor.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("campaign.ended", "api"),
            ("campaign.quantity_changed", "api"),
            ("campaign.resumed", "api"),
            ("campaign.paused", "api"),
        ]
    );
    assert_eq!(entries[1].before, Some(json!({ "quantity": 5 })));
    assert_eq!(entries[1].after, Some(json!({ "quantity": 9 })));
    assert_eq!(entries[3].before, Some(json!({ "status": "active" })));
    assert_eq!(entries[3].after, Some(json!({ "status": "paused" })));
    assert!(
        entries
            .iter()
            .all(|entry| entry.address.as_deref() == Some(ADDRESS))
    );
}

#[tokio::test]
async fn a_refused_control_leaves_no_entry() {
    // Arrange: 2 of 3 claimed.
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    server.claims_by(&campaign, "audited", 2).await;
    let admin = admin_browser(&server).await;
    let (id, unknown) = (campaign.id.to_string(), unknown_campaign());
    let unknown_text = unknown.to_string();

    // Act: below the claimed, not a number, unknown campaigns; through both doors.
    for (name, form) in [
        (
            "set_campaign_quantity",
            [("id", id.as_str()), ("quantity", "1")],
        ),
        (
            "set_campaign_quantity",
            [("id", id.as_str()), ("quantity", "lots")],
        ),
        (
            "set_campaign_status",
            [("id", id.as_str()), ("status", "deleted")],
        ),
        (
            "set_campaign_status",
            [("id", unknown_text.as_str()), ("status", "paused")],
        ),
        (
            "set_campaign_quantity",
            [("id", unknown_text.as_str()), ("quantity", "5")],
        ),
    ] {
        let refused = call(&admin, &server, name, &form)
            .await
            .text()
            .await
            .unwrap();
        assert!(refused.contains("Invalid"), "{name} {form:?}: {refused}");
    }
    let quantity = format!("/campaigns/{}", campaign.id);
    for (method, path, body) in [
        (
            reqwest::Method::PATCH,
            quantity.clone(),
            json!({ "quantity": 1 }),
        ),
        (
            reqwest::Method::PATCH,
            quantity,
            json!({ "quantity": "lots" }),
        ),
        (
            reqwest::Method::PATCH,
            format!("/campaigns/{unknown}"),
            json!({ "quantity": 5 }),
        ),
        (
            reqwest::Method::POST,
            format!("/campaigns/{unknown}/pause"),
            json!({}),
        ),
    ] {
        let refused = server.api(method, &path).json(&body).send().await.unwrap();
        assert!(refused.status().is_client_error(), "{path} {body}");
    }

    // Assert
    assert!(entries_of(&server, campaign.id).await.is_empty());
    assert!(entries_of(&server, CampaignId(unknown)).await.is_empty());
    let after = server.engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(after.quantity, 3);
}

#[tokio::test]
async fn the_coupons_export_leaves_one_entry_and_a_refused_download_none() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let admin = admin_browser(&server).await;
    let url = |file: &str| server.url(&format!("/admin/campaigns/{}/{file}", campaign.id));

    // Act
    let coupons = admin.get(url("coupons.csv")).send().await.unwrap();
    // A first-come campaign has no fairness report: nothing is downloaded.
    let fairness = admin.get(url("fairness.csv")).send().await.unwrap();
    let stranger = browser().get(url("coupons.csv")).send().await.unwrap();

    // Assert
    assert_eq!(coupons.status(), StatusCode::OK);
    assert_eq!(fairness.status(), StatusCode::NOT_FOUND);
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
    let entries = entries_of(&server, campaign.id).await;
    let said: Vec<_> = entries.iter().map(said).collect();
    let file = json!({ "file": "coupons.csv" });
    assert_eq!(
        said,
        [("export.downloaded", ADMIN_EMAIL, None, Some(&file))]
    );
    assert_eq!(entries[0].address.as_deref(), Some(ADDRESS));
}

#[tokio::test]
async fn the_api_lists_the_log_newest_first_and_filters_it() {
    // Arrange: a pause through the API, a resume by the admin.
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let admin = admin_browser(&server).await;
    let id = campaign.id.to_string();
    let pause = format!("/campaigns/{id}/pause");
    server
        .api(reqwest::Method::POST, &pause)
        .send()
        .await
        .unwrap();
    call(
        &admin,
        &server,
        "set_campaign_status",
        &[("id", &id), ("status", "active")],
    )
    .await;
    let list = |query: String| {
        let server = &server;
        async move {
            let path = format!("/audit-events?{query}");
            let response = server
                .api(reqwest::Method::GET, &path)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };

    // Act
    let (status, all) = list(format!("campaign_id={id}")).await;
    let (_, by_api) = list(format!("campaign_id={id}&actor=api")).await;
    let (_, resumes) = list(format!("campaign_id={id}&action=campaign.resumed")).await;
    let (_, by_email) = list(format!("campaign_id={id}&actor=MARKETER%40example.com")).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    let events = all["events"].as_array().expect("events");
    let actions: Vec<&Value> = events.iter().map(|event| &event["action"]).collect();
    assert_eq!(
        actions,
        [&json!("campaign.resumed"), &json!("campaign.paused")]
    );
    assert!(all.get("next_page").is_none(), "{all}");
    let newest = &events[0];
    assert_eq!(newest["actor"], ADMIN_EMAIL);
    assert_eq!(newest["address"], ADDRESS);
    assert_eq!(newest["campaign_id"], campaign.id.0);
    assert_eq!(newest["before"], json!({ "status": "paused" }));
    assert_eq!(newest["after"], json!({ "status": "active" }));
    assert!(newest["id"].as_i64().unwrap() > events[1]["id"].as_i64().unwrap());
    assert!(newest["at"].is_string());
    for (listed, action, actor) in [
        (&by_api, "campaign.paused", "api"),
        (&resumes, "campaign.resumed", ADMIN_EMAIL),
        (&by_email, "campaign.resumed", ADMIN_EMAIL),
    ] {
        let events = listed["events"].as_array().expect("events");
        assert_eq!(events.len(), 1, "{listed}");
        assert_eq!(
            (&events[0]["action"], &events[0]["actor"]),
            (&json!(action), &json!(actor))
        );
    }
}

#[tokio::test]
async fn a_bad_filter_is_named() {
    let server = spawn_server().await;

    for (query, field) in [
        ("campaign_id=abc", "campaign_id"),
        ("campaign_id=-3", "campaign_id"),
        ("action=campaign.deleted", "action"),
        ("page=0", "page"),
        ("page=next", "page"),
    ] {
        let response = server
            .api(reqwest::Method::GET, &format!("/audit-events?{query}"))
            .send()
            .await
            .unwrap();

        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"]["fields"][0]["field"], field,
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn pages_hold_fifty_entries_and_follow_each_other_without_overlap() {
    // Arrange: 55 entries of a campaign id of this test's own.
    let server = spawn_server().await;
    let id = CampaignId(unknown_campaign());
    let by = Actor::admin("pager@example.com", None);
    for _ in 0..55 {
        let event = AuditEvent::export_downloaded(id, "coupons.csv");
        server.engine.record_audit(&by, &event).await.unwrap();
    }
    let page = |query: String| {
        let server = &server;
        async move {
            let path = format!("/audit-events?campaign_id={}{query}", id.0);
            let response = server
                .api(reqwest::Method::GET, &path)
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        }
    };

    // Act
    let first = page(String::new()).await;
    let next = first["next_page"].as_i64().expect("a next page");
    let second = page(format!("&page={next}")).await;

    // Assert
    let ids = |listed: &Value| -> Vec<i64> {
        listed["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|event| event["id"].as_i64().unwrap())
            .collect()
    };
    let (first_ids, second_ids) = (ids(&first), ids(&second));
    assert_eq!((first_ids.len(), second_ids.len()), (50, 5));
    assert!(second.get("next_page").is_none(), "{second}");
    let all: Vec<i64> = first_ids.iter().chain(&second_ids).copied().collect();
    assert!(
        all.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {all:?}"
    );
    assert_eq!(first_ids.last().copied(), Some(next));
}

#[tokio::test]
async fn the_admin_page_lists_the_log_and_its_csv_export_is_recorded() {
    // Arrange
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let admin = admin_browser(&server).await;
    let id = campaign.id.to_string();
    call(
        &admin,
        &server,
        "set_campaign_status",
        &[("id", &id), ("status", "paused")],
    )
    .await;
    let filters = |campaign_id: &str| {
        [
            ("campaign_id", campaign_id.to_owned()),
            ("actor", String::new()),
            ("action", String::new()),
            ("page", String::new()),
        ]
    };
    let listed = |campaign_id: &str| {
        let form = filters(campaign_id);
        let admin = admin.clone();
        let server = &server;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = call(&admin, server, "list_audit_events", &form).await;
            response.json::<Value>().await.unwrap()
        }
    };

    // Act
    let lines = listed(&id).await;
    let refused = listed("abc").await;
    let html = admin
        .get(server.url(&format!("/admin/audit?campaign_id={id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csv = admin
        .get(server.url(&format!("/admin/audit.csv?campaign_id={id}")))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(lines["lines"][0]["action"], "campaign.paused", "{lines}");
    assert_eq!(lines["lines"][0]["actor"], ADMIN_EMAIL);
    assert_eq!(lines["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(refused["problems"][0]["field"], "campaign_id", "{refused}");
    assert!(html.contains("data-testid=\"audit-entry\""), "{html}");
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("id,at,actor,address,action,campaign_id,before,after\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\"campaign.paused\""), "{csv}");
    // The download itself is recorded, under the campaign it was cut to.
    let entries = entries_of(&server, campaign.id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].action, "export.downloaded");
    assert_eq!(entries[0].actor, ADMIN_EMAIL);
    let after = entries[0].after.as_ref().expect("the file");
    assert_eq!(after["file"], "audit.csv");
}

#[tokio::test]
async fn the_log_refuses_updates_deletes_and_truncation() {
    // Arrange: an entry to aim at.
    let server = spawn_server().await;
    let id = CampaignId(unknown_campaign());
    let by = Actor::admin("auditor@example.com", None);
    let event = AuditEvent::export_downloaded(id, "coupons.csv");
    server.engine.record_audit(&by, &event).await.unwrap();

    for statement in [
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        // Act: in a transaction that is rolled back whatever happens (other tests share the
        // table).
        let mut tx = server.engine.db().begin().await.unwrap();
        let error = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
        drop(tx);

        // Assert
        let constraint = error.as_database_error().and_then(|e| e.constraint());
        assert_eq!(constraint, Some("audit_events_are_history"), "{statement}");
    }
    let entries = entries_of(&server, id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "auditor@example.com");
}
