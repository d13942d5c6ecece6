//! A fair draw's fairness report (issue 29, item 6), against real Redis and PostgreSQL: a small
//! draw, then the report's numbers checked against the record, recomputed here without the
//! engine's code.

mod support;

use chrono::{DateTime, Duration, Utc};
use coupon::draw::{
    DrawProgress, DrawRunner, FairnessListing, FairnessReport, RefusalReason, TIME_BUCKETS,
    ks_fair_bound,
};
use coupon::{Campaign, CampaignDraft, CampaignId, ClaimOutcome, Engine, UserId};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use support::{engine, eventually, open_campaign, open_draft};

/// A fair draw of `quantity` coupons whose entries opened a second ago and whose window (and
/// draw) starts in four seconds: a short entry window (five seconds, slices of 250 ms), so
/// entries a few hundred milliseconds apart fall in different slices of the histogram.
fn short_draw(quantity: i64) -> CampaignDraft {
    let now = Utc::now();
    CampaignDraft {
        opening: Some("fair_draw".into()),
        entries_open_at: Some(now - Duration::seconds(1)),
        claim_starts_at: now + Duration::seconds(4),
        claim_ends_at: now + Duration::days(1),
        ..open_draft(quantity)
    }
}

fn member(n: usize) -> UserId {
    UserId::parse(&format!("entrant-{n}")).expect("valid member id")
}

/// Members `members` enter at the same moment; every one must be entered.
async fn enter_together(engine: &Engine, id: CampaignId, members: std::ops::Range<usize>) {
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
    for task in tasks {
        let (n, answer) = task.await.expect("entry task");
        assert!(
            matches!(answer, Ok(ClaimOutcome::Entered { .. })),
            "member {n}: {answer:?}"
        );
    }
}

/// Waits for the window's start, then draws until the draw is completed.
async fn draw(engine: &Engine, campaign: &Campaign) {
    let start = campaign.claim_starts_at;
    eventually("the window to start", || async move { Utc::now() >= start }).await;
    let runner = DrawRunner::new(engine.clone());
    let id = campaign.id;
    eventually("the draw to be completed", || async {
        matches!(
            runner.step(id).await.expect("draw step"),
            DrawProgress::Completed { .. }
        )
    })
    .await;
}

async fn report_of(engine: &Engine, id: CampaignId) -> FairnessReport {
    match engine.fairness_report(id).await.expect("fairness report") {
        FairnessListing::Report(report) => *report,
        other => panic!("the draw is completed: expected its report, got {other:?}"),
    }
}

/// Every entry's time and whether it was drawn, as the record has them.
async fn recorded_entries(engine: &Engine, id: CampaignId) -> Vec<(DateTime<Utc>, bool)> {
    sqlx::query_as(
        "SELECT entered_at, drawn_rank IS NOT NULL FROM draw_entries WHERE campaign_id = $1",
    )
    .bind(id.0)
    .fetch_all(engine.db())
    .await
    .expect("entries")
}

/// `sup_t |F_drawn(t) − F_all(t)|` the slow way: at every entry's time, count again.
fn distance_by_hand(entries: &[(DateTime<Utc>, bool)]) -> f64 {
    let all = entries.len() as f64;
    let drawn = entries.iter().filter(|(_, won)| *won).count() as f64;
    entries
        .iter()
        .map(|(at, _)| {
            let all_by_then = entries.iter().filter(|(t, _)| t <= at).count() as f64;
            let drawn_by_then = entries.iter().filter(|(t, won)| *won && t <= at).count() as f64;
            (drawn_by_then / drawn - all_by_then / all).abs()
        })
        .fold(0.0, f64::max)
}

/// Waits until PostgreSQL's clock is well past the latest recorded entry, so the next wave of
/// entries has entry times of its own.
async fn until_the_last_wave_is_past(engine: &Engine, id: CampaignId) {
    eventually("the last wave of entries to be 300 ms old", || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT coalesce(now() - max(entered_at) > interval '300 milliseconds', true) \
             FROM draw_entries WHERE campaign_id = $1",
        )
        .bind(id.0)
        .fetch_one(engine.db())
        .await
        .unwrap_or(false)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_report_of_a_small_draw_agrees_with_the_record() {
    // Arrange: 40 members enter a draw of 10 coupons in three waves 400 ms apart; three
    // attempts to enter are refused by a rate limit (as the web layer reports them), and one
    // attempt at a first-come campaign, which is no entry.
    let engine = engine().await;
    let campaign = engine
        .create_campaign(&short_draw(10))
        .await
        .expect("create");
    let id = campaign.id;
    let first_come = open_campaign(&engine, 5).await;
    let before_entries = engine.fairness_report(id).await.unwrap();
    enter_together(&engine, id, 0..15).await;
    for _ in 0..3 {
        engine.note_refused_entry(id, RefusalReason::RateLimited);
    }
    engine.note_refused_entry(first_come.id, RefusalReason::RateLimited);
    engine
        .write_refused_entries()
        .await
        .expect("refusals written");
    until_the_last_wave_is_past(&engine, id).await;
    enter_together(&engine, id, 15..30).await;
    until_the_last_wave_is_past(&engine, id).await;
    enter_together(&engine, id, 30..40).await;
    let before_draw = engine.fairness_report(id).await.unwrap();

    // Act
    draw(&engine, &campaign).await;
    let report = report_of(&engine, id).await;

    // Assert: nothing before the draw is completed, nothing for a first-come campaign.
    assert_eq!(before_entries, FairnessListing::NotDone);
    assert_eq!(before_draw, FairnessListing::NotDone);
    assert_eq!(
        engine.fairness_report(first_come.id).await.unwrap(),
        FairnessListing::NoDraw
    );

    // Assert: the counts, the commitment, the secret and the cutoff are the published draw's,
    // and the secret is the one committed to.
    let published = engine.draw_report(id).await.unwrap().expect("a draw");
    assert_eq!(published.entrants, Some(40));
    assert_eq!(published.winners, Some(10));
    assert_eq!(
        (report.entrants, report.drawn, report.not_drawn),
        (40, 10, 30)
    );
    assert_eq!(report.commitment, published.draw_commitment);
    assert_eq!(Some(&report.secret), published.draw_secret.as_ref());
    assert_eq!(report.cutoff, published.cutoff);
    let secret = hex::decode(&report.secret).expect("hex secret");
    assert_eq!(hex::encode(Sha256::digest(&secret)), report.commitment);
    assert_eq!(report.entries_open_at, campaign.entries_open_at.unwrap());
    assert_eq!(report.draw_at, campaign.claim_starts_at);
    assert!(report.drawn_at.is_some());

    // Assert: the distance is the one recomputed from the record's entry times.
    let entries = recorded_entries(&engine, id).await;
    assert_eq!(entries.len(), 40);
    assert_eq!(entries.iter().filter(|(_, won)| *won).count(), 10);
    let distance = report.entry_times.ks_distance.expect("a distance");
    let expected = distance_by_hand(&entries);
    assert!(
        (distance - expected).abs() < 1e-12,
        "report {distance}, by hand {expected}"
    );
    assert_eq!(report.entry_times.ks_fair_bound, ks_fair_bound(40, 10));

    // Assert: the histogram slices the entry window, and each slice holds the entries whose
    // times fall in it.
    let buckets = &report.entry_times.buckets;
    assert_eq!(buckets.len(), TIME_BUCKETS);
    assert_eq!(buckets[0].from, report.entries_open_at);
    assert_eq!(buckets[TIME_BUCKETS - 1].to, report.draw_at);
    for (slice, bucket) in buckets.iter().enumerate() {
        let last = slice == TIME_BUCKETS - 1;
        let inside: Vec<bool> = entries
            .iter()
            .filter(|(at, _)| bucket.from <= *at && (last || *at < bucket.to))
            .map(|(_, won)| *won)
            .collect();
        let drawn = inside.iter().filter(|won| **won).count() as i64;
        assert_eq!(
            (bucket.entrants, bucket.drawn),
            (inside.len() as i64, drawn),
            "slice {slice}"
        );
    }
    let occupied = buckets.iter().filter(|bucket| bucket.entrants > 0).count();
    assert!(occupied >= 2, "three waves 400 ms apart: {buckets:?}");

    // Assert: the refusals of the draw, none written for the first-come campaign, no bot check.
    assert_eq!(report.refused.rate_limited, 3);
    assert_eq!(report.refused.bot_check, 0);
    assert!(!report.refused.bot_check_enabled);
    let first_come_refusals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM draw_refusals WHERE campaign_id = $1")
            .bind(first_come.id.0)
            .fetch_one(engine.db())
            .await
            .unwrap();
    assert_eq!(first_come_refusals, 0);
}

#[tokio::test]
async fn winners_who_all_entered_first_are_at_the_distance_computed_by_hand() {
    // Arrange: 40 entrants for 10 coupons, drawn; then the record is made to say that the 10
    // winners entered 100 ms after the entries opened and everyone else 100 ms before the draw.
    let engine = engine().await;
    let campaign = engine.create_campaign(&short_draw(10)).await.unwrap();
    let id = campaign.id;
    enter_together(&engine, id, 0..40).await;
    draw(&engine, &campaign).await;
    let opened = campaign.entries_open_at.unwrap();
    sqlx::query(
        "UPDATE draw_entries SET entered_at = CASE WHEN drawn_rank IS NOT NULL \
           THEN $2::timestamptz ELSE $3::timestamptz END \
         WHERE campaign_id = $1",
    )
    .bind(id.0)
    .bind(opened + Duration::milliseconds(100))
    .bind(campaign.claim_starts_at - Duration::milliseconds(100))
    .execute(engine.db())
    .await
    .unwrap();

    // Act: an engine that has not read this draw's entries before (each instance keeps the
    // distribution it computed).
    let report = report_of(&support::engine().await, id).await;

    // Assert: after the first instant every winner has entered and a quarter of everyone:
    // D = 1 − 10/40.
    assert_eq!(report.entry_times.ks_distance, Some(0.75));
    let buckets = &report.entry_times.buckets;
    assert_eq!((buckets[0].entrants, buckets[0].drawn), (10, 10));
    assert_eq!(
        (
            buckets[TIME_BUCKETS - 1].entrants,
            buckets[TIME_BUCKETS - 1].drawn
        ),
        (30, 0)
    );
    let between: i64 = buckets[1..TIME_BUCKETS - 1]
        .iter()
        .map(|bucket| bucket.entrants)
        .sum();
    assert_eq!(between, 0);
}
