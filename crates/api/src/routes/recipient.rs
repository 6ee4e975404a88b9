//! The recipient API (stored-value model): a recipient logs in with the credentials its client
//! issued, sees its wallet balances, adds transfer methods and withdraws when, how much and where
//! it chooses. Every route here takes [`RecipientCaller`] only, so a client token does not work
//! here and a recipient token works nowhere else. A recipient sees only its own data.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::payout::PayoutState;
use outlay_engine::auth::{TOKEN_LIFETIME_SECS, hash_secret, new_token, secret_matches};
use outlay_engine::events::{decimal, rfc3339};
use outlay_engine::idempotency::request_hash;
use outlay_engine::parse::beneficiary::{BeneficiaryBody, parse_beneficiary};
use outlay_engine::{Command, IdempotencyContext, NewWalletWithdrawal, Outcome, StoredResponse, WriteResult};
use outlay_store::{BeneficiaryRow, PayoutRow, RecipientTokenRow};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::extract::{DecimalInput, JsonBody, ListQuery, Required, parse_currency};
use crate::idempotency::{key_from_headers, ok_json};
use crate::recipient_auth::RecipientCaller;
use crate::routes::wallets::{recipient_json, wallets_of};
use crate::wire::List;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/recipient/access_token", post(access_token))
        .route("/api/v1/recipient/me", get(me))
        .route("/api/v1/recipient/wallets", get(wallets))
        .route("/api/v1/recipient/transfer_methods", get(list_methods).post(create_method))
        .route("/api/v1/recipient/withdrawals", get(list_withdrawals).post(create_withdrawal))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// `x-client-id` and `x-api-key` of the recipient in, a 30-minute recipient token out.
async fn access_token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let (client_id, api_key) = match (header(&headers, "x-client-id"), header(&headers, "x-api-key")) {
        (Some(c), Some(k)) => (c, k),
        (c, k) => {
            let missing = [("x-client-id", c.is_none()), ("x-api-key", k.is_none())]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n.to_owned())
                .collect();
            return Err(ApiError::MissingFields(missing));
        }
    };
    let credential = state.engine.store().recipient_credential(client_id).await?;
    // Compare against something even when the client id is unknown, so timing tells nothing.
    let stored = credential.as_ref().map_or("0".repeat(64), |c| c.secret_hash.clone());
    let valid = secret_matches(api_key, &stored);
    let credential = match credential {
        Some(c) if valid && c.revoked_at.is_none() => c,
        _ => return Err(ApiError::unauthorized("invalid_credentials", "the client id or API key is not valid")),
    };
    match state.engine.store().recipient(credential.account_id, credential.recipient_id).await? {
        Some(r) if r.status == "ACTIVE" => {}
        _ => return Err(ApiError::unauthorized("invalid_credentials", "the recipient is not active")),
    }
    let token = new_token();
    let now = state.engine.clock().now();
    let expires_at = now + time::Duration::seconds(TOKEN_LIFETIME_SECS);
    let command = Command::IssueRecipientToken(Box::new(RecipientTokenRow {
        token_hash: hash_secret(&token),
        recipient_id: credential.recipient_id,
        account_id: credential.account_id,
        expires_at,
        created_at: now,
    }));
    state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, "unauthorized_error"))?;
    Ok(Json(json!({ "auth_token": token, "expired_at": expires_at.unix_timestamp() })))
}

async fn me(State(state): State<AppState>, caller: RecipientCaller) -> Result<Json<Value>, ApiError> {
    let store = state.engine.store();
    let r = store
        .recipient(caller.account, caller.recipient)
        .await?
        .ok_or_else(|| ApiError::NotFound("recipient".into()))?;
    let balances = store.balances(caller.account).await?;
    Ok(Json(recipient_json(&r, Some(wallets_of(&balances, r.id)))))
}

async fn wallets(State(state): State<AppState>, caller: RecipientCaller) -> Result<Json<Value>, ApiError> {
    let balances = state.engine.store().balances(caller.account).await?;
    let data = wallets_of(&balances, caller.recipient);
    Ok(Json(json!({"total_pages": 1, "total_items": data.len(), "data": data})))
}

// --- transfer methods ---

/// Only the last four characters of an account number or IBAN are ever shown.
fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

pub fn transfer_method_json(b: &BeneficiaryRow) -> Value {
    let mut details = b.bank_details.clone();
    if let Some(obj) = details.as_object_mut() {
        for (key, value) in obj.iter_mut() {
            if (key.contains("account_number") || key == "iban")
                && let Some(text) = value.as_str()
            {
                *value = json!(mask(text));
            }
        }
    }
    json!({
        "transfer_method_id": b.id,
        "type": "bank_account",
        "payment_method": b.payment_method,
        "entity_type": b.entity_type,
        "first_name": b.first_name,
        "last_name": b.last_name,
        "company_name": b.company_name,
        "nickname": b.nickname,
        "country": b.bank_country_code,
        "currency": b.account_currency_code,
        "clearing_system": b.clearing_system,
        "bank_details": details,
        "create_time": rfc3339(b.created_at),
    })
}

fn transfer_method_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::TransferMethod { beneficiary, .. } => ok_json(&transfer_method_json(beneficiary)),
        other => render_error(other),
    }
}

fn render_error(outcome: &Outcome) -> StoredResponse {
    tracing::error!(?outcome, "renderer got an outcome of another command");
    StoredResponse {
        status: 500,
        body: r#"{"type":"internal_error","code":"internal_error","message":"internal error"}"#.to_owned(),
    }
}

fn json_response(stored: &StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response =
        (status, [(axum::http::header::CONTENT_TYPE, "application/json")], stored.body.clone()).into_response();
    if replayed {
        response.headers_mut().insert("x-idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Run a recipient's command under its `x-idempotency-key`. Keys live in the client account's
/// scope; the recipient id is part of the request fingerprint, so another recipient reusing a key
/// gets a 409, never someone else's response.
struct RecipientMutation<'a> {
    caller: RecipientCaller,
    headers: &'a HeaderMap,
    path: &'a str,
    body: &'a Value,
    key_required: bool,
}

async fn execute_as_recipient(
    state: &AppState,
    m: RecipientMutation<'_>,
    command: Command,
    render: fn(&Outcome) -> StoredResponse,
) -> Result<Response, ApiError> {
    let RecipientMutation { caller, headers, path, body, key_required } = m;
    let kind = "payout_error";
    let key = key_from_headers(headers, key_required)?;
    // Recipients are credentials too: what they do joins the client's audit trail, in the
    // effect's own transaction.
    if let Some(audit) = crate::audit::recipient_context(caller.account, caller.recipient, Some(Arc::new(render))) {
        let fingerprint = json!({"recipient_id": caller.recipient, "body": body});
        let idem = key.map(|key| IdempotencyContext {
            account: caller.account,
            key,
            request_hash: request_hash("POST", path, caller.account, &fingerprint),
            render: Arc::new(render),
        });
        return match state
            .engine
            .execute_audited(command, idem, audit)
            .await
            .map_err(|e| ApiError::from_command(e, kind))?
        {
            WriteResult::Done { outcome, response } => {
                crate::audit::mark_recorded();
                Ok(json_response(&response.unwrap_or_else(|| render(&outcome)), false))
            }
            WriteResult::Replayed(stored) => Ok(json_response(&stored, true)),
        };
    }
    let Some(key) = key else {
        let outcome = state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, kind))?;
        return Ok(json_response(&render(&outcome), false));
    };
    let fingerprint = json!({"recipient_id": caller.recipient, "body": body});
    let idem = IdempotencyContext {
        account: caller.account,
        key,
        request_hash: request_hash("POST", path, caller.account, &fingerprint),
        render: Arc::new(render),
    };
    match state.engine.execute_idempotent(command, idem).await.map_err(|e| ApiError::from_command(e, kind))? {
        WriteResult::Done { outcome, response } => {
            Ok(json_response(&response.unwrap_or_else(|| render(&outcome)), false))
        }
        WriteResult::Replayed(stored) => Ok(json_response(&stored, true)),
    }
}

async fn create_method(
    State(state): State<AppState>,
    caller: RecipientCaller,
    headers: HeaderMap,
    body: JsonBody<BeneficiaryBody>,
) -> Result<Response, ApiError> {
    let b = parse_beneficiary(body.value, caller.account, "")?;
    let command = Command::CreateTransferMethod { recipient: caller.recipient, beneficiary: Box::new(b) };
    let m = RecipientMutation {
        caller,
        headers: &headers,
        path: "/api/v1/recipient/transfer_methods",
        body: &body.raw,
        key_required: false,
    };
    execute_as_recipient(&state, m, command, transfer_method_response).await
}

async fn list_methods(State(state): State<AppState>, caller: RecipientCaller) -> Result<Json<Value>, ApiError> {
    let store = state.engine.store();
    let mut data = Vec::new();
    for m in store.recipient_transfer_methods(caller.recipient).await? {
        if let Some(b) = store.beneficiary(caller.account, m.id).await? {
            data.push(transfer_method_json(&b));
        }
    }
    Ok(Json(json!({"total_pages": 1, "total_items": data.len(), "data": data})))
}

// --- withdrawals ---

fn withdrawal_json(p: &PayoutRow, transfer_method: Uuid) -> Value {
    let state = p.state.parse::<PayoutState>().ok();
    json!({
        "withdrawal_id": p.id,
        "short_reference_id": p.short_reference_id,
        "transfer_method_id": transfer_method,
        "currency": p.currency,
        "amount": decimal(p.amount, &p.currency),
        "fee_amount": decimal(p.fee_amount, &p.currency),
        "reference": p.payout_reference,
        "withdrawal_status": state.map(PayoutState::wire_status),
        "outlay_status": p.state,
        "failure_reason": p.failure_reason,
        "create_time": rfc3339(p.created_at),
        "update_time": rfc3339(p.updated_at),
        "completed_time": p.completed_at.map(rfc3339),
    })
}

fn withdrawal_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Payout(p) => ok_json(&withdrawal_json(p, p.beneficiary_id)),
        other => render_error(other),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWithdrawalBody {
    transfer_method_id: Option<String>,
    currency: Option<String>,
    amount: Option<DecimalInput>,
    reference: Option<String>,
}

async fn create_withdrawal(
    State(state): State<AppState>,
    caller: RecipientCaller,
    headers: HeaderMap,
    body: JsonBody<CreateWithdrawalBody>,
) -> Result<Response, ApiError> {
    let b = &body.value;
    let mut required = Required::default();
    let method = required.take("transfer_method_id", b.transfer_method_id.as_ref());
    let currency = required.take("currency", b.currency.as_ref());
    let amount = required.take("amount", b.amount.as_ref());
    required.finish()?;
    let (Some(method), Some(currency), Some(amount)) = (method, currency, amount) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let transfer_method = Uuid::parse_str(method.trim()).map_err(|_| {
        ApiError::validation("transfer_method_id", "invalid_uuid", "must be a transfer method id (a UUID)")
    })?;
    let currency = parse_currency("currency", currency)?;
    let amount = amount.parse("amount", currency)?;
    let reference = b.reference.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("Wallet withdrawal");
    let command = Command::CreateWalletWithdrawal(NewWalletWithdrawal {
        account: caller.account,
        recipient: caller.recipient,
        transfer_method,
        currency,
        amount,
        reference: reference.to_owned(),
    });
    let m = RecipientMutation {
        caller,
        headers: &headers,
        path: "/api/v1/recipient/withdrawals",
        body: &body.raw,
        key_required: true,
    };
    execute_as_recipient(&state, m, command, withdrawal_response).await
}

async fn list_withdrawals(
    State(state): State<AppState>,
    caller: RecipientCaller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let store = state.engine.store();
    let page = store.wallet_withdrawals(caller.recipient, query.page).await?;
    let mut data = Vec::with_capacity(page.items.len());
    for w in &page.items {
        if let Some(p) = store.payout(caller.account, w.payout_id).await? {
            data.push(withdrawal_json(&p, w.transfer_method_id));
        }
    }
    let size = u64::from(query.page.size.max(1));
    Ok(Json(List { total_pages: page.total_items.div_ceil(size), total_items: page.total_items, data }))
}
