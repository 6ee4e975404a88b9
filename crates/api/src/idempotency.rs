//! Running a command under the caller's `x-idempotency-key`.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outlay_core::IdempotencyKey;
use outlay_engine::idempotency::request_hash;
use outlay_engine::{Command, IdempotencyContext, Outcome, StoredResponse, WriteResult};

use crate::extract::Caller;
use crate::{ApiError, AppState};

pub fn key_from_headers(headers: &HeaderMap, required: bool) -> Result<Option<IdempotencyKey>, ApiError> {
    match headers.get("x-idempotency-key") {
        None if required => Err(ApiError::MissingFields(vec!["x-idempotency-key".into()])),
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::validation(
                    "x-idempotency-key",
                    "invalid_idempotency_key",
                    "must contain only visible ASCII characters",
                )
            })?;
            IdempotencyKey::parse(text)
                .map(Some)
                .map_err(|e| ApiError::validation("x-idempotency-key", "invalid_idempotency_key", e))
        }
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

/// A mutating POST as the idempotency layer sees it.
pub struct Mutation<'a> {
    pub caller: &'a Caller,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub body: &'a serde_json::Value,
    pub key_required: bool,
    /// The envelope `type` for business errors (`withdrawal_error`, `payout_error`, ...).
    pub error_kind: &'static str,
}

/// Execute `command`, under the key if one was sent, rendering the outcome with `render`.
pub async fn execute(
    state: &AppState,
    m: Mutation<'_>,
    command: Command,
    render: fn(&Outcome) -> StoredResponse,
) -> Result<Response, ApiError> {
    let (caller, error_kind) = (m.caller, m.error_kind);
    let key = key_from_headers(m.headers, m.key_required)?;
    if let Some(audit) = crate::audit::context(caller, Some(Arc::new(render))) {
        // Audited: the record is appended in the effect's own transaction.
        let idem = key.map(|key| IdempotencyContext {
            account: caller.account,
            key,
            request_hash: request_hash("POST", m.path, caller.account, m.body),
            render: Arc::new(render),
        });
        return match state
            .engine
            .execute_audited(command, idem, audit)
            .await
            .map_err(|e| ApiError::from_command(e, error_kind))?
        {
            WriteResult::Done { outcome, response } => {
                crate::audit::mark_recorded();
                Ok(json_response(&response.unwrap_or_else(|| render(&outcome)), false))
            }
            WriteResult::Replayed(stored) => Ok(json_response(&stored, true)),
        };
    }
    let Some(key) = key else {
        let outcome = state.engine.execute(command).await.map_err(|e| ApiError::from_command(e, error_kind))?;
        return Ok(json_response(&render(&outcome), false));
    };
    let idem = IdempotencyContext {
        account: caller.account,
        key,
        request_hash: request_hash("POST", m.path, caller.account, m.body),
        render: Arc::new(render),
    };
    match state.engine.execute_idempotent(command, idem).await.map_err(|e| ApiError::from_command(e, error_kind))? {
        WriteResult::Done { outcome, response } => {
            Ok(json_response(&response.unwrap_or_else(|| render(&outcome)), false))
        }
        WriteResult::Replayed(stored) => Ok(json_response(&stored, true)),
    }
}

/// Serialize a wire object as a 200 response to be stored.
pub fn ok_json<T: serde::Serialize>(value: &T) -> StoredResponse {
    StoredResponse { status: 200, body: serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned()) }
}
