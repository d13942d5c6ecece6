//! The header on every page: the product name, the admin link and the language switch.

use crate::use_lang;
use leptos::prelude::*;

/// Top bar. The language links are plain links to a server route that remembers the choice in
/// a cookie and sends the browser back, so they work with or without the wasm bundle.
#[component]
pub fn Header() -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark">"%"</span>
                {t.app_name}
            </a>
            <nav>
                <a href="/admin">{t.admin}</a>
                <span class="lang-switch" aria-label=t.language>
                    <a href="/lang/ko" rel="external" class:current=lang.tag() == "ko">"한국어"</a>
                    <a href="/lang/en" rel="external" class:current=lang.tag() == "en">"English"</a>
                </span>
            </nav>
        </header>
    }
}
