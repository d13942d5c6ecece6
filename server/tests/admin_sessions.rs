//! An admin session is only as good as the account behind it: a removed admin is refused, and
//! an admin's live stream ends when the session does. Live streams are bounded per address.

mod support;

use reqwest::StatusCode;
use std::time::Duration;
use support::*;

/// A browser signed in as a new admin of its own; its email.
async fn another_admin(server: &TestServer) -> (reqwest::Client, String) {
    let email = format!("admin-{}@example.com", unique_marker());
    coupon_access::accounts::create_admin(server.engine.db(), &email, "another-password")
        .await
        .unwrap();
    let client = browser();
    let signed_in = call(
        &client,
        server,
        "admin_sign_in",
        &[("email", &email), ("password", "another-password")],
    )
    .await;
    assert_eq!(signed_in.text().await.unwrap(), "true");
    (client, email)
}

#[tokio::test]
async fn a_removed_admin_is_refused_though_their_session_lives_on() {
    // Arrange
    let server = spawn_server().await;
    let (client, email) = another_admin(&server).await;
    assert_eq!(
        call(&client, &server, "list_campaigns", LIST_ALL)
            .await
            .status(),
        StatusCode::OK
    );

    // Act
    sqlx::query("DELETE FROM admins WHERE email = $1")
        .bind(&email)
        .execute(server.engine.db())
        .await
        .unwrap();

    // Assert: refused once the last answer about the account is stale (a few seconds).
    eventually(
        "the removed admin to be refused",
        Duration::from_secs(15),
        || async {
            call(&client, &server, "list_campaigns", LIST_ALL)
                .await
                .status()
                == StatusCode::UNAUTHORIZED
        },
    )
    .await;
}

#[tokio::test]
async fn an_admin_live_stream_ends_when_the_admin_signs_out() {
    // Arrange: an admin watching a campaign live.
    let server = spawn_server().await;
    let campaign = server.campaign(5).await;
    let (client, _) = another_admin(&server).await;
    let mut stream = client
        .get(server.url(&format!("/admin/live/campaigns/{}", campaign.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // Act
    let signed_out = call(&client, &server, "sign_out", &[]).await;
    assert_eq!(signed_out.status(), StatusCode::OK);

    // Assert: the stream runs dry and closes within the session check's period.
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(closed.is_ok(), "the stream outlived the session");
}

#[tokio::test]
async fn one_address_gets_a_bounded_number_of_live_streams() {
    let server = spawn_server_with(|state| {
        state.streams = server::open_streams::OpenStreams::new(2);
    })
    .await;
    let campaign = server.campaign(5).await;
    let url = server.url(&format!("/live/campaigns/{}", campaign.id));

    let first = reqwest::get(&url).await.unwrap();
    let second = reqwest::get(&url).await.unwrap();
    let third = reqwest::get(&url).await.unwrap();

    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
}
