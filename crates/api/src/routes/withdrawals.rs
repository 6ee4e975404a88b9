//! `POST /api/v1/withdrawals` (list, get): the client moves available funds to its designated
//! bank account. Outlay's own resource, following UQPAY's conventions.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use outlay_engine::Command;
use outlay_store::WithdrawalFilter;
use serde::Deserialize;
use serde_json::Value;

use crate::extract::{Caller, DecimalInput, JsonBody, ListQuery, Required, parse_currency, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/withdrawals", get(list).post(create)).route("/api/v1/withdrawals/{id}", get(retrieve))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWithdrawal {
    currency: Option<String>,
    amount: Option<DecimalInput>,
    reference: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreateWithdrawal>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let currency = required.take("currency", b.currency);
    let amount = required.take("amount", b.amount);
    required.finish()?;
    let (Some(currency), Some(amount)) = (currency, amount) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let currency = parse_currency("currency", &currency)?;
    let amount = amount.parse("amount", currency)?;
    if b.reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(ApiError::validation("reference", "too_long", "must be at most 100 characters"));
    }
    let command = Command::CreateWithdrawal { account: caller.account, currency, amount, reference: b.reference };
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/withdrawals",
        body: &body.raw,
        key_required: true,
        error_kind: "withdrawal_error",
    };
    execute(&state, m, command, wire::withdrawal_response).await
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let filter = WithdrawalFilter {
        status: query.one_of("withdrawal_status", &["PENDING", "COMPLETED", "FAILED"])?,
        currency: query.currency("currency")?,
    };
    let page = state.engine.store().withdrawals(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |w| wire::withdrawal(&w))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("withdrawal", &id)?;
    let w = state
        .engine
        .store()
        .withdrawal(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("withdrawal".into()))?;
    Ok(Json(wire::withdrawal(&w)))
}
