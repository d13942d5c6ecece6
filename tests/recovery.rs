//! Redis losing a campaign's state: it is rebuilt from PostgreSQL before the next claim is
//! answered, and the rebuild never lets the campaign over-issue or issue twice to a user.

mod support;

use coupon::ClaimOutcome;
use coupon::redis::CampaignKeys;
use coupon::sync::Drainer;
use std::collections::HashSet;
use support::*;

fn issued(outcome: &ClaimOutcome) -> bool {
    matches!(outcome, ClaimOutcome::Issued { .. })
}

#[tokio::test]
async fn a_claim_after_the_keys_were_deleted_reloads_the_campaign_from_postgres() {
    // Arrange: 3 of 5 coupons claimed and synced, then Redis forgets the campaign.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    for n in 0..3 {
        assert!(issued(&engine.claim(campaign.id, &user(n)).await.unwrap()));
    }
    drain(&engine, campaign.id).await;
    let keys = CampaignKeys::new(campaign.id);
    delete_keys(&engine, &keys.all()).await;

    // Act + Assert: a holder is still recognised; only the 2 remaining coupons go out.
    assert_eq!(
        engine.claim(campaign.id, &user(0)).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    let later: Vec<ClaimOutcome> = {
        let mut v = Vec::new();
        for n in 10..14 {
            v.push(engine.claim(campaign.id, &user(n)).await.unwrap());
        }
        v
    };
    assert_eq!(later.iter().filter(|o| issued(o)).count(), 2, "{later:?}");
    assert_eq!(later[2], ClaimOutcome::SoldOut);

    // Sequence numbers continue after the recorded ones instead of clashing with them.
    assert!(matches!(later[0], ClaimOutcome::Issued { sequence: 4, .. }));
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_racing_the_reload_never_over_issue() {
    // Arrange: 10 of 20 coupons synced, then every key is gone.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 20).await;
    for n in 0..10 {
        engine.claim(campaign.id, &user(n)).await.unwrap();
    }
    drain(&engine, campaign.id).await;
    delete_keys(&engine, &CampaignKeys::new(campaign.id).all()).await;

    // Act: 60 users (10 of them holders) claim at once; many of them trigger a reload.
    let outcomes = claim_at_once(&engine, campaign.id, 0..60).await;
    let mut winners = HashSet::new();
    for (n, outcome) in outcomes {
        if issued(&outcome) {
            assert!(n >= 10, "holder user-{n} was issued a second coupon");
            winners.insert(n);
        }
    }

    // Assert
    assert_eq!(winners.len(), 10, "exactly the 10 remaining coupons");
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 20);
}

#[tokio::test]
async fn losing_only_the_counter_keeps_unsynced_claims_counted() {
    // Arrange: 4 claims still queued (not yet in PostgreSQL), then the counter alone is lost.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 6).await;
    for n in 0..4 {
        engine.claim(campaign.id, &user(n)).await.unwrap();
    }
    let keys = CampaignKeys::new(campaign.id);
    delete_keys(&engine, &[&keys.counter]).await;

    // Act
    let mut outcomes = Vec::new();
    for n in 0..8 {
        outcomes.push(engine.claim(campaign.id, &user(n)).await.unwrap());
    }

    // Assert: the queued claims still count; 2 new coupons, never 6.
    assert!(
        outcomes[..4]
            .iter()
            .all(|o| *o == ClaimOutcome::AlreadyClaimed)
    );
    assert_eq!(outcomes.iter().filter(|o| issued(o)).count(), 2);
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 6);
}

#[tokio::test]
async fn loading_twice_does_not_reset_a_live_counter() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    engine.claim(campaign.id, &user(1)).await.unwrap();

    // Another instance (re)loads while claims are live: the unsynced claim must stay counted.
    assert!(engine.load_campaign(campaign.id).await.unwrap());

    let status = engine.status(campaign.id).await.unwrap().unwrap();
    assert_eq!(status.remaining, Some(4));
}

/// Redis loses everything while a drainer holds a batch it read but has not committed: the
/// rebuild must wait for that batch and count it, or it would re-sell those coupons.
#[tokio::test]
async fn a_rebuild_waits_for_a_batch_in_flight_and_counts_it() {
    // Arrange: 3 of 5 coupons claimed; a drainer has read them and not committed yet.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    for n in 0..3 {
        engine.claim(campaign.id, &user(n)).await.unwrap();
    }
    let drainer = Drainer::new(engine.clone());
    let in_flight = drainer.take_batch(campaign.id).await.unwrap().unwrap();
    delete_keys(&engine, &CampaignKeys::new(campaign.id).all()).await;

    // Act: a holder claims again, which triggers a rebuild; it must block on the batch.
    let claimer = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.claim(campaign.id, &user(0)).await.unwrap() })
    };
    eventually("the rebuild to wait for the batch's row lock", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND query LIKE '%FROM campaigns WHERE id = $1 FOR UPDATE'",
        )
        .fetch_one(engine.db())
        .await
        .unwrap();
        waiting > 0
    })
    .await;
    let committed = drainer.commit(in_flight).await.unwrap();

    // Assert: the rebuild saw the batch's rows.
    assert_eq!(committed.inserted, 3);
    assert_eq!(claimer.await.unwrap(), ClaimOutcome::AlreadyClaimed);
    let mut fresh = 0;
    for n in 10..15 {
        if issued(&engine.claim(campaign.id, &user(n)).await.unwrap()) {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 2, "only the 2 coupons nobody holds");
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 5);
}
