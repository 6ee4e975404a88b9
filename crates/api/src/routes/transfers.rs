//! Internal transfers as UQPAY: `POST /api/v1/transfer`, list and get. Both sides must be the
//! caller's own account or one of its connected accounts.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use outlay_engine::{Command, NewTransfer};
use serde::Deserialize;
use serde_json::Value;

use crate::extract::{Caller, DecimalInput, JsonBody, ListQuery, Required, parse_currency, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/transfer", get(list).post(create)).route("/api/v1/transfer/{id}", get(retrieve))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTransfer {
    source_account_id: Option<String>,
    target_account_id: Option<String>,
    currency: Option<String>,
    amount: Option<DecimalInput>,
    reason: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreateTransfer>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let source = required.take("source_account_id", b.source_account_id);
    let target = required.take("target_account_id", b.target_account_id);
    let currency = required.take("currency", b.currency);
    let amount = required.take("amount", b.amount);
    required.finish()?;
    let (Some(source), Some(target), Some(currency), Some(amount)) = (source, target, currency, amount) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let account = |field: &str, text: &str| {
        text.parse().map_err(|_| ApiError::validation(field, "invalid_uuid", "must be an account id (a UUID)"))
    };
    let source = account("source_account_id", &source)?;
    let target = account("target_account_id", &target)?;
    let currency = parse_currency("currency", &currency)?;
    let amount = amount.parse("amount", currency)?;
    if b.reason.as_ref().is_some_and(|r| r.chars().count() > 140) {
        return Err(ApiError::validation("reason", "too_long", "must be at most 140 characters"));
    }
    let command = Command::CreateTransfer(NewTransfer {
        principal: caller.principal,
        source,
        target,
        currency,
        amount,
        reason: b.reason,
    });
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/transfer",
        body: &body.raw,
        key_required: true,
        error_kind: "transfer_error",
    };
    execute(&state, m, command, wire::transfer_response).await
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let status = query.one_of("transfer_status", &["COMPLETED", "FAILED"])?;
    let page = state.engine.store().transfers(caller.account, status, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |t| wire::transfer(&t))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("transfer", &id)?;
    let t = state
        .engine
        .store()
        .transfer(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("transfer".into()))?;
    Ok(Json(wire::transfer(&t)))
}
