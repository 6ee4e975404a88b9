//! Outlay's reports: `POST /api/v1/reports` asks for one (written in the background),
//! `GET /api/v1/reports` lists them, `GET /api/v1/reports/{id}` tells its status and
//! `GET /api/v1/reports/{id}/download` serves the CSV. Account-scoped like everything else.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use outlay_core::reports::ReportKind;
use outlay_engine::events::rfc3339;
use outlay_engine::{Command, NewReport, Outcome, StoredResponse};
use outlay_store::ReportRow;
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::extract::{Caller, JsonBody, ListQuery, Required, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::List;
use crate::{ApiError, AppState};

/// The longest period one report may cover.
const MAX_PERIOD_DAYS: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", get(list).post(create))
        .route("/api/v1/reports/{id}", get(retrieve))
        .route("/api/v1/reports/{id}/download", get(download))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateReport {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A date-time (RFC 3339), or a date: `from` a date is its first instant, `to` a date is the
/// end of that day (the period includes it). Dates are UTC days.
fn parse_bound(field: &'static str, text: &str, end: bool) -> Result<OffsetDateTime, ApiError> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(text, format).map_err(|_| {
        ApiError::validation(field, "invalid_time", "must be a date (2026-03-09) or an RFC 3339 date-time")
    })?;
    let day = if end {
        day.next_day().ok_or_else(|| ApiError::validation(field, "invalid_time", "is out of range"))?
    } else {
        day
    };
    Ok(PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_utc())
}

pub fn report_json(r: &ReportRow) -> Value {
    json!({
        "report_id": r.id,
        "account_id": r.account_id,
        "kind": r.kind,
        "from": rfc3339(r.period_start),
        "to": rfc3339(r.period_end),
        "status": r.status.to_uppercase(),
        "trigger": r.trigger,
        "row_count": r.row_count,
        "sha256": r.sha256,
        "error": r.error,
        "create_time": rfc3339(r.created_at),
        "complete_time": r.completed_at.map(rfc3339),
        "download_url": format!("/api/v1/reports/{}/download", r.id),
    })
}

fn created(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Report { report, .. } => StoredResponse { status: 201, body: report_json(report).to_string() },
        other => {
            tracing::error!(?other, "renderer got an outcome of another command");
            StoredResponse {
                status: 500,
                body: r#"{"type":"api_error","code":"internal_error","message":"internal error"}"#.into(),
            }
        }
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreateReport>,
) -> Result<Response, ApiError> {
    let b = body.value;
    let mut required = Required::default();
    let kind = required.take("kind", b.kind);
    let from = required.take("from", b.from);
    let to = required.take("to", b.to);
    required.finish()?;
    let (Some(kind), Some(from), Some(to)) = (kind, from, to) else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let kind = ReportKind::parse(&kind).ok_or_else(|| {
        ApiError::validation("kind", "invalid_value", "must be one of payouts, balance_statement, fees, reconciliation")
    })?;
    let from = parse_bound("from", &from, false)?;
    let to = parse_bound("to", &to, true)?;
    if to <= from {
        return Err(ApiError::validation("to", "invalid_period", "must be after from"));
    }
    if to - from > time::Duration::days(MAX_PERIOD_DAYS) {
        return Err(ApiError::validation(
            "to",
            "period_too_long",
            format!("must be at most {MAX_PERIOD_DAYS} days after from"),
        ));
    }
    let command = Command::CreateReport(NewReport {
        account: caller.account,
        kind,
        period_start: from,
        period_end: to,
        trigger: "api",
        created_by: Some(caller.credential_id),
    });
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/reports",
        body: &body.raw,
        key_required: false,
        error_kind: "report_error",
    };
    execute(&state, m, command, created).await
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let page = state.engine.store().reports(caller.account, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |r| report_json(&r))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("report", &id)?;
    let r =
        state.engine.store().report(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("report".into()))?;
    Ok(Json(report_json(&r)))
}

async fn download(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id("report", &id)?;
    let store = state.engine.store();
    let r = store.report(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("report".into()))?;
    if r.status != "ready" {
        return Err(ApiError::InvalidState(format!(
            "the report is {}; download it once it is READY",
            r.status.to_uppercase()
        )));
    }
    let content = store.report_content(caller.account, id).await?.ok_or_else(|| ApiError::NotFound("report".into()))?;
    let name = format!("attachment; filename=\"{}_{}.csv\"", r.kind, r.id.simple());
    let mut response = content.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(sha) = r.sha256.as_deref().and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert("x-content-sha256", sha);
    }
    Ok(response)
}
