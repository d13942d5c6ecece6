//! The `campaign_draws` and `draw_entries` tables: a fair draw's secret and progress, and its
//! entrants (src/draw/ decides what they mean; this file only reads and writes them).

use crate::campaign::CampaignId;
use crate::draw::{Digest, DrawSecret};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;

/// A fair draw as recorded, with the times of its campaign. No `Debug`: it holds the secret,
/// which must not reach a log before the draw.
#[derive(Clone, sqlx::FromRow)]
pub struct DrawRow {
    /// The 32 secret bytes.
    pub secret: Vec<u8>,
    /// Hex SHA-256 of the secret.
    pub commitment: String,
    /// When the winners were chosen.
    pub drawn_at: Option<DateTime<Utc>>,
    /// When every winner's coupon was in the record.
    pub completed_at: Option<DateTime<Utc>>,
    /// Entrants at the draw.
    pub entrants: Option<i64>,
    /// Winners chosen.
    pub winners: Option<i64>,
    /// The last winner's digest.
    pub cutoff: Option<Vec<u8>>,
    /// The campaign's window start: the time of the draw.
    pub claim_starts_at: DateTime<Utc>,
    /// When entries open.
    pub entries_open_at: Option<DateTime<Utc>>,
    /// The campaign's bot check (0: off), for the fairness report.
    pub bot_check_bits: i16,
}

/// Records a new campaign's draw (inside the transaction that records the campaign).
pub async fn create(
    tx: &mut PgConnection,
    campaign: CampaignId,
    secret: &DrawSecret,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO campaign_draws (campaign_id, secret, commitment) VALUES ($1, $2, $3)")
        .bind(campaign.0)
        .bind(secret.as_bytes().as_slice())
        .bind(secret.commitment())
        .execute(tx)
        .await?;
    Ok(())
}

/// The campaign's draw, if it has one.
pub async fn find(db: &PgPool, campaign: CampaignId) -> Result<Option<DrawRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.secret, d.commitment, d.drawn_at, d.completed_at, d.entrants, d.winners, \
         d.cutoff, c.claim_starts_at, c.entries_open_at, c.bot_check_bits \
         FROM campaign_draws d JOIN campaigns c ON c.id = d.campaign_id \
         WHERE d.campaign_id = $1",
    )
    .bind(campaign.0)
    .fetch_optional(db)
    .await
}

/// What the per-instance gate needs to know of a campaign it has not seen yet (src/draw/gate.rs).
/// No `Debug`: it holds the secret.
#[derive(Clone, sqlx::FromRow)]
pub struct GateRow {
    /// The campaign.
    pub id: i64,
    /// `first_come` or `fair_draw`.
    pub opening: String,
    /// When entries open (fair draws).
    pub entries_open_at: Option<DateTime<Utc>>,
    /// The window's start: the draw.
    pub claim_starts_at: DateTime<Utc>,
    /// The draw's secret (fair draws).
    pub secret: Option<Vec<u8>>,
    /// Whether the draw is completed.
    pub completed: bool,
    /// The campaign's bot check (0: off), learned with the gate (src/bot_check/).
    pub bot_check_bits: i16,
}

/// The campaign's opening and draw, one read by primary key; `None` for no such campaign.
pub async fn gate_of(db: &PgPool, campaign: CampaignId) -> Result<Option<GateRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {GATE_COLUMNS} FROM campaigns c \
         LEFT JOIN campaign_draws d ON d.campaign_id = c.id WHERE c.id = $1"
    );
    sqlx::query_as(&sql)
        .bind(campaign.0)
        .fetch_optional(db)
        .await
}

/// The columns of a [`GateRow`], from `campaigns c LEFT JOIN campaign_draws d`.
const GATE_COLUMNS: &str = "c.id, c.opening, c.entries_open_at, c.claim_starts_at, d.secret, \
     (d.completed_at IS NOT NULL) AS completed, c.bot_check_bits";

/// The opening and draw of every campaign the sync still watches (window not over long ago):
/// what the gate learns at start-up and every second (src/draw/gate.rs).
pub async fn gates_of_watched(db: &PgPool) -> Result<Vec<GateRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {GATE_COLUMNS} FROM campaigns c \
         LEFT JOIN campaign_draws d ON d.campaign_id = c.id WHERE c.drained_at IS NULL"
    );
    sqlx::query_as(&sql).fetch_all(db).await
}

/// Whether the campaign's draw is completed (`false` also when it has none).
pub async fn is_completed(db: &PgPool, campaign: CampaignId) -> Result<bool, sqlx::Error> {
    let completed: Option<bool> = sqlx::query_scalar(
        "SELECT completed_at IS NOT NULL FROM campaign_draws WHERE campaign_id = $1",
    )
    .bind(campaign.0)
    .fetch_optional(db)
    .await?;
    Ok(completed.unwrap_or(false))
}

/// For each of these campaigns that has a draw: (campaign, entrants so far, completed). Before
/// the winners are chosen the entrants are counted (along the primary key); after, the count
/// the draw recorded is read instead.
pub async fn tallies(
    db: &PgPool,
    campaigns: &[CampaignId],
) -> Result<Vec<(i64, i64, bool)>, sqlx::Error> {
    let ids: Vec<i64> = campaigns.iter().map(|campaign| campaign.0).collect();
    sqlx::query_as(
        "SELECT d.campaign_id, \
           coalesce(d.entrants, \
             (SELECT count(*) FROM draw_entries e WHERE e.campaign_id = d.campaign_id)) \
             AS entrants, \
           d.completed_at IS NOT NULL AS completed \
         FROM campaign_draws d WHERE d.campaign_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(db)
    .await
}

/// Where a campaign's entries stand when a batch of them is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryWindow {
    /// Before `entries_open_at`.
    NotOpen,
    /// Entries are accepted.
    Open,
    /// The window has started or the winners are chosen: no more entries.
    Closed,
    /// The marketer paused the campaign.
    Paused,
    /// The marketer ended the campaign, or its window is over.
    Ended,
}

impl EntryWindow {
    fn from_stored(name: &str) -> Option<Self> {
        Some(match name {
            "not_open" => Self::NotOpen,
            "open" => Self::Open,
            "closed" => Self::Closed,
            "paused" => Self::Paused,
            "ended" => Self::Ended,
            _ => return None,
        })
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Whose draw.
    pub campaign: CampaignId,
    /// The member.
    pub user_id: String,
    /// Their place in the draw.
    pub digest: Digest,
}

/// Writes the entries of the campaigns whose entries are open, in one statement (so one round
/// trip and one implicit transaction), and says where each campaign's entries stood (a campaign
/// missing from the answer has no draw).
///
/// The statement holds each campaign's draw row `FOR SHARE` from the check to its commit, and
/// the draw takes it `FOR UPDATE` before it reads the entrants: an entry written here is either
/// committed before the draw reads the entrants, or refused because the draw happened (a row
/// updated by a committed draw is read again, as it is now, before it is locked). Judged by
/// PostgreSQL's clock (the record holds the entries, so its clock decides them); a repeated
/// entry changes nothing (`ON CONFLICT DO NOTHING`, the first digest is the same anyway).
pub async fn insert_entries(
    db: &PgPool,
    entries: &[NewEntry],
) -> Result<HashMap<CampaignId, EntryWindow>, sqlx::Error> {
    let mut campaigns: Vec<i64> = entries.iter().map(|entry| entry.campaign.0).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let ids: Vec<i64> = entries.iter().map(|entry| entry.campaign.0).collect();
    let users: Vec<&str> = entries.iter().map(|entry| entry.user_id.as_str()).collect();
    let digests: Vec<Vec<u8>> = entries.iter().map(|entry| entry.digest.to_vec()).collect();
    // Rows locked in id order, so two batches never wait on each other in a cycle. A draw row
    // locked already is one being drawn (the only lock taken on it before its window started
    // is this one, shared): SKIP LOCKED leaves it out, its entries are closed, and the batch
    // does not wait for the draw, which would hold up every other campaign's entries.
    let states: Vec<(i64, String)> = sqlx::query_as(
        "WITH states AS MATERIALIZED ( \
           SELECT d.campaign_id, \
             CASE \
               WHEN c.status = 'ended' OR clock_timestamp() >= c.claim_ends_at THEN 'ended' \
               WHEN d.drawn_at IS NOT NULL OR clock_timestamp() >= c.claim_starts_at THEN 'closed' \
               WHEN c.status = 'paused' THEN 'paused' \
               WHEN clock_timestamp() < c.entries_open_at THEN 'not_open' \
               ELSE 'open' \
             END AS state \
           FROM campaign_draws d JOIN campaigns c ON c.id = d.campaign_id \
           WHERE d.campaign_id = ANY($1) \
           ORDER BY d.campaign_id \
           FOR SHARE OF d SKIP LOCKED \
         ), written AS ( \
           INSERT INTO draw_entries (campaign_id, user_id, digest) \
           SELECT e.campaign_id, e.user_id, e.digest \
           FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS e(campaign_id, user_id, digest) \
           JOIN states s ON s.campaign_id = e.campaign_id AND s.state = 'open' \
           ON CONFLICT DO NOTHING \
         ) \
         SELECT campaign_id, state FROM states",
    )
    .bind(&campaigns)
    .bind(&ids)
    .bind(&users)
    .bind(&digests)
    .fetch_all(db)
    .await?;
    let mut windows = HashMap::with_capacity(campaigns.len());
    for (campaign, state) in states {
        let window = EntryWindow::from_stored(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("entry state {state}").into()))?;
        windows.insert(CampaignId(campaign), window);
    }
    for campaign in &campaigns {
        windows
            .entry(CampaignId(*campaign))
            .or_insert(EntryWindow::Closed);
    }
    Ok(windows)
}

/// Fair draws whose window has started (PostgreSQL's clock) and which are not completed.
pub async fn due(db: &PgPool) -> Result<Vec<CampaignId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT d.campaign_id FROM campaign_draws d JOIN campaigns c ON c.id = d.campaign_id \
         WHERE d.completed_at IS NULL AND c.claim_starts_at <= now() ORDER BY d.campaign_id",
    )
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(CampaignId).collect())
}

/// What [`choose_winners`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The campaign has no draw.
    NoDraw,
    /// Its window has not started yet (PostgreSQL's clock).
    NotDue,
    /// The winners are chosen (now or earlier).
    Chosen,
}

/// Chooses the winners once: under the draw row's lock (which waits for every batch of entries
/// in flight), unless they are chosen already or the window has not started, ranks the first
/// `quantity` entrants by digest and records the entrants, the winners and the cutoff.
pub async fn choose_winners(db: &PgPool, campaign: CampaignId) -> Result<Chosen, sqlx::Error> {
    let mut tx = db.begin().await?;
    let found: Option<(Option<DateTime<Utc>>, bool, i64)> = sqlx::query_as(
        "SELECT d.drawn_at, c.claim_starts_at <= now(), c.quantity \
         FROM campaign_draws d JOIN campaigns c ON c.id = d.campaign_id \
         WHERE d.campaign_id = $1 FOR UPDATE OF d FOR SHARE OF c",
    )
    .bind(campaign.0)
    .fetch_optional(&mut *tx)
    .await?;
    let quantity = match found {
        None => return Ok(Chosen::NoDraw),
        Some((Some(_), _, _)) => return Ok(Chosen::Chosen),
        Some((None, false, _)) => return Ok(Chosen::NotDue),
        Some((None, true, quantity)) => quantity,
    };
    // Ties are impossible in practice (distinct members, 256-bit digests); the member id only
    // makes the order total.
    sqlx::query(
        "UPDATE draw_entries e SET drawn_rank = r.rank \
         FROM (SELECT user_id, row_number() OVER (ORDER BY digest, user_id COLLATE \"C\") AS rank \
               FROM draw_entries WHERE campaign_id = $1 \
               ORDER BY digest, user_id COLLATE \"C\" LIMIT $2) r \
         WHERE e.campaign_id = $1 AND e.user_id = r.user_id",
    )
    .bind(campaign.0)
    .bind(quantity)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE campaign_draws SET drawn_at = now(), \
           entrants = (SELECT count(*) FROM draw_entries WHERE campaign_id = $1), \
           winners = (SELECT count(*) FROM draw_entries \
                      WHERE campaign_id = $1 AND drawn_rank IS NOT NULL), \
           cutoff = (SELECT digest FROM draw_entries \
                     WHERE campaign_id = $1 AND drawn_rank IS NOT NULL \
                     ORDER BY drawn_rank DESC LIMIT 1) \
         WHERE campaign_id = $1",
    )
    .bind(campaign.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Chosen::Chosen)
}

/// The rank before the first winner whose coupon is not in the record (every winner's when all
/// are): where a resumed draw starts issuing.
pub async fn recorded_through(db: &PgPool, campaign: CampaignId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(min(e.drawn_rank) - 1, \
                (SELECT winners FROM campaign_draws WHERE campaign_id = $1), 0) \
         FROM draw_entries e \
         WHERE e.campaign_id = $1 AND e.drawn_rank IS NOT NULL AND NOT EXISTS ( \
           SELECT 1 FROM issued_coupons i \
           WHERE i.campaign_id = e.campaign_id AND i.user_id = e.user_id) \
         AND NOT EXISTS ( \
           SELECT 1 FROM set_aside_coupons s \
           WHERE s.campaign_id = e.campaign_id AND s.user_id = e.user_id)",
    )
    .bind(campaign.0)
    .fetch_one(db)
    .await
}

/// Up to `limit` winners ranked after `after_rank`, in rank order: (rank, member).
pub async fn winners_after(
    db: &PgPool,
    campaign: CampaignId,
    after_rank: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT drawn_rank, user_id FROM draw_entries \
         WHERE campaign_id = $1 AND drawn_rank > $2 ORDER BY drawn_rank LIMIT $3",
    )
    .bind(campaign.0)
    .bind(after_rank)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many of the winners ranked up to `through_rank` have their coupon in the record, or set
/// aside by the sync (PostgreSQL refused the row: an operator's to replay, src/sync/set_aside.rs;
/// the draw does not wait for it forever).
pub async fn recorded_winners(
    db: &PgPool,
    campaign: CampaignId,
    through_rank: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM draw_entries e \
         WHERE e.campaign_id = $1 AND e.drawn_rank <= $2 AND ( \
           EXISTS (SELECT 1 FROM issued_coupons i \
                   WHERE i.campaign_id = e.campaign_id AND i.user_id = e.user_id) \
           OR EXISTS (SELECT 1 FROM set_aside_coupons s \
                      WHERE s.campaign_id = e.campaign_id AND s.user_id = e.user_id))",
    )
    .bind(campaign.0)
    .bind(through_rank)
    .fetch_one(db)
    .await
}

/// Whether the record agrees that no more coupons can be issued: the campaign is not active, or
/// its recorded coupons reached its quantity. A "sold out" from Redis alone can be a lowered
/// quantity whose commit failed, which the sync puts back.
pub async fn is_closed_in_record(db: &PgPool, campaign: CampaignId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.status <> 'active' OR clock_timestamp() >= c.claim_ends_at OR \
           (SELECT count(*) FROM issued_coupons i WHERE i.campaign_id = c.id) >= c.quantity \
         FROM campaigns c WHERE c.id = $1",
    )
    .bind(campaign.0)
    .fetch_optional(db)
    .await
    .map(|closed| closed.unwrap_or(true))
}

/// Marks the draw completed (once; a second call changes nothing).
pub async fn complete(db: &PgPool, campaign: CampaignId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaign_draws SET completed_at = now() \
         WHERE campaign_id = $1 AND completed_at IS NULL AND drawn_at IS NOT NULL",
    )
    .bind(campaign.0)
    .execute(db)
    .await?;
    Ok(())
}

/// A member's entry: digest, rank (winners, once drawn), whether the draw is completed, and
/// the time of the draw.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    /// Their place in the draw.
    pub digest: Vec<u8>,
    /// 1 = first winner; `None` before the draw and for members not drawn.
    pub drawn_rank: Option<i64>,
    /// Whether the winners are chosen.
    pub drawn: bool,
    /// Whether the draw is completed.
    pub completed: bool,
    /// The time of the draw.
    pub claim_starts_at: DateTime<Utc>,
}

/// The member's entry in the campaign's draw, if they entered.
pub async fn entry_of(
    db: &PgPool,
    campaign: CampaignId,
    user_id: &str,
) -> Result<Option<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.digest, e.drawn_rank, d.drawn_at IS NOT NULL AS drawn, \
         d.completed_at IS NOT NULL AS completed, c.claim_starts_at \
         FROM draw_entries e \
         JOIN campaign_draws d ON d.campaign_id = e.campaign_id \
         JOIN campaigns c ON c.id = e.campaign_id \
         WHERE e.campaign_id = $1 AND e.user_id = $2",
    )
    .bind(campaign.0)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Up to `limit` digests of the campaign's entrants after `after` (all from the first for
/// `None`), in draw order, along the `(campaign_id, digest)` index.
pub async fn digests_after(
    db: &PgPool,
    campaign: CampaignId,
    after: Option<&Digest>,
    limit: i64,
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    // Every 32-byte digest sorts after the empty byte string.
    let after: &[u8] = match after {
        Some(digest) => digest,
        None => &[],
    };
    sqlx::query_scalar(
        "SELECT digest FROM draw_entries WHERE campaign_id = $1 AND digest > $2 \
         ORDER BY digest LIMIT $3",
    )
    .bind(campaign.0)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One instant of a draw's entries: when (`entered_at`; a batch of entries shares its
/// transaction's time), how many entered then, and how many of those were drawn.
pub type EntryInstant = (DateTime<Utc>, i64, i64);

/// The campaign's entries grouped by entry time, earliest first, read as a stream: what the
/// fairness report needs of a million entrants is a few thousand rows (entries are written in
/// batches that share a time), never the entrants themselves.
pub fn entry_instants(
    db: &PgPool,
    campaign: CampaignId,
) -> futures::stream::BoxStream<'_, Result<EntryInstant, sqlx::Error>> {
    sqlx::query_as(
        "SELECT entered_at, count(*), count(drawn_rank) FROM draw_entries \
         WHERE campaign_id = $1 GROUP BY entered_at ORDER BY entered_at",
    )
    .bind(campaign.0)
    .fetch(db)
}

/// Adds refused attempts to enter, `(campaign, reason, count)`, in one statement; campaigns
/// without a draw are left out.
pub async fn add_refusals(
    db: &PgPool,
    refusals: &[(CampaignId, &'static str, i64)],
) -> Result<(), sqlx::Error> {
    if refusals.is_empty() {
        return Ok(());
    }
    let campaigns: Vec<i64> = refusals.iter().map(|(campaign, _, _)| campaign.0).collect();
    let reasons: Vec<&str> = refusals.iter().map(|(_, reason, _)| *reason).collect();
    let counts: Vec<i64> = refusals.iter().map(|(_, _, count)| *count).collect();
    // The SELECT ends with its WHERE: `ON CONFLICT` cannot be read as part of a join.
    sqlx::query(
        "INSERT INTO draw_refusals (campaign_id, reason, count) \
         SELECT r.campaign_id, r.reason, r.count \
         FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS r(campaign_id, reason, count) \
         WHERE EXISTS (SELECT 1 FROM campaign_draws d WHERE d.campaign_id = r.campaign_id) \
         ON CONFLICT (campaign_id, reason) \
         DO UPDATE SET count = draw_refusals.count + EXCLUDED.count",
    )
    .bind(&campaigns)
    .bind(&reasons)
    .bind(&counts)
    .execute(db)
    .await?;
    Ok(())
}

/// The refused attempts to enter the campaign's draw, by reason.
pub async fn refusals_of(
    db: &PgPool,
    campaign: CampaignId,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT reason, count FROM draw_refusals WHERE campaign_id = $1")
        .bind(campaign.0)
        .fetch_all(db)
        .await
}
