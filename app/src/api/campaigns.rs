//! The marketer's server functions: list, create, watch (with a fair draw's fairness report),
//! pause/resume/end, change quantity. Each starts with `require_admin()`; the ones that change
//! something record it in the audit log as the admin's, in the change's own transaction.

use super::fairness::FairnessView;
#[cfg(feature = "ssr")]
use super::types::FieldProblem;
use super::types::{CampaignView, FormResult, LiveNumbers};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The create form exactly as typed: text, so that "abc" in a number field becomes a message
/// next to that field instead of a failed request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignForm {
    pub name: String,
    pub discount_kind: String,
    pub discount_amount: String,
    pub quantity: String,
    /// `datetime-local` value, read as KST.
    pub claim_starts_at: String,
    /// `datetime-local` value, read as KST.
    pub claim_ends_at: String,
    pub valid_days: String,
    /// Empty for none (absent, as a page loaded before this field existed sends it: none).
    #[serde(default)]
    pub min_order_amount: String,
    /// Empty for none.
    #[serde(default)]
    pub max_discount_amount: String,
    /// `datetime-local` value, read as KST: empty for first come, first served, a time for a
    /// fair draw whose entries open then.
    #[serde(default)]
    pub entries_open_at: String,
    /// The bot check: leading zero bits (`0` or empty: off; the form offers
    /// [`BOT_CHECK_ABOUT_1S`] and [`BOT_CHECK_ABOUT_3S`]).
    #[serde(default)]
    pub bot_check_bits: String,
}

/// The admin form's bot check settings, in leading zero bits of the proof's SHA-256
/// (src/bot_check/). A solution takes `2^bits` hashes on average. Assumed, not measured: a
/// mid-range phone computes roughly 1–2 million SHA-256 a second in public/pow.js (WebCrypto,
/// digests issued in batches). So 20 bits (about a million hashes) take about 0.5–1 s, and 22
/// bits (about four million) about 2–4 s; any one solve may take several times the average
/// (one in twenty takes three times it).
pub const BOT_CHECK_ABOUT_1S: u8 = 20;
/// See [`BOT_CHECK_ABOUT_1S`]: about 3 s on a mid-range phone.
pub const BOT_CHECK_ABOUT_3S: u8 = 22;

/// One page of the campaign list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignPage {
    pub rows: Vec<(CampaignView, LiveNumbers)>,
    /// Whether another page follows.
    pub more: bool,
}

/// One page (50) of campaigns with their live numbers, newest first: `status` (empty for
/// any) and a part of the name (empty for any) filter them.
#[server(endpoint = "list_campaigns")]
pub async fn list_campaigns(
    status: String,
    name: String,
    page: u32,
) -> Result<CampaignPage, ServerFnError> {
    use crate::backend::{engine, session::require_admin, unavailable};
    require_admin().await?;
    let filter = coupon::store::campaigns::CampaignFilter {
        status: coupon::CampaignStatus::from_stored(&status),
        name: Some(name.trim().to_owned()).filter(|name| !name.is_empty()),
        page,
    };
    let (reports, more) = engine()?.overview(&filter).await.map_err(unavailable)?;
    let now = chrono::Utc::now();
    let rows = reports
        .iter()
        .map(|report| {
            (
                CampaignView::from(&report.campaign),
                LiveNumbers::from_report(report, now),
            )
        })
        .collect();
    Ok(CampaignPage { rows, more })
}

/// How many claims of a campaign the sync set aside for each reason (PostgreSQL refused their
/// rows), the most frequent first.
pub type SetAsideReasons = Vec<(String, i64)>;

/// What the admin campaign page first shows: the campaign, its numbers, the claims the sync set
/// aside and, for a completed fair draw, its fairness report.
pub type AdminCampaignData = (
    CampaignView,
    LiveNumbers,
    SetAsideReasons,
    Option<FairnessView>,
);

/// One campaign with its numbers, the claims the sync set aside and, for a completed fair
/// draw, its fairness report; `None` if there is no such campaign.
#[server(endpoint = "campaign_detail")]
pub async fn campaign_detail(id: i64) -> Result<Option<AdminCampaignData>, ServerFnError> {
    use crate::backend::{engine, session::require_admin, unavailable};
    use coupon::draw::FairnessListing;
    require_admin().await?;
    let engine = engine()?;
    let id = coupon::CampaignId(id);
    let Some(report) = engine.status(id).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let set_aside = coupon::sync::set_aside_reasons(engine.db(), id)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let mut numbers = LiveNumbers::from_report(&report, chrono::Utc::now());
    if report.campaign.is_fair_draw() {
        let tallies = engine.draw_tallies(&[id]).await.map_err(unavailable)?;
        if let Some(tally) = tallies.get(&id) {
            numbers.entrants = Some(tally.entrants);
        }
    }
    // Its entry-time distribution is computed once per instance (src/draw/fairness.rs); a
    // failure leaves the page without the report rather than without everything.
    let fairness = if report.campaign.is_fair_draw() {
        match engine.fairness_report(id).await {
            Ok(FairnessListing::Report(fairness)) => Some(FairnessView::from(&*fairness)),
            Ok(FairnessListing::NotDone | FairnessListing::NoDraw) => None,
            Err(error) => {
                tracing::warn!(campaign = %id, %error, "fairness report unreadable");
                None
            }
        }
    } else {
        None
    };
    Ok(Some((
        CampaignView::from(&report.campaign),
        numbers,
        set_aside,
        fairness,
    )))
}

/// Creates a campaign; the new id, or every field to fix (nothing is written then).
#[server(endpoint = "create_campaign")]
pub async fn create_campaign(form: CampaignForm) -> Result<FormResult<i64>, ServerFnError> {
    use crate::backend::audit::admin_actor;
    use crate::backend::{engine, field_problems, session::require_admin, unavailable};
    let admin = require_admin().await?;
    let draft = match parse_form(&form) {
        Ok(draft) => draft,
        Err(problems) => return Ok(FormResult::Invalid(problems)),
    };
    match engine()?
        .create_campaign_by(&draft, &admin_actor(&admin))
        .await
    {
        Ok(campaign) => {
            tracing::info!(campaign = %campaign.id, name = %campaign.name, "campaign created");
            Ok(FormResult::Done(campaign.id.0))
        }
        Err(error) => match field_problems(&error) {
            Some(problems) => Ok(FormResult::Invalid(problems)),
            None => Err(unavailable(error)),
        },
    }
}

/// Pauses (`paused`), resumes (`active`) or ends (`ended`) a campaign.
#[server(endpoint = "set_campaign_status")]
pub async fn set_campaign_status(id: i64, status: String) -> Result<FormResult<()>, ServerFnError> {
    use crate::backend::audit::admin_actor;
    use crate::backend::{engine, session::require_admin};
    use coupon::CampaignStatus;
    let admin = require_admin().await?;
    let Some(status) = CampaignStatus::from_stored(&status) else {
        return Ok(invalid("status", "must be active, paused or ended"));
    };
    control_answer(
        engine()?
            .set_status_by(coupon::CampaignId(id), status, &admin_actor(&admin))
            .await,
    )
}

/// Changes a campaign's total quantity (never below what is already claimed).
#[server(endpoint = "set_campaign_quantity")]
pub async fn set_campaign_quantity(
    id: i64,
    quantity: String,
) -> Result<FormResult<()>, ServerFnError> {
    use crate::backend::audit::admin_actor;
    use crate::backend::{engine, session::require_admin};
    let admin = require_admin().await?;
    let Ok(quantity) = quantity.trim().parse::<i64>() else {
        return Ok(invalid("quantity", "must be a whole number"));
    };
    control_answer(
        engine()?
            .set_quantity_by(coupon::CampaignId(id), quantity, &admin_actor(&admin))
            .await,
    )
}

/// What a pause/resume/end or quantity change answers: done, the refused field, or (for a
/// broken dependency) an error.
#[cfg(feature = "ssr")]
fn control_answer(
    result: Result<Option<coupon::Campaign>, coupon::EngineError>,
) -> Result<FormResult<()>, ServerFnError> {
    use crate::backend::{field_problems, unavailable};
    match result {
        Ok(Some(_)) => Ok(FormResult::Done(())),
        Ok(None) => Ok(invalid("id", "no such campaign")),
        Err(error) => field_problems(&error)
            .map(FormResult::Invalid)
            .ok_or_else(|| unavailable(error)),
    }
}

#[cfg(feature = "ssr")]
fn invalid<T>(field: &str, reason: &str) -> FormResult<T> {
    FormResult::Invalid(vec![FieldProblem {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }])
}

/// Reads the typed text into a draft, naming every field that is not a number or a date.
#[cfg(feature = "ssr")]
fn parse_form(form: &CampaignForm) -> Result<coupon::CampaignDraft, Vec<FieldProblem>> {
    use crate::i18n::from_input_value;
    let mut problems = Vec::new();
    let mut number = |field: &str, raw: &str| -> i64 {
        raw.trim().replace(',', "").parse().unwrap_or_else(|_| {
            problems.push(FieldProblem {
                field: field.to_owned(),
                reason: "must be a whole number".to_owned(),
            });
            0
        })
    };
    let discount_amount = number("discount_amount", &form.discount_amount);
    let quantity = number("quantity", &form.quantity);
    let valid_days = number("valid_days", &form.valid_days);
    let mut optional = |field: &str, raw: &str| -> Option<i64> {
        (!raw.trim().is_empty()).then(|| number(field, raw))
    };
    let min_order_amount = optional("min_order_amount", &form.min_order_amount);
    let max_discount_amount = optional("max_discount_amount", &form.max_discount_amount);
    let bot_check_bits = optional("bot_check_bits", &form.bot_check_bits);
    let mut instant = |field: &str, raw: &str| {
        from_input_value(raw).unwrap_or_else(|| {
            problems.push(FieldProblem {
                field: field.to_owned(),
                reason: "must be a date and time".to_owned(),
            });
            chrono::DateTime::UNIX_EPOCH
        })
    };
    let claim_starts_at = instant("claim_starts_at", &form.claim_starts_at);
    let claim_ends_at = instant("claim_ends_at", &form.claim_ends_at);
    let entries_open_at = (!form.entries_open_at.trim().is_empty())
        .then(|| instant("entries_open_at", &form.entries_open_at));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(coupon::CampaignDraft {
        name: form.name.clone(),
        discount_kind: form.discount_kind.clone(),
        discount_amount,
        quantity,
        claim_starts_at,
        claim_ends_at,
        valid_days,
        min_order_amount,
        max_discount_amount,
        opening: entries_open_at.map(|_| "fair_draw".to_owned()),
        entries_open_at,
        bot_check_bits,
    })
}
