//! `GET /healthz`: the process is up and serving.

use axum::Json;
use serde::Serialize;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

/// Always `{"status":"ok"}` while the process can answer HTTP.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}
