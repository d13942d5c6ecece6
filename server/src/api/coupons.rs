//! The checkout API under `/api/v1/coupons/{code}`: look a coupon up, validate it against an
//! order, hold it while the payment is pending, redeem it, release it when the order is
//! cancelled. Refusals are 409 with an `outcome` naming why; repeating a call of the same order
//! answers as the first did (200 instead of 201).

use super::error::ApiError;
use super::extract::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coupon::Engine;
use coupon::redeem::{Checkout, CouponView, HoldRequest, RedeemRequest, ValidateRequest};
use serde::Serialize;

const UNKNOWN_CODE: ApiError = ApiError::Missing {
    code: "unknown_code",
    message: "no coupon has this code",
};

/// `GET /coupons/{code}`: the coupon and its state.
pub async fn find(
    State(engine): State<Engine>,
    Path(code): Path<String>,
) -> Result<Json<CouponView>, ApiError> {
    engine
        .coupon_by_code(&code)
        .await?
        .map(Json)
        .ok_or(UNKNOWN_CODE)
}

/// `POST /coupons/{code}/validate`: whether it applies to the order; writes nothing.
pub async fn validate(
    State(engine): State<Engine>,
    Path(code): Path<String>,
    ApiJson(request): ApiJson<ValidateRequest>,
) -> Result<Response, ApiError> {
    answer(engine.validate(&code, &request).await?, StatusCode::OK)
}

/// `POST /coupons/{code}/holds`: reserves it for the order.
pub async fn hold(
    State(engine): State<Engine>,
    Path(code): Path<String>,
    ApiJson(request): ApiJson<HoldRequest>,
) -> Result<Response, ApiError> {
    answer(engine.hold(&code, &request).await?, StatusCode::CREATED)
}

/// `POST /coupons/{code}/redemptions`: uses it on the order, exactly once.
pub async fn redeem(
    State(engine): State<Engine>,
    Path(code): Path<String>,
    ApiJson(request): ApiJson<RedeemRequest>,
) -> Result<Response, ApiError> {
    answer(engine.redeem(&code, &request).await?, StatusCode::CREATED)
}

/// `DELETE /coupons/{code}/redemptions/{order_id}`: the order gives it back.
pub async fn release(
    State(engine): State<Engine>,
    Path((code, order_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match engine.release(&code, &order_id).await? {
        Some(released) => answer(released, StatusCode::OK),
        None => Err(ApiError::Missing {
            code: "not_held",
            message: "this order neither holds nor redeemed this coupon",
        }),
    }
}

/// `created` for a first success, 200 for a repeated one, 409 for a refusal.
fn answer<T: Serialize>(outcome: Checkout<T>, created: StatusCode) -> Result<Response, ApiError> {
    Ok(match outcome {
        Checkout::Done { answer, first } => {
            let status = if first { created } else { StatusCode::OK };
            (status, Json(answer)).into_response()
        }
        Checkout::Refused(refusal) => (StatusCode::CONFLICT, Json(refusal)).into_response(),
        Checkout::UnknownCode => return Err(UNKNOWN_CODE),
    })
}
