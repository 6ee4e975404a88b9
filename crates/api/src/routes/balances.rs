//! `GET /api/v1/balances`, `/api/v1/balances/{currency}` and `/api/v1/balances/transactions`.
//! UQPAY's fields plus `pending_balance` and `reserved_balance`: the Unified Balance is their sum.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use outlay_core::AccountId;
use outlay_engine::events::{decimal, rfc3339};
use outlay_store::{BalanceRow, TransactionFilter, TransactionRow};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::extract::{Caller, ListQuery, parse_currency};
use crate::wire::{List, balance_id};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/balances", get(list))
        .route("/api/v1/balances/transactions", get(transactions))
        .route("/api/v1/balances/{currency}", get(retrieve))
}

#[derive(Default)]
struct Unified {
    available: i64,
    pending: i64,
    reserve: i64,
    /// Every recipient wallet (stored-value model): still the client's money.
    wallets: i64,
    created: Option<OffsetDateTime>,
    updated: Option<OffsetDateTime>,
}

fn unify(rows: Vec<BalanceRow>) -> BTreeMap<String, Unified> {
    let mut out: BTreeMap<String, Unified> = BTreeMap::new();
    for row in rows {
        let u = out.entry(row.currency.clone()).or_default();
        match row.kind.as_str() {
            "available" => u.available += row.balance,
            "pending" => u.pending += row.balance,
            "reserve" => u.reserve += row.balance,
            k if k.starts_with("wallet:") => u.wallets += row.balance,
            _ => continue,
        }
        u.created = Some(u.created.map_or(row.created_at, |c| c.min(row.created_at)));
        u.updated = Some(u.updated.map_or(row.updated_at, |c| c.max(row.updated_at)));
    }
    out
}

fn balance_json(account: AccountId, currency: &str, u: &Unified) -> Value {
    let zero = decimal(0, currency);
    json!({
        "balance_id": balance_id(account, currency),
        "currency": currency,
        "available_balance": decimal(u.available, currency),
        "pending_balance": decimal(u.pending, currency),
        "reserved_balance": decimal(u.reserve, currency),
        "wallet_balance": decimal(u.wallets, currency),
        "unified_balance": decimal(u.available + u.pending + u.reserve + u.wallets, currency),
        "prepaid_balance": zero,
        "margin_balance": zero,
        "frozen_balance": zero,
        "create_time": u.created.map(rfc3339),
        "last_trade_time": u.updated.map(rfc3339),
        "balance_status": "ACTIVE",
    })
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let filter = query.currency("currency")?;
    let all: Vec<Value> = unify(state.engine.store().balances(caller.account).await?)
        .iter()
        .filter(|(c, _)| filter.as_deref().is_none_or(|f| f == c.as_str()))
        .map(|(c, u)| balance_json(caller.account, c, u))
        .collect();
    let total = all.len() as u64;
    let size = u64::from(query.page.size);
    let data = all.into_iter().skip(query.page.offset() as usize).take(query.page.size as usize).collect();
    Ok(Json(List { total_pages: total.div_ceil(size), total_items: total, data }))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(currency): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let currency = parse_currency("currency", &currency)?;
    let balances = unify(state.engine.store().balances(caller.account).await?);
    let code = currency.code();
    let u = balances.get(code).map_or_else(
        || balance_json(caller.account, code, &Unified::default()),
        |u| balance_json(caller.account, code, u),
    );
    Ok(Json(u))
}

const TRANSACTION_TYPES: &[&str] = &["DEPOSIT", "WITHDRAWAL", "RESERVE", "PAYOUT", "CONVERSION", "TRANSFER", "FEE"];

fn transaction_json(account: AccountId, t: &TransactionRow) -> Value {
    let amount = decimal(t.amount.abs(), &t.currency);
    json!({
        "transaction_id": uuid::Uuid::new_v5(&t.entry_id, &t.line_no.to_be_bytes()),
        "entry_id": t.entry_id,
        "account_id": account,
        "balance_id": balance_id(account, &t.currency),
        "currency": t.currency,
        "amount": amount,
        "credit_debit_type": if t.amount >= 0 { "C" } else { "D" },
        "balance_type": t.balance_kind.to_uppercase(),
        "transaction_type": t.reference_type.to_uppercase(),
        "entry_type": t.entry_kind,
        "transaction_status": "COMPLETED",
        "reference_id": t.reference_id,
        "create_time": rfc3339(t.created_at),
        "complete_time": rfc3339(t.created_at),
    })
}

async fn transactions(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let filter = TransactionFilter {
        currency: query.currency("currency")?,
        reference_type: query.one_of("transaction_type", TRANSACTION_TYPES)?.map(|t| t.to_lowercase()),
        balance_kind: query.one_of("balance_type", &["AVAILABLE", "PENDING", "RESERVE"])?.map(|t| t.to_lowercase()),
        start_time: query.time("start_time")?,
        end_time: query.time("end_time")?,
    };
    let page = state.engine.store().transactions(caller.account, &filter, query.page).await?;
    let account = caller.account;
    Ok(Json(List::from_page(page, query.page, |t| transaction_json(account, &t))))
}
