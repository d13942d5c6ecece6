//! The audit log as the admin page shows it: one page of entries, newest first, filtered by
//! campaign, actor and kind.

use super::types::FieldProblem;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One entry as the page shows it: the instant as milliseconds (see `types`), the values before
/// and after as the JSON text they were recorded as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub address: Option<String>,
    /// The kind's name (`campaign.paused`).
    pub action: String,
    pub campaign_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A page of the log, or why its filters were refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditLines {
    pub lines: Vec<AuditLine>,
    /// The `page` of the following (older) entries; `None` on the last page.
    pub next_page: Option<i64>,
    /// Each refused filter, named (then `lines` is empty).
    pub problems: Vec<FieldProblem>,
    /// Every kind's name, for the filter: sent from the engine's list, so the browser's copy
    /// cannot drift from it.
    pub actions: Vec<String>,
}

/// One page (50) of the audit log, newest first. Each filter is text as the address carries it
/// (empty for any): `campaign_id`, `actor` (an email or `api`), `action` (a kind's name) and
/// `page` (a `next_page` from an earlier page).
#[server(endpoint = "list_audit_events")]
pub async fn list_audit_events(
    campaign_id: String,
    actor: String,
    action: String,
    page: String,
) -> Result<AuditLines, ServerFnError> {
    use crate::backend::{engine, session::require_admin, unavailable};
    use coupon::audit::{AuditAction, AuditFilter};
    require_admin().await?;
    let actions = AuditAction::ALL
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    let filter = match AuditFilter::parse(&campaign_id, &actor, &action, &page) {
        Ok(filter) => filter,
        Err(refused) => {
            let problems = refused
                .0
                .into_iter()
                .map(|e| FieldProblem {
                    field: e.field,
                    reason: e.reason,
                })
                .collect();
            return Ok(AuditLines {
                problems,
                actions,
                ..AuditLines::default()
            });
        }
    };
    let page = engine()?.audit_page(&filter).await.map_err(unavailable)?;
    Ok(AuditLines {
        lines: page.events.into_iter().map(audit_line).collect(),
        next_page: page.next_page,
        problems: Vec::new(),
        actions,
    })
}

#[cfg(feature = "ssr")]
fn audit_line(entry: coupon::audit::AuditEntry) -> AuditLine {
    AuditLine {
        id: entry.id,
        at_ms: entry.at.timestamp_millis(),
        actor: entry.actor,
        address: entry.address,
        action: entry.action,
        campaign_id: entry.campaign_id,
        before: entry.before.map(|value| value.to_string()),
        after: entry.after.map(|value| value.to_string()),
    }
}
