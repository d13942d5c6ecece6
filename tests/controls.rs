//! The marketer's controls (pause, resume, end, change quantity) and coupon lookups.

mod support;

use coupon::store::campaigns::CampaignFilter;

use coupon::redis::CampaignKeys;
use coupon::{CampaignId, CampaignStatus, ClaimOutcome, EngineError};
use support::*;

fn refused_field(error: EngineError) -> String {
    match error {
        EngineError::Invalid(errors) => errors.0[0].field.clone(),
        other => panic!("expected invalid input, got {other}"),
    }
}

#[tokio::test]
async fn a_paused_campaign_refuses_claims_until_resumed() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    engine
        .set_status(campaign.id, CampaignStatus::Paused)
        .await
        .unwrap();
    let while_paused = engine.claim(campaign.id, &user(1)).await.unwrap();
    engine
        .set_status(campaign.id, CampaignStatus::Active)
        .await
        .unwrap();
    let after_resume = engine.claim(campaign.id, &user(1)).await.unwrap();

    assert_eq!(while_paused, ClaimOutcome::Paused);
    assert!(matches!(
        after_resume,
        ClaimOutcome::Issued { remaining: 4, .. }
    ));
    let recorded = engine.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(recorded.status, CampaignStatus::Active);
}

#[tokio::test]
async fn a_pause_is_recorded_and_survives_losing_redis() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    engine
        .set_status(campaign.id, CampaignStatus::Paused)
        .await
        .unwrap();

    delete_keys(&engine, &CampaignKeys::new(campaign.id).all()).await;

    assert_eq!(
        engine.claim(campaign.id, &user(1)).await.unwrap(),
        ClaimOutcome::Paused
    );
}

#[tokio::test]
async fn an_ended_campaign_cannot_be_reopened_or_resized() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    engine
        .set_status(campaign.id, CampaignStatus::Ended)
        .await
        .unwrap();

    let reopen = engine.set_status(campaign.id, CampaignStatus::Active).await;
    let resize = engine.set_quantity(campaign.id, 10).await;

    assert_eq!(refused_field(reopen.unwrap_err()), "status");
    assert_eq!(refused_field(resize.unwrap_err()), "quantity");
    assert_eq!(
        engine.claim(campaign.id, &user(1)).await.unwrap(),
        ClaimOutcome::Ended
    );
}

#[tokio::test]
async fn adding_stock_to_a_sold_out_campaign_lets_new_users_claim() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 2).await;
    for n in 0..2 {
        engine.claim(campaign.id, &user(n)).await.unwrap();
    }
    assert_eq!(
        engine.claim(campaign.id, &user(2)).await.unwrap(),
        ClaimOutcome::SoldOut
    );

    engine.set_quantity(campaign.id, 3).await.unwrap();

    assert!(matches!(
        engine.claim(campaign.id, &user(2)).await.unwrap(),
        ClaimOutcome::Issued { remaining: 0, .. }
    ));
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.quantity, status.remaining), (3, Some(0)));
}

#[tokio::test]
async fn the_quantity_never_goes_below_what_is_claimed_and_a_refusal_changes_nothing() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    for n in 0..4 {
        engine.claim(campaign.id, &user(n)).await.unwrap();
    }

    let too_low = engine.set_quantity(campaign.id, 3).await;
    let zero = engine.set_quantity(campaign.id, 0).await;
    engine.set_quantity(campaign.id, 4).await.unwrap();

    match too_low.unwrap_err() {
        EngineError::Invalid(errors) => {
            assert_eq!(errors.0[0].field, "quantity");
            assert!(errors.0[0].reason.contains("at least 4"), "{errors}");
        }
        other => panic!("expected invalid input, got {other}"),
    }
    assert_eq!(refused_field(zero.unwrap_err()), "quantity");
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!((status.quantity, status.remaining), (4, Some(0)));
}

#[tokio::test]
async fn shrinking_while_claims_race_never_over_issues() {
    // Arrange: 100 coupons, 300 users claiming while the marketer cuts the quantity to 50.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 100).await;
    let claims: Vec<_> = (0..300)
        .map(|n| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.claim(campaign.id, &user(n)).await.unwrap() })
        })
        .collect();
    let shrink = engine.set_quantity(campaign.id, 50).await;

    // Act
    let mut issued = 0;
    for claim in claims {
        if matches!(claim.await.unwrap(), ClaimOutcome::Issued { .. }) {
            issued += 1;
        }
    }

    // Assert: either the cut came in time (50 issued) or was refused because more were claimed.
    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.claimed, issued);
    assert!(issued <= status.quantity, "{issued} > {}", status.quantity);
    match shrink {
        Ok(_) => assert_eq!((status.quantity, issued), (50, 50)),
        Err(_) => assert_eq!((status.quantity, issued), (100, 100)),
    }
}

#[tokio::test]
async fn controls_on_an_unknown_campaign_answer_none() {
    let engine = engine().await;
    let missing = CampaignId(i64::MAX);
    assert!(
        engine
            .set_status(missing, CampaignStatus::Paused)
            .await
            .unwrap()
            .is_none()
    );
    assert!(engine.set_quantity(missing, 5).await.unwrap().is_none());
}

#[tokio::test]
async fn a_member_finds_their_code_before_and_after_the_sync() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let ClaimOutcome::Issued { code, .. } = engine.claim(campaign.id, &user(7)).await.unwrap()
    else {
        panic!("expected a coupon");
    };

    let before_sync = engine.coupon_of(campaign.id, &user(7)).await.unwrap();
    drain(&engine, campaign.id).await;
    let after_sync = engine.coupon_of(campaign.id, &user(7)).await.unwrap();
    let stranger = engine.coupon_of(campaign.id, &user(8)).await.unwrap();

    let before_sync = before_sync.expect("found in the queue");
    assert_eq!(
        (before_sync.code.as_str(), before_sync.synced),
        (code.as_str(), false)
    );
    let after_sync = after_sync.expect("found in PostgreSQL");
    assert_eq!(
        (after_sync.code.as_str(), after_sync.synced),
        (code.as_str(), true)
    );
    assert_eq!(stranger, None);
}

#[tokio::test]
async fn the_overview_reports_each_campaign_as_its_own_status_does() {
    let engine = engine().await;
    let first = open_campaign(&engine, 5).await;
    let second = open_campaign(&engine, 7).await;
    engine.claim(first.id, &user(1)).await.unwrap();
    drain(&engine, first.id).await;
    engine.claim(second.id, &user(1)).await.unwrap();

    for campaign in [&first, &second] {
        let id = campaign.id;
        let filter = CampaignFilter {
            name: Some(campaign.name.clone()),
            ..CampaignFilter::default()
        };
        let (overview, more) = engine.overview(&filter).await.unwrap();
        assert!(!more);
        let listed = overview
            .iter()
            .find(|r| r.campaign.id == id)
            .expect("listed");
        let own = engine.status(id).await.unwrap().unwrap();
        assert_eq!(
            (listed.remaining, listed.claimed, listed.synced),
            (own.remaining, own.claimed, own.synced)
        );
    }
}

#[tokio::test]
async fn the_overview_pages_by_fifty_and_filters_by_status_and_name() {
    let engine = engine().await;
    let marker = format!("paged {:016x}", rand::random::<u64>());
    let mut ids = Vec::new();
    for n in 0..51 {
        let draft = coupon::CampaignDraft {
            name: format!("{marker} {n}"),
            ..open_draft(1)
        };
        ids.push(engine.create_campaign(&draft).await.unwrap().id);
    }
    engine
        .set_status(ids[0], coupon::CampaignStatus::Paused)
        .await
        .unwrap();
    let named = |page, status| CampaignFilter {
        name: Some(marker.to_uppercase()),
        status,
        page,
    };

    let (first, more) = engine.overview(&named(0, None)).await.unwrap();
    assert_eq!((first.len(), more), (50, true));
    assert_eq!(first[0].campaign.id, ids[50], "newest first");
    let (second, more) = engine.overview(&named(1, None)).await.unwrap();
    assert_eq!((second.len(), more), (1, false));
    assert_eq!(second[0].campaign.id, ids[0]);
    let (paused, _) = engine
        .overview(&named(0, Some(coupon::CampaignStatus::Paused)))
        .await
        .unwrap();
    let paused: Vec<_> = paused.iter().map(|r| r.campaign.id).collect();
    assert_eq!(paused, [ids[0]]);
}
