//! Which entries a listing shows: by campaign, actor and kind, newest first, a page at a time.
//!
//! Pages are cut by id (keyset), not by offset: entries keep arriving while someone pages
//! through the log, and an offset would then show an entry twice across pages; each page
//! instead names the id the next one starts below (`next_page`).

use super::{AuditAction, AuditEntry};
use crate::campaign::CampaignId;
use crate::validation::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};

/// Entries a page of the admin page or the API holds.
pub const AUDIT_PAGE_SIZE: i64 = 50;

/// The longest actor a filter accepts, in characters (what the table's CHECK allows).
const MOST_ACTOR_CHARS: usize = 320;

/// Which entries to list; `None` for "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub campaign_id: Option<CampaignId>,
    /// Matched exactly after lower-casing (every actor is stored lower-cased).
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// Only entries older than this id: a page's `next_page`. `None`: from the newest.
    pub before_id: Option<i64>,
}

impl AuditFilter {
    /// The filter of the texts a query string or a form gives (empty: any), naming each bad
    /// one: `campaign_id` and `page` must be whole numbers above 0, `action` one of the names.
    pub fn parse(
        campaign_id: &str,
        actor: &str,
        action: &str,
        page: &str,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let campaign_id = errors
            .check(positive("campaign_id", campaign_id, "a campaign id"))
            .flatten()
            .map(CampaignId);
        let actor = actor.trim().to_lowercase();
        if actor.chars().count() > MOST_ACTOR_CHARS {
            errors.0.push(FieldError::new(
                "actor",
                format!("must be at most {MOST_ACTOR_CHARS} characters"),
            ));
        }
        let action = errors.check(action_named(action.trim())).flatten();
        let before_id = errors
            .check(positive("page", page, "the next_page of an earlier page"))
            .flatten();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            campaign_id,
            actor: Some(actor).filter(|actor| !actor.is_empty()),
            action,
            before_id,
        })
    }
}

/// A whole number above 0, or `None` for empty text.
fn positive(field: &str, raw: &str, what: &str) -> Result<Option<i64>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(FieldError::new(
            field,
            format!("must be {what}: a whole number above 0"),
        )),
    }
}

/// The kind named `raw`, or `None` for empty text.
fn action_named(raw: &str) -> Result<Option<AuditAction>, FieldError> {
    if raw.is_empty() {
        return Ok(None);
    }
    AuditAction::parse(raw).map(Some).ok_or_else(|| {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        FieldError::new("action", format!("must be one of {}", names.join(", ")))
    })
}

/// One page of entries, newest first; the JSON API's answer as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    /// Pass as `page` for the following (older) entries; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_texts_filter_nothing_and_actors_are_lower_cased() {
        assert_eq!(
            AuditFilter::parse("", " ", "", ""),
            Ok(AuditFilter::default())
        );
        let filter = AuditFilter::parse("7", " Marketer@Example.com ", "campaign.paused", "90");
        assert_eq!(
            filter,
            Ok(AuditFilter {
                campaign_id: Some(CampaignId(7)),
                actor: Some("marketer@example.com".into()),
                action: Some(AuditAction::CampaignPaused),
                before_id: Some(90),
            })
        );
    }

    #[test]
    fn each_bad_filter_is_named() {
        let refused = AuditFilter::parse("abc", "", "campaign.deleted", "0").unwrap_err();
        let fields: Vec<&str> = refused.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["campaign_id", "action", "page"]);
        let long = "a".repeat(MOST_ACTOR_CHARS + 1);
        let refused = AuditFilter::parse("", &long, "", "").unwrap_err();
        assert!(refused.for_field("actor").is_some());
    }
}
