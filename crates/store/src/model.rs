//! Row models shared by both backends. Amounts are minor units; currencies are ISO codes.

use outlay_core::AccountId;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// From 1.
    pub number: u32,
    /// 10 to 100 on the wire.
    pub size: u32,
}

impl PageRequest {
    pub fn offset(self) -> i64 {
        i64::from(self.number.saturating_sub(1)) * i64::from(self.size)
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub total_items: u64,
    pub items: Vec<T>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankAccount {
    pub account_holder: String,
    pub account_number: String,
    pub bank_country_code: String,
    pub swift_code: Option<String>,
    pub bank_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AccountRow {
    pub id: AccountId,
    pub name: String,
    pub parent_id: Option<AccountId>,
    /// `platform` or `connected`.
    pub kind: String,
    pub status: String,
    pub bank_account: Option<BankAccount>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct CredentialRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub client_id: String,
    pub secret_hash: String,
    pub role: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub token_hash: String,
    pub credential_id: Uuid,
    pub account_id: AccountId,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub account_id: AccountId,
    pub key: String,
    pub request_hash: String,
    pub status_code: u16,
    pub response_body: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct DepositRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
    /// PENDING, COMPLETED or FAILED.
    pub status: String,
    pub receiver_account_number: Option<String>,
    pub deposit_reference: Option<String>,
    pub sender_name: Option<String>,
    pub sender_country: Option<String>,
    pub sender_account_number: Option<String>,
    pub sender_swift_code: Option<String>,
    pub source: String,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, Default)]
pub struct DepositFilter {
    pub status: Option<String>,
    pub currency: Option<String>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct WithdrawalRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
    /// PENDING, COMPLETED or FAILED.
    pub status: String,
    pub reference: Option<String>,
    pub bank_account_holder: String,
    /// Only the last four characters are kept.
    pub bank_account_last4: String,
    pub bank_country_code: String,
    pub failure_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, Default)]
pub struct WithdrawalFilter {
    pub status: Option<String>,
    pub currency: Option<String>,
}

#[derive(Clone, Debug)]
pub struct BalanceRow {
    pub currency: String,
    /// available, pending, reserve or wallet:<id>.
    pub kind: String,
    pub balance: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct TransactionRow {
    pub entry_id: Uuid,
    pub line_no: i64,
    pub currency: String,
    /// Which balance moved: available, pending, reserve, wallet:<id>.
    pub balance_kind: String,
    pub amount: i64,
    pub entry_kind: String,
    pub reference_type: String,
    pub reference_id: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct TransactionFilter {
    pub currency: Option<String>,
    pub reference_type: Option<String>,
    pub balance_kind: Option<String>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct PendingByReference {
    pub account_id: AccountId,
    pub reference_type: String,
    pub reference_id: String,
    pub currency: String,
    pub net_pending: i64,
}

/// A business object that may hold money in `pending` (deposit, withdrawal, later payouts).
#[derive(Clone, Debug)]
pub struct HoldableObject {
    pub account_id: AccountId,
    pub reference_type: String,
    pub reference_id: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
}

#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: Uuid,
    pub account_id: AccountId,
    /// UQPAY category, e.g. DEPOSIT.
    pub event_name: String,
    /// e.g. deposit.completed.
    pub event_type: String,
    pub source_id: Uuid,
    pub data: Value,
    pub created_at: OffsetDateTime,
}
