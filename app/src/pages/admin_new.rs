//! `/admin/campaigns/new`: the create form. Errors appear next to their field and what the
//! marketer typed stays in the form.

use crate::api::{
    BOT_CHECK_ABOUT_1S, BOT_CHECK_ABOUT_3S, CampaignForm, CreateCampaign, FormResult,
};
use crate::components::admin_gate::AdminGate;
use crate::components::field::Field;
use crate::i18n::to_input_value;
use crate::use_lang;
use leptos::prelude::*;

/// The create page.
#[component]
pub fn NewCampaignPage() -> impl IntoView {
    view! { <AdminGate><NewCampaignForm/></AdminGate> }
}

#[component]
fn NewCampaignForm() -> impl IntoView {
    let t = use_lang().texts();
    // Sensible defaults: opens now, runs for a week, coupons valid 30 days.
    let now = chrono::Utc::now();
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("fixed_amount".to_string());
    let amount = RwSignal::new("3000".to_string());
    let quantity = RwSignal::new("500".to_string());
    let starts = RwSignal::new(to_input_value(now));
    let ends = RwSignal::new(to_input_value(now + chrono::Duration::days(7)));
    let valid_days = RwSignal::new("30".to_string());
    let min_order = RwSignal::new(String::new());
    let max_discount = RwSignal::new(String::new());
    // Empty: first come, first served; a time: a fair draw with entries from then.
    let entries_open = RwSignal::new(String::new());
    // Leading zero bits of the web's bot check: 0 is off (src/bot_check/).
    let bot_check = RwSignal::new("0".to_string());

    let create = ServerAction::<CreateCampaign>::new();
    let result = create.value();
    let problem = move |field: &'static str| {
        Signal::derive(move || match result.get() {
            Some(Ok(outcome)) => outcome.problem(field),
            _ => None,
        })
    };
    let failure = move || match result.get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(FormResult::Done(id))) = result.get() {
            navigate(&format!("/admin/campaigns/{id}"), Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateCampaign {
            form: CampaignForm {
                name: name.get_untracked(),
                discount_kind: kind.get_untracked(),
                discount_amount: amount.get_untracked(),
                quantity: quantity.get_untracked(),
                claim_starts_at: starts.get_untracked(),
                claim_ends_at: ends.get_untracked(),
                valid_days: valid_days.get_untracked(),
                min_order_amount: min_order.get_untracked(),
                max_discount_amount: max_discount.get_untracked(),
                entries_open_at: entries_open.get_untracked(),
                bot_check_bits: bot_check.get_untracked(),
            },
        });
    };
    let kind_error = problem("discount_kind");
    let bot_check_error = problem("bot_check_bits");
    view! {
        <section class="panel narrow">
            <h1>{t.new_campaign}</h1>
            <form class="form" on:submit=submit novalidate>
                <Field label=t.name name="name" value=name error=problem("name")/>
                <div class="field" class:invalid=move || kind_error.get().is_some()>
                    <label for="field-discount_kind">{t.discount_kind}</label>
                    <select id="field-discount_kind" name="discount_kind" bind:value=kind>
                        <option value="fixed_amount">{t.fixed_amount}</option>
                        <option value="percentage">{t.percentage}</option>
                    </select>
                    <p class="error" role="alert">{move || kind_error.get()}</p>
                </div>
                <div class="row">
                    <Field label=t.discount_amount name="discount_amount" value=amount error=problem("discount_amount") kind="number"/>
                    <Field label=t.quantity name="quantity" value=quantity error=problem("quantity") kind="number"/>
                </div>
                <div class="row">
                    <Field label=t.claim_starts_at name="claim_starts_at" value=starts error=problem("claim_starts_at") kind="datetime-local"/>
                    <Field label=t.claim_ends_at name="claim_ends_at" value=ends error=problem("claim_ends_at") kind="datetime-local"/>
                </div>
                <Field label=t.entries_open_at name="entries_open_at" value=entries_open error=problem("entries_open_at") kind="datetime-local" hint=t.fair_draw_hint/>
                <p class="hint">{t.times_in_kst}</p>
                <Field label=t.valid_days name="valid_days" value=valid_days error=problem("valid_days") kind="number"/>
                <div class="row">
                    <Field label=t.min_order_amount name="min_order_amount" value=min_order error=problem("min_order_amount") kind="number" hint=t.optional_hint/>
                    <Field label=t.max_discount_amount name="max_discount_amount" value=max_discount error=problem("max_discount_amount") kind="number" hint=t.optional_hint/>
                </div>
                <div class="field" class:invalid=move || bot_check_error.get().is_some()>
                    <label for="field-bot_check_bits">{t.bot_check}</label>
                    <select id="field-bot_check_bits" name="bot_check_bits" bind:value=bot_check>
                        <option value="0">{t.bot_check_off}</option>
                        <option value=BOT_CHECK_ABOUT_1S.to_string()>{t.bot_check_about_1s}</option>
                        <option value=BOT_CHECK_ABOUT_3S.to_string()>{t.bot_check_about_3s}</option>
                    </select>
                    <p class="hint">{t.bot_check_hint}</p>
                    <p class="error" role="alert">{move || bot_check_error.get()}</p>
                </div>
                <p class="error" role="alert">{failure}</p>
                <button type="submit" class="primary" disabled=move || create.pending().get()>{t.create}</button>
            </form>
        </section>
    }
}
