//! The marketer's controls when the record's commit fails after Redis was changed (or before):
//! Redis and PostgreSQL agree again after a sync round, and Redis never issues beyond the
//! record's quantity, nor reopens a campaign the record has ended.

mod support;

use coupon::redis::CampaignKeys;
use coupon::sync::Drainer;
use coupon::{CampaignId, CampaignStatus, ClaimOutcome, Engine};
use support::*;

/// One test's trigger DDL at a time: two `DROP TRIGGER`s on `campaigns` at once can deadlock
/// each other in PostgreSQL.
static TRIGGER_DDL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes every commit that updated campaign `id`'s row fail (a deferred constraint trigger, so
/// the statement succeeds and the COMMIT is what fails); dropped by [`CommitFailure::heal`].
struct CommitFailure {
    name: String,
}

impl CommitFailure {
    async fn inject(engine: &Engine, id: CampaignId) -> Self {
        let name = format!("fail_commit_of_campaign_{}", id.0);
        let statements = [
            format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected commit failure'; END $$"
            ),
            format!(
                "CREATE CONSTRAINT TRIGGER {name} AFTER UPDATE ON campaigns \
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = {}) \
                 EXECUTE FUNCTION {name}()",
                id.0
            ),
        ];
        let _one_at_a_time = TRIGGER_DDL.lock().await;
        for statement in statements {
            sqlx::query(&statement)
                .execute(engine.db())
                .await
                .expect("inject the failure");
        }
        Self { name }
    }

    async fn heal(self, engine: &Engine) {
        let _one_at_a_time = TRIGGER_DDL.lock().await;
        for statement in [
            format!("DROP TRIGGER {} ON campaigns", self.name),
            format!("DROP FUNCTION {}()", self.name),
        ] {
            sqlx::query(&statement)
                .execute(engine.db())
                .await
                .expect("heal");
        }
    }
}

/// Status and quantity as Redis holds them.
async fn in_redis(engine: &Engine, id: CampaignId) -> (String, i64) {
    let keys = CampaignKeys::new(id);
    let (status, quantity): (String, i64) = redis::cmd("HMGET")
        .arg(&keys.meta)
        .arg("status")
        .arg("quantity")
        .query_async(&mut engine.redis())
        .await
        .expect("HMGET");
    (status, quantity)
}

/// Status and quantity as the record holds them.
async fn in_record(engine: &Engine, id: CampaignId) -> (String, i64) {
    let campaign = engine.campaign(id).await.unwrap().unwrap();
    (campaign.status.as_str().to_owned(), campaign.quantity)
}

async fn one_sync_round(engine: &Engine) {
    Drainer::new(engine.clone())
        .sync_once()
        .await
        .expect("a sync round");
}

async fn issued_of(engine: &Engine, id: CampaignId, members: std::ops::Range<usize>) -> usize {
    issued_coupons(claim_at_once(engine, id, members).await).len()
}

#[tokio::test]
async fn a_raise_whose_commit_fails_never_lets_redis_issue_beyond_the_recorded_quantity() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let failure = CommitFailure::inject(&engine, campaign.id).await;

    // Act
    let raised = engine.set_quantity(campaign.id, 10).await;
    failure.heal(&engine).await;
    let issued = issued_of(&engine, campaign.id, 0..20).await;
    one_sync_round(&engine).await;

    // Assert
    assert!(raised.is_err(), "the raise was not recorded: {raised:?}");
    assert_eq!(issued, 5, "the record's quantity is 5");
    assert_eq!(
        in_redis(&engine, campaign.id).await,
        in_record(&engine, campaign.id).await
    );
}

#[tokio::test]
async fn a_lowered_quantity_whose_commit_fails_is_put_back_by_the_sync() {
    // Arrange: 2 of 10 claimed.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    issued_of(&engine, campaign.id, 0..2).await;
    let failure = CommitFailure::inject(&engine, campaign.id).await;

    // Act
    let lowered = engine.set_quantity(campaign.id, 4).await;
    failure.heal(&engine).await;
    one_sync_round(&engine).await;
    let issued = issued_of(&engine, campaign.id, 10..30).await;

    // Assert: the record still says 10, and so does Redis: 8 more were issued, no more.
    assert!(lowered.is_err(), "{lowered:?}");
    assert_eq!(in_record(&engine, campaign.id).await, ("active".into(), 10));
    assert_eq!(in_redis(&engine, campaign.id).await, ("active".into(), 10));
    assert_eq!(issued, 8);
}

#[tokio::test]
async fn a_pause_whose_commit_fails_is_undone_in_redis_by_the_sync() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let failure = CommitFailure::inject(&engine, campaign.id).await;

    // Act
    let paused = engine.set_status(campaign.id, CampaignStatus::Paused).await;
    failure.heal(&engine).await;
    one_sync_round(&engine).await;
    let claim = engine.claim(campaign.id, &user(1)).await.unwrap();

    // Assert: the record never paused, so the campaign goes on issuing.
    assert!(paused.is_err(), "{paused:?}");
    assert_eq!(
        in_redis(&engine, campaign.id).await,
        in_record(&engine, campaign.id).await
    );
    assert!(matches!(claim, ClaimOutcome::Issued { .. }), "{claim:?}");
}

#[tokio::test]
async fn an_end_recorded_is_never_reopened_and_one_whose_commit_failed_is_not_half_done() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let failure = CommitFailure::inject(&engine, campaign.id).await;

    // Act: an end whose commit fails, a sync round; then an end that is recorded, and rounds.
    let failed_end = engine.set_status(campaign.id, CampaignStatus::Ended).await;
    failure.heal(&engine).await;
    one_sync_round(&engine).await;
    let after_failed_end = in_redis(&engine, campaign.id).await;
    engine
        .set_status(campaign.id, CampaignStatus::Ended)
        .await
        .expect("the end is recorded");
    one_sync_round(&engine).await;
    one_sync_round(&engine).await;
    let claim = engine.claim(campaign.id, &user(1)).await.unwrap();

    // Assert
    assert!(failed_end.is_err(), "{failed_end:?}");
    assert_eq!(
        after_failed_end,
        ("active".into(), 5),
        "the record never ended it"
    );
    assert_eq!(in_redis(&engine, campaign.id).await, ("ended".into(), 5));
    assert_eq!(claim, ClaimOutcome::Ended);
}
