//! The audit trail (Outlay's own): `GET /api/v1/audit_events` (filtered, paginated, newest
//! first) and `GET /api/v1/audit_events/export` (the whole filtered trail in chain order, as CSV
//! or JSON lines, with each record's hashes so the chain can be checked offline).

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use outlay_engine::audit::{self, ExportFormat};
use outlay_store::AuditFilter;
use serde_json::Value;

use crate::extract::{Caller, ListQuery};
use crate::wire::List;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit_events", get(list)).route("/api/v1/audit_events/export", get(export))
}

fn filter(query: &ListQuery) -> Result<AuditFilter, ApiError> {
    let (from, to) = (query.time("start_time")?, query.time("end_time")?);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::validation("end_time", "invalid_time", "must not be before start_time"));
    }
    Ok(AuditFilter {
        action: query.get("action").map(str::to_owned),
        object_id: query.get("object_id").map(str::to_owned),
        credential_id: query.get("credential_id").map(str::to_owned),
        from,
        to,
    })
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let f = filter(&query)?;
    let page = state.engine.store().audit_log(caller.account, &f, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |r| audit::to_json(&r))))
}

async fn export(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Response, ApiError> {
    let f = filter(&query)?;
    let format = match query.one_of("format", &["csv", "jsonl"])?.as_deref() {
        Some("jsonl") => ExportFormat::Jsonl,
        _ => ExportFormat::Csv,
    };
    let body = audit::export(state.engine.store().as_ref(), caller.account, &f, format).await?;
    let (content_type, name) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "audit_events.csv"),
        ExportFormat::Jsonl => ("application/x-ndjson", "audit_events.jsonl"),
    };
    Ok((
        [(CONTENT_TYPE, content_type.to_owned()), (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))],
        body,
    )
        .into_response())
}
