//! The end user's server functions: the open campaigns, the claim page, member sign-in, claim.

use super::types::{CampaignView, ClaimPageData, ClaimView, FormResult};
#[cfg(feature = "ssr")]
use super::types::{CouponView, DrawView, FieldProblem, PublicNumbers};
use leptos::prelude::*;

/// Campaigns an end user can see on the home page: not ended, window not over; open ones
/// first, then upcoming ones, each newest first, at most 50. Anyone may call it, so it reads
/// only the campaigns on offer (an index of them), never every campaign ever created.
#[server(endpoint = "open_campaigns")]
pub async fn open_campaigns() -> Result<Vec<CampaignView>, ServerFnError> {
    use crate::backend::{engine, unavailable};
    use coupon::store::campaigns::{MOST_ON_OFFER, on_offer};
    let engine = engine()?;
    let campaigns = on_offer(engine.db(), MOST_ON_OFFER)
        .await
        .map_err(|error| unavailable(error.into()))?;
    Ok(campaigns.iter().map(CampaignView::from).collect())
}

/// Everything the claim page shows on first render; `None` if there is no such campaign. The
/// page calls it again when a fair draw it shows is completed, for the member's result.
#[server(endpoint = "claim_page")]
pub async fn claim_page(id: i64) -> Result<Option<ClaimPageData>, ServerFnError> {
    use crate::backend::member::MemberOf;
    use crate::backend::{engine, unavailable};
    let engine = engine()?;
    let Some(report) = engine
        .public_status(coupon::CampaignId(id))
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let member = crate::backend::member::current_member().await?;
    // A fair draw's member: where they stand in it (one read of their entry).
    let standing = match &member {
        Some(member) if report.campaign.is_fair_draw() => engine
            .draw_standing(report.campaign.id, member.id())
            .await
            .map_err(unavailable)?,
        _ => None,
    };
    let state = match &member {
        None => None,
        Some(member) => Some(member_state(&engine, &report, member.id(), standing.as_ref()).await?),
    };
    // The entrants so far: one count shared by every page of the instance, at most a second old.
    let tally = if report.campaign.is_fair_draw() {
        engine
            .draw_tallies(&[report.campaign.id])
            .await
            .map_err(unavailable)?
            .get(&report.campaign.id)
            .copied()
    } else {
        None
    };
    let demo_sign_in = crate::backend::member_sources().demo_sign_in;
    let numbers = PublicNumbers {
        status: report.campaign.status.as_str().to_owned(),
        quantity: report.campaign.quantity,
        remaining: report.remaining,
        entrants: tally.map(|tally| tally.entrants),
        draw_completed: tally.is_some_and(|tally| tally.completed),
    };
    let draw = report
        .draw
        .as_ref()
        .map(|draw| draw_view(draw, standing.as_ref()));
    Ok(Some(ClaimPageData {
        campaign: CampaignView::from(&report.campaign),
        numbers,
        member_in_session: matches!(member, Some(MemberOf::Session(_))),
        member: member.map(|member| member.id().as_str().to_owned()),
        state,
        demo_sign_in,
        draw_commitment: report
            .draw
            .as_ref()
            .map(|draw| draw.draw_commitment.clone()),
        draw,
        // Milliseconds, as the browser receives it (see CampaignView).
        rendered_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3),
    }))
}

/// What the claim page shows of a fair draw: its public facts, and the member's own place once
/// they are drawn or not.
#[cfg(feature = "ssr")]
fn draw_view(
    draw: &coupon::draw::DrawReport,
    standing: Option<&coupon::draw::DrawStanding>,
) -> DrawView {
    use coupon::draw::DrawStanding;
    let (digest, rank) = match standing {
        Some(DrawStanding::Drawn { digest, rank }) => (Some(digest.clone()), Some(*rank)),
        Some(DrawStanding::NotDrawn { digest }) => (Some(digest.clone()), None),
        _ => (None, None),
    };
    DrawView {
        commitment: draw.draw_commitment.clone(),
        draw_at: draw.draw_at,
        completed: draw.draw_completed_at.is_some(),
        secret: draw.draw_secret.clone(),
        cutoff: draw.cutoff.clone(),
        entrants: draw.entrants,
        winners: draw.winners,
        digest,
        rank,
    }
}

/// Demo mode only (`MEMBER_DEMO_SIGN_IN=true`): remembers whatever member id the visitor
/// typed. Off, it answers 403: members then come from the shop (see `coupon_access::member`).
#[server(endpoint = "member_sign_in")]
pub async fn member_sign_in(member_id: String) -> Result<FormResult<String>, ServerFnError> {
    use crate::backend::session;
    let sources = crate::backend::member_sources();
    if !sources.demo_sign_in {
        crate::backend::set_status(403);
        return Err(ServerFnError::new(
            "typed member ids are off: sign in through the shop",
        ));
    }
    crate::backend::limits()?
        .member_sign_in(crate::backend::client_address())
        .await
        .map_err(crate::backend::refused)?;
    let member = match coupon::UserId::parse(&member_id) {
        Ok(member) => member,
        Err(error) => {
            return Ok(FormResult::Invalid(vec![FieldProblem {
                field: "member_id".into(),
                reason: error.reason,
            }]));
        }
    };
    session::sign_in_member(
        &session::current().await?,
        member.as_str(),
        sources.session_lifetime,
    )
    .await
    .map_err(super::admin::session_unsaved)?;
    Ok(FormResult::Done(member.as_str().to_owned()))
}

/// Claims a coupon of `campaign_id` for the signed-in member.
///
/// The hot path: one session read and a claim (a share of one script call), no PostgreSQL.
/// Only a member who already holds a coupon costs a lookup, to show them their code again.
///
/// A campaign with a bot check (`bot_check_bits` above 0, src/bot_check/) needs
/// `bot_challenge` (from `GET /api/v1/campaigns/{id}/challenge`) and `bot_nonce` (its solution,
/// found by public/pow.js): checked after the rate limits and before the claim, one Redis write
/// to use it up. Without them, or with a wrong, expired or used one, the answer is
/// [`ClaimView::BotCheckRefused`] with its code, and nothing is written.
#[server(endpoint = "claim")]
pub async fn claim(
    campaign_id: i64,
    /// The bot check's challenge, as handed out.
    #[server(default)]
    bot_challenge: Option<String>,
    /// Its solution: a decimal nonce.
    #[server(default)]
    bot_nonce: Option<String>,
) -> Result<ClaimView, ServerFnError> {
    use crate::backend::engine;
    use coupon::ClaimOutcome;
    use coupon::bot_check::BotCheckOutcome;
    let Some(member) = crate::backend::member::current_member().await? else {
        crate::backend::set_status(401);
        return Err(ServerFnError::new("sign in through the shop first"));
    };
    let member = member.id().clone();
    let engine = engine()?;
    let campaign = coupon::CampaignId(campaign_id);
    crate::backend::limits()?
        .claim(member.as_str(), crate::backend::client_address())
        .await
        .map_err(|refusal| {
            // Counted for the fair draw's report if this was an entry (no I/O).
            if let coupon_access::limits::LimitRefusal::Limited(_) = refusal {
                engine.note_refused_entry(campaign, coupon::draw::RefusalReason::RateLimited);
            }
            crate::backend::refused(refusal)
        })?;
    // Before the claim, after the limits (a claim they refuse keeps its solution unused); no
    // I/O for a campaign without a check, whose bits this instance has learned.
    let checked = engine
        .check_bot_proof(campaign, bot_challenge.as_deref(), bot_nonce.as_deref())
        .await;
    match checked {
        Ok(BotCheckOutcome::Off | BotCheckOutcome::Passed) => {}
        Ok(BotCheckOutcome::Refused(refusal)) => {
            // Counted for the fair draw's report if this was an entry (no I/O).
            engine.note_refused_entry(campaign, coupon::draw::RefusalReason::BotCheck);
            return Ok(ClaimView::BotCheckRefused {
                code: refusal.code().to_owned(),
            });
        }
        Err(error) if error.is_retryable() => {
            tracing::warn!(%error, "bot check undecided: Redis unavailable or too slow");
            crate::backend::set_status(503);
            return Ok(ClaimView::Unavailable);
        }
        Err(error) => return Err(crate::backend::unavailable(error)),
    }
    let outcome = match engine.claim(campaign, &member).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_retryable() => {
            tracing::warn!(%error, "claim refused: Redis unavailable or too slow");
            crate::backend::set_status(503);
            return Ok(ClaimView::Unavailable);
        }
        Err(error) => return Err(crate::backend::unavailable(error)),
    };
    Ok(match outcome {
        ClaimOutcome::Issued { code, .. } => ClaimView::Issued {
            coupon: CouponView {
                code,
                claimed_at: chrono::Utc::now(),
                redeemed_at: None,
            },
            just_now: true,
        },
        ClaimOutcome::AlreadyClaimed => match engine.coupon_of(campaign, &member).await {
            Ok(Some(held)) => ClaimView::Issued {
                coupon: coupon_view(held),
                just_now: false,
            },
            _ => ClaimView::Unavailable,
        },
        ClaimOutcome::SoldOut => ClaimView::SoldOut,
        ClaimOutcome::NotOpen { opens_at } => ClaimView::NotOpen { opens_at },
        ClaimOutcome::Ended | ClaimOutcome::UnknownCampaign => ClaimView::Ended,
        ClaimOutcome::Paused => ClaimView::Paused,
        ClaimOutcome::Entered { draw_at } => ClaimView::Entered { draw_at },
        ClaimOutcome::NotDrawn { .. } => ClaimView::NotDrawn,
    })
}

/// A member's coupon as the claim page shows it.
#[cfg(feature = "ssr")]
fn coupon_view(held: coupon::HeldCoupon) -> CouponView {
    CouponView {
        code: held.code,
        claimed_at: held.claimed_at,
        redeemed_at: held.redeemed_at,
    }
}

/// What a signed-in member sees before clicking: their coupon if they hold one, else whatever
/// would stop a claim right now, else the Claim button.
#[cfg(feature = "ssr")]
async fn member_state(
    engine: &coupon::Engine,
    report: &coupon::PublicStatus,
    member: &coupon::UserId,
    standing: Option<&coupon::draw::DrawStanding>,
) -> Result<ClaimView, ServerFnError> {
    use coupon::CampaignStatus;
    let held = engine
        .coupon_of(report.campaign.id, member)
        .await
        .map_err(crate::backend::unavailable)?;
    if let Some(held) = held {
        return Ok(ClaimView::Issued {
            coupon: coupon_view(held),
            just_now: false,
        });
    }
    let campaign = &report.campaign;
    let now = chrono::Utc::now();
    if campaign.is_fair_draw() && campaign.status == CampaignStatus::Active {
        use coupon::draw::DrawStanding;
        match (standing, campaign.entries_open_at) {
            (Some(DrawStanding::Entered { draw_at }), _) => {
                return Ok(ClaimView::Entered { draw_at: *draw_at });
            }
            // Under way: still "entered"; the page shows the result once it is completed.
            (Some(DrawStanding::Drawing), _) => {
                return Ok(ClaimView::Entered {
                    draw_at: campaign.claim_starts_at,
                });
            }
            (Some(DrawStanding::NotDrawn { .. }), _) => return Ok(ClaimView::NotDrawn),
            (None, Some(opens_at)) if now < opens_at => {
                return Ok(ClaimView::NotOpen { opens_at });
            }
            // In the entry window the button enters the draw.
            (None, _) if now < campaign.claim_starts_at => return Ok(ClaimView::CanClaim),
            _ => {}
        }
    }
    Ok(match campaign.status {
        CampaignStatus::Ended => ClaimView::Ended,
        CampaignStatus::Paused => ClaimView::Paused,
        CampaignStatus::Active if now < campaign.claim_starts_at => ClaimView::NotOpen {
            opens_at: campaign.claim_starts_at,
        },
        CampaignStatus::Active if now >= campaign.claim_ends_at => ClaimView::Ended,
        CampaignStatus::Active if report.remaining == Some(0) => ClaimView::SoldOut,
        CampaignStatus::Active => ClaimView::CanClaim,
    })
}
