//! The `campaigns` table.

use crate::campaign::{
    Campaign, CampaignId, CampaignStatus, Discount, DiscountKind, NewCampaign, OpeningKind,
    OrderRules,
};
use crate::reconcile::fence::ControlVersion;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: i64,
    name: String,
    discount_kind: String,
    discount_amount: i64,
    quantity: i64,
    claim_starts_at: DateTime<Utc>,
    claim_ends_at: DateTime<Utc>,
    valid_days: i32,
    status: String,
    created_at: DateTime<Utc>,
    min_order_amount: Option<i64>,
    max_discount_amount: Option<i64>,
    opening: String,
    entries_open_at: Option<DateTime<Utc>>,
    bot_check_bits: i16,
}

const COLUMNS: &str = "id, name, discount_kind, discount_amount, quantity, claim_starts_at, \
     claim_ends_at, valid_days, status, created_at, min_order_amount, max_discount_amount, \
     opening, entries_open_at, bot_check_bits";

impl TryFrom<CampaignRow> for Campaign {
    type Error = sqlx::Error;

    // The table's CHECK constraints admit only known kinds and statuses; anything else means the
    // schema and the code disagree, which is a decoding error, not a panic.
    fn try_from(row: CampaignRow) -> Result<Self, Self::Error> {
        let kind = DiscountKind::parse(&row.discount_kind)
            .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        let status = CampaignStatus::from_stored(&row.status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {}", row.status).into()))?;
        let opening = OpeningKind::parse(&row.opening)
            .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        Ok(Campaign {
            id: CampaignId(row.id),
            name: row.name,
            discount: Discount {
                kind,
                amount: row.discount_amount,
            },
            quantity: row.quantity,
            claim_starts_at: row.claim_starts_at,
            claim_ends_at: row.claim_ends_at,
            valid_days: row.valid_days,
            order_rules: OrderRules {
                min_order_amount: row.min_order_amount,
                max_discount_amount: row.max_discount_amount,
            },
            status,
            created_at: row.created_at,
            opening,
            entries_open_at: row.entries_open_at,
            // The table's CHECK keeps it in 0..=28.
            bot_check_bits: u8::try_from(row.bot_check_bits).map_err(|_| {
                sqlx::Error::Decode(format!("bot_check_bits {}", row.bot_check_bits).into())
            })?,
        })
    }
}

/// Stores a validated campaign, active from the start (on the pool, or in the caller's
/// transaction when a fair draw's row goes with it: src/draw/).
pub async fn insert<'e, E>(db: E, campaign: &NewCampaign) -> Result<Campaign, sqlx::Error>
where
    E: sqlx::PgExecutor<'e>,
{
    let sql = format!(
        "INSERT INTO campaigns (name, discount_kind, discount_amount, quantity, claim_starts_at, \
         claim_ends_at, valid_days, min_order_amount, max_discount_amount, opening, \
         entries_open_at, bot_check_bits) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    );
    let row: CampaignRow = sqlx::query_as(&sql)
        .bind(campaign.name.as_str())
        .bind(campaign.discount.kind.as_str())
        .bind(campaign.discount.amount)
        .bind(campaign.quantity.get())
        .bind(campaign.window.starts_at())
        .bind(campaign.window.ends_at())
        .bind(campaign.valid_days.get())
        .bind(campaign.order_rules.min_order_amount)
        .bind(campaign.order_rules.max_discount_amount)
        .bind(campaign.opening.kind().as_str())
        .bind(campaign.opening.entries_open_at())
        .bind(i16::from(campaign.bot_check_bits.get()))
        .fetch_one(db)
        .await?;
    row.try_into()
}

/// The campaign with this id, if it exists.
pub async fn find(db: &PgPool, id: CampaignId) -> Result<Option<Campaign>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1");
    let row: Option<CampaignRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(db).await?;
    row.map(Campaign::try_from).transpose()
}

/// The campaign's bot check bits (0: off), if it exists: one read by primary key, for an
/// instance that has not learned them yet (src/bot_check/).
pub async fn bot_check_bits_of(db: &PgPool, id: CampaignId) -> Result<Option<u8>, sqlx::Error> {
    let bits: Option<i16> =
        sqlx::query_scalar("SELECT bot_check_bits FROM campaigns WHERE id = $1")
            .bind(id.0)
            .fetch_optional(db)
            .await?;
    bits.map(|bits| {
        u8::try_from(bits).map_err(|_| sqlx::Error::Decode(format!("bot_check_bits {bits}").into()))
    })
    .transpose()
}

/// How a transaction locks a campaign row, to order Redis rebuilds against sync batches.
#[derive(Debug, Clone, Copy)]
pub enum RowLock {
    /// Taken by a sync batch from before it reads the queue until its commit. Batches of
    /// different instances do not block each other.
    Share,
    /// Taken by a rebuild of the campaign's Redis state: it waits until every batch in flight
    /// has committed, so the rebuild counts them.
    Update,
}

/// The campaign with this id, locking its row for the rest of the transaction.
pub async fn find_locked(
    tx: &mut PgConnection,
    id: CampaignId,
    lock: RowLock,
) -> Result<Option<Campaign>, sqlx::Error> {
    let mode = match lock {
        RowLock::Share => "FOR SHARE",
        RowLock::Update => "FOR UPDATE",
    };
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1 {mode}");
    let row: Option<CampaignRow> = sqlx::query_as(&sql).bind(id.0).fetch_optional(tx).await?;
    row.map(Campaign::try_from).transpose()
}

/// Every campaign, newest first.
pub async fn list(db: &PgPool) -> Result<Vec<Campaign>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns ORDER BY id DESC");
    let rows: Vec<CampaignRow> = sqlx::query_as(&sql).fetch_all(db).await?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// The campaigns with these ids that exist, in no particular order: one primary-key probe
/// each, whatever number of coupons they have (the live numbers of end users' pages).
pub async fn find_many(db: &PgPool, ids: &[CampaignId]) -> Result<Vec<Campaign>, sqlx::Error> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = ANY($1)");
    let rows: Vec<CampaignRow> = sqlx::query_as(&sql).bind(&ids).fetch_all(db).await?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// Most campaigns the home page lists.
pub const MOST_ON_OFFER: i64 = 50;

/// Up to `limit` campaigns an end user can claim from now or later (not ended, window not
/// over): open ones first, then upcoming ones, each newest first. Read through the index of
/// not-ended campaigns by window end (`campaigns_on_offer`), so an anonymous page view costs
/// the campaigns on offer, never every campaign ever created.
pub async fn on_offer(db: &PgPool, limit: i64) -> Result<Vec<Campaign>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM campaigns \
         WHERE status <> 'ended' AND claim_ends_at > now() \
         ORDER BY claim_starts_at > now(), id DESC LIMIT $1"
    );
    let rows: Vec<CampaignRow> = sqlx::query_as(&sql).bind(limit).fetch_all(db).await?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// Campaigns a page of the marketer's list shows.
pub const PAGE_SIZE: i64 = 50;

/// Which campaigns the marketer's list shows: a status, a part of the name, a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    pub status: Option<CampaignStatus>,
    /// Matched anywhere in the name, ignoring case.
    pub name: Option<String>,
    /// From 0.
    pub page: u32,
}

/// One page of campaigns, newest first, and whether more follow.
pub async fn page(
    db: &PgPool,
    filter: &CampaignFilter,
) -> Result<(Vec<Campaign>, bool), sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM campaigns \
         WHERE ($1::text IS NULL OR status = $1) \
           AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0) \
         ORDER BY id DESC LIMIT $3 OFFSET $4"
    );
    let rows: Vec<CampaignRow> = sqlx::query_as(&sql)
        .bind(filter.status.map(CampaignStatus::as_str))
        .bind(filter.name.as_deref().filter(|name| !name.is_empty()))
        .bind(PAGE_SIZE + 1)
        .bind(i64::from(filter.page) * PAGE_SIZE)
        .fetch_all(db)
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let campaigns = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(Campaign::try_from)
        .collect::<Result<_, _>>()?;
    Ok((campaigns, more))
}

/// A campaign the sync still watches, as recorded (after its window's end plus a grace period,
/// and with an empty queue, it is fully drained).
#[derive(Debug, Clone)]
pub struct Watched {
    /// The campaign.
    pub campaign: Campaign,
}

/// The ids of the campaigns `watched` lists, lowest first, without their rows.
pub async fn watched_ids(db: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM campaigns WHERE drained_at IS NULL ORDER BY id")
        .fetch_all(db)
        .await
}

/// Campaigns whose queue may still hold coupons: all but those marked drained.
pub async fn watched(db: &PgPool) -> Result<Vec<Watched>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE drained_at IS NULL ORDER BY id");
    let rows: Vec<CampaignRow> = sqlx::query_as(&sql).fetch_all(db).await?;
    rows.into_iter()
        .map(|row| {
            Ok(Watched {
                campaign: row.try_into()?,
            })
        })
        .collect()
}

/// Records that a campaign's window is over and its queue empty, so the sync can skip it.
pub async fn mark_drained(db: &PgPool, id: CampaignId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE campaigns SET drained_at = now() WHERE id = $1 AND drained_at IS NULL")
        .bind(id.0)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the marketer's status switch (inside the caller's transaction).
pub(crate) async fn update_status(
    tx: &mut PgConnection,
    id: CampaignId,
    status: CampaignStatus,
    version: ControlVersion,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET status = $2, control_version = $3, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(status.as_str())
    .bind(version.0)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a new total quantity (inside the caller's transaction).
pub(crate) async fn update_quantity(
    tx: &mut PgConnection,
    id: CampaignId,
    quantity: i64,
    version: ControlVersion,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET quantity = $2, control_version = $3, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(quantity)
    .bind(version.0)
    .execute(tx)
    .await?;
    Ok(())
}

/// A version for a control about to change a campaign (src/reconcile/fence.rs); taken while the
/// caller holds the campaign's row, so versions of one campaign follow the order of its changes.
pub(crate) async fn take_control_version(
    tx: &mut PgConnection,
) -> Result<ControlVersion, sqlx::Error> {
    let version: i64 = sqlx::query_scalar("SELECT nextval('campaign_control_versions')")
        .fetch_one(tx)
        .await?;
    Ok(ControlVersion(version))
}
