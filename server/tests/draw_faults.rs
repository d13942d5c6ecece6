//! A fair draw while things break, with real server processes, a real Redis and PostgreSQL: an
//! instance killed in the middle of the draw, Redis emptied or come back older between the
//! entries and the draw, PostgreSQL away at the opening. Whatever happens, every acknowledged
//! entry takes part and the coupons go to exactly the first `quantity` of the published order
//! (support/draw.rs checks it from the revealed secret).

mod support;

use std::time::Duration;
use support::API_KEY;
use support::draw::{FairDraw, assert_drawn_as_published, enter, is_completed, members};
use support::process::free_port;
use support::stack::Stack;
use support::storm::issued_in_redis;
use support::{eventually, first_within_every};

/// How long a test waits for a draw to be completed once nothing stops it any more.
const DRAW_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_draw_leaves_it_to_the_other_with_the_published_result() {
    // Arrange: two instances; 3,000 members enter a draw of 1,200 coupons through both.
    let stack = Stack::start("drawkill").await;
    let mut first = stack.server("drawkill-1").await;
    let second = stack.server("drawkill-2").await;
    let draw = FairDraw::create(&first.url(""), 1200, 12_000).await;
    let bases = [first.url(""), second.url("")];
    let entered = enter(&bases, draw.id, &members("killed", 3000)).await;
    assert_eq!(entered.len(), 3000, "every entry acknowledged");
    // The second instance is frozen until the first is dead, so that the first draws.
    second.signal("STOP");

    // Act: SIGKILL the first as soon as Redis holds some of the draw's coupons.
    // Polled every 2 ms: the first instance issues a script call's 64 coupons a few ms apart.
    let first_issued =
        first_within_every(Duration::from_millis(2), Duration::from_secs(40), || {
            let engine = &stack.engine;
            async move {
                let issued = issued_in_redis(engine, draw.id).await.len();
                (issued > 0).then_some(issued)
            }
        });
    let issued_at_kill = first_issued.await.unwrap_or(0);
    first.kill();
    let at_kill = stack.engine.draw_report(draw.id).await.unwrap().unwrap();
    second.signal("CONT");
    eprintln!("killed with {issued_at_kill} of 1,200 coupons in Redis");
    eventually(
        "the second instance to finish the draw",
        DRAW_DEADLINE,
        || is_completed(&stack.engine, draw.id),
    )
    .await;

    // Assert: the first was killed mid-draw (winners chosen, some issued, not completed), and
    // the draw ended once, with the result the secret dictates.
    assert!(issued_at_kill > 0, "the first instance started issuing");
    assert!(
        at_kill.drawn_at.is_some(),
        "winners were chosen before the kill"
    );
    assert!(
        at_kill.draw_completed_at.is_none(),
        "killed before completion"
    );
    assert_drawn_as_published(&stack.engine, &draw, &entered, 1200).await;
    let after = stack.engine.draw_report(draw.id).await.unwrap().unwrap();
    assert_eq!(
        after.drawn_at, at_kill.drawn_at,
        "the winners were chosen once"
    );
    drop(second);
    stack.remove().await;
}

/// What happens to Redis between the entries and the draw.
enum RedisFault {
    /// Everything gone (`FLUSHALL`).
    Emptied,
    /// Restarted from a copy of its data directory taken halfway through the entries.
    Older,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_takes_part_when_redis_is_emptied_before_the_draw() {
    redis_fault_before_the_draw("drawflush", RedisFault::Emptied).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_takes_part_when_redis_comes_back_from_an_older_append_only_file() {
    redis_fault_before_the_draw("drawolder", RedisFault::Older).await;
}

async fn redis_fault_before_the_draw(name: &str, fault: RedisFault) {
    // Arrange: 400 members enter a draw of 150 coupons, in two halves.
    let mut stack = Stack::start(name).await;
    let server = stack.server(name).await;
    let draw = FairDraw::create(&server.url(""), 150, 8000).await;
    let everyone = members(name, 400);
    let bases = [server.url("")];
    let mut entered = enter(&bases, draw.id, &everyone[..200]).await;
    let older = stack.single_redis().copy_data();
    entered.extend(enter(&bases, draw.id, &everyone[200..]).await);
    assert_eq!(entered.len(), 400, "every entry acknowledged");

    // Act: Redis loses what it had, or part of it, before the draw.
    assert!(
        chrono::Utc::now() < draw.draw_at,
        "the fault comes before the draw"
    );
    match fault {
        RedisFault::Emptied => stack.single_redis().flushall().await,
        RedisFault::Older => stack.single_redis().restart_from(&older).await,
    }
    eventually("the draw to be completed", DRAW_DEADLINE, || {
        is_completed(&stack.engine, draw.id)
    })
    .await;

    // Assert
    assert_drawn_as_published(&stack.engine, &draw, &entered, 150).await;
    drop(server);
    stack.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_at_the_opening_the_draw_waits_and_loses_no_entry() {
    // Arrange: the server reaches PostgreSQL through a proxy the test can cut; 300 members
    // enter a draw of 100 coupons.
    let stack = Stack::start("drawpgdown").await;
    let (proxy, proxied) = stack.database_behind_proxy().await;
    let server = stack
        .server_with_database("drawpgdown", free_port(), &proxied)
        .await;
    let draw = FairDraw::create(&server.url(""), 100, 6000).await;
    let entered = enter(&[server.url("")], draw.id, &members("pgdown", 300)).await;
    assert_eq!(entered.len(), 300, "every entry acknowledged");

    // Act: PostgreSQL goes away before the opening and stays away past it.
    proxy.cut().await;
    let late_entry = claim(&server.url(""), draw.id, "pgdown-late").await;
    eventually("the opening to pass", Duration::from_secs(30), || async {
        chrono::Utc::now() > draw.draw_at + chrono::Duration::seconds(2)
    })
    .await;
    let entrant_claim = claim(&server.url(""), draw.id, "pgdown-0").await;
    let newcomer_claim = claim(&server.url(""), draw.id, "pgdown-newcomer").await;
    let during = stack.engine.draw_report(draw.id).await.unwrap().unwrap();
    proxy.restore();
    eventually("the draw to be completed", DRAW_DEADLINE, || {
        is_completed(&stack.engine, draw.id)
    })
    .await;

    // Assert: while PostgreSQL was away an entry could not be acknowledged and nobody was
    // told a result ("try again"), the draw waited, and then it went on as published.
    assert_eq!(
        late_entry, 503,
        "an entry that cannot be recorded is not acknowledged"
    );
    assert_eq!(
        entrant_claim, 503,
        "an entrant hears 'try again' at the opening"
    );
    assert_eq!(newcomer_claim, 503, "so does anyone else");
    assert!(
        during.drawn_at.is_none(),
        "nothing was drawn without the record"
    );
    assert_drawn_as_published(&stack.engine, &draw, &entered, 100).await;
    drop(server);
    stack.remove().await;
}

/// The status of a claim through the JSON API (0 when no answer came).
async fn claim(base: &str, campaign: coupon::CampaignId, member: &str) -> u16 {
    let answer = reqwest::Client::new()
        .post(format!("{base}/api/v1/campaigns/{}/claims", campaign.0))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({ "user_id": member }))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    answer.map_or(0, |answer| answer.status().as_u16())
}
