//! `POST /api/v1/payouts` with every rule of UQPAY's Create Payout page, list, retrieve, and
//! Outlay's own `POST /api/v1/payouts/{id}/cancel`, `/approve` and `/reject_approval`
//! (maker-checker for payouts above the account's approval threshold).
//!
//! Rules that need only the request are checked here and reported together (`errors`); rules
//! that need stored data (beneficiary, quote, files, balance) are checked in the writer, in the
//! transaction that holds the money.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::payout::PayoutState;
use outlay_engine::Command;
use outlay_engine::parse::payout::{CreatePayout, parse_payout};
use outlay_store::PayoutFilter;
use serde_json::{Value, json};

use crate::error::FieldIssue;
use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payouts", get(list).post(create))
        .route("/api/v1/payouts/{id}", get(retrieve))
        .route("/api/v1/payouts/{id}/cancel", post(cancel))
        .route("/api/v1/payouts/{id}/approve", post(approve))
        .route("/api/v1/payouts/{id}/reject_approval", post(reject_approval))
}

/// Collects every field error of a request.
#[derive(Default)]
pub struct Issues(pub Vec<FieldIssue>);

impl Issues {
    pub fn add(&mut self, field: impl Into<String>, code: &'static str, message: impl std::fmt::Display) {
        let field = field.into();
        self.0.push(FieldIssue { message: format!("{field} {message}"), field, code });
    }

    /// Record the error of `result`, keeping its value when there is none.
    pub fn check<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(ApiError::Validation { field, code, message }) => {
                self.0.push(FieldIssue { field, code, message });
                None
            }
            Err(ApiError::Fields(mut more)) => {
                self.0.append(&mut more);
                None
            }
            Err(ApiError::MissingFields(fields)) => {
                for f in fields {
                    self.add(f, "missing_required_field", "is required");
                }
                None
            }
            Err(other) => {
                self.add("request", "invalid_request", other);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Fields(self.0)) }
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreatePayout>,
) -> Result<Response, ApiError> {
    // UQPAY requires the key on this call; check it before anything else.
    let key = crate::idempotency::key_from_headers(&headers, true)?;
    let on_behalf = caller.account != caller.principal;
    let mut payout = parse_payout(body.value, caller.account, on_behalf, key.map(|k| k.as_str().to_owned()))?;
    // Maker-checker: the approver of a payout above the threshold must be another credential.
    payout.created_by = Some(caller.credential_id);
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/payouts",
        body: &body.raw,
        key_required: true,
        error_kind: "payout_error",
    };
    execute(&state, m, Command::CreatePayout(Box::new(payout)), wire::payout_response).await
}

/// Wire status filter → Outlay's finer states.
fn states_for(status: &str) -> Vec<String> {
    let states: &[PayoutState] = match status {
        "READY_TO_SEND" => &[PayoutState::Scheduled, PayoutState::ReadyToSend],
        "PENDING" => &[PayoutState::Sent, PayoutState::InReview, PayoutState::AwaitingApproval],
        "COMPLETED" => &[PayoutState::Completed],
        "FAILED" => &[PayoutState::Failed, PayoutState::Cancelled, PayoutState::Returned],
        "REJECTED" => &[PayoutState::Rejected],
        _ => &[],
    };
    states.iter().map(|s| s.code().to_owned()).collect()
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let wire_status =
        query.one_of("payout_status", &["READY_TO_SEND", "PENDING", "REJECTED", "FAILED", "COMPLETED"])?;
    let fine = query.one_of(
        "outlay_status",
        &[
            "SCHEDULED",
            "READY_TO_SEND",
            "SENT",
            "COMPLETED",
            "FAILED",
            "REJECTED",
            "CANCELLED",
            "RETURNED",
            "AWAITING_APPROVAL",
        ],
    )?;
    let states = match (wire_status, fine) {
        (_, Some(f)) => Some(vec![f]),
        (Some(w), None) => Some(states_for(&w)),
        (None, None) => None,
    };
    let filter = PayoutFilter {
        states,
        currency: query.currency("currency")?,
        beneficiary_id: query.get("beneficiary_id").map(|b| parse_id("beneficiary", b)).transpose()?,
        start_time: query.time("start_time")?,
        end_time: query.time("end_time")?,
    };
    let page = state.engine.store().payouts(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |p| wire::payout(&p))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("payout", &id)?;
    let store = state.engine.store();
    let payout = store.payout(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("payout".into()))?;
    let mut body = wire::payout(&payout);
    let history: Vec<Value> = store
        .payout_history(id)
        .await?
        .into_iter()
        .map(|t| json!({"from": t.from_state, "to": t.to_state, "reason": t.reason, "time": outlay_engine::events::rfc3339(t.at)}))
        .collect();
    body["status_history"] = Value::Array(history);
    Ok(Json(body))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("payout", &id)?;
    let path = format!("/api/v1/payouts/{id}/cancel");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &Value::Null,
        key_required: false,
        error_kind: "payout_error",
    };
    let command =
        Command::TransitionPayout { account: caller.account, payout: id, to: PayoutState::Cancelled, reason: None };
    execute(&state, m, command, wire::payout_response).await
}

/// `POST /api/v1/payouts/{id}/approve` and `/reject_approval`: the Approve permission (admin or
/// approver, see `outlay_core::roles`), audited under the approver's credential.
async fn decide_approval(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    approve: bool,
) -> Result<Response, ApiError> {
    let id = parse_id("payout", id)?;
    let path = format!("/api/v1/payouts/{id}/{}", if approve { "approve" } else { "reject_approval" });
    let m =
        Mutation { caller, headers, path: &path, body: &Value::Null, key_required: false, error_kind: "payout_error" };
    let (account, approver) = (caller.account, caller.credential_id);
    let command = if approve {
        Command::ApprovePayout { account, payout: id, approver }
    } else {
        Command::DeclinePayoutApproval { account, payout: id, approver }
    };
    execute(state, m, command, wire::payout_response).await
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide_approval(&state, &caller, &headers, &id, true).await
}

async fn reject_approval(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide_approval(&state, &caller, &headers, &id, false).await
}
