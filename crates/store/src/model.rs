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

/// A page of the payouts still on their way, for a rail or the sandbox settler, in
/// `(updated_at, id)` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenPayouts {
    /// Only payouts last changed at or before this.
    pub changed_by: OffsetDateTime,
    /// Scheduled payouts dated after this are left out: not due in any time zone yet, they
    /// would otherwise fill every page while due ones wait behind them.
    pub scheduled_due_by: time::Date,
    /// The page after this `(updated_at, id)`; `None` for the first.
    pub after: Option<(OffsetDateTime, Uuid)>,
    pub limit: u32,
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

/// A credential as listed to its account (never its secret).
#[derive(Clone, Debug)]
pub struct CredentialView {
    pub id: Uuid,
    pub account_id: AccountId,
    pub client_id: String,
    pub role: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a valid token grants: whose it is and in which role.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    pub credential_id: Uuid,
    pub account_id: AccountId,
    pub role: String,
    pub expires_at: OffsetDateTime,
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
    /// The audit record whose `after` is exactly `response_body`, written in the same
    /// transaction: the store then keeps the body once, in the audit record, and reads it back
    /// from there.
    pub body_in_audit: Option<Uuid>,
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

/// Net movement on client `pending` accounts for one reference, over its accounts and currencies.
#[derive(Clone, Debug)]
pub struct PendingByReference {
    pub reference_type: String,
    pub reference_id: String,
    pub net_pending: i64,
}

/// The business objects that may hold money in `pending`, each kept in its own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldableKind {
    Deposit,
    Withdrawal,
    Payout,
}

impl HoldableKind {
    pub const ALL: [HoldableKind; 3] = [HoldableKind::Deposit, HoldableKind::Withdrawal, HoldableKind::Payout];

    /// The `reference_type` of the journal entries that hold money for such an object.
    pub fn reference_type(self) -> &'static str {
        match self {
            HoldableKind::Deposit => "deposit",
            HoldableKind::Withdrawal => "withdrawal",
            HoldableKind::Payout => "payout",
        }
    }
}

/// A business object that may hold money in `pending`, with what the ledger holds for it.
#[derive(Clone, Debug)]
pub struct HoldableObject {
    pub account_id: AccountId,
    pub reference_type: String,
    pub reference_id: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
    /// The payout's batch, if it came from one (a batch held as a whole pools its payouts' holds).
    pub batch_id: Option<String>,
    /// Net movement on client `pending` accounts of the entries referencing it.
    pub held: i64,
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

/// A stored beneficiary. The nested UQPAY objects are kept as JSON documents.
#[derive(Clone, Debug)]
pub struct BeneficiaryRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub entity_type: String,
    pub payment_method: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub bank_country_code: String,
    pub account_currency_code: String,
    pub clearing_system: Option<String>,
    pub bank_details: Value,
    pub address: Option<Value>,
    pub additional_info: Option<Value>,
    /// ACTIVE or DELETED.
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct BeneficiaryFilter {
    pub currency: Option<String>,
    pub country: Option<String>,
    pub entity_type: Option<String>,
    pub payment_method: Option<String>,
}

/// An uploaded supporting document (metadata; the content is read separately).
#[derive(Clone, Debug)]
pub struct FileRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub file_name: String,
    /// jpeg, png, pdf, doc or docx, as detected from the content.
    pub file_type: String,
    pub size: i64,
    pub sha256: String,
    pub notes: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct PayoutRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub unique_request_id: Option<String>,
    pub currency: String,
    pub amount: i64,
    pub fee_amount: i64,
    pub fee_paid_by: Option<String>,
    pub payout_currency: String,
    pub payout_amount: i64,
    pub quote_id: Option<Uuid>,
    pub client_rate: Option<String>,
    pub purpose_code: String,
    pub payout_reference: String,
    pub payout_date: time::Date,
    pub payment_method: String,
    pub clearing_system: Option<String>,
    pub beneficiary_id: Uuid,
    /// The beneficiary as it was when the payout was created.
    pub beneficiary: Value,
    pub payer: Option<Value>,
    /// `[{"file_id": ...}]`
    pub documentation: Value,
    /// Outlay's fine state (SCHEDULED, READY_TO_SEND, SENT, COMPLETED, FAILED, REJECTED, CANCELLED, RETURNED).
    pub state: String,
    pub failure_reason: Option<String>,
    pub failure_returned_amount: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    // --- payout approval (maker-checker) ---
    /// The API credential that created it (None for batch rows: the batch's approval covers them).
    pub created_by: Option<Uuid>,
    /// The credential that approved it (or declined it) when it waited for approval.
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<OffsetDateTime>,
}

/// The approver's decision on a payout that was AWAITING_APPROVAL.
#[derive(Clone, Debug)]
pub struct PayoutApprovalRecord {
    pub id: Uuid,
    pub approved_by: Uuid,
    pub at: OffsetDateTime,
}

#[derive(Clone, Debug, Default)]
pub struct PayoutFilter {
    /// Fine states to include (a wire status maps to one or more).
    pub states: Option<Vec<String>>,
    pub currency: Option<String>,
    pub beneficiary_id: Option<Uuid>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutTransition {
    pub seq: i64,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub at: OffsetDateTime,
}

/// One step of a payout's lifecycle, written with its history row.
#[derive(Clone, Debug)]
pub struct PayoutStateChange {
    pub id: Uuid,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub failure_reason: Option<String>,
    pub failure_returned_amount: i64,
    pub completed_at: Option<OffsetDateTime>,
    pub at: OffsetDateTime,
}

/// An operator-set mid rate: one `base` in `quote` (`USDSGD` 1.3456: 1 USD = 1.3456 SGD).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRateRow {
    pub currency_pair: String,
    /// Exact decimal string.
    pub rate: String,
    /// Where the rate came from: `cli`, `file:<name>`.
    pub source: String,
    pub updated_at: OffsetDateTime,
}

/// A quote: a client rate and both amounts, valid for a short window, used at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub sell_currency: String,
    pub sell_amount: i64,
    pub buy_currency: String,
    pub buy_amount: i64,
    /// `sell` or `buy`: the side the client fixed.
    pub fixed_side: String,
    /// Mid rate, buy currency per sell currency, rounded to 10 places (for the record).
    pub mid_rate: String,
    /// The rate the amounts were computed with (mid less markup, rounded down).
    pub client_rate: String,
    pub markup_bps: i32,
    /// `conversion` or `payout`.
    pub transaction_type: String,
    pub conversion_date: time::Date,
    pub valid_from: OffsetDateTime,
    pub valid_to: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    /// The object (conversion, payout) that used the quote.
    pub used_by: Option<Uuid>,
}

/// A conversion between two of an account's own currency balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub quote_id: Uuid,
    pub sell_currency: String,
    pub sell_amount: i64,
    pub buy_currency: String,
    pub buy_amount: i64,
    pub client_rate: String,
    /// UQPAY's statuses; Outlay's conversions settle at once, so COMPLETED.
    pub status: String,
    pub conversion_date: time::Date,
    pub reference: Option<String>,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, Default)]
pub struct ConversionFilter {
    pub status: Option<String>,
    pub sell_currency: Option<String>,
    pub buy_currency: Option<String>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
}

/// A stored event of the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: Uuid,
    /// The account the event happened to (a connected account's events go to its parent's
    /// endpoints too).
    pub account_id: AccountId,
    pub event_name: String,
    pub event_type: String,
    pub source_id: Uuid,
    /// 1, 2, … per source object, in the order its events were written.
    pub object_seq: i64,
    pub data: Value,
    pub created_at: OffsetDateTime,
}

/// Where an account's events are delivered. The secret signs every delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpointRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub url: String,
    pub secret: String,
    /// Event types delivered; empty means all.
    pub event_types: Vec<String>,
    /// ACTIVE or DELETED.
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One event to one endpoint (generation 0 at fan-out, one more per replay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDeliveryRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    /// The endpoint's owner.
    pub account_id: AccountId,
    pub generation: i32,
    /// pending, succeeded or failed.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub lease_until: Option<OffsetDateTime>,
    pub first_attempt_at: Option<OffsetDateTime>,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

/// A delivery with its event, for the delivery log.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDeliveryView {
    pub delivery: WebhookDeliveryRow,
    pub event: EventRow,
}

#[derive(Clone, Debug, Default)]
pub struct WebhookDeliveryFilter {
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub endpoint_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
}

/// A delivery claimed by a worker: everything needed to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery_id: Uuid,
    /// The number of this attempt (the claim counts it); its result is recorded only if no
    /// later claim has been made since.
    pub attempt: i32,
    pub first_attempt_at: OffsetDateTime,
    pub endpoint_id: Uuid,
    pub url: String,
    pub secret: String,
    pub event: EventRow,
}

/// The outcome of one attempt, as the engine decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttemptRecord {
    pub delivery_id: Uuid,
    pub attempt: i32,
    /// pending (retry at `next_attempt_at`), succeeded or failed.
    pub status: String,
    pub next_attempt_at: OffsetDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: OffsetDateTime,
}

/// Which events to deliver again, to which of `owner`'s active endpoints. Only events of `owner`
/// and of its connected accounts are considered; endpoint filters apply.
#[derive(Clone, Debug)]
pub struct WebhookReplayFilter {
    pub owner: AccountId,
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    pub endpoint_id: Option<Uuid>,
}

#[derive(Clone, Debug)]
pub struct TransferRow {
    pub id: Uuid,
    /// The platform account that made it.
    pub account_id: AccountId,
    pub short_reference_id: String,
    pub source_account_id: AccountId,
    pub target_account_id: AccountId,
    pub currency: String,
    pub amount: i64,
    pub reason: Option<String>,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

// --- sftp ---

/// A public key that may log in to the SFTP server as its account.
#[derive(Clone, Debug)]
pub struct SftpKeyRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// One line in OpenSSH format (`ssh-ed25519 AAAA... comment`).
    pub public_key: String,
    /// `SHA256:<base64>` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A file a client dropped over SFTP. `status`: received (not yet processed), accepted (a batch
/// is running; the response file comes when every row is final), refused, completed.
#[derive(Clone, Debug)]
pub struct SftpFileRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// `payments` or `onboarding`.
    pub kind: String,
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub status: String,
    pub batch_id: Option<Uuid>,
    /// Why it was refused, or a summary once done.
    pub detail: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

// --- audit trail ---

/// An audit record before the store gives it its place (seq) and hash in the account's chain.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    pub account_id: AccountId,
    pub id: Uuid,
    pub at: OffsetDateTime,
    /// A credential id, or `operator` for the CLI.
    pub credential_id: String,
    pub role: String,
    /// `payout.create`, `beneficiary.update`, ...
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// JSON text, exactly as hashed.
    pub before: Option<String>,
    pub after: Option<String>,
    /// The HTTP status answered (200 for a CLI success).
    pub status: i64,
    pub error_code: Option<String>,
}

/// An audit record as stored.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub draft: AuditDraft,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The fields the chain hash covers, as the core hashes them.
    pub fn with_fields<T>(&self, f: impl FnOnce(&outlay_core::audit::AuditFields<'_>) -> T) -> T {
        let d = &self.draft;
        let account = d.account_id.to_string();
        let id = d.id.to_string();
        let fields = outlay_core::audit::AuditFields {
            account_id: &account,
            seq: self.seq,
            id: &id,
            at_ms: audit_ms(d.at),
            credential_id: &d.credential_id,
            role: &d.role,
            action: &d.action,
            object_type: d.object_type.as_deref(),
            object_id: d.object_id.as_deref(),
            source_ip: d.source_ip.as_deref(),
            user_agent: d.user_agent.as_deref(),
            request_id: d.request_id.as_deref(),
            before: d.before.as_deref(),
            after: d.after.as_deref(),
            status: d.status,
            error_code: d.error_code.as_deref(),
        };
        f(&fields)
    }
}

/// Audit times are hashed as whole Unix milliseconds (what both backends store exactly).
pub fn audit_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub object_id: Option<String>,
    pub credential_id: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

// --- wallets (stored-value model) ---

/// A recipient of the stored-value model: holds a wallet (ledger accounts of the client) and its
/// own credentials.
#[derive(Clone, Debug)]
pub struct RecipientRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// The client's own id for the recipient; unique per account when given.
    pub external_reference: Option<String>,
    pub name: String,
    pub email: Option<String>,
    /// ACTIVE or DISABLED.
    pub status: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct RecipientCredentialRow {
    pub id: Uuid,
    pub recipient_id: Uuid,
    pub account_id: AccountId,
    pub client_id: String,
    pub secret_hash: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct RecipientTokenRow {
    pub token_hash: String,
    pub recipient_id: Uuid,
    pub account_id: AccountId,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// A recipient's transfer method; its bank details live in the beneficiary row of the same id.
#[derive(Clone, Debug)]
pub struct TransferMethodRow {
    pub id: Uuid,
    pub recipient_id: Uuid,
    pub account_id: AccountId,
    pub created_at: OffsetDateTime,
}

/// A stored-value payout: money moved from the client's available balance into a wallet.
#[derive(Clone, Debug)]
pub struct WalletPayoutRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub recipient_id: Uuid,
    pub short_reference_id: String,
    pub currency: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub status: String,
    pub created_at: OffsetDateTime,
}

/// Marks a payout as a withdrawal from a recipient's wallet.
#[derive(Clone, Debug)]
pub struct WalletWithdrawalRow {
    pub payout_id: Uuid,
    pub recipient_id: Uuid,
    pub account_id: AccountId,
    pub transfer_method_id: Uuid,
    pub created_at: OffsetDateTime,
}

// --- reports ---

/// A report: asked for over the API or written by the daily schedule. The CSV itself is read
/// separately (`Store::report_content`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// payouts, balance_statement, fees or reconciliation.
    pub kind: String,
    /// The period is [period_start, period_end).
    pub period_start: OffsetDateTime,
    pub period_end: OffsetDateTime,
    /// pending, ready or failed.
    pub status: String,
    /// api or schedule.
    pub trigger: String,
    /// The credential that asked for it (API reports).
    pub created_by: Option<Uuid>,
    pub row_count: Option<i64>,
    pub sha256: Option<String>,
    /// Where the CSV was also written (scheduled reports), if anywhere.
    pub file_path: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
}

/// The outcome of generating a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFinish {
    pub id: Uuid,
    /// ready or failed.
    pub status: String,
    pub row_count: Option<i64>,
    pub sha256: Option<String>,
    pub content: Option<Vec<u8>>,
    pub file_path: Option<String>,
    pub error: Option<String>,
    pub at: OffsetDateTime,
}

/// One line of one of an account's journal entries, with its ledger account, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLedgerLine {
    pub entry_id: Uuid,
    /// The entry's place in its account's chain.
    pub seq: i64,
    pub line_no: i64,
    pub entry_kind: String,
    pub reference_type: String,
    pub reference_id: String,
    pub created_at: OffsetDateTime,
    /// The ledger account's owner: the client account's id, or `platform`.
    pub owner_id: String,
    pub currency: String,
    /// available, pending, reserve, wallet:<id>, fbo_bank, fee_revenue, ...
    pub ledger_kind: String,
    pub amount: i64,
}

// --- batches ---

/// A payout batch: a file or API list of payouts validated row by row, then released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutBatchRow {
    pub id: Uuid,
    pub account_id: AccountId,
    /// The credential that created it (maker).
    pub created_by: Option<Uuid>,
    pub file_name: Option<String>,
    /// CSV, JSONL or JSON.
    pub format: String,
    /// ALL_OR_NOTHING or PARTIAL.
    pub mode: String,
    pub content_sha256: Option<String>,
    /// The hash while the batch counts as sent; cleared when it is cancelled or refused.
    pub dedup_sha256: Option<String>,
    /// VALIDATING, PENDING_APPROVAL, RELEASING, PROCESSING, COMPLETED, CANCELLED, FAILED.
    pub status: String,
    pub approval_required: bool,
    pub total_rows: i64,
    pub valid_rows: i64,
    pub invalid_rows: i64,
    /// Payouts of the batch not final yet.
    pub open_payouts: i64,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<OffsetDateTime>,
    pub cancelled_by: Option<Uuid>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub released_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    // --- batch quote ---
    /// One FX quote locked for the whole batch (used by the batch when it is created).
    pub quote_id: Option<Uuid>,
    /// The locked quote's client rate, applied to every cross-currency row of its pair.
    pub client_rate: Option<String>,
    // --- one hold for the whole batch ---
    /// Amount plus fee of the valid rows, per currency (minor units), as validated.
    pub valid_totals: BatchTotals,
    /// Funds the batch holds for its rows not created yet, per currency: set when the whole
    /// batch is held by one entry at release, drawn as its payouts are created, returned when
    /// the last row is done. `None`: the batch was not held as a whole (each row holds its own).
    pub held: Option<BatchTotals>,
    /// When the whole batch's funds were held.
    pub held_at: Option<OffsetDateTime>,
}

/// Minor units per currency code, stored as a JSON object (`{"USD": 1250}`).
pub type BatchTotals = std::collections::BTreeMap<String, i64>;

/// A batch's totals as stored (JSON text), or `None` for none.
pub fn batch_totals_text(totals: Option<&BatchTotals>) -> Option<String> {
    totals.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "{}".to_owned()))
}

/// The sum over currencies of stored totals (what the ledger audit compares pending with).
pub fn batch_totals_sum(text: &str) -> Result<i64, String> {
    let totals: BatchTotals = serde_json::from_str(text).map_err(|e| format!("stored batch totals: {e}"))?;
    totals
        .values()
        .try_fold(0i64, |sum, v| sum.checked_add(*v))
        .ok_or_else(|| "stored batch totals overflow".to_owned())
}

/// Stored JSON text back into totals; text that does not parse is a store error.
pub fn batch_totals_parse(text: Option<&str>) -> crate::StoreResult<Option<BatchTotals>> {
    text.map(|t| serde_json::from_str(t).map_err(|e| crate::StoreError::Database(format!("stored batch totals: {e}"))))
        .transpose()
}

/// One row of a batch: its validation result and, once released, its payout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchItemRow {
    pub batch_id: Uuid,
    /// From 1: the line of the file (after the header) or the index in the list.
    pub row_number: i64,
    /// VALID, INVALID (failed a rule), CREATED (its payout exists), FAILED (refused at release),
    /// CANCELLED.
    pub status: String,
    pub currency: Option<String>,
    pub amount: Option<i64>,
    pub payout_reference: Option<String>,
    /// The row as a create-payout JSON body (kept until it is released).
    pub payload: Option<String>,
    pub payout_id: Option<Uuid>,
    pub error_field: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Rows of a batch per status (the payout's status once created) and currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchStatusTotal {
    pub status: String,
    pub currency: Option<String>,
    pub count: i64,
    pub amount: i64,
}

/// An account's maker-checker policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalPolicyRow {
    pub account_id: AccountId,
    pub approval_required_for_batches: bool,
    /// Currency code → minor units: a batch with a row above needs approval.
    pub payout_approval_thresholds: std::collections::BTreeMap<String, i64>,
    pub updated_by: Option<Uuid>,
    pub updated_at: OffsetDateTime,
}

// --- jobs ---

/// A job to run in the background.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: Uuid,
    /// What runs it, e.g. `rail.submit`.
    pub kind: String,
    /// Enqueuing the same kind and key again makes no second job.
    pub dedupe_key: Option<String>,
    pub payload: Value,
    pub run_at: OffsetDateTime,
    pub max_attempts: i32,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub dedupe_key: Option<String>,
    pub payload: Value,
    /// queued, running, done or failed.
    pub status: String,
    pub run_at: OffsetDateTime,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_until: Option<OffsetDateTime>,
    pub claim_token: Option<Uuid>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// How a claimed job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    Done,
    /// Try again at `retry_at`, unless the attempts are used up (then failed for good).
    Failed {
        error: String,
        retry_at: OffsetDateTime,
    },
}

/// Net movement on one wallet ledger account (`kind` = `wallet:<recipient>`) per business
/// object, for `outlay ledger verify`.
#[derive(Clone, Debug)]
pub struct WalletByReference {
    pub account_id: AccountId,
    pub reference_type: String,
    pub reference_id: String,
    pub kind: String,
    pub net: i64,
}

/// A wallet withdrawal with its payout's state and amounts, for `outlay ledger verify`.
#[derive(Clone, Debug)]
pub struct WalletWithdrawalAudit {
    pub payout_id: String,
    pub recipient_id: String,
    pub state: String,
    pub amount: i64,
    pub fee: i64,
}
