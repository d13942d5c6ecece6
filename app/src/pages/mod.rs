//! One module per page.

pub mod admin_campaign;
pub mod admin_coupons;
pub mod admin_list;
pub mod admin_login;
pub mod admin_new;
pub mod claim;
pub mod home;

use crate::i18n::{Lang, Texts};

/// A campaign status in words.
pub fn status_label(t: &Texts, status: &str) -> &'static str {
    match status {
        "active" => t.active,
        "paused" => t.paused,
        _ => t.ended,
    }
}

/// The campaign id in the route, if it is a number.
pub fn id_param(raw: Option<String>) -> Option<i64> {
    raw.and_then(|id| id.parse().ok())
}

/// "from – to" in the page language.
pub fn window_text(
    lang: Lang,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> String {
    use crate::i18n::format_datetime;
    format!(
        "{} – {}",
        format_datetime(lang, from),
        format_datetime(lang, to)
    )
}
