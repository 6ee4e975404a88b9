use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// Liveness: answers as long as the process serves HTTP (and is the HTTP ceiling in benchmarks).
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and the writer is not saturated.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.engine.store().has_platform_account().await?;
    Ok(Json(json!({ "status": "ready", "writer_queue": state.engine.queue_depth() })))
}
