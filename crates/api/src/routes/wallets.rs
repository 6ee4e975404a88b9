//! The stored-value (wallet) model, client side: the account's payout model, recipients (each
//! with its own credentials, shown once) and payouts into their wallets. The recipient side is
//! `routes::recipient`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use outlay_core::AccountId;
use outlay_engine::auth::{hash_secret, new_api_key, new_client_id};
use outlay_engine::events::{decimal, rfc3339};
use outlay_engine::{Command, NewRecipient, NewWalletPayout, Outcome, StoredResponse};
use outlay_store::{BalanceRow, RecipientRow, WalletPayoutRow};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::extract::{Caller, DecimalInput, JsonBody, ListQuery, Required, parse_currency, parse_id};
use crate::idempotency::{Mutation, execute, ok_json};
use crate::wire::List;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts/payout_model", get(get_payout_model).post(set_payout_model))
        .route("/api/v1/recipients", get(list_recipients).post(create_recipient))
        .route("/api/v1/recipients/{id}", get(retrieve_recipient))
        .route("/api/v1/wallet_payouts", get(list_wallet_payouts).post(create_wallet_payout))
        .route("/api/v1/wallet_payouts/{id}", get(retrieve_wallet_payout))
}

fn render_error(outcome: &Outcome) -> StoredResponse {
    tracing::error!(?outcome, "renderer got an outcome of another command");
    StoredResponse {
        status: 500,
        body: r#"{"type":"internal_error","code":"internal_error","message":"internal error"}"#.to_owned(),
    }
}

/// The wallets of one recipient, from the client's ledger accounts `wallet:<recipient>`.
pub fn wallets_of(balances: &[BalanceRow], recipient: Uuid) -> Vec<Value> {
    let kind = format!("wallet:{recipient}");
    balances
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| {
            json!({
                "currency": b.currency,
                "balance": decimal(b.balance, &b.currency),
                "update_time": rfc3339(b.updated_at),
            })
        })
        .collect()
}

pub fn recipient_json(r: &RecipientRow, wallets: Option<Vec<Value>>) -> Value {
    let mut v = json!({
        "recipient_id": r.id,
        "account_id": r.account_id,
        "external_reference": r.external_reference,
        "name": r.name,
        "email": r.email,
        "recipient_status": r.status,
        "create_time": rfc3339(r.created_at),
    });
    if let Some(w) = wallets {
        v["wallets"] = Value::Array(w);
    }
    v
}

fn wallet_payout_json(w: &WalletPayoutRow) -> Value {
    json!({
        "wallet_payout_id": w.id,
        "short_reference_id": w.short_reference_id,
        "recipient_id": w.recipient_id,
        "currency": w.currency,
        "amount": decimal(w.amount, &w.currency),
        "reference": w.reference,
        "wallet_payout_status": w.status,
        "create_time": rfc3339(w.created_at),
    })
}

fn wallet_payout_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::WalletPayout(w) => ok_json(&wallet_payout_json(w)),
        other => render_error(other),
    }
}

// --- payout model ---

async fn payout_model_of(state: &AppState, account: AccountId) -> Result<String, ApiError> {
    Ok(state.engine.store().payout_model(account).await?.unwrap_or_else(|| "bank".to_owned()))
}

async fn get_payout_model(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let model = payout_model_of(&state, caller.account).await?;
    Ok(Json(json!({"account_id": caller.account, "payout_model": model})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutModelBody {
    payout_model: Option<String>,
}

async fn set_payout_model(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<PayoutModelBody>,
) -> Result<Json<Value>, ApiError> {
    let model = body.value.payout_model.ok_or_else(|| ApiError::MissingFields(vec!["payout_model".into()]))?;
    let model = model.trim().to_ascii_lowercase();
    if !["bank", "wallet", "both"].contains(&model.as_str()) {
        return Err(ApiError::validation("payout_model", "invalid_value", "must be one of bank, wallet, both"));
    }
    let command = Command::SetPayoutModel { account: caller.account, model };
    match state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, "account_error"))? {
        Outcome::PayoutModelSet { model } => Ok(Json(json!({"account_id": caller.account, "payout_model": model}))),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

// --- recipients ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRecipientBody {
    name: Option<String>,
    email: Option<String>,
    external_reference: Option<String>,
}

/// Creating a recipient issues its credentials, shown in this response only. It is not stored
/// under an idempotency key (the response holds a secret); `external_reference` is unique per
/// account, so a retry with the same one is refused instead of creating a second recipient.
async fn create_recipient(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<CreateRecipientBody>,
) -> Result<Json<Value>, ApiError> {
    let b = body.value;
    let name = b.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| ApiError::MissingFields(vec!["name".into()]))?;
    if name.chars().count() > 140 {
        return Err(ApiError::validation("name", "too_long", "must be at most 140 characters"));
    }
    let email = b.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &email
        && (e.len() > 254 || !e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')))
    {
        return Err(ApiError::validation("email", "invalid_email", "must be an email address"));
    }
    let external_reference = b.external_reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if external_reference.as_ref().is_some_and(|r| r.chars().count() > 64) {
        return Err(ApiError::validation("external_reference", "too_long", "must be at most 64 characters"));
    }
    let (client_id, api_key) = (new_client_id(), new_api_key());
    let command = Command::CreateRecipient(Box::new(NewRecipient {
        account: caller.account,
        external_reference,
        name,
        email,
        client_id: client_id.clone(),
        api_key_hash: hash_secret(&api_key),
    }));
    match state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, "recipient_error"))? {
        Outcome::Recipient(r) => {
            let mut v = recipient_json(&r, Some(Vec::new()));
            v["client_id"] = json!(client_id);
            v["api_key"] = json!(api_key);
            Ok(Json(v))
        }
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

async fn list_recipients(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let page = state.engine.store().recipients(caller.account, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |r| recipient_json(&r, None))))
}

async fn retrieve_recipient(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("recipient", &id)?;
    let store = state.engine.store();
    let r = store.recipient(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("recipient".into()))?;
    let balances = store.balances(caller.account).await?;
    Ok(Json(recipient_json(&r, Some(wallets_of(&balances, r.id)))))
}

// --- wallet payouts ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWalletPayoutBody {
    recipient_id: Option<String>,
    currency: Option<String>,
    amount: Option<DecimalInput>,
    reference: Option<String>,
}

async fn create_wallet_payout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreateWalletPayoutBody>,
) -> Result<Response, ApiError> {
    let b = &body.value;
    let mut required = Required::default();
    let recipient = required.take("recipient_id", b.recipient_id.as_ref());
    let currency = required.take("currency", b.currency.as_ref());
    let amount = required.take("amount", b.amount.as_ref());
    required.finish()?;
    let (Some(recipient), Some(currency), Some(amount)) = (recipient, currency, amount) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let recipient = Uuid::parse_str(recipient.trim())
        .map_err(|_| ApiError::validation("recipient_id", "invalid_uuid", "must be a recipient id (a UUID)"))?;
    let currency = parse_currency("currency", currency)?;
    let amount = amount.parse("amount", currency)?;
    if b.reference.as_ref().is_some_and(|r| r.chars().count() > 140) {
        return Err(ApiError::validation("reference", "too_long", "must be at most 140 characters"));
    }
    let command = Command::CreateWalletPayout(NewWalletPayout {
        account: caller.account,
        recipient,
        currency,
        amount,
        reference: b.reference.clone(),
    });
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/wallet_payouts",
        body: &body.raw,
        key_required: true,
        error_kind: "payout_error",
    };
    execute(&state, m, command, wallet_payout_response).await
}

async fn list_wallet_payouts(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let recipient = query
        .get("recipient_id")
        .map(|r| {
            Uuid::parse_str(r)
                .map_err(|_| ApiError::validation("recipient_id", "invalid_uuid", "must be a recipient id (a UUID)"))
        })
        .transpose()?;
    let page = state.engine.store().wallet_payouts(caller.account, recipient, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |w| wallet_payout_json(&w))))
}

async fn retrieve_wallet_payout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("wallet_payout", &id)?;
    let w = state
        .engine
        .store()
        .wallet_payout(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("wallet_payout".into()))?;
    Ok(Json(wallet_payout_json(&w)))
}
