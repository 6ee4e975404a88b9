//! `GET /api/v1/accounts`: the caller's connected accounts.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::extract::{Caller, ListQuery};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/accounts", get(list))
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    // A master-level call: x-on-behalf-of does not change whose connected accounts these are.
    let page = state.engine.store().connected_accounts(caller.principal, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |a| wire::account(&a))))
}
