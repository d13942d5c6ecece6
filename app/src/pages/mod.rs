//! One module per page.

pub mod admin_audit;
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

/// `key=value` for each non-empty value, percent-encoded. Written here rather than with
/// leptos_router's `ParamsMap::to_query_string`, whose escaping differs between the server and
/// the browser (the hydrated links would not match the ones the server rendered).
pub fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| {
            let encoded: String = value
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{key}={encoded}")
        })
        .collect()
}

/// `path` with the query pairs (already encoded) after it, or alone when there are none.
pub fn with_query(path: &str, query: &[String]) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}
