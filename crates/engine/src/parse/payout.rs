//! The payout parser of `POST /api/v1/payouts` (also every row of a payout batch): every rule
//! that needs only the request, all reported together.

use base64::Engine as _;
use outlay_core::payout::{FeePaidBy, PurposeCode};
use outlay_core::{AccountId, Amount, Currency};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::beneficiary::{BeneficiaryBody, parse_beneficiary};
use super::{DecimalInput, FieldIssue, Issues, check_document, invalid};
use crate::{BeneficiarySource, Document, FileUpload, NewPayout};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayout {
    pub currency: Option<String>,
    pub amount: Option<DecimalInput>,
    pub purpose_code: Option<String>,
    pub payout_reference: Option<String>,
    pub fee_paid_by: Option<String>,
    pub payout_date: Option<String>,
    pub quote_id: Option<String>,
    pub payout_currency: Option<String>,
    pub payout_amount: Option<DecimalInput>,
    pub beneficiary_id: Option<String>,
    pub beneficiary: Option<BeneficiaryBody>,
    pub is_payer: Option<String>,
    pub payer_id: Option<String>,
    pub documentation: Option<Vec<DocumentationBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentationBody {
    pub file: Option<String>,
    pub file_id: Option<String>,
}

fn required<T>(issues: &mut Issues, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        issues.add(field, "missing_required_field", "is required");
    }
    value
}

fn parse_currency_field(issues: &mut Issues, field: &str, code: Option<&str>) -> Option<Currency> {
    let code = code?;
    issues.check(Currency::parse(code).map_err(|e| invalid(field, "invalid_currency", e)))
}

fn date(issues: &mut Issues, field: &str, text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    issues.check(
        time::Date::parse(text, format)
            .map_err(|_| invalid(field, "invalid_date", "must be a date in the form YYYY-MM-DD")),
    )
}

fn uuid_field(issues: &mut Issues, field: &str, text: &str) -> Option<Uuid> {
    issues.check(Uuid::parse_str(text).map_err(|_| invalid(field, "invalid_uuid", "must be a UUID")))
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
/// `on_behalf`: the caller acts for a connected account (x-on-behalf-of), which makes it the payer.
pub fn parse_payout(
    b: CreatePayout,
    account: AccountId,
    on_behalf: bool,
    unique_request_id: Option<String>,
) -> Result<NewPayout, Vec<FieldIssue>> {
    let mut issues = Issues::default();
    let currency_code = required(&mut issues, "currency", b.currency);
    let currency = parse_currency_field(&mut issues, "currency", currency_code.as_deref());
    let amount_value = required(&mut issues, "amount", b.amount);
    let amount = parse_amount_field(&mut issues, "amount", amount_value.as_ref(), currency);
    let purpose = required(&mut issues, "purpose_code", b.purpose_code).and_then(|p| {
        issues.check(p.parse::<PurposeCode>().map_err(|e| invalid("purpose_code", "invalid_purpose_code", e)))
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
        issues.check(f.parse::<FeePaidBy>().map_err(|e| invalid("fee_paid_by", "invalid_fee_paid_by", e)))
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
            .check(parse_beneficiary(body, account, "beneficiary."))
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
        return Err(invalid("request", "invalid_request", "a required field was neither parsed nor reported"));
    };
    issues.finish()?;
    Ok(NewPayout {
        account,
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
        // Set by the API route from the caller's credential.
        created_by: None,
    })
}
