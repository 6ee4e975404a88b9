//! Outgoing events in UQPAY's shape, written to the outbox in the transaction that caused them.

use outlay_core::money::format_minor;
use outlay_core::{AccountId, Currency};
use outlay_store::{DepositRow, NewEvent, WithdrawalRow};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Decimal string of a stored amount in its currency.
pub fn decimal(minor: i64, currency: &str) -> String {
    let exponent = Currency::parse(currency).map_or(2, Currency::exponent);
    format_minor(minor, exponent)
}

pub fn deposit_data(d: &DepositRow) -> Value {
    json!({
        "account_id": d.account_id,
        "deposit_id": d.id,
        "short_reference_id": d.short_reference_id,
        "deposit_amount": decimal(d.amount, &d.currency),
        "deposit_currency": d.currency,
        "deposit_fee": decimal(d.fee, &d.currency),
        "deposit_status": d.status,
        "deposit_reference": d.deposit_reference,
        "sender_name": d.sender_name,
        "create_time": rfc3339(d.created_at),
        "complete_time": d.completed_at.map(rfc3339),
    })
}

pub fn withdrawal_data(w: &WithdrawalRow) -> Value {
    json!({
        "account_id": w.account_id,
        "withdrawal_id": w.id,
        "short_reference_id": w.short_reference_id,
        "amount": decimal(w.amount, &w.currency),
        "currency": w.currency,
        "fee_amount": decimal(w.fee, &w.currency),
        "withdrawal_status": w.status,
        "failure_reason": w.failure_reason,
        "create_time": rfc3339(w.created_at),
        "complete_time": w.completed_at.map(rfc3339),
    })
}

pub fn event(
    account: AccountId,
    name: &str,
    event_type: &str,
    source: Uuid,
    data: Value,
    at: OffsetDateTime,
) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        account_id: account,
        event_name: name.to_owned(),
        event_type: event_type.to_owned(),
        source_id: source,
        data,
        created_at: at,
    }
}
