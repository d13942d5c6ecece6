//! `/admin/coupons?q=…`: one coupon by its code, or a member's coupons, with state and history.

use crate::api::{FoundCoupon, find_coupons};
use crate::components::admin_gate::AdminGate;
use crate::i18n::{Texts, format_datetime, format_won};
use crate::use_lang;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The search page.
#[component]
pub fn CouponSearchPage() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| query.get().get("q").unwrap_or_default());
    // Created here, outside the gate (see `AdminGate`).
    let found: Found = Resource::new(move || asked.get(), find_coupons);
    view! { <AdminGate><CouponSearch found asked/></AdminGate> }
}

type Found = Resource<Result<Vec<FoundCoupon>, ServerFnError>>;

#[component]
fn CouponSearch(found: Found, asked: Memo<String>) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let at = move |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|at| format_datetime(lang, at))
            .unwrap_or_default()
    };
    view! {
        <section class="panel">
            <h1>{t.coupon_search}</h1>
            <form class="filters" method="get" action="/admin/coupons">
                <input type="search" name="q" aria-label=t.code_or_member
                    placeholder=t.code_or_member prop:value=move || asked.get()/>
                <button type="submit">{t.search}</button>
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let coupons = found.await.unwrap_or_default();
                    if coupons.is_empty() {
                        let searched = !asked.get_untracked().trim().is_empty();
                        return searched
                            .then(|| view! { <p class="empty">{t.nothing_found}</p> })
                            .into_any();
                    }
                    coupons.into_iter().map(|coupon| view! {
                        <article class="found" data-testid="found-coupon">
                            <p>
                                <span class="code">{coupon.code.clone()}</span> " "
                                <span class=format!("badge {}", coupon.state) data-testid="coupon-state">
                                    {state_label(t, &coupon.state)}
                                </span>
                            </p>
                            <p class="muted">
                                <a href=format!("/admin/campaigns/{}", coupon.campaign_id)>
                                    {format!("#{}", coupon.campaign_id)}
                                </a>
                                " · " {coupon.user_id.clone()}
                                " · " {at(coupon.claimed_at_ms)}
                                " · " {t.use_it_within} " " {at(coupon.expires_at_ms)}
                                {coupon.order_id.clone().map(|order| format!(" · {} {order}", t.order))}
                            </p>
                            {(!coupon.history.is_empty()).then(|| view! {
                                <table class="history">
                                    <caption>{t.history}</caption>
                                    <tbody>
                                        {coupon.history.iter().map(|line| view! {
                                            <tr>
                                                <td>{at(line.at_ms)}</td>
                                                <td>{state_label(t, &line.kind)}</td>
                                                <td>{line.order_id.clone()}</td>
                                                <td class="num">{line.order_amount.map(|a| format_won(lang, a))}</td>
                                                <td class="num">{line.discount.map(|d| format!("−{}", format_won(lang, d)))}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            })}
                        </article>
                    }).collect_view().into_any()
                })}
            </Suspense>
        </section>
    }
}

/// A coupon state or history entry in words.
fn state_label(t: &Texts, state: &str) -> &'static str {
    match state {
        "held" => t.held,
        "redeemed" => t.redeemed,
        "expired" => t.expired,
        "released" => t.released,
        _ => t.available,
    }
}
