//! Outlay's webhook resources, under UQPAY's conventions: endpoints (create with a secret shown
//! once, list, get, delete, rotate the secret), the delivery log, and replays. What is sent is
//! UQPAY's envelope, signed with `x-wk-timestamp` and `x-wk-signature` (see the worker).

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::webhooks::{EVENT_TYPES, is_event_type};
use outlay_engine::events::rfc3339;
use outlay_engine::webhooks::envelope;
use outlay_engine::{Command, Outcome, StoredResponse, WebhookReplay};
use outlay_store::{WebhookDeliveryFilter, WebhookDeliveryView, WebhookEndpointRow};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::payouts::Issues;
use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::idempotency::{Mutation, execute, ok_json};
use crate::wire::List;
use crate::{ApiError, AppState};

/// The envelope `type` of webhook business errors.
const ERROR_KIND: &str = "webhook_error";
const MAX_URL_LEN: usize = 2048;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhook_endpoints", get(list_endpoints).post(create_endpoint))
        .route("/api/v1/webhook_endpoints/{id}", get(retrieve_endpoint).delete(delete_endpoint))
        .route("/api/v1/webhook_endpoints/{id}/rotate_secret", post(rotate_secret))
        .route("/api/v1/webhook_deliveries", get(list_deliveries))
        .route("/api/v1/webhook_events/replay", post(replay_matching))
        .route("/api/v1/webhook_events/{id}/replay", post(replay_one))
}

// ---------------------------------------------------------------------------------------------
// Wire objects

/// An endpoint; `secret` only where the client is meant to see it (create, rotate).
pub fn endpoint(e: &WebhookEndpointRow, with_secret: bool) -> Value {
    let mut v = json!({
        "endpoint_id": e.id,
        "account_id": e.account_id,
        "url": e.url,
        "event_types": e.event_types,
        "status": e.status,
        "create_time": rfc3339(e.created_at),
        "update_time": rfc3339(e.updated_at),
    });
    if with_secret {
        v["secret"] = json!(e.secret);
    }
    v
}

/// A delivery with its event (the envelope as sent) and its last result.
pub fn delivery(v: &WebhookDeliveryView) -> Value {
    let d = &v.delivery;
    json!({
        "delivery_id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "event_name": v.event.event_name,
        "event_type": v.event.event_type,
        "source_id": v.event.source_id,
        "sequence": v.event.object_seq,
        "generation": d.generation,
        "status": d.status.to_uppercase(),
        "attempts": d.attempts,
        "next_attempt_time": (d.status == "pending").then(|| rfc3339(d.next_attempt_at)),
        "first_attempt_time": d.first_attempt_at.map(rfc3339),
        "last_attempt_time": d.last_attempt_at.map(rfc3339),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "create_time": rfc3339(d.created_at),
        "delivered_time": d.delivered_at.map(rfc3339),
        "event": envelope(&v.event),
    })
}

fn unexpected(outcome: &Outcome) -> StoredResponse {
    tracing::error!(?outcome, "renderer got an outcome of another command");
    StoredResponse {
        status: 500,
        body: r#"{"type":"api_error","code":"internal_error","message":"internal error"}"#.into(),
    }
}

fn endpoint_with_secret_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::WebhookEndpoint(e) => ok_json(&endpoint(e, true)),
        other => unexpected(other),
    }
}

fn endpoint_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::WebhookEndpoint(e) => ok_json(&endpoint(e, false)),
        other => unexpected(other),
    }
}

fn replay_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::WebhookReplayed { events, deliveries } => {
            ok_json(&json!({"events_replayed": events, "deliveries_created": deliveries}))
        }
        other => unexpected(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Loopback, private, link-local and other non-public addresses, and `localhost`.
fn non_public_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (a == 100 && (b & 0xc0) == 64)
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(|v4| non_public_host(&v4.to_string()))
        }
        Err(_) => false,
    }
}

/// An absolute http(s) URL with a host; https only, to a public host, in production.
fn check_url(url: &str, sandbox: bool) -> Result<String, ApiError> {
    let url = url.trim();
    let invalid = |message: &str| ApiError::validation("url", "invalid_url", message);
    if url.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(invalid(&format!("must be at most {MAX_URL_LEN} characters")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains('#') {
        return Err(invalid("must not contain spaces, control characters or a fragment"));
    }
    let uri: Uri = url.parse().map_err(|_| invalid("is not a valid absolute URL"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if sandbox => {}
        Some("http") => return Err(invalid("must use https in production")),
        _ => {
            return Err(invalid(if sandbox {
                "must start with http:// or https://"
            } else {
                "must start with https://"
            }));
        }
    }
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid("must name a host"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid("must not carry credentials (the signature authenticates Outlay)"));
    }
    if !sandbox && non_public_host(host) {
        return Err(invalid("must point to a public host in production"));
    }
    Ok(url.to_owned())
}

fn check_event_type(field: &str, t: &str) -> Result<String, ApiError> {
    if is_event_type(t) {
        Ok(t.to_owned())
    } else {
        let known: Vec<&str> = EVENT_TYPES.iter().map(|(_, t)| *t).collect();
        Err(ApiError::validation(field, "unknown_event_type", format!("must be one of {}", known.join(", "))))
    }
}

/// Unix milliseconds (a number or a string of digits) or ISO 8601, as the conversion list.
fn parse_time(field: &str, value: &Value) -> Result<OffsetDateTime, ApiError> {
    let invalid = || {
        ApiError::validation(
            field,
            "invalid_time",
            "must be Unix milliseconds or an ISO 8601 date-time such as 2024-03-01T00:00:00+08:00",
        )
    };
    let from_ms =
        |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|_| invalid());
    match value {
        Value::Number(n) => from_ms(n.as_i64().ok_or_else(invalid)?),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            from_ms(s.parse().map_err(|_| invalid())?)
        }
        Value::String(s) => {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

fn uuid_param(field: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::validation(field, "invalid_uuid", "must be a UUID"))
}

// ---------------------------------------------------------------------------------------------
// Endpoints

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    url: Option<String>,
    event_types: Option<Vec<String>>,
}

async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreateEndpoint>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut issues = Issues::default();
    let url = match b.url {
        None => {
            issues.add("url", "missing_required_field", "is required");
            None
        }
        Some(url) => issues.check(check_url(&url, state.config.sandbox)),
    };
    let mut event_types: Vec<String> = Vec::new();
    for (i, t) in b.event_types.unwrap_or_default().iter().enumerate() {
        if let Some(t) = issues.check(check_event_type(&format!("event_types[{i}]"), t))
            && !event_types.contains(&t)
        {
            event_types.push(t);
        }
    }
    issues.finish()?;
    let Some(url) = url else { return Err(ApiError::Internal("url neither parsed nor reported".into())) };
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/webhook_endpoints",
        body: &body.raw,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    let command = Command::CreateWebhookEndpoint { account: caller.account, url, event_types };
    execute(&state, m, command, endpoint_with_secret_response).await
}

async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let page = state.engine.store().webhook_endpoints(caller.account, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |e| endpoint(&e, false))))
}

async fn retrieve_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("webhook endpoint", &id)?;
    let e = state
        .engine
        .store()
        .webhook_endpoint(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("webhook endpoint".into()))?;
    Ok(Json(endpoint(&e, false)))
}

async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("webhook endpoint", &id)?;
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &Value::Null,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    let command = Command::DeleteWebhookEndpoint { account: caller.account, endpoint: id };
    execute(&state, m, command, endpoint_response).await
}

async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("webhook endpoint", &id)?;
    let path = format!("/api/v1/webhook_endpoints/{id}/rotate_secret");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &Value::Null,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    let command = Command::RotateWebhookSecret { account: caller.account, endpoint: id };
    execute(&state, m, command, endpoint_with_secret_response).await
}

// ---------------------------------------------------------------------------------------------
// The delivery log and replays

async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let status = match query.get("status") {
        None => None,
        Some(s) => match s.to_ascii_lowercase().as_str() {
            v @ ("pending" | "succeeded" | "failed") => Some(v.to_owned()),
            _ => {
                return Err(ApiError::validation(
                    "status",
                    "invalid_value",
                    "must be one of PENDING, SUCCEEDED, FAILED",
                ));
            }
        },
    };
    let time = |name: &str| query.get(name).map(|t| parse_time(name, &Value::String(t.to_owned()))).transpose();
    let filter = WebhookDeliveryFilter {
        status,
        event_type: query.get("event_type").map(|t| check_event_type("event_type", t)).transpose()?,
        endpoint_id: query.get("endpoint_id").map(|t| uuid_param("endpoint_id", t)).transpose()?,
        event_id: query.get("event_id").map(|t| uuid_param("event_id", t)).transpose()?,
        start_time: time("start_time")?,
        end_time: time("end_time")?,
    };
    let page = state.engine.store().webhook_deliveries(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |d| delivery(&d))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    event_type: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    endpoint_id: Option<String>,
}

/// Every event of the account (and of its connected accounts) matching the filter, again, to
/// the account's active endpoints whose event types take it.
async fn replay_matching(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<ReplayBody>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let present = |v: Option<Value>| v.filter(|v| !v.is_null() && v.as_str() != Some(""));
    let mut issues = Issues::default();
    let event_type =
        b.event_type.filter(|t| !t.is_empty()).and_then(|t| issues.check(check_event_type("event_type", &t)));
    let start_time = present(b.start_time).and_then(|v| issues.check(parse_time("start_time", &v)));
    let end_time = present(b.end_time).and_then(|v| issues.check(parse_time("end_time", &v)));
    let endpoint_id = b.endpoint_id.filter(|t| !t.is_empty()).and_then(|t| issues.check(uuid_param("endpoint_id", &t)));
    if let (Some(start), Some(end)) = (start_time, end_time)
        && start > end
    {
        issues.add("end_time", "invalid_time_range", "must not be before start_time");
    }
    issues.finish()?;
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/webhook_events/replay",
        body: &body.raw,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    let command = Command::ReplayWebhookEvents(WebhookReplay {
        account: caller.account,
        event_id: None,
        event_type,
        start_time,
        end_time,
        endpoint_id,
    });
    execute(&state, m, command, replay_response).await
}

/// One event again, to the account's active endpoints whose event types take it.
async fn replay_one(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("event", &id)?;
    let path = format!("/api/v1/webhook_events/{id}/replay");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &Value::Null,
        key_required: false,
        error_kind: ERROR_KIND,
    };
    let command = Command::ReplayWebhookEvents(WebhookReplay {
        account: caller.account,
        event_id: Some(id),
        event_type: None,
        start_time: None,
        end_time: None,
        endpoint_id: None,
    });
    execute(&state, m, command, replay_response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_per_mode() {
        assert!(check_url("http://127.0.0.1:9000/hooks", true).is_ok());
        assert!(check_url("https://hooks.example.com/uqpay?x=1", false).is_ok());
        for (url, sandbox) in [
            ("", true),
            ("ftp://example.com/", true),
            ("example.com/hooks", true),
            ("http:///nohost", true),
            ("https://user:pass@example.com/", true),
            ("https://example.com/a b", true),
            ("https://example.com/#frag", true),
            ("http://hooks.example.com/", false),
            ("https://127.0.0.1/", false),
            ("https://10.1.2.3/", false),
            ("https://169.254.169.254/latest", false),
            ("https://[::1]/", false),
            ("https://localhost:8443/", false),
        ] {
            assert!(check_url(url, sandbox).is_err(), "{url} (sandbox {sandbox}) was accepted");
        }
    }

    #[test]
    fn times_in_milliseconds_or_iso() {
        let t = parse_time("start_time", &json!(1_711_077_773_000_i64)).expect("ms");
        assert_eq!(t.unix_timestamp(), 1_711_077_773);
        assert_eq!(parse_time("start_time", &json!("1711077773000")).expect("ms string"), t);
        assert_eq!(parse_time("start_time", &json!("2024-03-22T03:22:53Z")).expect("iso"), t);
        assert!(parse_time("start_time", &json!("yesterday")).is_err());
        assert!(parse_time("start_time", &json!(true)).is_err());
    }
}
