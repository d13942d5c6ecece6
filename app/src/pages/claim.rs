//! `/c/:id`: the end user's claim page. Works as plain HTML forms before the wasm has loaded
//! (each form posts, the server redirects back, and the page renders the member's state), and
//! without reloads once it has.

use crate::api::{
    Claim, ClaimPageData, ClaimView, FormResult, MemberSignIn, PublicNumbers, claim_page,
};
use crate::components::live::use_live;
use crate::i18n::{Lang, format_count, format_datetime, format_discount};
use crate::pages::{id_param, window_text};
use crate::use_lang;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The claim page.
#[component]
pub fn ClaimPage() -> impl IntoView {
    let t = use_lang().texts();
    let params = use_params_map();
    let id = move || id_param(params.read().get("id"));
    let sign_in = ServerAction::<MemberSignIn>::new();
    // Signing in changes what the page shows: reload its data after each sign-in.
    let page = Resource::new(
        move || (id(), sign_in.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => claim_page(id).await,
                None => Ok(None),
            }
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(Some(data)) => view! { <ClaimCard data sign_in/> }.into_any(),
                    Ok(None) => view! { <p class="empty">{t.not_found}</p> }.into_any(),
                    Err(_) => view! { <p class="error">{t.try_again}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ClaimCard(data: ClaimPageData, sign_in: ServerAction<MemberSignIn>) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let campaign = data.campaign.clone();
    let id = campaign.id;
    let (pushed, _connected) = use_live::<PublicNumbers>(format!("/live/campaigns/{id}"));
    let initial = data.numbers.clone();
    let remaining = move || {
        pushed
            .get()
            .unwrap_or_else(|| initial.clone())
            .remaining
            .map(format_count)
            .unwrap_or_else(|| "–".into())
    };
    let valid_days = campaign.valid_days;
    view! {
        <article class="claim-card">
            <p class="discount big">{format_discount(lang, &campaign.discount_kind, campaign.discount_amount)}</p>
            <h1>{campaign.name.clone()}</h1>
            <p class="muted">{t.claim_window} ": " {window_text(lang, campaign.claim_starts_at, campaign.claim_ends_at)}</p>
            <p class="remaining">
                <span data-testid="remaining">{remaining}</span>
                " / " {format_count(campaign.quantity)} " " {t.left}
            </p>
            {match data.member.clone() {
                None if data.demo_sign_in => view! { <MemberSignInForm sign_in/> }.into_any(),
                None => view! { <p class="muted" data-testid="sign-in-at-shop">{t.member_from_shop}</p> }.into_any(),
                // A form may not sit inside a <p>: the browser would close the paragraph
                // before it and hydration would not find what the server rendered.
                Some(member) => view! {
                    <div class="muted member">
                        <span>{t.signed_in_as} " " <strong>{member}</strong></span>
                        // A plain form: signing out reloads the page (the server answers the
                        // post by sending the browser back), which costs the bundle nothing.
                        {data.member_in_session.then(|| view! {
                            <form method="post" action="/api/sign_out" class="inline">
                                <button type="submit" class="link">{t.sign_out}</button>
                            </form>
                        })}
                    </div>
                    <ClaimBox id initial=data.state.clone() valid_days/>
                }.into_any(),
            }}
        </article>
    }
}

/// The demo sign-in (`MEMBER_DEMO_SIGN_IN`): the visitor types any member id.
#[component]
fn MemberSignInForm(sign_in: ServerAction<MemberSignIn>) -> impl IntoView {
    let t = use_lang().texts();
    let problem = move || match sign_in.value().get() {
        Some(Ok(FormResult::Invalid(problems))) => problems.first().map(|p| p.reason.clone()),
        Some(Err(_)) => Some(t.try_again.to_string()),
        _ => None,
    };
    view! {
        <ActionForm action=sign_in attr:class="form">
            <p>{t.member_sign_in_hint}</p>
            <div class="field">
                <label for="member_id">{t.member_id}</label>
                <input id="member_id" name="member_id" autocomplete="username" required/>
                <p class="error" role="alert">{problem}</p>
            </div>
            <button type="submit" class="primary">{t.continue_label}</button>
        </ActionForm>
    }
}

/// The Claim button, or what stands in its place: the coupon, or why there is none.
#[component]
fn ClaimBox(id: i64, initial: Option<ClaimView>, valid_days: i32) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let claim = ServerAction::<Claim>::new();
    let state = move || match claim.value().get() {
        Some(Ok(view)) => Some(view),
        Some(Err(_)) => Some(ClaimView::Unavailable),
        None => initial.clone(),
    };
    view! {
        <div class="claim-box" aria-live="polite">
            {move || match state() {
                Some(ClaimView::Issued { coupon, just_now }) => {
                    let until = coupon.claimed_at + chrono::Duration::days(i64::from(valid_days));
                    let usage = match coupon.redeemed_at {
                        Some(at) => format!("{} {}", t.used_on, format_datetime(lang, at)),
                        None if until <= chrono::Utc::now() => {
                            format!("{} · {} {}", t.expired, t.use_it_within, format_datetime(lang, until))
                        }
                        None => format!("{} {}", t.use_it_within, format_datetime(lang, until)),
                    };
                    view! {
                        <div class="coupon" class:used=coupon.redeemed_at.is_some() data-testid="coupon">
                            <p class="outcome good">{if just_now { t.your_coupon } else { t.already_claimed }}</p>
                            <p class="code" data-testid="coupon-code">{coupon.code}</p>
                            <p class="muted" data-testid="coupon-usage">{usage}</p>
                        </div>
                    }.into_any()
                }
                Some(ClaimView::CanClaim) | None => claim_button(claim, id, lang).into_any(),
                Some(ClaimView::Unavailable) => view! {
                    <p class="outcome bad" role="alert">{t.try_again}</p>
                    {claim_button(claim, id, lang)}
                }.into_any(),
                Some(refusal) => refusal_message(lang, &refusal).into_any(),
            }}
        </div>
    }
}

fn claim_button(claim: ServerAction<Claim>, id: i64, lang: Lang) -> impl IntoView {
    let t = lang.texts();
    view! {
        <ActionForm action=claim>
            <input type="hidden" name="campaign_id" value=id.to_string()/>
            <button type="submit" class="primary huge" disabled=move || claim.pending().get()>
                {move || if claim.pending().get() { t.claiming } else { t.claim }}
            </button>
        </ActionForm>
    }
}

fn refusal_message(lang: Lang, refusal: &ClaimView) -> impl IntoView + use<> {
    let t = lang.texts();
    let text = match refusal {
        ClaimView::SoldOut => t.sold_out.to_string(),
        ClaimView::NotOpen { opens_at } => {
            format!(
                "{} {} {}",
                t.not_open_yet,
                t.opens_at,
                format_datetime(lang, *opens_at)
            )
        }
        ClaimView::Paused => t.campaign_paused.to_string(),
        ClaimView::Entered { draw_at } => {
            format!("{} {}", t.entered_draw, format_datetime(lang, *draw_at))
        }
        ClaimView::NotDrawn => t.not_drawn.to_string(),
        _ => t.campaign_ended.to_string(),
    };
    view! { <p class="outcome bad" role="status" data-testid="outcome">{text}</p> }
}
