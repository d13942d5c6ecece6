//! Coupon codes made from (campaign, sequence) under the deployment's key.

mod support;

use coupon::redis::CampaignKeys;
use coupon::store::coupons;
use coupon::{Engine, SyncSettings};
use redis::AsyncCommands;
use support::*;

#[tokio::test]
async fn the_code_a_member_is_told_is_recorded_and_leads_back_to_their_row() {
    // Arrange: 300 members rush 200 coupons.
    let engine = engine().await;
    let campaign = open_campaign(&engine, 200).await;

    // Act
    let told = issued_coupons(claim_at_once(&engine, campaign.id, 0..300).await);
    drain(&engine, campaign.id).await;

    // Assert: each code is the one recorded for its member, and it alone finds the row again,
    // through (campaign, sequence).
    assert_eq!(told.len(), 200);
    let recorded = coupons::all(engine.db(), campaign.id).await.unwrap();
    assert_eq!(recorded.len(), 200);
    for (n, sequence, code) in &told {
        let (located_campaign, located_sequence) = engine
            .codes()
            .locate(code)
            .unwrap_or_else(|| panic!("member {n}'s code {code} locates nothing"));
        assert_eq!(
            (located_campaign, located_sequence),
            (campaign.id, *sequence)
        );
        let row = recorded
            .iter()
            .find(|row| row.sequence == located_sequence)
            .unwrap_or_else(|| panic!("no row numbered {located_sequence}"));
        assert_eq!(
            (row.user_id.as_str(), row.code.as_str()),
            (user(*n).as_str(), code.as_str())
        );
    }
}

#[tokio::test]
async fn every_server_of_a_deployment_makes_the_same_codes() {
    // Two engines on the same stores, as two server instances are: the second reads the key
    // the first (or an earlier run) made.
    let first = engine().await;
    let second = engine().await;
    let campaign = open_campaign(&first, 5).await;

    let told = issued_coupons(claim_at_once(&first, campaign.id, 0..1).await);

    let (_, sequence, code) = &told[0];
    assert_eq!(
        second.codes().code_of(campaign.id, *sequence).as_ref(),
        Some(code)
    );
    assert_eq!(second.codes().locate(code), Some((campaign.id, *sequence)));
}

#[tokio::test]
async fn the_code_key_can_be_neither_changed_nor_removed() {
    let engine = engine().await;
    for statement in [
        "UPDATE coupon_code_key SET key = '\\x00000000000000000000000000000000'",
        "DELETE FROM coupon_code_key",
        "TRUNCATE coupon_code_key",
    ] {
        let error = sqlx::query(statement)
            .execute(engine.db())
            .await
            .expect_err(statement);
        assert_eq!(
            violated_constraint(&error),
            Some("coupon_code_key_is_permanent"),
            "{statement}: {error}"
        );
    }
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM coupon_code_key")
        .fetch_one(engine.db())
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

/// A coupon queued by a release that drew random codes: its member was told that code, so the
/// lookup and the record must keep it.
#[tokio::test]
async fn a_coupon_queued_with_a_random_code_keeps_that_code() {
    // Arrange: a loaded campaign whose queue holds one entry in the old format.
    let engine: Engine = engine_with(SyncSettings::default()).await;
    let campaign = open_campaign(&engine, 10).await;
    assert!(engine.load_campaign(campaign.id).await.unwrap());
    let keys = CampaignKeys::new(campaign.id);
    let member = user(1);
    let mut redis = engine.redis();
    let _: () = redis
        .hset(&keys.issued, member.as_str(), "1")
        .await
        .unwrap();
    let entry = format!("1\t250\tABCDEFGHJKMNPQRS\t{}", member.as_str());
    let _: () = redis.rpush(&keys.queue, entry).await.unwrap();

    // Act and assert: the lookup reads it from the queue, the sync records it as it was.
    let queued = engine.coupon_of(campaign.id, &member).await.unwrap();
    let queued = queued.expect("the member holds the queued coupon");
    assert_eq!(
        (queued.code.as_str(), queued.synced),
        ("ABCD-EFGH-JKMN-PQRS", false)
    );
    drain(&engine, campaign.id).await;
    let recorded = coupons::all(engine.db(), campaign.id).await.unwrap();
    let recorded: Vec<(&str, &str, i64)> = recorded
        .iter()
        .map(|row| (row.user_id.as_str(), row.code.as_str(), row.sequence))
        .collect();
    assert_eq!(recorded, [(member.as_str(), "ABCD-EFGH-JKMN-PQRS", 1)]);
}
