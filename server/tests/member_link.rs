//! The shop's sign-in link on a browser that already holds a member (issue 27): a link for
//! another member asks first and switches only on its page's same-origin POST, which checks
//! the token again; with nobody signed in, or the same member, the link signs in at once.

mod support;

use coupon_access::member::{MemberSources, Sources};
use coupon_access::member_token::MemberTokens;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use support::*;

const SECRET: &str = "a-shop-secret-of-at-least-32-bytes!!";
const AUDIENCE: &str = "coupon-web";

/// Tokens signed with [`SECRET`], checked for [`AUDIENCE`]; no demo sign-in.
fn shop_tokens() -> MemberSources {
    MemberSources::new(Sources {
        tokens: MemberTokens::new(Some(SECRET), None, None, Some(AUDIENCE.into())).unwrap(),
        session_lifetime: Duration::from_secs(600),
        ..Default::default()
    })
}

/// A token for `member` that expires `seconds` from now, signed with `secret`.
fn token(member: &str, seconds: i64, secret: &str) -> String {
    let claims = json!({
        "sub": member,
        "exp": chrono::Utc::now().timestamp() + seconds,
        "aud": AUDIENCE,
    });
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// The shop's token for `member`, valid for five minutes.
fn valid_token(member: &str) -> String {
    token(member, 300, SECRET)
}

/// A server checking shop tokens, and a campaign of five.
async fn shop_server() -> (TestServer, coupon::Campaign) {
    let server = spawn_server_with(|state| state.access.members = shop_tokens()).await;
    let campaign = server.campaign(5).await;
    (server, campaign)
}

/// `client` follows the shop's link carrying `token`, from an English-speaking browser.
async fn follow(
    client: &reqwest::Client,
    server: &TestServer,
    campaign: &coupon::Campaign,
    token: &str,
) -> reqwest::Response {
    client
        .get(server.url(&format!("/c/{}?member_token={token}", campaign.id)))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
}

/// A browser the shop's link signed in as `member`.
async fn signed_in_as(
    server: &TestServer,
    campaign: &coupon::Campaign,
    member: &str,
) -> reqwest::Client {
    let client = browser();
    let link = follow(&client, server, campaign, &valid_token(member)).await;
    assert_eq!(link.status(), StatusCode::SEE_OTHER, "{member} signed in");
    client
}

/// The question page's form sent back with `token`, as from `origin` (`None`: no `Origin`).
async fn confirm(
    client: &reqwest::Client,
    server: &TestServer,
    campaign: &coupon::Campaign,
    token: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut post = client
        .post(server.url(&format!("/c/{}", campaign.id)))
        .form(&[("member_token", token)]);
    if let Some(origin) = origin {
        post = post.header("origin", origin);
    }
    post.send().await.unwrap()
}

/// The member this browser's session holds, as the claim page's server function tells it.
async fn member_of(
    client: &reqwest::Client,
    server: &TestServer,
    campaign: &coupon::Campaign,
) -> Option<String> {
    let id = campaign.id.to_string();
    let page = call(client, server, "claim_page", &[("id", &id)]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page: Value = page.json().await.unwrap();
    page["member"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn with_nobody_signed_in_the_link_signs_its_member_in_at_once() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = browser();

    // Act
    let link = follow(&client, &server, &campaign, &valid_token("member-x")).await;

    // Assert
    assert_eq!(link.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        link.headers()["location"],
        format!("/c/{}", campaign.id).as_str()
    );
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-x")
    );
}

#[tokio::test]
async fn a_link_for_another_member_asks_and_keeps_the_signed_in_member() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-y").await;
    let token = valid_token("member-x");

    // Act
    let link = follow(&client, &server, &campaign, &token).await;

    // Assert
    assert_eq!(link.status(), StatusCode::OK);
    assert_eq!(link.headers()["cache-control"], "no-store");
    assert!(
        link.headers().get("set-cookie").is_none(),
        "the session was left alone"
    );
    let page = link.text().await.unwrap();
    let clean = format!("/c/{}", campaign.id);
    assert!(
        page.contains("You are signed in as member-y. Continue as member-x?"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<form method=post action=\"{clean}\">")),
        "{page}"
    );
    assert!(
        page.contains(&format!("name=member_token value=\"{token}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<a href=\"{clean}\" rel=noreferrer>Stay as member-y"
        )),
        "{page}"
    );
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-y")
    );
}

#[tokio::test]
async fn the_question_is_asked_in_the_browsers_language() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-y").await;
    let token = valid_token("member-x");

    let link = server.url(&format!("/c/{}?member_token={token}", campaign.id));

    // Act: no Accept-Language (Korean, the default), then English as the first one supported.
    let korean = client.get(&link).send().await.unwrap();
    let english = client
        .get(&link)
        .header("accept-language", "fr-FR,en;q=0.8,ko;q=0.5")
        .send()
        .await
        .unwrap();

    // Assert
    let korean = korean.text().await.unwrap();
    assert!(korean.contains("<html lang=\"ko\">"), "{korean}");
    assert!(korean.contains("member-x 님으로 계속"), "{korean}");
    let english = english.text().await.unwrap();
    assert!(english.contains("Continue as member-x"), "{english}");
}

#[tokio::test]
async fn the_pages_same_origin_post_switches_to_the_links_member() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-y").await;
    let token = valid_token("member-x");
    let asked = follow(&client, &server, &campaign, &token).await;
    assert_eq!(asked.status(), StatusCode::OK);

    let origin = server.origin();

    // Act
    let confirmed = confirm(&client, &server, &campaign, &token, Some(origin.as_str())).await;

    // Assert
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        confirmed.headers()["location"],
        format!("/c/{}", campaign.id).as_str()
    );
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-x")
    );
}

#[tokio::test]
async fn a_cross_site_or_unsure_post_is_refused_and_the_member_stays() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-y").await;
    let token = valid_token("member-x");

    // Act
    let foreign = confirm(
        &client,
        &server,
        &campaign,
        &token,
        Some("http://evil.example"),
    )
    .await;
    let without_origin = confirm(&client, &server, &campaign, &token, None).await;

    // Assert
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(without_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-y")
    );
}

#[tokio::test]
async fn the_post_checks_the_token_again() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-y").await;
    let refused = [
        ("expired", token("member-x", -600, SECRET)),
        (
            "forged",
            token("member-x", 300, "another-secret-of-at-least-32-bytes"),
        ),
        ("not a token", "a.b.c".to_owned()),
    ];

    let origin = server.origin();

    for (what, token) in refused {
        // Act
        let confirmed = confirm(&client, &server, &campaign, &token, Some(origin.as_str())).await;

        // Assert
        assert_eq!(confirmed.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            confirmed.text().await.unwrap().contains("member_token"),
            "{what}"
        );
    }
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-y")
    );
}

#[tokio::test]
async fn a_link_for_the_member_already_signed_in_asks_nothing() {
    // Arrange
    let (server, campaign) = shop_server().await;
    let client = signed_in_as(&server, &campaign, "member-x").await;

    // Act
    let again = follow(&client, &server, &campaign, &valid_token("member-x")).await;

    // Assert
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        again.headers()["location"],
        format!("/c/{}", campaign.id).as_str()
    );
    assert_eq!(
        member_of(&client, &server, &campaign).await.as_deref(),
        Some("member-x")
    );
}
