//! `/`: the campaigns an end user can claim from.

use crate::api::open_campaigns;
use crate::i18n::format_discount;
use crate::pages::window_text;
use crate::use_lang;
use leptos::prelude::*;

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let campaigns = Resource::new(|| (), |_| open_campaigns());
    view! {
        <section class="hero">
            <h1>{t.app_name}</h1>
            <p>{t.tagline}</p>
        </section>
        <section class="panel">
            <h2>{t.open_campaigns}</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = campaigns.await.unwrap_or_default();
                    if list.is_empty() {
                        return view! { <p class="empty">{t.no_open_campaigns}</p> }.into_any();
                    }
                    view! {
                        <ul class="cards">
                            {list.into_iter().map(|c| view! {
                                <li class="card">
                                    <a href=format!("/c/{}", c.id)>
                                        <strong>{c.name.clone()}</strong>
                                        <span class="discount">{format_discount(lang, &c.discount_kind, c.discount_amount)}</span>
                                        <span class="muted">{window_text(lang, c.claim_starts_at, c.claim_ends_at)}</span>
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
