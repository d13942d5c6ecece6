//! Validate, hold, redeem and release: each decided by PostgreSQL in one conditional statement,
//! so concurrent and repeated calls leave exactly one outcome.

use super::input::{HoldRequest, Order, RedeemRequest, ValidateRequest, parse_order_id};
use super::state::{CouponState, Recorded};
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
    Held { hold_expires_at: DateTime<Utc> },
    Expired { expires_at: DateTime<Utc> },
    BelowMinimum { min_order_amount: i64 },
    NotYours,
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
const RETRIES: usize = 3;

impl Engine {
    /// Whether the coupon applies to the order, and its discount. Writes nothing.
    pub async fn validate(
        &self,
        code: &str,
        request: &ValidateRequest,
    ) -> Result<Checkout<Valid>, EngineError> {
        let order = request.parse()?;
        let Some(found) = self.recorded_coupon(code).await? else {
            return Ok(counted("validate", Checkout::UnknownCode));
        };
        let answer = match refusal(&found, &order, true) {
            Some(refusal) => Checkout::Refused(refusal),
            None => Checkout::Done {
                answer: Valid {
                    discount: discount(&found, order.order_amount),
                    order_amount: order.order_amount,
                    expires_at: found.expires_at(),
                },
                first: true,
            },
        };
        Ok(counted("validate", answer))
    }

    /// Reserves the coupon for the order (a repeated call of the same order answers with the
    /// same hold). A hold ends by itself, never later than the coupon's expiry.
    pub async fn hold(
        &self,
        code: &str,
        request: &HoldRequest,
    ) -> Result<Checkout<Hold>, EngineError> {
        let (order, seconds) = request.parse()?;
        for _ in 0..RETRIES {
            let Some(found) = self.recorded_coupon(code).await? else {
                return Ok(counted("hold", Checkout::UnknownCode));
            };
            if found.row.order_id.as_deref() == Some(order.id())
                && let Some(until) = found.live_hold()
            {
                let answer = stored_hold(&found, until);
                return Ok(counted(
                    "hold",
                    Checkout::Done {
                        answer,
                        first: false,
                    },
                ));
            }
            if let Some(refusal) = refusal(&found, &order, false) {
                return Ok(counted("hold", Checkout::Refused(refusal)));
            }
            let terms = terms(&found, &order);
            let (campaign, sequence) = (id(&found), found.row.sequence);
            if let Some(until) =
                redemptions::hold(self.db(), campaign, sequence, terms, seconds).await?
            {
                let answer = Hold {
                    order_id: order.id().to_owned(),
                    order_amount: order.order_amount,
                    discount: terms.discount,
                    hold_expires_at: until,
                };
                return Ok(counted(
                    "hold",
                    Checkout::Done {
                        answer,
                        first: true,
                    },
                ));
            }
        }
        Ok(counted("hold", self.outrun(code, &order).await?))
    }

    /// Redeems the coupon for the order, exactly once: the same order again answers the same;
    /// another order is refused. Confirms the order's own hold.
    pub async fn redeem(
        &self,
        code: &str,
        request: &RedeemRequest,
    ) -> Result<Checkout<Redemption>, EngineError> {
        let order = request.parse()?;
        for _ in 0..RETRIES {
            let Some(found) = self.recorded_coupon(code).await? else {
                return Ok(counted("redeem", Checkout::UnknownCode));
            };
            if found.row.order_id.as_deref() == Some(order.id())
                && let Some(at) = found.row.redeemed_at
            {
                let answer = stored_redemption(&found, at);
                return Ok(counted(
                    "redeem",
                    Checkout::Done {
                        answer,
                        first: false,
                    },
                ));
            }
            if let Some(refusal) = refusal(&found, &order, false) {
                return Ok(counted("redeem", Checkout::Refused(refusal)));
            }
            let terms = terms(&found, &order);
            let (campaign, sequence) = (id(&found), found.row.sequence);
            if let Some(at) = redemptions::redeem(self.db(), campaign, sequence, terms).await? {
                let answer = Redemption {
                    order_id: order.id().to_owned(),
                    order_amount: order.order_amount,
                    discount: terms.discount,
                    redeemed_at: at,
                };
                return Ok(counted(
                    "redeem",
                    Checkout::Done {
                        answer,
                        first: true,
                    },
                ));
            }
        }
        Ok(counted("redeem", self.outrun(code, &order).await?))
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
            return Ok(Some(counted("release", Checkout::UnknownCode)));
        };
        let (campaign, sequence) = (id(&found), found.row.sequence);
        let answer = Release {
            order_id: order_id.clone(),
        };
        if redemptions::release(self.db(), campaign, sequence, &order_id).await? {
            return Ok(Some(counted(
                "release",
                Checkout::Done {
                    answer,
                    first: true,
                },
            )));
        }
        if redemptions::was_released_by(self.db(), campaign, sequence, &order_id).await? {
            return Ok(Some(counted(
                "release",
                Checkout::Done {
                    answer,
                    first: false,
                },
            )));
        }
        metrics::checkout("release", "not_held");
        Ok(None)
    }

    /// The answer for a call whose statement matched nothing on every try (another call changed
    /// the row each time after it was read): what the coupon is now.
    async fn outrun<T>(&self, code: &str, order: &Order) -> Result<Checkout<T>, EngineError> {
        let Some(found) = self.recorded_coupon(code).await? else {
            return Ok(Checkout::UnknownCode);
        };
        Ok(Checkout::Refused(
            refusal(&found, order, false).unwrap_or(Refusal::AlreadyRedeemed),
        ))
    }
}

fn id(found: &Recorded) -> CampaignId {
    CampaignId(found.row.campaign_id)
}

fn discount(found: &Recorded, order_amount: i64) -> i64 {
    found
        .campaign
        .order_rules
        .discount_on(found.campaign.discount, order_amount)
}

fn terms<'a>(found: &Recorded, order: &'a Order) -> OrderTerms<'a> {
    OrderTerms {
        order_id: order.id(),
        order_amount: order.order_amount,
        discount: discount(found, order.order_amount),
        valid_days: found.campaign.valid_days,
    }
}

/// Why the coupon cannot go to this order, in the order a checkout can act on: someone
/// else's coupon first (its state is none of their business), then used, expired, held, and
/// too small an order.
fn refusal(found: &Recorded, order: &Order, validating: bool) -> Option<Refusal> {
    if order
        .user
        .as_ref()
        .is_some_and(|user| user.as_str() != found.row.user_id)
    {
        return Some(Refusal::NotYours);
    }
    let own_order = order.order_id.is_some() && found.row.order_id == order.order_id;
    match found.state() {
        CouponState::Redeemed if validating => return Some(Refusal::Redeemed),
        CouponState::Redeemed => return Some(Refusal::AlreadyRedeemed),
        CouponState::Expired => {
            return Some(Refusal::Expired {
                expires_at: found.expires_at(),
            });
        }
        CouponState::Held if !own_order => {
            return Some(Refusal::Held {
                hold_expires_at: found.live_hold().unwrap_or(found.row.now),
            });
        }
        CouponState::Held | CouponState::Available => {}
    }
    if found.is_expired() {
        return Some(Refusal::Expired {
            expires_at: found.expires_at(),
        });
    }
    let rules = found.campaign.order_rules;
    if rules.is_below_minimum(order.order_amount) {
        return Some(Refusal::BelowMinimum {
            min_order_amount: rules.min_order_amount.unwrap_or_default(),
        });
    }
    None
}

fn stored_hold(found: &Recorded, until: DateTime<Utc>) -> Hold {
    Hold {
        order_id: found.row.order_id.clone().unwrap_or_default(),
        order_amount: found.row.order_amount.unwrap_or_default(),
        discount: found.row.discount.unwrap_or_default(),
        hold_expires_at: until,
    }
}

fn stored_redemption(found: &Recorded, at: DateTime<Utc>) -> Redemption {
    Redemption {
        order_id: found.row.order_id.clone().unwrap_or_default(),
        order_amount: found.row.order_amount.unwrap_or_default(),
        discount: found.row.discount.unwrap_or_default(),
        redeemed_at: at,
    }
}

fn counted<T>(operation: &'static str, answer: Checkout<T>) -> Checkout<T> {
    let outcome = match &answer {
        Checkout::Done { .. } => match operation {
            "validate" => "valid",
            "hold" => "held",
            "redeem" => "redeemed",
            _ => "released",
        },
        Checkout::Refused(refusal) => refusal.name(),
        Checkout::UnknownCode => "unknown_code",
    };
    metrics::checkout(operation, outcome);
    answer
}
