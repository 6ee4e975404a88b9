//! Outlay's payout batches: `POST /api/v1/payout_batches` (a CSV or JSON Lines file as multipart,
//! or a JSON list), `GET` a batch with counts and totals per status, its rows, approve
//! (maker-checker: another credential than the creator) and cancel; and the account's approval
//! policy. The batch engine itself is `outlay_engine::batches`.

use std::collections::BTreeMap;
use std::io::Write as _;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_engine::batches::{self, BatchError, BatchFileFormat, BatchMode, NewBatchRequest};
use outlay_engine::events::{decimal, rfc3339};
use outlay_engine::{Command, CommandError, Outcome};
use outlay_store::{ApprovalPolicyRow, BatchItemRow, PayoutBatchRow};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::wire::List;
use crate::{ApiError, AppState};

/// Largest batch upload (a million rows is about 200 MB of CSV).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024 * 1024;
/// Largest JSON-list batch (the body is held in memory; send big batches as files).
pub const MAX_JSON_BATCH_BYTES: usize = 32 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payout_batches", get(list).post(create).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)))
        .route("/api/v1/payout_batches/{id}", get(retrieve))
        .route("/api/v1/payout_batches/{id}/items", get(items))
        .route("/api/v1/payout_batches/{id}/approve", post(approve))
        .route("/api/v1/payout_batches/{id}/cancel", post(cancel))
        .route("/api/v1/accounts/approval_policy", get(get_policy).post(set_policy))
}

const KIND: &str = "batch_error";

fn command_error(e: CommandError) -> ApiError {
    ApiError::from_command(e, KIND)
}

fn batch_error(e: BatchError) -> ApiError {
    match e {
        BatchError::DuplicateFile { existing } => ApiError::Business {
            kind: KIND,
            code: "duplicate_file",
            message: format!("file was already sent as batch {existing} (same content); it is refused"),
            field: Some("file"),
        },
        BatchError::Command(e) => command_error(e),
        BatchError::Io(m) => ApiError::Internal(m),
    }
}

pub fn batch_json(b: &PayoutBatchRow) -> Value {
    json!({
        "batch_id": b.id,
        "account_id": b.account_id,
        "batch_status": b.status,
        "mode": b.mode,
        "format": b.format,
        "file_name": b.file_name,
        "content_sha256": b.content_sha256,
        "total_rows": b.total_rows,
        "valid_rows": b.valid_rows,
        "invalid_rows": b.invalid_rows,
        "open_payouts": b.open_payouts,
        "approval_required": b.approval_required,
        "created_by": b.created_by,
        "approved_by": b.approved_by,
        "approved_at": b.approved_at.map(rfc3339),
        "cancelled_by": b.cancelled_by,
        "cancelled_at": b.cancelled_at.map(rfc3339),
        "released_at": b.released_at.map(rfc3339),
        "held_at": b.held_at.map(rfc3339),
        "completed_at": b.completed_at.map(rfc3339),
        "failure_code": b.failure_code,
        "failure_reason": b.failure_reason,
        "quote_id": b.quote_id,
        "client_rate": b.client_rate,
        "create_time": rfc3339(b.created_at),
        "update_time": rfc3339(b.updated_at),
    })
}

fn item_json(i: &BatchItemRow) -> Value {
    let error =
        i.error_code.as_ref().map(|code| json!({"field": i.error_field, "code": code, "message": i.error_message}));
    json!({
        "row_number": i.row_number,
        "item_status": i.status,
        "payout_id": i.payout_id,
        "currency": i.currency,
        "amount": match (&i.currency, i.amount) {
            (Some(c), Some(a)) => Value::String(decimal(a, c)),
            _ => Value::Null,
        },
        "payout_reference": i.payout_reference,
        "error": error,
    })
}

/// The batch with its rows counted and summed per status (a payout's status once it exists).
async fn full(state: &AppState, b: &PayoutBatchRow) -> Result<Value, ApiError> {
    let totals = state.engine.store().payout_batch_totals(b.id).await?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut sums = Vec::new();
    for t in &totals {
        *counts.entry(t.status.clone()).or_default() += t.count;
        sums.push(json!({
            "status": t.status,
            "currency": t.currency,
            "count": t.count,
            "amount": t.currency.as_ref().map(|c| decimal(t.amount, c)),
        }));
    }
    let mut body = batch_json(b);
    body["counts"] = json!(counts);
    body["totals"] = Value::Array(sums);
    Ok(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBatch {
    mode: Option<String>,
    payouts: Option<Vec<Value>>,
    /// One quote locked for the whole batch.
    quote_id: Option<String>,
}

/// The batch's `quote_id` (a JSON field, a multipart field or a query parameter).
fn parse_quote_id(text: Option<&str>) -> Result<Option<uuid::Uuid>, ApiError> {
    text.map(|t| {
        uuid::Uuid::parse_str(t.trim())
            .map_err(|_| ApiError::validation("quote_id", "invalid_value", "must be a quote id (UUID)"))
    })
    .transpose()
}

/// `?quote_id=` on the request line (for file uploads).
fn query_quote_id(req: &Request) -> Option<String> {
    let axum::extract::Query(mut query) =
        axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(req.uri()).ok()?;
    query.remove("quote_id")
}

fn parse_mode(text: Option<&str>) -> Result<BatchMode, ApiError> {
    match text {
        None => Ok(BatchMode::default()),
        Some(m) => BatchMode::parse(m)
            .ok_or_else(|| ApiError::validation("mode", "invalid_value", "must be ALL_OR_NOTHING or PARTIAL")),
    }
}

fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(MAX_BATCH_BYTES)
    } else {
        ApiError::validation("file", "invalid_multipart", e.body_text())
    }
}

/// The format from the `format` field, else from the file name (.jsonl/.ndjson), else CSV.
fn file_format(explicit: Option<&str>, name: Option<&str>) -> Result<BatchFileFormat, ApiError> {
    match explicit.map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Ok(BatchFileFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(BatchFileFormat::Jsonl),
        Some(_) => Err(ApiError::validation("format", "invalid_value", "must be csv or jsonl")),
        None => {
            let lower = name.unwrap_or_default().to_ascii_lowercase();
            Ok(if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
                BatchFileFormat::Jsonl
            } else {
                BatchFileFormat::Csv
            })
        }
    }
}

async fn create(State(state): State<AppState>, caller: Caller, req: Request<Body>) -> Result<Json<Value>, ApiError> {
    let on_behalf = caller.account != caller.principal;
    let query_quote = query_quote_id(&req);
    let batch = if is_multipart(&req) {
        let mut form = Multipart::from_request(req, &state).await.map_err(|e| ApiError::BadJson(e.body_text()))?;
        // The file goes to a temporary file while it is hashed: memory stays bounded.
        let mut spooled: Option<(tempfile::NamedTempFile, String, Option<String>)> = None;
        let (mut mode, mut format, mut quote) = (None, None, query_quote);
        while let Some(mut field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
            match field.name() {
                Some("file") => {
                    let name = field.file_name().map(|n| n.chars().take(200).collect::<String>());
                    let mut file = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(e.to_string()))?;
                    let mut hash = Sha256::new();
                    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                        hash.update(&chunk);
                        file.write_all(&chunk).map_err(|e| ApiError::Internal(e.to_string()))?;
                    }
                    file.flush().map_err(|e| ApiError::Internal(e.to_string()))?;
                    spooled = Some((file, hex::encode(hash.finalize()), name));
                }
                Some("mode") => mode = Some(field.text().await.map_err(|e| multipart_error(&e))?),
                Some("format") => format = Some(field.text().await.map_err(|e| multipart_error(&e))?),
                Some("quote_id") => quote = Some(field.text().await.map_err(|e| multipart_error(&e))?),
                Some(other) => {
                    return Err(ApiError::validation(other, "unknown_field", "is not a field of this request"));
                }
                None => return Err(ApiError::validation("file", "invalid_multipart", "every part needs a name")),
            }
        }
        let Some((file, sha256, name)) = spooled else { return Err(ApiError::MissingFields(vec!["file".into()])) };
        let mode = parse_mode(mode.as_deref().map(str::trim))?;
        let format = file_format(format.as_deref().map(str::trim), name.as_deref())?;
        let quote_id = parse_quote_id(quote.as_deref())?;
        let reader = file.reopen().map_err(|e| ApiError::Internal(e.to_string()))?;
        let request = NewBatchRequest {
            account: caller.account,
            created_by: Some(caller.credential_id),
            file_name: name,
            format,
            mode,
            on_behalf,
            content_sha256: Some(sha256),
            reader,
        };
        let result = batches::create_batch_from_reader_with_quote(&state.engine, request, quote_id).await;
        drop(file);
        result.map_err(batch_error)?
    } else {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BATCH_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(MAX_JSON_BATCH_BYTES))?;
        let body: JsonBatch = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(e.to_string()))?;
        let mode = parse_mode(body.mode.as_deref())?;
        let quote_id = parse_quote_id(body.quote_id.as_deref().or(query_quote.as_deref()))?;
        let Some(rows) = body.payouts else { return Err(ApiError::MissingFields(vec!["payouts".into()])) };
        if rows.is_empty() {
            return Err(ApiError::validation("payouts", "empty_batch", "must hold at least one payout"));
        }
        batches::create_batch_from_values_with_quote(
            &state.engine,
            caller.account,
            Some(caller.credential_id),
            mode,
            on_behalf,
            rows,
            quote_id,
        )
        .await
        .map_err(batch_error)?
    };
    Ok(Json(full(&state, &batch).await?))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<PayoutBatchRow, ApiError> {
    let id = parse_id("payout batch", id)?;
    state
        .engine
        .store()
        .payout_batch(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("payout batch".into()))
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let page = state.engine.store().payout_batches(caller.account, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |b| batch_json(&b))))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let b = load(&state, &caller, &id).await?;
    Ok(Json(full(&state, &b).await?))
}

async fn items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: ListQuery,
) -> Result<Json<List<Value>>, ApiError> {
    let b = load(&state, &caller, &id).await?;
    let status = query.one_of("item_status", &["VALID", "INVALID", "CREATED", "FAILED", "CANCELLED"])?;
    let page = state.engine.store().payout_batch_items(b.id, status, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |i| item_json(&i))))
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let b = load(&state, &caller, &id).await?;
    let b = batches::approve(&state.engine, caller.account, b.id, caller.credential_id).await.map_err(command_error)?;
    Ok(Json(full(&state, &b).await?))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let b = load(&state, &caller, &id).await?;
    let b = batches::cancel(&state.engine, caller.account, b.id, Some(caller.credential_id))
        .await
        .map_err(command_error)?;
    Ok(Json(full(&state, &b).await?))
}

fn policy_json(p: &ApprovalPolicyRow) -> Value {
    let thresholds: BTreeMap<&String, String> =
        p.payout_approval_thresholds.iter().map(|(c, minor)| (c, decimal(*minor, c))).collect();
    json!({
        "account_id": p.account_id,
        "approval_required_for_batches": p.approval_required_for_batches,
        "payout_approval_thresholds": thresholds,
        "updated_by": p.updated_by,
        "update_time": rfc3339(p.updated_at),
    })
}

async fn get_policy(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let policy = state.engine.store().approval_policy(caller.account).await?.unwrap_or_else(|| ApprovalPolicyRow {
        account_id: caller.account,
        approval_required_for_batches: true,
        payout_approval_thresholds: BTreeMap::new(),
        updated_by: None,
        updated_at: state.engine.clock().now(),
    });
    Ok(Json(policy_json(&policy)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    approval_required_for_batches: Option<bool>,
    /// Currency → decimal amount: a batch with a payout above it needs approval.
    payout_approval_thresholds: Option<BTreeMap<String, outlay_engine::parse::DecimalInput>>,
}

async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<PolicyBody>,
) -> Result<Json<Value>, ApiError> {
    let current = state.engine.store().approval_policy(caller.account).await?;
    let mut thresholds = current.as_ref().map(|p| p.payout_approval_thresholds.clone()).unwrap_or_default();
    if let Some(given) = body.value.payout_approval_thresholds {
        thresholds.clear();
        let mut issues = Vec::new();
        for (code, amount) in given {
            let field = format!("payout_approval_thresholds.{code}");
            match outlay_core::Currency::parse(&code) {
                Err(e) => issues.push(outlay_engine::parse::FieldIssue::new(field, "invalid_currency", e)),
                Ok(currency) => match amount.parse(&field, currency) {
                    Ok(a) => {
                        thresholds.insert(currency.code().to_owned(), a.minor());
                    }
                    Err(mut more) => issues.append(&mut more),
                },
            }
        }
        if !issues.is_empty() {
            return Err(ApiError::Fields(issues));
        }
    }
    let policy = ApprovalPolicyRow {
        account_id: caller.account,
        approval_required_for_batches: body
            .value
            .approval_required_for_batches
            .or(current.map(|p| p.approval_required_for_batches))
            .unwrap_or(true),
        payout_approval_thresholds: thresholds,
        updated_by: Some(caller.credential_id),
        updated_at: state.engine.clock().now(),
    };
    match state.engine.execute(Command::SetApprovalPolicy(Box::new(policy))).await.map_err(command_error)? {
        Outcome::ApprovalPolicy(p) => Ok(Json(policy_json(&p))),
        _ => Err(ApiError::Internal("unexpected outcome".into())),
    }
}
