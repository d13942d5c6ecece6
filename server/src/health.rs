//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve and record claims).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coupon::{Engine, Readiness};
use serde::Serialize;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

/// Always `{"status":"ok"}` while the process can answer HTTP.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 when Redis and PostgreSQL answer and the schema is current, else 503; the body says
/// which check failed, so a load balancer takes the instance out and an operator sees why.
pub async fn readyz(State(engine): State<Engine>) -> (StatusCode, Json<Readiness>) {
    let readiness = engine.readiness().await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
