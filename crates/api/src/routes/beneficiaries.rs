//! Beneficiaries as UQPAY: create, list, get, update (the entity type is fixed), delete, check,
//! and the payment methods per corridor. Every field is validated against its corridor.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use outlay_core::AccountId;
use outlay_core::bank::{Bic, NameField, PaymentMethod, check_name};
use outlay_core::corridors::{self, BankDetailsInput, validate_bank_details};
use outlay_engine::{Command, NewBeneficiary};
use outlay_store::BeneficiaryFilter;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::payouts::Issues;
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

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    street_address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    nationality: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AdditionalInfoBody {
    organization_code: Option<String>,
    proxy_id: Option<String>,
    id_type: Option<String>,
    id_number: Option<String>,
    tax_id: Option<String>,
    msisdn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BeneficiaryBody {
    entity_type: Option<String>,
    payment_method: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    nickname: Option<String>,
    email: Option<String>,
    bank_details: Option<BankDetailsBody>,
    address: Option<AddressBody>,
    additional_info: Option<AdditionalInfoBody>,
}

/// UQPAY's `bank_details` as sent (the proxy id travels in `additional_info`).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BankDetailsBody {
    bank_name: Option<String>,
    bank_address: Option<String>,
    bank_country_code: Option<String>,
    account_holder: Option<String>,
    account_currency_code: Option<String>,
    swift_code: Option<String>,
    clearing_system: Option<String>,
    account_number: Option<String>,
    iban: Option<String>,
    routing_code_type1: Option<String>,
    routing_code_value1: Option<String>,
    routing_code_type2: Option<String>,
    routing_code_value2: Option<String>,
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn country_code(issues: &mut Issues, field: &str, v: &str) -> bool {
    let ok = v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase());
    if !ok {
        issues.add(field, "invalid_country", "must be an ISO 3166 alpha-2 code such as SG");
    }
    ok
}

/// Validate a beneficiary and turn it into what the engine stores. `prefix` is `beneficiary.`
/// when it arrives inside a payout, so every error names the field as the client sent it.
pub fn parse_beneficiary(b: BeneficiaryBody, account: AccountId, prefix: &str) -> Result<NewBeneficiary, ApiError> {
    let mut issues = Issues::default();
    let f = |name: &str| format!("{prefix}{name}");
    let entity_type = trimmed(b.entity_type);
    match entity_type.as_deref() {
        None => issues.add(f("entity_type"), "missing_required_field", "is required"),
        Some("INDIVIDUAL" | "COMPANY") => {}
        Some(_) => issues.add(f("entity_type"), "invalid_value", "must be INDIVIDUAL or COMPANY"),
    }
    let method = match trimmed(b.payment_method).as_deref() {
        None => {
            issues.add(f("payment_method"), "missing_required_field", "is required");
            None
        }
        Some(m) => {
            let parsed = PaymentMethod::parse(m);
            if parsed.is_none() {
                issues.add(f("payment_method"), "invalid_value", "must be LOCAL or SWIFT");
            }
            parsed
        }
    };
    let (first_name, last_name, company_name) = (trimmed(b.first_name), trimmed(b.last_name), trimmed(b.company_name));
    let mut name = |field: NameField, key: &str, value: &Option<String>, needed: bool| match (value, method) {
        (None, _) if needed => issues.add(
            f(key),
            "missing_required_field",
            format!("is required for {} beneficiaries", entity_type.as_deref().unwrap_or("")),
        ),
        (Some(v), Some(m)) => {
            if let Err(e) = check_name(field, m, v) {
                issues.add(f(key), "invalid_name", e);
            }
        }
        _ => {}
    };
    let individual = entity_type.as_deref() == Some("INDIVIDUAL");
    let company = entity_type.as_deref() == Some("COMPANY");
    name(NameField::FirstName, "first_name", &first_name, individual);
    name(NameField::LastName, "last_name", &last_name, individual);
    name(NameField::CompanyName, "company_name", &company_name, company);
    let nickname = trimmed(b.nickname);
    if nickname.as_ref().is_some_and(|n| n.chars().count() > 120) {
        issues.add(f("nickname"), "too_long", "must be at most 120 characters");
    }
    let email = trimmed(b.email);
    if let Some(e) = &email
        && (e.len() > 254
            || !e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.')))
    {
        issues.add(f("email"), "invalid_email", "must be an email address");
    }

    let Some(bank) = b.bank_details else {
        issues.add(f("bank_details"), "missing_required_field", "is required");
        issues.finish()?;
        return Err(ApiError::Internal("unreachable".into()));
    };
    let country = trimmed(bank.bank_country_code.clone());
    let currency = trimmed(bank.account_currency_code.clone());
    let bd = |name: &str| f(&format!("bank_details.{name}"));
    match &country {
        None => issues.add(bd("bank_country_code"), "missing_required_field", "is required"),
        Some(c) => {
            country_code(&mut issues, &bd("bank_country_code"), c);
        }
    }
    match &currency {
        None => issues.add(bd("account_currency_code"), "missing_required_field", "is required"),
        Some(c) => {
            if let Err(e) = outlay_core::Currency::parse(c) {
                issues.add(bd("account_currency_code"), "invalid_currency", e);
            }
        }
    }
    let holder = trimmed(bank.account_holder.clone());
    match &holder {
        None => issues.add(bd("account_holder"), "missing_required_field", "is required"),
        Some(h) if h.chars().count() > 140 => {
            issues.add(bd("account_holder"), "too_long", "must be at most 140 characters");
        }
        Some(_) => {}
    }
    let additional = b.additional_info.clone().unwrap_or_default();
    let input = BankDetailsInput {
        bank_name: bank.bank_name.clone(),
        bank_address: bank.bank_address.clone(),
        bank_country_code: country.clone(),
        account_holder: holder.clone(),
        account_currency_code: currency.clone(),
        swift_code: bank.swift_code.clone(),
        clearing_system: bank.clearing_system.clone(),
        account_number: bank.account_number.clone(),
        iban: bank.iban.clone(),
        routing_code_type1: bank.routing_code_type1.clone(),
        routing_code_value1: bank.routing_code_value1.clone(),
        routing_code_type2: bank.routing_code_type2.clone(),
        routing_code_value2: bank.routing_code_value2.clone(),
        proxy_id: additional.proxy_id.clone(),
    };
    // Paths from the corridor validator start with "beneficiary."; rebase them on this request.
    let rebase = |field: String| format!("{prefix}{}", field.strip_prefix("beneficiary.").unwrap_or(&field));
    if let (Some(country), Some(currency), Some(method)) = (&country, &currency, method) {
        match corridors::lookup(country, currency) {
            Some(corridor) => {
                if let Err(errors) = validate_bank_details(corridor, method, None, &input) {
                    for e in errors {
                        issues.add(rebase(e.field), e.code, e.message);
                    }
                }
            }
            None if method == PaymentMethod::Swift => swift_anywhere(&mut issues, &bd(""), &input, country, currency),
            None => issues.add(
                bd("bank_country_code"),
                "unsupported_corridor",
                format!(
                    "has no LOCAL corridor for {currency} in {country}: see GET /api/v1/beneficiaries/paymentmethods"
                ),
            ),
        }
    }

    let sg_local = country.as_deref() == Some("SG") && currency.as_deref() == Some("SGD");
    let address = match b.address.clone() {
        None if sg_local => None,
        None => {
            issues.add(f("address"), "missing_required_field", "is required (except for SGD accounts in SG)");
            None
        }
        Some(a) => {
            for (key, value) in [("street_address", &a.street_address), ("city", &a.city), ("country", &a.country)] {
                if trimmed(value.clone()).is_none() {
                    issues.add(f(&format!("address.{key}")), "missing_required_field", "is required");
                }
            }
            for (key, value) in [("country", &a.country), ("nationality", &a.nationality)] {
                if let Some(v) = trimmed(value.clone()) {
                    country_code(&mut issues, &f(&format!("address.{key}")), &v);
                }
            }
            Some(a)
        }
    };
    if let Some(id_type) = trimmed(additional.id_type.clone())
        && !["PASSPORT", "NATIONAL_ID", "DRIVERS_LICENSE"].contains(&id_type.as_str())
    {
        issues.add(f("additional_info.id_type"), "invalid_value", "must be PASSPORT, NATIONAL_ID or DRIVERS_LICENSE");
    }
    if let Some(msisdn) = trimmed(additional.msisdn.clone())
        && !(msisdn.starts_with('+')
            && (8..=16).contains(&msisdn.len())
            && msisdn[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        issues.add(f("additional_info.msisdn"), "invalid_msisdn", "must be +<country code><number>, digits only");
    }
    if currency.as_deref() == Some("COP") && trimmed(additional.id_number).is_none() {
        issues.add(f("additional_info.id_number"), "missing_required_field", "is required for COP accounts");
    }
    issues.finish()?;

    let (Some(entity_type), Some(method), Some(country), Some(currency)) = (entity_type, method, country, currency)
    else {
        return Err(ApiError::Internal("unreachable".into()));
    };
    let bank_details = json!({
        "bank_name": trimmed(bank.bank_name),
        "bank_address": trimmed(bank.bank_address),
        "bank_country_code": country,
        "account_holder": holder,
        "account_currency_code": currency,
        "swift_code": trimmed(bank.swift_code).map(|s| s.to_uppercase()),
        "clearing_system": trimmed(bank.clearing_system.clone()),
        "account_number": trimmed(bank.account_number),
        "iban": trimmed(bank.iban).map(|i| i.replace(' ', "").to_uppercase()),
        "routing_code_type1": trimmed(bank.routing_code_type1),
        "routing_code_value1": trimmed(bank.routing_code_value1),
        "routing_code_type2": trimmed(bank.routing_code_type2),
        "routing_code_value2": trimmed(bank.routing_code_value2),
    });
    Ok(NewBeneficiary {
        account,
        entity_type,
        payment_method: method.as_str().to_owned(),
        first_name,
        last_name,
        company_name,
        nickname,
        email,
        bank_country_code: country,
        account_currency_code: currency,
        clearing_system: trimmed(bank.clearing_system),
        bank_details,
        address: address.map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
        additional_info: b.additional_info.map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
    })
}

/// SWIFT to a country without a corridor: a valid BIC, and an account number or IBAN (the IBAN
/// where UQPAY requires one).
fn swift_anywhere(issues: &mut Issues, base: &str, input: &BankDetailsInput, country: &str, currency: &str) {
    match input.swift_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => issues.add(format!("{base}swift_code"), "missing_required_field", "is required for SWIFT payouts"),
        Some(code) => {
            if let Err(e) = Bic::parse(code) {
                issues.add(format!("{base}swift_code"), "invalid_swift_code", e);
            }
        }
    }
    let iban = input.iban.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let number = input.account_number.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if corridors::iban_required(country, currency) && iban.is_none() {
        issues.add(
            format!("{base}iban"),
            "missing_required_field",
            format!("is required for {currency} accounts in {country}"),
        );
    } else if iban.is_none() && number.is_none() {
        issues.add(format!("{base}account_number"), "missing_required_field", "or iban is required");
    }
    if let Some(iban) = iban
        && let Err(e) = outlay_core::bank::Iban::parse(iban)
    {
        issues.add(format!("{base}iban"), "invalid_iban", e);
    }
    if let Some(n) = number
        && (n.len() > 60 || !n.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        issues.add(format!("{base}account_number"), "invalid_account_number", "must be 1 to 60 letters and digits");
    }
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
    Ok(Json(wire::beneficiary(&b)))
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
