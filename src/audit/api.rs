//! The engine's audit calls: record an action that changes nothing else, and list entries.

use super::{AUDIT_PAGE_SIZE, Actor, AuditEntry, AuditEvent, AuditFilter, AuditPage};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::audit;

impl Engine {
    /// Records `event` as `by`'s on its own: for actions outside the engine's tables (sign-ins,
    /// downloads). Callers record before the action takes effect and refuse it when this fails,
    /// so nothing happens unrecorded.
    pub async fn record_audit(&self, by: &Actor, event: &AuditEvent) -> Result<(), EngineError> {
        Ok(audit::insert(self.db(), by, event).await?)
    }

    /// One page ([`AUDIT_PAGE_SIZE`]) of the entries `filter` selects, newest first, and where
    /// the next one starts.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<AuditPage, EngineError> {
        let mut events = audit::newest_first(self.db(), filter, AUDIT_PAGE_SIZE + 1).await?;
        let more = events.len() as i64 > AUDIT_PAGE_SIZE;
        events.truncate(AUDIT_PAGE_SIZE as usize);
        let next_page = more.then(|| events.last().map(|last| last.id)).flatten();
        Ok(AuditPage { events, next_page })
    }

    /// Up to `limit` entries `filter` selects, newest first: the export reads the log in
    /// slices of this (passing the last id as `before_id`).
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, EngineError> {
        Ok(audit::newest_first(self.db(), filter, limit.max(1)).await?)
    }
}
