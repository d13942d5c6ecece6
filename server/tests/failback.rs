//! A failback on Sentinel, with real processes: primary A is paused and B promoted; A comes back
//! as B's replica and resyncs (keeping its run id and its script cache: the same process); A
//! falls behind (paused again, its replication link dropped by B) while B acknowledges claims;
//! B dies and A is promoted again. A holds the states B stamped, minus B's last claims, and
//! answers neither `NOSCRIPT` nor another run id. Its promotion gave it a new replication id,
//! which the claim script checks: no code B handed out is handed to anyone else.

mod support;

use coupon::{CampaignId, ClaimAck, ClaimOutcome, Engine, UserId};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::process::RedisProcess;
use support::sentinel::Replicated;
use support::stack::{Database, test_engine};

/// `INFO <section>` of a Redis, or nothing while it does not answer (a Redis resyncing from its
/// new primary refuses connections' set-up for a moment: the waits below ask again).
async fn info(redis: &RedisProcess, section: &str) -> String {
    let Ok(client) = redis::Client::open(redis.url()) else {
        return String::new();
    };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
        return String::new();
    };
    redis::cmd("INFO")
        .arg(section)
        .query_async(&mut connection)
        .await
        .unwrap_or_default()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
}

/// The member's claim, asked again until Redis answers (a failover in progress fails it).
async fn claimed(engine: &Engine, campaign: CampaignId, member: &str) -> ClaimOutcome {
    let user = UserId::parse(member).expect("a member id");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match engine.claim(campaign, &user).await {
            Ok(outcome) => return outcome,
            Err(error) => assert!(
                Instant::now() < deadline,
                "{member}'s claim was not answered: {error}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Members `range` claim one after the other; the codes they were told, by member.
async fn codes_told(
    engine: &Engine,
    campaign: CampaignId,
    range: std::ops::Range<usize>,
) -> HashMap<String, String> {
    let mut told = HashMap::new();
    for n in range {
        let member = format!("member-{n}");
        match claimed(engine, campaign, &member).await {
            ClaimOutcome::Issued { code, .. } => {
                told.insert(member, code);
            }
            other => panic!("{member}: {other:?}"),
        }
    }
    told
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_to_a_primary_that_fell_behind_hands_no_acknowledged_code_to_anyone_else() {
    // Arrange: A primary, B its replica; ten members claim on A.
    let mut stack = Replicated::start().await;
    let database = Database::create("failback", stack.sentinel_port).await;
    let engine = test_engine(&stack.redis_settings(ClaimAck::Primary), &database.url).await;
    let campaign = engine
        .create_campaign(&support::draft(100))
        .await
        .expect("campaign")
        .id;
    let mut told = codes_told(&engine, campaign, 0..10).await;
    let run_of_a = field(&info(&stack.primary, "server").await, "run_id")
        .expect("A's run id")
        .to_owned();

    // A stops answering; the sentinel promotes B; ten members claim on B.
    stack.primary.signal("STOP");
    stack.until_replica_promoted().await;
    told.extend(codes_told(&engine, campaign, 10..20).await);

    // A answers again: the sentinel turns it into B's replica, and it resyncs from B.
    stack.primary.signal("CONT");
    support::eventually("A to replicate B", Duration::from_secs(30), || async {
        let replication = info(&stack.primary, "replication").await;
        field(&replication, "role") == Some("slave")
            && field(&replication, "master_port") == Some(&*stack.replica.port.to_string())
            && field(&replication, "master_link_status") == Some("up")
    })
    .await;

    // A falls behind: paused again, and B drops its replication link (a paused process would
    // still take the stream into its socket buffer). B acknowledges five more claims.
    stack.primary.signal("STOP");
    let () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query_async::<i64>(&mut stack.replica.admin().await)
        .await
        .map(|_| ())
        .expect("CLIENT KILL TYPE replica");
    let acknowledged_by_b = codes_told(&engine, campaign, 20..25).await;

    // Act: B dies; A answers again and is promoted, behind B by those five claims.
    stack.replica.kill();
    stack.primary.signal("CONT");
    stack.until_named(stack.primary.port).await;
    let after = codes_told(&engine, campaign, 25..40).await;

    // Assert: the same process came back (run id kept, so neither NOSCRIPT nor the run id could
    // tell), and none of the codes anyone was told went to a new member.
    assert_eq!(
        field(&info(&stack.primary, "server").await, "run_id"),
        Some(run_of_a.as_str()),
        "the failback is the same process"
    );
    told.extend(acknowledged_by_b);
    let mut holders: HashMap<&str, &str> = HashMap::new();
    for (member, code) in told.iter().chain(after.iter()) {
        if let Some(earlier) = holders.insert(code, member) {
            panic!("{code} was told to {earlier} and to {member}");
        }
    }
    drop(engine);
    database.remove().await;
}
