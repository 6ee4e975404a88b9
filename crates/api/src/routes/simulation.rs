//! Sandbox only (not mounted in production mode): create deposits as UQPAY's simulator does, and
//! force deposits and withdrawals to their final state.
//!
//! Trigger: a simulated deposit whose `sender_name` contains `COMPLIANCE_REJECT` is rejected on
//! arrival and leaves nothing in the ledger.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use outlay_engine::{Command, DepositOutcome, NewDeposit, Settlement};
use serde::Deserialize;

use crate::extract::{Caller, DecimalInput, JsonBody, Required, parse_currency, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/simulation/deposit", post(simulate_deposit))
        .route("/api/v1/simulation/deposit/{id}", post(settle_deposit))
        .route("/api/v1/simulation/withdrawals/{id}", post(settle_withdrawal))
        .route("/api/v1/simulation/payouts/{id}", post(force_payout))
}

pub const REJECT_TRIGGER: &str = "COMPLIANCE_REJECT";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateDeposit {
    amount: Option<DecimalInput>,
    currency: Option<String>,
    receiver_account_number: Option<String>,
    sender_swift_code: Option<String>,
    sender_account_number: Option<String>,
    sender_country: Option<String>,
    sender_name: Option<String>,
    deposit_reference: Option<String>,
}

fn bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(ApiError::validation(field, "too_long", format!("must be at most {max} characters")))
        }
        other => Ok(other),
    }
}

async fn simulate_deposit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<SimulateDeposit>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let amount = required.take("amount", b.amount);
    let currency = required.take("currency", b.currency);
    required.finish()?;
    let (Some(amount), Some(currency)) = (amount, currency) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let currency = parse_currency("currency", &currency)?;
    let amount = amount.parse("amount", currency)?;
    if let Some(country) = &b.sender_country
        && (country.len() != 2 || !country.bytes().all(|c| c.is_ascii_uppercase()))
    {
        return Err(ApiError::validation("sender_country", "invalid_country", "must be a two-letter ISO 3166 code"));
    }
    let rejected = b.sender_name.as_deref().is_some_and(|n| n.contains(REJECT_TRIGGER));
    let deposit = NewDeposit {
        account: caller.account,
        currency,
        amount,
        receiver_account_number: bounded("receiver_account_number", b.receiver_account_number, 60)?,
        deposit_reference: bounded("deposit_reference", b.deposit_reference, 140)?,
        sender_name: bounded("sender_name", b.sender_name, 140)?,
        sender_country: b.sender_country,
        sender_account_number: bounded("sender_account_number", b.sender_account_number, 60)?,
        sender_swift_code: bounded("sender_swift_code", b.sender_swift_code, 30)?,
        source: "simulation",
        outcome: if rejected { DepositOutcome::Rejected } else { DepositOutcome::Pending },
    };
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/simulation/deposit",
        body: &body.raw,
        key_required: false,
        error_kind: "deposit_error",
    };
    execute(&state, m, Command::CreateDeposit(deposit), wire::deposit_response).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceDeposit {
    deposit_status: Option<String>,
}

async fn settle_deposit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<ForceDeposit>,
) -> Result<Response, ApiError> {
    let id = parse_id("deposit", &id)?;
    let mut required = Required::default();
    let status = required.take("deposit_status", body.value.deposit_status);
    required.finish()?;
    let settlement = match status.as_deref() {
        Some("COMPLETED") => Settlement::Complete,
        Some("FAILED") => Settlement::Fail { reason: "rejected in the sandbox".into() },
        _ => return Err(ApiError::validation("deposit_status", "invalid_value", "must be COMPLETED or FAILED")),
    };
    let path = format!("/api/v1/simulation/deposit/{id}");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &body.raw,
        key_required: false,
        error_kind: "deposit_error",
    };
    execute(
        &state,
        m,
        Command::SettleDeposit { account: caller.account, deposit: id, settlement },
        wire::deposit_response,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceWithdrawal {
    withdrawal_status: Option<String>,
    failure_reason: Option<String>,
}

async fn settle_withdrawal(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<ForceWithdrawal>,
) -> Result<Response, ApiError> {
    let id = parse_id("withdrawal", &id)?;
    let b = body.value;
    let mut required = Required::default();
    let status = required.take("withdrawal_status", b.withdrawal_status);
    required.finish()?;
    let settlement = match status.as_deref() {
        Some("COMPLETED") => Settlement::Complete,
        Some("FAILED") => Settlement::Fail {
            reason: bounded("failure_reason", b.failure_reason, 200)?
                .unwrap_or_else(|| "rejected by the beneficiary bank".into()),
        },
        _ => return Err(ApiError::validation("withdrawal_status", "invalid_value", "must be COMPLETED or FAILED")),
    };
    let path = format!("/api/v1/simulation/withdrawals/{id}");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &body.raw,
        key_required: false,
        error_kind: "withdrawal_error",
    };
    execute(
        &state,
        m,
        Command::SettleWithdrawal { account: caller.account, withdrawal: id, settlement },
        wire::withdrawal_response,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForcePayout {
    /// UQPAY's status (PENDING, COMPLETED, FAILED, REJECTED) or RETURNED (a late return).
    payout_status: Option<String>,
    failure_reason: Option<String>,
}

/// Force a payout to a status, stepping through SENT when the target needs it, as a rail would.
async fn force_payout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<ForcePayout>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    use outlay_core::payout::PayoutState;
    let id = parse_id("payout", &id)?;
    let b = body.value;
    let mut required = Required::default();
    let status = required.take("payout_status", b.payout_status);
    required.finish()?;
    let target = match status.as_deref() {
        Some("PENDING") => PayoutState::Sent,
        Some("COMPLETED") => PayoutState::Completed,
        Some("FAILED") => PayoutState::Failed,
        Some("REJECTED") => PayoutState::Rejected,
        Some("RETURNED") => PayoutState::Returned,
        _ => {
            return Err(ApiError::validation(
                "payout_status",
                "invalid_value",
                "must be PENDING, COMPLETED, FAILED, REJECTED or RETURNED",
            ));
        }
    };
    let reason = bounded("failure_reason", b.failure_reason, 200)?;
    let current =
        state.engine.store().payout(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("payout".into()))?;
    let from: PayoutState = current.state.parse().map_err(ApiError::Internal)?;
    let mut steps = Vec::new();
    if from == PayoutState::Scheduled && target != PayoutState::Rejected {
        steps.push(PayoutState::ReadyToSend);
    }
    if matches!(from, PayoutState::Scheduled | PayoutState::ReadyToSend) && matches!(target, PayoutState::Completed) {
        steps.push(PayoutState::Sent);
    }
    steps.push(target);
    let mut last = None;
    for to in steps {
        let command = Command::TransitionPayout { account: caller.account, payout: id, to, reason: reason.clone() };
        last = Some(state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, "payout_error"))?);
    }
    match last {
        Some(outlay_engine::Outcome::Payout(p)) => Ok(axum::Json(wire::payout(&p))),
        _ => Err(ApiError::Internal("no transition ran".into())),
    }
}
