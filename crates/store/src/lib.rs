//! Storage: one [`Store`] trait for reads, one [`WriterConn`]/[`WriteTx`] pair for the single
//! writer, and two implementations chosen from the database URL: SQLite (the embedded default)
//! and PostgreSQL (for many nodes). Each backend owns its migrations and its SQL; no SQL lives
//! outside this crate.

mod error;
mod migrate;
mod model;
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
    match Backend::from_url(url)? {
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::open(url).await?)),
        Backend::Postgres => Ok(Arc::new(postgres::PgStore::open(url).await?)),
    }
}

/// Reads, plus opening the writer's connection. Implementations are cheap to share.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// A dedicated connection for the single writer of this process.
    async fn writer_conn(&self) -> StoreResult<Box<dyn WriterConn>>;

    async fn has_platform_account(&self) -> StoreResult<bool>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRow>>;
    async fn connected_accounts(&self, parent: AccountId, page: PageRequest) -> StoreResult<Page<AccountRow>>;
    async fn credential_by_client_id(&self, client_id: &str) -> StoreResult<Option<CredentialRow>>;
    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>>;
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
    /// Payouts still on their way (scheduled, ready or sent) last changed at or before `before`.
    async fn open_payouts(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<PayoutRow>>;
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
    /// Net movement on client `pending` accounts per business object.
    async fn audit_pending_by_reference(&self) -> StoreResult<Vec<PendingByReference>>;
    /// Every deposit and withdrawal with its status and amounts.
    async fn audit_holdable_objects(&self) -> StoreResult<Vec<HoldableObject>>;
}

/// The writer's own connection.
#[async_trait]
pub trait WriterConn: Send {
    /// Start a write transaction (`BEGIN IMMEDIATE` on SQLite).
    async fn begin<'a>(&'a mut self) -> StoreResult<Box<dyn WriteTx + 'a>>;
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

    /// Lock the ledger chains of these accounts, in id order, for the rest of the transaction.
    /// PostgreSQL only; SQLite's single writer needs no row locks.
    async fn lock_chains(&mut self, accounts: &[AccountId]) -> StoreResult<()>;

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
    async fn insert_event(&mut self, event: &NewEvent) -> StoreResult<i64>;
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
    /// How many events a replay would deliver again.
    async fn count_replay_events(&mut self, filter: &WebhookReplayFilter) -> StoreResult<u64>;
    /// Create the next generation of deliveries for the events and endpoints `filter` selects.
    /// Returns how many deliveries were created.
    async fn replay_webhook_events(&mut self, filter: &WebhookReplayFilter, at: OffsetDateTime) -> StoreResult<u64>;
}
