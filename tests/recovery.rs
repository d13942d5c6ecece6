//! Redis losing a campaign's state: it is rebuilt from PostgreSQL before the next claim is
//! answered, and the rebuild never lets the campaign over-issue or issue twice to a user.

mod support;

use coupon::ClaimOutcome;
use coupon::redis::CampaignKeys;
use coupon::sync::Drainer;
use redis::AsyncCommands;
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

    // Numbering continues above all five numbers the lost state could have handed out (it
    // cannot tell whether some were lost unsynced), not merely above the three recorded.
    assert!(matches!(later[0], ClaimOutcome::Issued { sequence: 6, .. }));
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

/// Members `members` claim one after another; what those who got a coupon were told.
async fn claims(
    engine: &coupon::Engine,
    campaign: coupon::CampaignId,
    members: std::ops::Range<usize>,
) -> Vec<(usize, i64, String)> {
    let mut outcomes = Vec::new();
    for n in members {
        outcomes.push((n, engine.claim(campaign, &user(n)).await.unwrap()));
    }
    issued_coupons(outcomes)
}

/// The sequence numbers and codes of `later` that were already told to someone in `earlier`.
fn told_twice(earlier: &[(usize, i64, String)], later: &[(usize, i64, String)]) -> Vec<i64> {
    let sequences: HashSet<i64> = earlier.iter().map(|(_, sequence, _)| *sequence).collect();
    let codes: HashSet<&String> = earlier.iter().map(|(_, _, code)| code).collect();
    later
        .iter()
        .filter(|(_, sequence, code)| sequences.contains(sequence) || codes.contains(code))
        .map(|(_, sequence, _)| *sequence)
        .collect()
}

#[tokio::test]
async fn claims_lost_with_redis_before_the_sync_never_have_their_codes_handed_out_again() {
    // Arrange: 3 of 10 coupons claimed and synced, 3 more claimed and still queued when Redis
    // loses the campaign. Those three members were told codes the record never sees.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 10).await;
    let mut earlier = claims(&engine, campaign.id, 0..3).await;
    drain(&engine, campaign.id).await;
    earlier.extend(claims(&engine, campaign.id, 3..6).await);
    delete_keys(&engine, &CampaignKeys::new(campaign.id).all()).await;

    // Act
    let later = claims(&engine, campaign.id, 10..20).await;

    // Assert: the 7 coupons PostgreSQL knows are left go out, under numbers and codes nobody
    // was told before.
    assert_eq!(later.len(), 7, "{later:?}");
    assert_eq!(told_twice(&earlier, &later), Vec::<i64>::new());
    drain(&engine, campaign.id).await;
    assert_eq!(rows(&engine, campaign.id).await, 10);
}

#[tokio::test]
async fn a_raised_quantity_reserves_the_numbers_its_extra_coupons_may_use() {
    // Arrange: 4 coupons, all claimed; raised to 8, all claimed again; none synced when Redis
    // loses the campaign.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 4).await;
    let mut earlier = claims(&engine, campaign.id, 0..4).await;
    engine.set_quantity(campaign.id, 8).await.unwrap();
    earlier.extend(claims(&engine, campaign.id, 4..8).await);
    assert_eq!(earlier.len(), 8);
    delete_keys(&engine, &CampaignKeys::new(campaign.id).all()).await;

    // Act
    let later = claims(&engine, campaign.id, 10..18).await;

    // Assert: all 8 go out again (PostgreSQL recorded none), numbered above the 8 told.
    assert_eq!(later.len(), 8, "{later:?}");
    assert_eq!(told_twice(&earlier, &later), Vec::<i64>::new());
}

#[tokio::test]
async fn a_raise_on_a_campaign_without_a_ceiling_reserves_above_everything_recorded() {
    // Arrange: 3 of 4 claimed and recorded, and the campaign's ceiling row is gone (as for a
    // campaign no load ever reserved numbers for).
    let engine = engine().await;
    let campaign = open_campaign(&engine, 4).await;
    claims(&engine, campaign.id, 0..3).await;
    drain(&engine, campaign.id).await;
    sqlx::query("DELETE FROM campaign_sequence_ceilings WHERE campaign_id = $1")
        .bind(campaign.id.0)
        .execute(engine.db())
        .await
        .unwrap();

    // Act
    engine.set_quantity(campaign.id, 10).await.unwrap();

    // Assert: a ceiling exists again, above the highest recorded number plus the raise.
    let ceiling: i64 =
        sqlx::query_scalar("SELECT ceiling FROM campaign_sequence_ceilings WHERE campaign_id = $1")
            .bind(campaign.id.0)
            .fetch_one(engine.db())
            .await
            .expect("a ceiling row");
    assert!(ceiling >= 3 + 6, "ceiling {ceiling}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_load_whose_claim_gave_up_still_finishes() {
    // Arrange
    let engine = engine().await;
    let campaign = open_campaign(&engine, HOLDERS + 10).await;
    recorded_holders_and_lost_state(&engine, campaign.id).await;
    let keys = CampaignKeys::new(campaign.id);
    let pattern = format!("coupon:loading:{{{}}}:*", campaign.id.0);

    // Act: a claim starts the load and is dropped (its client went away) while the holders
    // are being copied.
    let claim = tokio::spawn({
        let engine = engine.clone();
        async move { engine.claim(campaign.id, &user(1)).await }
    });
    eventually("the load to start copying holders", || async {
        let staged: Vec<String> = engine.redis().keys(&pattern).await.unwrap();
        !staged.is_empty() || claim.is_finished()
    })
    .await;
    claim.abort();

    // Assert: with no other claim, the state is built to the end and the staging set is gone.
    eventually("the load to finish", || async {
        let counter: Option<i64> = engine.redis().get(&keys.counter).await.unwrap();
        let staged: Vec<String> = engine.redis().keys(&pattern).await.unwrap();
        counter == Some(10) && staged.is_empty()
    })
    .await;
    let issued: i64 = engine.redis().hlen(&keys.issued).await.unwrap();
    assert_eq!(issued, HOLDERS);
    // The holders hash was the staging key, renamed: its expiry did not come along.
    let ttl: i64 = engine.redis().ttl(&keys.issued).await.unwrap();
    assert_eq!(ttl, -1, "the issued hash must not expire");
}
