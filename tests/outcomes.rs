//! Every refusal a claim can meet, and every rule a new campaign must pass (writing nothing).

mod support;

use chrono::{Duration, Utc};
use coupon::{CampaignDraft, ClaimOutcome, EngineError};
use support::*;

#[tokio::test]
async fn a_campaign_that_has_not_opened_says_when_it_opens() {
    let engine = engine().await;
    let opens = Utc::now() + Duration::hours(2);
    let draft = CampaignDraft {
        claim_starts_at: opens,
        claim_ends_at: opens + Duration::days(1),
        ..open_draft(5)
    };
    let campaign = engine.create_campaign(&draft).await.unwrap();

    let outcome = engine.claim(campaign.id, &user(1)).await.unwrap();

    assert_eq!(
        outcome,
        ClaimOutcome::NotOpen {
            opens_at: campaign.claim_starts_at.with_nanosecond_millis()
        }
    );
    assert_eq!(
        engine.status(campaign.id).await.unwrap().unwrap().claimed,
        0
    );
}

#[tokio::test]
async fn a_campaign_whose_window_is_over_has_ended() {
    let engine = engine().await;
    let now = Utc::now();
    let id = recorded_campaign(
        &engine,
        5,
        "active",
        now - Duration::days(2),
        now - Duration::hours(1),
    )
    .await;
    assert_eq!(
        engine.claim(id, &user(1)).await.unwrap(),
        ClaimOutcome::Ended
    );
}

#[tokio::test]
async fn a_paused_campaign_says_paused_and_an_ended_one_ended() {
    let engine = engine().await;
    let now = Utc::now();
    let (starts, ends) = (now - Duration::hours(1), now + Duration::days(1));
    let paused = recorded_campaign(&engine, 5, "paused", starts, ends).await;
    let ended = recorded_campaign(&engine, 5, "ended", starts, ends).await;
    assert_eq!(
        engine.claim(paused, &user(1)).await.unwrap(),
        ClaimOutcome::Paused
    );
    assert_eq!(
        engine.claim(ended, &user(1)).await.unwrap(),
        ClaimOutcome::Ended
    );
    assert_eq!(rows(&engine, paused).await + rows(&engine, ended).await, 0);
}

#[tokio::test]
async fn an_unknown_campaign_is_reported_as_such() {
    let engine = engine().await;
    assert_eq!(
        engine
            .claim(coupon::CampaignId(i64::MAX), &user(1))
            .await
            .unwrap(),
        ClaimOutcome::UnknownCampaign
    );
    assert!(
        engine
            .status(coupon::CampaignId(i64::MAX))
            .await
            .unwrap()
            .is_none()
    );
}

/// Each rule, through the engine: the error names the field and nothing is stored.
#[tokio::test]
async fn every_invalid_campaign_is_refused_naming_the_field_and_writes_nothing() {
    let engine = engine().await;
    let now = Utc::now();
    let cases: Vec<(&str, CampaignDraft)> = vec![
        (
            "name",
            CampaignDraft {
                name: "   ".into(),
                ..open_draft(5)
            },
        ),
        (
            "name",
            CampaignDraft {
                name: "x".repeat(101),
                ..open_draft(5)
            },
        ),
        (
            "name",
            CampaignDraft {
                name: "a\u{0007}b".into(),
                ..open_draft(5)
            },
        ),
        (
            "discount_kind",
            CampaignDraft {
                discount_kind: "free".into(),
                ..open_draft(5)
            },
        ),
        (
            "discount_amount",
            CampaignDraft {
                discount_amount: 0,
                ..open_draft(5)
            },
        ),
        (
            "discount_amount",
            CampaignDraft {
                discount_amount: -3000,
                ..open_draft(5)
            },
        ),
        (
            "discount_amount",
            CampaignDraft {
                discount_kind: "percentage".into(),
                discount_amount: 101,
                ..open_draft(5)
            },
        ),
        (
            "discount_amount",
            CampaignDraft {
                discount_amount: 10_000_001,
                ..open_draft(5)
            },
        ),
        ("quantity", open_draft(0)),
        ("quantity", open_draft(-1)),
        ("quantity", open_draft(10_000_001)),
        (
            "valid_days",
            CampaignDraft {
                valid_days: 0,
                ..open_draft(5)
            },
        ),
        (
            "valid_days",
            CampaignDraft {
                valid_days: 3651,
                ..open_draft(5)
            },
        ),
        (
            "claim_ends_at",
            CampaignDraft {
                claim_starts_at: now + Duration::days(2),
                claim_ends_at: now + Duration::days(1),
                ..open_draft(5)
            },
        ),
        (
            "claim_ends_at",
            CampaignDraft {
                claim_starts_at: now - Duration::days(2),
                claim_ends_at: now - Duration::days(1),
                ..open_draft(5)
            },
        ),
    ];
    for (field, draft) in cases {
        let name = draft.name.clone();
        match engine.create_campaign(&draft).await {
            Err(EngineError::Invalid(errors)) => {
                let error = errors.for_field(field);
                assert!(
                    error.is_some(),
                    "expected an error on {field}, got {errors}"
                );
                assert!(!error.unwrap().reason.is_empty());
            }
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns WHERE name = $1")
            .bind(name.trim())
            .fetch_one(engine.db())
            .await
            .unwrap();
        assert_eq!(stored, 0, "{field}: nothing may be written");
    }
}

#[tokio::test]
async fn the_database_refuses_a_second_coupon_for_the_same_user_even_without_the_engine() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    engine.claim(campaign.id, &user(1)).await.unwrap();
    drain(&engine, campaign.id).await;

    let second = sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         VALUES ($1, $2, 'MANUAL-CODE', 99, now())",
    )
    .bind(campaign.id.0)
    .bind(user(1).as_str())
    .execute(engine.db())
    .await;

    let error = second.unwrap_err();
    let constraint = violated_constraint(&error);
    assert_eq!(constraint, Some("issued_coupons_one_per_user"));
}

#[tokio::test]
async fn the_database_refuses_a_coupon_of_a_campaign_that_does_not_exist() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    let orphan = sqlx::query(
        "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
         VALUES ($1, 'someone', $2, 1, now()), ($3, 'someone', $4, 1, now())",
    )
    .bind(campaign.id.0)
    .bind("CODE-0001")
    .bind(i64::MAX)
    .bind("CODE-0002")
    .execute(engine.db())
    .await;

    let error = orphan.unwrap_err();
    let constraint = violated_constraint(&error);
    assert_eq!(constraint, Some("issued_coupons_campaign_exists"));
    assert_eq!(
        rows(&engine, campaign.id).await,
        0,
        "the whole statement is refused"
    );
}

#[tokio::test]
async fn the_database_refuses_to_remove_or_renumber_a_campaign() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    for statement in [
        "DELETE FROM campaigns WHERE id = $1",
        "UPDATE campaigns SET id = -id WHERE id = $1",
        "TRUNCATE campaigns",
    ] {
        // In a transaction that is rolled back whatever happens: other tests share the table.
        let mut tx = engine.db().begin().await.unwrap();
        let query = sqlx::query(statement);
        let query = if statement.contains("$1") {
            query.bind(campaign.id.0)
        } else {
            query
        };
        let error = query.execute(&mut *tx).await.unwrap_err();
        drop(tx);
        let constraint = violated_constraint(&error);
        assert_eq!(
            constraint,
            Some("campaigns_are_never_removed"),
            "{statement}"
        );
    }
    assert!(engine.campaign(campaign.id).await.unwrap().is_some());
}

#[tokio::test]
async fn the_database_refuses_names_with_invisible_formatting_or_decomposed_letters() {
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;

    for (name, expected) in [
        ("gift\u{202E}exe", "campaigns_name_no_invisible_formatting"),
        ("ad\u{200D}min", "campaigns_name_no_invisible_formatting"),
        ("u\u{0308}ber", "campaigns_name_nfc"),
    ] {
        let error = sqlx::query("UPDATE campaigns SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(campaign.id.0)
            .execute(engine.db())
            .await
            .unwrap_err();
        assert_eq!(violated_constraint(&error), Some(expected), "{name:?}");
    }
    let emoji = "coder 👩\u{200D}💻";
    sqlx::query("UPDATE campaigns SET name = $1 WHERE id = $2")
        .bind(emoji)
        .bind(campaign.id.0)
        .execute(engine.db())
        .await
        .expect("an emoji sequence is a fine name");
}

#[tokio::test]
async fn the_database_refuses_new_coupons_of_hidden_or_decomposed_member_ids_but_records_old_ones()
{
    let engine = engine().await;
    let campaign = open_campaign(&engine, 5).await;
    let insert = |user: &'static str, sequence: i64, claimed_at: chrono::DateTime<Utc>| {
        sqlx::query(
            "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(campaign.id.0)
        .bind(user)
        .bind(format!("MANUAL-{sequence}"))
        .bind(sequence)
        .bind(claimed_at)
        .execute(engine.db())
    };
    let after_the_upgrade = Utc::now() + chrono::Duration::days(2);

    for (n, user) in (1..).zip(["member\u{202E}1", "u\u{0308}ser", "ad\u{200D}min"]) {
        let error = insert(user, n, after_the_upgrade).await.unwrap_err();
        assert_eq!(
            violated_constraint(&error),
            Some("issued_coupons_user_id_visible"),
            "{user:?}"
        );
    }
    // Claimed before this release (queued by it, recorded now): recorded as the member was told.
    let before_the_release = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    insert("old\u{200B}member", 10, before_the_release)
        .await
        .expect("a coupon claimed before the rule is recorded");
}

/// Millisecond precision is what Redis stores for the window.
trait MillisPrecision {
    fn with_nanosecond_millis(self) -> Self;
}

impl MillisPrecision for chrono::DateTime<Utc> {
    fn with_nanosecond_millis(self) -> Self {
        chrono::DateTime::from_timestamp_millis(self.timestamp_millis()).unwrap()
    }
}
