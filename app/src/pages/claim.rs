//! `/c/:id`: the end user's claim page. Works as plain HTML forms before the wasm has loaded
//! (each form posts, the server redirects back, and the page renders the member's state), and
//! without reloads once it has.

use crate::api::{
    Claim, ClaimPageData, ClaimView, DrawView, FormResult, MemberSignIn, PublicNumbers, claim_page,
};
use crate::components::live::use_live;
use crate::i18n::{Lang, format_count, format_countdown, format_datetime, format_discount};
use crate::pages::{id_param, window_text};
use crate::use_lang;
use chrono::{DateTime, Utc};
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
    let live = Signal::derive(move || pushed.get().unwrap_or_else(|| initial.clone()));
    let remaining = move || {
        live.with(|numbers| numbers.remaining)
            .map(format_count)
            .unwrap_or_else(|| "–".into())
    };
    let now = clock(data.rendered_at, campaign.is_fair_draw());
    let draw = RwSignal::new(data.draw.clone());
    let valid_days = campaign.valid_days;
    let bot_check = campaign.bot_check_bits > 0;
    let line = campaign.entries_open_at.map(|entries_open_at| Line {
        entries_open_at,
        draw_at: campaign.claim_starts_at,
        now,
        live,
        draw,
    });
    // What the member sees: the page's data, then the answer to their claim, or their result
    // once the draw is completed (asked for by `follow_the_draw`).
    let claim = ServerAction::<Claim>::new();
    let state = RwSignal::new(match claim.value().get_untracked() {
        Some(Ok(view)) => Some(view),
        Some(Err(_)) => Some(ClaimView::Unavailable),
        None => data.state.clone(),
    });
    Effect::new(move |_| match claim.value().get() {
        Some(Ok(view)) => state.set(Some(view)),
        Some(Err(_)) => state.set(Some(ClaimView::Unavailable)),
        None => {}
    });
    if let Some(line) = line {
        follow_the_draw(id, line, state);
    }
    view! {
        <article class="claim-card">
            <p class="discount big">{format_discount(lang, &campaign.discount_kind, campaign.discount_amount)}</p>
            <h1>{campaign.name.clone()}</h1>
            <p class="muted">{t.claim_window} ": " {window_text(lang, campaign.claim_starts_at, campaign.claim_ends_at)}</p>
            {line.map(|_| view! { <p class="badge fair-draw">{t.fair_draw}</p> })}
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
                    <ClaimBox id claim state valid_days line bot_check/>
                }.into_any(),
            }}
            {bot_check.then(bot_check_script)}
            {line.map(|line| view! { <DrawProof line member=data.member.clone()/> })}
        </article>
    }
}

/// A campaign with a bot check: the script that solves it (public/pow.js, loaded by this page
/// only, never part of the wasm bundle: it fills the claim form's `bot_challenge` and
/// `bot_nonce` before the form is sent, also before the wasm has loaded), and without
/// JavaScript, why the claim cannot work. The `<noscript>` is written as inner HTML, so that
/// hydration never walks what a browser with scripts reads as plain text.
fn bot_check_script() -> impl IntoView {
    let t = use_lang().texts();
    let needs_js = format!(
        "<p class=\"outcome bad\" data-testid=\"bot-check-needs-js\">{}</p>",
        t.bot_check_needs_js
    );
    view! {
        <noscript inner_html=needs_js></noscript>
        <script src="/pow.js" defer></script>
    }
}

/// A fair draw's line as the page follows it: the times, the clock, the live numbers and what
/// the page knows of the draw (its result once completed).
#[derive(Clone, Copy)]
struct Line {
    entries_open_at: DateTime<Utc>,
    draw_at: DateTime<Utc>,
    now: RwSignal<DateTime<Utc>>,
    live: Signal<PublicNumbers>,
    draw: RwSignal<Option<DrawView>>,
}

/// Where a fair draw stands, as the page shows it; changes a few times in the page's life, so
/// the parts of the page that depend on it are built again only then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    BeforeEntries,
    Entries,
    Drawing,
    Done,
}

impl Line {
    fn phase(self) -> Memo<Phase> {
        Memo::new(move |_| {
            let now = self.now.get();
            if self
                .draw
                .with(|draw| draw.as_ref().is_some_and(|draw| draw.completed))
            {
                Phase::Done
            } else if now < self.entries_open_at {
                Phase::BeforeEntries
            } else if now < self.draw_at {
                Phase::Entries
            } else {
                Phase::Drawing
            }
        })
    }

    /// Time left until `at`, ticking.
    fn countdown(self, lang: Lang, at: DateTime<Utc>) -> impl Fn() -> String + Copy {
        move || format_countdown(lang, (at - self.now.get()).num_seconds())
    }

    fn entrants(self) -> impl Fn() -> String + Copy {
        move || {
            self.live
                .with(|numbers| numbers.entrants)
                .map(format_count)
                .unwrap_or_else(|| "–".into())
        }
    }
}

/// The page's clock: the server's render time at first (so the browser's first render is the
/// server's), then, for a fair draw's countdowns, the browser's own every half second.
fn clock(rendered_at: DateTime<Utc>, ticking: bool) -> RwSignal<DateTime<Utc>> {
    let now = RwSignal::new(rendered_at);
    #[cfg(feature = "hydrate")]
    {
        if ticking {
            Effect::new(move |_| {
                now.set(Utc::now());
                let tick = move || now.set(Utc::now());
                let every = std::time::Duration::from_millis(500);
                if let Ok(handle) = set_interval_with_handle(tick, every) {
                    on_cleanup(move || handle.clear());
                }
            });
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ticking;
    now
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

/// The Claim button, or what stands in its place: the coupon, or why there is none. For a fair
/// draw, the line: a countdown to the entries, the button that enters, "entered" with the
/// entrants so far and a countdown to the draw, then the result, shown without a reload.
#[component]
fn ClaimBox(
    id: i64,
    claim: ServerAction<Claim>,
    state: RwSignal<Option<ClaimView>>,
    valid_days: i32,
    line: Option<Line>,
    /// The campaign has a bot check: the claim form carries its solution.
    bot_check: bool,
) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    let phase = line.map(Line::phase);
    let phase = move || phase.map(|phase| phase.get());
    let entering = move || matches!(phase(), Some(Phase::BeforeEntries | Phase::Entries));
    view! {
        <div class="claim-box" aria-live="polite">
            {move || match (state.get(), phase()) {
                (Some(ClaimView::Issued { coupon, just_now }), _) => {
                    let until = coupon.claimed_at + chrono::Duration::days(i64::from(valid_days));
                    let usage = match coupon.redeemed_at {
                        Some(at) => format!("{} {}", t.used_on, format_datetime(lang, at)),
                        None if until <= chrono::Utc::now() => {
                            format!("{} · {} {}", t.expired, t.use_it_within, format_datetime(lang, until))
                        }
                        None => format!("{} {}", t.use_it_within, format_datetime(lang, until)),
                    };
                    let drawn = line.is_some_and(|line| {
                        line.draw.with(|draw| draw.as_ref().is_some_and(|draw| draw.rank.is_some()))
                    });
                    let title = match (drawn, just_now) {
                        (true, _) => t.you_were_drawn,
                        (false, true) => t.your_coupon,
                        (false, false) => t.already_claimed,
                    };
                    view! {
                        <div class="coupon" class:used=coupon.redeemed_at.is_some() data-testid="coupon">
                            <p class="outcome good" data-testid="outcome">{title}</p>
                            <p class="code" data-testid="coupon-code">{coupon.code}</p>
                            <p class="muted" data-testid="coupon-usage">{usage}</p>
                        </div>
                    }.into_any()
                }
                // Before a fair draw's entries: a countdown, then the button that enters.
                (Some(ClaimView::NotOpen { opens_at }), Some(Phase::BeforeEntries)) => {
                    let line = line.expect("a phase comes from a line");
                    view! {
                        <p class="outcome" data-testid="outcome">{t.not_open_yet} " " {t.opens_at} " " {format_datetime(lang, opens_at)}</p>
                        <p class="countdown">
                            {t.entries_open_in} " "
                            <strong data-testid="countdown">{line.countdown(lang, line.entries_open_at)}</strong>
                        </p>
                    }.into_any()
                }
                (Some(ClaimView::NotOpen { .. } | ClaimView::CanClaim), Some(Phase::Entries)) => {
                    let line = line.expect("a phase comes from a line");
                    view! {
                        {claim_button(claim, id, lang, true, bot_check)}
                        <p class="countdown">
                            {t.draw_in} " " <strong data-testid="countdown">{line.countdown(lang, line.draw_at)}</strong>
                            " · " {t.entered_so_far} ": " <span data-testid="entrants">{line.entrants()}</span>
                        </p>
                    }.into_any()
                }
                (Some(ClaimView::Entered { draw_at }), phase) => {
                    let line = line.filter(|_| phase.is_some());
                    view! {
                        <div class="entered" data-testid="entered">
                            <p class="outcome good" role="status" data-testid="outcome">{t.you_are_entered}</p>
                            <p class="muted">{t.entered_draw} " " {format_datetime(lang, draw_at)}</p>
                            {line.map(|line| view! {
                                <p class="countdown">
                                    {t.entered_so_far} ": " <strong data-testid="entrants">{line.entrants()}</strong>
                                </p>
                                <p class="countdown">
                                    {if phase == Some(Phase::Entries) {
                                        view! {
                                            {t.draw_in} " "
                                            <strong data-testid="countdown">{line.countdown(lang, line.draw_at)}</strong>
                                        }.into_any()
                                    } else {
                                        view! { <span data-testid="drawing">{t.drawing_now}</span> }.into_any()
                                    }}
                                </p>
                            })}
                        </div>
                    }.into_any()
                }
                // After the draw: the not drawn may still claim whatever is left.
                (Some(ClaimView::NotDrawn), _) => {
                    let left = line.map(|line| {
                        Memo::new(move |_| line.live.with(|numbers| numbers.remaining.unwrap_or(0) > 0))
                    });
                    view! {
                        <p class="outcome bad" role="status" data-testid="outcome">{t.not_drawn}</p>
                        <Show when=move || left.is_some_and(|left| left.get())>
                            {claim_button(claim, id, lang, false, bot_check)}
                        </Show>
                    }.into_any()
                }
                (Some(ClaimView::CanClaim) | None, _) => {
                    claim_button(claim, id, lang, entering(), bot_check).into_any()
                }
                // Nothing was written: the button again, and a fresh challenge on the next click.
                (Some(ClaimView::BotCheckRefused { code }), _) => {
                    let text = if code == "bot_check_expired" {
                        t.bot_check_expired
                    } else {
                        t.bot_check_refused
                    };
                    view! {
                        <p class="outcome bad" role="alert" data-testid="outcome" data-code=code>{text}</p>
                        {claim_button(claim, id, lang, entering(), bot_check)}
                    }.into_any()
                }
                (Some(ClaimView::Unavailable), _) => view! {
                    <p class="outcome bad" role="alert">{t.try_again}</p>
                    {claim_button(claim, id, lang, entering(), bot_check)}
                }.into_any(),
                (Some(refusal), _) => refusal_message(lang, &refusal).into_any(),
            }}
        </div>
    }
}

/// Once the live numbers say the draw is completed, asks for the page's data again (after a
/// short pause of its own, so that every page watching does not ask in the same instant): the
/// member's result, and what proves the draw.
fn follow_the_draw(id: i64, line: Line, state: RwSignal<Option<ClaimView>>) {
    let refresh = ServerAction::<crate::api::ClaimPage>::new();
    let asked = RwSignal::new(false);
    Effect::new(move |_| {
        let completed = line.live.with(|numbers| numbers.draw_completed);
        let known = line
            .draw
            .with(|draw| draw.as_ref().is_some_and(|draw| draw.completed));
        if !completed || known || refresh.pending().get_untracked() || asked.get_untracked() {
            return;
        }
        asked.set(true);
        // Entrants hear within half a second; other pages spread over two seconds.
        let entered = matches!(state.get_untracked(), Some(ClaimView::Entered { .. }));
        let spread = if entered { 500 } else { 2000 };
        let pause = u64::from(Utc::now().timestamp_subsec_millis()) % spread;
        set_timeout(
            move || {
                refresh.dispatch(crate::api::ClaimPage { id });
            },
            std::time::Duration::from_millis(pause),
        );
    });
    Effect::new(move |_| match refresh.value().get() {
        Some(Ok(Some(data))) => {
            // The draw first: the result is shown with it (a winner's "you were drawn").
            let completed = data.draw.as_ref().is_some_and(|draw| draw.completed);
            line.draw.set(data.draw);
            if let Some(view) = data.state {
                state.set(Some(view));
            }
            // Not completed as this instance read it (yet): ask again at the next numbers.
            if !completed {
                asked.set(false);
            }
        }
        // Failed: ask again at the next numbers.
        Some(_) => asked.set(false),
        None => {}
    });
}

/// What proves a fair draw: the commitment from the start; once the draw is completed the
/// secret, the cutoff, the member's own digest, and the check README.md documents ("Fair
/// draws"), filled in with these values.
#[component]
fn DrawProof(line: Line, member: Option<String>) -> impl IntoView {
    let t = use_lang().texts();
    let commitment = move || {
        line.draw
            .with(|draw| draw.as_ref().map(|draw| draw.commitment.clone()))
            .unwrap_or_default()
    };
    let revealed = move || {
        let draw = line.draw.get().filter(|draw| draw.completed)?;
        let secret = draw.secret.clone().unwrap_or_default();
        let cutoff = draw.cutoff.clone();
        let check = check_snippet(&draw, member.as_deref());
        Some(view! {
            <dt>{t.draw_secret}</dt>
            <dd class="digest" data-testid="draw-secret">{secret}</dd>
            <dt>{t.draw_cutoff}</dt>
            <dd class="digest" data-testid="draw-cutoff">{cutoff.unwrap_or_else(|| "–".into())}</dd>
            {draw.digest.clone().map(|digest| view! {
                <dt>{t.your_digest}</dt>
                <dd class="digest" data-testid="draw-digest">{digest}</dd>
            })}
            <dt>{t.how_to_check}</dt>
            <dd><pre class="check" data-testid="draw-check">{check}</pre></dd>
        })
    };
    view! {
        <section class="draw-proof" data-testid="draw-proof">
            <h2>{t.fair_draw}</h2>
            <p class="muted">{t.fair_draw_explained}</p>
            <dl>
                <dt>{t.draw_commitment}</dt>
                <dd class="digest" data-testid="draw-commitment">{commitment}</dd>
                {revealed}
            </dl>
        </section>
    }
}

/// README.md's check of a fair draw ("Fair draws"), with this draw's secret, commitment and
/// cutoff and the member's id.
fn check_snippet(draw: &DrawView, member: Option<&str>) -> String {
    let secret = draw.secret.as_deref().unwrap_or_default();
    let cutoff = draw.cutoff.as_deref().unwrap_or_default();
    let member = member.unwrap_or("member-42");
    format!(
        "import hashlib, hmac; secret = bytes.fromhex(\"{secret}\")\n\
         assert hashlib.sha256(secret).hexdigest() == \"{commitment}\"\n\
         print(hmac.new(secret, {member:?}.encode(), \"sha256\").hexdigest() <= \"{cutoff}\")",
        commitment = draw.commitment,
    )
}

/// The Claim button; `enters`: a fair draw's entry window, where it enters the draw;
/// `bot_check`: the form carries the bot check's solution, filled in by public/pow.js, which
/// also shows the note while it solves.
fn claim_button(
    claim: ServerAction<Claim>,
    id: i64,
    lang: Lang,
    enters: bool,
    bot_check: bool,
) -> impl IntoView {
    let t = lang.texts();
    let (label, busy) = if enters {
        (t.enter_draw, t.entering)
    } else {
        (t.claim, t.claiming)
    };
    view! {
        <ActionForm action=claim>
            <input type="hidden" name="campaign_id" value=id.to_string()/>
            {bot_check.then(|| view! {
                <input type="hidden" name="bot_challenge" value=""/>
                <input type="hidden" name="bot_nonce" value=""/>
                <p class="muted bot-check-running" hidden>{t.bot_check_running}</p>
            })}
            <button type="submit" class="primary huge" disabled=move || claim.pending().get()>
                {move || if claim.pending().get() { busy } else { label }}
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
