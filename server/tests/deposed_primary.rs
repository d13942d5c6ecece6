//! A verification on Sentinel writes only to the primary the sentinels name. After a failover a
//! deposed primary that restarts is a primary again, with its old data, until the sentinels turn
//! it into a replica (seconds later), and an instance whose link has not followed the failover
//! yet reaches it (its connection reconnects to the address it had). Verified there, it would
//! answer claims and have its queue recorded beside the new primary (chaos Sentinel seed 2).
//!
//! Here the sentinels are made to name a primary nobody listens on (`SENTINEL REMOVE` and
//! `MONITOR` elsewhere): the engine's link cannot follow, so it keeps reaching A, the deposed
//! one, for as long as the test needs, with no race against the link's polling.

mod support;

use coupon::redis::CampaignKeys;
use coupon::{ClaimAck, ClaimOutcome, UserId};
use support::process::free_port;
use support::sentinel::{MASTER, Replicated};
use support::stack::{Database, test_engine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_the_sentinels_no_longer_name_is_neither_verified_nor_claimed_from() {
    // Arrange: a campaign on A, claimed once; then its state stamped by an earlier process, as a
    // deposed primary's is when it restarts, so the next claim must verify it first.
    let stack = Replicated::start().await;
    let database = Database::create("deposed_primary", stack.sentinel_port).await;
    let engine = test_engine(&stack.redis_settings(ClaimAck::Primary), &database.url).await;
    let campaign = engine
        .create_campaign(&support::draft(100))
        .await
        .expect("campaign")
        .id;
    let first = engine
        .claim(campaign, &UserId::parse("member-0").expect("a member id"))
        .await
        .expect("member 0's claim");
    assert!(matches!(first, ClaimOutcome::Issued { .. }), "{first:?}");
    let keys = CampaignKeys::new(campaign);
    let mut a = stack.primary.admin().await;
    let _: () = redis::cmd("HSET")
        .arg(&keys.meta)
        .arg("run")
        .arg("an-earlier-redis")
        .query_async(&mut a)
        .await
        .expect("HSET");

    // The sentinels now name another primary, which the engine's link cannot reach.
    let elsewhere = free_port();
    let mut sentinel = redis::Client::open(format!("redis://{}", stack.sentinels()))
        .expect("sentinel client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the sentinel");
    let _: () = redis::cmd("SENTINEL")
        .arg("REMOVE")
        .arg(MASTER)
        .query_async(&mut sentinel)
        .await
        .expect("SENTINEL REMOVE");
    let _: () = redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg(MASTER)
        .arg("127.0.0.1")
        .arg(elsewhere)
        .arg(1)
        .query_async(&mut sentinel)
        .await
        .expect("SENTINEL MONITOR");
    stack.until_named(elsewhere).await;

    // Act
    let verified = engine.verify_campaign(campaign).await;
    let claimed = engine
        .claim(campaign, &UserId::parse("member-1").expect("a member id"))
        .await;

    // Assert: A was not verified (its stamp is the earlier process's still) and answered no
    // claim.
    assert!(
        verified.is_err(),
        "verified on the deposed primary: {verified:?}"
    );
    assert!(
        claimed.is_err(),
        "claimed on the deposed primary: {claimed:?}"
    );
    let run: Option<String> = redis::cmd("HGET")
        .arg(&keys.meta)
        .arg("run")
        .query_async(&mut a)
        .await
        .expect("HGET");
    assert_eq!(run.as_deref(), Some("an-earlier-redis"));
    drop(engine);
    database.remove().await;
}
