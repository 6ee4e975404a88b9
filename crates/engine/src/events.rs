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

pub fn payout_data(p: &outlay_store::PayoutRow) -> Value {
    let state = p.state.parse::<outlay_core::payout::PayoutState>().ok();
    json!({
        "account_id": p.account_id,
        "payout_id": p.id,
        "short_reference_id": p.short_reference_id,
        "payout_status": state.map_or("FAILED", outlay_core::payout::PayoutState::wire_status),
        "outlay_status": p.state,
        "amount": decimal(p.amount, &p.currency),
        "currency": p.currency,
        "payout_amount": decimal(p.payout_amount, &p.payout_currency),
        "payout_currency": p.payout_currency,
        "fee_amount": decimal(p.fee_amount, &p.currency),
        "fee_currency": p.currency,
        "fee_paid_by": p.fee_paid_by,
        "payment_date": p.payout_date.to_string(),
        "payment_type": p.payment_method,
        "beneficiary_id": p.beneficiary_id,
        "quote_id": p.quote_id,
        "reference": p.payout_reference,
        "failure_reason": p.failure_reason,
        "failure_returned_amount": decimal(p.failure_returned_amount, &p.currency),
        "unique_request_id": p.unique_request_id,
        "create_time": rfc3339(p.created_at),
        "complete_time": p.completed_at.map(rfc3339),
    })
}

/// A conversion as the API and its events show it: UQPAY's list/get fields plus the fields of
/// its create response (`status`, `created_date`, `currency_pair`, `reference`).
pub fn conversion_data(c: &outlay_store::ConversionRow) -> Value {
    json!({
        "conversion_id": c.id,
        "short_reference_id": c.short_reference_id,
        "account_id": c.account_id,
        "quote_id": c.quote_id,
        "sell_currency": c.sell_currency,
        "sell_amount": decimal(c.sell_amount, &c.sell_currency),
        "buy_currency": c.buy_currency,
        "buy_amount": decimal(c.buy_amount, &c.buy_currency),
        "currency_pair": format!("{}{}", c.sell_currency, c.buy_currency),
        "client_rate": c.client_rate,
        "conversion_date": c.conversion_date.to_string(),
        "conversion_status": c.status,
        "status": c.status,
        "reference": c.reference,
        "create_time": rfc3339(c.created_at),
        "created_date": rfc3339(c.created_at),
        "settle_time": c.completed_at.map(rfc3339),
        "complete_time": c.completed_at.map(rfc3339),
    })
}
