//! `GET /api/v1/deposit` and `GET /api/v1/deposit/{id}`, as UQPAY.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use outlay_store::DepositFilter;
use serde_json::Value;

use crate::extract::{Caller, ListQuery, parse_id};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/deposit", get(list)).route("/api/v1/deposit/{id}", get(retrieve))
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let filter = DepositFilter {
        status: query.one_of("deposit_status", &["PENDING", "COMPLETED", "FAILED"])?,
        currency: query.currency("currency")?,
        start_time: query.time("start_time")?,
        end_time: query.time("end_time")?,
    };
    let page = state.engine.store().deposits(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |d| wire::deposit(&d))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("deposit", &id)?;
    let deposit =
        state.engine.store().deposit(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("deposit".into()))?;
    Ok(Json(wire::deposit(&deposit)))
}
