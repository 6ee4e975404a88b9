//! Issue 7 over the API: the compliance review queue (reviewer role: the central policy maps
//! `/api/v1/compliance/...` writes to the Review permission) and the account's rules
//! (`/api/v1/account_rules`, Manage).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::compliance::ComplianceRules;
use outlay_engine::screening::ReviewDecision;
use outlay_engine::{Command, Outcome, StoredResponse};
use outlay_store::{ComplianceReviewRow, ComplianceRulesRow, ReviewFilter, ScreeningHitRow};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::idempotency::{Mutation, execute, ok_json};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/compliance/reviews", get(list))
        .route("/api/v1/compliance/reviews/{id}", get(retrieve))
        .route("/api/v1/compliance/reviews/{id}/clear", post(clear))
        .route("/api/v1/compliance/reviews/{id}/reject", post(reject))
        .route("/api/v1/account_rules", get(rules).post(set_rules))
}

/// A beneficiary's screening status from its newest review: `CLEAR` (never held), `REVIEW`,
/// `CLEARED` or `REJECTED`.
pub fn screening_status(latest_review: Option<&str>) -> &'static str {
    match latest_review {
        None => "CLEAR",
        Some("open") => "REVIEW",
        Some("cleared") => "CLEARED",
        Some(_) => "REJECTED",
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn hit(h: &ScreeningHitRow) -> Value {
    json!({
        "hit_id": h.id,
        "list": h.source,
        "list_version": h.list_version,
        "entry_id": h.entry_id,
        "entry_name": h.entry_name,
        "matched_name": h.matched_name,
        "matched_alias": h.matched_alias,
        "name_score": h.name_score,
        "score": h.score,
        "why": h.why,
    })
}

pub fn review(r: &ComplianceReviewRow) -> Value {
    json!({
        "review_id": r.id,
        "account_id": r.account_id,
        "subject_type": r.subject_type,
        "subject_id": r.subject_id,
        "beneficiary_id": r.beneficiary_id,
        "review_status": r.status.to_uppercase(),
        "reasons": r.reasons,
        "list_version": r.list_version,
        "reviewed_by": r.reviewed_by,
        "reviewed_at": r.reviewed_at.map(rfc3339),
        "note": r.note,
        "create_time": rfc3339(r.created_at),
        "update_time": rfc3339(r.updated_at),
    })
}

fn review_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Review(r) => ok_json(&review(r)),
        _ => StoredResponse {
            status: 500,
            body: r#"{"type":"api_error","code":"internal_error","message":"internal error"}"#.into(),
        },
    }
}

fn rules_json(row: Option<&ComplianceRulesRow>) -> Value {
    let mut rules = match row {
        Some(r) => r.rules.clone(),
        None => ComplianceRules::from_json(&json!({})).map(|r| r.to_json()).unwrap_or_default(),
    };
    if let Some(object) = rules.as_object_mut() {
        object.insert("updated_by".into(), json!(row.and_then(|r| r.updated_by)));
        object.insert("update_time".into(), json!(row.map(|r| rfc3339(r.updated_at))));
    }
    rules
}

fn rules_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::ComplianceRules(r) => ok_json(&rules_json(Some(r))),
        _ => review_response(outcome),
    }
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let status = query.one_of("review_status", &["OPEN", "CLEARED", "REJECTED"])?.map(|s| s.to_lowercase());
    let subject_type = query.one_of("subject_type", &["payout", "beneficiary"])?;
    let filter = ReviewFilter { status, subject_type };
    let page = state.engine.store().compliance_reviews(Some(caller.account), &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |r| review(&r))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("review", &id)?;
    let store = state.engine.store();
    let r =
        store.compliance_review(Some(caller.account), id).await?.ok_or_else(|| ApiError::NotFound("review".into()))?;
    let hits = store.screening_hits(r.id).await?;
    let mut body = review(&r);
    body["hits"] = Value::Array(hits.iter().map(hit).collect());
    if r.subject_type == "payout"
        && let Some(p) = store.payout(caller.account, r.subject_id).await?
    {
        body["payout"] = wire::payout(&p);
    }
    Ok(Json(body))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Decision {
    note: Option<String>,
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    body: JsonBody<Decision>,
    decision: ReviewDecision,
) -> Result<Response, ApiError> {
    let review = parse_id("review", id)?;
    let note = body.value.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::validation("note", "too_long", "must be at most 1000 characters"));
    }
    let command = Command::DecideReview {
        account: Some(caller.account),
        review,
        decision,
        reviewer: Some(caller.credential_id),
        note,
    };
    let path = format!("/api/v1/compliance/reviews/{review}/{}", decision.status());
    let m =
        Mutation { caller, headers, path: &path, body: &body.raw, key_required: false, error_kind: "compliance_error" };
    execute(state, m, command, review_response).await
}

async fn clear(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<Decision>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &headers, &id, body, ReviewDecision::Clear).await
}

async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<Decision>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &headers, &id, body, ReviewDecision::Reject).await
}

async fn rules(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let row = state.engine.store().compliance_rules(caller.account).await?;
    Ok(Json(rules_json(row.as_ref())))
}

async fn set_rules(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<Value>,
) -> Result<Response, ApiError> {
    let rules = ComplianceRules::from_json(&body.value).map_err(|errors| {
        ApiError::Fields(
            errors.into_iter().map(|e| outlay_engine::parse::FieldIssue::new(e.field, e.code, e.message)).collect(),
        )
    })?;
    let command = Command::SetComplianceRules {
        account: caller.account,
        rules: Box::new(rules),
        updated_by: Some(caller.credential_id),
    };
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/account_rules",
        body: &body.raw,
        key_required: false,
        error_kind: "compliance_error",
    };
    execute(&state, m, command, rules_response).await
}
