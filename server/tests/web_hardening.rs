//! The web answers' own defences: security headers on every answer, the `__Host-` session
//! cookie and HSTS over https, `/metrics` and `/readyz` off the public listener when they have
//! their own, and writes only from the site's own origin (`PUBLIC_ORIGIN` behind a proxy that
//! rewrites `Host`).

mod support;

use reqwest::StatusCode;
use support::*;

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
];

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let server = spawn_server().await;
    let campaign = server.campaign(3).await;
    let paths = [
        "/".to_owned(),
        format!("/c/{}", campaign.id),
        "/admin".to_owned(),
        "/healthz".to_owned(),
        format!("/api/v1/campaigns/{}", campaign.id),
        "/no-such-page".to_owned(),
    ];

    for path in paths {
        let response = reqwest::get(server.url(&path)).await.unwrap();
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                response.headers().get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{name} on {path} ({})",
                response.status()
            );
        }
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn over_https_the_session_cookie_is_host_bound_and_hsts_is_sent() {
    let server = spawn_server_with(|state| state.secure_cookies = true).await;

    let home = reqwest::get(server.url("/")).await.unwrap();
    let signed_in = call(
        &browser(),
        &server,
        "member_sign_in",
        &[("member_id", "m-1")],
    )
    .await;

    assert_eq!(
        home.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-coupon_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test]
async fn metrics_and_readiness_move_to_their_own_listener() {
    let (server, operators) = spawn_server_with_operator_listener().await;
    let private = |path: &str| format!("http://{operators}{path}");

    for path in ["/metrics", "/readyz"] {
        let public = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "public {path}");
        let own = reqwest::get(private(path)).await.unwrap();
        assert_eq!(own.status(), StatusCode::OK, "private {path}");
    }
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "load balancers still see /healthz"
    );
}

#[tokio::test]
async fn behind_a_proxy_that_rewrites_host_writes_from_the_public_origin_pass() {
    // Arrange: nginx's plain `proxy_pass` sends Host: 127.0.0.1:<port>; browsers send the
    // site's public origin.
    let server = spawn_server_with(|state| {
        state.public_origin = Some("https://coupons.shop.example".into())
    })
    .await;
    let sign_in = |origin: Option<&str>| {
        let request = reqwest::Client::new()
            .post(server.url("/api/member_sign_in"))
            .form(&[("member_id", "behind-proxy")]);
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
        .send()
    };

    // Act
    let ours = sign_in(Some("https://coupons.shop.example")).await.unwrap();
    let theirs = sign_in(Some("https://evil.example")).await.unwrap();
    let unsure = sign_in(None).await.unwrap();

    // Assert
    assert_eq!(ours.status(), StatusCode::OK);
    assert_eq!(theirs.status(), StatusCode::FORBIDDEN);
    assert_eq!(unsure.status(), StatusCode::FORBIDDEN);
}
