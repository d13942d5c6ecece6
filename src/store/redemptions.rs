//! A coupon's redemption state (columns of its `issued_coupons` row) and its history
//! (`coupon_events`). Every change is one statement: a conditional `UPDATE` whose row lock orders
//! concurrent attempts (the loser's condition no longer matches once the winner commits), with
//! the history row written by the same statement.

use crate::campaign::CampaignId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// A recorded coupon with its redemption columns and the campaign's terms for using it (never
/// changed once the campaign exists), in one read, with PostgreSQL's clock (the one every hold
/// and expiry is judged by).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CouponRow {
    pub campaign_id: i64,
    pub sequence: i64,
    pub user_id: String,
    pub code: String,
    pub claimed_at: DateTime<Utc>,
    pub order_id: Option<String>,
    pub order_amount: Option<i64>,
    pub discount: Option<i64>,
    pub held_until: Option<DateTime<Utc>>,
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The orders that gave this coupon back: none of them may take it again.
    pub released_orders: Vec<String>,
    pub now: DateTime<Utc>,
    pub discount_kind: String,
    pub discount_amount: i64,
    pub valid_days: i32,
    pub min_order_amount: Option<i64>,
    pub max_discount_amount: Option<i64>,
}

/// A [`CouponRow`] from `issued_coupons i` and `campaigns c`.
const SELECTED: &str = "SELECT i.campaign_id, i.sequence, i.user_id, i.code, i.claimed_at, \
     i.order_id, i.order_amount, i.discount, i.held_until, i.redeemed_at, i.released_orders, \
     now() AS now, \
     c.discount_kind, c.discount_amount, c.valid_days, c.min_order_amount, c.max_discount_amount";

/// Coupons with their campaigns.
const FROM_COUPONS: &str = "FROM issued_coupons i JOIN campaigns c ON c.id = i.campaign_id";

/// The coupon numbered `sequence` in `campaign`.
pub async fn find(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
) -> Result<Option<CouponRow>, sqlx::Error> {
    let sql = format!("{SELECTED} {FROM_COUPONS} WHERE i.campaign_id = $1 AND i.sequence = $2");
    sqlx::query_as(&sql)
        .bind(campaign.0)
        .bind(sequence)
        .fetch_optional(db)
        .await
}

/// The coupon holding a random code (recorded before codes were derived from the sequence).
pub async fn find_random_code(db: &PgPool, code: &str) -> Result<Option<CouponRow>, sqlx::Error> {
    // The instant is bound as a value (planned for it, not generically) so that PostgreSQL
    // sees the condition implies the partial index's predicate and uses that index.
    let before: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT instant FROM random_codes_recorded_before")
            .fetch_optional(db)
            .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    let sql = format!("{SELECTED} {FROM_COUPONS} WHERE i.code = $1 AND i.synced_at < $2");
    sqlx::query_as(&sql)
        .bind(code)
        .bind(before)
        .persistent(false)
        .fetch_optional(db)
        .await
}

/// What a hold or a redemption writes, and what the row must be for it.
#[derive(Debug, Clone, Copy)]
pub struct OrderTerms<'a> {
    pub order_id: &'a str,
    pub order_amount: i64,
    pub discount: i64,
    /// The coupon's validity: nothing is held or redeemed after `claimed_at` plus this.
    pub valid_days: i32,
    /// The code the checkout named: the row must hold it (a row recorded with a random code
    /// by an older release is not reached by the code derived from its number).
    pub code: &'a str,
    /// The member the checkout says it is for, if it says.
    pub user_id: Option<&'a str>,
}

/// The statement of a hold or a redemption: the conditional `UPDATE` of the coupon's row (not
/// redeemed, `$hold_allows`, not expired: `$6` is the campaign's `valid_days`; holding code `$7`
/// for member `$8` if given; never for an order that released it), the history row of `$kind` written from what it updated, and the
/// updated row's `$returned` column.
macro_rules! taking {
    (set: $set:literal, hold_allows: $hold_allows:literal, returned: $returned:literal,
     kind: $kind:literal) => {
        concat!(
            "WITH taken AS ( \
                UPDATE issued_coupons SET order_id = $3, order_amount = $4, discount = $5, ",
            $set,
            " WHERE campaign_id = $1 AND sequence = $2 AND redeemed_at IS NULL AND ",
            $hold_allows,
            " AND claimed_at + make_interval(days => $6) > now() \
                AND code = $7 AND ($8::text IS NULL OR user_id = $8) \
                AND NOT ($3 = ANY (released_orders)) \
                RETURNING campaign_id, sequence, user_id, order_id, order_amount, discount, ",
            $returned,
            "), logged AS ( \
                INSERT INTO coupon_events \
                    (campaign_id, sequence, kind, user_id, order_id, order_amount, discount) \
                SELECT campaign_id, sequence, '",
            $kind,
            "', user_id, order_id, order_amount, discount FROM taken) \
             SELECT ",
            $returned,
            " FROM taken"
        )
    };
}

/// The statement's `$1`–`$8` for this coupon and order.
fn bind_order<'q, O>(
    query: sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    campaign: CampaignId,
    sequence: i64,
    terms: OrderTerms<'q>,
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(campaign.0)
        .bind(sequence)
        .bind(terms.order_id)
        .bind(terms.order_amount)
        .bind(terms.discount)
        .bind(terms.valid_days)
        .bind(terms.code)
        .bind(terms.user_id)
}

/// Holds the coupon for the order until `hold_seconds` from now (never past the coupon's
/// expiry), if it is not redeemed, not held by a live hold and not expired; the hold's end.
pub async fn hold(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
    terms: OrderTerms<'_>,
    hold_seconds: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let statement = sqlx::query_scalar(taking!(
        set: "held_until = least(now() + make_interval(secs => $9), \
                                 claimed_at + make_interval(days => $6)), redeemed_at = NULL",
        hold_allows: "(held_until IS NULL OR held_until <= now())",
        returned: "held_until",
        kind: "held"
    ));
    bind_order(statement, campaign, sequence, terms)
        .bind(hold_seconds as f64)
        .fetch_optional(db)
        .await
}

/// Redeems the coupon for the order, if it is not redeemed, not held for another order by a
/// live hold, and not expired; when it was redeemed.
pub async fn redeem(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
    terms: OrderTerms<'_>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let statement = sqlx::query_scalar(taking!(
        set: "held_until = NULL, redeemed_at = now()",
        hold_allows: "(held_until IS NULL OR held_until <= now() OR order_id = $3)",
        returned: "redeemed_at",
        kind: "redeemed"
    ));
    bind_order(statement, campaign, sequence, terms)
        .fetch_optional(db)
        .await
}

/// Gives the coupon back from the order (held or redeemed, the hold live or not); whether it
/// was the order's to give back.
pub async fn release(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
    order_id: &str,
) -> Result<bool, sqlx::Error> {
    let released: Option<i64> = sqlx::query_scalar(
        "WITH before AS ( \
            SELECT campaign_id, sequence, order_amount, discount FROM issued_coupons \
            WHERE campaign_id = $1 AND sequence = $2 AND order_id = $3 FOR UPDATE), \
         freed AS ( \
            UPDATE issued_coupons i SET order_id = NULL, order_amount = NULL, discount = NULL, \
                held_until = NULL, redeemed_at = NULL \
            FROM before b WHERE i.campaign_id = b.campaign_id AND i.sequence = b.sequence \
            RETURNING i.campaign_id, i.sequence, i.user_id, b.order_amount, b.discount), \
         logged AS ( \
            INSERT INTO coupon_events \
                (campaign_id, sequence, kind, user_id, order_id, order_amount, discount) \
            SELECT campaign_id, sequence, 'released', user_id, $3, order_amount, discount \
            FROM freed) \
         SELECT sequence FROM freed",
    )
    .bind(campaign.0)
    .bind(sequence)
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    Ok(released.is_some())
}

/// Whether the order released this coupon before (a repeated release answers as the first).
pub async fn was_released_by(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
    order_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM coupon_events WHERE campaign_id = $1 AND sequence = $2 \
         AND kind = 'released' AND order_id = $3)",
    )
    .bind(campaign.0)
    .bind(sequence)
    .bind(order_id)
    .fetch_one(db)
    .await
}

/// One entry of a coupon's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CouponEvent {
    /// `held`, `redeemed` or `released`.
    pub kind: String,
    /// The coupon's holder.
    pub user_id: String,
    pub order_id: String,
    pub order_amount: Option<i64>,
    pub discount: Option<i64>,
    pub at: DateTime<Utc>,
}

/// A coupon's history, oldest first.
pub async fn history(
    db: &PgPool,
    campaign: CampaignId,
    sequence: i64,
) -> Result<Vec<CouponEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, user_id, order_id, order_amount, discount, at FROM coupon_events \
         WHERE campaign_id = $1 AND sequence = $2 ORDER BY id",
    )
    .bind(campaign.0)
    .bind(sequence)
    .fetch_all(db)
    .await
}

/// Records a coupon a checkout asks about before the sync did, from its queue entry, as a sync
/// batch of one (under the campaign's row `FOR SHARE`, so a rebuild of the Redis state waits
/// for it and counts it, and through the sync's own insert, so a conflict is handled as the
/// sync handles it); the sync later finds it recorded and skips it.
///
/// Two cases are left to the sync: a number the record holds for another member (the sync
/// gives the coupon a new one; the code asked about stays with the member the record gave it
/// to), and a row PostgreSQL refuses (the sync sets its entry aside with the reason). Either
/// way nothing is recorded here and the checkout finds no coupon under the code. Nor is an
/// entry read from a state the record was not last verified on: `verified` is the version the
/// state carried when the entry was read (lookup.lua), which must be the record's
/// (src/reconcile/verifications.rs).
pub async fn record_queued(
    db: &PgPool,
    campaign: CampaignId,
    coupon: &crate::sync::QueuedCoupon,
    verified: i64,
) -> Result<(), sqlx::Error> {
    use super::coupons::{self, Refusal};
    let mut tx = db.begin().await?;
    let exists = super::campaigns::find_locked(&mut tx, campaign, super::campaigns::RowLock::Share)
        .await?
        .is_some();
    let batch = std::slice::from_ref(coupon);
    if !exists {
        return tx.commit().await;
    }
    // Read from a state the record was not last verified on (a primary deposed since, still
    // reached by this instance): recorded, it could be missing from the state verified after
    // it, which would issue to its member again. Left alone; the checkout finds no coupon.
    let latest = crate::reconcile::verifications::latest(&mut tx, campaign).await?;
    if latest != verified {
        tracing::warn!(
            %campaign,
            user = %coupon.user_id,
            sequence = coupon.sequence,
            read = verified,
            latest,
            "a checkout found a queued coupon in a Redis state the record was not last verified \
             on: not recorded"
        );
        return tx.commit().await;
    }
    let numbered_for_another = coupons::numbered_for_others(&mut tx, campaign, batch).await?;
    if !numbered_for_another.is_empty() {
        return tx.commit().await;
    }
    match coupons::insert_batch(&mut tx, campaign, batch, 1).await {
        Ok(_) => tx.commit().await,
        // Rolled back with the transaction, dropped here.
        Err(error) => match Refusal::of(&error) {
            Some(refusal) => {
                tracing::warn!(
                    %campaign,
                    user = %coupon.user_id,
                    sequence = coupon.sequence,
                    reason = %refusal.reason,
                    "PostgreSQL refuses a queued coupon a checkout asked about; left to the sync"
                );
                Ok(())
            }
            None => Err(error),
        },
    }
}

/// The coupons a member holds, newest campaign first, at most `limit`: one descent of each
/// campaign's primary key (no index on the member alone, which the sync would have to keep).
pub async fn of_member(
    db: &PgPool,
    user_id: &str,
    limit: i64,
) -> Result<Vec<CouponRow>, sqlx::Error> {
    let sql = format!(
        "{SELECTED} FROM campaigns c JOIN LATERAL ( \
             SELECT * FROM issued_coupons WHERE campaign_id = c.id AND user_id = $1) i ON true \
         ORDER BY c.id DESC LIMIT $2"
    );
    sqlx::query_as(&sql)
        .bind(user_id)
        .bind(limit)
        .fetch_all(db)
        .await
}
