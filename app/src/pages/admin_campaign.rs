//! `/admin/campaigns/:id`: one campaign draining live, with the marketer's controls, and a
//! completed fair draw's fairness report.

use crate::api::{
    AdminCampaignData, CampaignView, FormResult, LiveNumbers, SetAsideReasons, SetCampaignQuantity,
    SetCampaignStatus, campaign_detail,
};
use crate::components::admin_gate::AdminGate;
use crate::components::chart::ClaimsChart;
use crate::components::fairness::FairnessSection;
use crate::components::live::use_live;
use crate::i18n::{
    Lang, format_count, format_discount, format_rate, format_seconds_tenths, format_time,
    format_validity, format_won,
};
use crate::pages::{id_param, status_label, window_text};
use crate::use_lang;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The campaign, its numbers, the claims the sync set aside and a completed fair draw's
/// fairness report, as the page first shows them.
type Detail = Resource<Result<Option<AdminCampaignData>, ServerFnError>>;

/// The campaign page.
#[component]
pub fn CampaignPage() -> impl IntoView {
    // Created here, outside the gate (see `AdminGate`). For a visitor who is not signed in the
    // server function refuses, and the gate shows the sign-in form instead.
    let params = use_params_map();
    let id = move || id_param(params.read().get("id"));
    let detail: Detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => campaign_detail(id).await,
            None => Ok(None),
        }
    });
    view! { <AdminGate><CampaignDetail detail/></AdminGate> }
}

#[component]
fn CampaignDetail(detail: Detail) -> impl IntoView {
    let t = use_lang().texts();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some((campaign, numbers, set_aside, fairness))) => {
                        let id = campaign.id;
                        view! {
                            <LiveCampaign campaign numbers set_aside on_change=move || detail.refetch()/>
                            {fairness.map(|fairness| view! { <FairnessSection id fairness/> })}
                        }.into_any()
                    }
                    Ok(None) => view! { <p class="empty">{t.not_found}</p> }.into_any(),
                    Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LiveCampaign(
    campaign: CampaignView,
    numbers: LiveNumbers,
    set_aside: SetAsideReasons,
    on_change: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let id = campaign.id;
    let (pushed, connected) = use_live::<LiveNumbers>(format!("/admin/live/campaigns/{id}"));
    let live = Signal::derive(move || pushed.get().unwrap_or_else(|| numbers.clone()));
    let per_second = Signal::derive(move || live.get().per_second);
    let stat = move |value: Signal<String>, label: &'static str, test_id: &'static str| {
        view! {
            <div class="stat">
                <span class="stat-value" data-testid=test_id>{value}</span>
                <span class="stat-label">{label}</span>
            </div>
        }
    };
    let remaining = Signal::derive(move || {
        live.get()
            .remaining
            .map(format_count)
            .unwrap_or_else(|| "–".into())
    });
    let claimed = Signal::derive(move || format_count(live.get().claimed));
    let synced = Signal::derive(move || format_count(live.get().synced));
    let queued = Signal::derive(move || format_count(live.get().queued));
    let redeemed = Signal::derive(move || format_count(live.get().redeemed));
    let held = Signal::derive(move || format_count(live.get().held));
    let expired = Signal::derive(move || format_count(live.get().expired));
    let rate = Signal::derive(move || {
        let live = live.get();
        format_rate(live.redeemed, live.claimed.max(live.synced))
    });
    let granted = Signal::derive(move || format_won(lang, live.get().discount_granted));
    let oldest = Signal::derive(move || {
        live.get()
            .oldest_waiting_ms
            .map(|ms| format!("{}{}", format_seconds_tenths(ms), t.seconds_short))
            .unwrap_or_else(|| "–".into())
    });
    let last_sync = move || {
        live.get()
            .last_synced_at
            .map(format_time)
            .unwrap_or_else(|| t.never.to_string())
    };
    let status = move || live.get().status;
    let entrants = Signal::derive(move || {
        live.get()
            .entrants
            .map(format_count)
            .unwrap_or_else(|| "–".into())
    });
    view! {
        <section class="panel">
            <div class="panel-head">
                <div>
                    <h1>{campaign.name.clone()}</h1>
                    <p class="muted">
                        {format_discount(lang, &campaign.discount_kind, campaign.discount_amount)}
                        " · " {window_text(lang, campaign.claim_starts_at, campaign.claim_ends_at)}
                        " · " {format_validity(lang, campaign.valid_days)}
                    </p>
                </div>
                <span class=move || format!("badge {}", status()) data-testid="status">
                    {move || status_label(t, &status())}
                </span>
            </div>
            <p class="live-state" role="status">
                {move || if connected.get() {
                    view! { <span class="dot good"></span> {t.live} }.into_any()
                } else {
                    view! { <span class="dot bad"></span> {t.reconnecting} }.into_any()
                }}
            </p>
            <div class="stats">
                {stat(remaining, t.remaining, "remaining")}
                {stat(claimed, t.claimed, "claimed")}
                {stat(synced, t.synced, "synced")}
                {stat(queued, t.waiting, "queued")}
                {stat(oldest, t.oldest_waiting, "oldest")}
            </div>
            <div class="stats">
                {stat(redeemed, t.redeemed, "redeemed")}
                {stat(held, t.held, "held")}
                {stat(expired, t.expired, "expired")}
                {stat(rate, t.redemption_rate, "redemption-rate")}
                {stat(granted, t.discount_granted, "discount-granted")}
            </div>
            // A fair draw's entrants so far, from the same stream.
            {campaign.is_fair_draw().then(|| view! {
                <div class="stats">
                    {stat(entrants, t.entrants, "entrants")}
                </div>
            })}
            <p class="sync-line">
                {t.last_sync} ": " <span data-testid="last-sync">{last_sync}</span>
                {move || live.get().redis_node.map(|node| view! {
                    " · " {t.redis_node} ": " <span data-testid="redis-node">{node}</span>
                })}
                {move || live.get().last_sync_error.map(|error| view! {
                    <span class="bad" role="alert">" · " {t.sync_error} ": " {error}</span>
                })}
            </p>
            {set_aside_line(lang, &set_aside).map(|line| view! {
                <p class="bad" role="alert" data-testid="set-aside">{line}</p>
            })}
            {move || live.get().replicas_missing.map(|connected| view! {
                <p class="bad" role="alert" data-testid="replicas-missing">
                    {t.replicas_missing} " (" {connected} ")"
                </p>
            })}
            <ClaimsChart per_second label=t.claims_per_second/>
        </section>
        <Controls id quantity=campaign.quantity status=Signal::derive(status) on_change/>
    }
}

/// "3 claims set aside by the sync: reason (2); other reason (1)", as of the page's loading;
/// `None` when there are none. (Its words are here, not in the texts: one line, shown rarely.)
fn set_aside_line(lang: Lang, reasons: &[(String, i64)]) -> Option<String> {
    let total: i64 = reasons.iter().map(|(_, count)| count).sum();
    if total == 0 {
        return None;
    }
    let listed: Vec<String> = reasons
        .iter()
        .map(|(reason, count)| format!("{reason} ({})", format_count(*count)))
        .collect();
    let count = format_count(total);
    let listed = listed.join("; ");
    Some(match lang {
        Lang::Ko => format!("동기화가 보류한 발급 {count}건: {listed}"),
        Lang::En => format!("{count} claims set aside by the sync: {listed}"),
    })
}

/// Pause / resume / end, the quantity change, the export and the claim page link.
#[component]
fn Controls(
    id: i64,
    quantity: i64,
    #[prop(into)] status: Signal<String>,
    on_change: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let t = use_lang().texts();
    let set_status = ServerAction::<SetCampaignStatus>::new();
    let set_quantity = ServerAction::<SetCampaignQuantity>::new();
    let new_quantity = RwSignal::new(quantity.to_string());
    let changed = on_change.clone();
    Effect::new(move |_| {
        if let Some(Ok(FormResult::Done(()))) = set_status.value().get() {
            changed();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(FormResult::Done(()))) = set_quantity.value().get() {
            on_change();
        }
    });
    let status_problem = move || match set_status.value().get() {
        Some(Ok(result)) => result.problem("status"),
        Some(Err(error)) => Some(error.to_string()),
        None => None,
    };
    let quantity_problem = move || match set_quantity.value().get() {
        Some(Ok(result)) => result.problem("quantity"),
        Some(Err(error)) => Some(error.to_string()),
        None => None,
    };
    let switch = move |to: &'static str| {
        move |_| {
            set_status.dispatch(SetCampaignStatus {
                id,
                status: to.to_string(),
            });
        }
    };
    let ended = move || status.get() == "ended";
    // Ending cannot be undone, so the browser asks first, saying so. (Its own dialog: an
    // in-page one took the wasm bundle over its budget; docs/benchmark.md, 2026-12-02.)
    let end_clicked = move |_| {
        if confirmed(t.end_cannot_be_undone) {
            set_status.dispatch(SetCampaignStatus {
                id,
                status: "ended".to_string(),
            });
        }
    };
    view! {
        <section class="panel controls">
            <div class="button-row">
                <Show when=move || status.get() == "active">
                    <button on:click=switch("paused")>{t.pause}</button>
                </Show>
                <Show when=move || status.get() == "paused">
                    <button class="primary" on:click=switch("active")>{t.resume}</button>
                </Show>
                <Show when=move || !ended()>
                    <button class="danger" on:click=end_clicked>{t.end_campaign}</button>
                </Show>
                <a class="button" href=format!("/admin/campaigns/{id}/coupons.csv") rel="external" download>{t.export_csv}</a>
                <a class="button" href=format!("/c/{id}")>{t.claim_page}</a>
            </div>
            <p class="error" role="alert">{status_problem}</p>
            <Show when=move || !ended()>
                <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    set_quantity.dispatch(SetCampaignQuantity { id, quantity: new_quantity.get_untracked() });
                }>
                    <label for="new-quantity">{t.change_quantity}</label>
                    <input id="new-quantity" name="quantity" type="number" min="1" bind:value=new_quantity/>
                    <button type="submit" disabled=move || set_quantity.pending().get()>{t.apply}</button>
                </form>
                <p class="error" role="alert">{quantity_problem}</p>
            </Show>
        </section>
    }
}

/// Whether the person said yes to `question` in the browser's own dialog (never on the server,
/// where nobody clicks).
fn confirmed(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return web_sys::window()
        .and_then(|window| window.confirm_with_message(question).ok())
        .unwrap_or(false);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}
