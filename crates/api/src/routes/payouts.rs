//! `POST /api/v1/payouts` with every rule of UQPAY's Create Payout page, list, retrieve, and
//! Outlay's own `POST /api/v1/payouts/{id}/cancel`.
//!
//! Rules that need only the request are checked here and reported together (`errors`); rules
//! that need stored data (beneficiary, quote, files, balance) are checked in the writer, in the
//! transaction that holds the money.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use outlay_core::payout::{FeePaidBy, PayoutState, PurposeCode};
use outlay_core::{Amount, Currency};
use outlay_engine::{BeneficiarySource, Command, Document, FileUpload, NewPayout};
use outlay_store::PayoutFilter;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::beneficiaries::{BeneficiaryBody, parse_beneficiary};
use super::files::check_document;
use crate::error::FieldIssue;
use crate::extract::{Caller, DecimalInput, JsonBody, ListQuery, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payouts", get(list).post(create))
        .route("/api/v1/payouts/{id}", get(retrieve))
        .route("/api/v1/payouts/{id}/cancel", post(cancel))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayout {
    currency: Option<String>,
    amount: Option<DecimalInput>,
    purpose_code: Option<String>,
    payout_reference: Option<String>,
    fee_paid_by: Option<String>,
    payout_date: Option<String>,
    quote_id: Option<String>,
    payout_currency: Option<String>,
    payout_amount: Option<DecimalInput>,
    beneficiary_id: Option<String>,
    beneficiary: Option<BeneficiaryBody>,
    is_payer: Option<String>,
    payer_id: Option<String>,
    documentation: Option<Vec<DocumentationBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentationBody {
    file: Option<String>,
    file_id: Option<String>,
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

fn required<T>(issues: &mut Issues, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        issues.add(field, "missing_required_field", "is required");
    }
    value
}

fn parse_currency_field(issues: &mut Issues, field: &str, code: Option<&str>) -> Option<Currency> {
    let code = code?;
    issues.check(Currency::parse(code).map_err(|e| ApiError::validation(field, "invalid_currency", e)))
}

fn date(issues: &mut Issues, field: &str, text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    issues.check(
        time::Date::parse(text, format)
            .map_err(|_| ApiError::validation(field, "invalid_date", "must be a date in the form YYYY-MM-DD")),
    )
}

fn uuid_field(issues: &mut Issues, field: &str, text: &str) -> Option<Uuid> {
    issues.check(Uuid::parse_str(text).map_err(|_| ApiError::validation(field, "invalid_uuid", "must be a UUID")))
}

fn parse_amount_field(
    issues: &mut Issues,
    field: &str,
    value: Option<&DecimalInput>,
    currency: Option<Currency>,
) -> Option<Amount> {
    let (value, currency) = (value?, currency?);
    issues.check(value.parse(field, currency))
}

/// `data:<media type>;base64,<content>` decoded and checked like an upload.
fn data_uri(issues: &mut Issues, field: &str, uri: &str) -> Option<FileUpload> {
    let Some(rest) = uri.strip_prefix("data:") else {
        issues.add(field, "invalid_data_uri", "must be a data URI such as data:application/pdf;base64,...");
        return None;
    };
    let Some((meta, payload)) = rest.split_once(',') else {
        issues.add(field, "invalid_data_uri", "must be a data URI such as data:application/pdf;base64,...");
        return None;
    };
    let Some(media) = meta.strip_suffix(";base64") else {
        issues.add(field, "invalid_data_uri", "must be base64-encoded (data:<type>;base64,...)");
        return None;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(payload.trim()) else {
        issues.add(field, "invalid_base64", "is not valid base64");
        return None;
    };
    let name = match media {
        "image/png" => "document.png",
        "image/jpeg" | "image/jpg" => "document.jpg",
        "application/pdf" => "document.pdf",
        "application/msword" => "document.doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "document.docx",
        _ => {
            issues.add(
                field,
                "unsupported_file_type",
                "must be image/png, image/jpeg, application/pdf, or a Word document",
            );
            return None;
        }
    };
    let file_type = issues.check(check_document(field, name, &bytes))?;
    Some(FileUpload { name: name.to_owned(), file_type, bytes: bytes.into(), notes: None })
}

/// Parse every field of a create-payout request, reporting every broken rule at once.
pub fn parse_payout(
    b: CreatePayout,
    caller: &Caller,
    unique_request_id: Option<String>,
) -> Result<NewPayout, ApiError> {
    let mut issues = Issues::default();
    let currency_code = required(&mut issues, "currency", b.currency);
    let currency = parse_currency_field(&mut issues, "currency", currency_code.as_deref());
    let amount_value = required(&mut issues, "amount", b.amount);
    let amount = parse_amount_field(&mut issues, "amount", amount_value.as_ref(), currency);
    let purpose = required(&mut issues, "purpose_code", b.purpose_code).and_then(|p| {
        issues.check(
            p.parse::<PurposeCode>().map_err(|e| ApiError::validation("purpose_code", "invalid_purpose_code", e)),
        )
    });
    let payout_reference = required(&mut issues, "payout_reference", b.payout_reference);
    if let Some(r) = &payout_reference {
        if r.trim().is_empty() {
            issues.add("payout_reference", "invalid_reference", "must not be empty");
        } else if r.chars().count() > 100 {
            issues.add("payout_reference", "too_long", "must be at most 100 characters");
        }
    }
    let fee_paid_by = b.fee_paid_by.as_deref().and_then(|f| {
        issues.check(f.parse::<FeePaidBy>().map_err(|e| ApiError::validation("fee_paid_by", "invalid_fee_paid_by", e)))
    });
    let payout_date =
        required(&mut issues, "payout_date", b.payout_date).and_then(|d| date(&mut issues, "payout_date", &d));

    let quote_id = b.quote_id.as_deref().and_then(|q| uuid_field(&mut issues, "quote_id", q));
    let payout_currency = parse_currency_field(&mut issues, "payout_currency", b.payout_currency.as_deref());
    let payout_amount =
        parse_amount_field(&mut issues, "payout_amount", b.payout_amount.as_ref(), payout_currency.or(currency));
    if b.quote_id.is_some() {
        if b.payout_currency.is_none() {
            issues.add("payout_currency", "required_with_quote", "is required when quote_id is given");
        }
        if b.payout_amount.is_none() {
            issues.add("payout_amount", "required_with_quote", "is required when quote_id is given");
        }
    }

    let beneficiary = match (b.beneficiary_id, b.beneficiary) {
        (Some(_), Some(_)) => {
            issues.add(
                "beneficiary",
                "beneficiary_conflict",
                "must be empty when beneficiary_id is given (send one or the other)",
            );
            None
        }
        (Some(id), None) => uuid_field(&mut issues, "beneficiary_id", &id).map(BeneficiarySource::Stored),
        (None, Some(body)) => issues
            .check(parse_beneficiary(body, caller.account, "beneficiary."))
            .map(|nb| BeneficiarySource::Inline(Box::new(nb))),
        (None, None) => {
            issues.add("beneficiary_id", "missing_required_field", "or beneficiary is required");
            None
        }
    };

    let is_payer = match b.is_payer.as_deref() {
        None => None,
        Some(v @ ("Y" | "N")) => Some(v.to_owned()),
        Some(_) => {
            issues.add("is_payer", "invalid_value", "must be Y or N");
            None
        }
    };
    let payer_id = b.payer_id.as_deref().and_then(|p| uuid_field(&mut issues, "payer_id", p));
    // Deprecated in UQPAY: accepted and kept; x-on-behalf-of makes the caller the payer.
    let on_behalf = caller.account != caller.principal;
    let is_payer = is_payer.or_else(|| on_behalf.then(|| "Y".to_owned()));
    let payer = (is_payer.is_some() || payer_id.is_some()).then(|| json!({"is_payer": is_payer, "payer_id": payer_id}));

    let mut documentation = Vec::new();
    for (i, doc) in b.documentation.unwrap_or_default().into_iter().enumerate() {
        let field = format!("documentation[{i}]");
        match (doc.file, doc.file_id) {
            (Some(_), Some(_)) => issues.add(&field, "documentation_conflict", "must give file or file_id, not both"),
            (Some(uri), None) => {
                if let Some(upload) = data_uri(&mut issues, &format!("{field}.file"), &uri) {
                    documentation.push(Document::Inline(upload));
                }
            }
            (None, Some(id)) => {
                if let Some(id) = uuid_field(&mut issues, &format!("{field}.file_id"), &id) {
                    documentation.push(Document::FileId(id));
                }
            }
            (None, None) => issues.add(&field, "missing_required_field", "needs file or file_id"),
        }
    }
    if documentation.len() > 10 {
        issues.add("documentation", "too_many_files", "may hold at most 10 files");
    }

    let (Some(currency), Some(amount), Some(purpose), Some(payout_reference), Some(payout_date), Some(beneficiary)) =
        (currency, amount, purpose, payout_reference, payout_date, beneficiary)
    else {
        issues.finish()?;
        return Err(ApiError::Internal("a required field was neither parsed nor reported".into()));
    };
    issues.finish()?;
    Ok(NewPayout {
        account: caller.account,
        currency,
        amount,
        purpose,
        payout_reference,
        fee_paid_by,
        payout_date,
        quote_id,
        payout_currency,
        payout_amount,
        beneficiary,
        payer,
        documentation,
        unique_request_id,
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<CreatePayout>,
) -> Result<Response, ApiError> {
    // UQPAY requires the key on this call; check it before anything else.
    let key = crate::idempotency::key_from_headers(&headers, true)?;
    let payout = parse_payout(body.value, &caller, key.map(|k| k.as_str().to_owned()))?;
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
        "PENDING" => &[PayoutState::Sent],
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
        &["SCHEDULED", "READY_TO_SEND", "SENT", "COMPLETED", "FAILED", "REJECTED", "CANCELLED", "RETURNED"],
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
