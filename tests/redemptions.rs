//! Redemption at checkout against real PostgreSQL and Redis: every outcome and rule, exactly
//! one redemption under concurrency and retries, holds that end by themselves, and coupons
//! redeemed before the sync recorded them.

mod support;

use coupon::redeem::{Checkout, CouponState, HoldRequest, RedeemRequest, Refusal, ValidateRequest};
use coupon::{Campaign, CampaignDraft, ClaimOutcome, Engine};
use std::collections::HashSet;
use std::sync::Arc;
use support::*;

/// Claims one coupon for each of `members` (through Redis); their codes, in member order.
async fn codes_of(engine: &Engine, campaign: &Campaign, members: usize) -> Vec<String> {
    issued_coupons(claim_at_once(engine, campaign.id, 0..members).await)
        .into_iter()
        .map(|(_, _, code)| code)
        .collect()
}

async fn claimed_and_synced(engine: &Engine, draft: CampaignDraft, members: usize) -> Vec<String> {
    let campaign = engine.create_campaign(&draft).await.expect("campaign");
    let codes = codes_of(engine, &campaign, members).await;
    drain(engine, campaign.id).await;
    codes
}

/// Each of `orders` redeems `code` at the same moment (one task each, released together); the
/// answers, in the order given.
async fn redeemed_at_once(
    engine: &Engine,
    code: &str,
    orders: Vec<String>,
) -> Vec<Checkout<coupon::redeem::Redemption>> {
    let start = Arc::new(tokio::sync::Barrier::new(orders.len()));
    let tasks: Vec<_> = orders
        .into_iter()
        .map(|order| {
            let (engine, code, start) = (engine.clone(), code.to_owned(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                engine
                    .redeem(&code, &redeem_request(&order, 10_000))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("redemption task"));
    }
    answers
}

fn redeem_request(order: &str, amount: i64) -> RedeemRequest {
    RedeemRequest {
        order_id: order.into(),
        order_amount: amount,
        user_id: None,
    }
}

fn hold_request(order: &str, amount: i64, seconds: Option<i64>) -> HoldRequest {
    HoldRequest {
        order_id: order.into(),
        order_amount: amount,
        user_id: None,
        hold_seconds: seconds,
    }
}

fn validate_request(amount: i64) -> ValidateRequest {
    ValidateRequest {
        order_amount: amount,
        user_id: None,
        order_id: None,
    }
}

fn refusal<T: std::fmt::Debug>(answer: Checkout<T>) -> Refusal {
    match answer {
        Checkout::Refused(refusal) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn done<T: std::fmt::Debug>(answer: Checkout<T>) -> (T, bool) {
    match answer {
        Checkout::Done { answer, first } => (answer, first),
        other => panic!("expected it done, got {other:?}"),
    }
}

#[tokio::test]
async fn a_coupon_is_validated_held_redeemed_and_released_with_its_history() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);

    let valid = done(
        engine
            .validate(&code, &validate_request(25_000))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!((valid.discount, valid.order_amount), (3000, 25_000));
    let (hold, first) = done(
        engine
            .hold(&code, &hold_request("o-1", 25_000, None))
            .await
            .unwrap(),
    );
    assert!(first);
    let (again, first) = done(
        engine
            .hold(&code, &hold_request("o-1", 25_000, None))
            .await
            .unwrap(),
    );
    assert_eq!(
        (again, first),
        (hold.clone(), false),
        "the same order gets the same hold"
    );
    assert!(matches!(
        refusal(engine.hold(&code, &hold_request("o-2", 25_000, None)).await.unwrap()),
        Refusal::Held { hold_expires_at } if hold_expires_at == hold.hold_expires_at
    ));
    assert!(matches!(
        refusal(
            engine
                .redeem(&code, &redeem_request("o-2", 25_000))
                .await
                .unwrap()
        ),
        Refusal::Held { .. }
    ));
    let viewed = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(viewed.state, CouponState::Held);
    assert_eq!(viewed.order_id.as_deref(), Some("o-1"));

    let (redeemed, first) = done(
        engine
            .redeem(&code, &redeem_request("o-1", 30_000))
            .await
            .unwrap(),
    );
    assert!(first, "redeeming confirms the order's own hold");
    assert_eq!(redeemed.discount, 3000);
    assert_eq!(
        refusal(
            engine
                .redeem(&code, &redeem_request("o-2", 30_000))
                .await
                .unwrap()
        ),
        Refusal::AlreadyRedeemed
    );
    assert_eq!(
        refusal(
            engine
                .validate(&code, &validate_request(30_000))
                .await
                .unwrap()
        ),
        Refusal::Redeemed
    );

    let released = engine.release(&code, "o-1").await.unwrap().unwrap();
    assert!(done(released).1);
    let again = engine.release(&code, "o-1").await.unwrap().unwrap();
    assert!(!done(again).1, "a second release answers the same");
    assert!(
        engine.release(&code, "o-2").await.unwrap().is_none(),
        "o-2 never held it"
    );
    let viewed = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(
        (viewed.state, viewed.order_id),
        (CouponState::Available, None)
    );

    let (_, history) = engine.coupon_with_history(&code).await.unwrap().unwrap();
    let kinds: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.kind.as_str(), e.order_id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("held", "o-1"), ("redeemed", "o-1"), ("released", "o-1")]
    );
    assert_eq!(history[1].order_amount, Some(30_000));
    assert_eq!(
        history[2].discount,
        Some(3000),
        "the release names what it gave back"
    );
    assert!(history.iter().all(|e| e.user_id == "user-0"));
}

#[tokio::test]
async fn codes_that_are_not_codes_or_no_ones_are_told_apart() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);

    let error = engine.coupon_by_code("not a code").await.unwrap_err();
    assert!(error.to_string().contains("code"), "{error}");
    let mut wrong = code.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    assert_eq!(engine.coupon_by_code(&wrong).await.unwrap(), None);
    let typed = code.to_lowercase().replace('-', "");
    assert_eq!(
        engine.coupon_by_code(&typed).await.unwrap().unwrap().code,
        code
    );
}

#[tokio::test]
async fn the_minimum_the_cap_and_the_holder_are_checked() {
    let engine = engine().await;
    let draft = CampaignDraft {
        discount_kind: "percentage".into(),
        discount_amount: 15,
        min_order_amount: Some(20_000),
        max_discount_amount: Some(5000),
        ..open_draft(1)
    };
    let code = claimed_and_synced(&engine, draft, 1).await.remove(0);

    assert_eq!(
        refusal(
            engine
                .validate(&code, &validate_request(19_999))
                .await
                .unwrap()
        ),
        Refusal::BelowMinimum {
            min_order_amount: 20_000
        }
    );
    let at_minimum = done(
        engine
            .validate(&code, &validate_request(20_000))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(at_minimum.discount, 3000);
    let large = done(
        engine
            .validate(&code, &validate_request(1_000_000))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(large.discount, 5000, "capped");
    let odd = done(
        engine
            .validate(&code, &validate_request(33_333))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(odd.discount, 4999, "rounded down to the won");

    let someone_else = RedeemRequest {
        user_id: Some("user-1".into()),
        ..redeem_request("o-1", 30_000)
    };
    assert_eq!(
        refusal(engine.redeem(&code, &someone_else).await.unwrap()),
        Refusal::NotYours
    );
    let holder = RedeemRequest {
        user_id: Some("user-0".into()),
        ..redeem_request("o-1", 30_000)
    };
    assert_eq!(
        done(engine.redeem(&code, &holder).await.unwrap())
            .0
            .discount,
        4500
    );
}

#[tokio::test]
async fn a_fixed_discount_never_exceeds_the_order_and_bad_input_is_named() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);
    let small = done(
        engine
            .validate(&code, &validate_request(1200))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(small.discount, 1200);

    let bad = HoldRequest {
        user_id: Some(" ".into()),
        ..hold_request("", -5, Some(0))
    };
    let error = engine.hold(&code, &bad).await.unwrap_err();
    let coupon::EngineError::Invalid(errors) = error else {
        panic!("expected field errors, got {error}");
    };
    for field in ["order_id", "order_amount", "user_id", "hold_seconds"] {
        assert!(errors.for_field(field).is_some(), "{field}: {errors}");
    }
    let (_, history) = engine.coupon_with_history(&code).await.unwrap().unwrap();
    assert!(history.is_empty(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_orders_redeeming_one_code_at_once_leave_exactly_one_redemption() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);
    let orders: Vec<String> = (0..50).map(|n| format!("order-{n}")).collect();

    let mut winners = Vec::new();
    for answer in redeemed_at_once(&engine, &code, orders).await {
        match answer {
            Checkout::Done { answer, .. } => winners.push(answer.order_id),
            Checkout::Refused(Refusal::AlreadyRedeemed) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (view, history) = engine.coupon_with_history(&code).await.unwrap().unwrap();
    assert_eq!(view.order_id.as_ref(), Some(&winners[0]));
    assert_eq!(history.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_retried_fifty_times_at_once_is_redeemed_once_with_one_answer() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);
    let orders = vec!["the-order".to_owned(); 50];

    let mut answers = Vec::new();
    let mut firsts = 0;
    for answer in redeemed_at_once(&engine, &code, orders).await {
        let (answer, first) = done(answer);
        firsts += usize::from(first);
        answers.push(answer);
    }
    assert_eq!(firsts, 1);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let (_, history) = engine.coupon_with_history(&code).await.unwrap().unwrap();
    assert_eq!(history.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_racing_redemptions_leaves_a_state_its_history_explains() {
    let engine = engine().await;
    let codes = claimed_and_synced(&engine, open_draft(20), 20).await;
    for code in &codes {
        done(
            engine
                .hold(code, &hold_request("first", 10_000, None))
                .await
                .unwrap(),
        );
    }

    let tasks: Vec<_> = codes
        .iter()
        .flat_map(|code| {
            let release = {
                let (engine, code) = (engine.clone(), code.clone());
                tokio::spawn(async move { engine.release(&code, "first").await.unwrap().is_some() })
            };
            let redeem = {
                let (engine, code) = (engine.clone(), code.clone());
                tokio::spawn(async move {
                    matches!(
                        engine
                            .redeem(&code, &redeem_request("second", 10_000))
                            .await
                            .unwrap(),
                        Checkout::Done { .. }
                    )
                })
            };
            [release, redeem]
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    for (code, pair) in codes.iter().zip(results.chunks(2)) {
        assert!(pair[0], "the first order's release always succeeds");
        let (view, history) = engine.coupon_with_history(code).await.unwrap().unwrap();
        let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
        if pair[1] {
            assert_eq!(kinds, ["held", "released", "redeemed"], "{code}");
            assert_eq!(view.state, CouponState::Redeemed);
        } else {
            assert_eq!(kinds, ["held", "released"], "{code}");
            assert_eq!(view.state, CouponState::Available);
        }
    }
}

/// A coupon of a campaign of its own, claimed, synced and redeemed by `order`.
async fn redeemed_coupon(engine: &Engine, order: &str) -> String {
    let code = claimed_and_synced(engine, open_draft(1), 1).await.remove(0);
    done(
        engine
            .redeem(&code, &redeem_request(order, 25_000))
            .await
            .unwrap(),
    );
    code
}

/// `order` gave `code` back: its redemption, sent again, is refused as released.
async fn assert_late_redemption_refused(engine: &Engine, code: &str, order: &str) {
    let late = engine
        .redeem(code, &redeem_request(order, 25_000))
        .await
        .unwrap();
    assert_eq!(refusal(late), Refusal::Released);
}

#[tokio::test]
async fn a_released_orders_late_retry_is_refused_and_leaves_the_coupon_available() {
    let engine = engine().await;
    let code = redeemed_coupon(&engine, "o-1").await;
    done(engine.release(&code, "o-1").await.unwrap().unwrap());

    assert_late_redemption_refused(&engine, &code, "o-1").await;
    assert_eq!(
        refusal(
            engine
                .hold(&code, &hold_request("o-1", 25_000, None))
                .await
                .unwrap()
        ),
        Refusal::Released
    );
    let viewed = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(viewed.state, CouponState::Available);
    let (_, first) = done(
        engine
            .redeem(&code, &redeem_request("o-2", 25_000))
            .await
            .unwrap(),
    );
    assert!(first, "another order may still use it");
}

/// While an instance of the previous release still runs (a rolling upgrade), its release
/// statement knows nothing of `released_orders`: the row remembers the order all the same.
#[tokio::test]
async fn an_order_released_by_the_previous_release_is_refused_too() {
    let engine = engine().await;
    let code = redeemed_coupon(&engine, "o-old").await;
    // The previous release's release, minus its history row.
    sqlx::query(
        "UPDATE issued_coupons SET order_id = NULL, order_amount = NULL, discount = NULL, \
         held_until = NULL, redeemed_at = NULL WHERE code = $1",
    )
    .bind(&code)
    .execute(engine.db())
    .await
    .unwrap();

    assert_late_redemption_refused(&engine, &code, "o-old").await;
}

/// A retry of a redemption racing the release of the same order: whichever PostgreSQL orders
/// first, the cancelled order does not hold the coupon afterwards (the retry either repeats the
/// redemption before the release, or is refused after it, seeing the release it waited on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_retry_racing_its_orders_release_never_consumes_the_coupon_again() {
    let engine = engine().await;
    let codes = claimed_and_synced(&engine, open_draft(30), 30).await;
    for code in &codes {
        done(
            engine
                .redeem(code, &redeem_request("cancelled", 10_000))
                .await
                .unwrap(),
        );
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(codes.len() * 2));
    let tasks: Vec<_> = codes
        .iter()
        .flat_map(|code| {
            let release = {
                let (engine, code, start) = (engine.clone(), code.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    engine.release(&code, "cancelled").await.unwrap().is_some()
                })
            };
            let retry = {
                let (engine, code, start) = (engine.clone(), code.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let retry = redeem_request("cancelled", 10_000);
                    match engine.redeem(&code, &retry).await.unwrap() {
                        Checkout::Done { first, .. } => !first,
                        Checkout::Refused(Refusal::Released) => true,
                        other => panic!("unexpected answer {other:?}"),
                    }
                })
            };
            [release, retry]
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap(), "a release or a retry answered wrongly");
    }
    for code in &codes {
        let (view, history) = engine.coupon_with_history(code).await.unwrap().unwrap();
        let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["redeemed", "released"], "{code}");
        assert_eq!(view.state, CouponState::Available, "{code}");
    }
}

#[tokio::test]
async fn a_hold_that_ends_frees_the_coupon_by_itself() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);
    let hold = done(
        engine
            .hold(&code, &hold_request("slow-payment", 10_000, Some(1)))
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(
        engine
            .coupon_by_code(&code)
            .await
            .unwrap()
            .unwrap()
            .hold_expires_at,
        Some(hold.hold_expires_at)
    );

    eventually("the hold to end", || async {
        engine.coupon_by_code(&code).await.unwrap().unwrap().state == CouponState::Available
    })
    .await;
    let (redeemed, _) = done(
        engine
            .redeem(&code, &redeem_request("another", 10_000))
            .await
            .unwrap(),
    );
    assert_eq!(redeemed.order_id, "another");
}

#[tokio::test]
async fn a_coupon_is_redeemed_moments_after_its_claim_before_any_sync() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 3).await;
    let ClaimOutcome::Issued { code, .. } = engine.claim(campaign.id, &user(7)).await.unwrap()
    else {
        panic!("expected a coupon");
    };
    assert_eq!(rows(&engine, campaign.id).await, 0, "not synced yet");

    let viewed = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(
        (viewed.state, viewed.user_id.as_str()),
        (CouponState::Available, "user-7")
    );
    let (redeemed, first) = done(
        engine
            .redeem(&code, &redeem_request("fast", 5000))
            .await
            .unwrap(),
    );
    assert!(first);
    assert_eq!(rows(&engine, campaign.id).await, 1, "recorded on the spot");

    // The sync then finds it recorded: one row, still redeemed.
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 1);
    let viewed = engine.coupon_by_code(&code).await.unwrap().unwrap();
    assert_eq!(viewed.state, CouponState::Redeemed);
    assert_eq!(viewed.redeemed_at, Some(redeemed.redeemed_at));
}

#[tokio::test]
async fn expiry_is_a_fixed_span_after_the_claim_across_the_kst_day_boundary() {
    use chrono::{FixedOffset, TimeZone};
    let kst = FixedOffset::east_opt(9 * 3600).unwrap();
    let claimed = kst
        .with_ymd_and_hms(2026, 12, 1, 23, 30, 0)
        .unwrap()
        .to_utc();
    assert_eq!(
        coupon::redeem::expires_at(claimed, 1)
            .with_timezone(&kst)
            .to_rfc3339(),
        "2026-12-02T23:30:00+09:00",
        "not midnight KST, not midnight UTC"
    );

    let engine = engine().await;
    let draft = CampaignDraft {
        valid_days: 1,
        ..open_draft(2)
    };
    let codes = claimed_and_synced(&engine, draft, 2).await;
    // Claimed (by PostgreSQL's clock) a day less a minute ago and a day and a minute ago: the
    // day boundary of KST lies between the two claims whatever hour the test runs at.
    for (code, age) in codes.iter().zip(["1 day - 1 minute", "1 day 1 minute"]) {
        let (campaign, sequence) = engine.codes().locate(code).unwrap();
        sqlx::query(
            "UPDATE issued_coupons SET claimed_at = now() - $3::interval \
             WHERE campaign_id = $1 AND sequence = $2",
        )
        .bind(campaign.0)
        .bind(sequence)
        .bind(age)
        .execute(engine.db())
        .await
        .unwrap();
    }
    assert_eq!(
        engine
            .coupon_by_code(&codes[0])
            .await
            .unwrap()
            .unwrap()
            .state,
        CouponState::Available
    );
    let expired = engine.coupon_by_code(&codes[1]).await.unwrap().unwrap();
    assert_eq!(expired.state, CouponState::Expired);
    assert!(matches!(
        refusal(engine.redeem(&codes[1], &redeem_request("late", 10_000)).await.unwrap()),
        Refusal::Expired { expires_at } if expires_at == expired.expires_at
    ));
    // A hold never outlives the coupon.
    let hold = done(
        engine
            .hold(&codes[0], &hold_request("o", 10_000, Some(3600)))
            .await
            .unwrap(),
    )
    .0;
    let live = engine.coupon_by_code(&codes[0]).await.unwrap().unwrap();
    assert_eq!(hold.hold_expires_at, live.expires_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_a_thousand_codes_five_orders_each_redeems_each_code_once() {
    use futures::StreamExt;
    let engine = engine().await;
    let campaign = open_campaign(&engine, 1000).await;
    let codes = codes_of(&engine, &campaign, 1000).await;
    // Half recorded by the sync, half still queued: both kinds are redeemed in the storm.
    let drainer = coupon::sync::Drainer::new(engine.clone());
    for _ in 0..5 {
        drainer.drain_step(campaign.id).await.unwrap();
    }

    let attempts: Vec<(String, String)> = codes
        .iter()
        .flat_map(|code| (0..5).map(move |n| (code.clone(), format!("{code}/{n}"))))
        .collect();
    let winners: Vec<(String, String)> = futures::stream::iter(attempts)
        .map(|(code, order)| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let answer = engine
                    .redeem(&code, &redeem_request(&order, 10_000))
                    .await
                    .unwrap();
                match answer {
                    Checkout::Done { answer, .. } => Some((code, answer.order_id)),
                    Checkout::Refused(Refusal::AlreadyRedeemed) => None,
                    other => panic!("{code}: {other:?}"),
                }
            })
        })
        .buffer_unordered(50)
        .filter_map(|joined| async move { joined.unwrap() })
        .collect()
        .await;

    assert_eq!(winners.len(), 1000);
    let redeemed: HashSet<&String> = winners.iter().map(|(code, _)| code).collect();
    assert_eq!(redeemed.len(), 1000, "each code once");
    drain(&engine, campaign.id).await;
    assert_eq!(
        rows(&engine, campaign.id).await,
        1000,
        "every coupon recorded once"
    );
    let redeemed_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM issued_coupons WHERE campaign_id = $1 AND redeemed_at IS NOT NULL",
    )
    .bind(campaign.id.0)
    .fetch_one(engine.db())
    .await
    .unwrap();
    assert_eq!(redeemed_rows, 1000);
}

#[tokio::test]
async fn history_can_only_be_added_to() {
    let engine = engine().await;
    let code = claimed_and_synced(&engine, open_draft(1), 1)
        .await
        .remove(0);
    done(
        engine
            .redeem(&code, &redeem_request("o", 10_000))
            .await
            .unwrap(),
    );
    for statement in [
        "UPDATE coupon_events SET order_id = 'x'",
        "DELETE FROM coupon_events",
    ] {
        let mut tx = engine.db().begin().await.unwrap();
        let error = sqlx::query(statement).execute(&mut *tx).await.unwrap_err();
        drop(tx);
        assert_eq!(
            violated_constraint(&error),
            Some("coupon_events_are_history"),
            "{statement}"
        );
    }
}

#[tokio::test]
async fn a_random_code_recorded_by_an_older_release_is_redeemed_by_its_text() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let code = format!("{:016X}", rand::random::<u64>())
        .chars()
        .map(|c| if c == 'E' { 'Z' } else { c })
        .collect::<String>();
    let code = coupon::code::canonical(&code).unwrap();
    // As the release before derived codes recorded it: a random code, synced back then.
    sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at, synced_at) \
         SELECT $1, 'old-member', $2, 5, now(), instant - interval '1 hour' \
         FROM random_codes_recorded_before",
    )
    .bind(campaign.id.0)
    .bind(&code)
    .execute(engine.db())
    .await
    .unwrap();

    let found = engine
        .coupon_by_code(&code.to_lowercase())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_id, "old-member");
    let (redeemed, _) = done(
        engine
            .redeem(&code, &redeem_request("old-order", 10_000))
            .await
            .unwrap(),
    );
    assert_eq!(redeemed.discount, 3000);

    // The code derived from that row's number was never anyone's: with the campaign's terms
    // known to the engine (from a coupon of its own), it still redeems nothing.
    let own = codes_of(&engine, &campaign, 1).await.remove(0);
    drain(&engine, campaign.id).await;
    done(
        engine
            .validate(&own, &validate_request(10_000))
            .await
            .unwrap(),
    );
    let derived = engine.codes().code_of(campaign.id, 5).unwrap();
    assert_eq!(
        engine
            .redeem(&derived, &redeem_request("forged", 10_000))
            .await
            .unwrap(),
        Checkout::UnknownCode
    );
    let (_, history) = engine.coupon_with_history(&code).await.unwrap().unwrap();
    assert_eq!(history.len(), 1, "only the old member's redemption");
}

#[tokio::test]
async fn a_members_coupons_are_found_across_campaigns_with_their_histories() {
    let engine = engine().await;
    let member = coupon::UserId::parse(&format!("searched-{:x}", rand::random::<u64>())).unwrap();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let campaign = open_campaign(&engine, 1).await;
        let ClaimOutcome::Issued { code, .. } = engine.claim(campaign.id, &member).await.unwrap()
        else {
            panic!("expected a coupon");
        };
        drain(&engine, campaign.id).await;
        codes.push(code);
    }
    done(
        engine
            .redeem(&codes[0], &redeem_request("o-1", 10_000))
            .await
            .unwrap(),
    );

    let found = engine.coupons_of_member(&member, 50).await.unwrap();
    let found: Vec<(String, usize)> = found.into_iter().map(|(c, h)| (c.code, h.len())).collect();
    assert_eq!(
        found,
        [(codes[1].clone(), 0), (codes[0].clone(), 1)],
        "newest campaign first"
    );
}
