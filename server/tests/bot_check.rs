//! The bot check (issue 29, item 5): the public challenge, a solved one accepted once by the
//! claim server function (a claim and a fair draw's entry), and every other refused with its
//! code and nothing written (missing, forged, unsolved, expired, another campaign's, reused);
//! the JSON API with its key is exempt; `bot_check_bits` in the API's campaign body, its 422,
//! the admin form, and the fairness report's count. Campaigns here ask for 8 bits, so that
//! solving in the test takes a few hundred hashes.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coupon::bot_check::{CHALLENGE_CHARS, solve, solves};
use coupon::{Campaign, CampaignDraft, UserId};
use coupon_access::limits::LimitSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration as StdDuration;
use support::*;

const BITS: u8 = 8;

/// A server whose members may sign in often (every test signs several in from one address).
async fn server() -> TestServer {
    spawn_server_with(|state| {
        let roomy = LimitSettings {
            sign_ins_per_minute: 1000,
            ..LimitSettings::default()
        };
        state.access.limits = limits_of_its_own(state, roomy);
    })
    .await
}

/// A first-come campaign of `quantity`, open now, with a bot check of [`BITS`].
async fn checked_campaign(server: &TestServer, quantity: i64) -> Campaign {
    let draft = CampaignDraft {
        bot_check_bits: Some(i64::from(BITS)),
        ..draft(quantity)
    };
    server.engine.create_campaign(&draft).await.unwrap()
}

/// A browser signed in (demo sign-in) as `member`.
async fn member(server: &TestServer, member: &str) -> reqwest::Client {
    let client = browser();
    let signed_in = call(&client, server, "member_sign_in", &[("member_id", member)]).await;
    assert_eq!(signed_in.status(), StatusCode::OK, "sign-in of {member}");
    client
}

/// `GET /api/v1/campaigns/{id}/challenge`, without the API key, as the page's script asks.
async fn challenge(server: &TestServer, id: i64) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/v1/campaigns/{id}/challenge")))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A fresh challenge of campaign `id`, solved: (challenge, nonce).
async fn solved(server: &TestServer, id: i64) -> (String, String) {
    let (status, body) = challenge(server, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body["challenge"].as_str().unwrap().to_owned();
    let bits = u8::try_from(body["bits"].as_u64().unwrap()).unwrap();
    let nonce = solve(&text, bits).to_string();
    (text, nonce)
}

/// The claim server function with these bot-check fields (none when `None`); the answer's
/// status and body.
async fn claim(
    client: &reqwest::Client,
    server: &TestServer,
    id: i64,
    proof: Option<(&str, &str)>,
) -> (StatusCode, String) {
    let id = id.to_string();
    let mut form = vec![("campaign_id", id.as_str())];
    if let Some((challenge, nonce)) = proof {
        form.push(("bot_challenge", challenge));
        form.push(("bot_nonce", nonce));
    }
    let response = call(client, server, "claim", &form).await;
    (response.status(), response.text().await.unwrap())
}

fn refused_with(body: &str, code: &str) -> bool {
    body.contains("BotCheckRefused") && body.contains(code)
}

async fn holds(server: &TestServer, campaign: &Campaign, member: &str) -> bool {
    let member = UserId::parse(member).unwrap();
    server
        .engine
        .coupon_of(campaign.id, &member)
        .await
        .unwrap()
        .is_some()
}

/// A member, the challenge and nonce their claim sends (none: no fields), the code expected.
type RefusalCase<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a str);

#[tokio::test]
async fn the_challenge_is_public_and_carries_the_campaigns_bits() {
    // Arrange
    let server = server().await;
    let checked = checked_campaign(&server, 5).await;
    let unchecked = server.campaign(5).await;

    // Act
    let (status, body) = challenge(&server, checked.id.0).await;
    let (off_status, off) = challenge(&server, unchecked.id.0).await;
    let (missing, missing_body) = challenge(&server, i64::MAX).await;
    let (again_status, again) = challenge(&server, checked.id.0).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bits"], json!(BITS));
    let text = body["challenge"].as_str().unwrap();
    assert_eq!(text.len(), CHALLENGE_CHARS);
    let bytes = URL_SAFE_NO_PAD.decode(text).unwrap();
    assert_eq!(&bytes[..8], &checked.id.0.to_be_bytes(), "the campaign id");
    let expires_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["expires_at"].clone()).unwrap();
    let expires_ms = i64::from_be_bytes(bytes[8..16].try_into().unwrap());
    assert_eq!(expires_ms, expires_at.timestamp_millis(), "the expiry");
    let left = expires_at - chrono::Utc::now();
    assert!(
        left > chrono::Duration::seconds(100) && left <= chrono::Duration::seconds(120),
        "about two minutes: {left}"
    );
    assert_eq!(again_status, StatusCode::OK);
    assert_ne!(again["challenge"], body["challenge"], "a new one each time");
    assert_eq!(off_status, StatusCode::OK);
    assert_eq!(off["bits"], 0, "no bot check");
    assert_eq!(missing, StatusCode::NOT_FOUND);
    assert_eq!(missing_body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_solved_challenge_is_accepted_once_and_refused_as_reused_after() {
    // Arrange
    let server = server().await;
    let campaign = checked_campaign(&server, 5).await;
    let first = member(&server, "pow-first").await;
    let second = member(&server, "pow-second").await;
    let (text, nonce) = solved(&server, campaign.id.0).await;

    // Act
    let proof = Some((text.as_str(), nonce.as_str()));
    let (status, body) = claim(&first, &server, campaign.id.0, proof).await;
    let (again_status, again) = claim(&second, &server, campaign.id.0, proof).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Issued"), "{body}");
    assert!(holds(&server, &campaign, "pow-first").await);
    assert_eq!(again_status, StatusCode::OK);
    assert!(refused_with(&again, "bot_check_reused"), "{again}");
    assert!(
        !holds(&server, &campaign, "pow-second").await,
        "nothing written"
    );
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, 1);
}

#[tokio::test]
async fn missing_forged_unsolved_expired_and_foreign_solutions_are_refused_and_write_nothing() {
    // Arrange
    let server = server().await;
    let campaign = checked_campaign(&server, 5).await;
    let other = checked_campaign(&server, 5).await;
    let id = campaign.id.0;
    let (text, nonce) = solved(&server, id).await;
    // Forged: one character of the tag changed, then solved, so only the tag is wrong.
    let mut forged = text.clone().into_bytes();
    forged[70] = if forged[70] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let forged_nonce = solve(&forged, BITS).to_string();
    // Unsolved: a nonce whose hash lacks the zero bits.
    let wrong_nonce = (0u64..)
        .find(|n| !solves(&text, *n, BITS))
        .unwrap()
        .to_string();
    // Expired: made with the server's own key, a second ago.
    let old = server.engine.bot_challenge_expiring_at(
        campaign.id,
        BITS,
        chrono::Utc::now() - chrono::Duration::seconds(1),
    );
    let old_nonce = solve(&old.challenge, BITS).to_string();
    // Another campaign's, solved.
    let (foreign, foreign_nonce) = solved(&server, other.id.0).await;
    let cases: [RefusalCase; 7] = [
        ("pow-missing", None, "bot_check_required"),
        ("pow-blank", Some(("", "")), "bot_check_required"),
        (
            "pow-no-nonce",
            Some((text.as_str(), " ")),
            "bot_check_required",
        ),
        (
            "pow-forged",
            Some((forged.as_str(), forged_nonce.as_str())),
            "bot_check_failed",
        ),
        (
            "pow-unsolved",
            Some((text.as_str(), wrong_nonce.as_str())),
            "bot_check_failed",
        ),
        (
            "pow-expired",
            Some((old.challenge.as_str(), old_nonce.as_str())),
            "bot_check_expired",
        ),
        (
            "pow-foreign",
            Some((foreign.as_str(), foreign_nonce.as_str())),
            "bot_check_failed",
        ),
    ];

    for (who, proof, code) in cases {
        // Act
        let client = member(&server, who).await;
        let (status, body) = claim(&client, &server, id, proof).await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{who}: {body}");
        assert!(
            refused_with(&body, code),
            "{who}: expected {code}, got {body}"
        );
        assert!(
            !holds(&server, &campaign, who).await,
            "{who}: nothing written"
        );
    }
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, 0, "nobody claimed");
    // The refusals used nothing up: the solution is still good, once.
    let late = member(&server, "pow-late").await;
    let (_, body) = claim(&late, &server, id, Some((text.as_str(), nonce.as_str()))).await;
    assert!(body.contains("Issued"), "{body}");
}

#[tokio::test]
async fn a_fair_draws_web_entries_need_the_check_and_its_refusals_are_counted() {
    // Arrange: two members; a fair draw with a bot check, entries open, the draw in six
    // seconds (the refusals count while the entries are open).
    let server = server().await;
    let entrant = member(&server, "pow-entrant").await;
    let bot = member(&server, "pow-bot").await;
    let now = chrono::Utc::now();
    let draft = CampaignDraft {
        opening: Some("fair_draw".into()),
        entries_open_at: Some(now - chrono::Duration::minutes(1)),
        claim_starts_at: now + chrono::Duration::seconds(6),
        claim_ends_at: now + chrono::Duration::hours(1),
        bot_check_bits: Some(i64::from(BITS)),
        ..draft(2)
    };
    let campaign = server.engine.create_campaign(&draft).await.unwrap();
    let id = campaign.id.0;

    // Act: one entry with a solution, then two attempts without one and one reusing it.
    let (text, nonce) = solved(&server, id).await;
    let proof = Some((text.as_str(), nonce.as_str()));
    let (_, entered) = claim(&entrant, &server, id, proof).await;
    let (_, missing) = claim(&bot, &server, id, None).await;
    let (_, unsolved) = claim(&bot, &server, id, Some((text.as_str(), "0"))).await;
    let (_, reused) = claim(&bot, &server, id, proof).await;

    // Assert: the entry, and nothing of the bot's.
    assert!(entered.contains("Entered"), "{entered}");
    assert!(refused_with(&missing, "bot_check_required"), "{missing}");
    // "0" may solve it by chance (one in 256): then it is refused as used.
    assert!(
        refused_with(&unsolved, "bot_check_failed") || refused_with(&unsolved, "bot_check_reused"),
        "{unsolved}"
    );
    assert!(refused_with(&reused, "bot_check_reused"), "{reused}");
    let bot_id = UserId::parse("pow-bot").unwrap();
    let standing = server
        .engine
        .draw_standing(campaign.id, &bot_id)
        .await
        .unwrap();
    assert!(standing.is_none(), "the bot did not enter: {standing:?}");

    // Assert: the fairness report counts the three refused entries and says the check was on.
    let api = reqwest::Client::new();
    let fairness = server.url(&format!("/api/v1/campaigns/{id}/fairness"));
    let report = first_within(StdDuration::from_secs(20), || async {
        let response = api.get(&fairness).bearer_auth(API_KEY).send().await.ok()?;
        let report: Value = response.json().await.ok()?;
        (report["refused"]["bot_check"] == 3).then_some(report)
    })
    .await
    .expect("the draw completed and the refusals written");
    assert_eq!(report["entrants"], 1);
    assert_eq!(report["refused"]["bot_check_enabled"], true);
    assert_eq!(report["refused"]["rate_limited"], 0);
}

#[tokio::test]
async fn the_json_api_with_its_key_is_exempt() {
    // Arrange
    let server = server().await;
    let campaign = checked_campaign(&server, 5).await;

    // Act
    let response = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/campaigns/{}/claims", campaign.id)))
        .bearer_auth(API_KEY)
        .json(&json!({ "user_id": "shop-vouched" }))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "issued", "{body}");
    assert!(holds(&server, &campaign, "shop-vouched").await);
}

#[tokio::test]
async fn a_campaign_without_the_check_takes_claims_without_a_solution() {
    let server = server().await;
    let campaign = server.campaign(5).await;
    let client = member(&server, "pow-free").await;

    let (status, body) = claim(&client, &server, campaign.id.0, None).await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Issued"), "{body}");
}

#[tokio::test]
async fn bot_check_bits_are_in_the_api_body_and_out_of_range_gets_422_naming_the_field() {
    // Arrange
    let server = server().await;
    let api = reqwest::Client::new();
    let body = |name: &str, bits: Value| {
        let now = chrono::Utc::now();
        json!({
            "name": name,
            "discount_kind": "fixed_amount",
            "discount_amount": 3000,
            "quantity": 5,
            "claim_starts_at": now.to_rfc3339(),
            "claim_ends_at": (now + chrono::Duration::days(1)).to_rfc3339(),
            "valid_days": 30,
            "bot_check_bits": bits
        })
    };
    let refused_name = format!("too hard {}", unique_marker());

    // Act
    let created = api
        .post(server.url("/api/v1/campaigns"))
        .bearer_auth(API_KEY)
        .json(&body(&format!("bot check {}", unique_marker()), json!(20)))
        .send()
        .await
        .unwrap();
    let mut refusals = Vec::new();
    for bits in [json!(29), json!(-1)] {
        let response = api
            .post(server.url("/api/v1/campaigns"))
            .bearer_auth(API_KEY)
            .json(&body(&refused_name, bits))
            .send()
            .await
            .unwrap();
        refusals.push((response.status(), response.json::<Value>().await.unwrap()));
    }

    // Assert
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["bot_check_bits"], 20);
    let id = coupon::CampaignId(created["id"].as_i64().unwrap());
    let stored = server.engine.campaign(id).await.unwrap().unwrap();
    assert_eq!(stored.bot_check_bits, 20);
    for (status, refusal) in refusals {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
        assert_eq!(refusal["error"]["code"], "invalid_input");
        assert_eq!(refusal["error"]["fields"][0]["field"], "bot_check_bits");
    }
    let written = server.engine.campaigns().await.unwrap();
    assert!(
        written.iter().all(|c| c.name != refused_name),
        "nothing written"
    );
}

#[tokio::test]
async fn the_admin_form_sets_the_bot_check_and_names_a_bad_value() {
    // Arrange
    let server = server().await;
    let admin = admin_browser(&server).await;
    let name = format!("form bot check {}", unique_marker());
    let form = |bits: &'static str| {
        vec![
            ("form[name]", name.as_str()),
            ("form[discount_kind]", "fixed_amount"),
            ("form[discount_amount]", "1000"),
            ("form[quantity]", "10"),
            ("form[claim_starts_at]", "2030-01-01T10:00"),
            ("form[claim_ends_at]", "2030-01-02T10:00"),
            ("form[valid_days]", "7"),
            ("form[bot_check_bits]", bits),
        ]
    };

    // Act
    let bad = call(&admin, &server, "create_campaign", &form("hard")).await;
    let (bad_status, bad) = (bad.status(), bad.text().await.unwrap());
    let done = call(&admin, &server, "create_campaign", &form("22")).await;
    let (status, done) = (done.status(), done.text().await.unwrap());

    // Assert
    assert_eq!(bad_status, StatusCode::OK);
    assert!(
        bad.contains("Invalid") && bad.contains("bot_check_bits"),
        "{bad}"
    );
    assert_eq!(status, StatusCode::OK);
    assert!(done.contains("Done"), "{done}");
    let created = server
        .engine
        .campaigns()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .expect("created");
    assert_eq!(created.bot_check_bits, 22);
}

#[tokio::test]
async fn the_claim_page_of_a_checked_campaign_loads_the_solver_and_explains_it_without_js() {
    // Arrange
    let server = server().await;
    let checked = checked_campaign(&server, 5).await;
    let unchecked = server.campaign(5).await;
    let client = member(&server, "pow-page").await;
    let page = |id: coupon::CampaignId| {
        let client = client.clone();
        let url = server.url(&format!("/c/{id}"));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };

    // Act
    let with_check = page(checked.id).await;
    let without = page(unchecked.id).await;

    // Assert: the form's fields for the solution, the script, the note for browsers without
    // JavaScript; none of them on a campaign without a check.
    for part in [
        "name=\"bot_challenge\"",
        "name=\"bot_nonce\"",
        "src=\"/pow.js\"",
        "<noscript",
        "bot-check-needs-js",
    ] {
        assert!(with_check.contains(part), "{part} missing");
        assert!(
            !without.contains(part),
            "{part} on a campaign without a check"
        );
    }
}
