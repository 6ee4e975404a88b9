//! Storage: one [`Store`] trait for reads, one [`WriterConn`]/[`WriteTx`] pair for the single
//! writer, and two implementations chosen from the database URL: SQLite (the embedded default)
//! and PostgreSQL (for many nodes). Each backend owns its migrations and its SQL; no SQL lives
//! outside this crate.

pub mod crypto;
mod error;
mod migrate;
mod model;
mod model_compliance;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use outlay_core::AccountId;
use outlay_core::ledger::{EntryDraft, LedgerKey, StoredEntry};
use time::OffsetDateTime;
use uuid::Uuid;

pub use error::{PostError, StoreError, StoreResult};
pub use model::*;
pub use model_compliance::*;

/// Which backend a database URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite: or postgres:// (got {})",
                redact_url(url)
            )))
        }
    }
}

/// Hide a password in a URL before it is logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme_end], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Open the store a URL names, running its migrations.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with_keys(url, Arc::default()).await
}

/// Open the store, encrypting account and identity numbers at rest with `keys`.
pub async fn open_with_keys(url: &str, keys: Arc<crypto::KeyRing>) -> StoreResult<Arc<dyn Store>> {
    match Backend::from_url(url)? {
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::open(url).await?.with_keys(keys))),
        Backend::Postgres => Ok(Arc::new(postgres::PgStore::open(url).await?.with_keys(keys))),
    }
}

/// Reads, plus opening the writer's connection. Implementations are cheap to share.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// The same reads, all at one instant: every read through the returned store sees the one
    /// committed state it opened on, whatever commits meanwhile (`ledger verify` and `audit
    /// verify` on a live system). It holds a connection and a read transaction until dropped
    /// (PostgreSQL: vacuum cannot remove rows newer than it; SQLite: the WAL cannot restart).
    /// For reading only.
    async fn snapshot(&self) -> StoreResult<std::sync::Arc<dyn Store>>;

    /// A dedicated connection for the single writer of this process.
    async fn writer_conn(&self) -> StoreResult<Box<dyn WriterConn>>;

    async fn has_platform_account(&self) -> StoreResult<bool>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRow>>;
    async fn connected_accounts(&self, parent: AccountId, page: PageRequest) -> StoreResult<Page<AccountRow>>;
    async fn credential_by_client_id(&self, client_id: &str) -> StoreResult<Option<CredentialRow>>;
    /// The grant of an unrevoked credential's token (expiry is the caller's to check).
    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenGrant>>;
    /// Every credential of `account`, revoked ones included, oldest first.
    async fn credentials(&self, account: AccountId) -> StoreResult<Vec<CredentialView>>;
    async fn idempotency(&self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>>;

    async fn deposit(&self, account: AccountId, id: Uuid) -> StoreResult<Option<DepositRow>>;
    async fn deposits(
        &self,
        account: AccountId,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> StoreResult<Page<DepositRow>>;
    /// Pending deposits created before `before`, any account (the sandbox settler's work).
    async fn pending_deposits(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<DepositRow>>;

    async fn withdrawal(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WithdrawalRow>>;
    async fn withdrawals(
        &self,
        account: AccountId,
        filter: &WithdrawalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WithdrawalRow>>;
    async fn pending_withdrawals(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<WithdrawalRow>>;

    async fn beneficiary(&self, account: AccountId, id: Uuid) -> StoreResult<Option<BeneficiaryRow>>;
    async fn beneficiaries(
        &self,
        account: AccountId,
        filter: &BeneficiaryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<BeneficiaryRow>>;
    async fn file(&self, account: AccountId, id: Uuid) -> StoreResult<Option<FileRow>>;
    async fn payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<PayoutRow>>;
    async fn payouts(
        &self,
        account: AccountId,
        filter: &PayoutFilter,
        page: PageRequest,
    ) -> StoreResult<Page<PayoutRow>>;
    async fn payout_history(&self, id: Uuid) -> StoreResult<Vec<PayoutTransition>>;
    /// A transfer visible to `account`: made by it, or into or out of it.
    async fn transfer(&self, account: AccountId, id: Uuid) -> StoreResult<Option<TransferRow>>;
    async fn transfers(
        &self,
        account: AccountId,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<TransferRow>>;
    /// Payouts still on their way (scheduled and dated by `scheduled_due_by`, ready or sent),
    /// one page of them (see [`OpenPayouts`]).
    async fn open_payouts(&self, query: OpenPayouts) -> StoreResult<Vec<PayoutRow>>;
    /// A payout by its short reference (what a rail echoes back), whoever owns it.
    async fn payout_by_short_reference(&self, short_reference: &str) -> StoreResult<Option<PayoutRow>>;

    /// Every operator-set mid rate, by pair.
    async fn fx_rates(&self) -> StoreResult<Vec<FxRateRow>>;
    async fn quote(&self, account: AccountId, id: Uuid) -> StoreResult<Option<QuoteRow>>;
    async fn conversion(&self, account: AccountId, id: Uuid) -> StoreResult<Option<ConversionRow>>;
    async fn conversions(
        &self,
        account: AccountId,
        filter: &ConversionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ConversionRow>>;

    /// An active webhook endpoint of `account`.
    async fn webhook_endpoint(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>>;
    /// The active webhook endpoints of `account`, newest first.
    async fn webhook_endpoints(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<WebhookEndpointRow>>;
    /// Deliveries to `account`'s endpoints with their events, newest first.
    async fn webhook_deliveries(
        &self,
        account: AccountId,
        filter: &WebhookDeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookDeliveryView>>;
    /// Whether any delivery is due at `now` and not leased (a cheap check before a claim).
    async fn webhook_deliveries_due(&self, now: OffsetDateTime) -> StoreResult<bool>;
    /// How many deliveries are due at `now` and not leased (the `outlay_webhook_queue_depth`
    /// gauge), counted up to 100,000 so a huge backlog does not make the sample expensive.
    async fn webhook_queue_depth(&self, now: OffsetDateTime) -> StoreResult<u64>;
    /// Jobs due at `now` and not leased (queued and run_at come, or running with a lapsed
    /// lease), per kind: the `outlay_jobs_queue_depth{kind}` gauge. Kinds with none are absent.
    async fn jobs_queue_depth(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, u64)>>;

    /// Every client-owned ledger account of `account`.
    async fn balances(&self, account: AccountId) -> StoreResult<Vec<BalanceRow>>;
    async fn transactions(
        &self,
        account: AccountId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<TransactionRow>>;

    /// Entries in (account, seq) order after `after`, for the auditor.
    async fn audit_entries(&self, after: Option<(AccountId, i64)>, limit: u32) -> StoreResult<Vec<StoredEntry>>;
    async fn audit_balances(&self) -> StoreResult<Vec<(LedgerKey, i64)>>;
    async fn audit_chain_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>>;
    /// One page of the deposits, withdrawals or payouts (`kind`) in id order after `after`, each
    /// with its status, amounts and what the ledger holds for it in `pending`.
    async fn audit_holdable_page(
        &self,
        kind: HoldableKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<HoldableObject>>;
    /// Net movement on client `pending` accounts per reference that is not an existing deposit,
    /// withdrawal or payout: batch holds, reserves, and anything referencing a missing object.
    async fn audit_pending_elsewhere(&self) -> StoreResult<Vec<PendingByReference>>;
    /// Every batch held as a whole, with the funds it still holds for rows not created yet
    /// (summed over currencies, as the pending check sums them).
    async fn audit_batch_holds(&self) -> StoreResult<Vec<(Uuid, i64)>>;
    /// For each reference the ledger's rows make (a line to its entry and ledger account, a
    /// payout to its account and beneficiary, ...), how many name a row that does not exist.
    /// PostgreSQL does not enforce these as foreign keys on the payout path; this is their check.
    async fn audit_dangling_references(&self) -> StoreResult<Vec<(String, i64)>>;

    // --- sftp ---
    /// The active key with this fingerprint (`SHA256:...`), whoever owns it.
    async fn sftp_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SftpKeyRow>>;
    /// The active SFTP keys of `account`, newest first.
    async fn sftp_keys(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<SftpKeyRow>>;
    async fn sftp_file(&self, id: Uuid) -> StoreResult<Option<SftpFileRow>>;
    /// Files received but not finished (status received or accepted), oldest first.
    async fn sftp_open_files(&self) -> StoreResult<Vec<SftpFileRow>>;
    // --- audit trail ---
    /// One account's audit records, newest first, filtered.
    async fn audit_log(
        &self,
        account: AccountId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditRow>>;
    /// One account's audit records in chain order after `after_seq` (for verify and export).
    async fn audit_log_chain(&self, account: AccountId, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>>;
    /// Every audit chain head: (account, seq, head hash).
    async fn audit_log_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>>;

    // --- reports ---
    /// Lines of `account`'s journal entries created in [from, to), in chain order (seq, line),
    /// after `after` (a (seq, line_no) cursor): reports read the journal page by page.
    async fn report_ledger_lines(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> StoreResult<Vec<ReportLedgerLine>>;
    /// Each client-owned ledger account of `account` summed over entries created before `at`:
    /// (currency, kind, balance).
    async fn report_balances_at(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<(String, String, i64)>>;
    /// Payouts of `account` created in [from, to), oldest first, after a (created_at, id) cursor.
    async fn report_payouts(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<PayoutRow>>;
    /// Every line of `account`'s entries that reference these objects, in chain order.
    async fn report_reference_lines(
        &self,
        account: AccountId,
        reference_type: &str,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ReportLedgerLine>>;
    /// Of `account`'s `payouts`, those whose batch was held as a whole, with that batch.
    async fn report_held_batch_payouts(&self, account: AccountId, payouts: &[Uuid]) -> StoreResult<Vec<(Uuid, Uuid)>>;
    async fn report(&self, account: AccountId, id: Uuid) -> StoreResult<Option<ReportRow>>;
    /// `account`'s reports, newest first.
    async fn reports(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<ReportRow>>;
    /// The CSV of a ready report.
    async fn report_content(&self, account: AccountId, id: Uuid) -> StoreResult<Option<Vec<u8>>>;
    /// Whether a pending report is waiting and not leased (a cheap check before a claim).
    async fn reports_due(&self, now: OffsetDateTime) -> StoreResult<bool>;
    /// Active accounts in id order after `after` (the daily schedule walks them page by page).
    async fn active_accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>>;
    // --- wallets (stored-value model) ---
    /// The account's payout model (`bank`, `wallet` or `both`) if one was set; `bank` otherwise.
    async fn payout_model(&self, account: AccountId) -> StoreResult<Option<String>>;
    async fn recipient(&self, account: AccountId, id: Uuid) -> StoreResult<Option<RecipientRow>>;
    async fn recipients(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<RecipientRow>>;
    async fn recipient_credential(&self, client_id: &str) -> StoreResult<Option<RecipientCredentialRow>>;
    async fn recipient_token(&self, token_hash: &str) -> StoreResult<Option<RecipientTokenRow>>;
    async fn recipient_transfer_methods(&self, recipient: Uuid) -> StoreResult<Vec<TransferMethodRow>>;
    async fn wallet_payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WalletPayoutRow>>;
    async fn wallet_payouts(
        &self,
        account: AccountId,
        recipient: Option<Uuid>,
        page: PageRequest,
    ) -> StoreResult<Page<WalletPayoutRow>>;
    /// A recipient's withdrawals, newest first (each is a payout of the recipient's account).
    async fn wallet_withdrawals(&self, recipient: Uuid, page: PageRequest) -> StoreResult<Page<WalletWithdrawalRow>>;
    /// Net movement on wallet ledger accounts per business object, for the auditor.
    async fn audit_wallet_by_reference(&self) -> StoreResult<Vec<WalletByReference>>;
    /// Every wallet withdrawal with its payout's state and amounts, for the auditor.
    async fn audit_wallet_withdrawals(&self) -> StoreResult<Vec<WalletWithdrawalAudit>>;
    // --- batches ---
    async fn payout_batch(&self, account: AccountId, id: Uuid) -> StoreResult<Option<PayoutBatchRow>>;
    /// An account's batches, newest first.
    async fn payout_batches(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<PayoutBatchRow>>;
    /// Rows of a batch in row order, optionally of one item status.
    async fn payout_batch_items(
        &self,
        batch: Uuid,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<BatchItemRow>>;
    /// Rows per status (the payout's state once it exists) and currency, with their amounts.
    async fn payout_batch_totals(&self, batch: Uuid) -> StoreResult<Vec<BatchStatusTotal>>;
    async fn approval_policy(&self, account: AccountId) -> StoreResult<Option<ApprovalPolicyRow>>;
    /// Batches of any account left VALIDATED or RELEASING (a crash interrupted their release).
    async fn payout_batches_to_resume(&self, limit: u32) -> StoreResult<Vec<PayoutBatchRow>>;

    // --- compliance (issue 7) ---
    /// The active (highest version) sanctions list load with its files.
    async fn latest_screening_list(&self) -> StoreResult<Option<(ScreeningListRow, ScreeningFiles)>>;
    /// The latest loads, newest first (without their files).
    async fn screening_lists(&self, limit: u32) -> StoreResult<Vec<ScreeningListRow>>;
    /// A review of `account` (any account when `None`: the operator).
    async fn compliance_review(&self, account: Option<AccountId>, id: Uuid)
    -> StoreResult<Option<ComplianceReviewRow>>;
    async fn compliance_reviews(
        &self,
        account: Option<AccountId>,
        filter: &ReviewFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ComplianceReviewRow>>;
    /// The hits of a review, best first.
    async fn screening_hits(&self, review: Uuid) -> StoreResult<Vec<ScreeningHitRow>>;
    async fn compliance_rules(&self, account: AccountId) -> StoreResult<Option<ComplianceRulesRow>>;
    /// The status of the newest review of a subject (payout or beneficiary), if it was ever held.
    async fn latest_review_status(&self, subject: Uuid) -> StoreResult<Option<String>>;

    // --- jobs ---
    async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>>;
    /// Jobs of a kind (any kind when `None`) in a status (any when `None`), oldest first.
    async fn jobs(&self, kind: Option<&str>, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>>;
    /// Whether any job of these kinds is due at `now` (a cheap check before a claim).
    async fn jobs_due(&self, kinds: &[&str], now: OffsetDateTime) -> StoreResult<bool>;
}

/// `Store::audit_dangling_references`: one count per reference the payout path writes. The same
/// text on both backends (their ids compare alike: UUID or TEXT, BIGINT or INTEGER).
pub(crate) const SQL_AUDIT_DANGLING: &str = "\
    SELECT 'journal entries name an account that does not exist', COUNT(*) FROM journal_entries e \
      WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id) \
    UNION ALL SELECT 'journal lines name a journal entry that does not exist', COUNT(*) FROM journal_lines l \
      WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = l.entry_id) \
    UNION ALL SELECT 'journal lines name a ledger account that does not exist', COUNT(*) FROM journal_lines l \
      WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = l.ledger_account_id) \
    UNION ALL SELECT 'payouts name an account that does not exist', COUNT(*) FROM payouts p \
      WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id) \
    UNION ALL SELECT 'payouts name a beneficiary that does not exist', COUNT(*) FROM payouts p \
      WHERE NOT EXISTS (SELECT 1 FROM beneficiaries b WHERE b.id = p.beneficiary_id) \
    UNION ALL SELECT 'payout transitions name a payout that does not exist', COUNT(*) FROM payout_transitions t \
      WHERE NOT EXISTS (SELECT 1 FROM payouts p WHERE p.id = t.payout_id) \
    UNION ALL SELECT 'idempotency records name an account that does not exist', COUNT(*) FROM idempotency_keys i \
      WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = i.account_id) \
    UNION ALL SELECT 'events name an account that does not exist', COUNT(*) FROM events v \
      WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = v.account_id)";

/// What a batch's commands will read, gathered before they run (`WriteTx::prefetch`).
#[derive(Clone, Debug, Default)]
pub struct BatchReads {
    pub beneficiaries: Vec<Uuid>,
    pub approval_policies: Vec<AccountId>,
    /// (account, beneficiary): the screening list version, the account's rules and the
    /// beneficiary's latest review (`WriteTx::compliance_context`).
    pub compliance_contexts: Vec<(AccountId, Uuid)>,
}

impl BatchReads {
    pub fn is_empty(&self) -> bool {
        self.beneficiaries.is_empty() && self.approval_policies.is_empty() && self.compliance_contexts.is_empty()
    }
}

/// The writer's own connection.
#[async_trait]
pub trait WriterConn: Send {
    /// Start a write transaction (`BEGIN IMMEDIATE` on SQLite).
    ///
    /// On PostgreSQL, writes whose result nobody reads are queued and sent together (before a
    /// read that could see them, another write, or the commit), so a constraint they break may
    /// surface at a later call or at `commit` as [`StoreError::Retry`]; the next transaction on
    /// the connection then sends every write at once, where the error lands on its own call.
    async fn begin<'a>(&'a mut self) -> StoreResult<Box<dyn WriteTx + 'a>>;

    /// Make the next transaction send every write at once, as after a failed queued write.
    fn send_writes_at_once(&mut self) {}
}

/// One write transaction. Every money-moving change, its idempotency record and its outgoing
/// events are written through one of these and committed together.
#[async_trait]
pub trait WriteTx: Send {
    async fn savepoint(&mut self) -> StoreResult<()>;
    async fn release_savepoint(&mut self) -> StoreResult<()>;
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    async fn rollback(self: Box<Self>) -> StoreResult<()>;

    /// How many platform accounts exist, counted under a lock held to the end of the transaction
    /// (PostgreSQL: a transaction-scoped advisory lock; SQLite's `BEGIN IMMEDIATE` already
    /// serialises writers), so first-start bootstraps on several nodes take turns.
    async fn platform_accounts_locked(&mut self) -> StoreResult<u64>;

    /// Lock the ledger chains of these accounts, in id order, for the rest of the transaction.
    /// PostgreSQL only; SQLite's single writer needs no row locks.
    async fn lock_chains(&mut self, accounts: &[AccountId]) -> StoreResult<()>;

    /// Read now, for the whole batch, what its commands are about to read one by one
    /// (beneficiaries, approval policies, compliance contexts); later reads of them are served
    /// from the transaction's cache. Only a hint: reads give the same answers without it.
    /// PostgreSQL only, where each read is a round trip; SQLite's reads are function calls.
    async fn prefetch(&mut self, _reads: &BatchReads) -> StoreResult<()> {
        Ok(())
    }

    async fn idempotency_get(&mut self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// Fails with [`StoreError::Conflict`] when the key exists.
    async fn idempotency_put(&mut self, record: &IdempotencyRecord) -> StoreResult<()>;

    /// Post a balanced entry: conditional balance updates, lines, and the next link of the chain.
    async fn post_entry(&mut self, draft: &EntryDraft, entry_id: Uuid, at: OffsetDateTime) -> Result<(), PostError>;
    async fn ledger_balance(&mut self, key: &LedgerKey) -> StoreResult<i64>;

    async fn insert_account(&mut self, row: &AccountRow) -> StoreResult<()>;
    async fn set_bank_account(&mut self, account: AccountId, bank: Option<&BankAccount>) -> StoreResult<bool>;
    async fn account(&mut self, id: AccountId) -> StoreResult<Option<AccountRow>>;
    async fn insert_credential(&mut self, row: &CredentialRow) -> StoreResult<()>;
    async fn insert_token(&mut self, row: &TokenRow) -> StoreResult<()>;
    /// Revoke a credential of `account` and drop its tokens. False when there is none to revoke.
    async fn revoke_credential(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool>;

    async fn insert_deposit(&mut self, row: &DepositRow) -> StoreResult<()>;
    async fn deposit(&mut self, id: Uuid) -> StoreResult<Option<DepositRow>>;
    async fn set_deposit_status(
        &mut self,
        id: Uuid,
        status: &str,
        completed_at: Option<OffsetDateTime>,
    ) -> StoreResult<()>;

    async fn insert_withdrawal(&mut self, row: &WithdrawalRow) -> StoreResult<()>;
    async fn withdrawal(&mut self, id: Uuid) -> StoreResult<Option<WithdrawalRow>>;
    async fn set_withdrawal_status(
        &mut self,
        id: Uuid,
        status: &str,
        at: OffsetDateTime,
        failure_reason: Option<&str>,
    ) -> StoreResult<()>;

    async fn insert_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()>;
    /// Replace every mutable field of an existing beneficiary.
    async fn update_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()>;
    async fn beneficiary(&mut self, id: Uuid) -> StoreResult<Option<BeneficiaryRow>>;
    async fn insert_file(&mut self, row: &FileRow, content: &[u8]) -> StoreResult<()>;
    async fn file(&mut self, id: Uuid) -> StoreResult<Option<FileRow>>;
    async fn insert_payout(&mut self, row: &PayoutRow) -> StoreResult<()>;
    async fn insert_transfer(&mut self, row: &TransferRow) -> StoreResult<()>;
    async fn payout(&mut self, id: Uuid) -> StoreResult<Option<PayoutRow>>;
    /// Move a payout to `to_state` and append the transition to its history.
    async fn set_payout_state(&mut self, change: &PayoutStateChange) -> StoreResult<()>;

    /// Insert or replace the rate of `row.currency_pair`.
    async fn upsert_fx_rate(&mut self, row: &FxRateRow) -> StoreResult<()>;
    async fn fx_rate(&mut self, currency_pair: &str) -> StoreResult<Option<FxRateRow>>;
    async fn insert_quote(&mut self, row: &QuoteRow) -> StoreResult<()>;
    async fn quote(&mut self, id: Uuid) -> StoreResult<Option<QuoteRow>>;
    /// Mark a quote used, only if it is not used yet: true when this call used it.
    async fn mark_quote_used(&mut self, id: Uuid, used_by: Uuid, at: OffsetDateTime) -> StoreResult<bool>;
    async fn insert_conversion(&mut self, row: &ConversionRow) -> StoreResult<()>;

    /// Append to the outbox; `object_seq` is the next sequence number of `event.source_id`. In the
    /// same transaction, a pending delivery is created for every active webhook endpoint of the
    /// event's account and of its parent account whose filter takes the event's type.
    async fn insert_event(&mut self, event: &NewEvent) -> StoreResult<()>;
    async fn event(&mut self, id: Uuid) -> StoreResult<Option<EventRow>>;

    async fn insert_webhook_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()>;
    /// Any endpoint, deleted or not.
    async fn webhook_endpoint(&mut self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>>;
    /// Replace the secret, event types, status and update time.
    async fn update_webhook_endpoint(&mut self, row: &WebhookEndpointRow) -> StoreResult<()>;
    async fn count_active_webhook_endpoints(&mut self, account: AccountId) -> StoreResult<u64>;
    /// Fail every pending delivery to an endpoint (it was deleted). Returns how many.
    async fn fail_pending_webhook_deliveries(
        &mut self,
        endpoint: Uuid,
        at: OffsetDateTime,
        reason: &str,
    ) -> StoreResult<u64>;
    /// Lease up to `limit` due deliveries until `lease_until`, counting the attempt. On
    /// PostgreSQL rows leased by another node's open transaction are skipped.
    async fn claim_webhook_deliveries(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Record an attempt's outcome unless the delivery was claimed again since (then false).
    async fn record_webhook_attempt(&mut self, record: &WebhookAttemptRecord) -> StoreResult<bool>;
    /// [`WriteTx::record_webhook_attempt`] for many records (distinct deliveries), in order.
    async fn record_webhook_attempts(&mut self, records: &[WebhookAttemptRecord]) -> StoreResult<Vec<bool>> {
        let mut recorded = Vec::with_capacity(records.len());
        for record in records {
            recorded.push(self.record_webhook_attempt(record).await?);
        }
        Ok(recorded)
    }
    /// How many events a replay would deliver again.
    async fn count_replay_events(&mut self, filter: &WebhookReplayFilter) -> StoreResult<u64>;
    /// Create the next generation of deliveries for the events and endpoints `filter` selects.
    /// Returns how many deliveries were created.
    async fn replay_webhook_events(&mut self, filter: &WebhookReplayFilter, at: OffsetDateTime) -> StoreResult<u64>;

    // --- sftp ---
    async fn insert_sftp_key(&mut self, row: &SftpKeyRow) -> StoreResult<()>;
    async fn sftp_key_by_fingerprint(&mut self, fingerprint: &str) -> StoreResult<Option<SftpKeyRow>>;
    /// Revoke an active key of `account`: false when there is none.
    async fn revoke_sftp_key(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool>;
    async fn insert_sftp_file(&mut self, row: &SftpFileRow) -> StoreResult<()>;
    async fn sftp_file(&mut self, id: Uuid) -> StoreResult<Option<SftpFileRow>>;
    /// The first file of `account` of this kind and content that was not refused.
    async fn sftp_file_by_content(
        &mut self,
        account: AccountId,
        kind: &str,
        sha256: &str,
    ) -> StoreResult<Option<SftpFileRow>>;
    /// Set the status; `batch_id` and `detail` are kept when `None`.
    async fn update_sftp_file(
        &mut self,
        id: Uuid,
        status: &str,
        batch_id: Option<Uuid>,
        detail: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    // --- audit trail ---
    /// Lock the audit chain heads of these accounts, in id order (after `lock_chains`).
    async fn lock_audit_chains(&mut self, accounts: &[AccountId]) -> StoreResult<()>;
    /// Append a record to its account's chain: its seq and hash are given here.
    async fn append_audit(&mut self, draft: &AuditDraft) -> StoreResult<AuditRow>;
    /// Re-encrypt every stored account or identity number with the active key; how many
    /// values changed.
    async fn reseal_secrets(&mut self) -> StoreResult<u64>;

    // --- reports ---
    /// Insert a pending report. False when it is a scheduled report that already exists.
    async fn insert_report(&mut self, row: &ReportRow) -> StoreResult<bool>;
    /// Lease up to `limit` pending reports until `lease_until`, counting the attempt.
    async fn claim_reports(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ReportRow>>;
    /// Settle a pending report (ready with its content, or failed). False if it was not pending.
    async fn finish_report(&mut self, finish: &ReportFinish) -> StoreResult<bool>;
    // --- wallets (stored-value model) ---
    async fn payout_model(&mut self, account: AccountId) -> StoreResult<Option<String>>;
    async fn set_payout_model(&mut self, account: AccountId, model: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Any recipient, whoever owns it.
    async fn recipient(&mut self, id: Uuid) -> StoreResult<Option<RecipientRow>>;
    async fn recipient_by_reference(
        &mut self,
        account: AccountId,
        external_reference: &str,
    ) -> StoreResult<Option<RecipientRow>>;
    async fn insert_recipient(&mut self, row: &RecipientRow) -> StoreResult<()>;
    async fn insert_recipient_credential(&mut self, row: &RecipientCredentialRow) -> StoreResult<()>;
    async fn insert_recipient_token(&mut self, row: &RecipientTokenRow) -> StoreResult<()>;
    async fn transfer_method(&mut self, id: Uuid) -> StoreResult<Option<TransferMethodRow>>;
    async fn insert_transfer_method(&mut self, row: &TransferMethodRow) -> StoreResult<()>;
    async fn insert_wallet_payout(&mut self, row: &WalletPayoutRow) -> StoreResult<()>;
    /// The wallet a payout withdraws from, if it is a wallet withdrawal.
    async fn wallet_withdrawal(&mut self, payout: Uuid) -> StoreResult<Option<WalletWithdrawalRow>>;
    async fn insert_wallet_withdrawal(&mut self, row: &WalletWithdrawalRow) -> StoreResult<()>;
    // --- batches ---
    async fn insert_payout_batch(&mut self, row: &PayoutBatchRow) -> StoreResult<()>;
    async fn payout_batch(&mut self, id: Uuid) -> StoreResult<Option<PayoutBatchRow>>;
    /// Replace every mutable field (status, counts, failure, approval, times, dedup hash).
    async fn update_payout_batch(&mut self, row: &PayoutBatchRow) -> StoreResult<()>;
    /// The batch of `account` whose file had this hash and still counts as sent.
    async fn payout_batch_by_hash(&mut self, account: AccountId, sha256: &str) -> StoreResult<Option<Uuid>>;
    async fn insert_batch_items(&mut self, items: &[BatchItemRow]) -> StoreResult<()>;
    /// Up to `limit` rows of `status` after row `after`, in row order.
    async fn batch_items_with_status(
        &mut self,
        batch: Uuid,
        status: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<BatchItemRow>>;
    /// Replace status, payout id, error and payload of one row.
    async fn update_batch_item(&mut self, item: &BatchItemRow) -> StoreResult<()>;
    /// Set the status of every row of a batch in `from` to `to` (returns how many).
    async fn set_batch_items_status(&mut self, batch: Uuid, from: &str, to: &str) -> StoreResult<u64>;
    /// Rows whose payouts were created: CREATED with their payout id (payload dropped), and each
    /// payout marked with the batch. One call per chunk.
    async fn mark_batch_items_created(&mut self, batch: Uuid, created: &[(i64, Uuid)]) -> StoreResult<()>;
    async fn payout_batch_id(&mut self, payout: Uuid) -> StoreResult<Option<Uuid>>;
    /// Hold a run of `batch`'s payouts, in order: for each, exactly what `post_entry` (its hold
    /// entry, on its chain), `insert_payout` (with its `created` history row) and `insert_event`
    /// would write one after the other, then what `mark_batch_items_created` writes for the
    /// run's rows. The caller has checked every balance row by row; a client balance that would
    /// still go negative fails the whole call with `PostError::Insufficient`, and the caller must
    /// then roll back (part of the run may be written). Backends override it to post the run in
    /// bulk (chain hashes computed in Rust, one balance update per ledger account, multi-row
    /// inserts).
    async fn hold_batch_payouts(
        &mut self,
        batch: Uuid,
        holds: &[BatchPayoutHold],
        at: OffsetDateTime,
    ) -> Result<(), PostError> {
        for h in holds {
            if let Some(entry) = &h.entry {
                self.post_entry(entry, h.entry_id, at).await?;
            }
            self.insert_payout(&h.payout).await?;
            if let Some(event) = &h.event {
                self.insert_event(event).await?;
            }
        }
        let created: Vec<(i64, Uuid)> = holds.iter().map(|h| (h.row_number, h.payout.id)).collect();
        self.mark_batch_items_created(batch, &created).await?;
        Ok(())
    }
    async fn approval_policy(&mut self, account: AccountId) -> StoreResult<Option<ApprovalPolicyRow>>;
    async fn upsert_approval_policy(&mut self, row: &ApprovalPolicyRow) -> StoreResult<()>;

    // --- compliance (issue 7) ---
    async fn insert_screening_list(&mut self, list: &ScreeningListRow, files: &ScreeningFiles) -> StoreResult<()>;
    /// The active list's version, if any list was ever loaded.
    async fn screening_list_version(&mut self) -> StoreResult<Option<i64>>;
    async fn screening_list_files(&mut self, version: i64) -> StoreResult<Option<ScreeningFiles>>;
    async fn insert_compliance_review(&mut self, row: &ComplianceReviewRow) -> StoreResult<()>;
    async fn compliance_review(&mut self, id: Uuid) -> StoreResult<Option<ComplianceReviewRow>>;
    /// Decide an open review; false when it is not open (decided already, or by another node).
    async fn decide_compliance_review(&mut self, decision: &ReviewDecisionRow) -> StoreResult<bool>;
    /// The status of the newest review of a subject (payout or beneficiary).
    async fn latest_review_status(&mut self, subject: Uuid) -> StoreResult<Option<String>>;
    async fn insert_screening_hit(&mut self, row: &ScreeningHitRow) -> StoreResult<()>;
    /// (source, entry id) of every hit on this beneficiary (or its payouts) a reviewer cleared.
    async fn cleared_screening_entries(&mut self, beneficiary: Uuid) -> StoreResult<Vec<(String, String)>>;
    async fn compliance_rules(&mut self, account: AccountId) -> StoreResult<Option<ComplianceRulesRow>>;
    async fn upsert_compliance_rules(&mut self, row: &ComplianceRulesRow) -> StoreResult<()>;
    /// The active list version, `account`'s rules and the status of `beneficiary`'s newest review.
    async fn compliance_context(&mut self, account: AccountId, beneficiary: Uuid) -> StoreResult<ComplianceContext>;
    /// Payouts of `account` created at or after `since` that still count (not rejected,
    /// cancelled or failed), optionally only in one currency or to one beneficiary.
    async fn payout_totals(
        &mut self,
        account: AccountId,
        currency: Option<&str>,
        beneficiary: Option<Uuid>,
        since: OffsetDateTime,
    ) -> StoreResult<PayoutTotals>;

    // --- jobs ---
    /// Add a job; false (and nothing added) when its (kind, dedupe_key) exists already.
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool>;
    /// Lease up to `limit` due jobs of these kinds until `lease_until`, counting the attempt and
    /// giving each a new claim token. Due: queued with `run_at <= now`, or running with a lapsed
    /// lease (its worker died). On PostgreSQL rows another node is claiming are skipped.
    async fn claim_jobs(
        &mut self,
        kinds: &[&str],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<JobRow>>;
    /// End a claimed job, only if `claim_token` still holds it (else false: it was claimed again).
    async fn finish_job(&mut self, id: Uuid, claim_token: Uuid, end: &JobEnd, at: OffsetDateTime) -> StoreResult<bool>;
    // --- payout approval (maker-checker) ---
    /// Record the credential that approved (or declined) a payout that waited for approval.
    async fn set_payout_approval(&mut self, approval: &PayoutApprovalRecord) -> StoreResult<()>;
    /// Replace the reason of a payout's first history row (`created`), e.g. why it waits.
    async fn set_payout_created_reason(&mut self, id: Uuid, reason: &str) -> StoreResult<()>;
}

/// The net change per ledger account of a run of bulk holds' entries, in first-seen order (each
/// entry validated); what both backends' `hold_batch_payouts` apply as one update per account.
pub(crate) fn batch_run_net_changes(holds: &[BatchPayoutHold]) -> Result<Vec<(LedgerKey, i64)>, PostError> {
    let overflow = || PostError::Store(StoreError::Database("a batch run's net balance change overflows".into()));
    let mut net: Vec<(LedgerKey, i64)> = Vec::new();
    for entry in holds.iter().filter_map(|h| h.entry.as_ref()) {
        entry.validate()?;
        for (key, delta) in entry.net_changes() {
            match net.iter_mut().find(|(k, _)| *k == key) {
                Some((_, sum)) => *sum = sum.checked_add(delta).ok_or_else(overflow)?,
                None => net.push((key, delta)),
            }
        }
    }
    Ok(net)
}

/// One payout of a batch held in bulk by [`WriteTx::hold_batch_payouts`]: its row of the batch,
/// its hold entry (posted with `entry_id`; none when the payout draws on the funds its batch
/// holds as a whole), the payout row, and its event (`payout.ready.send`; none while it waits).
#[derive(Clone, Debug)]
pub struct BatchPayoutHold {
    pub row_number: i64,
    pub entry: Option<EntryDraft>,
    pub entry_id: Uuid,
    pub payout: PayoutRow,
    pub event: Option<NewEvent>,
}
