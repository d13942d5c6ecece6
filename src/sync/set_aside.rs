//! Queue entries PostgreSQL refuses to record, moved out of the way: `set_aside_coupons`.
//!
//! A row PostgreSQL refuses for what it holds (a check, a value it cannot store: see
//! [`Refusal`]) is refused again on every retry, and a batch is recorded whole or not at all, so
//! one such entry used to stop its campaign's sync for good. Once a batch fails that way, the
//! drainer reads it again and records it in halves, and halves of halves, until each refused
//! entry stands alone; those go to `set_aside_coupons` with PostgreSQL's reason, in the same
//! transaction as the rows it took. So an entry leaves the queue only once it is recorded one
//! way or the other, and the rest of the campaign keeps syncing.

use super::drainer::{Batch, CommittedBatch, Drainer};
use super::queued_coupon::QueuedCoupon;
use crate::campaign::CampaignId;
use crate::error::EngineError;
use crate::metrics;
use crate::store::coupons::{self, Refusal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};

/// Most entries one batch may set aside. A batch refused beyond this is the table refusing
/// everything (a migration gone wrong), not a few bad rows: its step fails and is retried, and
/// nothing is set aside. Also bounds the statements a refused batch costs.
const MOST_SET_ASIDE_PER_BATCH: usize = 16;

/// Whether a failed step met PostgreSQL refusing a row (rather than failing to take it now).
pub(super) fn refuses_a_row(error: &EngineError) -> bool {
    matches!(error, EngineError::Database(error) if Refusal::of(error).is_some())
}

/// A coupon the sync set aside, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SetAsideCoupon {
    /// The queue entry as claim.lua wrote it.
    pub entry: String,
    /// The member and number the sync tried to record.
    pub user_id: String,
    pub sequence: i64,
    pub code: String,
    /// PostgreSQL's message.
    pub reason: String,
    /// PostgreSQL's SQLSTATE, e.g. `23514`.
    pub sqlstate: String,
    pub set_aside_at: DateTime<Utc>,
}

/// The coupons of `campaign` the sync set aside, oldest first, at most `limit`.
pub async fn set_aside_coupons(
    db: &PgPool,
    campaign: CampaignId,
    limit: i64,
) -> Result<Vec<SetAsideCoupon>, sqlx::Error> {
    sqlx::query_as(
        "SELECT entry, user_id, sequence, code, reason, sqlstate, set_aside_at \
         FROM set_aside_coupons WHERE campaign_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(campaign.0)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many coupons of `campaign` the sync set aside for each reason, the most frequent first
/// (at most ten reasons): what the campaign's admin page shows.
pub async fn set_aside_reasons(
    db: &PgPool,
    campaign: CampaignId,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT reason, count(*) FROM set_aside_coupons WHERE campaign_id = $1 \
         GROUP BY reason ORDER BY count(*) DESC, reason LIMIT 10",
    )
    .bind(campaign.0)
    .fetch_all(db)
    .await
}

impl Drainer {
    /// Step 2 for a batch PostgreSQL refused a row of: records it in one transaction, in parts
    /// small enough to leave each refused entry on its own, and sets those aside (see the
    /// module). Fails as [`Drainer::commit`] does for anything but a refusal, and when more than
    /// `MOST_SET_ASIDE_PER_BATCH` entries are refused.
    pub async fn commit_setting_aside(
        &self,
        mut batch: Batch,
    ) -> Result<CommittedBatch, EngineError> {
        let campaign = batch.campaign;
        // A constraint checked only at commit would fail the whole transaction again;
        // checked at each statement's end, it names the part holding its row.
        sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
            .execute(&mut *batch.tx)
            .await?;
        let rows = self.engine.sync_settings().rows_per_statement.max(1);
        let sorted = insert_or_set_aside(&mut batch.tx, campaign, &batch.coupons, rows).await?;
        for (index, refusal) in &sorted.refused {
            let coupon = &batch.coupons[*index];
            let entry = batch
                .entries
                .get(*index)
                .cloned()
                .unwrap_or_else(|| described(coupon));
            record(&mut batch.tx, campaign, &entry, coupon, refusal).await?;
        }
        batch.tx.commit().await?;
        for (index, refusal) in &sorted.refused {
            let coupon = &batch.coupons[*index];
            tracing::error!(
                %campaign,
                user = %coupon.user_id,
                sequence = coupon.sequence,
                sqlstate = %refusal.sqlstate,
                reason = %refusal.reason,
                "PostgreSQL refused a queued coupon: set aside"
            );
            metrics::set_aside(refusal.class());
        }
        // Set-aside numbers count as handed out: a state behind them is behind the record.
        let highest_sequence = batch.coupons.iter().map(|c| c.sequence).max().unwrap_or(0);
        Ok(CommittedBatch {
            campaign,
            entries: batch.coupons.len(),
            inserted: sorted.inserted,
            more_pending: batch.more_pending,
            waiting: batch.waiting,
            renumbered: batch.renumbered,
            highest_sequence,
            set_aside: sorted.refused.len(),
            head: batch.head,
        })
    }
}

/// What recording a batch part by part did.
struct Sorted {
    /// Rows inserted.
    inserted: u64,
    /// The positions of the coupons PostgreSQL refused, each with its refusal, in batch order.
    refused: Vec<(usize, Refusal)>,
}

/// Inserts `batch` through [`coupons::insert_batch`], each part under a savepoint of its own:
/// a part PostgreSQL refuses is undone alone and tried again as two halves, down to single
/// entries, which are the refused ones. One refused entry among `n` costs about 2·log₂(n)
/// statements more than the batch alone.
async fn insert_or_set_aside(
    db: &mut PgConnection,
    campaign: CampaignId,
    batch: &[QueuedCoupon],
    rows_per_statement: usize,
) -> Result<Sorted, EngineError> {
    let mut sorted = Sorted {
        inserted: 0,
        refused: Vec::new(),
    };
    // Parts still to insert, the next one last: the batch goes in in its order.
    let mut parts = Vec::new();
    parts.push(0..batch.len());
    while let Some(part) = parts.pop() {
        let mut attempt = db.begin().await?;
        let error = match coupons::insert_batch(
            &mut attempt,
            campaign,
            &batch[part.clone()],
            rows_per_statement,
        )
        .await
        {
            Ok(inserted) => {
                attempt.commit().await?;
                sorted.inserted += inserted;
                continue;
            }
            Err(error) => error,
        };
        let Some(refusal) = Refusal::of(&error) else {
            return Err(error.into());
        };
        attempt.rollback().await?;
        if part.len() > 1 {
            let middle = part.start + part.len() / 2;
            parts.push(middle..part.end);
            parts.push(part.start..middle);
            continue;
        }
        sorted.refused.push((part.start, refusal));
        if sorted.refused.len() > MOST_SET_ASIDE_PER_BATCH {
            tracing::warn!(
                %campaign,
                "PostgreSQL refuses more than {MOST_SET_ASIDE_PER_BATCH} entries of one batch: \
                 none set aside, the step fails"
            );
            return Err(error.into());
        }
    }
    Ok(sorted)
}

/// Records one refused entry (once: a replayed batch finds it recorded).
async fn record(
    db: &mut PgConnection,
    campaign: CampaignId,
    entry: &str,
    coupon: &QueuedCoupon,
    refusal: &Refusal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO set_aside_coupons \
             (campaign_id, entry, user_id, sequence, code, reason, sqlstate) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT ON CONSTRAINT set_aside_coupons_once DO NOTHING",
    )
    .bind(campaign.0)
    .bind(storable(entry))
    .bind(storable(&coupon.user_id))
    .bind(coupon.sequence)
    .bind(storable(&coupon.code))
    .bind(storable(&refusal.reason))
    .bind(&refusal.sqlstate)
    .execute(db)
    .await?;
    Ok(())
}

/// Text PostgreSQL can hold: a NUL character, which it refuses in any text (and which could be
/// what got the row refused), is spelled `\0`.
fn storable(text: &str) -> String {
    text.replace('\0', "\\0")
}

/// A coupon's fields, tab-separated like a queue entry, for one without its entry (a batch
/// changed by its caller).
fn described(coupon: &QueuedCoupon) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        coupon.sequence,
        coupon.claimed_at.timestamp_millis(),
        coupon.code,
        coupon.user_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_character_is_stored_spelled_out() {
        assert_eq!(storable("user\0x"), "user\\0x");
        assert_eq!(storable("회원 42"), "회원 42");
    }
}
