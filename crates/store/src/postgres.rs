//! PostgreSQL: for many Outlay nodes on one database.
//!
//! Reads go through a small deadpool pool. Each node's single writer owns one dedicated
//! connection and drives transactions with plain `BEGIN`/`COMMIT` (READ COMMITTED). Nodes never
//! overdraw or fork a chain because every money-moving transaction first locks the ledger chains
//! of the clients it touches ([`WriteTx::lock_chains`]), in id order, so they never deadlock
//! either; the conditional balance update is re-checked by PostgreSQL on the newest row version
//! in any case.
//!
//! Times are stored as `TIMESTAMPTZ` but truncated to whole milliseconds before they are bound,
//! so every value reads back exactly as it does from SQLite (which stores Unix milliseconds).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use outlay_core::ledger::{self, EntryDraft, Kind, LedgerKey, Owner, StoredEntry, StoredLine};
use outlay_core::{AccountId, Currency};
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, NoTls, Row, Statement};
use uuid::Uuid;

use crate::migrate::{Migration, POSTGRES};
use crate::sqlite::bank_from_json;
use crate::{
    AccountRow, Backend, BalanceRow, BankAccount, CredentialRow, CredentialView, DepositFilter, DepositRow,
    HoldableObject, IdempotencyRecord, JobEnd, JobRow, NewEvent, NewJob, Page, PageRequest, PendingByReference,
    PostError, Store, StoreError, StoreResult, TokenGrant, TokenRow, TransactionFilter, TransactionRow,
    WithdrawalFilter, WithdrawalRow, WriteTx, WriterConn, redact_url,
};
use crate::{BeneficiaryFilter, BeneficiaryRow, FileRow, PayoutFilter, PayoutRow, PayoutStateChange, PayoutTransition};
use pipeline::{Held, Mark, Pending, Rows, Undo, Val};

/// Read connections per process.
const POOL_SIZE: usize = 8;
/// Key of the transaction-scoped advisory lock that serialises migrations across nodes
/// ("outlay" in ASCII, then the migrator's number).
mod audit;
mod batches;
mod compliance;
mod credentials;
mod fx;
mod jobs;
mod payouts;
mod pipeline;
mod reports;
mod secrets;
mod sftp;
mod transfers;
mod wallets;
mod webhooks;

const MIGRATION_LOCK_KEY: i64 = 0x6f75_746c_6179_0001;

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// The whole error text: tokio-postgres's `Display` alone says only "db error".
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            let _ = write!(text, "; {detail}");
        }
        return text;
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                let name = db.constraint().unwrap_or("unknown");
                // The engine retries a command whose random short reference collided, whichever
                // table it was for (SQLite cannot tell them apart either).
                let constraint = if name.contains("short_reference") { "short_reference_key" } else { name };
                return StoreError::Conflict { constraint: constraint.to_owned() };
            }
            if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
                return StoreError::Retry(describe(&e));
            }
        }
        StoreError::Database(describe(&e))
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            other => StoreError::Database(format!("PostgreSQL pool: {other}")),
        }
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000).map_err(StoreError::corrupt)
}

/// `t` as SQLite would store and return it: UTC, truncated to the millisecond.
fn db_time(t: OffsetDateTime) -> OffsetDateTime {
    from_ms(ms(t)).unwrap_or(t)
}

fn page_params(page: PageRequest) -> (i64, i64) {
    (i64::from(page.size), page.offset())
}

/// A column, with a type mismatch reported as a corrupt row instead of a panic.
fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(|e| {
        let name = row.columns().get(idx).map_or("?", |c| c.name());
        StoreError::corrupt(format!("column {name}: {}", describe(&e)))
    })
}

fn ledger_key(owner: &str, currency: &str, kind: &str) -> StoreResult<LedgerKey> {
    Ok(LedgerKey {
        owner: Owner::parse(owner).ok_or_else(|| StoreError::corrupt(format!("owner {owner}")))?,
        currency: Currency::parse(currency).map_err(|e| StoreError::corrupt(format!("currency {currency}: {e}")))?,
        kind: Kind::parse(kind).ok_or_else(|| StoreError::corrupt(format!("kind {kind}")))?,
    })
}

fn count_of(row: &Row) -> StoreResult<u64> {
    let n: i64 = col(row, 0)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Migrations

async fn migrate(client: &mut deadpool_postgres::Client, migrations: &[Migration]) -> StoreResult<()> {
    for m in migrations {
        let tx = client.transaction().await?;
        // Several nodes may start at once: one migrates, the others wait here and then find the
        // migration applied.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
        )
        .await?;
        let applied: Option<String> =
            match tx.query_opt("SELECT checksum FROM schema_migrations WHERE version = $1", &[&m.version]).await? {
                Some(row) => Some(col(&row, 0)?),
                None => None,
            };
        match applied {
            Some(sum) if sum == m.checksum() => {}
            Some(_) => {
                return Err(StoreError::Config(format!(
                    "migration {} ({}) was changed after it was applied",
                    m.version, m.name
                )));
            }
            None => {
                tracing::info!(version = m.version, name = m.name, "applying PostgreSQL migration");
                tx.batch_execute(m.sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, now())",
                    &[&m.version, &m.name, &m.checksum()],
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SQL and row mapping shared by the read pool and the writer

macro_rules! account_cols {
    () => {
        "id, name, parent_id, kind, status, bank_account::text, created_at"
    };
}

macro_rules! deposit_cols {
    () => {
        "id, account_id, short_reference_id, currency, amount, fee, status, receiver_account_number, deposit_reference, sender_name, sender_country, sender_account_number, sender_swift_code, source, created_at, completed_at"
    };
}

macro_rules! withdrawal_cols {
    () => {
        "id, account_id, short_reference_id, currency, amount, fee, status, reference, bank_account_holder, bank_account_last4, bank_country_code, failure_reason, created_at, updated_at, completed_at"
    };
}

macro_rules! deposit_filter {
    () => {
        "account_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR currency = $3) AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at <= $5)"
    };
}

macro_rules! withdrawal_filter {
    () => {
        "account_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR currency = $3)"
    };
}

macro_rules! transactions_from {
    () => {
        "FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id JOIN ledger_accounts a ON a.id = l.ledger_account_id \
         WHERE e.account_id = $1 AND a.owner_id = $2 AND ($3::text IS NULL OR a.currency = $3) AND ($4::text IS NULL OR e.reference_type = $4) \
         AND ($5::text IS NULL OR a.kind = $5) AND ($6::bigint IS NULL OR e.created_at_ms >= $6) AND ($7::bigint IS NULL OR e.created_at_ms <= $7)"
    };
}

const SQL_HAS_PLATFORM: &str = "SELECT EXISTS (SELECT 1 FROM accounts WHERE kind = 'platform')";
const SQL_ACCOUNT: &str = concat!("SELECT ", account_cols!(), " FROM accounts WHERE id = $1");
const SQL_CONNECTED_COUNT: &str = "SELECT COUNT(*) FROM accounts WHERE parent_id = $1";
const SQL_CONNECTED: &str = concat!(
    "SELECT ",
    account_cols!(),
    " FROM accounts WHERE parent_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
);
const SQL_CREDENTIAL: &str = "SELECT id, account_id, client_id, secret_hash, role, created_at FROM credentials WHERE client_id = $1 AND revoked_at IS NULL";
const SQL_IDEMPOTENCY: &str = "SELECT i.account_id, i.key, i.request_hash, i.status_code, COALESCE(i.response_body, a.after_json), i.created_at, i.audit_id \
     FROM idempotency_keys i LEFT JOIN audit_log a ON a.id = i.audit_id WHERE i.account_id = $1 AND i.key = $2";
const SQL_DEPOSIT: &str =
    concat!("SELECT ", deposit_cols!(), " FROM deposits WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
const SQL_DEPOSITS_COUNT: &str = concat!("SELECT COUNT(*) FROM deposits WHERE ", deposit_filter!());
const SQL_DEPOSITS: &str = concat!(
    "SELECT ",
    deposit_cols!(),
    " FROM deposits WHERE ",
    deposit_filter!(),
    " ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
);
const SQL_PENDING_DEPOSITS: &str = concat!(
    "SELECT ",
    deposit_cols!(),
    " FROM deposits WHERE status = 'PENDING' AND created_at <= $1 ORDER BY created_at LIMIT $2"
);
const SQL_WITHDRAWAL: &str =
    concat!("SELECT ", withdrawal_cols!(), " FROM withdrawals WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
const SQL_WITHDRAWALS_COUNT: &str = concat!("SELECT COUNT(*) FROM withdrawals WHERE ", withdrawal_filter!());
const SQL_WITHDRAWALS: &str = concat!(
    "SELECT ",
    withdrawal_cols!(),
    " FROM withdrawals WHERE ",
    withdrawal_filter!(),
    " ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
);
const SQL_PENDING_WITHDRAWALS: &str = concat!(
    "SELECT ",
    withdrawal_cols!(),
    " FROM withdrawals WHERE status = 'PENDING' AND created_at <= $1 ORDER BY created_at LIMIT $2"
);
// COLLATE "C": byte order, as SQLite's default BINARY collation sorts.
const SQL_BALANCES: &str = "SELECT currency, kind, balance, created_at, updated_at FROM ledger_accounts WHERE owner_id = $1 \
     ORDER BY currency COLLATE \"C\", kind COLLATE \"C\"";
const SQL_TRANSACTIONS_COUNT: &str = concat!("SELECT COUNT(*) ", transactions_from!());
const SQL_TRANSACTIONS: &str = concat!(
    "SELECT e.id, l.line_no, a.currency, a.kind, l.amount, e.kind, e.reference_type, e.reference_id, e.created_at_ms ",
    transactions_from!(),
    " ORDER BY e.created_at_ms DESC, e.seq DESC, l.line_no LIMIT $8 OFFSET $9"
);
const SQL_AUDIT_ENTRIES: &str = "WITH page AS (SELECT id, account_id, seq, kind, reference_type, reference_id, created_at_ms, prev_hash, hash \
       FROM journal_entries WHERE (account_id, seq) > ($1::uuid, $2::bigint) ORDER BY account_id, seq LIMIT $3) \
     SELECT page.id, page.account_id, page.seq, page.kind, page.reference_type, page.reference_id, page.created_at_ms, page.prev_hash, page.hash, \
       a.owner_id, a.currency, a.kind, l.amount FROM page \
     LEFT JOIN journal_lines l ON l.entry_id = page.id LEFT JOIN ledger_accounts a ON a.id = l.ledger_account_id \
     ORDER BY page.account_id, page.seq, l.line_no";
const SQL_AUDIT_BALANCES: &str =
    "SELECT owner_id, currency, kind, balance FROM ledger_accounts WHERE owner_id <> 'platform'";
const SQL_AUDIT_CHAIN_HEADS: &str = "SELECT account_id, seq, head_hash FROM ledger_chains";
/// One page of a holdable table with what the ledger holds for each row (see the SQLite twin).
/// The ledger account is looked up per line, not joined: joined, the planner (with statistics
/// from when the ledger was small) read every line of the pending accounts for each object.
macro_rules! sql_audit_holdable {
    ($table:literal, $reference_type:literal, $status:literal, $fee:literal, $batch:literal) => {
        concat!(
            "SELECT o.account_id, o.id::text, o.",
            $status,
            ", o.currency, o.amount, o.",
            $fee,
            ", ",
            $batch,
            ", \
             (SELECT COALESCE(SUM(l.amount), 0)::bigint FROM journal_entries e \
              JOIN journal_lines l ON l.entry_id = e.id WHERE e.reference_type = '",
            $reference_type,
            "' AND e.reference_id = o.id::text \
              AND (SELECT a.kind = 'pending' AND a.owner_id <> 'platform' FROM ledger_accounts a \
                   WHERE a.id = l.ledger_account_id)) \
             FROM ",
            $table,
            " o WHERE ($1::uuid IS NULL OR o.id > $1) ORDER BY o.id LIMIT $2"
        )
    };
}
const SQL_AUDIT_DEPOSITS: &str = sql_audit_holdable!("deposits", "deposit", "status", "fee", "NULL::text");
const SQL_AUDIT_WITHDRAWALS: &str = sql_audit_holdable!("withdrawals", "withdrawal", "status", "fee", "NULL::text");
const SQL_AUDIT_PAYOUTS: &str = sql_audit_holdable!("payouts", "payout", "state", "fee_amount", "o.batch_id::text");
const SQL_AUDIT_PENDING_ELSEWHERE: &str = "SELECT e.reference_type, e.reference_id, SUM(l.amount)::bigint \
     FROM journal_lines l JOIN ledger_accounts a ON a.id = l.ledger_account_id JOIN journal_entries e ON e.id = l.entry_id \
     WHERE a.kind = 'pending' AND a.owner_id <> 'platform' \
     AND NOT EXISTS (SELECT 1 FROM deposits o WHERE e.reference_type = 'deposit' AND o.id::text = e.reference_id) \
     AND NOT EXISTS (SELECT 1 FROM withdrawals o WHERE e.reference_type = 'withdrawal' AND o.id::text = e.reference_id) \
     AND NOT EXISTS (SELECT 1 FROM payouts o WHERE e.reference_type = 'payout' AND o.id::text = e.reference_id) \
     GROUP BY 1, 2";

// Writer statements.
const SQL_LOCK_CHAINS_CREATE: &str = "INSERT INTO ledger_chains (account_id, seq, head_hash) \
     SELECT id, 0, $2::text FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id ON CONFLICT (account_id) DO NOTHING";
const SQL_LOCK_CHAINS: &str = "SELECT account_id, seq, head_hash FROM ledger_chains WHERE account_id = ANY($1::uuid[]) ORDER BY account_id FOR UPDATE";
const SQL_BOOTSTRAP_LOCK: &str = "SELECT pg_advisory_xact_lock(7270311000001)";
const SQL_PLATFORMS: &str = "SELECT COUNT(*) FROM accounts WHERE kind = 'platform'";
/// Not flushed first: every queued change to these rows is in `PgTx::balances`, and rows held
/// there are skipped.
const SQL_CLIENT_BALANCES_LOCK: &str = "SELECT id, balance FROM ledger_accounts \
     WHERE owner_id = ANY($1::text[]) AND kind IN ('available', 'pending') ORDER BY id FOR UPDATE";
const SQL_BALANCES_LOCK: &str =
    "SELECT id, balance FROM ledger_accounts WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE";
const SQL_LEDGER_ID: &str = "SELECT id FROM ledger_accounts WHERE owner_id = $1 AND currency = $2 AND kind = $3";
const SQL_LEDGER_CREATE: &str = "INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4) \
     ON CONFLICT (owner_id, currency, kind) DO NOTHING RETURNING id";
const SQL_LEDGER_BALANCE: &str =
    "SELECT balance FROM ledger_accounts WHERE owner_id = $1 AND currency = $2 AND kind = $3";
const SQL_BALANCE_UPDATE: &str =
    "UPDATE ledger_accounts SET balance = balance + $1, updated_at = $2 WHERE id = $3 AND balance + $1 >= 0";
const SQL_CHAIN_HEAD: &str = "SELECT seq, head_hash FROM ledger_chains WHERE account_id = $1 FOR UPDATE";
const SQL_CHAIN_CREATE: &str =
    "INSERT INTO ledger_chains (account_id, seq, head_hash) VALUES ($1, 0, $2) ON CONFLICT (account_id) DO NOTHING";
const SQL_CHAIN_ADVANCE: &str = "UPDATE ledger_chains SET seq = $2, head_hash = $3 WHERE account_id = $1";
const SQL_ACCOUNT_INSERT: &str = "INSERT INTO accounts (id, name, parent_id, kind, status, bank_account, created_at) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7)";
const SQL_SET_BANK: &str = "UPDATE accounts SET bank_account = $2::text::jsonb WHERE id = $1";
const SQL_CREDENTIAL_INSERT: &str = "INSERT INTO credentials (id, account_id, client_id, secret_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
const SQL_TOKENS_PRUNE: &str = "DELETE FROM auth_tokens WHERE expires_at < $1";
const SQL_TOKEN_INSERT: &str = "INSERT INTO auth_tokens (token_hash, credential_id, account_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)";
const SQL_DEPOSIT_INSERT: &str = concat!(
    "INSERT INTO deposits (",
    deposit_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
const SQL_DEPOSIT_STATUS: &str = "UPDATE deposits SET status = $2, completed_at = $3 WHERE id = $1";
const SQL_WITHDRAWAL_INSERT: &str = concat!(
    "INSERT INTO withdrawals (",
    withdrawal_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
const SQL_WITHDRAWAL_STATUS: &str =
    "UPDATE withdrawals SET status = $2, updated_at = $3, completed_at = $4, failure_reason = $5 WHERE id = $1";
fn account_from_row(r: &Row) -> StoreResult<AccountRow> {
    let bank: Option<String> = col(r, 5)?;
    Ok(AccountRow {
        id: AccountId(col(r, 0)?),
        name: col(r, 1)?,
        parent_id: col::<Option<Uuid>>(r, 2)?.map(AccountId),
        kind: col(r, 3)?,
        status: col(r, 4)?,
        bank_account: bank.as_deref().map(bank_from_json).transpose()?,
        created_at: col(r, 6)?,
    })
}

fn credential_from_row(r: &Row) -> StoreResult<CredentialRow> {
    Ok(CredentialRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        client_id: col(r, 2)?,
        secret_hash: col(r, 3)?,
        role: col(r, 4)?,
        created_at: col(r, 5)?,
    })
}

fn idempotency_from_row(r: &Row) -> StoreResult<IdempotencyRecord> {
    let status: i32 = col(r, 3)?;
    Ok(IdempotencyRecord {
        account_id: AccountId(col(r, 0)?),
        key: col(r, 1)?,
        request_hash: col(r, 2)?,
        status_code: u16::try_from(status).map_err(StoreError::corrupt)?,
        response_body: col::<Option<String>>(r, 4)?
            .ok_or_else(|| StoreError::corrupt("idempotency record without a body or its audit record"))?,
        body_in_audit: col(r, 6)?,
        created_at: col(r, 5)?,
    })
}

fn deposit_from_row(r: &Row) -> StoreResult<DepositRow> {
    Ok(DepositRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        currency: col(r, 3)?,
        amount: col(r, 4)?,
        fee: col(r, 5)?,
        status: col(r, 6)?,
        receiver_account_number: col(r, 7)?,
        deposit_reference: col(r, 8)?,
        sender_name: col(r, 9)?,
        sender_country: col(r, 10)?,
        sender_account_number: col(r, 11)?,
        sender_swift_code: col(r, 12)?,
        source: col(r, 13)?,
        created_at: col(r, 14)?,
        completed_at: col(r, 15)?,
    })
}

fn withdrawal_from_row(r: &Row) -> StoreResult<WithdrawalRow> {
    Ok(WithdrawalRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        currency: col(r, 3)?,
        amount: col(r, 4)?,
        fee: col(r, 5)?,
        status: col(r, 6)?,
        reference: col(r, 7)?,
        bank_account_holder: col(r, 8)?,
        bank_account_last4: col(r, 9)?,
        bank_country_code: col(r, 10)?,
        failure_reason: col(r, 11)?,
        created_at: col(r, 12)?,
        updated_at: col(r, 13)?,
        completed_at: col(r, 14)?,
    })
}

fn collect<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

// ---------------------------------------------------------------------------------------------
// The store (reads)

pub struct PgStore {
    /// Encrypts account and identity numbers on write, decrypts them on read.
    keys: std::sync::Arc<crate::crypto::KeyRing>,
    pool: Pool,
    config: tokio_postgres::Config,
    /// A [`Store::snapshot`]: reads run on this connection, in one read-only transaction.
    pinned: Option<std::sync::Arc<deadpool_postgres::ClientWrapper>>,
}

impl PgStore {
    /// The sandbox's generated encryption keys (`(id, base64)`, oldest first), adding `add` first
    /// when given and absent (two nodes adding at once agree on the first).
    pub async fn sandbox_keys(&self, add: Option<(&str, &str)>) -> StoreResult<Vec<(String, String)>> {
        if let Some((id, key)) = add {
            self.rows(
                "INSERT INTO sandbox_encryption_keys (key_id, key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
                &[&id, &key],
            )
            .await?;
        }
        let rows = self.rows("SELECT key_id, key FROM sandbox_encryption_keys ORDER BY seq", &[]).await?;
        collect(&rows, |r| Ok((col(r, 0)?, col(r, 1)?)))
    }

    /// Encrypt account and identity numbers with these keys (see [`crate::crypto`]).
    pub fn with_keys(mut self, keys: std::sync::Arc<crate::crypto::KeyRing>) -> Self {
        self.keys = keys;
        self
    }

    /// Connect, build the read pool and apply pending migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL {}: {}", redact_url(url), describe(&e))))?;
        if config.get_application_name().is_none() {
            config.application_name("outlay");
        }
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StoreError::Config(format!("PostgreSQL pool: {e}")))?;
        let mut client = pool.get().await?;
        migrate(&mut client, POSTGRES).await?;
        drop(client);
        Ok(Self { keys: std::sync::Arc::default(), pool, config, pinned: None })
    }

    /// The connection for one read: the snapshot's own, or one from the pool.
    async fn reader(&self) -> StoreResult<Reader<'_>> {
        Ok(match &self.pinned {
            Some(client) => Reader::Pinned(client),
            None => Reader::Pooled(self.pool.get().await?),
        })
    }

    async fn rows(&self, sql: &str, params: &Params<'_>) -> StoreResult<Vec<Row>> {
        let client = self.reader().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }

    async fn row_opt(&self, sql: &str, params: &Params<'_>) -> StoreResult<Option<Row>> {
        let client = self.reader().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&stmt, params).await?)
    }

    async fn row(&self, sql: &str, params: &Params<'_>) -> StoreResult<Row> {
        let client = self.reader().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query_one(&stmt, params).await?)
    }
}

/// A read's connection (`PgStore::reader`). Lives on the stack for one read: boxing the pooled
/// variant to even the sizes would cost an allocation per read.
#[allow(clippy::large_enum_variant)]
enum Reader<'a> {
    Pinned(&'a deadpool_postgres::ClientWrapper),
    Pooled(deadpool_postgres::Object),
}

impl std::ops::Deref for Reader<'_> {
    type Target = deadpool_postgres::ClientWrapper;

    fn deref(&self) -> &Self::Target {
        match self {
            Reader::Pinned(client) => client,
            Reader::Pooled(object) => object,
        }
    }
}

async fn connect(config: &tokio_postgres::Config) -> StoreResult<Client> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %describe(&e), "PostgreSQL writer connection closed");
        }
    });
    Ok(client)
}

#[async_trait]
impl Store for PgStore {
    // --- wallets (stored-value model) ---
    async fn payout_model(&self, account: AccountId) -> StoreResult<Option<String>> {
        self.w_payout_model(account).await
    }
    async fn recipient(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::RecipientRow>> {
        self.w_recipient(account, id).await
    }
    async fn recipients(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::RecipientRow>> {
        self.w_recipients(account, page).await
    }
    async fn recipient_credential(&self, client_id: &str) -> StoreResult<Option<crate::RecipientCredentialRow>> {
        self.w_recipient_credential(client_id).await
    }
    async fn recipient_token(&self, token_hash: &str) -> StoreResult<Option<crate::RecipientTokenRow>> {
        self.w_recipient_token(token_hash).await
    }
    async fn recipient_transfer_methods(&self, recipient: Uuid) -> StoreResult<Vec<crate::TransferMethodRow>> {
        self.w_transfer_methods(recipient).await
    }
    async fn wallet_payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::WalletPayoutRow>> {
        self.w_wallet_payout(account, id).await
    }
    async fn wallet_payouts(
        &self,
        account: AccountId,
        recipient: Option<Uuid>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WalletPayoutRow>> {
        self.w_wallet_payouts(account, recipient, page).await
    }
    async fn wallet_withdrawals(
        &self,
        recipient: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WalletWithdrawalRow>> {
        self.w_wallet_withdrawals(recipient, page).await
    }
    async fn audit_wallet_by_reference(&self) -> StoreResult<Vec<crate::WalletByReference>> {
        self.w_audit_wallet_by_reference().await
    }
    async fn audit_wallet_withdrawals(&self) -> StoreResult<Vec<crate::WalletWithdrawalAudit>> {
        self.w_audit_wallet_withdrawals().await
    }
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn snapshot(&self) -> StoreResult<std::sync::Arc<dyn Store>> {
        // Taken out of the pool: the connection closes, ending the transaction, when the
        // snapshot is dropped, instead of going back to the pool with it open.
        let client = deadpool_postgres::Object::take(self.pool.get().await?);
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1").await?;
        Ok(std::sync::Arc::new(PgStore {
            keys: self.keys.clone(),
            pool: self.pool.clone(),
            config: self.config.clone(),
            pinned: Some(std::sync::Arc::new(client)),
        }))
    }

    async fn writer_conn(&self) -> StoreResult<Box<dyn WriterConn>> {
        let mut config = self.config.clone();
        config.application_name("outlay-writer");
        let client = connect(&config).await?;
        Ok(Box::new(PgWriterConn {
            keys: self.keys.clone(),
            config,
            client,
            statements: HashMap::new(),
            ledger_ids: HashMap::new(),
            known_chains: HashSet::new(),
            known_audit_chains: HashSet::new(),
            dirty: false,
            strict_next: false,
        }))
    }

    async fn has_platform_account(&self) -> StoreResult<bool> {
        col(&self.row(SQL_HAS_PLATFORM, &[]).await?, 0)
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRow>> {
        self.row_opt(SQL_ACCOUNT, &[&id.0])
            .await?
            .as_ref()
            .map(|r| account_from_row(r).and_then(|a| self.keys.open_account(a)))
            .transpose()
    }

    async fn connected_accounts(&self, parent: AccountId, page: PageRequest) -> StoreResult<Page<AccountRow>> {
        let total = count_of(&self.row(SQL_CONNECTED_COUNT, &[&parent.0]).await?)?;
        let (limit, offset) = page_params(page);
        let rows = self.rows(SQL_CONNECTED, &[&parent.0, &limit, &offset]).await?;
        let items = collect(&rows, |r| account_from_row(r).and_then(|a| self.keys.open_account(a)))?;
        Ok(Page { total_items: total, items })
    }

    async fn credential_by_client_id(&self, client_id: &str) -> StoreResult<Option<CredentialRow>> {
        self.row_opt(SQL_CREDENTIAL, &[&client_id]).await?.as_ref().map(credential_from_row).transpose()
    }

    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenGrant>> {
        self.row_opt(credentials::SQL_TOKEN_GRANT, &[&token_hash])
            .await?
            .as_ref()
            .map(credentials::grant_from_row)
            .transpose()
    }

    async fn credentials(&self, account: AccountId) -> StoreResult<Vec<CredentialView>> {
        collect(&self.rows(credentials::SQL_CREDENTIALS, &[&account.0]).await?, credentials::view_from_row)
    }

    async fn idempotency(&self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.row_opt(SQL_IDEMPOTENCY, &[&account.0, &key]).await?.as_ref().map(idempotency_from_row).transpose()
    }

    async fn deposit(&self, account: AccountId, id: Uuid) -> StoreResult<Option<DepositRow>> {
        let account = Some(account.0);
        self.row_opt(SQL_DEPOSIT, &[&id, &account])
            .await?
            .as_ref()
            .map(|r| deposit_from_row(r).and_then(|d| self.keys.open_deposit(d)))
            .transpose()
    }

    async fn deposits(
        &self,
        account: AccountId,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> StoreResult<Page<DepositRow>> {
        let (start, end) = (filter.start_time.map(db_time), filter.end_time.map(db_time));
        let (limit, offset) = page_params(page);
        let total = count_of(
            &self.row(SQL_DEPOSITS_COUNT, &[&account.0, &filter.status, &filter.currency, &start, &end]).await?,
        )?;
        let rows = self
            .rows(SQL_DEPOSITS, &[&account.0, &filter.status, &filter.currency, &start, &end, &limit, &offset])
            .await?;
        Ok(Page {
            total_items: total,
            items: collect(&rows, |r| deposit_from_row(r).and_then(|d| self.keys.open_deposit(d)))?,
        })
    }

    async fn pending_deposits(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<DepositRow>> {
        let rows = self.rows(SQL_PENDING_DEPOSITS, &[&db_time(before), &i64::from(limit)]).await?;
        collect(&rows, |r| deposit_from_row(r).and_then(|d| self.keys.open_deposit(d)))
    }

    async fn withdrawal(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WithdrawalRow>> {
        let account = Some(account.0);
        self.row_opt(SQL_WITHDRAWAL, &[&id, &account]).await?.as_ref().map(withdrawal_from_row).transpose()
    }

    async fn withdrawals(
        &self,
        account: AccountId,
        filter: &WithdrawalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WithdrawalRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(SQL_WITHDRAWALS_COUNT, &[&account.0, &filter.status, &filter.currency]).await?)?;
        let rows = self.rows(SQL_WITHDRAWALS, &[&account.0, &filter.status, &filter.currency, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, withdrawal_from_row)? })
    }

    async fn pending_withdrawals(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<WithdrawalRow>> {
        let rows = self.rows(SQL_PENDING_WITHDRAWALS, &[&db_time(before), &i64::from(limit)]).await?;
        collect(&rows, withdrawal_from_row)
    }

    async fn fx_rates(&self) -> StoreResult<Vec<crate::FxRateRow>> {
        self.fx_rates_read().await
    }

    async fn quote(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::QuoteRow>> {
        self.quote_read(account, id).await
    }

    async fn conversion(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::ConversionRow>> {
        self.conversion_read(account, id).await
    }

    async fn conversions(
        &self,
        account: AccountId,
        filter: &crate::ConversionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::ConversionRow>> {
        self.conversions_read(account, filter, page).await
    }

    async fn webhook_endpoint(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::WebhookEndpointRow>> {
        self.webhook_endpoint_read(account, id).await
    }

    async fn webhook_endpoints(
        &self,
        account: AccountId,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WebhookEndpointRow>> {
        self.webhook_endpoints_read(account, page).await
    }

    async fn webhook_deliveries(
        &self,
        account: AccountId,
        filter: &crate::WebhookDeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WebhookDeliveryView>> {
        self.webhook_deliveries_read(account, filter, page).await
    }

    async fn webhook_deliveries_due(&self, now: OffsetDateTime) -> StoreResult<bool> {
        self.webhook_deliveries_due_read(now).await
    }

    async fn webhook_queue_depth(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.webhook_queue_depth_read(now).await
    }

    async fn jobs_queue_depth(&self, now: OffsetDateTime) -> StoreResult<Vec<(String, u64)>> {
        self.jobs_queue_depth_read(now).await
    }

    async fn balances(&self, account: AccountId) -> StoreResult<Vec<BalanceRow>> {
        let rows = self.rows(SQL_BALANCES, &[&account.to_string()]).await?;
        collect(&rows, |r| {
            Ok(BalanceRow {
                currency: col(r, 0)?,
                kind: col(r, 1)?,
                balance: col(r, 2)?,
                created_at: col(r, 3)?,
                updated_at: col(r, 4)?,
            })
        })
    }

    async fn transactions(
        &self,
        account: AccountId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<TransactionRow>> {
        let owner = account.to_string();
        let (start, end) = (filter.start_time.map(ms), filter.end_time.map(ms));
        let (limit, offset) = page_params(page);
        let total = count_of(
            &self
                .row(
                    SQL_TRANSACTIONS_COUNT,
                    &[&account.0, &owner, &filter.currency, &filter.reference_type, &filter.balance_kind, &start, &end],
                )
                .await?,
        )?;
        let rows = self
            .rows(
                SQL_TRANSACTIONS,
                &[
                    &account.0,
                    &owner,
                    &filter.currency,
                    &filter.reference_type,
                    &filter.balance_kind,
                    &start,
                    &end,
                    &limit,
                    &offset,
                ],
            )
            .await?;
        let items = collect(&rows, |r| {
            let line_no: i32 = col(r, 1)?;
            Ok(TransactionRow {
                entry_id: col(r, 0)?,
                line_no: i64::from(line_no),
                currency: col(r, 2)?,
                balance_kind: col(r, 3)?,
                amount: col(r, 4)?,
                entry_kind: col(r, 5)?,
                reference_type: col(r, 6)?,
                reference_id: col(r, 7)?,
                created_at: from_ms(col(r, 8)?)?,
            })
        })?;
        Ok(Page { total_items: total, items })
    }

    async fn beneficiary(&self, account: AccountId, id: Uuid) -> StoreResult<Option<BeneficiaryRow>> {
        let account = Some(account.0);
        self.row_opt(payouts::SQL_BENEFICIARY, &[&id, &account])
            .await?
            .as_ref()
            .map(|r| payouts::beneficiary_from_row(r).and_then(|b| self.keys.open_beneficiary(b)))
            .transpose()
    }

    async fn beneficiaries(
        &self,
        account: AccountId,
        f: &BeneficiaryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<BeneficiaryRow>> {
        let (limit, offset) = page_params(page);
        let filter: [&(dyn ToSql + Sync); 5] = [&account.0, &f.currency, &f.country, &f.entity_type, &f.payment_method];
        let total = count_of(&self.row(&payouts::sql_beneficiaries_count(), &filter).await?)?;
        let mut params = filter.to_vec();
        params.extend([&limit as &(dyn ToSql + Sync), &offset]);
        let rows = self.rows(&payouts::sql_beneficiaries(), &params).await?;
        let items = collect(&rows, |r| payouts::beneficiary_from_row(r).and_then(|b| self.keys.open_beneficiary(b)))?;
        Ok(Page { total_items: total, items })
    }

    async fn file(&self, account: AccountId, id: Uuid) -> StoreResult<Option<FileRow>> {
        let account = Some(account.0);
        self.row_opt(payouts::SQL_FILE, &[&id, &account]).await?.as_ref().map(payouts::file_from_row).transpose()
    }

    async fn payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<PayoutRow>> {
        let account = Some(account.0);
        self.row_opt(payouts::SQL_PAYOUT, &[&id, &account])
            .await?
            .as_ref()
            .map(|r| payouts::payout_from_row(r).and_then(|p| self.keys.open_payout(p)))
            .transpose()
    }

    async fn payouts(&self, account: AccountId, f: &PayoutFilter, page: PageRequest) -> StoreResult<Page<PayoutRow>> {
        let (limit, offset) = page_params(page);
        let (start, end) = (f.start_time.map(db_time), f.end_time.map(db_time));
        let filter: [&(dyn ToSql + Sync); 6] = [&account.0, &f.states, &f.currency, &f.beneficiary_id, &start, &end];
        let total = count_of(&self.row(&payouts::sql_payouts_count(), &filter).await?)?;
        let mut params = filter.to_vec();
        params.extend([&limit as &(dyn ToSql + Sync), &offset]);
        let rows = self.rows(&payouts::sql_payouts(), &params).await?;
        let items = collect(&rows, |r| payouts::payout_from_row(r).and_then(|p| self.keys.open_payout(p)))?;
        Ok(Page { total_items: total, items })
    }

    async fn payout_history(&self, id: Uuid) -> StoreResult<Vec<PayoutTransition>> {
        let rows = self.rows(payouts::SQL_PAYOUT_HISTORY, &[&id]).await?;
        collect(&rows, payouts::transition_from_row)
    }

    async fn transfer(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::TransferRow>> {
        self.row_opt(transfers::SQL_TRANSFER, &[&account.0, &id]).await?.as_ref().map(transfers::from_row).transpose()
    }

    async fn transfers(
        &self,
        account: AccountId,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::TransferRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(transfers::SQL_TRANSFERS_COUNT, &[&account.0, &status]).await?)?;
        let rows = self.rows(transfers::SQL_TRANSFERS, &[&account.0, &status, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, transfers::from_row)? })
    }

    async fn open_payouts(&self, q: crate::OpenPayouts) -> StoreResult<Vec<PayoutRow>> {
        let (after_at, after_id) = q.after.unzip();
        let after_at = after_at.map(db_time);
        let rows = self
            .rows(
                payouts::SQL_OPEN_PAYOUTS,
                &[&db_time(q.changed_by), &q.scheduled_due_by, &after_at, &after_id, &i64::from(q.limit)],
            )
            .await?;
        collect(&rows, |r| payouts::payout_from_row(r).and_then(|p| self.keys.open_payout(p)))
    }

    async fn payout_by_short_reference(&self, short_reference: &str) -> StoreResult<Option<PayoutRow>> {
        self.row_opt(payouts::SQL_PAYOUT_BY_SHORT_REFERENCE, &[&short_reference])
            .await?
            .as_ref()
            .map(|r| payouts::payout_from_row(r).and_then(|p| self.keys.open_payout(p)))
            .transpose()
    }

    async fn audit_entries(&self, after: Option<(AccountId, i64)>, limit: u32) -> StoreResult<Vec<StoredEntry>> {
        let (after_account, after_seq) = after.map_or((Uuid::nil(), 0), |(a, s)| (a.0, s));
        let rows = self.rows(SQL_AUDIT_ENTRIES, &[&after_account, &after_seq, &i64::from(limit)]).await?;
        let mut out: Vec<StoredEntry> = Vec::new();
        for r in &rows {
            let id: Uuid = col(r, 0)?;
            let id = id.to_string();
            if out.last().is_none_or(|e| e.id != id) {
                out.push(StoredEntry {
                    id,
                    owner: AccountId(col(r, 1)?),
                    seq: col(r, 2)?,
                    kind: col(r, 3)?,
                    reference_type: col(r, 4)?,
                    reference_id: col(r, 5)?,
                    created_at_ms: col(r, 6)?,
                    prev_hash: col(r, 7)?,
                    hash: col(r, 8)?,
                    lines: Vec::new(),
                });
            }
            let owner: Option<String> = col(r, 9)?;
            if let (Some(owner), Some(entry)) = (owner, out.last_mut()) {
                let currency: String = col(r, 10)?;
                let kind: String = col(r, 11)?;
                entry.lines.push(StoredLine { key: ledger_key(&owner, &currency, &kind)?, amount: col(r, 12)? });
            }
        }
        Ok(out)
    }

    async fn audit_balances(&self) -> StoreResult<Vec<(LedgerKey, i64)>> {
        let rows = self.rows(SQL_AUDIT_BALANCES, &[]).await?;
        collect(&rows, |r| {
            let (owner, currency, kind): (String, String, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
            Ok((ledger_key(&owner, &currency, &kind)?, col(r, 3)?))
        })
    }

    async fn audit_chain_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>> {
        let rows = self.rows(SQL_AUDIT_CHAIN_HEADS, &[]).await?;
        collect(&rows, |r| Ok((AccountId(col(r, 0)?), col(r, 1)?, col(r, 2)?)))
    }

    async fn audit_holdable_page(
        &self,
        kind: crate::HoldableKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<HoldableObject>> {
        let sql = match kind {
            crate::HoldableKind::Deposit => SQL_AUDIT_DEPOSITS,
            crate::HoldableKind::Withdrawal => SQL_AUDIT_WITHDRAWALS,
            crate::HoldableKind::Payout => SQL_AUDIT_PAYOUTS,
        };
        let reference_type = kind.reference_type();
        let rows = self.rows(sql, &[&after, &i64::from(limit)]).await?;
        collect(&rows, |r| {
            Ok(HoldableObject {
                account_id: AccountId(col(r, 0)?),
                reference_type: reference_type.to_owned(),
                reference_id: col(r, 1)?,
                status: col(r, 2)?,
                currency: col(r, 3)?,
                amount: col(r, 4)?,
                fee: col(r, 5)?,
                batch_id: col(r, 6)?,
                held: col(r, 7)?,
            })
        })
    }

    async fn audit_pending_elsewhere(&self) -> StoreResult<Vec<PendingByReference>> {
        let rows = self.rows(SQL_AUDIT_PENDING_ELSEWHERE, &[]).await?;
        collect(&rows, |r| {
            Ok(PendingByReference { reference_type: col(r, 0)?, reference_id: col(r, 1)?, net_pending: col(r, 2)? })
        })
    }

    async fn audit_batch_holds(&self) -> StoreResult<Vec<(Uuid, i64)>> {
        let rows = self.rows(batches::SQL_BATCH_HOLDS, &[]).await?;
        collect(&rows, |r| {
            let held: String = col(r, 1)?;
            Ok((col(r, 0)?, crate::batch_totals_sum(&held).map_err(StoreError::Database)?))
        })
    }

    async fn audit_dangling_references(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = self.rows(crate::SQL_AUDIT_DANGLING, &[]).await?;
        collect(&rows, |r| Ok((col(r, 0)?, col(r, 1)?)))
    }

    // --- sftp ---
    async fn sftp_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<crate::SftpKeyRow>> {
        self.row_opt(sftp::SQL_KEY_BY_FINGERPRINT, &[&fingerprint]).await?.as_ref().map(sftp::key_from_row).transpose()
    }

    async fn sftp_keys(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::SftpKeyRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(sftp::SQL_KEYS_COUNT, &[&account.0]).await?)?;
        let rows = self.rows(sftp::SQL_KEYS, &[&account.0, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, sftp::key_from_row)? })
    }

    async fn sftp_file(&self, id: Uuid) -> StoreResult<Option<crate::SftpFileRow>> {
        self.row_opt(sftp::SQL_FILE, &[&id]).await?.as_ref().map(sftp::file_from_row).transpose()
    }

    async fn sftp_open_files(&self) -> StoreResult<Vec<crate::SftpFileRow>> {
        collect(&self.rows(sftp::SQL_OPEN_FILES, &[]).await?, sftp::file_from_row)
    }

    // --- audit trail ---
    async fn audit_log(
        &self,
        account: AccountId,
        f: &crate::AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::AuditRow>> {
        let (limit, offset) = page_params(page);
        let (from, to) = (f.from.map(db_time), f.to.map(db_time));
        let total = count_of(
            &self.row(audit::SQL_COUNT, &[&account.0, &f.action, &f.object_id, &f.credential_id, &from, &to]).await?,
        )?;
        let rows = self
            .rows(
                audit::SQL_LIST,
                &[&account.0, &f.action, &f.object_id, &f.credential_id, &from, &to, &limit, &offset],
            )
            .await?;
        Ok(Page { total_items: total, items: collect(&rows, audit::from_row)? })
    }

    async fn audit_log_chain(
        &self,
        account: AccountId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::AuditRow>> {
        let limit = i64::from(limit);
        collect(&self.rows(audit::SQL_CHAIN, &[&account.0, &after_seq, &limit]).await?, audit::from_row)
    }

    async fn audit_log_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>> {
        collect(&self.rows(audit::SQL_HEADS, &[]).await?, audit::head_from_row)
    }

    // --- reports ---
    async fn report_ledger_lines(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> StoreResult<Vec<crate::ReportLedgerLine>> {
        self.report_lines(account, from, to, after, limit).await
    }

    async fn report_balances_at(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        self.report_balances(account, at).await
    }

    async fn report_payouts(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<PayoutRow>> {
        self.report_payout_page(account, from, to, after, limit).await
    }

    async fn report_reference_lines(
        &self,
        account: AccountId,
        reference_type: &str,
        ids: &[Uuid],
    ) -> StoreResult<Vec<crate::ReportLedgerLine>> {
        self.report_ref_lines(account, reference_type, ids).await
    }

    async fn report_held_batch_payouts(&self, account: AccountId, payouts: &[Uuid]) -> StoreResult<Vec<(Uuid, Uuid)>> {
        self.report_held_batch(account, payouts).await
    }

    async fn report(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::ReportRow>> {
        self.report_get(account, id).await
    }

    async fn reports(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::ReportRow>> {
        self.report_list(account, page).await
    }

    async fn report_content(&self, account: AccountId, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.report_bytes(account, id).await
    }

    async fn reports_due(&self, now: OffsetDateTime) -> StoreResult<bool> {
        self.report_due(now).await
    }

    async fn active_accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        self.accounts_active(after, limit).await
    }

    // --- batches ---
    async fn payout_batch(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::PayoutBatchRow>> {
        let account = Some(account.0);
        self.row_opt(batches::SQL_BATCH, &[&id, &account]).await?.as_ref().map(batches::batch_from_row).transpose()
    }

    async fn payout_batches(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::PayoutBatchRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(batches::SQL_BATCHES_COUNT, &[&account.0]).await?)?;
        let rows = self.rows(batches::SQL_BATCHES, &[&account.0, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, batches::batch_from_row)? })
    }

    async fn payout_batch_items(
        &self,
        batch: Uuid,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::BatchItemRow>> {
        let (limit, offset) = page_params(page);
        let total = count_of(&self.row(batches::SQL_ITEMS_COUNT, &[&batch, &status]).await?)?;
        let rows = self.rows(batches::SQL_ITEMS, &[&batch, &status, &limit, &offset]).await?;
        let open = |r: &Row| batches::item_from_row(r).and_then(|i| self.keys.open_batch_item(i));
        Ok(Page { total_items: total, items: collect(&rows, open)? })
    }

    async fn payout_batch_totals(&self, batch: Uuid) -> StoreResult<Vec<crate::BatchStatusTotal>> {
        collect(&self.rows(batches::SQL_TOTALS, &[&batch]).await?, batches::total_from_row)
    }

    async fn approval_policy(&self, account: AccountId) -> StoreResult<Option<crate::ApprovalPolicyRow>> {
        self.row_opt(batches::SQL_POLICY, &[&account.0]).await?.as_ref().map(batches::policy_from_row).transpose()
    }

    async fn payout_batches_to_resume(&self, limit: u32) -> StoreResult<Vec<crate::PayoutBatchRow>> {
        let limit = i64::from(limit);
        collect(&self.rows(batches::SQL_BATCHES_TO_RESUME, &[&limit]).await?, batches::batch_from_row)
    }

    // --- compliance (issue 7) ---
    async fn latest_screening_list(&self) -> StoreResult<Option<(crate::ScreeningListRow, crate::ScreeningFiles)>> {
        self.compliance_latest_list().await
    }

    async fn screening_lists(&self, limit: u32) -> StoreResult<Vec<crate::ScreeningListRow>> {
        self.compliance_lists(limit).await
    }

    async fn compliance_review(
        &self,
        account: Option<AccountId>,
        id: Uuid,
    ) -> StoreResult<Option<crate::ComplianceReviewRow>> {
        self.compliance_review_read(account, id).await
    }

    async fn compliance_reviews(
        &self,
        account: Option<AccountId>,
        filter: &crate::ReviewFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::ComplianceReviewRow>> {
        self.compliance_reviews_read(account, filter, page).await
    }

    async fn screening_hits(&self, review: Uuid) -> StoreResult<Vec<crate::ScreeningHitRow>> {
        self.compliance_hits_read(review).await
    }

    async fn compliance_rules(&self, account: AccountId) -> StoreResult<Option<crate::ComplianceRulesRow>> {
        self.compliance_rules_read(account).await
    }

    async fn latest_review_status(&self, subject: Uuid) -> StoreResult<Option<String>> {
        self.compliance_latest_status_read(subject).await
    }

    // --- jobs ---
    async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>> {
        self.row_opt(jobs::SQL_JOB, &[&id]).await?.as_ref().map(jobs::from_row).transpose()
    }

    async fn jobs(&self, kind: Option<&str>, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>> {
        collect(&self.rows(jobs::SQL_JOBS, &[&kind, &status, &i64::from(limit)]).await?, jobs::from_row)
    }

    async fn jobs_due(&self, kinds: &[&str], now: OffsetDateTime) -> StoreResult<bool> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        Ok(col(&self.row(jobs::SQL_JOBS_DUE, &[&kinds, &db_time(now)]).await?, 0)?)
    }
}

// ---------------------------------------------------------------------------------------------
// The writer

/// The writer's own connection, its prepared statements, and a cache of ledger account ids (they
/// never change once created).
pub struct PgWriterConn {
    keys: std::sync::Arc<crate::crypto::KeyRing>,
    config: tokio_postgres::Config,
    client: Client,
    statements: HashMap<&'static str, Statement>,
    ledger_ids: HashMap<LedgerKey, i64>,
    /// Accounts whose ledger chain head is committed (heads are never deleted): `lock_chains`
    /// need not try to create them.
    known_chains: HashSet<Uuid>,
    /// The same for audit chain heads.
    known_audit_chains: HashSet<Uuid>,
    /// A transaction was dropped while open: roll it back before the next `BEGIN`.
    dirty: bool,
    /// The last batch's queued write failed: run the next transaction strictly.
    strict_next: bool,
}

impl PgWriterConn {
    async fn statement(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(sql).await?;
        self.statements.insert(sql, stmt.clone());
        Ok(stmt)
    }
}

#[async_trait]
impl WriterConn for PgWriterConn {
    async fn begin<'a>(&'a mut self) -> StoreResult<Box<dyn WriteTx + 'a>> {
        if self.client.is_closed() {
            // The server restarted or the network dropped: whatever was open died with it.
            tracing::warn!("PostgreSQL writer connection was closed; reconnecting");
            self.client = connect(&self.config).await?;
            self.statements.clear();
            self.dirty = false;
        }
        if self.dirty {
            self.client.batch_execute("ROLLBACK").await?;
            self.dirty = false;
        }
        self.client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
        // After a batch whose queued write failed, rerun it with every write sent at once.
        let strict = std::mem::take(&mut self.strict_next);
        Ok(Box::new(PgTx {
            w: self,
            created: Vec::new(),
            marks: Vec::new(),
            open: true,
            aborted: false,
            strict,
            poisoned: None,
            pending: Vec::new(),
            pending_tables: HashSet::new(),
            balances: HashMap::new(),
            chains: HashMap::new(),
            audit_heads: HashMap::new(),
            idempotency: HashMap::new(),
            undo: Vec::new(),
            reads: pipeline::ReadCache::default(),
            last_at: None,
        }))
    }

    fn send_writes_at_once(&mut self) {
        self.strict_next = true;
    }
}

/// One write transaction on the writer's connection (see `postgres/pipeline.rs` for how writes
/// are queued and sent together).
pub struct PgTx<'a> {
    w: &'a mut PgWriterConn,
    /// Ledger accounts inserted by this transaction: cached only once it commits.
    created: Vec<(LedgerKey, i64)>,
    marks: Vec<Mark>,
    open: bool,
    /// A statement failed: PostgreSQL refuses everything but a rollback (to a savepoint) now, and
    /// a `COMMIT` would silently roll back, so `commit` refuses instead.
    aborted: bool,
    /// Send every write as soon as it is queued, so a failure lands on its own command.
    strict: bool,
    /// A statement failed while writes were queued: the batch is rerun strictly; until then
    /// everything answers "retry".
    poisoned: Option<String>,
    pending: Vec<Pending>,
    /// Tables the queued statements write: a read of one of them flushes first.
    pending_tables: HashSet<&'static str>,
    /// Balances of ledger accounts this transaction has locked, by ledger account id.
    balances: HashMap<i64, Held<i64>>,
    /// Ledger chain heads this transaction has locked.
    chains: HashMap<Uuid, Held<(i64, String)>>,
    /// Audit chain heads this transaction has locked.
    audit_heads: HashMap<Uuid, Held<(i64, String)>>,
    /// Idempotency records queued by this transaction.
    idempotency: HashMap<(Uuid, String), IdempotencyRecord>,
    undo: Vec<Undo>,
    reads: pipeline::ReadCache,
    /// The newest time a balance changed (its `updated_at` when written).
    last_at: Option<OffsetDateTime>,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Drop cannot wait for a ROLLBACK: the next `begin` sends it.
            self.w.dirty = true;
        }
    }
}

impl PgTx<'_> {
    fn failed(&mut self, e: tokio_postgres::Error) -> StoreError {
        if e.as_db_error().is_some() || e.is_closed() {
            self.aborted = true;
        }
        if !self.strict {
            // The failing statement may not be the command's own (or a savepoint may not have
            // reached the database): rerun the batch strictly, where it will be.
            return self.poison(&describe(&e));
        }
        e.into()
    }

    fn poison(&mut self, why: &str) -> StoreError {
        self.w.strict_next = true;
        let message = format!("a queued write failed; the batch is rerun: {why}");
        self.poisoned = Some(message.clone());
        StoreError::Retry(message)
    }

    fn check_poison(&self) -> StoreResult<()> {
        match &self.poisoned {
            Some(message) => Err(StoreError::Retry(message.clone())),
            None => Ok(()),
        }
    }

    /// Record how to undo a cache change, if a savepoint is open to roll back to.
    fn remember(&mut self, undo: Undo) {
        if !self.marks.is_empty() {
            self.undo.push(undo);
        }
    }

    fn caches_dirty(&self) -> bool {
        self.balances.values().any(|b| b.dirty)
            || self.chains.values().any(|c| c.dirty)
            || self.audit_heads.values().any(|c| c.dirty)
    }

    fn read_needs_flush(&self, sql: &str) -> bool {
        pipeline::mentions_any(sql, &self.pending_tables)
            || (sql.contains("ledger_accounts") && self.balances.values().any(|b| b.dirty))
            || (sql.contains("ledger_chains") && self.chains.values().any(|c| c.dirty))
            || (sql.contains("audit_chains") && self.audit_heads.values().any(|c| c.dirty))
    }

    /// Before a statement that runs now: flush what it could see (a read) or everything (a write,
    /// which must also come after every queued write and inside every open savepoint).
    async fn before_statement(&mut self, sql: &'static str) -> StoreResult<()> {
        self.check_poison()?;
        if pipeline::is_read(sql) {
            if self.read_needs_flush(sql) {
                self.flush().await?;
            }
            return Ok(());
        }
        self.flush().await?;
        // Inserting rows (new ledger accounts, chain heads) leaves the held ones as they are;
        // anything else may change them behind the caches' back.
        let only_inserts = pipeline::only_inserts(sql);
        for table in pipeline::written_tables(sql) {
            self.reads.written(table);
            if !only_inserts {
                self.forget_held(table);
            }
        }
        Ok(())
    }

    /// Drop the held (just flushed) values of `table`, to be read again when next needed; a
    /// rollback to an open savepoint puts them back.
    fn forget_held(&mut self, table: &str) {
        match table {
            "ledger_accounts" => {
                for (id, held) in std::mem::take(&mut self.balances) {
                    self.remember(Undo::Balance(id, Some(held)));
                }
            }
            "ledger_chains" => {
                for (account, held) in std::mem::take(&mut self.chains) {
                    self.remember(Undo::Chain(account, Some(held)));
                }
            }
            "audit_chains" => {
                for (account, held) in std::mem::take(&mut self.audit_heads) {
                    self.remember(Undo::AuditHead(account, Some(held)));
                }
            }
            _ => {}
        }
    }

    /// Queue a write whose answer nobody waits for (sent with others of its statement as one
    /// multi-row statement at the next flush, see `pipeline::plan`).
    async fn defer(&mut self, rows: Rows) -> StoreResult<()> {
        self.check_poison()?;
        for table in pipeline::written_tables(rows.multi.sql) {
            self.pending_tables.insert(table);
            self.reads.written(table);
        }
        self.pending.push(Pending::Rows(rows));
        if self.strict {
            self.flush().await?;
        }
        Ok(())
    }

    /// Send the queue, open savepoints and changed balances and chain heads, in one pipeline.
    async fn flush(&mut self) -> StoreResult<()> {
        self.check_poison()?;
        let unmaterialized = self.marks.iter().any(|m| !m.materialized);
        if self.pending.is_empty() && !unmaterialized && !self.caches_dirty() {
            return Ok(());
        }
        let mut queue = std::mem::take(&mut self.pending);
        self.pending_tables.clear();
        // Savepoints set since the last flush go where they were set (later ones first, so the
        // earlier positions stay right).
        for mark in self.marks.iter_mut().rev() {
            if !mark.materialized {
                queue.insert(mark.pending.min(queue.len()), Pending::Savepoint);
                mark.materialized = true;
            }
        }
        let at = db_time(self.last_at.unwrap_or_else(OffsetDateTime::now_utc));
        // Each changed row once, with its final value: one statement per table (see `plan`).
        let one =
            |multi: &'static pipeline::Multi, main: Vec<Val>| Pending::Rows(Rows { multi, main, extra: Vec::new() });
        for (id, held) in self.balances.iter_mut().filter(|(_, h)| h.dirty) {
            held.dirty = false;
            queue.push(one(&pipeline::BALANCES, vec![(*id).into(), held.value.into(), at.into()]));
        }
        for (account, held) in self.chains.iter_mut().filter(|(_, h)| h.dirty) {
            held.dirty = false;
            queue.push(one(
                &pipeline::CHAINS,
                vec![(*account).into(), held.value.0.into(), held.value.1.clone().into()],
            ));
        }
        for (account, held) in self.audit_heads.iter_mut().filter(|(_, h)| h.dirty) {
            held.dirty = false;
            queue.push(one(
                &audit::ADVANCE_MANY,
                vec![(*account).into(), held.value.0.into(), held.value.1.clone().into()],
            ));
        }
        let planned = match pipeline::plan(queue) {
            Ok(planned) => planned,
            Err(why) => {
                // Nothing was sent, but the queue is gone: this transaction must not commit.
                self.aborted = true;
                if self.strict {
                    return Err(StoreError::Database(why));
                }
                return Err(self.poison(&why));
            }
        };
        let mut statements = Vec::with_capacity(planned.len());
        for item in &planned {
            match self.w.statement(item.sql).await {
                Ok(stmt) => statements.push(stmt),
                Err(e) => return Err(self.failed(e)),
            }
        }
        let prepared: Vec<(Statement, Vec<&(dyn ToSql + Sync)>)> =
            statements.into_iter().zip(&planned).map(|(stmt, item)| (stmt, item.params.params())).collect();
        let answers = pipeline::run(&self.w.client, &prepared).await;
        drop(prepared);
        for (item, answer) in planned.iter().zip(answers) {
            match answer {
                Err(e) => return Err(self.failed(e)),
                Ok(rows) => {
                    if let Some(expected) = item.expect
                        && rows != expected
                    {
                        self.aborted = true;
                        let sql = item.sql;
                        return Err(self.poison(&format!("{sql} changed {rows} rows, not {expected}")));
                    }
                }
            }
        }
        Ok(())
    }

    async fn exec(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<u64> {
        self.before_statement(sql).await?;
        let result = match self.w.statement(sql).await {
            Ok(stmt) => self.w.client.execute(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.failed(e))
    }

    async fn opt(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Option<Row>> {
        self.before_statement(sql).await?;
        let result = match self.w.statement(sql).await {
            Ok(stmt) => self.w.client.query_opt(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.failed(e))
    }

    /// A read that needs no flush whatever is queued (the caller knows what it reads is not
    /// queued, or keeps what is queued itself).
    async fn opt_unflushed(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Option<Row>> {
        self.check_poison()?;
        let result = match self.w.statement(sql).await {
            Ok(stmt) => self.w.client.query_opt(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.failed(e))
    }

    async fn one(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Row> {
        self.before_statement(sql).await?;
        let result = match self.w.statement(sql).await {
            Ok(stmt) => self.w.client.query_one(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.failed(e))
    }

    async fn all(&mut self, sql: &'static str, params: &Params<'_>) -> StoreResult<Vec<Row>> {
        self.before_statement(sql).await?;
        let result = match self.w.statement(sql).await {
            Ok(stmt) => self.w.client.query(&stmt, params).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| self.failed(e))
    }

    async fn ledger_id(&mut self, key: &LedgerKey, at: OffsetDateTime) -> StoreResult<i64> {
        if let Some(id) = self.w.ledger_ids.get(key) {
            return Ok(*id);
        }
        if let Some((_, id)) = self.created.iter().find(|(k, _)| k == key) {
            return Ok(*id);
        }
        let (owner, currency, kind) = (key.owner.as_key_text(), key.currency.code(), key.kind.as_key_text());
        // A row this transaction inserted is in `created`: any other one found is committed.
        if let Some(row) = self.opt(SQL_LEDGER_ID, &[&owner, &currency, &kind]).await? {
            let id: i64 = col(&row, 0)?;
            self.w.ledger_ids.insert(key.clone(), id);
            return Ok(id);
        }
        if let Some(row) = self.opt(SQL_LEDGER_CREATE, &[&owner, &currency, &kind, &at]).await? {
            let id: i64 = col(&row, 0)?;
            self.created.push((key.clone(), id));
            return Ok(id);
        }
        // Another node created it between the two statements (the insert waited for its commit).
        let id: i64 = col(&self.one(SQL_LEDGER_ID, &[&owner, &currency, &kind]).await?, 0)?;
        self.w.ledger_ids.insert(key.clone(), id);
        Ok(id)
    }

    /// Lock and cache the balances of `ids` not held yet (one statement, in id order).
    async fn hold_balances(&mut self, ids: &[i64]) -> StoreResult<()> {
        let mut missing: Vec<i64> = ids.iter().copied().filter(|id| !self.balances.contains_key(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        // Not flushed: every queued change to these rows is in `balances`, and they are not there.
        self.check_poison()?;
        let result = match self.w.statement(SQL_BALANCES_LOCK).await {
            Ok(stmt) => self.w.client.query(&stmt, &[&missing]).await,
            Err(e) => Err(e),
        };
        let rows = result.map_err(|e| self.failed(e))?;
        for row in &rows {
            let (id, balance): (i64, i64) = (col(row, 0)?, col(row, 1)?);
            self.balances.insert(id, Held { value: balance, dirty: false });
            self.remember(Undo::Balance(id, None));
        }
        Ok(())
    }

    /// The chain head of `account`, locked for the rest of the transaction.
    async fn chain_head(&mut self, account: Uuid) -> StoreResult<(i64, String)> {
        if let Some(held) = self.chains.get(&account) {
            return Ok(held.value.clone());
        }
        let row = match self.opt(SQL_CHAIN_HEAD, &[&account]).await? {
            Some(row) => row,
            None => {
                // Not locked by `lock_chains` beforehand: create the head so that it can be locked.
                self.exec(SQL_CHAIN_CREATE, &[&account, &ledger::GENESIS_HASH]).await?;
                self.one(SQL_CHAIN_HEAD, &[&account]).await?
            }
        };
        let head: (i64, String) = (col(&row, 0)?, col(&row, 1)?);
        self.chains.insert(account, Held { value: head.clone(), dirty: false });
        self.remember(Undo::Chain(account, None));
        Ok(head)
    }

    fn advance_chain(&mut self, account: Uuid, head: (i64, String)) {
        let old = self.chains.insert(account, Held { value: head, dirty: true });
        self.remember(Undo::Chain(account, old));
    }

    /// Put the caches back as they were when `mark` was set.
    fn undo_to(&mut self, mark: &Mark) {
        while self.undo.len() > mark.undo {
            match self.undo.pop() {
                Some(Undo::Balance(id, old)) => restore(&mut self.balances, id, old),
                Some(Undo::Chain(account, old)) => restore(&mut self.chains, account, old),
                Some(Undo::AuditHead(account, old)) => restore(&mut self.audit_heads, account, old),
                Some(Undo::Idempotency(account, key)) => {
                    self.idempotency.remove(&(account, key));
                }
                None => break,
            }
        }
        // The database may hold any version between the last flush and now: write them all again.
        self.balances.values_mut().for_each(|h| h.dirty = true);
        self.chains.values_mut().for_each(|h| h.dirty = true);
        self.audit_heads.values_mut().for_each(|h| h.dirty = true);
        self.reads.clear();
    }
}

/// The keys of `wanted` not in `cache`, each once, in order (the order rows are locked in).
fn misses<K: std::hash::Hash + Ord + Copy, V>(wanted: impl Iterator<Item = K>, cache: &HashMap<K, V>) -> Vec<K> {
    let mut keys: Vec<K> = wanted.filter(|k| !cache.contains_key(k)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn restore<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, old: Option<V>) {
    match old {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

#[async_trait]
impl WriteTx for PgTx<'_> {
    // --- wallets (stored-value model) ---
    async fn payout_model(&mut self, account: AccountId) -> StoreResult<Option<String>> {
        self.w_payout_model(account).await
    }
    async fn set_payout_model(&mut self, account: AccountId, model: &str, at: OffsetDateTime) -> StoreResult<()> {
        self.w_set_payout_model(account, model, at).await
    }
    async fn recipient(&mut self, id: Uuid) -> StoreResult<Option<crate::RecipientRow>> {
        self.w_recipient(id).await
    }
    async fn recipient_by_reference(
        &mut self,
        account: AccountId,
        external_reference: &str,
    ) -> StoreResult<Option<crate::RecipientRow>> {
        self.w_recipient_by_reference(account, external_reference).await
    }
    async fn insert_recipient(&mut self, row: &crate::RecipientRow) -> StoreResult<()> {
        self.w_insert_recipient(row).await
    }
    async fn insert_recipient_credential(&mut self, row: &crate::RecipientCredentialRow) -> StoreResult<()> {
        self.w_insert_recipient_credential(row).await
    }
    async fn insert_recipient_token(&mut self, row: &crate::RecipientTokenRow) -> StoreResult<()> {
        self.w_insert_recipient_token(row).await
    }
    async fn transfer_method(&mut self, id: Uuid) -> StoreResult<Option<crate::TransferMethodRow>> {
        self.w_transfer_method(id).await
    }
    async fn insert_transfer_method(&mut self, row: &crate::TransferMethodRow) -> StoreResult<()> {
        self.w_insert_transfer_method(row).await
    }
    async fn insert_wallet_payout(&mut self, row: &crate::WalletPayoutRow) -> StoreResult<()> {
        self.w_insert_wallet_payout(row).await
    }
    async fn wallet_withdrawal(&mut self, payout: Uuid) -> StoreResult<Option<crate::WalletWithdrawalRow>> {
        self.w_wallet_withdrawal(payout).await
    }
    async fn insert_wallet_withdrawal(&mut self, row: &crate::WalletWithdrawalRow) -> StoreResult<()> {
        self.w_insert_wallet_withdrawal(row).await
    }
    async fn savepoint(&mut self) -> StoreResult<()> {
        self.check_poison()?;
        // Sent only if something reaches the database before it is released (see `flush`).
        self.marks.push(Mark {
            pending: self.pending.len(),
            created: self.created.len(),
            undo: self.undo.len(),
            materialized: false,
        });
        if self.strict {
            self.flush().await?;
        }
        Ok(())
    }

    async fn release_savepoint(&mut self) -> StoreResult<()> {
        self.check_poison()?;
        if let Some(mark) = self.marks.pop()
            && mark.materialized
        {
            self.pending.push(Pending::Release);
            if self.strict {
                self.flush().await?;
            }
        }
        if self.marks.is_empty() {
            // Nothing can roll back past here any more.
            self.undo.clear();
        }
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        self.check_poison()?;
        let Some(mark) = self.marks.pop() else { return Ok(()) };
        self.created.truncate(mark.created);
        self.undo_to(&mark);
        if mark.materialized {
            // Everything queued came after it (the flush that sent it emptied the queue),
            // including the releases of inner savepoints the database still has open: roll
            // back through each of those first.
            let inner = self.pending.iter().filter(|p| matches!(p, Pending::Release)).count();
            self.pending.clear();
            self.pending_tables.clear();
            let sql = "ROLLBACK TO SAVEPOINT cmd; RELEASE SAVEPOINT cmd; ".repeat(inner + 1);
            let result = self.w.client.batch_execute(&sql).await;
            result.map_err(|e| self.failed(e))?;
            // Back to the state the savepoint saw, which was healthy (a savepoint cannot be set
            // in an aborted transaction).
            self.aborted = false;
        } else {
            self.pending.truncate(mark.pending);
            self.pending_tables = self.pending.iter().flat_map(|p| pipeline::written_tables(p.sql())).collect();
        }
        if self.marks.is_empty() {
            self.undo.clear();
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let flushed = match self.poisoned.clone() {
            Some(message) => Err(StoreError::Retry(message)),
            None if self.aborted => Err(StoreError::Database(
                "the transaction was aborted by a failed statement and was rolled back, not committed".into(),
            )),
            None => self.flush().await,
        };
        if let Err(e) = flushed {
            let _ = self.w.client.batch_execute("ROLLBACK").await;
            self.open = false;
            return Err(e);
        }
        let result = self.w.client.batch_execute("COMMIT").await;
        result.map_err(|e| self.failed(e))?;
        self.open = false;
        let created = std::mem::take(&mut self.created);
        self.w.ledger_ids.extend(created);
        // Every head held now exists, committed.
        let heads: Vec<Uuid> = self.chains.keys().copied().collect();
        self.w.known_chains.extend(heads);
        let heads: Vec<Uuid> = self.audit_heads.keys().copied().collect();
        self.w.known_audit_chains.extend(heads);
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> StoreResult<()> {
        self.pending.clear();
        self.w.client.batch_execute("ROLLBACK").await?;
        self.open = false;
        Ok(())
    }

    async fn platform_accounts_locked(&mut self) -> StoreResult<u64> {
        // Any fixed key: only first-start bootstraps take it.
        self.all(SQL_BOOTSTRAP_LOCK, &[]).await?;
        count_of(&self.one(SQL_PLATFORMS, &[]).await?)
    }

    async fn lock_chains(&mut self, accounts: &[AccountId]) -> StoreResult<()> {
        let mut ids: Vec<Uuid> = accounts.iter().map(|a| a.0).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        // Create missing heads (only for accounts that exist), then lock every head in id order:
        // every node locks in the same order, so two batches never deadlock.
        if !ids.iter().all(|id| self.w.known_chains.contains(id)) {
            self.exec(SQL_LOCK_CHAINS_CREATE, &[&ids, &ledger::GENESIS_HASH]).await?;
        }
        for row in self.all(SQL_LOCK_CHAINS, &[&ids]).await? {
            let account: Uuid = col(&row, 0)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = self.chains.entry(account) {
                slot.insert(Held { value: (col(&row, 1)?, col(&row, 2)?), dirty: false });
                self.remember(Undo::Chain(account, None));
            }
        }
        // The clients' available and pending balances, locked now in one statement instead of
        // one round trip per command that first touches one: only entries on these clients'
        // chains change them, and this transaction holds those chains. Rows already held are
        // kept (they may carry changes not sent yet).
        let owners: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.check_poison()?;
        let result = match self.w.statement(SQL_CLIENT_BALANCES_LOCK).await {
            Ok(stmt) => self.w.client.query(&stmt, &[&owners]).await,
            Err(e) => Err(e),
        };
        let rows = result.map_err(|e| self.failed(e))?;
        for row in &rows {
            let (id, balance): (i64, i64) = (col(row, 0)?, col(row, 1)?);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.balances.entry(id) {
                slot.insert(Held { value: balance, dirty: false });
                self.remember(Undo::Balance(id, None));
            }
        }
        Ok(())
    }

    async fn idempotency_get(&mut self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        if let Some(rec) = self.idempotency.get(&(account.0, key.to_owned())) {
            return Ok(Some(rec.clone()));
        }
        if !self.strict {
            // The API looked the key up before the request reached the writer; a key committed
            // since then (a concurrent duplicate, possibly through another node) makes the queued
            // insert fail on the primary key, and the strict rerun reads it here and replays it.
            return Ok(None);
        }
        // Every queued key is in `idempotency`: the table itself needs no flush.
        self.opt_unflushed(SQL_IDEMPOTENCY, &[&account.0, &key]).await?.as_ref().map(idempotency_from_row).transpose()
    }

    async fn idempotency_put(&mut self, rec: &IdempotencyRecord) -> StoreResult<()> {
        let status = i32::from(rec.status_code);
        // A key another node committed meanwhile fails the queued insert: the batch is then rerun
        // strictly and this answers `Conflict` to its command.
        let main: Vec<Val> = vec![
            rec.account_id.0.into(),
            rec.key.clone().into(),
            rec.request_hash.clone().into(),
            status.into(),
            rec.body_in_audit.is_none().then(|| rec.response_body.clone()).into(),
            rec.body_in_audit.into(),
            db_time(rec.created_at).into(),
        ];
        self.defer(Rows { multi: &pipeline::IDEMPOTENCY, main, extra: Vec::new() }).await?;
        let key = (rec.account_id.0, rec.key.clone());
        // As the database will return it (whole milliseconds).
        self.idempotency.insert(key.clone(), IdempotencyRecord { created_at: db_time(rec.created_at), ..rec.clone() });
        self.remember(Undo::Idempotency(key.0, key.1));
        Ok(())
    }

    async fn post_entry(&mut self, draft: &EntryDraft, entry_id: Uuid, at: OffsetDateTime) -> Result<(), PostError> {
        draft.validate()?;
        let at_ms = ms(at);
        let at_time = from_ms(at_ms)?;
        let mut changes = Vec::new();
        for (key, delta) in draft.net_changes() {
            let id = self.ledger_id(&key, at_time).await?;
            // Platform accounts are never updated: their balance is the sum of their lines.
            if key.must_stay_non_negative() && delta != 0 {
                changes.push((key, id, delta));
            }
        }
        let ids: Vec<i64> = changes.iter().map(|(_, id, _)| *id).collect();
        self.hold_balances(&ids).await?;
        for (key, id, delta) in changes {
            let current = self
                .balances
                .get(&id)
                .map(|h| h.value)
                .ok_or_else(|| StoreError::Database(format!("ledger account {id} of {key} is missing")))?;
            let next = current
                .checked_add(delta)
                .ok_or_else(|| StoreError::Database(format!("balance of {key} would overflow")))?;
            if next < 0 {
                return Err(PostError::Insufficient { key: key.to_string() });
            }
            let old = self.balances.insert(id, Held { value: next, dirty: true });
            self.remember(Undo::Balance(id, old));
        }
        self.last_at = Some(at_time);
        let owner_uuid = draft.chain_owner.0;
        let (seq, prev) = self.chain_head(owner_uuid).await?;
        let owner = draft.chain_owner.to_string();
        let lines: Vec<StoredLine> =
            draft.lines().into_iter().map(|l| StoredLine { key: l.key, amount: l.amount }).collect();
        let id_text = entry_id.to_string();
        let reference_id = draft.reference.id.to_string();
        let fields = ledger::ChainFields {
            entry_id: &id_text,
            owner: &owner,
            seq: seq + 1,
            kind: draft.kind.as_str(),
            reference_type: draft.reference.kind,
            reference_id: &reference_id,
            created_at_ms: at_ms,
        };
        let hash = ledger::entry_hash(&prev, &fields, &lines);
        let next = seq + 1;
        let mut extra: Vec<Vec<Val>> = Vec::with_capacity(lines.len());
        for (no, line) in lines.iter().enumerate() {
            let no = i32::try_from(no).map_err(|_| StoreError::Database("too many lines in one entry".into()))?;
            let ledger = self.ledger_id(&line.key, at_time).await?;
            extra.push(vec![entry_id.into(), no.into(), ledger.into(), line.amount.into()]);
        }
        let main: Vec<Val> = vec![
            entry_id.into(),
            owner_uuid.into(),
            next.into(),
            draft.kind.as_str().into(),
            draft.reference.kind.into(),
            reference_id.into(),
            at_ms.into(),
            prev.into(),
            hash.clone().into(),
        ];
        self.defer(Rows { multi: &pipeline::ENTRIES, main, extra }).await?;
        self.advance_chain(owner_uuid, (next, hash));
        Ok(())
    }

    async fn ledger_balance(&mut self, key: &LedgerKey) -> StoreResult<i64> {
        let (owner, currency, kind) = (key.owner.as_key_text(), key.currency.code(), key.kind.as_key_text());
        match self.opt(SQL_LEDGER_BALANCE, &[&owner, &currency, &kind]).await? {
            Some(row) => col(&row, 0),
            None => Ok(0),
        }
    }

    async fn insert_account(&mut self, row: &AccountRow) -> StoreResult<()> {
        let parent = row.parent_id.map(|p| p.0);
        let bank = row.bank_account.as_ref().map(|b| self.w.keys.seal_bank_json(b)).transpose()?;
        self.exec(
            SQL_ACCOUNT_INSERT,
            &[&row.id.0, &row.name, &parent, &row.kind, &row.status, &bank, &db_time(row.created_at)],
        )
        .await?;
        Ok(())
    }

    async fn set_bank_account(&mut self, account: AccountId, bank: Option<&BankAccount>) -> StoreResult<bool> {
        let bank = bank.map(|b| self.w.keys.seal_bank_json(b)).transpose()?;
        Ok(self.exec(SQL_SET_BANK, &[&account.0, &bank]).await? == 1)
    }

    async fn account(&mut self, id: AccountId) -> StoreResult<Option<AccountRow>> {
        let keys = self.w.keys.clone();
        self.opt(SQL_ACCOUNT, &[&id.0])
            .await?
            .as_ref()
            .map(|r| account_from_row(r).and_then(|a| keys.open_account(a)))
            .transpose()
    }

    async fn insert_credential(&mut self, row: &CredentialRow) -> StoreResult<()> {
        self.exec(
            SQL_CREDENTIAL_INSERT,
            &[&row.id, &row.account_id.0, &row.client_id, &row.secret_hash, &row.role, &db_time(row.created_at)],
        )
        .await?;
        Ok(())
    }

    async fn insert_token(&mut self, row: &TokenRow) -> StoreResult<()> {
        let created = db_time(row.created_at);
        // Expired tokens are pruned as new ones are issued.
        let cutoff = created.checked_sub(time::Duration::HOUR).unwrap_or(created);
        self.exec(SQL_TOKENS_PRUNE, &[&cutoff]).await?;
        self.exec(
            SQL_TOKEN_INSERT,
            &[&row.token_hash, &row.credential_id, &row.account_id.0, &db_time(row.expires_at), &created],
        )
        .await?;
        Ok(())
    }

    async fn revoke_credential(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        let changed = self.exec(credentials::SQL_REVOKE, &[&id, &account.0, &db_time(at)]).await?;
        if changed > 0 {
            self.exec(credentials::SQL_DROP_TOKENS, &[&id]).await?;
        }
        Ok(changed > 0)
    }

    async fn insert_deposit(&mut self, d: &DepositRow) -> StoreResult<()> {
        let d = &self.w.keys.seal_deposit(d)?;
        let (created, completed) = (db_time(d.created_at), d.completed_at.map(db_time));
        self.exec(
            SQL_DEPOSIT_INSERT,
            &[
                &d.id,
                &d.account_id.0,
                &d.short_reference_id,
                &d.currency,
                &d.amount,
                &d.fee,
                &d.status,
                &d.receiver_account_number,
                &d.deposit_reference,
                &d.sender_name,
                &d.sender_country,
                &d.sender_account_number,
                &d.sender_swift_code,
                &d.source,
                &created,
                &completed,
            ],
        )
        .await?;
        Ok(())
    }

    async fn deposit(&mut self, id: Uuid) -> StoreResult<Option<DepositRow>> {
        let keys = self.w.keys.clone();
        self.opt(SQL_DEPOSIT, &[&id, &None::<Uuid>])
            .await?
            .as_ref()
            .map(|r| deposit_from_row(r).and_then(|d| keys.open_deposit(d)))
            .transpose()
    }

    async fn set_deposit_status(
        &mut self,
        id: Uuid,
        status: &str,
        completed_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        self.exec(SQL_DEPOSIT_STATUS, &[&id, &status, &completed_at.map(db_time)]).await?;
        Ok(())
    }

    async fn insert_withdrawal(&mut self, w: &WithdrawalRow) -> StoreResult<()> {
        let (created, updated, completed) = (db_time(w.created_at), db_time(w.updated_at), w.completed_at.map(db_time));
        self.exec(
            SQL_WITHDRAWAL_INSERT,
            &[
                &w.id,
                &w.account_id.0,
                &w.short_reference_id,
                &w.currency,
                &w.amount,
                &w.fee,
                &w.status,
                &w.reference,
                &w.bank_account_holder,
                &w.bank_account_last4,
                &w.bank_country_code,
                &w.failure_reason,
                &created,
                &updated,
                &completed,
            ],
        )
        .await?;
        Ok(())
    }

    async fn withdrawal(&mut self, id: Uuid) -> StoreResult<Option<WithdrawalRow>> {
        self.opt(SQL_WITHDRAWAL, &[&id, &None::<Uuid>]).await?.as_ref().map(withdrawal_from_row).transpose()
    }

    async fn set_withdrawal_status(
        &mut self,
        id: Uuid,
        status: &str,
        at: OffsetDateTime,
        failure_reason: Option<&str>,
    ) -> StoreResult<()> {
        let at = db_time(at);
        let completed = (status == "COMPLETED").then_some(at);
        self.exec(SQL_WITHDRAWAL_STATUS, &[&id, &status, &at, &completed, &failure_reason]).await?;
        Ok(())
    }

    async fn insert_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()> {
        let row = self.w.keys.seal_beneficiary(row)?;
        let p = payouts::BeneficiaryParams::new(&row);
        self.exec(payouts::SQL_BENEFICIARY_INSERT, &p.params()).await?;
        Ok(())
    }

    async fn update_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()> {
        let row = self.w.keys.seal_beneficiary(row)?;
        let p = payouts::BeneficiaryParams::new(&row);
        self.exec(payouts::SQL_BENEFICIARY_UPDATE, &p.params()).await?;
        Ok(())
    }

    async fn prefetch(&mut self, reads: &crate::BatchReads) -> StoreResult<()> {
        // One statement per kind instead of a round trip per command; one miss costs the same
        // either way, so only two or more are fetched here.
        let ids = misses(reads.beneficiaries.iter().copied(), &self.reads.beneficiaries);
        if ids.len() > 1 {
            let keys = self.w.keys.clone();
            let mut found = HashMap::with_capacity(ids.len());
            for row in self.all(payouts::SQL_BENEFICIARIES_ANY, &[&ids]).await? {
                let b = keys.open_beneficiary(payouts::beneficiary_from_row(&row)?)?;
                found.insert(b.id, b);
            }
            // An id not found is cached as `None`, as a read one by one would answer.
            self.reads.beneficiaries.extend(ids.into_iter().map(|id| (id, found.remove(&id))));
        }
        let accounts = misses(reads.approval_policies.iter().map(|a| a.0), &self.reads.policies);
        if accounts.len() > 1 {
            let mut found = HashMap::with_capacity(accounts.len());
            for row in self.all(batches::SQL_POLICIES_ANY, &[&accounts]).await? {
                let policy = batches::policy_from_row(&row)?;
                found.insert(policy.account_id.0, policy);
            }
            self.reads.policies.extend(accounts.into_iter().map(|a| (a, found.remove(&a))));
        }
        let pairs = misses(reads.compliance_contexts.iter().map(|(a, b)| (a.0, *b)), &self.reads.contexts);
        if pairs.len() > 1 {
            let contexts = self.compliance_contexts_tx(&pairs).await?;
            self.reads.contexts.extend(contexts);
        }
        Ok(())
    }

    async fn beneficiary(&mut self, id: Uuid) -> StoreResult<Option<BeneficiaryRow>> {
        if let Some(cached) = self.reads.beneficiaries.get(&id) {
            return Ok(cached.clone());
        }
        let none: Option<Uuid> = None;
        let keys = self.w.keys.clone();
        let found = self
            .opt(payouts::SQL_BENEFICIARY, &[&id, &none])
            .await?
            .as_ref()
            .map(|r| payouts::beneficiary_from_row(r).and_then(|b| keys.open_beneficiary(b)))
            .transpose()?;
        self.reads.beneficiaries.insert(id, found.clone());
        Ok(found)
    }

    async fn insert_file(&mut self, row: &FileRow, content: &[u8]) -> StoreResult<()> {
        let created = db_time(row.created_at);
        let content = self.w.keys.encrypt_bytes(content)?;
        self.exec(
            payouts::SQL_FILE_INSERT,
            &[
                &row.id,
                &row.account_id.0,
                &row.file_name,
                &row.file_type,
                &row.size,
                &row.sha256,
                &row.notes,
                &created,
                &content,
            ],
        )
        .await?;
        Ok(())
    }

    async fn file(&mut self, id: Uuid) -> StoreResult<Option<FileRow>> {
        let none: Option<Uuid> = None;
        self.opt(payouts::SQL_FILE, &[&id, &none]).await?.as_ref().map(payouts::file_from_row).transpose()
    }

    async fn insert_payout(&mut self, row: &PayoutRow) -> StoreResult<()> {
        let row = &self.w.keys.seal_payout(row)?;
        self.defer(payouts::create_row(row)).await
    }

    async fn payout(&mut self, id: Uuid) -> StoreResult<Option<PayoutRow>> {
        let none: Option<Uuid> = None;
        let keys = self.w.keys.clone();
        self.opt(payouts::SQL_PAYOUT, &[&id, &none])
            .await?
            .as_ref()
            .map(|r| payouts::payout_from_row(r).and_then(|p| keys.open_payout(p)))
            .transpose()
    }

    async fn insert_transfer(&mut self, t: &crate::TransferRow) -> StoreResult<()> {
        let (created, completed) = (db_time(t.created_at), t.completed_at.map(db_time));
        self.exec(
            transfers::SQL_TRANSFER_INSERT,
            &[
                &t.id,
                &t.account_id.0,
                &t.short_reference_id,
                &t.source_account_id.0,
                &t.target_account_id.0,
                &t.currency,
                &t.amount,
                &t.reason,
                &t.status,
                &created,
                &completed,
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_payout_state(&mut self, c: &PayoutStateChange) -> StoreResult<()> {
        let (at, completed) = (db_time(c.at), c.completed_at.map(db_time));
        let changed = self
            .exec(
                payouts::SQL_PAYOUT_SET_STATE,
                &[&c.id, &c.to_state, &c.failure_reason, &c.failure_returned_amount, &completed, &at, &c.from_state],
            )
            .await?;
        if changed != 1 {
            return Err(StoreError::Database(format!("payout {} is not in state {:?}", c.id, c.from_state)));
        }
        self.exec(payouts::SQL_PAYOUT_TRANSITION, &[&c.id, &c.from_state, &c.to_state, &c.reason, &at]).await?;
        Ok(())
    }

    async fn upsert_fx_rate(&mut self, row: &crate::FxRateRow) -> StoreResult<()> {
        self.fx_upsert_rate(row).await
    }

    async fn fx_rate(&mut self, currency_pair: &str) -> StoreResult<Option<crate::FxRateRow>> {
        self.fx_rate_get(currency_pair).await
    }

    async fn insert_quote(&mut self, row: &crate::QuoteRow) -> StoreResult<()> {
        self.fx_insert_quote(row).await
    }

    async fn quote(&mut self, id: Uuid) -> StoreResult<Option<crate::QuoteRow>> {
        self.fx_quote(id).await
    }

    async fn mark_quote_used(&mut self, id: Uuid, used_by: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        self.fx_mark_quote_used(id, used_by, at).await
    }

    async fn insert_conversion(&mut self, row: &crate::ConversionRow) -> StoreResult<()> {
        self.fx_insert_conversion(row).await
    }

    async fn insert_event(&mut self, e: &NewEvent) -> StoreResult<()> {
        let main: Vec<Val> = vec![
            e.id.into(),
            e.account_id.0.into(),
            e.event_name.clone().into(),
            e.event_type.clone().into(),
            e.source_id.into(),
            e.data.to_string().into(),
            db_time(e.created_at).into(),
        ];
        self.defer(Rows { multi: &webhooks::EVENTS_MANY, main, extra: Vec::new() }).await
    }

    async fn event(&mut self, id: Uuid) -> StoreResult<Option<crate::EventRow>> {
        self.webhook_event(id).await
    }

    async fn insert_webhook_endpoint(&mut self, row: &crate::WebhookEndpointRow) -> StoreResult<()> {
        self.webhook_insert_endpoint(row).await
    }

    async fn webhook_endpoint(&mut self, id: Uuid) -> StoreResult<Option<crate::WebhookEndpointRow>> {
        self.webhook_endpoint_get(id).await
    }

    async fn update_webhook_endpoint(&mut self, row: &crate::WebhookEndpointRow) -> StoreResult<()> {
        self.webhook_update_endpoint(row).await
    }

    async fn count_active_webhook_endpoints(&mut self, account: AccountId) -> StoreResult<u64> {
        self.webhook_count_active(account).await
    }

    async fn fail_pending_webhook_deliveries(
        &mut self,
        endpoint: Uuid,
        at: OffsetDateTime,
        reason: &str,
    ) -> StoreResult<u64> {
        self.webhook_fail_pending(endpoint, at, reason).await
    }

    async fn claim_webhook_deliveries(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::ClaimedDelivery>> {
        self.webhook_claim(now, lease_until, limit).await
    }

    async fn record_webhook_attempt(&mut self, record: &crate::WebhookAttemptRecord) -> StoreResult<bool> {
        self.webhook_record(record).await
    }

    async fn record_webhook_attempts(&mut self, records: &[crate::WebhookAttemptRecord]) -> StoreResult<Vec<bool>> {
        self.webhook_record_many(records).await
    }

    async fn count_replay_events(&mut self, filter: &crate::WebhookReplayFilter) -> StoreResult<u64> {
        self.webhook_count_replay(filter).await
    }

    async fn replay_webhook_events(
        &mut self,
        filter: &crate::WebhookReplayFilter,
        at: OffsetDateTime,
    ) -> StoreResult<u64> {
        self.webhook_replay(filter, at).await
    }

    // --- sftp ---
    async fn insert_sftp_key(&mut self, k: &crate::SftpKeyRow) -> StoreResult<()> {
        let (created, revoked) = (db_time(k.created_at), k.revoked_at.map(db_time));
        self.exec(sftp::SQL_KEY_INSERT, &[&k.id, &k.account_id.0, &k.public_key, &k.fingerprint, &created, &revoked])
            .await?;
        Ok(())
    }

    async fn sftp_key_by_fingerprint(&mut self, fingerprint: &str) -> StoreResult<Option<crate::SftpKeyRow>> {
        self.opt(sftp::SQL_KEY_BY_FINGERPRINT, &[&fingerprint]).await?.as_ref().map(sftp::key_from_row).transpose()
    }

    async fn revoke_sftp_key(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        let at = db_time(at);
        Ok(self.exec(sftp::SQL_KEY_REVOKE, &[&id, &account.0, &at]).await? > 0)
    }

    async fn insert_sftp_file(&mut self, f: &crate::SftpFileRow) -> StoreResult<()> {
        let (created, updated) = (db_time(f.created_at), db_time(f.updated_at));
        self.exec(
            sftp::SQL_FILE_INSERT,
            &[
                &f.id,
                &f.account_id.0,
                &f.kind,
                &f.name,
                &f.sha256,
                &f.size,
                &f.status,
                &f.batch_id,
                &f.detail,
                &created,
                &updated,
            ],
        )
        .await?;
        Ok(())
    }

    async fn sftp_file(&mut self, id: Uuid) -> StoreResult<Option<crate::SftpFileRow>> {
        self.opt(sftp::SQL_FILE, &[&id]).await?.as_ref().map(sftp::file_from_row).transpose()
    }

    async fn sftp_file_by_content(
        &mut self,
        account: AccountId,
        kind: &str,
        sha256: &str,
    ) -> StoreResult<Option<crate::SftpFileRow>> {
        self.opt(sftp::SQL_FILE_BY_CONTENT, &[&account.0, &kind, &sha256])
            .await?
            .as_ref()
            .map(sftp::file_from_row)
            .transpose()
    }

    async fn update_sftp_file(
        &mut self,
        id: Uuid,
        status: &str,
        batch_id: Option<Uuid>,
        detail: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let at = db_time(at);
        self.exec(sftp::SQL_FILE_UPDATE, &[&id, &status, &batch_id, &detail, &at]).await?;
        Ok(())
    }

    // --- audit trail ---
    async fn lock_audit_chains(&mut self, accounts: &[AccountId]) -> StoreResult<()> {
        let mut ids: Vec<Uuid> = accounts.iter().map(|a| a.0).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        if !ids.iter().all(|id| self.w.known_audit_chains.contains(id)) {
            self.exec(audit::SQL_LOCK_CREATE, &[&ids, &outlay_core::audit::GENESIS_HASH]).await?;
        }
        for row in self.all(audit::SQL_LOCK, &[&ids]).await? {
            let account: Uuid = col(&row, 0)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = self.audit_heads.entry(account) {
                slot.insert(Held { value: (col(&row, 1)?, col(&row, 2)?), dirty: false });
                self.remember(Undo::AuditHead(account, None));
            }
        }
        Ok(())
    }

    async fn append_audit(&mut self, draft: &crate::AuditDraft) -> StoreResult<crate::AuditRow> {
        let account = draft.account_id.0;
        let (prev_seq, prev_hash) = match self.audit_heads.get(&account) {
            Some(held) => held.value.clone(),
            None => {
                let head = match self.opt(audit::SQL_HEAD, &[&account]).await? {
                    Some(row) => row,
                    None => {
                        self.exec(audit::SQL_HEAD_CREATE, &[&account, &outlay_core::audit::GENESIS_HASH]).await?;
                        self.one(audit::SQL_HEAD, &[&account]).await?
                    }
                };
                let head: (i64, String) = (col(&head, 0)?, col(&head, 1)?);
                self.audit_heads.insert(account, Held { value: head.clone(), dirty: false });
                self.remember(Undo::AuditHead(account, None));
                head
            }
        };
        let mut out = crate::AuditRow { draft: draft.clone(), seq: prev_seq + 1, prev_hash, hash: String::new() };
        out.draft.at = db_time(draft.at);
        out.hash = out.with_fields(|f| outlay_core::audit::record_hash(&out.prev_hash, f));
        let d = &out.draft;
        let status = i32::try_from(d.status).unwrap_or(i32::MAX);
        let main: Vec<Val> = vec![
            account.into(),
            out.seq.into(),
            d.id.into(),
            d.at.into(),
            d.credential_id.clone().into(),
            d.role.clone().into(),
            d.action.clone().into(),
            d.object_type.clone().into(),
            d.object_id.clone().into(),
            d.source_ip.clone().into(),
            d.user_agent.clone().into(),
            d.request_id.clone().into(),
            d.before.clone().into(),
            d.after.clone().into(),
            status.into(),
            d.error_code.clone().into(),
            out.prev_hash.clone().into(),
            out.hash.clone().into(),
        ];
        self.defer(Rows { multi: &audit::INSERT_MANY, main, extra: Vec::new() }).await?;
        let old = self.audit_heads.insert(account, Held { value: (out.seq, out.hash.clone()), dirty: true });
        self.remember(Undo::AuditHead(account, old));
        Ok(out)
    }

    async fn reseal_secrets(&mut self) -> StoreResult<u64> {
        let keys = self.w.keys.clone();
        let mut changed = 0;
        for (select, update) in secrets::SEALED {
            for row in self.all(select, &[]).await? {
                let (id, text): (Uuid, String) = (col(&row, 0)?, col(&row, 1)?);
                let value: serde_json::Value = serde_json::from_str(&text).map_err(StoreError::corrupt)?;
                let sealed = keys.seal_json(&value)?;
                if sealed != value {
                    self.exec(update, &[&id, &sealed.to_string()]).await?;
                    changed += 1;
                }
            }
        }
        for (select, update) in secrets::SEALED_TEXT {
            for row in self.all(select, &[]).await? {
                let (id, text): (Uuid, String) = (col(&row, 0)?, col(&row, 1)?);
                let sealed = keys.encrypt(&text)?;
                if sealed != text {
                    self.exec(update, &[&id, &sealed]).await?;
                    changed += 1;
                }
            }
        }
        // Documents one at a time (each up to 20 MiB).
        for row in self.all(secrets::SQL_FILE_IDS, &[]).await? {
            let id: Uuid = col(&row, 0)?;
            let content: Vec<u8> = col(&self.one(secrets::SQL_FILE_CONTENT, &[&id]).await?, 0)?;
            let sealed = keys.reseal_bytes(&content)?;
            if sealed != content {
                self.exec(secrets::SQL_FILE_CONTENT_UPDATE, &[&id, &sealed]).await?;
                changed += 1;
            }
        }
        for row in self.all(secrets::SQL_BATCH_PAYLOADS, &[]).await? {
            let (batch, number, text): (Uuid, i64, String) = (col(&row, 0)?, col(&row, 1)?, col(&row, 2)?);
            let sealed = keys.encrypt(&text)?;
            if sealed != text {
                self.exec(secrets::SQL_BATCH_PAYLOAD_UPDATE, &[&batch, &number, &sealed]).await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    // --- reports ---
    async fn insert_report(&mut self, row: &crate::ReportRow) -> StoreResult<bool> {
        self.report_insert(row).await
    }

    async fn claim_reports(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::ReportRow>> {
        self.report_claim(now, lease_until, limit).await
    }

    async fn finish_report(&mut self, finish: &crate::ReportFinish) -> StoreResult<bool> {
        self.report_finish(finish).await
    }

    // --- batches ---
    async fn insert_payout_batch(&mut self, b: &crate::PayoutBatchRow) -> StoreResult<()> {
        let t = |v: Option<OffsetDateTime>| v.map(db_time);
        let (approved_at, cancelled_at, released_at, completed_at) =
            (t(b.approved_at), t(b.cancelled_at), t(b.released_at), t(b.completed_at));
        let (created, updated) = (db_time(b.created_at), db_time(b.updated_at));
        let ((valid_totals, held), held_at) = (batches::funding_text(b), t(b.held_at));
        self.exec(
            batches::SQL_BATCH_INSERT,
            &[
                &b.id,
                &b.account_id.0,
                &b.created_by,
                &b.file_name,
                &b.format,
                &b.mode,
                &b.content_sha256,
                &b.dedup_sha256,
                &b.status,
                &b.approval_required,
                &b.total_rows,
                &b.valid_rows,
                &b.invalid_rows,
                &b.open_payouts,
                &b.failure_code,
                &b.failure_reason,
                &b.approved_by,
                &approved_at,
                &b.cancelled_by,
                &cancelled_at,
                &released_at,
                &completed_at,
                &created,
                &updated,
                &b.quote_id,
                &b.client_rate,
                &valid_totals,
                &held,
                &held_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn payout_batch(&mut self, id: Uuid) -> StoreResult<Option<crate::PayoutBatchRow>> {
        self.opt(batches::SQL_BATCH_FOR_UPDATE, &[&id]).await?.as_ref().map(batches::batch_from_row).transpose()
    }

    async fn update_payout_batch(&mut self, b: &crate::PayoutBatchRow) -> StoreResult<()> {
        let t = |v: Option<OffsetDateTime>| v.map(db_time);
        let (approved_at, cancelled_at, released_at, completed_at) =
            (t(b.approved_at), t(b.cancelled_at), t(b.released_at), t(b.completed_at));
        let updated = db_time(b.updated_at);
        let ((valid_totals, held), held_at) = (batches::funding_text(b), t(b.held_at));
        self.exec(
            batches::SQL_BATCH_UPDATE,
            &[
                &b.id,
                &b.dedup_sha256,
                &b.status,
                &b.approval_required,
                &b.total_rows,
                &b.valid_rows,
                &b.invalid_rows,
                &b.open_payouts,
                &b.failure_code,
                &b.failure_reason,
                &b.approved_by,
                &approved_at,
                &b.cancelled_by,
                &cancelled_at,
                &released_at,
                &completed_at,
                &updated,
                &valid_totals,
                &held,
                &held_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn payout_batch_by_hash(&mut self, account: AccountId, sha256: &str) -> StoreResult<Option<Uuid>> {
        match self.opt(batches::SQL_BATCH_BY_HASH, &[&account.0, &sha256]).await? {
            Some(row) => Ok(Some(col(&row, 0)?)),
            None => Ok(None),
        }
    }

    async fn insert_batch_items(&mut self, items: &[crate::BatchItemRow]) -> StoreResult<()> {
        if items.is_empty() {
            return Ok(());
        }
        let batch: Vec<Uuid> = items.iter().map(|i| i.batch_id).collect();
        let row: Vec<i64> = items.iter().map(|i| i.row_number).collect();
        let status: Vec<&str> = items.iter().map(|i| i.status.as_str()).collect();
        let currency: Vec<Option<&str>> = items.iter().map(|i| i.currency.as_deref()).collect();
        let amount: Vec<Option<i64>> = items.iter().map(|i| i.amount).collect();
        let reference: Vec<Option<&str>> = items.iter().map(|i| i.payout_reference.as_deref()).collect();
        let payload: Vec<Option<String>> =
            items.iter().map(|i| self.w.keys.encrypt_opt(i.payload.as_deref())).collect::<StoreResult<_>>()?;
        let payout: Vec<Option<Uuid>> = items.iter().map(|i| i.payout_id).collect();
        let field: Vec<Option<&str>> = items.iter().map(|i| i.error_field.as_deref()).collect();
        let code: Vec<Option<&str>> = items.iter().map(|i| i.error_code.as_deref()).collect();
        let message: Vec<Option<&str>> = items.iter().map(|i| i.error_message.as_deref()).collect();
        self.exec(
            batches::SQL_ITEMS_INSERT,
            &[&batch, &row, &status, &currency, &amount, &reference, &payload, &payout, &field, &code, &message],
        )
        .await?;
        Ok(())
    }

    async fn batch_items_with_status(
        &mut self,
        batch: Uuid,
        status: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::BatchItemRow>> {
        let limit = i64::from(limit);
        let keys = self.w.keys.clone();
        collect(&self.all(batches::SQL_ITEMS_WITH_STATUS, &[&batch, &status, &after, &limit]).await?, |r| {
            batches::item_from_row(r).and_then(|i| keys.open_batch_item(i))
        })
    }

    async fn update_batch_item(&mut self, i: &crate::BatchItemRow) -> StoreResult<()> {
        let i = &self.w.keys.seal_batch_item(i)?;
        self.exec(
            batches::SQL_ITEM_UPDATE,
            &[
                &i.batch_id,
                &i.row_number,
                &i.status,
                &i.payload,
                &i.payout_id,
                &i.error_field,
                &i.error_code,
                &i.error_message,
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_batch_items_status(&mut self, batch: Uuid, from: &str, to: &str) -> StoreResult<u64> {
        self.exec(batches::SQL_ITEMS_SET_STATUS, &[&batch, &from, &to]).await
    }

    async fn mark_batch_items_created(&mut self, batch: Uuid, created: &[(i64, Uuid)]) -> StoreResult<()> {
        if created.is_empty() {
            return Ok(());
        }
        let rows: Vec<i64> = created.iter().map(|(r, _)| *r).collect();
        let ids: Vec<Uuid> = created.iter().map(|(_, id)| *id).collect();
        self.exec(batches::SQL_ITEMS_CREATED, &[&batch, &rows, &ids]).await?;
        self.exec(batches::SQL_PAYOUTS_SET_BATCH, &[&batch, &ids]).await?;
        Ok(())
    }

    async fn payout_batch_id(&mut self, payout: Uuid) -> StoreResult<Option<Uuid>> {
        match self.opt(batches::SQL_PAYOUT_BATCH_ID, &[&payout]).await? {
            Some(row) => col(&row, 0),
            None => Ok(None),
        }
    }

    async fn hold_batch_payouts(
        &mut self,
        batch: Uuid,
        holds: &[crate::BatchPayoutHold],
        at: OffsetDateTime,
    ) -> Result<(), PostError> {
        self.batch_hold_payouts(batch, holds, at).await
    }

    async fn approval_policy(&mut self, account: AccountId) -> StoreResult<Option<crate::ApprovalPolicyRow>> {
        if let Some(cached) = self.reads.policies.get(&account.0) {
            return Ok(cached.clone());
        }
        let found =
            self.opt(batches::SQL_POLICY, &[&account.0]).await?.as_ref().map(batches::policy_from_row).transpose()?;
        self.reads.policies.insert(account.0, found.clone());
        Ok(found)
    }

    async fn upsert_approval_policy(&mut self, p: &crate::ApprovalPolicyRow) -> StoreResult<()> {
        let thresholds = serde_json::to_string(&p.payout_approval_thresholds).map_err(StoreError::corrupt)?;
        let updated = db_time(p.updated_at);
        self.exec(
            batches::SQL_POLICY_UPSERT,
            &[&p.account_id.0, &p.approval_required_for_batches, &thresholds, &p.updated_by, &updated],
        )
        .await?;
        Ok(())
    }

    // --- compliance (issue 7) ---
    async fn insert_screening_list(
        &mut self,
        list: &crate::ScreeningListRow,
        files: &crate::ScreeningFiles,
    ) -> StoreResult<()> {
        self.compliance_insert_list(list, files).await
    }

    async fn screening_list_version(&mut self) -> StoreResult<Option<i64>> {
        self.compliance_list_version().await
    }

    async fn screening_list_files(&mut self, version: i64) -> StoreResult<Option<crate::ScreeningFiles>> {
        self.compliance_list_files(version).await
    }

    async fn insert_compliance_review(&mut self, row: &crate::ComplianceReviewRow) -> StoreResult<()> {
        self.compliance_insert_review(row).await
    }

    async fn compliance_review(&mut self, id: Uuid) -> StoreResult<Option<crate::ComplianceReviewRow>> {
        self.compliance_review_tx(id).await
    }

    async fn decide_compliance_review(&mut self, decision: &crate::ReviewDecisionRow) -> StoreResult<bool> {
        self.compliance_decide(decision).await
    }

    async fn latest_review_status(&mut self, subject: Uuid) -> StoreResult<Option<String>> {
        self.compliance_latest_status(subject).await
    }

    async fn insert_screening_hit(&mut self, row: &crate::ScreeningHitRow) -> StoreResult<()> {
        self.compliance_insert_hit(row).await
    }

    async fn cleared_screening_entries(&mut self, beneficiary: Uuid) -> StoreResult<Vec<(String, String)>> {
        self.compliance_cleared_entries(beneficiary).await
    }

    async fn compliance_rules(&mut self, account: AccountId) -> StoreResult<Option<crate::ComplianceRulesRow>> {
        self.compliance_rules_tx(account).await
    }

    async fn upsert_compliance_rules(&mut self, row: &crate::ComplianceRulesRow) -> StoreResult<()> {
        self.compliance_upsert_rules(row).await
    }

    async fn compliance_context(
        &mut self,
        account: AccountId,
        beneficiary: Uuid,
    ) -> StoreResult<crate::ComplianceContext> {
        if let Some(cached) = self.reads.contexts.get(&(account.0, beneficiary)) {
            return Ok(cached.clone());
        }
        let found = self.compliance_context_tx(account, beneficiary).await?;
        self.reads.contexts.insert((account.0, beneficiary), found.clone());
        Ok(found)
    }

    async fn payout_totals(
        &mut self,
        account: AccountId,
        currency: Option<&str>,
        beneficiary: Option<Uuid>,
        since: OffsetDateTime,
    ) -> StoreResult<crate::PayoutTotals> {
        self.compliance_payout_totals(account, currency, beneficiary, since).await
    }

    // --- jobs ---
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool> {
        let payload = job.payload.to_string();
        let changed = self
            .exec(
                jobs::SQL_ENQUEUE,
                &[
                    &job.id,
                    &job.kind,
                    &job.dedupe_key,
                    &payload,
                    &db_time(job.run_at),
                    &job.max_attempts,
                    &db_time(job.created_at),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn claim_jobs(
        &mut self,
        kinds: &[&str],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<JobRow>> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let rows =
            self.all(jobs::SQL_CLAIM, &[&kinds, &db_time(now), &db_time(lease_until), &i64::from(limit)]).await?;
        let mut claimed = collect(&rows, jobs::from_row)?;
        claimed.sort_by_key(|j| (j.run_at, j.id));
        Ok(claimed)
    }

    async fn finish_job(&mut self, id: Uuid, claim_token: Uuid, end: &JobEnd, at: OffsetDateTime) -> StoreResult<bool> {
        let changed = match end {
            JobEnd::Done => self.exec(jobs::SQL_FINISH_DONE, &[&id, &claim_token, &db_time(at)]).await?,
            JobEnd::Failed { error, retry_at } => {
                self.exec(jobs::SQL_FINISH_FAILED, &[&id, &claim_token, &db_time(at), &db_time(*retry_at), error])
                    .await?
            }
        };
        Ok(changed == 1)
    }
    // --- payout approval (maker-checker) ---
    async fn set_payout_approval(&mut self, a: &crate::PayoutApprovalRecord) -> StoreResult<()> {
        self.exec(payouts::SQL_PAYOUT_SET_APPROVAL, &[&a.id, &a.approved_by, &db_time(a.at)]).await?;
        Ok(())
    }

    async fn set_payout_created_reason(&mut self, id: Uuid, reason: &str) -> StoreResult<()> {
        self.exec(payouts::SQL_PAYOUT_CREATED_REASON, &[&id, &reason]).await?;
        Ok(())
    }
}
