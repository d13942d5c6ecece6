//! Validate, hold, redeem and release: each decided by PostgreSQL in one conditional statement,
//! so concurrent and repeated calls leave exactly one outcome.

use super::input::{HoldRequest, Order, RedeemRequest, ValidateRequest, parse_order_id};
use super::state::{CouponState, Recorded};
use super::terms::CouponTerms;
use crate::campaign::CampaignId;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::metrics;
use crate::store::redemptions::{self, OrderTerms};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a checkout call ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout<T> {
    /// Done: `first` unless this repeats an earlier call of the same order (which answers the
    /// same).
    Done { answer: T, first: bool },
    /// Refused, with the reason; nothing was written.
    Refused(Refusal),
    /// No coupon has this code.
    UnknownCode,
}

/// Why a coupon cannot be used on this order now. (`validate` says `redeemed` where the calls
/// that would use the coupon say `already_redeemed`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Refusal {
    Redeemed,
    AlreadyRedeemed,
    Held {
        hold_expires_at: DateTime<Utc>,
    },
    Expired {
        expires_at: DateTime<Utc>,
    },
    BelowMinimum {
        min_order_amount: i64,
    },
    NotYours,
    /// This order gave the coupon back (cancelled): a late retry of its hold or redemption
    /// must not take it again.
    Released,
}

impl Refusal {
    /// The outcome's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Redeemed => "redeemed",
            Self::AlreadyRedeemed => "already_redeemed",
            Self::Held { .. } => "held",
            Self::Expired { .. } => "expired",
            Self::BelowMinimum { .. } => "below_minimum",
            Self::NotYours => "not_yours",
            Self::Released => "released",
        }
    }
}

/// The coupon applies: what it would take off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename = "valid")]
pub struct Valid {
    pub discount: i64,
    pub order_amount: i64,
    pub expires_at: DateTime<Utc>,
}

/// The coupon is reserved for the order until `hold_expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename = "held")]
pub struct Hold {
    pub order_id: String,
    pub order_amount: i64,
    pub discount: i64,
    pub hold_expires_at: DateTime<Utc>,
}

/// The coupon is used on the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename = "redeemed")]
pub struct Redemption {
    pub order_id: String,
    pub order_amount: i64,
    pub discount: i64,
    pub redeemed_at: DateTime<Utc>,
}

/// The order gave the coupon back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename = "released")]
pub struct Release {
    pub order_id: String,
}

/// How many times a call reads the coupon again after its statement matched nothing because
/// another call changed the row meanwhile (each try sees that change committed).
const TRIES: usize = 4;

/// A step that writes the coupon's row (hold, redeem): what a repeat of it by the same order
/// answers, and its conditional statement.
trait Step {
    type Answer;
    /// The operation's name in the metrics, and the outcome a success counts as.
    const OPERATION: &'static str;
    const DONE: &'static str;
    /// The stored answer if the order already did this step.
    fn repeated(&self, found: &Recorded) -> Option<Self::Answer>;
    /// Writes the step if the row allows it; its answer, `None` if it does not (or is not
    /// recorded).
    async fn write(
        &self,
        db: &sqlx::PgPool,
        coupon: (CampaignId, i64),
        terms: OrderTerms<'_>,
    ) -> Result<Option<Self::Answer>, sqlx::Error>;
}

struct Holding {
    seconds: i64,
}

impl Step for Holding {
    type Answer = Hold;
    const OPERATION: &'static str = "hold";
    const DONE: &'static str = "held";

    fn repeated(&self, found: &Recorded) -> Option<Hold> {
        let until = found.live_hold()?;
        Some(Hold {
            order_id: found.row.order_id.clone()?,
            order_amount: found.row.order_amount?,
            discount: found.row.discount?,
            hold_expires_at: until,
        })
    }

    async fn write(
        &self,
        db: &sqlx::PgPool,
        (campaign, sequence): (CampaignId, i64),
        terms: OrderTerms<'_>,
    ) -> Result<Option<Hold>, sqlx::Error> {
        let held = redemptions::hold(db, campaign, sequence, terms, self.seconds).await?;
        Ok(held.map(|until| Hold {
            order_id: terms.order_id.to_owned(),
            order_amount: terms.order_amount,
            discount: terms.discount,
            hold_expires_at: until,
        }))
    }
}

struct Redeeming;

impl Step for Redeeming {
    type Answer = Redemption;
    const OPERATION: &'static str = "redeem";
    const DONE: &'static str = "redeemed";

    fn repeated(&self, found: &Recorded) -> Option<Redemption> {
        Some(Redemption {
            order_id: found.row.order_id.clone()?,
            order_amount: found.row.order_amount?,
            discount: found.row.discount?,
            redeemed_at: found.row.redeemed_at?,
        })
    }

    async fn write(
        &self,
        db: &sqlx::PgPool,
        (campaign, sequence): (CampaignId, i64),
        terms: OrderTerms<'_>,
    ) -> Result<Option<Redemption>, sqlx::Error> {
        let redeemed = redemptions::redeem(db, campaign, sequence, terms).await?;
        Ok(redeemed.map(|at| Redemption {
            order_id: terms.order_id.to_owned(),
            order_amount: terms.order_amount,
            discount: terms.discount,
            redeemed_at: at,
        }))
    }
}

impl Engine {
    /// Whether the coupon applies to the order, and its discount. Writes nothing.
    pub async fn validate(
        &self,
        code: &str,
        request: &ValidateRequest,
    ) -> Result<Checkout<Valid>, EngineError> {
        let order = request.parse()?;
        let answer = match self.recorded_coupon(code).await? {
            None => Checkout::UnknownCode,
            Some(found) => match refusal(&found, &order, true) {
                Some(refusal) => Checkout::Refused(refusal),
                None => Checkout::Done {
                    answer: Valid {
                        discount: found.terms.discount_on(order.order_amount),
                        order_amount: order.order_amount,
                        expires_at: found.expires_at(),
                    },
                    first: true,
                },
            },
        };
        Ok(counted("validate", "valid", answer))
    }

    /// Reserves the coupon for the order (a repeated call of the same order answers with the
    /// same hold). A hold ends by itself, never later than the coupon's expiry.
    pub async fn hold(
        &self,
        code: &str,
        request: &HoldRequest,
    ) -> Result<Checkout<Hold>, EngineError> {
        let (order, seconds) = request.parse()?;
        self.write_step(code, &order, Holding { seconds }).await
    }

    /// Redeems the coupon for the order, exactly once: the same order again answers the same;
    /// another order is refused. Confirms the order's own hold.
    pub async fn redeem(
        &self,
        code: &str,
        request: &RedeemRequest,
    ) -> Result<Checkout<Redemption>, EngineError> {
        let order = request.parse()?;
        self.write_step(code, &order, Redeeming).await
    }

    /// Writes the order's step at once when this engine knows the campaign's terms (the
    /// statement checks the row's state itself); otherwise, or when the row does not allow it,
    /// reads the coupon, answers a repeat of the order's step from the row, refuses what the
    /// row does not allow, or writes the step; reads again when the row changed in between.
    async fn write_step<S: Step>(
        &self,
        code: &str,
        order: &Order,
        step: S,
    ) -> Result<Checkout<S::Answer>, EngineError> {
        if let Some(answer) = self.write_known(code, order, &step).await? {
            let done = Checkout::Done {
                answer,
                first: true,
            };
            return Ok(counted(S::OPERATION, S::DONE, done));
        }
        for _ in 0..TRIES {
            let Some(found) = self.recorded_coupon(code).await? else {
                return Ok(counted(S::OPERATION, S::DONE, Checkout::UnknownCode));
            };
            if found.row.order_id.as_deref() == Some(order.id())
                && let Some(answer) = step.repeated(&found)
            {
                let repeated = Checkout::Done {
                    answer,
                    first: false,
                };
                return Ok(counted(S::OPERATION, S::DONE, repeated));
            }
            if let Some(refusal) = refusal(&found, order, false) {
                return Ok(counted(S::OPERATION, S::DONE, Checkout::Refused(refusal)));
            }
            let terms = order_terms(&found.terms, &found.row.code, order);
            let coupon = (id(&found), found.row.sequence);
            if let Some(answer) = step.write(self.db(), coupon, terms).await? {
                let done = Checkout::Done {
                    answer,
                    first: true,
                };
                return Ok(counted(S::OPERATION, S::DONE, done));
            }
        }
        Err(EngineError::Contended)
    }

    /// The step written without reading the coupon first, if its campaign's terms are known and
    /// the order meets them; `None` when the row did not allow it (the caller finds out why).
    async fn write_known<S: Step>(
        &self,
        code: &str,
        order: &Order,
        step: &S,
    ) -> Result<Option<S::Answer>, EngineError> {
        let Some(canonical) = crate::code::canonical(code) else {
            return Ok(None);
        };
        let Some((campaign, sequence)) = self.codes().locate(&canonical) else {
            return Ok(None);
        };
        let Some(terms) = self.coupon_terms().get(campaign) else {
            return Ok(None);
        };
        if terms.order_rules.is_below_minimum(order.order_amount) {
            return Ok(None);
        }
        let terms = order_terms(&terms, &canonical, order);
        Ok(step.write(self.db(), (campaign, sequence), terms).await?)
    }

    /// Gives the coupon back from the order (cancelled or refunded): available again unless
    /// expired. A repeated release answers the same; `None` if the order never held it.
    pub async fn release(
        &self,
        code: &str,
        order_id: &str,
    ) -> Result<Option<Checkout<Release>>, EngineError> {
        let order_id = parse_order_id(order_id).map_err(|e| crate::ValidationErrors(vec![e]))?;
        let Some(found) = self.recorded_coupon(code).await? else {
            return Ok(Some(counted("release", "released", Checkout::UnknownCode)));
        };
        let (campaign, sequence) = (id(&found), found.row.sequence);
        let first = redemptions::release(self.db(), campaign, sequence, &order_id).await?;
        if !first && !redemptions::was_released_by(self.db(), campaign, sequence, &order_id).await?
        {
            metrics::checkout("release", "not_held");
            return Ok(None);
        }
        let answer = Release { order_id };
        Ok(Some(counted(
            "release",
            "released",
            Checkout::Done { answer, first },
        )))
    }
}

fn id(found: &Recorded) -> CampaignId {
    CampaignId(found.row.campaign_id)
}

fn order_terms<'a>(terms: &CouponTerms, code: &'a str, order: &'a Order) -> OrderTerms<'a> {
    OrderTerms {
        order_id: order.id(),
        order_amount: order.order_amount,
        discount: terms.discount_on(order.order_amount),
        valid_days: terms.valid_days,
        code,
        user_id: order.user.as_ref().map(|user| user.as_str()),
    }
}

/// Why the coupon cannot go to this order, in the order a checkout can act on: someone
/// else's coupon first (its state is none of their business), then an order that already gave
/// it back, used, expired, held by another order, and too small an order.
fn refusal(found: &Recorded, order: &Order, validating: bool) -> Option<Refusal> {
    if order
        .user
        .as_ref()
        .is_some_and(|user| user.as_str() != found.row.user_id)
    {
        return Some(Refusal::NotYours);
    }
    if let Some(order_id) = &order.order_id
        && found.row.released_orders.contains(order_id)
    {
        return Some(Refusal::Released);
    }
    let own_order = order.order_id.is_some() && found.row.order_id == order.order_id;
    match (found.state(), found.live_hold()) {
        (CouponState::Redeemed, _) if validating => Some(Refusal::Redeemed),
        (CouponState::Redeemed, _) => Some(Refusal::AlreadyRedeemed),
        (CouponState::Expired, _) => Some(Refusal::Expired {
            expires_at: found.expires_at(),
        }),
        (CouponState::Held, Some(hold_expires_at)) if !own_order => {
            Some(Refusal::Held { hold_expires_at })
        }
        _ if found.terms.order_rules.is_below_minimum(order.order_amount) => {
            Some(Refusal::BelowMinimum {
                min_order_amount: found.terms.order_rules.min_order_amount.unwrap_or_default(),
            })
        }
        _ => None,
    }
}

/// Counts the call in the metrics by its outcome (`done` for a success) and hands it back.
fn counted<T>(operation: &'static str, done: &'static str, answer: Checkout<T>) -> Checkout<T> {
    let outcome = match &answer {
        Checkout::Done { .. } => done,
        Checkout::Refused(refusal) => refusal.name(),
        Checkout::UnknownCode => "unknown_code",
    };
    metrics::checkout(operation, outcome);
    answer
}
