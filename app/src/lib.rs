//! The Leptos UI: the HTML shell rendered by the server, the routes, and the browser's hydrate
//! entry point.
//!
//! Layout: [`api`] holds the server functions and the values they exchange (compiled on both
//! sides); `backend` (server only) finds what they need there in the request's context (the
//! engine, the session, the `coupon_access` handle that decides who may do what);
//! [`pages`] and [`components`] are the UI; [`i18n`] the Korean and English texts.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod components;
pub mod i18n;
pub mod pages;

use i18n::Lang;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let lang = request_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: routes and page chrome.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = request_lang();
    provide_context(lang);
    let t = lang.texts();
    view! {
        <Stylesheet id="leptos" href="/pkg/coupon.css"/>
        <Title text=t.app_name/>
        <Router>
            <components::layout::Header/>
            <main>
                <Routes fallback=move || view! { <p class="empty">{t.not_found}</p> }>
                    // The public pages are rendered whole before they are sent, so they work
                    // without JavaScript (streamed Suspense content needs a script to appear).
                    <Route path=path!("") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/c/:id") view=pages::claim::ClaimPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=pages::admin_list::CampaignListPage/>
                    <Route path=path!("/admin/login") view=pages::admin_login::AdminLoginPage/>
                    <Route path=path!("/admin/campaigns/new") view=pages::admin_new::NewCampaignPage/>
                    <Route path=path!("/admin/coupons") view=pages::admin_coupons::CouponSearchPage/>
                    <Route path=path!("/admin/audit") view=pages::admin_audit::AuditLogPage/>
                    <Route path=path!("/admin/campaigns/:id") view=pages::admin_campaign::CampaignPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// The page language of this request: on the server from the `lang` cookie and the
/// `Accept-Language` header; in the browser from `<html lang>`, which the server set.
fn request_lang() -> Lang {
    if let Some(lang) = use_context::<Lang>() {
        return lang;
    }
    #[cfg(feature = "ssr")]
    {
        // Read in place, like the server functions' helpers: no copy of the request's headers.
        let negotiated = with_context(|parts: &axum::http::request::Parts| {
            let header = |name| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            };
            let cookie = header(axum::http::header::COOKIE).and_then(|cookies| {
                cookies.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    (name == i18n::LANG_COOKIE).then_some(value)
                })
            });
            Lang::negotiate(cookie, header(axum::http::header::ACCEPT_LANGUAGE))
        });
        if let Some(lang) = negotiated {
            return lang;
        }
    }
    #[cfg(feature = "hydrate")]
    {
        let tag = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"));
        if let Some(lang) = tag.as_deref().and_then(Lang::from_tag) {
            return lang;
        }
    }
    Lang::default()
}

/// The language of the page being rendered.
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// Browser entry point: attaches the wasm app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Lets end-to-end tests (and curious operators) see that the page is interactive.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
