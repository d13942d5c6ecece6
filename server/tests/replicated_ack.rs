//! `CLAIM_ACK=replicated` confirms a round's claims only on the connection that wrote them: a
//! `WAIT` that reaches Redis on a connection that wrote nothing (the connection manager
//! reconnected between the round's script calls and its `WAIT`) is answered at once by every
//! connected replica, whether they have the claims or not.

mod support;

use coupon::redis::RedisTarget;
use coupon::{ClaimAck, ClaimOutcome, EngineError, RedisSettings, UserId};
use std::time::Duration;
use support::process::RedisProcess;
use support::rerouted_wait::ReroutedWait;
use support::stack::{Database, test_engine};

fn member(name: &str) -> UserId {
    UserId::parse(name).expect("a member id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_a_connection_that_wrote_nothing_acknowledges_no_claim() {
    // Arrange: a primary with one replica, reached through a relay that moves every WAIT (and
    // what follows it) to a fresh connection.
    let primary = RedisProcess::start().await;
    let replica = RedisProcess::replica_of(primary.port).await;
    support::eventually(
        "the replica to be online",
        Duration::from_secs(30),
        || async {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut primary.admin().await)
                .await
                .unwrap_or_default();
            info.contains("state=online")
        },
    )
    .await;
    let relay = ReroutedWait::start(format!("127.0.0.1:{}", primary.port)).await;
    let database = Database::create("rerouted_wait", relay.port).await;
    let settings = RedisSettings {
        target: RedisTarget::Url(format!("redis://127.0.0.1:{}/0", relay.port)),
        ack: ClaimAck::Replicated {
            replicas: 1,
            timeout: Duration::from_millis(300),
        },
    };
    let engine = test_engine(&settings, &database.url).await;
    let campaign = engine
        .create_campaign(&support::draft(10))
        .await
        .expect("campaign")
        .id;
    let kept_up = engine.claim(campaign, &member("member-1")).await;
    assert!(
        matches!(kept_up, Ok(ClaimOutcome::Issued { .. })),
        "a replica that keeps up confirms through the fresh connection: {kept_up:?}"
    );

    // Act: the replica stops taking the stream; a member claims.
    replica.signal("STOP");
    let claimed = engine.claim(campaign, &member("member-2")).await;
    replica.signal("CONT");

    // Assert: not acknowledged; the claim stands in Redis, so the member's next try hears it.
    assert!(
        matches!(claimed, Err(EngineError::NotReplicated { .. })),
        "a claim the replica does not have was acknowledged: {claimed:?}"
    );
    let again = engine.claim(campaign, &member("member-2")).await;
    assert!(
        matches!(again, Ok(ClaimOutcome::AlreadyClaimed)),
        "the claim stands: {again:?}"
    );
    drop(engine);
    database.remove().await;
}
