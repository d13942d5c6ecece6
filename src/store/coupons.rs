//! The `issued_coupons` table.

use crate::campaign::CampaignId;
use crate::sync::QueuedCoupon;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};
use std::collections::HashMap;

/// A coupon as recorded in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct IssuedCoupon {
    /// The campaign it came from.
    pub campaign_id: i64,
    /// Who got it.
    pub user_id: String,
    /// What they show at checkout.
    pub code: String,
    /// Order of the claim within the campaign.
    pub sequence: i64,
    /// When Redis accepted the claim.
    pub claimed_at: DateTime<Utc>,
    /// When the sync wrote this row.
    pub synced_at: DateTime<Utc>,
    /// When it was used at checkout, if it is redeemed.
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// Inserts one batch (the caller commits), at most `rows_per_statement` rows per statement;
/// returns the rows actually inserted. The one way coupons enter `issued_coupons`: the sync's
/// batches and a checkout recording a coupon ahead of the sync
/// ([`super::redemptions::record_queued`]) both go through it, so a conflict means the same
/// thing whoever meets it.
///
/// A batch is normally new to PostgreSQL, so it goes in with plain `INSERT`s: every unique
/// index is checked the ordinary way, without the extra speculative-insertion work of
/// `ON CONFLICT` on each row (a large share of the sync's cost per row: docs/benchmark.md).
/// Only when one of them clashes with rows already recorded, which is what a repeated batch
/// does (after a crash between this commit and the queue trim), is the whole batch inserted
/// again with `ON CONFLICT (campaign_id, user_id) DO NOTHING`, so the rows already recorded are
/// skipped. A clash that second attempt does not absorb (on the sequence of a different user)
/// means a real bug and fails loudly.
///
/// Why several statements: one statement keeps a PostgreSQL backend busy for its whole length
/// (mostly unique-index upkeep). Where the database shares cores with the claim path, a
/// thousand-row statement held a core for milliseconds at a time and claims waited behind it.
/// Statements of a hundred rows, in the same transaction, lowered the claim path's p99 under
/// full load (docs/benchmark.md); a sync that has fallen behind writes whole batches instead
/// ([`crate::SyncSettings::statement_rows`]).
pub async fn insert_batch(
    tx: &mut PgConnection,
    campaign: CampaignId,
    batch: &[QueuedCoupon],
    rows_per_statement: usize,
) -> Result<u64, sqlx::Error> {
    let statements: Vec<BatchColumns<'_>> = batch
        .chunks(rows_per_statement.max(1))
        .map(BatchColumns::of)
        .collect();
    // A savepoint, so a clash undoes only the first attempt, not the caller's transaction.
    let mut attempt = tx.begin().await?;
    match insert_all(&mut attempt, campaign, &statements, Recorded::Refuse).await {
        Ok(inserted) => {
            attempt.commit().await?;
            Ok(inserted)
        }
        Err(error) if is_unique_violation(&error) => {
            attempt.rollback().await?;
            insert_all(tx, campaign, &statements, Recorded::Skip).await
        }
        Err(error) => Err(error),
    }
}

/// Runs the statements in order; the rows they inserted.
async fn insert_all(
    db: &mut PgConnection,
    campaign: CampaignId,
    statements: &[BatchColumns<'_>],
    recorded: Recorded,
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for columns in statements {
        inserted += columns.insert(db, campaign, recorded).await?;
    }
    Ok(inserted)
}

/// What an insert does with a coupon whose member already has a row.
#[derive(Clone, Copy)]
enum Recorded {
    /// Fails the statement (as any other unique clash does).
    Refuse,
    /// Skips the row: it is a replay of what was recorded.
    Skip,
}

impl Recorded {
    fn clause(self) -> &'static str {
        match self {
            Self::Refuse => "",
            Self::Skip => "ON CONFLICT (campaign_id, user_id) DO NOTHING",
        }
    }
}

/// A repeated batch clashes on whichever unique index PostgreSQL checks first.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// PostgreSQL refusing a row for what it holds, as opposed to failing to take it right now.
///
/// A refusal is a data exception (SQLSTATE class 22: a value it cannot store) or an integrity
/// constraint violation (class 23: a check, not-null or foreign-key rule, a trigger raising one)
/// other than a unique violation: sent again, the same row is refused again, so retrying its
/// batch would stop its campaign's sync for good. Everything else is worth retrying: a lost
/// connection, a timeout, a serialization failure or a deadlock pass, and a unique violation
/// is a replay (skipped by the second attempt of [`insert_batch`]) or a number recorded for
/// another member since the drainer last read the record's highest, which the next attempt
/// renumbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The SQLSTATE, e.g. `23514` for a check violation.
    pub sqlstate: String,
    /// PostgreSQL's message, with the constraint it names if the message does not.
    pub reason: String,
}

impl Refusal {
    /// The refusal `error` is, if it is one.
    pub fn of(error: &sqlx::Error) -> Option<Self> {
        let db = error.as_database_error()?;
        let sqlstate = db.code()?.into_owned();
        let refused = sqlstate.starts_with("22")
            || (sqlstate.starts_with("23") && sqlstate != UNIQUE_VIOLATION);
        if !refused {
            return None;
        }
        let message = db.message();
        let reason = match db.constraint() {
            Some(constraint) if !message.contains(constraint) => {
                format!("{message} ({constraint})")
            }
            _ => message.to_owned(),
        };
        Some(Self { sqlstate, reason })
    }

    /// Which kind of rule refused the row: a metric label with a handful of values.
    pub fn class(&self) -> &'static str {
        match self.sqlstate.as_str() {
            "23514" => "check",
            "23502" => "not_null",
            "23503" => "foreign_key",
            "23P01" => "exclusion",
            state if state.starts_with("22") => "data",
            _ => "integrity",
        }
    }
}

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

/// The positions of the coupons of `batch` whose number the record holds for another member.
///
/// Such a coupon comes from a claim Redis answered from a state behind the record: inserted as
/// it is, it would clash on the unique sequence on every attempt. The sync gives it a new number
/// before it inserts the batch; a checkout recording it ahead of the sync leaves it to the sync.
pub async fn numbered_for_others(
    db: &mut PgConnection,
    campaign: CampaignId,
    batch: &[QueuedCoupon],
) -> Result<Vec<usize>, sqlx::Error> {
    let numbers: Vec<i64> = batch.iter().map(|c| c.sequence).collect();
    let holders = holders_of_sequences(db, campaign, &numbers).await?;
    Ok(batch
        .iter()
        .enumerate()
        .filter(|(_, coupon)| {
            holders
                .get(&coupon.sequence)
                .is_some_and(|holder| *holder != coupon.user_id)
        })
        .map(|(i, _)| i)
        .collect())
}

/// A batch as one array per column, the shape `UNNEST` turns back into rows.
struct BatchColumns<'a> {
    users: Vec<&'a str>,
    codes: Vec<&'a str>,
    sequences: Vec<i64>,
    claimed: Vec<DateTime<Utc>>,
}

impl<'a> BatchColumns<'a> {
    fn of(batch: &'a [QueuedCoupon]) -> Self {
        Self {
            users: batch.iter().map(|c| c.user_id.as_str()).collect(),
            codes: batch.iter().map(|c| c.code.as_str()).collect(),
            sequences: batch.iter().map(|c| c.sequence).collect(),
            claimed: batch.iter().map(|c| c.claimed_at).collect(),
        }
    }

    /// One statement for these rows.
    async fn insert(
        &self,
        db: &mut PgConnection,
        campaign: CampaignId,
        recorded: Recorded,
    ) -> Result<u64, sqlx::Error> {
        let on_conflict = recorded.clause();
        let statement = format!(
            "INSERT INTO issued_coupons (campaign_id, user_id, code, sequence, claimed_at) \
             SELECT $1, u, c, s, t \
             FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) AS batch(u, c, s, t) \
             {on_conflict}"
        );
        let result = sqlx::query(&statement)
            .bind(campaign.0)
            .bind(&self.users)
            .bind(&self.codes)
            .bind(&self.sequences)
            .bind(&self.claimed)
            .execute(db)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Number of coupons of a campaign recorded in PostgreSQL.
pub async fn count(db: &PgPool, campaign: CampaignId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM issued_coupons WHERE campaign_id = $1")
        .bind(campaign.0)
        .fetch_one(db)
        .await
}

/// The highest sequence number recorded for the campaign, 0 if none: one descent of the
/// `(campaign_id, sequence)` index.
///
/// Written as `ORDER BY … LIMIT 1` and planned at every execution, because a plan made while
/// the campaign had no rows yet (statistics say "a few rows") read the whole campaign through
/// the primary key instead, which showed as PostgreSQL CPU a claim (docs/benchmark.md).
/// The sync therefore asks only when it does not know (see `Drainer`), and repairs ask once.
pub async fn highest_sequence(
    db: &mut PgConnection,
    campaign: CampaignId,
) -> Result<i64, sqlx::Error> {
    // A number the sync set aside was handed out too: a state below it is behind the record.
    let highest: Option<i64> = sqlx::query_scalar(
        "SELECT greatest( \
             (SELECT sequence FROM issued_coupons WHERE campaign_id = $1 \
              ORDER BY sequence DESC LIMIT 1), \
             (SELECT max(sequence) FROM set_aside_coupons WHERE campaign_id = $1))",
    )
    .bind(campaign.0)
    .persistent(false)
    .fetch_one(db)
    .await?;
    Ok(highest.unwrap_or(0))
}

/// Up to `limit` holders of the campaign numbered after `after_sequence`, in claim order, with
/// their sequence numbers: one page of a rebuild, read along the sequence index so that no page
/// costs more than the first and no rebuild holds every holder in memory at once.
pub async fn holders_after(
    db: &mut PgConnection,
    campaign: CampaignId,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sequence, user_id FROM issued_coupons WHERE campaign_id = $1 AND sequence > $2 \
         ORDER BY sequence LIMIT $3",
    )
    .bind(campaign.0)
    .bind(after_sequence)
    .bind(limit)
    // Planned for its parameters each time, for the reason given at `highest_sequence`.
    .persistent(false)
    .fetch_all(db)
    .await
}

/// The members of the campaign whose queued coupon the sync set aside (PostgreSQL refused its
/// row) and who hold no recorded one, with the number they were told.
pub async fn set_aside_holders(
    db: &mut PgConnection,
    campaign: CampaignId,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (user_id) sequence, user_id FROM set_aside_coupons s \
         WHERE campaign_id = $1 AND NOT EXISTS ( \
             SELECT 1 FROM issued_coupons i \
             WHERE i.campaign_id = s.campaign_id AND i.user_id = s.user_id) \
         ORDER BY user_id, id",
    )
    .bind(campaign.0)
    .fetch_all(db)
    .await
}

/// Who holds each of these sequence numbers of the campaign, for those recorded.
pub async fn holders_of_sequences(
    db: &mut PgConnection,
    campaign: CampaignId,
    sequences: &[i64],
) -> Result<HashMap<i64, String>, sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT sequence, user_id FROM issued_coupons \
         WHERE campaign_id = $1 AND sequence = ANY($2)",
    )
    .bind(campaign.0)
    .bind(sequences)
    .persistent(false)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The columns of an [`IssuedCoupon`], in its field order.
const COLUMNS: &str = "campaign_id, user_id, code, sequence, claimed_at, synced_at, redeemed_at";

/// The coupon a user holds in a campaign, once it reached PostgreSQL.
pub async fn find(
    db: &PgPool,
    campaign: CampaignId,
    user_id: &str,
) -> Result<Option<IssuedCoupon>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM issued_coupons WHERE campaign_id = $1 AND user_id = $2");
    sqlx::query_as(&sql)
        .bind(campaign.0)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Every coupon of a campaign in claim order (for checks; exports read it in pages).
pub async fn all(db: &PgPool, campaign: CampaignId) -> Result<Vec<IssuedCoupon>, sqlx::Error> {
    page_after(db, campaign, 0, i64::MAX).await
}

/// Up to `limit` coupons of a campaign that come after `after_sequence`, in claim order: one page
/// of an export, read along the sequence index so that no page costs more than the first.
pub async fn page_after(
    db: &PgPool,
    campaign: CampaignId,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<IssuedCoupon>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM issued_coupons WHERE campaign_id = $1 AND sequence > $2 \
         ORDER BY sequence LIMIT $3"
    );
    sqlx::query_as(&sql)
        .bind(campaign.0)
        .bind(after_sequence)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// What the record says of a campaign's coupons at checkout, by PostgreSQL's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckoutNumbers {
    /// Redeemed.
    pub redeemed: i64,
    /// Held by a live hold.
    pub held: i64,
    /// Past their validity and never redeemed.
    pub expired: i64,
    /// Won taken off by the redemptions.
    pub discount_granted: i64,
}

/// Coupons recorded, and their checkout numbers, of each of these campaigns that has coupons:
/// one pass over their rows.
pub async fn numbers_of(
    db: &PgPool,
    campaigns: &[CampaignId],
) -> Result<HashMap<CampaignId, (i64, CheckoutNumbers)>, sqlx::Error> {
    let ids: Vec<i64> = campaigns.iter().map(|id| id.0).collect();
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT i.campaign_id, count(*), \
             count(*) FILTER (WHERE i.redeemed_at IS NOT NULL), \
             count(*) FILTER (WHERE i.held_until > now()), \
             count(*) FILTER (WHERE i.redeemed_at IS NULL \
                 AND i.claimed_at + make_interval(days => c.valid_days) <= now()), \
             coalesce(sum(i.discount) FILTER (WHERE i.redeemed_at IS NOT NULL), 0)::bigint \
         FROM issued_coupons i JOIN campaigns c ON c.id = i.campaign_id \
         WHERE i.campaign_id = ANY($1) GROUP BY i.campaign_id",
    )
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, synced, redeemed, held, expired, discount_granted)| {
            let numbers = CheckoutNumbers {
                redeemed,
                held,
                expired,
                discount_granted,
            };
            (CampaignId(id), (synced, numbers))
        })
        .collect())
}

/// A recorded coupon as the marketer's export lists it: with its state at checkout and the
/// order holding or that redeemed it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExportRow {
    pub sequence: i64,
    pub user_id: String,
    pub code: String,
    pub claimed_at: DateTime<Utc>,
    pub synced_at: DateTime<Utc>,
    /// `available`, `held`, `redeemed` or `expired`.
    pub state: String,
    pub order_id: Option<String>,
    pub redeemed_at: Option<DateTime<Utc>>,
}

/// One page of the export, as [`page_after`] reads it.
pub async fn export_page_after(
    db: &PgPool,
    campaign: CampaignId,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.sequence, i.user_id, i.code, i.claimed_at, i.synced_at, \
             CASE WHEN i.redeemed_at IS NOT NULL THEN 'redeemed' \
                  WHEN i.held_until > now() THEN 'held' \
                  WHEN i.claimed_at + make_interval(days => c.valid_days) <= now() THEN 'expired' \
                  ELSE 'available' END AS state, \
             CASE WHEN i.redeemed_at IS NOT NULL OR i.held_until > now() THEN i.order_id END \
                 AS order_id, \
             i.redeemed_at \
         FROM issued_coupons i JOIN campaigns c ON c.id = i.campaign_id \
         WHERE i.campaign_id = $1 AND i.sequence > $2 ORDER BY i.sequence LIMIT $3",
    )
    .bind(campaign.0)
    .bind(after_sequence)
    .bind(limit)
    .fetch_all(db)
    .await
}
