//! A row PostgreSQL refuses is set aside, not retried forever: the rest of its campaign and
//! every other campaign keep syncing. A campaign whose sync keeps failing backs off on its own.
//! A checkout records a queued coupon through the sync's own insert.
//!
//! These run whole sync rounds (every watched campaign) and watch the engine's metrics through
//! a process-wide recorder, so they live in their own test binary and take turns
//! ([`one_at_a_time`]): one test's rounds would otherwise drain, or fail on, the other's
//! campaigns.

mod support;

use coupon::metrics::SYNC_SET_ASIDE;
use coupon::redis::CampaignKeys;
use coupon::sync::{Drainer, set_aside_coupons, set_aside_reasons};
use coupon::{CampaignId, ClaimOutcome, Engine, SyncSettings, UserId};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::time::Duration as StdDuration;
use support::*;

/// Held for the whole of each test, so no other drainer of this binary runs beside it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// The member PostgreSQL refuses in these tests.
const POISON: &str = "poison-member";

/// Small batches written a few rows a statement, and a short lease: a drainer of an earlier
/// test never holds up a later one's for long.
async fn engine_for_rounds() -> Engine {
    engine_with(SyncSettings {
        batch_size: 100,
        rows_per_statement: 30,
        lease_ttl: StdDuration::from_millis(300),
        ..SyncSettings::default()
    })
    .await
}

/// A test-only trigger on `issued_coupons` for one campaign (`BEFORE INSERT`, so the statement
/// fails); dropped by [`Trigger::heal`].
struct Trigger {
    name: String,
}

impl Trigger {
    /// Runs `body` (PL/pgSQL statements) before each insert of a row of `campaign` for which
    /// `when` holds.
    async fn inject(
        engine: &Engine,
        name: &str,
        campaign: CampaignId,
        when: &str,
        body: &str,
    ) -> Self {
        let name = format!("{name}_{}", campaign.0);
        let statements = [
            format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN {body} END $$"
            ),
            format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON issued_coupons FOR EACH ROW \
                 WHEN (NEW.campaign_id = {} AND {when}) EXECUTE FUNCTION {name}()",
                campaign.0
            ),
        ];
        for statement in statements {
            sqlx::query(&statement)
                .execute(engine.db())
                .await
                .expect("inject the trigger");
        }
        Self { name }
    }

    /// Refuses the row of [`POISON`] in `campaign` as a check constraint would.
    async fn poison(engine: &Engine, campaign: CampaignId) -> Self {
        Self::inject(
            engine,
            "refuse_poison_member",
            campaign,
            &format!("NEW.user_id = '{POISON}'"),
            "RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'poisoned member';",
        )
        .await
    }

    async fn heal(self, engine: &Engine) {
        for statement in [
            format!("DROP TRIGGER {} ON issued_coupons", self.name),
            format!("DROP FUNCTION {}()", self.name),
        ] {
            sqlx::query(&statement)
                .execute(engine.db())
                .await
                .expect("heal");
        }
    }
}

fn poison() -> UserId {
    UserId::parse(POISON).expect("a valid member id")
}

async fn queued(engine: &Engine, id: CampaignId) -> i64 {
    engine.status(id).await.unwrap().unwrap().queued
}

/// Entries set aside since the last look, labelled `reason`.
fn set_aside_counted(snapshotter: &Snapshotter, reason: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key().name() == SYNC_SET_ASIDE
                && key
                    .key()
                    .labels()
                    .any(|label| label.key() == "reason" && label.value() == reason)
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(count) => count,
            other => panic!("{SYNC_SET_ASIDE} is not a counter: {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn a_row_postgres_refuses_is_set_aside_and_everything_else_keeps_syncing() {
    // Arrange: 49 members and, among them, one whose row PostgreSQL refuses; meanwhile 20
    // members of another campaign.
    let _turn = one_at_a_time().await;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no other recorder in this test binary");
    let engine = engine_for_rounds().await;
    let poisoned = open_campaign(&engine, 50).await;
    let other = open_campaign(&engine, 20).await;
    let trigger = Trigger::poison(&engine, poisoned.id).await;
    let mut issued = issued_coupons(claim_at_once(&engine, poisoned.id, 0..25).await).len();
    let ClaimOutcome::Issued { sequence, .. } = engine.claim(poisoned.id, &poison()).await.unwrap()
    else {
        panic!("the poison member gets a coupon from Redis");
    };
    issued += issued_coupons(claim_at_once(&engine, poisoned.id, 25..49).await).len();
    let others = issued_coupons(claim_at_once(&engine, other.id, 0..20).await).len();
    assert_eq!((issued, others), (49, 20));
    set_aside_counted(&snapshotter, "check");

    // Act: sync rounds until both queues are empty.
    let drainer = Drainer::new(engine.clone());
    eventually("both queues to drain", || async {
        drainer.sync_once().await.expect("a sync round");
        queued(&engine, poisoned.id).await == 0 && queued(&engine, other.id).await == 0
    })
    .await;
    drainer.sync_once().await.expect("one more round");

    // Assert: 49 rows; the refused entry set aside once, with its reason; nothing failed.
    assert_eq!(rows(&engine, poisoned.id).await, 49);
    let held = engine.coupon_of(poisoned.id, &poison()).await.unwrap();
    assert!(held.is_none(), "{held:?}");
    let set_aside = set_aside_coupons(engine.db(), poisoned.id, 10)
        .await
        .unwrap();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let refused = &set_aside[0];
    assert_eq!(
        (refused.user_id.as_str(), refused.sequence),
        (POISON, sequence)
    );
    assert_eq!(refused.sqlstate, "23514");
    assert_eq!(refused.reason, "poisoned member");
    assert!(
        refused.entry.ends_with(&format!("\t{POISON}")),
        "{:?}",
        refused.entry
    );
    assert_eq!(
        set_aside_reasons(engine.db(), poisoned.id).await.unwrap(),
        vec![("poisoned member".to_owned(), 1)]
    );
    assert_eq!(set_aside_counted(&snapshotter, "check"), 1);
    assert_eq!(rows(&engine, other.id).await, 20);
    for id in [poisoned.id, other.id] {
        let status = engine.status(id).await.unwrap().unwrap();
        assert_eq!(status.last_sync_error, None, "campaign {id}");
    }

    // Redis loses the campaign: the rebuild counts the set-aside member as a holder, so they
    // are not issued again and the stock is the quantity less all fifty.
    delete_keys(&engine, &CampaignKeys::new(poisoned.id).all()).await;
    assert_eq!(
        engine.claim(poisoned.id, &poison()).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    let after = issued_coupons(claim_at_once(&engine, poisoned.id, 100..110).await);
    assert_eq!(after.len(), 0, "fifty told \"yours\" of fifty: sold out");
    trigger.heal(&engine).await;
}

#[tokio::test]
async fn a_checkout_asking_for_a_refused_coupon_finds_none_and_the_sync_sets_it_aside() {
    // Arrange
    let _turn = one_at_a_time().await;
    let engine = engine_for_rounds().await;
    let campaign = open_campaign(&engine, 5).await;
    let trigger = Trigger::poison(&engine, campaign.id).await;
    let ClaimOutcome::Issued { code, .. } = engine.claim(campaign.id, &poison()).await.unwrap()
    else {
        panic!("the poison member gets a coupon from Redis");
    };

    // Act: the checkout records it through the sync's insert, which PostgreSQL refuses.
    let found = engine.coupon_by_code(&code).await;
    drain(&engine, campaign.id).await;

    // Assert
    assert!(matches!(found, Ok(None)), "{found:?}");
    assert_eq!(rows(&engine, campaign.id).await, 0);
    let set_aside = set_aside_coupons(engine.db(), campaign.id, 10)
        .await
        .unwrap();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    trigger.heal(&engine).await;
}

#[tokio::test]
async fn a_checkout_leaves_a_number_recorded_for_another_member_to_the_sync() {
    // Arrange: Redis gives number 1 to member 0 while the record holds number 1, under another
    // code, for someone else (a state Redis answered from that was behind the record).
    let _turn = one_at_a_time().await;
    let engine = engine_for_rounds().await;
    let campaign = open_campaign(&engine, 5).await;
    let ClaimOutcome::Issued { code, sequence, .. } =
        engine.claim(campaign.id, &user(0)).await.unwrap()
    else {
        panic!("member 0 gets a coupon");
    };
    assert_eq!(sequence, 1);
    sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         VALUES ($1, 'recorded-holder', 'RECORDED-ELSEWHERE', 1, now())",
    )
    .bind(campaign.id.0)
    .execute(engine.db())
    .await
    .unwrap();

    // Act
    let found = engine.coupon_by_code(&code).await;
    drain(&engine, campaign.id).await;

    // Assert: the checkout recorded nothing and failed nothing; the sync renumbered member 0.
    assert!(matches!(found, Ok(None)), "{found:?}");
    let kept = engine
        .coupon_of(campaign.id, &user(0))
        .await
        .unwrap()
        .expect("member 0 is recorded");
    assert_ne!(kept.sequence, 1);
    assert_eq!(rows(&engine, campaign.id).await, 2);
}

#[tokio::test]
async fn a_campaign_whose_sync_keeps_failing_rests_while_the_others_keep_syncing() {
    // Arrange: every insert of one campaign fails as an outage would (retryable, not a
    // refusal), counting its attempts in a sequence (not rolled back with the failure).
    let _turn = one_at_a_time().await;
    // Rests of 4 s: long enough that the round right after the first failure (which also
    // visits every other watched campaign) finds this one still resting.
    let engine = engine_with(SyncSettings {
        lease_ttl: StdDuration::from_millis(300),
        idle_interval: StdDuration::from_secs(2),
        max_backoff: StdDuration::from_secs(4),
        ..SyncSettings::default()
    })
    .await;
    let failing = open_campaign(&engine, 5).await;
    let healthy = open_campaign(&engine, 5).await;
    let attempts = format!("insert_attempts_{}", failing.id.0);
    sqlx::query(&format!("CREATE SEQUENCE {attempts}"))
        .execute(engine.db())
        .await
        .unwrap();
    let trigger = Trigger::inject(
        &engine,
        "fail_inserts",
        failing.id,
        "true",
        &format!("PERFORM nextval('{attempts}'); RAISE EXCEPTION 'injected outage';"),
    )
    .await;
    let attempted = || async {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {attempts}"
        ))
        .fetch_one(engine.db())
        .await
        .unwrap();
        count
    };
    claim_at_once(&engine, failing.id, 0..2).await;
    claim_at_once(&engine, healthy.id, 0..2).await;
    let drainer = Drainer::new(engine.clone());

    // Act: a round, more claims, and at once another round.
    drainer.sync_due().await.expect("a round");
    let after_first = attempted().await;
    claim_at_once(&engine, healthy.id, 2..4).await;
    let second = drainer.sync_due().await.expect("a round");

    // Assert: the failing campaign was tried once and then rested; the healthy one synced in
    // both rounds.
    assert!(after_first >= 1, "the failing campaign was tried");
    assert_eq!(attempted().await, after_first, "then left alone");
    assert!(second.resting >= 1, "{second:?}");
    assert_eq!(rows(&engine, healthy.id).await, 4);
    assert_eq!(rows(&engine, failing.id).await, 0);

    // Once its back-off runs out it is tried again, and once healed it syncs.
    eventually("the failing campaign to be tried again", || async {
        drainer.sync_due().await.expect("a round");
        attempted().await > after_first
    })
    .await;
    trigger.heal(&engine).await;
    eventually("the healed campaign to sync", || async {
        drainer.sync_due().await.expect("a round");
        rows(&engine, failing.id).await == 2
    })
    .await;
    sqlx::query(&format!("DROP SEQUENCE {attempts}"))
        .execute(engine.db())
        .await
        .unwrap();
}
