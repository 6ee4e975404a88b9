//! Beneficiaries as UQPAY: create, list, get, update (the entity type is fixed), delete, check,
//! and the payment methods per corridor. Every field is validated against its corridor.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::corridors;
use outlay_engine::Command;
use outlay_engine::parse::beneficiary::{
    AdditionalInfoBody, AddressBody, BankDetailsBody, BeneficiaryBody, parse_beneficiary,
};
use outlay_store::BeneficiaryFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::extract::{Caller, JsonBody, ListQuery, parse_id};
use crate::idempotency::{Mutation, execute};
use crate::wire::{self, List};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/beneficiaries", get(list).post(create))
        .route("/api/v1/beneficiaries/check", post(check))
        .route("/api/v1/beneficiaries/paymentmethods", get(payment_methods))
        .route("/api/v1/beneficiaries/{id}", get(retrieve).post(update))
        .route("/api/v1/beneficiaries/{id}/delete", post(delete))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<BeneficiaryBody>,
) -> Result<Response, ApiError> {
    let b = parse_beneficiary(body.value, caller.account, "")?;
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: "/api/v1/beneficiaries",
        body: &body.raw,
        key_required: false,
        error_kind: "beneficiary_error",
    };
    execute(&state, m, Command::CreateBeneficiary(Box::new(b)), wire::beneficiary_response).await
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<BeneficiaryBody>,
) -> Result<Response, ApiError> {
    let id = parse_id("beneficiary", &id)?;
    let b = parse_beneficiary(body.value, caller.account, "")?;
    let path = format!("/api/v1/beneficiaries/{id}");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &body.raw,
        key_required: false,
        error_kind: "beneficiary_error",
    };
    execute(&state, m, Command::UpdateBeneficiary { id, update: Box::new(b) }, wire::beneficiary_response).await
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("beneficiary", &id)?;
    let path = format!("/api/v1/beneficiaries/{id}/delete");
    let m = Mutation {
        caller: &caller,
        headers: &headers,
        path: &path,
        body: &Value::Null,
        key_required: false,
        error_kind: "beneficiary_error",
    };
    execute(&state, m, Command::DeleteBeneficiary { account: caller.account, id }, wire::beneficiary_response).await
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id("beneficiary", &id)?;
    let b = state
        .engine
        .store()
        .beneficiary(caller.account, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("beneficiary".into()))?;
    let mut body = wire::beneficiary_full(&b);
    // Outlay's addition (issue 7): the beneficiary's sanctions screening, from its newest review.
    let screening = state.engine.store().latest_review_status(b.id).await?;
    body["screening_status"] = Value::from(crate::routes::compliance::screening_status(screening.as_deref()));
    Ok(Json(body))
}

async fn list(State(state): State<AppState>, caller: Caller, query: ListQuery) -> Result<Json<List<Value>>, ApiError> {
    let filter = BeneficiaryFilter {
        currency: query.currency("currency")?,
        country: query.get("country").map(str::to_owned),
        entity_type: query.one_of("entity_type", &["INDIVIDUAL", "COMPANY"])?,
        payment_method: query.one_of("payment_method", &["LOCAL", "SWIFT"])?,
    };
    let page = state.engine.store().beneficiaries(caller.account, &filter, query.page).await?;
    Ok(Json(List::from_page(page, query.page, |b| wire::beneficiary(&b))))
}

/// UQPAY's check body is flat; Outlay also accepts `bank_country_code` to pick the corridor when
/// a currency is paid in several countries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    entity_type: Option<String>,
    payment_method: Option<String>,
    account_number: Option<String>,
    currency: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    clearing_system: Option<String>,
    iban: Option<String>,
    swift_code: Option<String>,
    bank_country_code: Option<String>,
    routing_code_type1: Option<String>,
    routing_code_value1: Option<String>,
    additional_info: Option<AdditionalInfoBody>,
}

async fn check(
    State(_state): State<AppState>,
    caller: Caller,
    body: JsonBody<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let c = body.value;
    let mut missing = Vec::new();
    for (name, v) in [("entity_type", &c.entity_type), ("payment_method", &c.payment_method), ("currency", &c.currency)]
    {
        if v.is_none() {
            missing.push(name.to_owned());
        }
    }
    if c.account_number.is_none()
        && c.iban.is_none()
        && c.additional_info.as_ref().and_then(|a| a.proxy_id.as_ref()).is_none()
    {
        missing.push("account_number".to_owned());
    }
    if !missing.is_empty() {
        return Err(ApiError::MissingFields(missing));
    }
    let currency = c.currency.clone().unwrap_or_default();
    let country = match c.bank_country_code.clone() {
        Some(country) => country,
        None => {
            let mut countries: Vec<String> =
                corridors::all().iter().filter(|k| k.currency.code() == currency).map(|k| k.country.clone()).collect();
            countries.dedup();
            match countries.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(ApiError::validation(
                        "currency",
                        "unsupported_corridor",
                        "is not paid out by any corridor",
                    ));
                }
                _ => return Err(ApiError::MissingFields(vec!["bank_country_code".into()])),
            }
        }
    };
    let body = BeneficiaryBody {
        entity_type: c.entity_type,
        payment_method: c.payment_method,
        first_name: c.first_name,
        last_name: c.last_name,
        company_name: c.company_name,
        bank_details: Some(BankDetailsBody {
            bank_country_code: Some(country.clone()),
            account_holder: Some("Check".into()),
            account_currency_code: Some(currency),
            swift_code: c.swift_code,
            clearing_system: c.clearing_system,
            account_number: c.account_number,
            iban: c.iban,
            routing_code_type1: c.routing_code_type1,
            routing_code_value1: c.routing_code_value1,
            ..BankDetailsBody::default()
        }),
        // The check is about the account; the address is checked when the beneficiary is created.
        address: Some(AddressBody {
            street_address: Some("-".into()),
            city: Some("-".into()),
            country: Some(country),
            ..AddressBody::default()
        }),
        additional_info: c.additional_info,
        ..BeneficiaryBody::default()
    };
    let b = parse_beneficiary(body, caller.account, "")?;
    Ok(Json(json!({
        "valid": true,
        "entity_type": b.entity_type,
        "payment_method": b.payment_method,
        "first_name": b.first_name,
        "last_name": b.last_name,
        "company_name": b.company_name,
        "bank_details": b.bank_details,
        "additional_info": b.additional_info,
    })))
}

async fn payment_methods(_caller: Caller, query: ListQuery) -> Result<Json<Value>, ApiError> {
    let entries = corridors::payment_methods(query.get("currency"), query.get("country"));
    Ok(Json(json!({ "data": entries })))
}
