//! A connection the manager makes again may reach another Redis process, one that knows this
//! instance's scripts and so never answers `NOSCRIPT`: the link counts every connection it may
//! have made again, and the next script call that passes the run id reads it first.

mod support;

use support::*;

#[tokio::test]
async fn a_lost_connection_is_counted_and_the_next_claim_still_answers() {
    let engine = engine().await;
    let mut link = engine.redis();
    if link.cluster().is_some() {
        // A cluster's script calls read their node's identity themselves.
        return;
    }
    let campaign = open_campaign(&engine, 10).await;
    let first = engine.claim(campaign.id, &user(1)).await.expect("a claim");
    assert_eq!(first.name(), "issued");
    let before = link.reconnects();

    // Act: Redis drops the engine's connection (as a restart or a network cut does).
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut link)
        .await
        .expect("CLIENT ID");
    let mut admin = redis::Client::open(std::env::var("REDIS_URL").expect("REDIS_URL"))
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("an admin connection");
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");

    // Assert: the loss is counted once a command finds it, and claims go on after it.
    let mut answered = None;
    for member in 2..50 {
        match engine.claim(campaign.id, &user(member)).await {
            Ok(outcome) => {
                answered = Some(outcome.name());
                break;
            }
            Err(error) => assert!(error.to_string().contains("redis"), "{error}"),
        }
    }
    assert_eq!(answered, Some("issued"));
    assert!(
        link.reconnects() > before,
        "a dropped connection was not counted"
    );
}
