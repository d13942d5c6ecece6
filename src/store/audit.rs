//! The `audit_events` table: entries are inserted, and listed newest first. Nothing here updates
//! or deletes one; the table's trigger refuses it anyway (migrations/20261209000001_audit_log.sql).
//!
//! `before` and `after` travel as JSON text cast in SQL (`::jsonb`, `::text`), which keeps
//! sqlx's `json` feature (and a rebuild of sqlx with it) out of the build.

use crate::audit::{Actor, AuditEntry, AuditEvent, AuditFilter};
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// Adds one entry (on the pool, or in the transaction of the change it describes).
pub async fn insert<'e, E>(db: E, by: &Actor, event: &AuditEvent) -> Result<(), sqlx::Error>
where
    E: PgExecutor<'e>,
{
    sqlx::query(
        "INSERT INTO audit_events (actor, address, action, campaign_id, before, after) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
    )
    .bind(&by.name)
    .bind(by.address.map(|address| address.to_string()))
    .bind(event.action.as_str())
    .bind(event.campaign_id.map(|id| id.0))
    .bind(event.before.as_ref().map(ToString::to_string))
    .bind(event.after.as_ref().map(ToString::to_string))
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    address: Option<String>,
    action: String,
    campaign_id: Option<i64>,
    before: Option<String>,
    after: Option<String>,
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = sqlx::Error;

    // The columns are jsonb, so their text always parses; a failure means the schema and the
    // code disagree, which is a decoding error, not a panic.
    fn try_from(row: EntryRow) -> Result<Self, Self::Error> {
        let json = |text: Option<String>| {
            text.map(|text| serde_json::from_str::<serde_json::Value>(&text))
                .transpose()
                .map_err(|e| sqlx::Error::Decode(e.to_string().into()))
        };
        Ok(AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor,
            address: row.address,
            action: row.action,
            campaign_id: row.campaign_id,
            before: json(row.before)?,
            after: json(row.after)?,
        })
    }
}

/// Up to `limit` entries `filter` selects, newest first (by id: the order they were written).
pub async fn newest_first(
    db: &PgPool,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT id, at, actor, address, action, campaign_id, \
                before::text AS before, after::text AS after \
         FROM audit_events \
         WHERE ($1::bigint IS NULL OR campaign_id = $1) \
           AND ($2::text IS NULL OR actor = $2) \
           AND ($3::text IS NULL OR action = $3) \
           AND ($4::bigint IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(filter.campaign_id.map(|id| id.0))
    .bind(filter.actor.as_deref())
    .bind(filter.action.map(|action| action.as_str()))
    .bind(filter.before_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}
