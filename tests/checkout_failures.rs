//! Checkout through the failures of the failure model that reach it: a coupon redeemed before
//! the sync when Redis then loses everything or comes back behind the record, the sync draining
//! the very coupons checkouts are recording, a failed write, and PostgreSQL unreachable.

mod support;

use coupon::redeem::{Checkout, CouponState, RedeemRequest, Refusal};
use coupon::{CampaignId, ClaimOutcome, Engine};
use support::*;

fn redeem_request(order: &str) -> RedeemRequest {
    RedeemRequest {
        order_id: order.into(),
        order_amount: 10_000,
        user_id: None,
    }
}

async fn claimed_code(engine: &Engine, campaign: CampaignId, member: usize) -> String {
    match engine.claim(campaign, &user(member)).await.unwrap() {
        ClaimOutcome::Issued { code, .. } => code,
        other => panic!("member {member} expected a coupon, got {other:?}"),
    }
}

async fn redeemed(engine: &Engine, code: &str, order: &str) -> bool {
    matches!(
        engine.redeem(code, &redeem_request(order)).await.unwrap(),
        Checkout::Done { .. }
    )
}

#[tokio::test]
async fn a_coupon_redeemed_before_the_sync_survives_redis_losing_everything() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 3).await;
    let code = claimed_code(&engine, campaign.id, 0).await;
    assert!(redeemed(&engine, &code, "before-the-loss").await);

    // Redis loses everything, the queue entry of that claim with it.
    delete_keys(
        &engine,
        &coupon::redis::CampaignKeys::new(campaign.id).all(),
    )
    .await;

    // The rebuild counts the coupon the checkout recorded: its member holds it, and only the
    // two other coupons are left.
    let again = engine.claim(campaign.id, &user(0)).await.unwrap();
    assert_eq!(again, ClaimOutcome::AlreadyClaimed);
    let others = claim_at_once(&engine, campaign.id, 1..6).await;
    assert_eq!(issued_coupons(others).len(), 2);
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 3);
    let kept = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(kept.state, CouponState::Redeemed);
}

#[tokio::test]
async fn a_code_redis_handed_out_again_belongs_to_the_member_the_record_gave_it() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    // Redis issues number 1 to member 0 while the record already gives number 1 to someone
    // else: the state Redis answered from was behind the record (restored from an older copy).
    let code = claimed_code(&engine, campaign.id, 0).await;
    sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         VALUES ($1, 'recorded-holder', $2, 1, now())",
    )
    .bind(campaign.id.0)
    .bind(&code)
    .execute(engine.db())
    .await
    .unwrap();

    let found = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(found.user_id, "recorded-holder", "the record decides");
    assert!(redeemed(&engine, &code, "recorded-holders-order").await);

    // The sync gives member 0 a new number; that coupon is theirs and redeemable on its own.
    drain(&engine, campaign.id).await;
    let renumbered = engine
        .coupon_of(campaign.id, &user(0))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(renumbered.code, code);
    assert!(redeemed(&engine, &renumbered.code, "member-0s-order").await);
    assert_eq!(rows(&engine, campaign.id).await, 2);
    let first = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(first.order_id.as_deref(), Some("recorded-holders-order"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_recording_queued_coupons_while_the_sync_drains_them_record_each_once() {
    let engine = engine_with(coupon::SyncSettings {
        batch_size: 20,
        rows_per_statement: 7,
        ..coupon::SyncSettings::default()
    })
    .await;
    let campaign = open_campaign(&engine, 300).await;
    let codes: Vec<String> = issued_coupons(claim_at_once(&engine, campaign.id, 0..300).await)
        .into_iter()
        .map(|(_, _, code)| code)
        .collect();

    let sync = {
        let (engine, id) = (engine.clone(), campaign.id);
        tokio::spawn(async move { drain(&engine, id).await })
    };
    let checkouts: Vec<_> = codes
        .chunks(30)
        .map(|codes| {
            let (engine, codes) = (engine.clone(), codes.to_vec());
            tokio::spawn(async move {
                for code in codes {
                    assert!(
                        redeemed(&engine, &code, &format!("order-{code}")).await,
                        "{code}"
                    );
                }
            })
        })
        .collect();
    for checkout in checkouts {
        checkout.await.unwrap();
    }
    sync.await.unwrap();
    drain(&engine, campaign.id).await;

    assert_eq!(
        rows(&engine, campaign.id).await,
        300,
        "each coupon recorded once"
    );
    let (redeemed, events): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM issued_coupons WHERE campaign_id = $1 \
                 AND redeemed_at IS NOT NULL), \
                (SELECT count(*) FROM coupon_events WHERE campaign_id = $1)",
    )
    .bind(campaign.id.0)
    .fetch_one(engine.db())
    .await
    .unwrap();
    assert_eq!((redeemed, events), (300, 300));
}

#[tokio::test]
async fn a_redemption_whose_history_cannot_be_written_changes_nothing() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 1).await;
    let code = claimed_code(&engine, campaign.id, 0).await;
    drain(&engine, campaign.id).await;
    let name = format!("fail_history_of_campaign_{}", campaign.id.0);
    for statement in [
        format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected write failure'; END $$"
        ),
        format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON coupon_events FOR EACH ROW \
             WHEN (NEW.campaign_id = {}) EXECUTE FUNCTION {name}()",
            campaign.id.0
        ),
    ] {
        sqlx::query(&statement).execute(engine.db()).await.unwrap();
    }

    let failed = engine.redeem(&code, &redeem_request("o-1")).await;
    assert!(failed.is_err(), "{failed:?}");
    let unchanged = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.state, unchanged.order_id),
        (CouponState::Available, None)
    );

    for statement in [
        format!("DROP TRIGGER {name} ON coupon_events"),
        format!("DROP FUNCTION {name}()"),
    ] {
        sqlx::query(&statement).execute(engine.db()).await.unwrap();
    }
    // The checkout's retry of the same order then redeems it, once.
    assert!(redeemed(&engine, &code, "o-1").await);
    assert!(matches!(
        engine.redeem(&code, &redeem_request("o-2")).await.unwrap(),
        Checkout::Refused(Refusal::AlreadyRedeemed)
    ));
}

#[tokio::test]
async fn with_postgres_unreachable_a_checkout_gets_an_error_not_an_outcome() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 1).await;
    let code = claimed_code(&engine, campaign.id, 0).await;

    engine.db().close().await;

    let answer = engine.redeem(&code, &redeem_request("o-1")).await;
    assert!(
        matches!(answer, Err(coupon::EngineError::Database(_))),
        "{answer:?}"
    );
}
