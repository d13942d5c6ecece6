//! Two instances changing the same campaign at once: a control whose Redis write is delayed
//! between its commit and Redis (a slow link, a paused instance) arrives after a later change of
//! another instance. Its write is fenced (src/reconcile/fence.rs): Redis keeps the later change,
//! so it is never ahead of the record, and an ended campaign is never reopened.

mod support;

use coupon::redis::{CampaignKeys, RedisTarget};
use coupon::{CampaignId, CampaignStatus, ClaimAck, Engine, RedisSettings, SyncSettings};
use support::held_link::HeldLink;
use support::*;

/// A second instance whose Redis link holds back the first command carrying `marker`, or `None`
/// on a Redis Cluster (one relay cannot stand in for every node; the fence is the same script).
async fn instance_with_held_link(marker: &str) -> Option<(Engine, HeldLink)> {
    let Some(RedisTarget::Url(url)) = RedisTarget::from_environment() else {
        eprintln!("a Redis Cluster: the relay fronts a single node only, this race runs there");
        return None;
    };
    let parsed = redis::parse_redis_url(&url).expect("REDIS_URL parses");
    let upstream = format!(
        "{}:{}",
        parsed.host_str().expect("REDIS_URL has a host"),
        parsed.port().unwrap_or(6379)
    );
    let link = HeldLink::start(upstream, marker.as_bytes().to_vec()).await;
    let mut relayed = parsed.clone();
    relayed.set_host(Some("127.0.0.1")).expect("host");
    relayed.set_port(Some(link.port)).expect("port");
    let settings = RedisSettings {
        target: RedisTarget::Url(relayed.to_string()),
        ack: ClaimAck::Primary,
    };
    let database_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let engine = Engine::connect_to(&settings, &database_url, SyncSettings::default())
        .await
        .expect("the second instance connects");
    Some((engine, link))
}

/// A bulk string argument as it travels in the Redis protocol.
fn argument(value: &str) -> String {
    format!("${}\r\n{value}\r\n", value.len())
}

async fn meta_field(engine: &Engine, id: CampaignId, field: &str) -> String {
    redis::cmd("HGET")
        .arg(CampaignKeys::new(id).meta)
        .arg(field)
        .query_async(&mut engine.redis())
        .await
        .expect("HGET")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raise_delayed_past_a_later_cut_never_leaves_redis_above_the_record() {
    let first = engine().await;
    let Some((second, link)) = instance_with_held_link(&argument("200")).await else {
        return;
    };
    let campaign = open_campaign(&first, 100).await;
    let id = campaign.id;

    let raising = {
        let second = second.clone();
        tokio::spawn(async move { second.set_quantity(id, 200).await })
    };
    eventually("the raise is recorded and its Redis write held", || async {
        let recorded = first.campaign(id).await.unwrap().unwrap().quantity;
        recorded == 200 && link.held() == 1
    })
    .await;
    first.set_quantity(id, 150).await.unwrap().unwrap();
    link.release();
    raising.await.unwrap().unwrap().unwrap();

    assert_eq!(first.campaign(id).await.unwrap().unwrap().quantity, 150);
    assert_eq!(
        meta_field(&first, id, "quantity").await,
        "150",
        "the delayed raise must not land over the later cut"
    );
    let claims = claim_at_once(&first, id, 0..200).await;
    assert_eq!(issued_coupons(claims).len(), 150, "issued up to the record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_delayed_past_a_later_end_never_reopens_the_campaign() {
    let first = engine().await;
    let Some((second, link)) = instance_with_held_link(&argument("active")).await else {
        return;
    };
    let campaign = open_campaign(&first, 100).await;
    let id = campaign.id;
    first
        .set_status(id, CampaignStatus::Paused)
        .await
        .unwrap()
        .unwrap();

    let resuming = {
        let second = second.clone();
        tokio::spawn(async move { second.set_status(id, CampaignStatus::Active).await })
    };
    eventually(
        "the resume is recorded and its Redis write held",
        || async {
            let status = first.campaign(id).await.unwrap().unwrap().status;
            status == CampaignStatus::Active && link.held() == 1
        },
    )
    .await;
    first
        .set_status(id, CampaignStatus::Ended)
        .await
        .unwrap()
        .unwrap();
    link.release();
    resuming.await.unwrap().unwrap().unwrap();

    assert_eq!(
        first.campaign(id).await.unwrap().unwrap().status,
        CampaignStatus::Ended
    );
    assert_eq!(meta_field(&first, id, "status").await, "ended");
    let claims = claim_at_once(&first, id, 0..10).await;
    assert!(
        issued_coupons(claims).is_empty(),
        "the ended campaign issued"
    );
}

/// A meta hash the previous release wrote has no `control`: read as 0, so the first fenced
/// change applies and stamps it.
#[tokio::test]
async fn a_state_without_a_control_version_takes_the_next_change() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let keys = CampaignKeys::new(campaign.id);
    let _: i64 = redis::cmd("HDEL")
        .arg(&keys.meta)
        .arg("control")
        .query_async(&mut engine.redis())
        .await
        .expect("HDEL");
    engine.set_quantity(campaign.id, 5).await.unwrap().unwrap();
    assert_eq!(meta_field(&engine, campaign.id, "quantity").await, "5");
    let control: i64 = meta_field(&engine, campaign.id, "control")
        .await
        .parse()
        .expect("a version");
    assert!(control > 0);
}

/// Evaluations of scripts Redis has run so far (`EVALSHA` and `EVAL`).
async fn script_runs(engine: &Engine) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut engine.redis())
        .await
        .expect("INFO commandstats");
    stats
        .lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// A repair read under the row lock, delayed on its way to Redis past the lock (its instance
/// gave up on it) and past a later cut of another instance: it carries a control version of its
/// own, older than the cut's, so it writes nothing over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_delayed_past_a_later_cut_writes_nothing_over_it() {
    const QUANTITY: i64 = 9_876_543;
    let first = engine().await;
    let Some((second, link)) = instance_with_held_link(&argument(&QUANTITY.to_string())).await
    else {
        return;
    };
    // The second instance runs a repair once, so that Redis knows its script when the held one
    // arrives (a script Redis does not know would be refused for that alone).
    let warm_up = open_campaign(&first, 77).await;
    out_of_step(&first, warm_up.id).await;
    assert!(second.verify_campaign(warm_up.id).await.unwrap());
    // Out of step: the second instance's verification repairs it, and its repair is held.
    let campaign = open_campaign(&first, QUANTITY).await;
    let id = campaign.id;
    out_of_step(&first, id).await;
    let verifying = {
        let second = second.clone();
        tokio::spawn(async move { second.verify_campaign(id).await })
    };
    eventually("the repair to be held", || async { link.held() == 1 }).await;
    assert!(
        verifying.await.unwrap().is_err(),
        "the held repair cannot be confirmed"
    );

    first.set_quantity(id, 50).await.unwrap().unwrap();
    let runs = script_runs(&first).await;
    link.release();
    eventually("the delayed repair to reach Redis", || async {
        script_runs(&first).await > runs
    })
    .await;

    assert_eq!(first.campaign(id).await.unwrap().unwrap().quantity, 50);
    assert_eq!(
        meta_field(&first, id, "quantity").await,
        "50",
        "the delayed repair must not write the quantity it read over the later cut"
    );
}

/// Redis's quantity for the campaign no longer the record's: its next verification repairs it.
async fn out_of_step(engine: &Engine, id: CampaignId) {
    let _: () = redis::cmd("HSET")
        .arg(CampaignKeys::new(id).meta)
        .arg("quantity")
        .arg(1)
        .query_async(&mut engine.redis())
        .await
        .expect("HSET");
}
