//! The beneficiary parser of `POST /api/v1/beneficiaries` (also used inline in payouts, batch rows
//! and onboarding files): every field is validated against its corridor.

use outlay_core::AccountId;
use outlay_core::bank::{Bic, NameField, PaymentMethod, check_name};
use outlay_core::corridors::{self, BankDetailsInput, validate_bank_details};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{FieldIssue, Issues, invalid};
use crate::NewBeneficiary;

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub nationality: Option<String>,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AdditionalInfoBody {
    pub organization_code: Option<String>,
    pub proxy_id: Option<String>,
    pub id_type: Option<String>,
    pub id_number: Option<String>,
    pub tax_id: Option<String>,
    pub msisdn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BeneficiaryBody {
    pub entity_type: Option<String>,
    pub payment_method: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub bank_details: Option<BankDetailsBody>,
    pub address: Option<AddressBody>,
    pub additional_info: Option<AdditionalInfoBody>,
}

/// UQPAY's `bank_details` as sent (the proxy id travels in `additional_info`).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BankDetailsBody {
    pub bank_name: Option<String>,
    pub bank_address: Option<String>,
    pub bank_country_code: Option<String>,
    pub account_holder: Option<String>,
    pub account_currency_code: Option<String>,
    pub swift_code: Option<String>,
    pub clearing_system: Option<String>,
    pub account_number: Option<String>,
    pub iban: Option<String>,
    pub routing_code_type1: Option<String>,
    pub routing_code_value1: Option<String>,
    pub routing_code_type2: Option<String>,
    pub routing_code_value2: Option<String>,
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
pub fn parse_beneficiary(
    b: BeneficiaryBody,
    account: AccountId,
    prefix: &str,
) -> Result<NewBeneficiary, Vec<FieldIssue>> {
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
        return Err(invalid("beneficiary", "invalid_request", "could not be parsed"));
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
        return Err(invalid("beneficiary", "invalid_request", "could not be parsed"));
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
