//! Who is claiming: a member named by the shop's signed token (a link or a bearer token, HS256,
//! RS256 from a JWKS, ES256 from a PEM key), or by a trusted proxy's header; never one a
//! visitor typed unless the demo sign-in is on; and a member can sign out.

mod support;

use coupon_access::member::{MemberSources, Sources};
use coupon_access::member_token::MemberTokens;
use coupon_access::proxies::TrustedProxies;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use support::*;

const SECRET: &str = "a-shop-secret-of-at-least-32-bytes!!";
const AUDIENCE: &str = "coupon-web";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Tokens signed with [`SECRET`], checked for [`AUDIENCE`]; no demo sign-in.
fn shop_tokens() -> MemberSources {
    MemberSources::new(Sources {
        tokens: MemberTokens::new(Some(SECRET), None, None, Some(AUDIENCE.into())).unwrap(),
        session_lifetime: Duration::from_secs(600),
        ..Default::default()
    })
}

fn hs256(claims: serde_json::Value, secret: &str) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

fn valid_claims(member: &str) -> serde_json::Value {
    json!({ "sub": member, "exp": now() + 300, "aud": AUDIENCE })
}

/// A server checking shop tokens, a campaign of five, and a browser that followed the shop's
/// link for `member`; the link's answer.
async fn followed_link(
    member: &str,
) -> (
    TestServer,
    coupon::Campaign,
    reqwest::Client,
    reqwest::Response,
) {
    let server = spawn_server_with(|state| state.access.members = shop_tokens()).await;
    let campaign = server.campaign(5).await;
    let client = browser();
    let token = hs256(valid_claims(member), SECRET);
    let link = client
        .get(server.url(&format!("/c/{}?member_token={token}", campaign.id)))
        .send()
        .await
        .unwrap();
    (server, campaign, client, link)
}

/// The claim server function called with a member token, as a shop's frontend would.
async fn claim_with_bearer(
    client: &reqwest::Client,
    server: &TestServer,
    id: i64,
    token: &str,
) -> reqwest::Response {
    client
        .post(server.url("/api/claim"))
        .bearer_auth(token)
        .form(&[("campaign_id", id.to_string())])
        .send()
        .await
        .unwrap()
}

async fn claim_with(client: &reqwest::Client, server: &TestServer, id: i64) -> reqwest::Response {
    call(client, server, "claim", &[("campaign_id", &id.to_string())]).await
}

#[tokio::test]
async fn a_token_link_signs_the_member_in_and_redirects_to_the_clean_url() {
    // Act
    let (server, campaign, client, link) = followed_link("shop-member-1").await;
    let claimed = claim_with(&client, &server, campaign.id.0).await;

    // Assert
    assert_eq!(link.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        link.headers()["location"],
        format!("/c/{}", campaign.id).as_str()
    );
    assert_eq!(claimed.status(), StatusCode::OK);
    assert!(claimed.text().await.unwrap().contains("Issued"));
    let member = coupon::UserId::parse("shop-member-1").unwrap();
    let held = server.engine.coupon_of(campaign.id, &member).await.unwrap();
    assert!(held.is_some(), "the token's member holds the coupon");
}

#[tokio::test]
async fn forged_expired_early_and_wrong_audience_tokens_are_refused_and_sign_nobody_in() {
    // Arrange
    let server = spawn_server_with(|state| state.access.members = shop_tokens()).await;
    let campaign = server.campaign(5).await;
    let member = "victim";
    let refused = [
        (
            "forged",
            hs256(valid_claims(member), "another-secret-of-at-least-32-bytes"),
        ),
        (
            "expired",
            hs256(
                json!({ "sub": member, "exp": now() - 600, "aud": AUDIENCE }),
                SECRET,
            ),
        ),
        (
            "not valid yet",
            hs256(
                json!({ "sub": member, "exp": now() + 900, "nbf": now() + 600, "aud": AUDIENCE }),
                SECRET,
            ),
        ),
        (
            "another audience",
            hs256(
                json!({ "sub": member, "exp": now() + 300, "aud": "other" }),
                SECRET,
            ),
        ),
        (
            "no expiry",
            hs256(json!({ "sub": member, "aud": AUDIENCE }), SECRET),
        ),
        ("not a token", "a.b.c".to_owned()),
    ];

    for (what, token) in refused {
        let client = browser();
        // Act
        let link = client
            .get(server.url(&format!("/c/{}?member_token={token}", campaign.id)))
            .send()
            .await
            .unwrap();
        let bearer = claim_with_bearer(&client, &server, campaign.id.0, &token).await;
        let afterwards = claim_with(&client, &server, campaign.id.0).await;

        // Assert
        assert_eq!(link.status(), StatusCode::UNAUTHORIZED, "{what} link");
        assert!(
            link.text().await.unwrap().contains("member_token"),
            "{what}"
        );
        assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED, "{what} bearer");
        assert_eq!(
            afterwards.status(),
            StatusCode::UNAUTHORIZED,
            "{what}: signed in"
        );
    }
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, 0, "nobody claimed");
}

#[tokio::test]
async fn a_bearer_token_names_the_member_of_a_server_function_call() {
    let server = spawn_server_with(|state| state.access.members = shop_tokens()).await;
    let campaign = server.campaign(5).await;
    let token = hs256(valid_claims("app-member-7"), SECRET);

    let claimed = claim_with_bearer(&reqwest::Client::new(), &server, campaign.id.0, &token).await;

    assert_eq!(claimed.status(), StatusCode::OK);
    let member = coupon::UserId::parse("app-member-7").unwrap();
    assert!(
        server
            .engine
            .coupon_of(campaign.id, &member)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn openid_style_keys_verify_rs256_from_a_jwks_and_es256_from_a_pem_key() {
    // Arrange: the keys an OpenID provider would publish, read as MEMBER_TOKEN_KEYS would be.
    let jwks = include_str!("fixtures/member_jwks.json");
    let rsa = MemberTokens::new(
        None,
        Some(jwks),
        Some("https://id.shop.example".into()),
        None,
    )
    .unwrap()
    .unwrap();
    let ec_public = include_str!("fixtures/member_es256_public.pem");
    let ec = MemberTokens::new(None, Some(ec_public), None, None)
        .unwrap()
        .unwrap();
    let rsa_key =
        EncodingKey::from_rsa_pem(include_bytes!("fixtures/member_rs256_private.pem")).unwrap();
    let ec_key =
        EncodingKey::from_ec_pem(include_bytes!("fixtures/member_es256_private.pem")).unwrap();
    let mut rs_header = Header::new(Algorithm::RS256);
    rs_header.kid = Some("shop-2026".into());
    let claims =
        json!({ "sub": "oidc-member", "exp": now() + 300, "iss": "https://id.shop.example" });

    // Act
    let from_jwks = rsa.verify(&encode(&rs_header, &claims, &rsa_key).unwrap());
    let wrong_issuer = rsa.verify(
        &encode(
            &rs_header,
            &json!({ "sub": "oidc-member", "exp": now() + 300, "iss": "https://evil.example" }),
            &rsa_key,
        )
        .unwrap(),
    );
    let from_pem = ec.verify(&encode(&Header::new(Algorithm::ES256), &claims, &ec_key).unwrap());
    // An HS256 token "signed" with the public key as secret: the classic confusion attack.
    let confused = ec.verify(&hs256(claims.clone(), ec_public));

    // Assert
    assert_eq!(from_jwks.unwrap().as_str(), "oidc-member");
    assert!(wrong_issuer.is_err(), "{wrong_issuer:?}");
    assert_eq!(from_pem.unwrap().as_str(), "oidc-member");
    assert!(confused.is_err(), "{confused:?}");
}

fn header_from(proxies: &str) -> MemberSources {
    MemberSources::new(Sources {
        header: Some("x-auth-request-user".parse().unwrap()),
        trusted_proxies: TrustedProxies::parse(proxies).unwrap(),
        session_lifetime: Duration::from_secs(600),
        ..Default::default()
    })
}

/// A claim through the web form, from the test's own address, with the proxy's member header
/// naming `member` (its bytes as they are).
fn claim_as_proxied(
    server: &TestServer,
    campaign: &coupon::Campaign,
    member: &[u8],
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + use<> {
    reqwest::Client::new()
        .post(server.url("/api/claim"))
        .header("origin", server.origin())
        .header("X-Auth-Request-User", member.to_vec())
        .form(&[("campaign_id", campaign.id.0.to_string())])
        .send()
}

#[tokio::test]
async fn the_member_header_is_honoured_only_from_a_trusted_proxy() {
    // Arrange: one server trusts the test's own address as its proxy, the other does not.
    let trusting =
        spawn_server_with(|state| state.access.members = header_from("127.0.0.1/32")).await;
    let distrusting =
        spawn_server_with(|state| state.access.members = header_from("10.0.0.0/8")).await;
    let campaign = trusting.campaign(5).await;
    // Act
    let through_proxy = claim_as_proxied(&trusting, &campaign, b"proxied-member")
        .await
        .unwrap();
    let spoofed = claim_as_proxied(&distrusting, &campaign, b"spoofed-member")
        .await
        .unwrap();

    // Assert
    assert_eq!(through_proxy.status(), StatusCode::OK);
    assert_eq!(spoofed.status(), StatusCode::UNAUTHORIZED);
    let held = |name: &str| {
        let member = coupon::UserId::parse(name).unwrap();
        let engine = trusting.engine.clone();
        async move { engine.coupon_of(campaign.id, &member).await.unwrap() }
    };
    assert!(held("proxied-member").await.is_some());
    assert!(held("spoofed-member").await.is_none());
}

#[tokio::test]
async fn a_korean_member_id_comes_through_the_proxy_raw_or_percent_encoded() {
    // Arrange
    let server =
        spawn_server_with(|state| state.access.members = header_from("127.0.0.1/32")).await;
    let campaign = server.campaign(5).await;
    let post = |member: &[u8]| claim_as_proxied(&server, &campaign, member);
    let percent_encoded =
        |id: &str| -> String { id.bytes().map(|b| format!("%{b:02X}")).collect() };

    // Act
    let encoded = post(percent_encoded("김철수").as_bytes()).await.unwrap();
    let raw = post("이영희".as_bytes()).await.unwrap();
    let raw_again = post("김철수".as_bytes()).await.unwrap();
    let cut_short = post(&b"%EA%B9"[..]).await.unwrap();

    // Assert
    assert_eq!(encoded.status(), StatusCode::OK);
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw_again.status(), StatusCode::OK);
    assert_eq!(cut_short.status(), StatusCode::UNAUTHORIZED, "not UTF-8");
    for name in ["김철수", "이영희"] {
        let member = coupon::UserId::parse(name).unwrap();
        let held = server.engine.coupon_of(campaign.id, &member).await.unwrap();
        assert!(held.is_some(), "{name} holds the coupon");
    }
    let status = server.engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(
        status.claimed, 2,
        "both spellings of 김철수 name one member"
    );
}

#[tokio::test]
async fn typed_member_ids_are_refused_unless_the_demo_sign_in_is_on() {
    let server = spawn_server_with(|state| state.access.members = shop_tokens()).await;
    let client = browser();

    let typed = call(
        &client,
        &server,
        "member_sign_in",
        &[("member_id", "anyone")],
    )
    .await;

    assert_eq!(typed.status(), StatusCode::FORBIDDEN);
    assert!(
        typed.cookies().all(|c| c.name() != "coupon_session"),
        "no session was made"
    );
}

#[tokio::test]
async fn a_member_signed_in_by_a_link_can_sign_out() {
    // Arrange
    let (server, campaign, client, _) = followed_link("leaving-member").await;

    // Act
    let signed_out = call(&client, &server, "sign_out", &[]).await;
    let claim = claim_with(&client, &server, campaign.id.0).await;

    // Assert
    assert_eq!(signed_out.status(), StatusCode::OK);
    assert_eq!(claim.status(), StatusCode::UNAUTHORIZED);
}
