//! Request extractors: the authenticated caller, JSON bodies with field-named errors, paging.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use outlay_core::money::MAX_MINOR;
use outlay_core::roles::{Role, required_permission};
use outlay_core::{AccountId, Amount, Currency};
use outlay_engine::auth::hash_secret;
use outlay_store::PageRequest;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// Who is calling, and for which account.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    /// The account whose token this is.
    pub principal: AccountId,
    /// The account acted for: the principal, or one of its connected accounts (`x-on-behalf-of`).
    pub account: AccountId,
    /// The credential the token was issued to (who acts, for maker-checker and the audit trail).
    pub credential_id: Uuid,
    pub role: Role,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Already established for this very request by the audit middleware.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(*caller);
        }
        let raw = parts
            .headers
            .get("x-auth-token")
            .ok_or_else(|| ApiError::unauthorized("missing_token", "the x-auth-token header is required"))?
            .to_str()
            .map_err(|_| ApiError::unauthorized("invalid_token", "the x-auth-token header is not valid"))?;
        let token = raw.strip_prefix("Bearer ").unwrap_or(raw).trim();
        if token.is_empty() {
            return Err(ApiError::unauthorized("missing_token", "the x-auth-token header is empty"));
        }
        let hash = hash_secret(token);
        let grant = match state.tokens.get(&hash) {
            Some(cached) => cached,
            None => {
                let grant = state
                    .engine
                    .store()
                    .token(&hash)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized("invalid_token", "the auth token is not valid"))?;
                state.tokens.put(hash, grant.clone());
                grant
            }
        };
        if grant.expires_at <= state.engine.clock().now() {
            return Err(ApiError::unauthorized("token_expired", "the auth token has expired; request a new one"));
        }
        // A role stored by an older or newer version that this one does not know grants nothing.
        let role: Role = grant.role.parse().unwrap_or(Role::ReadOnly);
        let is_read = parts.method == Method::GET || parts.method == Method::HEAD;
        let needed = required_permission(is_read, parts.uri.path());
        if !role.allows(needed) {
            return Err(ApiError::Forbidden { role, needed });
        }
        let account = grant.account_id;
        let mut caller = Caller { principal: account, account, credential_id: grant.credential_id, role };
        if let Some(value) = parts.headers.get("x-on-behalf-of") {
            let text = value.to_str().map_err(|_| ApiError::SubAccountNotFound)?.trim();
            if !text.is_empty() {
                let id: AccountId = text.parse().map_err(|_| ApiError::SubAccountNotFound)?;
                match state.engine.store().account(id).await? {
                    Some(sub) if sub.parent_id == Some(account) && sub.status == "ACTIVE" => caller.account = id,
                    _ => return Err(ApiError::SubAccountNotFound),
                }
            }
        }
        Ok(caller)
    }
}

/// A JSON body: the typed value, plus the parsed document (for the idempotency fingerprint).
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Value,
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => ApiError::PayloadTooLarge(MAX_BODY_BYTES),
            other => ApiError::BadJson(other.body_text()),
        })?;
        let raw: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(e.to_string()))?;
        if !raw.is_object() {
            return Err(ApiError::BadJson("the body must be a JSON object".into()));
        }
        let value = serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner().to_string();
            if let Some(name) = inner.strip_prefix("missing field `").and_then(|s| s.split('`').next()) {
                let full = if field == "." { name.to_owned() } else { format!("{field}.{name}") };
                ApiError::MissingFields(vec![full])
            } else if inner.starts_with("unknown field") {
                ApiError::validation(field, "unknown_field", "is not a field of this request")
            } else {
                ApiError::validation(field, "invalid_type", format!("has the wrong type or value ({inner})"))
            }
        })?;
        Ok(Self { value, raw })
    }
}

/// Collects every missing required field so one response names them all.
#[derive(Default)]
pub struct Required(Vec<String>);

impl Required {
    pub fn take<T>(&mut self, name: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.0.push(name.to_owned());
        }
        value
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::MissingFields(self.0)) }
    }
}

/// A money amount as JSON: a decimal string, or a number whose text is short enough to be exact.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum DecimalInput {
    Text(String),
    Number(serde_json::Number),
}

impl DecimalInput {
    pub fn parse(&self, field: &str, currency: Currency) -> Result<Amount, ApiError> {
        let text = match self {
            DecimalInput::Text(t) => t.clone(),
            DecimalInput::Number(n) => {
                let text = n.to_string();
                let digits = text.chars().filter(char::is_ascii_digit).count();
                // Beyond 15 significant digits a JSON number may already have been rounded.
                if digits > MAX_MINOR.to_string().len() || text.contains(['e', 'E']) {
                    return Err(ApiError::validation(
                        field,
                        "invalid_amount",
                        "must be sent as a decimal string at this size",
                    ));
                }
                text
            }
        };
        Amount::parse_positive(&text, currency).map_err(|e| ApiError::validation(field, "invalid_amount", e))
    }
}

pub fn parse_currency(field: &str, code: &str) -> Result<Currency, ApiError> {
    Currency::parse(code).map_err(|e| ApiError::validation(field, "invalid_currency", e))
}

/// Query parameters, with paging validated as UQPAY documents it.
pub struct ListQuery {
    pub params: HashMap<String, String>,
    pub page: PageRequest,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::validation("query", "invalid_query", e.body_text()))?;
        let number = |name: &str, default: u32, min: u32, max: u32| -> Result<u32, ApiError> {
            match params.get(name) {
                None => Ok(default),
                Some(text) => match text.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(ApiError::validation(
                        name,
                        "invalid_value",
                        format!("must be a whole number from {min} to {max}"),
                    )),
                },
            }
        };
        let size = number("page_size", 10, 10, 100)?;
        let page_number = number("page_number", 1, 1, 1_000_000)?;
        Ok(Self { page: PageRequest { number: page_number, size }, params })
    }
}

impl ListQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|s| !s.is_empty())
    }

    pub fn time(&self, name: &str) -> Result<Option<time::OffsetDateTime>, ApiError> {
        self.get(name)
            .map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| {
                    ApiError::validation(
                        name,
                        "invalid_time",
                        "must be an ISO 8601 date-time such as 2024-03-01T00:00:00+08:00",
                    )
                })
            })
            .transpose()
    }

    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(_) => {
                Err(ApiError::validation(name, "invalid_value", format!("must be one of {}", allowed.join(", "))))
            }
        }
    }

    pub fn currency(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name).map(|c| parse_currency(name, c).map(|c| c.code().to_owned())).transpose()
    }
}

pub fn parse_id(field: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound(field.to_owned()))
}
