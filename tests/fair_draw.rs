//! Fair draws, against real Redis and PostgreSQL: entries before the window, the draw at its
//! start in the published order, commit-reveal checked the way a member would check it.

mod support;

use chrono::{DateTime, Duration, Utc};
use coupon::draw::{DrawListing, DrawProgress, DrawRunner, DrawStanding};
use coupon::redis::CampaignKeys;
use coupon::{Campaign, CampaignDraft, CampaignId, ClaimOutcome, Engine, EngineError, UserId};
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use support::{delete_keys, engine, eventually, open_draft};

/// A fair draw of `quantity` coupons whose entries are open now and whose window (and draw)
/// starts `starts_in` from now.
fn draw_draft(quantity: i64, starts_in: Duration) -> CampaignDraft {
    let now = Utc::now();
    CampaignDraft {
        opening: Some("fair_draw".into()),
        entries_open_at: Some(now - Duration::minutes(1)),
        claim_starts_at: now + starts_in,
        claim_ends_at: now + Duration::days(1),
        ..open_draft(quantity)
    }
}

/// Member `n` of the campaign's test (ids unique per campaign are enough: entries are per
/// campaign).
/// A fair draw of `quantity` coupons starting in `starts_in`, with its published commitment.
async fn draw_campaign(engine: &Engine, quantity: i64, starts_in: Duration) -> (Campaign, String) {
    let campaign = engine
        .create_campaign(&draw_draft(quantity, starts_in))
        .await
        .expect("create");
    let commitment = engine
        .draw_report(campaign.id)
        .await
        .expect("draw report")
        .expect("a draw")
        .draw_commitment;
    (campaign, commitment)
}

fn member(n: usize) -> UserId {
    UserId::parse(&format!("entrant-{n}")).expect("valid member id")
}

/// Members `members` claim at the same moment, one task each; their answers in member order.
async fn claim_together(
    engine: &Engine,
    id: CampaignId,
    members: std::ops::Range<usize>,
) -> Vec<(usize, Result<ClaimOutcome, EngineError>)> {
    let start = Arc::new(tokio::sync::Barrier::new(members.len()));
    let tasks: Vec<_> = members
        .map(|n| {
            let (engine, start) = (engine.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                (n, engine.claim(id, &member(n)).await)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("claim task"));
    }
    answers
}

/// Runs draw steps with `runner` until the draw is completed (the window start included).
async fn draw_with(runner: &DrawRunner, id: CampaignId) {
    eventually("the draw to be completed", || async {
        matches!(
            runner.step(id).await.expect("draw step"),
            DrawProgress::Completed { .. }
        )
    })
    .await;
}

/// Waits until the campaign's window has started by this machine's clock (the draw goes by
/// PostgreSQL's, the same machine's in the tests).
async fn until_started(campaign: &Campaign) {
    let start = campaign.claim_starts_at;
    eventually("the window to start", || async move { Utc::now() >= start }).await;
}

/// What a member can compute from the published secret: HMAC-SHA256(secret, member id).
fn digest_of(secret: &[u8], member: &UserId) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(member.as_str().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The revealed secret, checked against the commitment published before the draw.
async fn revealed_secret(engine: &Engine, id: CampaignId, commitment: &str) -> Vec<u8> {
    let report = engine
        .draw_report(id)
        .await
        .expect("draw report")
        .expect("a draw");
    assert_eq!(
        report.draw_commitment, commitment,
        "the commitment never changes"
    );
    let secret = hex::decode(report.draw_secret.expect("the secret, after the draw")).unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(hex::encode(Sha256::digest(&secret)), commitment);
    secret
}

/// The members in draw order: by digest, ascending bytewise.
fn in_draw_order(secret: &[u8], members: impl Iterator<Item = UserId>) -> Vec<(Vec<u8>, UserId)> {
    let mut ordered: Vec<(Vec<u8>, UserId)> = members
        .map(|member| (digest_of(secret, &member), member))
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    ordered
}

/// The holders the record has, in claim (sequence) order.
async fn holders_in_order(engine: &Engine, id: CampaignId) -> Vec<String> {
    let mut coupons = engine.recorded_coupons(id).await.expect("recorded coupons");
    coupons.sort_by_key(|coupon| coupon.sequence);
    coupons.into_iter().map(|coupon| coupon.user_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_entrants_for_300_coupons_get_them_in_the_published_order() {
    // Arrange: a fair draw of 300 coupons whose window starts in four seconds.
    let engine = engine().await;
    let (campaign, commitment) = draw_campaign(&engine, 300, Duration::seconds(4)).await;
    let id = campaign.id;
    assert_eq!(commitment.len(), 64, "hex SHA-256 published from the start");

    // Act: 2,000 members enter at once; one enters again.
    let entries = claim_together(&engine, id, 0..2000).await;
    let again = engine.claim(id, &member(7)).await.expect("repeated entry");
    let before = engine.draw_listing(id, None, 10).await.unwrap();
    let standing_before = engine.draw_standing(id, &member(7)).await.unwrap();
    until_started(&campaign).await;
    draw_with(&DrawRunner::new(engine.clone()), id).await;

    // Assert: every entry was acknowledged as entered, the repeat too, nothing shown early.
    let entered = ClaimOutcome::Entered {
        draw_at: campaign.claim_starts_at,
    };
    for (n, answer) in &entries {
        assert_eq!(answer.as_ref().ok(), Some(&entered), "member {n}");
    }
    assert_eq!(again, entered);
    assert_eq!(before, DrawListing::NotDone);
    assert!(matches!(
        standing_before,
        Some(DrawStanding::Entered { .. })
    ));

    // Assert: exactly 300 coupons, to the first 300 of the order recomputed from the revealed
    // secret, issued in that order, nobody twice.
    let secret = revealed_secret(&engine, id, &commitment).await;
    let order = in_draw_order(&secret, (0..2000).map(member));
    let winners: Vec<String> = order[..300]
        .iter()
        .map(|(_, member)| member.as_str().to_owned())
        .collect();
    assert_eq!(holders_in_order(&engine, id).await, winners);
    let report = engine.draw_report(id).await.unwrap().unwrap();
    assert_eq!(report.entrants, Some(2000));
    assert_eq!(report.winners, Some(300));
    assert_eq!(report.cutoff, Some(hex::encode(&order[299].0)));

    // Assert: the published list is every entrant's digest in order, page by page.
    let mut published = Vec::new();
    let mut after = None;
    loop {
        let DrawListing::Page(page) = engine.draw_listing(id, after, 700).await.unwrap() else {
            panic!("the draw is completed: its list is public");
        };
        published.extend(page.digests);
        match page.next {
            Some(next) => after = Some(coupon::draw::parse_digest(&next).unwrap()),
            None => break,
        }
    }
    let expected: Vec<String> = order
        .iter()
        .map(|(digest, _)| hex::encode(digest))
        .collect();
    assert_eq!(published, expected);

    // Assert: winners hold their coupon and see their rank; the others are told not drawn,
    // with the digest they can compare to the cutoff, on a claim and on a lookup.
    let (first_digest, first) = &order[0];
    assert_eq!(
        engine.claim(id, first).await.unwrap(),
        ClaimOutcome::AlreadyClaimed
    );
    assert_eq!(
        engine.draw_standing(id, first).await.unwrap(),
        Some(DrawStanding::Drawn {
            digest: hex::encode(first_digest),
            rank: 1
        })
    );
    assert!(engine.coupon_of(id, first).await.unwrap().is_some());
    let (loser_digest, loser) = &order[300];
    let told = engine.claim(id, loser).await.unwrap();
    assert_eq!(
        told,
        ClaimOutcome::NotDrawn {
            digest: hex::encode(loser_digest)
        }
    );
    assert_eq!(
        engine.draw_standing(id, loser).await.unwrap(),
        Some(DrawStanding::NotDrawn {
            digest: hex::encode(loser_digest)
        })
    );
    assert!(engine.coupon_of(id, loser).await.unwrap().is_none());
}

#[tokio::test]
async fn with_fewer_entrants_than_coupons_the_rest_is_first_come_after_the_draw() {
    // Arrange: 10 coupons, 4 entrants.
    let engine = engine().await;
    let (campaign, commitment) = draw_campaign(&engine, 10, Duration::seconds(2)).await;
    let id = campaign.id;
    for answer in claim_together(&engine, id, 0..4).await {
        assert!(matches!(answer.1, Ok(ClaimOutcome::Entered { .. })));
    }

    // Act: the draw, then a member who did not enter claims.
    until_started(&campaign).await;
    draw_with(&DrawRunner::new(engine.clone()), id).await;
    let latecomer = engine.claim(id, &member(99)).await.unwrap();

    // Assert: the 4 entrants first, in the draw's order, then the latecomer, first come.
    let secret = revealed_secret(&engine, id, &commitment).await;
    let mut expected: Vec<String> = in_draw_order(&secret, (0..4).map(member))
        .into_iter()
        .map(|(_, member)| member.as_str().to_owned())
        .collect();
    assert!(matches!(
        latecomer,
        ClaimOutcome::Issued {
            sequence: 5,
            remaining: 5,
            ..
        }
    ));
    expected.push(member(99).as_str().to_owned());
    support::drain(&engine, id).await;
    assert_eq!(holders_in_order(&engine, id).await, expected);
}

#[tokio::test]
async fn a_member_not_drawn_may_claim_what_a_raised_quantity_adds() {
    // Arrange: 2 coupons, 5 entrants, drawn.
    let engine = engine().await;
    let campaign = engine
        .create_campaign(&draw_draft(2, Duration::seconds(2)))
        .await
        .unwrap();
    let id = campaign.id;
    claim_together(&engine, id, 0..5).await;
    until_started(&campaign).await;
    draw_with(&DrawRunner::new(engine.clone()), id).await;
    let mut not_drawn = Vec::new();
    for n in 0..5 {
        let standing = engine.draw_standing(id, &member(n)).await.unwrap();
        if matches!(standing, Some(DrawStanding::NotDrawn { .. })) {
            not_drawn.push(member(n));
        }
    }
    assert_eq!(not_drawn.len(), 3);
    let loser = &not_drawn[0];
    assert!(matches!(
        engine.claim(id, loser).await.unwrap(),
        ClaimOutcome::NotDrawn { .. }
    ));

    // Act: the marketer adds a coupon.
    engine.set_quantity(id, 3).await.unwrap();
    let after_raise = engine.claim(id, loser).await.unwrap();

    // Assert: the first not-drawn member to claim gets it.
    assert!(matches!(
        after_raise,
        ClaimOutcome::Issued { sequence: 3, .. }
    ));
}

#[tokio::test]
async fn a_claim_while_the_draw_runs_is_told_to_try_again_and_nothing_is_shown() {
    // Arrange: one entrant; the window starts, nobody draws yet.
    let engine = engine().await;
    let campaign = engine
        .create_campaign(&draw_draft(5, Duration::seconds(1)))
        .await
        .unwrap();
    let id = campaign.id;
    engine.claim(id, &member(1)).await.unwrap();
    until_started(&campaign).await;

    // Act
    let during = engine.claim(id, &member(2)).await;
    let listing = engine.draw_listing(id, None, 10).await.unwrap();
    draw_with(&DrawRunner::new(engine.clone()), id).await;
    let after = engine.claim(id, &member(2)).await.unwrap();

    // Assert
    assert!(
        matches!(during, Err(EngineError::DrawInProgress(c)) if c == id),
        "{during:?}"
    );
    assert!(during.unwrap_err().is_retryable());
    assert_eq!(listing, DrawListing::NotDone);
    assert!(matches!(after, ClaimOutcome::Issued { sequence: 2, .. }));
}

#[tokio::test]
async fn before_entries_open_a_claim_is_not_open_until_the_entries_open() {
    let engine = engine().await;
    let now = Utc::now();
    let draft = CampaignDraft {
        entries_open_at: Some(now + Duration::hours(1)),
        claim_starts_at: now + Duration::hours(2),
        ..draw_draft(5, Duration::hours(2))
    };
    let campaign = engine.create_campaign(&draft).await.unwrap();

    let answer = engine.claim(campaign.id, &member(1)).await.unwrap();

    let opens_at: DateTime<Utc> = campaign.entries_open_at.expect("entries_open_at");
    assert_eq!(answer, ClaimOutcome::NotOpen { opens_at });
    assert_eq!(
        engine.draw_standing(campaign.id, &member(1)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn two_instances_drawing_at_once_finish_once_with_the_same_result() {
    // Arrange: two engines (two instances) on the same Redis and PostgreSQL; 50 entrants for
    // 20 coupons.
    let first = engine().await;
    let second = engine().await;
    let (campaign, commitment) = draw_campaign(&first, 20, Duration::seconds(2)).await;
    let id = campaign.id;
    claim_together(&first, id, 0..25).await;
    claim_together(&second, id, 25..50).await;
    until_started(&campaign).await;

    // Act: both draw at the same time.
    let (one, two) = (
        DrawRunner::new(first.clone()),
        DrawRunner::new(second.clone()),
    );
    tokio::join!(draw_with(&one, id), draw_with(&two, id));
    let again = one.step(id).await.unwrap();

    // Assert: one result, 20 coupons in the draw's order, and a further step changes nothing.
    let secret = revealed_secret(&second, id, &commitment).await;
    let winners: Vec<String> = in_draw_order(&secret, (0..50).map(member))[..20]
        .iter()
        .map(|(_, member)| member.as_str().to_owned())
        .collect();
    assert_eq!(holders_in_order(&first, id).await, winners);
    assert_eq!(
        again,
        DrawProgress::Completed {
            winners: 20,
            issued: 20
        }
    );
    let report = first.draw_report(id).await.unwrap().unwrap();
    assert_eq!((report.entrants, report.winners), (Some(50), Some(20)));
}

#[tokio::test]
async fn every_acknowledged_entry_takes_part_after_redis_lost_everything() {
    // Arrange: 30 entrants for 10 coupons; then Redis loses the campaign's state (deleting its
    // keys is what a FLUSHALL does to it, without disturbing the other tests' campaigns).
    let engine = engine().await;
    let (campaign, commitment) = draw_campaign(&engine, 10, Duration::seconds(2)).await;
    let id = campaign.id;
    for (n, answer) in claim_together(&engine, id, 0..30).await {
        assert!(
            matches!(answer, Ok(ClaimOutcome::Entered { .. })),
            "member {n}"
        );
    }
    delete_keys(&engine, &CampaignKeys::new(id).all()).await;

    // Act
    until_started(&campaign).await;
    draw_with(&DrawRunner::new(engine.clone()), id).await;

    // Assert: all 30 took part; the 10 first of the order hold the coupons, in order.
    let report = engine.draw_report(id).await.unwrap().unwrap();
    assert_eq!(report.entrants, Some(30));
    let secret = revealed_secret(&engine, id, &commitment).await;
    let winners: Vec<String> = in_draw_order(&secret, (0..30).map(member))[..10]
        .iter()
        .map(|(_, member)| member.as_str().to_owned())
        .collect();
    assert_eq!(holders_in_order(&engine, id).await, winners);
}

#[tokio::test]
async fn a_bad_opening_is_refused_by_field_and_writes_nothing() {
    let engine = engine().await;
    let now = Utc::now();
    let start = now + Duration::hours(1);
    let base = CampaignDraft {
        claim_starts_at: start,
        ..open_draft(5)
    };
    let cases = [
        (
            "opening",
            CampaignDraft {
                opening: Some("lottery".into()),
                ..base.clone()
            },
        ),
        (
            "entries_open_at",
            CampaignDraft {
                opening: Some("fair_draw".into()),
                entries_open_at: None,
                ..base.clone()
            },
        ),
        (
            "entries_open_at",
            CampaignDraft {
                opening: Some("fair_draw".into()),
                entries_open_at: Some(start),
                ..base.clone()
            },
        ),
        (
            "entries_open_at",
            CampaignDraft {
                opening: Some("fair_draw".into()),
                entries_open_at: Some(start + Duration::minutes(1)),
                ..base.clone()
            },
        ),
    ];
    for (field, draft) in cases {
        let refused = engine.create_campaign(&draft).await;
        let Err(EngineError::Invalid(errors)) = refused else {
            panic!("{field}: expected a refusal, got {refused:?}");
        };
        assert!(errors.for_field(field).is_some(), "{field}: {errors}");
        let written: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns WHERE name = $1")
            .bind(&draft.name)
            .fetch_one(engine.db())
            .await
            .unwrap();
        assert_eq!(written, 0, "{field}: nothing written");
    }
}
