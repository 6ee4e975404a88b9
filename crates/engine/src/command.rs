//! What the writer can be asked to do, and what it answers.

use outlay_core::{AccountId, Amount, Currency};
use outlay_store::{AccountRow, BankAccount, DepositRow, StoreError, WithdrawalRow};
use time::OffsetDateTime;
use uuid::Uuid;

/// A deposit as it arrives at the FBO bank.
#[derive(Clone, Debug)]
pub struct NewDeposit {
    pub account: AccountId,
    pub currency: Currency,
    pub amount: Amount,
    pub receiver_account_number: Option<String>,
    pub deposit_reference: Option<String>,
    pub sender_name: Option<String>,
    pub sender_country: Option<String>,
    pub sender_account_number: Option<String>,
    pub sender_swift_code: Option<String>,
    /// `simulation` or `operator`.
    pub source: &'static str,
    pub outcome: DepositOutcome,
}

/// What happens to a deposit on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepositOutcome {
    /// Lands in pending; cleared or rejected later.
    Pending,
    /// Lands and clears at once (an operator recording money already on the bank statement).
    Cleared,
    /// Refused on arrival (compliance): nothing reaches the ledger.
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    Complete,
    Fail { reason: String },
}

/// A beneficiary whose fields have been validated against its corridor.
#[derive(Clone, Debug)]
pub struct NewBeneficiary {
    pub account: AccountId,
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
    pub bank_details: serde_json::Value,
    pub address: Option<serde_json::Value>,
    pub additional_info: Option<serde_json::Value>,
}

#[derive(Clone, Debug)]
pub enum BeneficiarySource {
    Stored(Uuid),
    Inline(Box<NewBeneficiary>),
}

/// A supporting document attached to a payout.
#[derive(Clone, Debug)]
pub enum Document {
    FileId(Uuid),
    /// Sent inline as a data URI; stored as a file in the payout's transaction.
    Inline(FileUpload),
}

#[derive(Clone, Debug)]
pub struct FileUpload {
    pub name: String,
    /// Detected from the content: jpeg, png, pdf, doc or docx.
    pub file_type: &'static str,
    pub bytes: std::sync::Arc<[u8]>,
    pub notes: Option<String>,
}

/// A payout request whose fields have each been parsed; the rules that need stored data
/// (beneficiary, quote, files, balance) are checked in the writer.
#[derive(Clone, Debug)]
pub struct NewPayout {
    pub account: AccountId,
    pub currency: Currency,
    pub amount: Amount,
    pub purpose: outlay_core::payout::PurposeCode,
    pub payout_reference: String,
    pub fee_paid_by: Option<outlay_core::payout::FeePaidBy>,
    pub payout_date: time::Date,
    pub quote_id: Option<Uuid>,
    pub payout_currency: Option<Currency>,
    pub payout_amount: Option<Amount>,
    pub beneficiary: BeneficiarySource,
    pub payer: Option<serde_json::Value>,
    pub documentation: Vec<Document>,
    pub unique_request_id: Option<String>,
    /// The API credential creating it. Only such a payout is checked against the account's
    /// approval threshold (maker-checker); `None` (a batch's rows, whose batch approval covers
    /// them, and tools) skips that check.
    pub created_by: Option<Uuid>,
}

/// A quote request whose fields have each been parsed; the rate is looked up in the writer.
#[derive(Clone, Debug)]
pub struct NewQuote {
    pub account: AccountId,
    pub sell_currency: Currency,
    pub buy_currency: Currency,
    pub fixed: outlay_core::fx::Fixed,
    pub conversion_date: time::Date,
    pub transaction_type: outlay_core::fx::TransactionType,
}

/// A conversion request: the quote it uses and the parameters that must match it.
#[derive(Clone, Debug)]
pub struct NewConversion {
    pub account: AccountId,
    pub quote_id: Uuid,
    pub sell_currency: Currency,
    pub buy_currency: Currency,
    pub conversion_date: time::Date,
    /// Optional on the wire; when sent they must equal the quote's.
    pub sell_amount: Option<Amount>,
    pub buy_amount: Option<Amount>,
    pub reference: Option<String>,
}

/// An internal transfer between accounts of one family (a platform account and its connected
/// accounts), checked in the writer.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    /// The caller's own (platform) account: both sides must belong to its family.
    pub principal: AccountId,
    pub source: AccountId,
    pub target: AccountId,
    pub currency: Currency,
    pub amount: Amount,
    pub reason: Option<String>,
}

/// The result of reading a batch file (see `crate::batches`).
#[derive(Clone, Debug)]
pub struct BatchValidation {
    pub batch: Uuid,
    pub content_sha256: Option<String>,
    pub total_rows: i64,
    pub valid_rows: i64,
    pub invalid_rows: i64,
    /// A row is above the account's payout approval threshold.
    pub above_threshold: bool,
    /// A file-level error (code, message): the batch fails with it.
    pub file_error: Option<(String, String)>,
    /// Amount plus fee of the valid rows per currency (what holding the whole batch takes).
    pub valid_totals: outlay_store::BatchTotals,
}

#[derive(Clone, Debug)]
pub enum Command {
    SetRates {
        rates: Vec<(outlay_core::fx::CurrencyPair, outlay_core::fx::Rate)>,
        source: String,
    },
    CreateQuote(NewQuote),
    CreateConversion(NewConversion),
    CreateAccount {
        name: String,
        parent: Option<AccountId>,
        client_id: String,
        api_key_hash: String,
    },
    /// A sandbox's first start: create a platform account unless one exists, decided under a
    /// lock, so that nodes starting together on an empty database create one between them.
    BootstrapSandboxPlatform {
        name: String,
        client_id: String,
        api_key_hash: String,
    },
    SetBankAccount {
        account: AccountId,
        bank: Option<BankAccount>,
    },
    /// Another credential for an existing account, in a role.
    CreateCredential {
        account: AccountId,
        role: outlay_core::roles::Role,
        client_id: String,
        api_key_hash: String,
    },
    RevokeCredential {
        account: AccountId,
        credential: Uuid,
    },
    IssueToken {
        account: AccountId,
        credential: Uuid,
        token_hash: String,
        expires_at: OffsetDateTime,
    },
    CreateDeposit(NewDeposit),
    SettleDeposit {
        account: AccountId,
        deposit: Uuid,
        settlement: Settlement,
    },
    CreateWithdrawal {
        account: AccountId,
        currency: Currency,
        amount: Amount,
        reference: Option<String>,
    },
    SettleWithdrawal {
        account: AccountId,
        withdrawal: Uuid,
        settlement: Settlement,
    },
    SetReserve {
        account: AccountId,
        currency: Currency,
        target: Amount,
    },
    /// Move available funds between an account and its connected accounts.
    CreateTransfer(NewTransfer),
    CreateBeneficiary(Box<NewBeneficiary>),
    UpdateBeneficiary {
        id: Uuid,
        update: Box<NewBeneficiary>,
    },
    DeleteBeneficiary {
        account: AccountId,
        id: Uuid,
    },
    UploadFile {
        account: AccountId,
        file: FileUpload,
    },
    CreatePayout(Box<NewPayout>),
    /// Move a payout along its lifecycle (cancel, send, complete, fail, reject, return).
    TransitionPayout {
        account: AccountId,
        payout: Uuid,
        to: outlay_core::payout::PayoutState,
        reason: Option<String>,
    },
    /// Register a webhook endpoint; its secret is generated here and shown once.
    CreateWebhookEndpoint {
        account: AccountId,
        url: String,
        /// Validated event types; empty means all.
        event_types: Vec<String>,
    },
    RotateWebhookSecret {
        account: AccountId,
        endpoint: Uuid,
    },
    /// Delete an endpoint; its pending deliveries fail.
    DeleteWebhookEndpoint {
        account: AccountId,
        endpoint: Uuid,
    },
    /// Deliver events again (the next generation of deliveries) to the account's active endpoints.
    ReplayWebhookEvents(WebhookReplay),
    /// The delivery worker leases due deliveries (engine clock), counting an attempt on each.
    ClaimWebhookDeliveries {
        limit: u32,
        lease: time::Duration,
    },
    /// The delivery worker reports one attempt; the engine schedules the retry or settles it.
    RecordWebhookAttempt(WebhookAttempt),
    /// The same for many attempts at once (one statement on PostgreSQL): what the worker sends.
    RecordWebhookAttempts(Vec<WebhookAttempt>),
    /// A rail took these payouts (one bank file): each READY_TO_SEND one becomes SENT, in one
    /// transaction; any other is skipped (another node or a client got there first).
    SendPayouts {
        payouts: Vec<(AccountId, Uuid)>,
        reason: String,
        /// The rail that takes them: a `rail.submit` job for the payouts that became SENT is
        /// queued in the same transaction, so a node dying before the rail has them leaves a job
        /// that another worker runs, never SENT payouts nobody will submit.
        rail: Option<String>,
    },
    // --- jobs ---
    EnqueueJob(outlay_store::NewJob),
    /// Lease due jobs of these kinds for `lease`.
    ClaimJobs {
        kinds: Vec<String>,
        limit: u32,
        lease: std::time::Duration,
    },
    FinishJob {
        id: Uuid,
        claim_token: Uuid,
        end: outlay_store::JobEnd,
    },
    // --- sftp ---
    /// Register an SFTP public key (already parsed; see `sftp_keys`) for an account.
    AddSftpKey {
        account: AccountId,
        public_key: String,
        fingerprint: String,
    },
    RevokeSftpKey {
        account: AccountId,
        id: Uuid,
    },
    /// Record a file received over SFTP (refused as a duplicate when its content was seen).
    RecordSftpFile(Box<outlay_store::SftpFileRow>),
    /// Move a received file along (accepted, refused, completed); `None` keeps the value.
    UpdateSftpFile {
        id: Uuid,
        status: String,
        batch_id: Option<Uuid>,
        detail: Option<String>,
    },
    // --- audit ---
    /// Append one audit record on its own (a request that failed, or an operator action).
    RecordAudit(Box<outlay_store::AuditDraft>),
    /// Re-encrypt every stored account or identity number with the active key (`keys rotate`).
    ResealSecrets,
    // --- reports ---
    /// Ask for a report (pending until the report worker writes it). A scheduled report that
    /// already exists for its account, kind and period is not created again.
    CreateReport(NewReport),
    /// The daily schedule's reports for a page of accounts, in one transaction and in
    /// (account, kind) order, so nodes scheduling the same day at once never deadlock.
    ScheduleReports(Vec<NewReport>),
    /// The report worker leases pending reports (engine clock), counting an attempt on each.
    ClaimReports {
        limit: u32,
        lease: time::Duration,
    },
    /// The report worker settles a report it wrote (or could not write).
    FinishReport(Box<outlay_store::ReportFinish>),
    // --- wallets (stored-value model) ---
    /// Choose how the account pays recipients: `bank`, `wallet` or `both`.
    SetPayoutModel {
        account: AccountId,
        model: String,
    },
    CreateRecipient(Box<NewRecipient>),
    IssueRecipientToken(Box<outlay_store::RecipientTokenRow>),
    /// A transfer method of a recipient (a beneficiary validated by its corridor's rules).
    CreateTransferMethod {
        recipient: Uuid,
        beneficiary: Box<NewBeneficiary>,
    },
    /// Client available → a recipient's wallet.
    CreateWalletPayout(NewWalletPayout),
    /// A recipient withdraws from the wallet: a held payout to one of its transfer methods.
    CreateWalletWithdrawal(NewWalletWithdrawal),
    // --- compliance (issue 7) ---
    /// Store a new version of the sanctions lists (the operator's `outlay screening load`).
    LoadScreeningList(Box<outlay_store::ScreeningFiles>),
    /// Clear or reject an open compliance review. `account` is the caller's; `None` is the
    /// operator (any account).
    DecideReview {
        account: Option<AccountId>,
        review: Uuid,
        decision: crate::screening::ReviewDecision,
        reviewer: Option<Uuid>,
        note: Option<String>,
    },
    /// Replace an account's compliance rules.
    SetComplianceRules {
        account: AccountId,
        rules: Box<outlay_core::compliance::ComplianceRules>,
        updated_by: Option<Uuid>,
    },
    // --- batches ---
    /// Insert a batch (VALIDATING); refused when its file hash was already sent.
    CreateBatch(Box<outlay_store::PayoutBatchRow>),
    /// Validated rows of a batch being ingested (a chunk of the file).
    AddBatchItems {
        batch: Uuid,
        items: Vec<outlay_store::BatchItemRow>,
    },
    /// The file is read: set the counts, then PENDING_APPROVAL, VALIDATED or FAILED.
    FinishBatchValidation {
        account: AccountId,
        done: Box<BatchValidation>,
    },
    /// Maker-checker: approve (a different credential than the creator) and release.
    ApproveBatch {
        account: AccountId,
        batch: Uuid,
        approver: Uuid,
    },
    /// Release (hold) up to `limit` rows of a batch that needs no approval (0: all).
    ReleaseBatch {
        account: AccountId,
        batch: Uuid,
        limit: u32,
    },
    CancelBatch {
        account: AccountId,
        batch: Uuid,
        by: Option<Uuid>,
    },
    SetApprovalPolicy(Box<outlay_store::ApprovalPolicyRow>),
    // --- payout approval (maker-checker) ---
    /// Approve a payout AWAITING_APPROVAL (a different credential than its creator).
    ApprovePayout {
        account: AccountId,
        payout: Uuid,
        approver: Uuid,
    },
    /// Decline a payout AWAITING_APPROVAL: CANCELLED, its hold voided.
    DeclinePayoutApproval {
        account: AccountId,
        payout: Uuid,
        approver: Uuid,
    },
}

/// A report to write over [period_start, period_end).
#[derive(Clone, Debug)]
pub struct NewReport {
    pub account: AccountId,
    pub kind: outlay_core::reports::ReportKind,
    pub period_start: OffsetDateTime,
    pub period_end: OffsetDateTime,
    /// `api` or `schedule`.
    pub trigger: &'static str,
    /// The credential that asked (API reports).
    pub created_by: Option<Uuid>,
}

/// Which events to deliver again. Events of the account and of its connected accounts qualify.
#[derive(Clone, Debug)]
pub struct WebhookReplay {
    pub account: AccountId,
    /// One event (404 if the account cannot see it), or every event matching the rest.
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    /// Only to this endpoint of the account.
    pub endpoint_id: Option<Uuid>,
}

/// What happened when the worker sent one delivery.
#[derive(Clone, Debug)]
pub struct WebhookAttempt {
    pub delivery_id: Uuid,
    /// The attempt number the claim returned.
    pub attempt: i32,
    pub first_attempt_at: OffsetDateTime,
    /// The receiver answered 2xx.
    pub succeeded: bool,
    pub status_code: Option<u16>,
    /// Why it failed: the HTTP status and the start of the body, or the network error.
    pub error: Option<String>,
    /// When the attempt ended (engine clock): the retry is scheduled, or the delivery marked
    /// delivered, from then, however late the result is written.
    pub finished_at: OffsetDateTime,
}

impl Command {
    /// Add what this command will read that the store can fetch for its whole batch at once.
    pub fn batch_reads(&self, reads: &mut outlay_store::BatchReads) {
        if let Command::CreatePayout(p) = self
            && let BeneficiarySource::Stored(beneficiary) = p.beneficiary
        {
            reads.beneficiaries.push(beneficiary);
            reads.compliance_contexts.push((p.account, beneficiary));
            // Only a credential's payout is checked against the approval threshold.
            if p.created_by.is_some() {
                reads.approval_policies.push(p.account);
            }
        }
    }

    /// Client accounts whose ledger chains this command may write (locked up front, in order).
    pub fn chain_owners(&self) -> Option<AccountId> {
        match self {
            Command::CreateTransfer(t) => Some(t.source),
            Command::CreateAccount { .. }
            | Command::BootstrapSandboxPlatform { .. }
            | Command::SetBankAccount { .. }
            | Command::IssueToken { .. } => None,
            Command::CreateCredential { .. } | Command::RevokeCredential { .. } => None,
            Command::SetRates { .. } | Command::CreateQuote(_) => None,
            Command::CreateConversion(c) => Some(c.account),
            Command::CreateDeposit(d) => Some(d.account),
            Command::SettleDeposit { account, .. }
            | Command::CreateWithdrawal { account, .. }
            | Command::SettleWithdrawal { account, .. }
            | Command::SetReserve { account, .. }
            | Command::TransitionPayout { account, .. } => Some(*account),
            Command::CreatePayout(p) => Some(p.account),
            // --- compliance --- (a decision may void or keep a payout's hold)
            Command::DecideReview { account, .. } => *account,
            Command::LoadScreeningList(_) | Command::SetComplianceRules { .. } => None,
            Command::CreateBeneficiary(_)
            | Command::UpdateBeneficiary { .. }
            | Command::DeleteBeneficiary { .. }
            | Command::UploadFile { .. } => None,
            Command::CreateWebhookEndpoint { .. }
            | Command::RotateWebhookSecret { .. }
            | Command::DeleteWebhookEndpoint { .. }
            | Command::ReplayWebhookEvents(_)
            | Command::ClaimWebhookDeliveries { .. }
            | Command::RecordWebhookAttempt(_)
            | Command::RecordWebhookAttempts(_) => None,
            // Sending moves no money: nothing is posted to a ledger chain.
            Command::SendPayouts { .. } => None,
            Command::EnqueueJob(_) | Command::ClaimJobs { .. } | Command::FinishJob { .. } => None,
            // --- sftp --- (no money moves)
            Command::AddSftpKey { .. }
            | Command::RevokeSftpKey { .. }
            | Command::RecordSftpFile(_)
            | Command::UpdateSftpFile { .. } => None,
            // --- audit --- (its chain head is locked with the other audit chains)
            Command::RecordAudit(_) | Command::ResealSecrets => None,
            // --- reports --- (no money moves)
            Command::CreateReport(_)
            | Command::ScheduleReports(_)
            | Command::ClaimReports { .. }
            | Command::FinishReport(_) => None,
            // --- wallets ---
            Command::CreateWalletPayout(p) => Some(p.account),
            Command::CreateWalletWithdrawal(w) => Some(w.account),
            Command::SetPayoutModel { .. }
            | Command::CreateRecipient(_)
            | Command::IssueRecipientToken(_)
            | Command::CreateTransferMethod { .. } => None,
            // --- batches ---
            Command::ApproveBatch { account, .. } | Command::ReleaseBatch { account, .. } => Some(*account),
            Command::CreateBatch(_)
            | Command::AddBatchItems { .. }
            | Command::FinishBatchValidation { .. }
            | Command::CancelBatch { .. }
            | Command::SetApprovalPolicy(_) => None,
            // --- payout approval --- (a decline voids the hold)
            Command::ApprovePayout { account, .. } | Command::DeclinePayoutApproval { account, .. } => Some(*account),
        }
    }

    /// A second chain, for the rare command that moves money between two client accounts.
    /// The account whose audit chain this command appends to on its own.
    pub fn audit_owner(&self) -> Option<AccountId> {
        match self {
            Command::RecordAudit(d) => Some(d.account_id),
            _ => None,
        }
    }

    pub fn second_chain_owner(&self) -> Option<AccountId> {
        match self {
            Command::CreateTransfer(t) => Some(t.target),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Outcome {
    RatesSet {
        count: usize,
    },
    Quote(Box<outlay_store::QuoteRow>),
    Conversion(Box<outlay_store::ConversionRow>),
    AccountCreated {
        account: AccountRow,
        credential_id: Uuid,
    },
    /// The sandbox already had a platform account (another node made it).
    PlatformExists,
    BankAccountSet,
    TokenIssued,
    CredentialCreated(outlay_store::CredentialRow),
    CredentialRevoked,
    Deposit(DepositRow),
    Withdrawal(WithdrawalRow),
    ReserveSet {
        currency: Currency,
        reserve: Amount,
        available: Amount,
    },
    Beneficiary(outlay_store::BeneficiaryRow),
    BeneficiaryDeleted,
    File(outlay_store::FileRow),
    Payout(Box<outlay_store::PayoutRow>),
    Transfer(Box<outlay_store::TransferRow>),
    /// An endpoint as stored; the secret is rendered only on create and rotate.
    WebhookEndpoint(Box<outlay_store::WebhookEndpointRow>),
    WebhookReplayed {
        events: u64,
        deliveries: u64,
    },
    WebhookDeliveriesClaimed(Vec<outlay_store::ClaimedDelivery>),
    /// `status` is pending (retry scheduled), succeeded or failed; `recorded` is false when a
    /// later claim superseded the attempt.
    WebhookAttemptRecorded {
        status: String,
        recorded: bool,
    },
    /// `(status, recorded)` per attempt of `RecordWebhookAttempts`, in order.
    WebhookAttemptsRecorded(Vec<(String, bool)>),
    /// The payouts that became SENT.
    PayoutsSent(Vec<Uuid>),
    // --- jobs ---
    /// Whether the job was added (false: its dedupe key existed).
    JobEnqueued(bool),
    JobsClaimed(Vec<outlay_store::JobRow>),
    /// Whether the claim still held the job.
    JobFinished(bool),
    // --- sftp ---
    SftpKey(Box<outlay_store::SftpKeyRow>),
    SftpKeyRevoked,
    SftpFile(Box<outlay_store::SftpFileRow>),
    // --- audit ---
    AuditRecorded,
    /// How many stored values were re-encrypted.
    Resealed(u64),
    // --- reports ---
    /// `created` is false when the scheduled report already existed (`report` is then the
    /// request as made, not the stored row).
    Report {
        report: Box<outlay_store::ReportRow>,
        created: bool,
    },
    ReportsClaimed(Vec<outlay_store::ReportRow>),
    /// How many of the scheduled reports were new.
    ReportsScheduled {
        created: u64,
    },
    /// False when the report was no longer pending.
    ReportFinished {
        recorded: bool,
    },
    // --- wallets ---
    PayoutModelSet {
        model: String,
    },
    Recipient(Box<outlay_store::RecipientRow>),
    TransferMethod {
        recipient: Uuid,
        beneficiary: Box<outlay_store::BeneficiaryRow>,
    },
    WalletPayout(Box<outlay_store::WalletPayoutRow>),
    // --- compliance (issue 7) ---
    Review(Box<outlay_store::ComplianceReviewRow>),
    ComplianceRules(Box<outlay_store::ComplianceRulesRow>),
    ScreeningListLoaded(Box<outlay_store::ScreeningListRow>),
    // --- batches ---
    Batch(Box<outlay_store::PayoutBatchRow>),
    BatchItemsAdded(usize),
    ApprovalPolicy(Box<outlay_store::ApprovalPolicyRow>),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error("insufficient available balance in {currency}")]
    InsufficientFunds { currency: String },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{0}")]
    InvalidState(String),
    #[error("{field}: {message}")]
    Rejected { field: &'static str, code: &'static str, message: String },
    #[error("the idempotency key was already used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInFlight,
    #[error("the server is at capacity; retry shortly")]
    Overloaded,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("retry the command")]
    RetryCommand,
    #[error("retry the whole batch")]
    RetryBatch,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { constraint } if constraint.contains("short_reference") => CommandError::RetryCommand,
            StoreError::Retry(_) => CommandError::RetryBatch,
            other => CommandError::Internal(other.to_string()),
        }
    }
}

// --- wallets (stored-value model) ---

/// A recipient with its first credential (the API key is hashed before it gets here).
#[derive(Clone, Debug)]
pub struct NewRecipient {
    pub account: AccountId,
    pub external_reference: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub client_id: String,
    pub api_key_hash: String,
}

#[derive(Clone, Debug)]
pub struct NewWalletPayout {
    pub account: AccountId,
    pub recipient: Uuid,
    pub currency: Currency,
    pub amount: Amount,
    pub reference: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewWalletWithdrawal {
    pub account: AccountId,
    pub recipient: Uuid,
    pub transfer_method: Uuid,
    pub currency: Currency,
    pub amount: Amount,
    /// The payout reference the bank shows.
    pub reference: String,
}
