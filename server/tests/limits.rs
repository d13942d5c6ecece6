//! Rate limits kept in Redis: they hold across instances, a spoofed `X-Forwarded-For` does not
//! dodge them, a password-guessing attack on an account does not lock its owner out, and a
//! flood of sign-ins gets 429 without filling Redis with sessions.

mod support;

use coupon_access::limits::{LimitSettings, RateLimits};
use coupon_access::proxies::TrustedProxies;
use reqwest::StatusCode;
use serde_json::json;
use support::*;

const TIGHT: LimitSettings = LimitSettings {
    sign_ins_per_minute: 3,
    claims_per_user_per_minute: 2,
    claims_per_address_per_second: 5,
};

/// A server whose limits count in `namespace` (shared by the servers given the same one), and
/// which takes the client's address from `X-Forwarded-For` (the test is its proxy).
async fn behind_proxy(namespace: &str) -> TestServer {
    let namespace = namespace.to_owned();
    spawn_server_with(move |state| {
        state.access.limits = RateLimits::in_namespace(state.engine.redis(), TIGHT, &namespace);
        state.access.trust_forwarded_for = true;
    })
    .await
}

#[tokio::test]
async fn a_members_claims_are_limited_across_two_instances() {
    // Arrange: two instances, one Redis, one namespace.
    let namespace = unique_marker();
    let (first, second) = (
        behind_proxy(&namespace).await,
        behind_proxy(&namespace).await,
    );
    let campaign = first.campaign(100).await;
    let claim = |server: &TestServer| {
        reqwest::Client::new()
            .post(server.url(&format!("/api/v1/campaigns/{}/claims", campaign.id)))
            .bearer_auth(API_KEY)
            .json(&json!({ "user_id": "roaming" }))
            .send()
    };

    // Act: the member's claims land on either instance in turn, as a load balancer spreads
    // them.
    let mut statuses = Vec::new();
    for server in [&first, &second, &first, &second, &first, &second] {
        statuses.push(claim(server).await.unwrap().status());
    }

    // Assert: two a minute in all (each instance counts a member's first attempt of a window
    // in Redis together with its second), not two per instance: that would let the fourth
    // claim through, the second one on the second instance.
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_entry_does_not_dodge_the_address_limit() {
    // Arrange: the test stands for a proxy that appends the client's address, 203.0.113.5;
    // the client writes something new in front of it on every request.
    let server = behind_proxy(&unique_marker()).await;
    let campaign = server.campaign(100).await;
    let id = campaign.id.to_string();

    // Act: eight members (signed in from addresses of their own) claim at once.
    let mut members = Vec::new();
    for n in 0..8 {
        let member = browser();
        let signed_in = member
            .post(server.url("/api/member_sign_in"))
            .header("origin", server.origin())
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .form(&[("member_id", format!("spoofer-{n}"))])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::OK);
        members.push(member);
    }
    let claims = members.iter().enumerate().map(|(n, member)| {
        member
            .post(server.url("/api/claim"))
            .header("origin", server.origin())
            .header("x-forwarded-for", format!("10.9.{n}.1, 203.0.113.5"))
            .form(&[("campaign_id", &id)])
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(|claimed| claimed.unwrap().status())
        .collect();

    // Assert: all eight counted against 203.0.113.5, five a second: however they fall across a
    // second's turn, at least two are refused (one attempt a window is counted on the instance
    // before it reaches Redis).
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= 2, "{statuses:?}");
}

#[tokio::test]
async fn the_admin_signs_in_while_someone_guesses_at_their_password() {
    // Arrange
    let server = behind_proxy(&unique_marker()).await;
    let attacker = browser();
    let sign_in = |client: &reqwest::Client, from: &str, password: &str| {
        client
            .post(server.url("/api/admin_sign_in"))
            .header("origin", server.origin())
            .header("x-forwarded-for", from)
            .form(&[("email", ADMIN_EMAIL), ("password", password)])
            .send()
    };

    // Act: twenty guesses from one address, then the owner from theirs.
    let mut guesses = Vec::new();
    for n in 0..20 {
        let guess = sign_in(&attacker, "198.51.100.7", &format!("guess-{n}"))
            .await
            .unwrap();
        guesses.push(guess.status());
    }
    let owner = browser();
    let right = sign_in(&owner, "203.0.113.20", ADMIN_PASSWORD)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        guesses[..3],
        [StatusCode::OK; 3],
        "three wrong answers, then limited"
    );
    assert!(
        guesses[3..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{guesses:?}"
    );
    assert_eq!(right.status(), StatusCode::OK);
    assert_eq!(right.text().await.unwrap(), "true");
}

#[tokio::test]
async fn a_flood_of_sign_ins_gets_429_and_anonymous_visits_create_no_session() {
    // Arrange
    let server = behind_proxy(&unique_marker()).await;
    let campaign = server.campaign(5).await;

    // Act: a script signing in as new members from one address, without keeping cookies.
    let mut answers = Vec::new();
    for n in 0..10 {
        let response = reqwest::Client::new()
            .post(server.url("/api/member_sign_in"))
            .header("origin", server.origin())
            .header("x-forwarded-for", "192.0.2.200")
            .form(&[("member_id", format!("bot-{n}"))])
            .send()
            .await
            .unwrap();
        let made_session = response.headers().contains_key("set-cookie");
        answers.push((response.status(), made_session));
    }
    let visits = [
        reqwest::get(server.url(&format!("/c/{}", campaign.id)))
            .await
            .unwrap(),
        reqwest::get(server.url("/")).await.unwrap(),
    ];

    // Assert: three sessions, then 429s that store nothing; plain visits store nothing.
    let sessions = answers.iter().filter(|(_, made)| *made).count();
    assert_eq!(sessions, 3, "{answers:?}");
    assert!(
        answers[3..]
            .iter()
            .all(|answer| *answer == (StatusCode::TOO_MANY_REQUESTS, false)),
        "{answers:?}"
    );
    for visit in visits {
        assert_eq!(visit.status(), StatusCode::OK);
        assert!(
            !visit.headers().contains_key("set-cookie"),
            "a visit made a session"
        );
    }
}

#[test]
fn trusted_proxies_are_read_as_cidr_ranges() {
    // The address rule itself is unit-tested in coupon_access::client_address; this only pins
    // the configuration format the README documents.
    let proxies = TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32").unwrap();
    assert!(proxies.contains("2001:db8:5::1".parse().unwrap()));
}
