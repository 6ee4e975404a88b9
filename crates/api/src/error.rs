//! One error type for the whole API, rendered in UQPAY's envelope
//! `{"type", "code", "message"}` plus the offending field names for validation errors.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use outlay_engine::CommandError;
use outlay_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation { field: String, code: &'static str, message: String },
    #[error("missing required fields: {}", .0.join(", "))]
    MissingFields(Vec<String>),
    /// Several fields broke rules at once; the first is reported in `field`/`code`/`message`.
    #[error("{}", describe_issues(.0))]
    Fields(Vec<FieldIssue>),
    #[error("request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("a {role} credential may not make this request (it needs the {needed:?} permission)")]
    Forbidden { role: outlay_core::roles::Role, needed: outlay_core::roles::Permission },
    #[error("the x-on-behalf-of account is not a connected account of the caller")]
    SubAccountNotFound,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{message}")]
    Idempotency { status: StatusCode, code: &'static str, message: String },
    #[error("{message}")]
    Business { kind: &'static str, code: &'static str, message: String, field: Option<&'static str> },
    #[error("{0}")]
    InvalidState(String),
    #[error("the server is at capacity; retry shortly")]
    Overloaded,
    #[error("internal error")]
    Internal(String),
}

/// One field that broke one rule (the parsers live in `outlay_engine::parse`).
pub use outlay_engine::parse::FieldIssue;

impl From<Vec<FieldIssue>> for ApiError {
    fn from(issues: Vec<FieldIssue>) -> Self {
        ApiError::Fields(issues)
    }
}

fn describe_issues(issues: &[FieldIssue]) -> String {
    match issues {
        [] => "invalid request".to_owned(),
        [one] => one.message.clone(),
        [first, rest @ ..] => format!("{} (and {} more: see errors)", first.message, rest.len()),
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing_fields: Vec<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    retryable: bool,
    #[serde(skip_serializing_if = "<[FieldIssue]>::is_empty")]
    errors: &'a [FieldIssue],
}

impl ApiError {
    pub fn validation(field: impl Into<String>, code: &'static str, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        ApiError::Validation { message: format!("{field} {message}"), field, code }
    }

    pub fn unauthorized(code: &'static str, message: &str) -> Self {
        ApiError::Unauthorized { code, message: message.to_owned() }
    }

    /// Map an engine error in the context of a resource (`payout_error`, `withdrawal_error`, ...).
    pub fn from_command(e: CommandError, kind: &'static str) -> Self {
        match e {
            CommandError::InsufficientFunds { currency } => ApiError::Business {
                kind,
                code: "insufficient_balance",
                message: format!("amount (plus any fee) exceeds the available balance in {currency}"),
                field: Some("amount"),
            },
            CommandError::NotFound { what } => ApiError::NotFound(what.to_owned()),
            CommandError::InvalidState(m) => ApiError::InvalidState(m),
            CommandError::Rejected { field, code, message } => {
                // Every message names its field, whoever wrote it.
                let message = if message.contains(field) { message } else { format!("{field}: {message}") };
                ApiError::Business { kind, code, message, field: Some(field) }
            }
            CommandError::IdempotencyMismatch => ApiError::Idempotency {
                status: StatusCode::CONFLICT,
                code: "idempotency_key_reused",
                message: "this x-idempotency-key was already used with a different request".into(),
            },
            CommandError::IdempotencyInFlight => ApiError::Idempotency {
                status: StatusCode::CONFLICT,
                code: "idempotency_request_in_progress",
                message: "a request with this x-idempotency-key is still being processed; retry shortly".into(),
            },
            CommandError::Overloaded | CommandError::ShuttingDown => ApiError::Overloaded,
            CommandError::RetryCommand | CommandError::RetryBatch | CommandError::Internal(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, kind, code, field, missing, retryable) = match &self {
            ApiError::Validation { field, code, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", *code, Some(field.as_str()), vec![], false)
            }
            ApiError::MissingFields(fields) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "missing_required_fields",
                None,
                fields.iter().map(String::as_str).collect(),
                false,
            ),
            ApiError::Fields(issues) => {
                let first = issues.first();
                (
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    first.map_or("invalid_request", |i| i.code),
                    first.map(|i| i.field.as_str()),
                    vec![],
                    false,
                )
            }
            ApiError::BadJson(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_json", None, vec![], false)
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "unsupported_media_type",
                None,
                vec![],
                false,
            ),
            ApiError::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", "payload_too_large", None, vec![], false)
            }
            ApiError::Unauthorized { code, .. } => {
                (StatusCode::UNAUTHORIZED, "unauthorized_error", *code, None, vec![], false)
            }
            ApiError::Forbidden { .. } => {
                (StatusCode::FORBIDDEN, "permission_error", "permission_denied", None, vec![], false)
            }
            ApiError::SubAccountNotFound => (
                StatusCode::BAD_REQUEST,
                "account_error",
                "sub_account_not_found",
                Some("x-on-behalf-of"),
                vec![],
                false,
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "resource_not_found", None, vec![], false),
            ApiError::Idempotency { status, code, .. } => (
                *status,
                "idempotency_error",
                *code,
                Some("x-idempotency-key"),
                vec![],
                *code == "idempotency_request_in_progress",
            ),
            ApiError::Business { kind, code, field, .. } => {
                (StatusCode::BAD_REQUEST, *kind, *code, *field, vec![], false)
            }
            ApiError::InvalidState(_) => {
                (StatusCode::CONFLICT, "invalid_request_error", "invalid_state", None, vec![], false)
            }
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "api_error", "server_busy", None, vec![], true),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "api_error", "internal_error", None, vec![], true)
            }
        };
        let message = if matches!(self, ApiError::Internal(_)) {
            "internal error; it is safe to retry with the same x-idempotency-key".to_owned()
        } else {
            message
        };
        let errors: &[FieldIssue] = match &self {
            ApiError::Fields(issues) if issues.len() > 1 => issues,
            _ => &[],
        };
        let body = Envelope { kind, code, message, field, missing_fields: missing, retryable, errors };
        let mut response = (status, Json(body)).into_response();
        if retryable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, ApiError::Overloaded) {
            response.extensions_mut().insert(NotRun);
        }
        response
    }
}

/// Marks a response to a request whose write the engine refused without running it (overload,
/// shutdown): nothing was done, so the audit trail records nothing either.
#[derive(Clone, Copy, Debug)]
pub struct NotRun;

pub async fn not_found_fallback() -> ApiError {
    ApiError::NotFound("route".into())
}

pub async fn method_not_allowed_fallback() -> Response {
    let body = Envelope {
        kind: "invalid_request_error",
        code: "method_not_allowed",
        message: "this method is not allowed on this path".into(),
        field: None,
        missing_fields: vec![],
        retryable: false,
        errors: &[],
    };
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}
