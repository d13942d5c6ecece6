//! The audit log: every admin action, append-only in PostgreSQL (`audit_events`, whose trigger
//! refuses UPDATE, DELETE and TRUNCATE).
//!
//! - A change the engine makes (creating a campaign, its controls) is recorded in the change's
//!   own transaction (`record_in`): the entry commits with the change or not at all, so a
//!   refused or failed change leaves none, and no change goes unrecorded.
//! - An action that changes nothing else (a sign-in, a download) is recorded on its own by the
//!   caller before it takes effect ([`Engine::record_audit`](crate::Engine::record_audit)): if
//!   the entry cannot be written, the action is refused.
//! - The engine's calls without an actor (`create_campaign`, `set_status`, `set_quantity`) record
//!   nothing: they are for tools and tests, where no person acts. The web layer always uses the
//!   `…_by` calls.
//!
//! `action.rs` names the kinds; `filter.rs` is what the admin page and the API list by.

mod action;
mod api;
mod filter;

pub use action::AuditAction;
pub use filter::{AUDIT_PAGE_SIZE, AuditFilter, AuditPage};

use crate::campaign::{Campaign, CampaignId, CampaignStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::net::IpAddr;

/// The actor of every JSON API request: whoever holds the API key.
pub const API_ACTOR: &str = "api";

/// Who acted, and from which client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The admin's email, [`API_ACTOR`], or the email a failed sign-in typed.
    pub name: String,
    /// The client's address as the rate limits see it; `None` when the request had none.
    pub address: Option<IpAddr>,
}

impl Actor {
    /// A signed-in admin (emails are stored lower-cased already).
    pub fn admin(email: &str, address: Option<IpAddr>) -> Self {
        Self {
            name: email.to_owned(),
            address,
        }
    }

    /// The JSON API's key holder.
    pub fn api(address: Option<IpAddr>) -> Self {
        Self {
            name: API_ACTOR.to_owned(),
            address,
        }
    }

    /// Someone who typed `email` at the sign-in form, normalised as the accounts compare it
    /// (so a failed attempt is listed under the account it aimed at).
    pub fn signing_in(email: &str, address: Option<IpAddr>) -> Self {
        Self {
            name: email.trim().to_lowercase(),
            address,
        }
    }
}

/// What one action did: its kind, the campaign it touched, and the values before and after
/// (JSON objects; absent where there is nothing to show).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub campaign_id: Option<CampaignId>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditEvent {
    /// An action with no campaign and no values (a sign-in).
    pub fn of(action: AuditAction) -> Self {
        Self {
            action,
            campaign_id: None,
            before: None,
            after: None,
        }
    }

    /// A new campaign: `after` holds its main fields as recorded.
    pub fn campaign_created(campaign: &Campaign) -> Self {
        Self {
            action: AuditAction::CampaignCreated,
            campaign_id: Some(campaign.id),
            before: None,
            after: Some(campaign_fields(campaign)),
        }
    }

    /// A pause, resume or end: `{"status": …}` before and after.
    pub fn status_changed(id: CampaignId, from: CampaignStatus, to: CampaignStatus) -> Self {
        Self {
            action: AuditAction::of_status(to),
            campaign_id: Some(id),
            before: Some(json!({ "status": from.as_str() })),
            after: Some(json!({ "status": to.as_str() })),
        }
    }

    /// A quantity change: `{"quantity": …}` before and after.
    pub fn quantity_changed(id: CampaignId, from: i64, to: i64) -> Self {
        Self {
            action: AuditAction::CampaignQuantityChanged,
            campaign_id: Some(id),
            before: Some(json!({ "quantity": from })),
            after: Some(json!({ "quantity": to })),
        }
    }

    /// A download of a campaign's file: `after` names it (`coupons.csv`, `fairness.csv`).
    pub fn export_downloaded(campaign_id: CampaignId, file: &str) -> Self {
        Self {
            action: AuditAction::ExportDownloaded,
            campaign_id: Some(campaign_id),
            before: None,
            after: Some(json!({ "file": file })),
        }
    }

    /// A download of the audit log itself: `after` names the file and the filters it was cut
    /// to (its campaign filter is the entry's campaign).
    pub fn audit_downloaded(filter: &AuditFilter) -> Self {
        Self {
            action: AuditAction::ExportDownloaded,
            campaign_id: filter.campaign_id,
            before: None,
            after: Some(json!({
                "file": "audit.csv",
                "actor": filter.actor,
                "action": filter.action.map(AuditAction::as_str),
            })),
        }
    }
}

/// The fields a marketer chose, as the JSON API names them. Instants as RFC 3339 text, so the
/// entry reads the same whatever serialises it later.
fn campaign_fields(campaign: &Campaign) -> Value {
    json!({
        "name": campaign.name,
        "discount_kind": campaign.discount.kind.as_str(),
        "discount_amount": campaign.discount.amount,
        "quantity": campaign.quantity,
        "claim_starts_at": campaign.claim_starts_at.to_rfc3339(),
        "claim_ends_at": campaign.claim_ends_at.to_rfc3339(),
        "valid_days": campaign.valid_days,
        "min_order_amount": campaign.order_rules.min_order_amount,
        "max_discount_amount": campaign.order_rules.max_discount_amount,
        "opening": campaign.opening.as_str(),
        "entries_open_at": campaign.entries_open_at.map(|at| at.to_rfc3339()),
        "bot_check_bits": campaign.bot_check_bits,
        "status": campaign.status.as_str(),
    })
}

/// One entry as recorded; the JSON API's shape (`campaign_id`, `before` and `after` left out
/// when empty). `action` is the stored name, kept as text so that entries of a kind a newer
/// release added still list on an instance that does not know it yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Records `event` as `by`'s in the caller's transaction, so the entry commits with the change
/// it describes or not at all. Nothing when no one acted (`by` is `None`: tools and tests).
pub(crate) async fn record_in(
    tx: &mut PgConnection,
    by: Option<&Actor>,
    event: &AuditEvent,
) -> Result<(), sqlx::Error> {
    match by {
        Some(by) => crate::store::audit::insert(tx, by, event).await,
        None => Ok(()),
    }
}
