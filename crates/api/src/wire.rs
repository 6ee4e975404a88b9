//! Wire objects: UQPAY's field names and shapes, money as decimal strings, times as ISO 8601.

use outlay_core::AccountId;
use outlay_engine::events::{decimal, rfc3339};
use outlay_engine::{Outcome, StoredResponse};
use outlay_store::{AccountRow, DepositRow, Page, PageRequest, WithdrawalRow};
use serde::Serialize;
use serde_json::{Value, json};

use crate::idempotency::ok_json;

#[derive(Serialize)]
pub struct List<T> {
    pub total_pages: u64,
    pub total_items: u64,
    pub data: Vec<T>,
}

impl<T> List<T> {
    pub fn from_page<R>(page: Page<R>, request: PageRequest, map: impl Fn(R) -> T) -> Self {
        let size = u64::from(request.size.max(1));
        List {
            total_pages: page.total_items.div_ceil(size),
            total_items: page.total_items,
            data: page.items.into_iter().map(map).collect(),
        }
    }
}

pub fn account(a: &AccountRow) -> Value {
    json!({
        "account_id": a.id,
        "account_name": a.name,
        "parent_account_id": a.parent_id,
        "account_type": a.kind.to_uppercase(),
        "status": a.status,
        "create_time": rfc3339(a.created_at),
    })
}

/// A deposit: its sender and receiver account numbers masked (`****1234`), as everywhere but a
/// beneficiary's own retrieval (see docs/audit-and-encryption.md).
pub fn deposit(d: &DepositRow) -> Value {
    let masked = |n: &Option<String>| n.as_deref().map(outlay_core::audit::mask_tail);
    json!({
        "deposit_id": d.id,
        "short_reference_id": d.short_reference_id,
        "account_id": d.account_id,
        "currency": d.currency,
        "amount": decimal(d.amount, &d.currency),
        "deposit_fee": decimal(d.fee, &d.currency),
        "deposit_status": d.status,
        "receiver_account_number": masked(&d.receiver_account_number),
        "deposit_reference": d.deposit_reference,
        "sender": {
            "sender_name": d.sender_name,
            "sender_country": d.sender_country,
            "sender_account_number": masked(&d.sender_account_number),
            "sender_swift_code": d.sender_swift_code,
        },
        "source": d.source,
        "create_time": rfc3339(d.created_at),
        "complete_time": d.completed_at.map(rfc3339),
    })
}

pub fn withdrawal(w: &WithdrawalRow) -> Value {
    json!({
        "withdrawal_id": w.id,
        "short_reference_id": w.short_reference_id,
        "account_id": w.account_id,
        "currency": w.currency,
        "amount": decimal(w.amount, &w.currency),
        "fee_amount": decimal(w.fee, &w.currency),
        "fee_currency": w.currency,
        "withdrawal_status": w.status,
        "reference": w.reference,
        "bank_account": {
            "account_holder": w.bank_account_holder,
            "account_number": format!("****{}", w.bank_account_last4),
            "bank_country_code": w.bank_country_code,
        },
        "failure_reason": w.failure_reason,
        "create_time": rfc3339(w.created_at),
        "update_time": rfc3339(w.updated_at),
        "complete_time": w.completed_at.map(rfc3339),
    })
}

/// A stable id for the balance of one account in one currency.
pub fn balance_id(account: AccountId, currency: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&account.0, currency.as_bytes())
}

/// Renderers: turn an outcome into the response stored with its idempotency key.
pub fn deposit_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Deposit(d) => ok_json(&deposit(d)),
        other => unexpected(other),
    }
}

pub fn withdrawal_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Withdrawal(w) => ok_json(&withdrawal(w)),
        other => unexpected(other),
    }
}

fn unexpected(outcome: &Outcome) -> StoredResponse {
    tracing::error!(?outcome, "renderer got an outcome of another command");
    StoredResponse {
        status: 500,
        body: r#"{"type":"api_error","code":"internal_error","message":"internal error"}"#.into(),
    }
}

pub fn file(f: &outlay_store::FileRow) -> Value {
    json!({
        "file_id": f.id,
        "file_name": f.file_name,
        "file_type": f.file_type,
        "size": f.size,
        "notes": f.notes,
        "create_time": rfc3339(f.created_at),
    })
}

pub fn file_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::File(f) => ok_json(&file(f)),
        other => unexpected(other),
    }
}

/// A payout on the wire. Fields in ascending order, the order a `Value` keeps them in: the
/// serialised struct is the same text as the `Value` of [`payout`], without building the tree
/// (a payout response is rendered in the writer, for the idempotency record).
#[derive(Serialize)]
pub struct PayoutWire<'a> {
    amount: String,
    amount_beneficiary_receives: String,
    amount_payer_pays: String,
    approve_time: Option<String>,
    approved_by: Option<uuid::Uuid>,
    // Account numbers are masked in payouts (see docs/decisions.md, encryption at rest).
    beneficiary: Value,
    beneficiary_id: uuid::Uuid,
    clearing_system: &'a Option<String>,
    complete_time: Option<String>,
    conversion: Option<PayoutConversion<'a>>,
    create_time: String,
    // Maker-checker (Outlay): the creating credential and the approver, when approval was needed.
    created_by: Option<uuid::Uuid>,
    currency: &'a str,
    documentation: &'a Value,
    failure_reason: &'a Option<String>,
    failure_returned_amount: String,
    fee_amount: String,
    fee_currency: &'a str,
    fee_paid_by: &'a Option<String>,
    outlay_status: &'a str,
    payer: Option<Value>,
    payout_amount: String,
    payout_currency: &'a str,
    payout_date: String,
    payout_id: uuid::Uuid,
    payout_method: &'a str,
    payout_reason: Option<&'static str>,
    payout_reference: &'a str,
    payout_status: &'static str,
    purpose_code: &'a str,
    quote_id: Option<uuid::Uuid>,
    short_reference_id: &'a str,
    source_amount: String,
    source_currency: &'a str,
    unique_request_id: &'a Option<String>,
    update_time: String,
}

#[derive(Serialize)]
struct PayoutConversion<'a> {
    client_rate: &'a String,
    currency_pair: String,
}

impl<'a> PayoutWire<'a> {
    pub fn new(p: &'a outlay_store::PayoutRow) -> Self {
        let state = p.state.parse::<outlay_core::payout::PayoutState>().ok();
        let purpose = p.purpose_code.parse::<outlay_core::payout::PurposeCode>().ok();
        let amount = decimal(p.amount, &p.currency);
        PayoutWire {
            source_amount: amount.clone(),
            amount,
            amount_beneficiary_receives: decimal(p.payout_amount, &p.payout_currency),
            amount_payer_pays: decimal(p.amount + p.fee_amount, &p.currency),
            approve_time: p.approved_at.map(rfc3339),
            approved_by: p.approved_by,
            beneficiary: outlay_engine::audit::masked(&p.beneficiary),
            beneficiary_id: p.beneficiary_id,
            clearing_system: &p.clearing_system,
            complete_time: p.completed_at.map(rfc3339),
            conversion: p.client_rate.as_ref().map(|rate| PayoutConversion {
                client_rate: rate,
                currency_pair: format!("{}{}", p.currency, p.payout_currency),
            }),
            create_time: rfc3339(p.created_at),
            created_by: p.created_by,
            currency: &p.currency,
            documentation: &p.documentation,
            failure_reason: &p.failure_reason,
            failure_returned_amount: decimal(p.failure_returned_amount, &p.currency),
            fee_amount: decimal(p.fee_amount, &p.currency),
            fee_currency: &p.currency,
            fee_paid_by: &p.fee_paid_by,
            outlay_status: &p.state,
            payer: p.payer.as_ref().map(outlay_engine::audit::masked),
            payout_amount: decimal(p.payout_amount, &p.payout_currency),
            payout_currency: &p.payout_currency,
            payout_date: p.payout_date.to_string(),
            payout_id: p.id,
            payout_method: &p.payment_method,
            payout_reason: purpose.map(outlay_core::payout::PurposeCode::label),
            payout_reference: &p.payout_reference,
            payout_status: state.map_or("FAILED", outlay_core::payout::PayoutState::wire_status),
            purpose_code: &p.purpose_code,
            quote_id: p.quote_id,
            short_reference_id: &p.short_reference_id,
            source_currency: &p.currency,
            unique_request_id: &p.unique_request_id,
            update_time: rfc3339(p.updated_at),
        }
    }
}

pub fn payout(p: &outlay_store::PayoutRow) -> Value {
    serde_json::to_value(PayoutWire::new(p)).unwrap_or(Value::Null)
}

pub fn payout_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Payout(p) => ok_json(&PayoutWire::new(p)),
        other => unexpected(other),
    }
}

/// A beneficiary with its account and identity numbers masked: lists, create and update
/// responses (which are also stored for idempotent replay, so they must not hold clear numbers).
pub fn beneficiary(b: &outlay_store::BeneficiaryRow) -> Value {
    outlay_engine::audit::masked(&beneficiary_full(b))
}

/// A beneficiary as its owner retrieves it one at a time (`GET /api/v1/beneficiaries/{id}`): the
/// full numbers, as UQPAY returns them, so the client can show and check what it stored.
pub fn beneficiary_full(b: &outlay_store::BeneficiaryRow) -> Value {
    json!({
        "beneficiary_id": b.id,
        "short_reference_id": b.short_reference_id,
        "entity_type": b.entity_type,
        "payment_method": b.payment_method,
        "first_name": b.first_name,
        "last_name": b.last_name,
        "company_name": b.company_name,
        "nickname": b.nickname,
        "email": b.email,
        "beneficiary_status": if b.status == "ACTIVE" { "ACTIVE" } else { "INACTIVE" },
        "bank_details": b.bank_details,
        "address": b.address,
        "additional_info": b.additional_info,
        "create_time": rfc3339(b.created_at),
        "update_time": rfc3339(b.updated_at),
    })
}

pub fn beneficiary_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Beneficiary(b) => ok_json(&beneficiary(b)),
        Outcome::BeneficiaryDeleted => ok_json(&json!({"deleted": true})),
        other => unexpected(other),
    }
}

pub fn transfer(t: &outlay_store::TransferRow) -> Value {
    json!({
        "transfer_id": t.id,
        "short_reference_id": t.short_reference_id,
        "source_account_id": t.source_account_id,
        "target_account_id": t.target_account_id,
        "currency": t.currency,
        "amount": decimal(t.amount, &t.currency),
        "reason": t.reason,
        "transfer_status": t.status,
        "create_time": rfc3339(t.created_at),
        "complete_time": t.completed_at.map(rfc3339),
    })
}

pub fn transfer_response(outcome: &Outcome) -> StoredResponse {
    match outcome {
        Outcome::Transfer(t) => ok_json(&transfer(t)),
        other => unexpected(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `json!` object `payout` built before it became a struct, kept to check the struct
    /// against it.
    fn old_payout(p: &outlay_store::PayoutRow) -> Value {
        let state = p.state.parse::<outlay_core::payout::PayoutState>().ok();
        let purpose = p.purpose_code.parse::<outlay_core::payout::PurposeCode>().ok();
        let amount = decimal(p.amount, &p.currency);
        json!({
            "payout_id": p.id,
            "short_reference_id": p.short_reference_id,
            "unique_request_id": p.unique_request_id,
            "payout_status": state.map_or("FAILED", outlay_core::payout::PayoutState::wire_status),
            "outlay_status": p.state,
            "currency": p.currency,
            "amount": amount,
            "source_currency": p.currency,
            "source_amount": amount,
            "amount_payer_pays": decimal(p.amount + p.fee_amount, &p.currency),
            "payout_currency": p.payout_currency,
            "payout_amount": decimal(p.payout_amount, &p.payout_currency),
            "amount_beneficiary_receives": decimal(p.payout_amount, &p.payout_currency),
            "fee_paid_by": p.fee_paid_by,
            "fee_currency": p.currency,
            "fee_amount": decimal(p.fee_amount, &p.currency),
            "payout_date": p.payout_date.to_string(),
            "payout_reference": p.payout_reference,
            "purpose_code": p.purpose_code,
            "payout_reason": purpose.map(outlay_core::payout::PurposeCode::label),
            "payout_method": p.payment_method,
            "clearing_system": p.clearing_system,
            "quote_id": p.quote_id,
            "conversion": p.client_rate.as_ref().map(|rate| json!({
                "currency_pair": format!("{}{}", p.currency, p.payout_currency),
                "client_rate": rate,
            })),
            "beneficiary_id": p.beneficiary_id,
            // Account numbers are masked in payouts (see docs/decisions.md, encryption at rest).
            "beneficiary": outlay_engine::audit::masked(&p.beneficiary),
            "payer": p.payer.as_ref().map(outlay_engine::audit::masked),
            "documentation": p.documentation,
            "failure_reason": p.failure_reason,
            "failure_returned_amount": decimal(p.failure_returned_amount, &p.currency),
            "create_time": rfc3339(p.created_at),
            "update_time": rfc3339(p.updated_at),
            "complete_time": p.completed_at.map(rfc3339),
            // Maker-checker (Outlay): the creating credential and the approver, when approval was needed.
            "created_by": p.created_by,
            "approved_by": p.approved_by,
            "approve_time": p.approved_at.map(rfc3339),
        })
    }

    fn row(full: bool) -> outlay_store::PayoutRow {
        let now = time::OffsetDateTime::from_unix_timestamp(1_763_700_000).expect("time");
        outlay_store::PayoutRow {
            id: uuid::Uuid::now_v7(),
            account_id: AccountId(uuid::Uuid::now_v7()),
            short_reference_id: "P251121-ABC".into(),
            unique_request_id: full.then(|| "req \"1\"".into()),
            currency: "USD".into(),
            amount: 123_456,
            fee_amount: 150,
            fee_paid_by: full.then(|| "OURS".into()),
            payout_currency: if full { "SGD".into() } else { "USD".into() },
            payout_amount: 160_000,
            quote_id: full.then(uuid::Uuid::now_v7),
            client_rate: full.then(|| "1.2961".into()),
            purpose_code: "WAGES_SALARY".into(),
            payout_reference: "Invoice 7 / é".into(),
            payout_date: now.date(),
            payment_method: "SWIFT".into(),
            clearing_system: full.then(|| "FAST".into()),
            beneficiary_id: uuid::Uuid::now_v7(),
            beneficiary: json!({"bank_details": {"account_number": "0123456789", "iban": "GB82WEST12345698765432"}, "company_name": "Bench"}),
            payer: full.then(|| json!({"name": "Payer", "account_number": "99998888777"})),
            documentation: json!([{"file_id": uuid::Uuid::nil(), "file_name": "a.pdf", "file_type": "invoice"}]),
            state: if full { "COMPLETED".into() } else { "not a state".into() },
            failure_reason: full.then(|| "none\n".into()),
            failure_returned_amount: 0,
            created_at: now,
            updated_at: now,
            completed_at: full.then_some(now),
            created_by: full.then(uuid::Uuid::now_v7),
            approved_by: full.then(uuid::Uuid::now_v7),
            approved_at: full.then_some(now),
        }
    }

    #[test]
    fn a_payout_renders_as_the_value_did() {
        for full in [true, false] {
            let p = row(full);
            let text = serde_json::to_string(&PayoutWire::new(&p)).expect("serialise");
            assert_eq!(text, old_payout(&p).to_string(), "full: {full}");
            assert_eq!(payout(&p), old_payout(&p));
            assert!(!text.contains("0123456789"), "the account number is masked");
        }
    }
}
