//! The embedded default: one SQLite file in WAL mode with `synchronous=FULL`. The writer owns one
//! connection on its own thread; reads use a small pool of connections on blocking threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use outlay_core::ledger::{self, EntryDraft, Kind, LedgerKey, Owner, StoredEntry, StoredLine};
use outlay_core::{AccountId, Currency};
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::migrate::{Migration, SQLITE};
use crate::{
    AccountRow, Backend, BalanceRow, BankAccount, BeneficiaryFilter, BeneficiaryRow, CredentialRow, CredentialView,
    DepositFilter, DepositRow, FileRow, HoldableObject, IdempotencyRecord, JobEnd, JobRow, NewEvent, NewJob, Page,
    PageRequest, PayoutFilter, PayoutRow, PayoutStateChange, PayoutTransition, PendingByReference, PostError, Store,
    StoreError, StoreResult, TokenGrant, TokenRow, TransactionFilter, TransactionRow, WithdrawalFilter, WithdrawalRow,
    WriteTx, WriterConn,
};

mod audit;
mod batches;
mod compliance;
mod credentials;
mod fx;
mod jobs;
mod payouts;
mod reports;
mod secrets;
mod sftp;
mod transfers;
mod wallets;
mod webhooks;

const READERS: usize = 4;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, Some(message)) = &e
            && code.code == rusqlite::ErrorCode::ConstraintViolation
        {
            // SQLite names the columns, not the constraint: map the ones callers act on.
            let constraint = if message.contains("idempotency_keys") {
                "idempotency_keys_pkey"
            } else if message.contains("credentials.client_id") {
                "credentials_client_id_key"
            } else if message.contains("short_reference_id") {
                "short_reference_key"
            } else {
                return StoreError::Database(e.to_string());
            };
            return StoreError::Conflict { constraint: constraint.to_owned() };
        }
        StoreError::Database(e.to_string())
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000).map_err(StoreError::corrupt)
}

fn opt_from_ms(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
    v.map(from_ms).transpose()
}

fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| StoreError::corrupt(format!("uuid {text}: {e}")))
}

fn account_id(text: &str) -> StoreResult<AccountId> {
    uuid(text).map(AccountId)
}

fn ledger_key(owner: &str, currency: &str, kind: &str) -> StoreResult<LedgerKey> {
    Ok(LedgerKey {
        owner: Owner::parse(owner).ok_or_else(|| StoreError::corrupt(format!("owner {owner}")))?,
        currency: Currency::parse(currency).map_err(|e| StoreError::corrupt(format!("currency {currency}: {e}")))?,
        kind: Kind::parse(kind).ok_or_else(|| StoreError::corrupt(format!("kind {kind}")))?,
    })
}

/// A column, with a type mismatch reported as a store error.
pub(crate) fn get<T: rusqlite::types::FromSql>(r: &Row<'_>, i: usize) -> StoreResult<T> {
    r.get(i).map_err(StoreError::from)
}

/// Every row of a cached statement, mapped.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(map(r)?);
    }
    Ok(out)
}

/// The first row of a cached statement, mapped.
pub(crate) fn query_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(map).transpose()
}

fn path_from_url(url: &str) -> StoreResult<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Config(format!("not a sqlite URL: {url}")))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() || rest.contains(":memory:") {
        return Err(StoreError::Config("SQLite needs a file path (sqlite://path/to/outlay.db)".into()));
    }
    Ok(PathBuf::from(rest))
}

fn connect(path: &PathBuf) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: every commit is fsynced; group commit in the writer amortises it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoint sub-journals in memory: one savepoint per command would otherwise cost a pwrite
    // to a temporary file for every page it touches.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn migrate(conn: &mut Connection, migrations: &[Migration]) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    for m in migrations {
        let applied: Option<String> = tx
            .query_row("SELECT checksum FROM schema_migrations WHERE version = ?1", [m.version], |r| r.get(0))
            .optional()?;
        match applied {
            Some(sum) if sum == m.checksum() => {}
            Some(_) => {
                return Err(StoreError::Config(format!(
                    "migration {} ({}) was changed after it was applied",
                    m.version, m.name
                )));
            }
            None => {
                tx.execute_batch(m.sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                    params![m.version, m.name, m.checksum(), ms(OffsetDateTime::now_utc())],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

pub struct SqliteStore {
    /// Encrypts account and identity numbers on write, decrypts them on read.
    keys: Arc<crate::crypto::KeyRing>,
    path: PathBuf,
    readers: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    /// Wakes the checkpointer after a commit; dropping the store stops it.
    checkpoints: std::sync::mpsc::SyncSender<()>,
    /// A [`Store::snapshot`]: every read runs on this connection, inside one read transaction.
    pinned: Option<Arc<Mutex<Connection>>>,
}

/// Frames the writer's own connection lets the WAL reach before it checkpoints by itself. Under
/// steady load this is what restarts the WAL: the checkpointer's passes never catch up with the
/// last commit exactly, and SQLite restarts the WAL only when they do. The writer then copies
/// what the checkpointer has not yet copied, a stall in its commit (measured: every ~245 ms at
/// 4,500 payouts/s, the episodes behind the open-loop p99).
const WRITER_AUTOCHECKPOINT: i64 = 16_384;

/// How long the checkpointer lets commits accumulate before copying them into the database.
/// Short, so that what the writer's own checkpoint finds left to copy is little: 100 ms gave
/// p99 16.7-17.2 ms at 4,500 payouts/s, 20 ms 11.9-13.3 ms, with closed-loop throughput unchanged.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Copies committed WAL frames into the database file (`PRAGMA wal_checkpoint(PASSIVE)`) on its
/// own thread and connection, so the writer thread never pays for it: SQLite's default runs the
/// checkpoint inside the commit that crosses 1,000 frames, which cost the writer ~8 % of its CPU.
/// Durability is unchanged: a commit is durable once its WAL frames are fsynced; the checkpoint
/// only moves them (and fsyncs the database file). Exits when the store is dropped.
fn spawn_checkpointer(path: PathBuf, wake: std::sync::mpsc::Receiver<()>) {
    let spawned = std::thread::Builder::new().name("outlay-checkpoint".into()).spawn(move || {
        let mut conn: Option<Connection> = None;
        // Blocks until a commit happened; ends once every sender (the store and the writer
        // connections) is gone.
        while wake.recv().is_ok() {
            std::thread::sleep(CHECKPOINT_EVERY);
            while wake.try_recv().is_ok() {}
            if conn.is_none() {
                conn = connect(&path).ok();
            }
            if let Some(c) = &conn
                && let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer's own checkpoint remains");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the WAL checkpointer; the writer checkpoints itself");
    }
}

impl SqliteStore {
    /// Encrypt account and identity numbers with these keys (see [`crate::crypto`]).
    pub fn with_keys(mut self, keys: Arc<crate::crypto::KeyRing>) -> Self {
        self.keys = keys;
        self
    }

    pub async fn open(url: &str) -> StoreResult<Self> {
        let path = path_from_url(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Config(format!("{}: {e}", dir.display())))?;
        }
        let p = path.clone();
        tokio::task::spawn_blocking(move || -> StoreResult<()> {
            let mut conn = connect(&p)?;
            migrate(&mut conn, SQLITE)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        let (checkpoints, wake) = std::sync::mpsc::sync_channel(1);
        spawn_checkpointer(path.clone(), wake);
        Ok(Self {
            keys: Arc::default(),
            path,
            readers: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(READERS)),
            checkpoints,
            pinned: None,
        })
    }

    /// Run `f` on a pooled read connection on the calling thread, when one is idle. For point
    /// reads by key (an idempotency record, a token), which take a few microseconds: handing them
    /// to the blocking pool costs more (two thread wake-ups) than the read. `None`: no idle
    /// connection, use [`Self::read`].
    fn read_now<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> Option<StoreResult<T>> {
        if self.pinned.is_some() {
            return None;
        }
        let _permit = self.permits.try_acquire().ok()?;
        let conn = self.readers.lock().ok()?.pop()?;
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        Some(out)
    }

    /// Run `f` on a pooled read connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        if let Some(pinned) = self.pinned.clone() {
            return tokio::task::spawn_blocking(move || {
                let conn = pinned.lock().map_err(|_| StoreError::Database("snapshot connection poisoned".into()))?;
                f(&conn)
            })
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?;
        }
        let _permit = self.permits.acquire().await.map_err(|e| StoreError::Database(e.to_string()))?;
        let pooled = self.readers.lock().map_err(|_| StoreError::Database("reader pool poisoned".into()))?.pop();
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pooled {
                Some(c) => c,
                None => connect(&path)?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
    }
}

const ACCOUNT_COLS: &str = "id, name, parent_id, kind, status, bank_account, created_at";

fn account_row(r: &Row<'_>) -> rusqlite::Result<RawAccount> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

type RawAccount = (String, String, Option<String>, String, String, Option<String>, i64);

fn to_account(raw: RawAccount) -> StoreResult<AccountRow> {
    let (id, name, parent, kind, status, bank, created) = raw;
    Ok(AccountRow {
        id: account_id(&id)?,
        name,
        parent_id: parent.as_deref().map(account_id).transpose()?,
        kind,
        status,
        bank_account: bank.as_deref().map(bank_from_json).transpose()?,
        created_at: from_ms(created)?,
    })
}

pub(crate) fn bank_to_json(b: &BankAccount) -> serde_json::Value {
    serde_json::json!({
        "account_holder": b.account_holder,
        "account_number": b.account_number,
        "bank_country_code": b.bank_country_code,
        "swift_code": b.swift_code,
        "bank_name": b.bank_name,
    })
}

pub(crate) fn bank_from_json(text: &str) -> StoreResult<BankAccount> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(StoreError::corrupt)?;
    bank_from_value(&v)
}

pub(crate) fn bank_from_value(v: &serde_json::Value) -> StoreResult<BankAccount> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    Ok(BankAccount {
        account_holder: s("account_holder").ok_or_else(|| StoreError::corrupt("bank_account.account_holder"))?,
        account_number: s("account_number").ok_or_else(|| StoreError::corrupt("bank_account.account_number"))?,
        bank_country_code: s("bank_country_code")
            .ok_or_else(|| StoreError::corrupt("bank_account.bank_country_code"))?,
        swift_code: s("swift_code"),
        bank_name: s("bank_name"),
    })
}

const DEPOSIT_COLS: &str = "id, account_id, short_reference_id, currency, amount, fee, status, receiver_account_number, deposit_reference, sender_name, sender_country, sender_account_number, sender_swift_code, source, created_at, completed_at";

fn deposit_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<DepositRow>> {
    let id: String = r.get(0)?;
    let account: String = r.get(1)?;
    let created: i64 = r.get(14)?;
    let completed: Option<i64> = r.get(15)?;
    let row = (|| {
        Ok(DepositRow {
            id: uuid(&id)?,
            account_id: account_id(&account)?,
            short_reference_id: r.get(2).map_err(StoreError::from)?,
            currency: r.get(3).map_err(StoreError::from)?,
            amount: r.get(4).map_err(StoreError::from)?,
            fee: r.get(5).map_err(StoreError::from)?,
            status: r.get(6).map_err(StoreError::from)?,
            receiver_account_number: r.get(7).map_err(StoreError::from)?,
            deposit_reference: r.get(8).map_err(StoreError::from)?,
            sender_name: r.get(9).map_err(StoreError::from)?,
            sender_country: r.get(10).map_err(StoreError::from)?,
            sender_account_number: r.get(11).map_err(StoreError::from)?,
            sender_swift_code: r.get(12).map_err(StoreError::from)?,
            source: r.get(13).map_err(StoreError::from)?,
            created_at: from_ms(created)?,
            completed_at: opt_from_ms(completed)?,
        })
    })();
    Ok(row)
}

const WITHDRAWAL_COLS: &str = "id, account_id, short_reference_id, currency, amount, fee, status, reference, bank_account_holder, bank_account_last4, bank_country_code, failure_reason, created_at, updated_at, completed_at";

fn withdrawal_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<WithdrawalRow>> {
    let id: String = r.get(0)?;
    let account: String = r.get(1)?;
    let created: i64 = r.get(12)?;
    let updated: i64 = r.get(13)?;
    let completed: Option<i64> = r.get(14)?;
    let row = (|| {
        Ok(WithdrawalRow {
            id: uuid(&id)?,
            account_id: account_id(&account)?,
            short_reference_id: r.get(2).map_err(StoreError::from)?,
            currency: r.get(3).map_err(StoreError::from)?,
            amount: r.get(4).map_err(StoreError::from)?,
            fee: r.get(5).map_err(StoreError::from)?,
            status: r.get(6).map_err(StoreError::from)?,
            reference: r.get(7).map_err(StoreError::from)?,
            bank_account_holder: r.get(8).map_err(StoreError::from)?,
            bank_account_last4: r.get(9).map_err(StoreError::from)?,
            bank_country_code: r.get(10).map_err(StoreError::from)?,
            failure_reason: r.get(11).map_err(StoreError::from)?,
            created_at: from_ms(created)?,
            updated_at: from_ms(updated)?,
            completed_at: opt_from_ms(completed)?,
        })
    })();
    Ok(row)
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<StoreResult<T>>>) -> StoreResult<Vec<T>> {
    rows.map(|r| r.map_err(StoreError::from).and_then(|x| x)).collect()
}

type IdempotencyRaw = (String, String, String, i64, Option<String>, Option<String>, i64);

fn idempotency_row(r: &Row<'_>) -> rusqlite::Result<IdempotencyRaw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn to_idempotency(raw: IdempotencyRaw) -> StoreResult<IdempotencyRecord> {
    let (account, key, request_hash, status, body, audit, created) = raw;
    Ok(IdempotencyRecord {
        account_id: account_id(&account)?,
        key,
        request_hash,
        status_code: u16::try_from(status).map_err(StoreError::corrupt)?,
        response_body: body.unwrap_or_default(),
        body_in_audit: audit.as_deref().map(Uuid::parse_str).transpose().map_err(StoreError::corrupt)?,
        created_at: from_ms(created)?,
    })
}

/// The key's record with its body, read from the audit record when the body is kept there. Two
/// statements, not a join: nearly every lookup is a miss (a new key), and inside the server
/// SQLite re-prepared the join on every execution (cause not pinned down), which cost a third of
/// the HTTP throughput.
fn get_idempotency(conn: &Connection, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
    let found = conn
        .prepare_cached(
            "SELECT account_id, key, request_hash, status_code, response_body, audit_id, created_at FROM idempotency_keys WHERE account_id = ?1 AND key = ?2",
        )?
        .query_row(params![account.to_string(), key], idempotency_row)
        .optional()?
        .map(to_idempotency)
        .transpose()?;
    let Some(mut record) = found else { return Ok(None) };
    if let Some(audit) = record.body_in_audit {
        let body: Option<Option<String>> = conn
            .prepare_cached("SELECT after_json FROM audit_log WHERE id = ?1")?
            .query_row([audit.to_string()], |r| r.get(0))
            .optional()?;
        record.response_body = body.flatten().ok_or_else(|| {
            StoreError::corrupt(format!("idempotency key {key}: audit record {audit} with its response is missing"))
        })?;
    }
    Ok(Some(record))
}

fn get_account(conn: &Connection, id: AccountId) -> StoreResult<Option<AccountRow>> {
    conn.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"))?
        .query_row([id.to_string()], account_row)
        .optional()?
        .map(to_account)
        .transpose()
}

fn get_deposit(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<DepositRow>> {
    conn.prepare_cached(&format!(
        "SELECT {DEPOSIT_COLS} FROM deposits WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"
    ))?
    .query_row(params![id.to_string(), account.map(|a| a.to_string())], deposit_row)
    .optional()?
    .transpose()
}

fn get_withdrawal(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<WithdrawalRow>> {
    conn.prepare_cached(&format!(
        "SELECT {WITHDRAWAL_COLS} FROM withdrawals WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"
    ))?
    .query_row(params![id.to_string(), account.map(|a| a.to_string())], withdrawal_row)
    .optional()?
    .transpose()
}

/// The guarded balance change of a posting: refused (changing nothing) if it would go negative.
fn change_balance(conn: &Connection, key: &LedgerKey, id: i64, delta: i64, at_ms: i64) -> Result<(), PostError> {
    let changed = conn
        .prepare_cached(
            "UPDATE ledger_accounts SET balance = balance + ?1, updated_at = ?2 WHERE id = ?3 AND balance + ?1 >= 0",
        )
        .map_err(StoreError::from)?
        .execute(params![delta, at_ms, id])
        .map_err(StoreError::from)?;
    if changed == 0 {
        return Err(PostError::Insufficient { key: key.to_string() });
    }
    Ok(())
}

/// `(seq, head_hash)` of a client's ledger chain (genesis if it has no entry yet).
fn chain_head(conn: &Connection, owner: &str) -> StoreResult<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT seq, head_hash FROM ledger_chains WHERE account_id = ?1")?
        .query_row([owner], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, ledger::GENESIS_HASH.to_owned())))
}

fn set_chain_head(conn: &Connection, owner: &str, seq: i64, hash: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO ledger_chains (account_id, seq, head_hash) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, head_hash = excluded.head_hash",
    )?
    .execute(params![owner, seq, hash])?;
    Ok(())
}

/// Insert `draft` as entry `seq` of `owner`'s chain after `prev`, with its lines
/// (`ledger_ids[i]` is the ledger account of `draft.lines()[i]`); returns the entry's hash.
#[allow(clippy::too_many_arguments)]
fn write_entry(
    conn: &Connection,
    draft: &EntryDraft,
    entry_id: &str,
    owner: &str,
    seq: i64,
    prev: &str,
    at_ms: i64,
    ledger_ids: &[i64],
) -> StoreResult<String> {
    let lines: Vec<StoredLine> =
        draft.lines().into_iter().map(|l| StoredLine { key: l.key, amount: l.amount }).collect();
    let reference_id = draft.reference.id.to_string();
    let fields = ledger::ChainFields {
        entry_id,
        owner,
        seq,
        kind: draft.kind.as_str(),
        reference_type: draft.reference.kind,
        reference_id: &reference_id,
        created_at_ms: at_ms,
    };
    let hash = ledger::entry_hash(prev, &fields, &lines);
    conn.prepare_cached(
        "INSERT INTO journal_entries (id, account_id, seq, kind, reference_type, reference_id, created_at, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![entry_id, owner, seq, draft.kind.as_str(), draft.reference.kind, reference_id, at_ms, prev, hash])?;
    let mut insert_line = conn.prepare_cached(
        "INSERT INTO journal_lines (entry_id, line_no, ledger_account_id, amount) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (no, (line, ledger_id)) in lines.iter().zip(ledger_ids).enumerate() {
        insert_line.execute(params![entry_id, no as i64, ledger_id, line.amount])?;
    }
    Ok(hash)
}

fn count(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(p, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

#[async_trait]
impl Store for SqliteStore {
    // --- wallets (stored-value model) ---
    async fn payout_model(&self, account: AccountId) -> StoreResult<Option<String>> {
        self.read(move |c| wallets::payout_model(c, account)).await
    }
    async fn recipient(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::RecipientRow>> {
        self.read(move |c| wallets::recipient(c, Some(account), id)).await
    }
    async fn recipients(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::RecipientRow>> {
        self.read(move |c| wallets::recipients(c, account, page)).await
    }
    async fn recipient_credential(&self, client_id: &str) -> StoreResult<Option<crate::RecipientCredentialRow>> {
        let client_id = client_id.to_owned();
        self.read(move |c| wallets::recipient_credential(c, &client_id)).await
    }
    async fn recipient_token(&self, token_hash: &str) -> StoreResult<Option<crate::RecipientTokenRow>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| wallets::recipient_token(c, &token_hash)).await
    }
    async fn recipient_transfer_methods(&self, recipient: Uuid) -> StoreResult<Vec<crate::TransferMethodRow>> {
        self.read(move |c| wallets::transfer_methods(c, recipient)).await
    }
    async fn wallet_payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::WalletPayoutRow>> {
        self.read(move |c| wallets::wallet_payout(c, account, id)).await
    }
    async fn wallet_payouts(
        &self,
        account: AccountId,
        recipient: Option<Uuid>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WalletPayoutRow>> {
        self.read(move |c| wallets::wallet_payouts(c, account, recipient, page)).await
    }
    async fn wallet_withdrawals(
        &self,
        recipient: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<crate::WalletWithdrawalRow>> {
        self.read(move |c| wallets::wallet_withdrawals(c, recipient, page)).await
    }
    async fn audit_wallet_by_reference(&self) -> StoreResult<Vec<crate::WalletByReference>> {
        self.read(wallets::audit_wallet_by_reference).await
    }
    async fn audit_wallet_withdrawals(&self) -> StoreResult<Vec<crate::WalletWithdrawalAudit>> {
        self.read(wallets::audit_wallet_withdrawals).await
    }
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn snapshot(&self) -> StoreResult<Arc<dyn Store>> {
        let path = self.path.clone();
        let conn = tokio::task::spawn_blocking(move || -> StoreResult<Connection> {
            let conn = connect(&path)?;
            // A WAL read transaction sees the database as of its first read until it ends (when
            // the connection closes, with the snapshot).
            conn.execute_batch("BEGIN")?;
            conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(Arc::new(SqliteStore {
            keys: self.keys.clone(),
            path: self.path.clone(),
            readers: self.readers.clone(),
            permits: self.permits.clone(),
            checkpoints: self.checkpoints.clone(),
            pinned: Some(Arc::new(Mutex::new(conn))),
        }))
    }

    async fn writer_conn(&self) -> StoreResult<Box<dyn WriterConn>> {
        let path = self.path.clone();
        let conn = tokio::task::spawn_blocking(move || -> StoreResult<Connection> {
            let conn = connect(&path)?;
            // The checkpointer thread checkpoints; this is only the safety net (see above).
            conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
            // The hot pages of a batch (balances, chain heads, index leaves) stay in memory.
            conn.pragma_update(None, "cache_size", -16_384)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(Box::new(SqliteWriterConn {
            conn,
            ledger_ids: HashMap::new(),
            keys: self.keys.clone(),
            checkpoints: self.checkpoints.clone(),
            strict_next: false,
        }))
    }

    async fn has_platform_account(&self) -> StoreResult<bool> {
        self.read(|c| Ok(count(c, "SELECT COUNT(*) FROM accounts WHERE kind = 'platform'", [])? > 0)).await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<AccountRow>> {
        self.read(move |c| get_account(c, id)).await?.map(|a| self.keys.open_account(a)).transpose()
    }

    async fn connected_accounts(&self, parent: AccountId, page: PageRequest) -> StoreResult<Page<AccountRow>> {
        self.read(move |c| {
            let p = parent.to_string();
            let total = count(c, "SELECT COUNT(*) FROM accounts WHERE parent_id = ?1", [&p])?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE parent_id = ?1 ORDER BY created_at, id LIMIT ?2 OFFSET ?3"
            ))?;
            let raws = stmt
                .query_map(params![p, page.size, page.offset()], account_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = raws.into_iter().map(to_account).collect::<StoreResult<Vec<_>>>()?;
            Ok(Page { total_items: total, items })
        })
        .await
        .and_then(|page| self.keys.open_page(page, crate::crypto::KeyRing::open_account))
    }

    async fn credential_by_client_id(&self, client_id: &str) -> StoreResult<Option<CredentialRow>> {
        let client_id = client_id.to_owned();
        self.read(move |c| {
            let raw: Option<(String, String, String, String, String, i64)> = c
                .prepare_cached(
                    "SELECT id, account_id, client_id, secret_hash, role, created_at FROM credentials WHERE client_id = ?1 AND revoked_at IS NULL",
                )?
                .query_row([client_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
                .optional()?;
            raw.map(|(id, account, client_id, secret_hash, role, created)| {
                Ok(CredentialRow {
                    id: uuid(&id)?,
                    account_id: account_id(&account)?,
                    client_id,
                    secret_hash,
                    role,
                    created_at: from_ms(created)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenGrant>> {
        if let Some(out) = self.read_now(|c| credentials::token_grant(c, token_hash)) {
            return out;
        }
        let token_hash = token_hash.to_owned();
        self.read(move |c| credentials::token_grant(c, &token_hash)).await
    }

    async fn credentials(&self, account: AccountId) -> StoreResult<Vec<CredentialView>> {
        self.read(move |c| credentials::credentials(c, account)).await
    }

    async fn idempotency(&self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        if let Some(out) = self.read_now(|c| get_idempotency(c, account, key)) {
            return out;
        }
        let key = key.to_owned();
        self.read(move |c| get_idempotency(c, account, &key)).await
    }

    async fn deposit(&self, account: AccountId, id: Uuid) -> StoreResult<Option<DepositRow>> {
        self.read(move |c| get_deposit(c, Some(account), id)).await?.map(|d| self.keys.open_deposit(d)).transpose()
    }

    async fn deposits(
        &self,
        account: AccountId,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> StoreResult<Page<DepositRow>> {
        let f = filter.clone();
        let page = self.read(move |c| {
            let where_ = "account_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR currency = ?3) AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at <= ?5)";
            let p = params![account.to_string(), f.status, f.currency, f.start_time.map(ms), f.end_time.map(ms)];
            let total = count(c, &format!("SELECT COUNT(*) FROM deposits WHERE {where_}"), p)?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {DEPOSIT_COLS} FROM deposits WHERE {where_} ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7"
            ))?;
            let items = collect(stmt.query_map(
                params![account.to_string(), f.status, f.currency, f.start_time.map(ms), f.end_time.map(ms), page.size, page.offset()],
                deposit_row,
            )?)?;
            Ok(Page { total_items: total, items })
        })
        .await?;
        self.keys.open_page(page, crate::crypto::KeyRing::open_deposit)
    }

    async fn pending_deposits(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<DepositRow>> {
        let rows = self
            .read(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {DEPOSIT_COLS} FROM deposits WHERE status = 'PENDING' AND created_at <= ?1 ORDER BY created_at LIMIT ?2"
                ))?;
                collect(stmt.query_map(params![ms(before), limit], deposit_row)?)
            })
            .await?;
        rows.into_iter().map(|d| self.keys.open_deposit(d)).collect()
    }

    async fn withdrawal(&self, account: AccountId, id: Uuid) -> StoreResult<Option<WithdrawalRow>> {
        self.read(move |c| get_withdrawal(c, Some(account), id)).await
    }

    async fn withdrawals(
        &self,
        account: AccountId,
        filter: &WithdrawalFilter,
        page: PageRequest,
    ) -> StoreResult<Page<WithdrawalRow>> {
        let f = filter.clone();
        self.read(move |c| {
            let where_ = "account_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR currency = ?3)";
            let total = count(c, &format!("SELECT COUNT(*) FROM withdrawals WHERE {where_}"), params![account.to_string(), f.status, f.currency])?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WITHDRAWAL_COLS} FROM withdrawals WHERE {where_} ORDER BY created_at DESC, id DESC LIMIT ?4 OFFSET ?5"
            ))?;
            let items = collect(stmt.query_map(
                params![account.to_string(), f.status, f.currency, page.size, page.offset()],
                withdrawal_row,
            )?)?;
            Ok(Page { total_items: total, items })
        })
        .await
    }

    async fn pending_withdrawals(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<WithdrawalRow>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WITHDRAWAL_COLS} FROM withdrawals WHERE status = 'PENDING' AND created_at <= ?1 ORDER BY created_at LIMIT ?2"
            ))?;
            collect(stmt.query_map(params![ms(before), limit], withdrawal_row)?)
        })
        .await
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
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT currency, kind, balance, created_at, updated_at FROM ledger_accounts WHERE owner_id = ?1 ORDER BY currency, kind",
            )?;
            let raws = stmt
                .query_map([account.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raws.into_iter()
                .map(|(currency, kind, balance, created, updated)| {
                    Ok(BalanceRow { currency, kind, balance, created_at: from_ms(created)?, updated_at: from_ms(updated)? })
                })
                .collect()
        })
        .await
    }

    async fn transactions(
        &self,
        account: AccountId,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<TransactionRow>> {
        let f = filter.clone();
        self.read(move |c| {
            let from = "FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id JOIN ledger_accounts a ON a.id = l.ledger_account_id \
                WHERE e.account_id = ?1 AND a.owner_id = ?1 AND (?2 IS NULL OR a.currency = ?2) AND (?3 IS NULL OR e.reference_type = ?3) \
                AND (?4 IS NULL OR a.kind = ?4) AND (?5 IS NULL OR e.created_at >= ?5) AND (?6 IS NULL OR e.created_at <= ?6)";
            let a = account.to_string();
            let (s, e) = (f.start_time.map(ms), f.end_time.map(ms));
            let total = count(c, &format!("SELECT COUNT(*) {from}"), params![a, f.currency, f.reference_type, f.balance_kind, s, e])?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT e.id, l.line_no, a.currency, a.kind, l.amount, e.kind, e.reference_type, e.reference_id, e.created_at {from} \
                 ORDER BY e.created_at DESC, e.seq DESC, l.line_no LIMIT ?7 OFFSET ?8"
            ))?;
            let raws = stmt
                .query_map(params![a, f.currency, f.reference_type, f.balance_kind, s, e, page.size, page.offset()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, i64>(8)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = raws
                .into_iter()
                .map(|(id, line_no, currency, balance_kind, amount, entry_kind, reference_type, reference_id, created)| {
                    Ok(TransactionRow {
                        entry_id: uuid(&id)?,
                        line_no,
                        currency,
                        balance_kind,
                        amount,
                        entry_kind,
                        reference_type,
                        reference_id,
                        created_at: from_ms(created)?,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Page { total_items: total, items })
        })
        .await
    }

    async fn beneficiary(&self, account: AccountId, id: Uuid) -> StoreResult<Option<BeneficiaryRow>> {
        self.read(move |c| payouts::beneficiary(c, Some(account), id))
            .await?
            .map(|b| self.keys.open_beneficiary(b))
            .transpose()
    }

    async fn beneficiaries(
        &self,
        account: AccountId,
        filter: &BeneficiaryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<BeneficiaryRow>> {
        let filter = filter.clone();
        let page = self.read(move |c| payouts::beneficiaries(c, account, &filter, page)).await?;
        self.keys.open_page(page, crate::crypto::KeyRing::open_beneficiary)
    }

    async fn file(&self, account: AccountId, id: Uuid) -> StoreResult<Option<FileRow>> {
        self.read(move |c| payouts::file(c, Some(account), id)).await
    }

    async fn payout(&self, account: AccountId, id: Uuid) -> StoreResult<Option<PayoutRow>> {
        self.read(move |c| payouts::payout(c, Some(account), id)).await?.map(|p| self.keys.open_payout(p)).transpose()
    }

    async fn payouts(
        &self,
        account: AccountId,
        filter: &PayoutFilter,
        page: PageRequest,
    ) -> StoreResult<Page<PayoutRow>> {
        let filter = filter.clone();
        let page = self.read(move |c| payouts::payouts(c, account, &filter, page)).await?;
        self.keys.open_page(page, crate::crypto::KeyRing::open_payout)
    }

    async fn payout_history(&self, id: Uuid) -> StoreResult<Vec<PayoutTransition>> {
        self.read(move |c| payouts::payout_history(c, id)).await
    }

    async fn transfer(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::TransferRow>> {
        self.read(move |c| transfers::transfer(c, account, id)).await
    }

    async fn transfers(
        &self,
        account: AccountId,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::TransferRow>> {
        self.read(move |c| transfers::transfers(c, account, status.as_deref(), page)).await
    }

    async fn open_payouts(&self, query: crate::OpenPayouts) -> StoreResult<Vec<PayoutRow>> {
        let rows = self.read(move |c| payouts::open_payouts(c, &query)).await?;
        rows.into_iter().map(|p| self.keys.open_payout(p)).collect()
    }

    async fn payout_by_short_reference(&self, short_reference: &str) -> StoreResult<Option<PayoutRow>> {
        let short_reference = short_reference.to_owned();
        let row = self.read(move |c| payouts::payout_by_short_reference(c, &short_reference)).await?;
        row.map(|p| self.keys.open_payout(p)).transpose()
    }

    async fn audit_entries(&self, after: Option<(AccountId, i64)>, limit: u32) -> StoreResult<Vec<StoredEntry>> {
        self.read(move |c| {
            let (after_account, after_seq) = after.map_or((String::new(), 0), |(a, s)| (a.to_string(), s));
            let mut stmt = c.prepare_cached(
                "WITH page AS (SELECT id, account_id, seq, kind, reference_type, reference_id, created_at, prev_hash, hash \
                   FROM journal_entries WHERE (account_id, seq) > (?1, ?2) ORDER BY account_id, seq LIMIT ?3) \
                 SELECT page.*, a.owner_id, a.currency, a.kind, l.amount FROM page \
                 LEFT JOIN journal_lines l ON l.entry_id = page.id LEFT JOIN ledger_accounts a ON a.id = l.ledger_account_id \
                 ORDER BY page.account_id, page.seq, l.line_no",
            )?;
            let mut rows = stmt.query(params![after_account, after_seq, limit])?;
            let mut out: Vec<StoredEntry> = Vec::new();
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                if out.last().is_none_or(|e| e.id != id) {
                    let owner: String = r.get(1)?;
                    out.push(StoredEntry {
                        id,
                        owner: account_id(&owner)?,
                        seq: r.get(2)?,
                        kind: r.get(3)?,
                        reference_type: r.get(4)?,
                        reference_id: r.get(5)?,
                        created_at_ms: r.get(6)?,
                        prev_hash: r.get(7)?,
                        hash: r.get(8)?,
                        lines: Vec::new(),
                    });
                }
                let owner: Option<String> = r.get(9)?;
                if let (Some(owner), Some(entry)) = (owner, out.last_mut()) {
                    let currency: String = r.get(10)?;
                    let kind: String = r.get(11)?;
                    entry.lines.push(StoredLine { key: ledger_key(&owner, &currency, &kind)?, amount: r.get(12)? });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn audit_balances(&self) -> StoreResult<Vec<(LedgerKey, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT owner_id, currency, kind, balance FROM ledger_accounts WHERE owner_id <> 'platform'",
            )?;
            let raws = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raws.into_iter().map(|(o, c, k, b)| Ok((ledger_key(&o, &c, &k)?, b))).collect()
        })
        .await
    }

    async fn audit_chain_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT account_id, seq, head_hash FROM ledger_chains")?;
            let raws = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            raws.into_iter().map(|(a, s, h)| Ok((account_id(&a)?, s, h))).collect()
        })
        .await
    }

    async fn audit_holdable_page(
        &self,
        kind: crate::HoldableKind,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<HoldableObject>> {
        let reference_type = kind.reference_type();
        let (table, status, fee, batch) = match kind {
            crate::HoldableKind::Deposit => ("deposits", "status", "fee", "NULL"),
            crate::HoldableKind::Withdrawal => ("withdrawals", "status", "fee", "NULL"),
            crate::HoldableKind::Payout => ("payouts", "state", "fee_amount", "batch_id"),
        };
        // What the ledger holds is summed per object through `journal_entries_reference`, so a
        // page costs its own rows, whatever the size of the ledger.
        let sql = format!(
            "SELECT o.account_id, o.id, o.{status}, o.currency, o.amount, o.{fee}, {batch}, \
             (SELECT COALESCE(SUM(l.amount), 0) FROM journal_entries e \
              JOIN journal_lines l ON l.entry_id = e.id JOIN ledger_accounts a ON a.id = l.ledger_account_id \
              WHERE e.reference_type = '{reference_type}' AND e.reference_id = o.id \
              AND a.kind = 'pending' AND a.owner_id <> 'platform') \
             FROM {table} o WHERE (?1 IS NULL OR o.id > ?1) ORDER BY o.id LIMIT ?2"
        );
        let after = after.map(|id| id.to_string());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![after, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(HoldableObject {
                    account_id: account_id(&r.get::<_, String>(0)?)?,
                    reference_type: reference_type.to_owned(),
                    reference_id: r.get(1)?,
                    status: r.get(2)?,
                    currency: r.get(3)?,
                    amount: r.get(4)?,
                    fee: r.get(5)?,
                    batch_id: r.get(6)?,
                    held: r.get(7)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn audit_pending_elsewhere(&self) -> StoreResult<Vec<PendingByReference>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT e.reference_type, e.reference_id, SUM(l.amount) \
                 FROM journal_lines l JOIN ledger_accounts a ON a.id = l.ledger_account_id JOIN journal_entries e ON e.id = l.entry_id \
                 WHERE a.kind = 'pending' AND a.owner_id <> 'platform' \
                 AND NOT (e.reference_type = 'deposit' AND EXISTS (SELECT 1 FROM deposits o WHERE o.id = e.reference_id)) \
                 AND NOT (e.reference_type = 'withdrawal' AND EXISTS (SELECT 1 FROM withdrawals o WHERE o.id = e.reference_id)) \
                 AND NOT (e.reference_type = 'payout' AND EXISTS (SELECT 1 FROM payouts o WHERE o.id = e.reference_id)) \
                 GROUP BY 1, 2",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(PendingByReference { reference_type: r.get(0)?, reference_id: r.get(1)?, net_pending: r.get(2)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn audit_batch_holds(&self) -> StoreResult<Vec<(Uuid, i64)>> {
        self.read(|c| {
            let rows = c
                .prepare("SELECT id, held FROM payout_batches WHERE held IS NOT NULL")?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, held)| Ok((uuid(&id)?, crate::batch_totals_sum(&held).map_err(StoreError::Database)?)))
                .collect()
        })
        .await
    }

    async fn audit_dangling_references(&self) -> StoreResult<Vec<(String, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare(crate::SQL_AUDIT_DANGLING)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    // --- sftp ---
    async fn sftp_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<crate::SftpKeyRow>> {
        let fingerprint = fingerprint.to_owned();
        self.read(move |c| sftp::key_by_fingerprint(c, &fingerprint)).await
    }

    async fn sftp_keys(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::SftpKeyRow>> {
        self.read(move |c| sftp::keys(c, account, page)).await
    }

    async fn sftp_file(&self, id: Uuid) -> StoreResult<Option<crate::SftpFileRow>> {
        self.read(move |c| sftp::file(c, id)).await
    }

    async fn sftp_open_files(&self) -> StoreResult<Vec<crate::SftpFileRow>> {
        self.read(sftp::open_files).await
    }

    // --- audit trail ---
    async fn audit_log(
        &self,
        account: AccountId,
        filter: &crate::AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::AuditRow>> {
        let filter = filter.clone();
        self.read(move |c| audit::list(c, account, &filter, page)).await
    }

    async fn audit_log_chain(
        &self,
        account: AccountId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::AuditRow>> {
        self.read(move |c| audit::chain(c, account, after_seq, limit)).await
    }

    async fn audit_log_heads(&self) -> StoreResult<Vec<(AccountId, i64, String)>> {
        self.read(audit::heads).await
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
        self.read(move |c| reports::ledger_lines(c, account, from, to, after, limit)).await
    }

    async fn report_balances_at(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        self.read(move |c| reports::balances_at(c, account, at)).await
    }

    async fn report_payouts(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<PayoutRow>> {
        self.read(move |c| reports::payouts(c, account, from, to, after, limit)).await
    }

    async fn report_reference_lines(
        &self,
        account: AccountId,
        reference_type: &str,
        ids: &[Uuid],
    ) -> StoreResult<Vec<crate::ReportLedgerLine>> {
        let (reference_type, ids) = (reference_type.to_owned(), ids.to_vec());
        self.read(move |c| reports::reference_lines(c, account, &reference_type, &ids)).await
    }

    async fn report_held_batch_payouts(&self, account: AccountId, payouts: &[Uuid]) -> StoreResult<Vec<(Uuid, Uuid)>> {
        let ids = payouts.to_vec();
        self.read(move |c| reports::held_batch_payouts(c, account, &ids)).await
    }

    async fn report(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::ReportRow>> {
        self.read(move |c| reports::report(c, account, id)).await
    }

    async fn reports(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::ReportRow>> {
        self.read(move |c| reports::reports(c, account, page)).await
    }

    async fn report_content(&self, account: AccountId, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.read(move |c| reports::content(c, account, id)).await
    }

    async fn reports_due(&self, now: OffsetDateTime) -> StoreResult<bool> {
        self.read(move |c| reports::due(c, now)).await
    }

    async fn active_accounts(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        self.read(move |c| reports::active_accounts(c, after, limit)).await
    }

    // --- batches ---
    async fn payout_batch(&self, account: AccountId, id: Uuid) -> StoreResult<Option<crate::PayoutBatchRow>> {
        self.read(move |c| batches::batch(c, Some(account), id)).await
    }

    async fn payout_batches(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<crate::PayoutBatchRow>> {
        self.read(move |c| batches::batches(c, account, page)).await
    }

    async fn payout_batch_items(
        &self,
        batch: Uuid,
        status: Option<String>,
        page: PageRequest,
    ) -> StoreResult<Page<crate::BatchItemRow>> {
        let page = self.read(move |c| batches::items(c, batch, status.as_deref(), page)).await?;
        self.keys.open_page(page, crate::crypto::KeyRing::open_batch_item)
    }

    async fn payout_batch_totals(&self, batch: Uuid) -> StoreResult<Vec<crate::BatchStatusTotal>> {
        self.read(move |c| batches::totals(c, batch)).await
    }

    async fn approval_policy(&self, account: AccountId) -> StoreResult<Option<crate::ApprovalPolicyRow>> {
        self.read(move |c| batches::policy(c, account)).await
    }

    async fn payout_batches_to_resume(&self, limit: u32) -> StoreResult<Vec<crate::PayoutBatchRow>> {
        self.read(move |c| batches::to_resume(c, limit)).await
    }

    // --- compliance (issue 7) ---
    async fn latest_screening_list(&self) -> StoreResult<Option<(crate::ScreeningListRow, crate::ScreeningFiles)>> {
        self.read(compliance::latest_list).await
    }

    async fn screening_lists(&self, limit: u32) -> StoreResult<Vec<crate::ScreeningListRow>> {
        self.read(move |c| compliance::lists(c, limit)).await
    }

    async fn compliance_review(
        &self,
        account: Option<AccountId>,
        id: Uuid,
    ) -> StoreResult<Option<crate::ComplianceReviewRow>> {
        self.read(move |c| compliance::review(c, account, id)).await
    }

    async fn compliance_reviews(
        &self,
        account: Option<AccountId>,
        filter: &crate::ReviewFilter,
        page: PageRequest,
    ) -> StoreResult<Page<crate::ComplianceReviewRow>> {
        let filter = filter.clone();
        self.read(move |c| compliance::reviews(c, account, &filter, page)).await
    }

    async fn screening_hits(&self, review: Uuid) -> StoreResult<Vec<crate::ScreeningHitRow>> {
        self.read(move |c| compliance::hits(c, review)).await
    }

    async fn compliance_rules(&self, account: AccountId) -> StoreResult<Option<crate::ComplianceRulesRow>> {
        self.read(move |c| compliance::rules(c, account)).await
    }

    async fn latest_review_status(&self, subject: Uuid) -> StoreResult<Option<String>> {
        self.read(move |c| compliance::latest_review_status(c, subject)).await
    }

    // --- jobs ---
    async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>> {
        self.read(move |c| jobs::job(c, id)).await
    }

    async fn jobs(&self, kind: Option<&str>, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>> {
        let (kind, status) = (kind.map(str::to_owned), status.map(str::to_owned));
        self.read(move |c| jobs::jobs(c, kind.as_deref(), status.as_deref(), limit)).await
    }

    async fn jobs_due(&self, kinds: &[&str], now: OffsetDateTime) -> StoreResult<bool> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.read(move |c| jobs::jobs_due(c, &kinds.iter().map(String::as_str).collect::<Vec<_>>(), now)).await
    }
}

/// The next `object_seq` of an event's source. `CAST(?1 AS TEXT)`, not `?1`: see
/// `compliance::context` (a bare parameter made SQLite compile the statement again on every use).
const NEXT_EVENT_SEQ_SQL: &str =
    "SELECT COALESCE(MAX(object_seq), 0) + 1 FROM events WHERE source_id = CAST(?1 AS TEXT)";

/// The writer's connection, plus a cache of ledger account ids (they never change once created).
pub struct SqliteWriterConn {
    conn: Connection,
    ledger_ids: HashMap<LedgerKey, i64>,
    keys: Arc<crate::crypto::KeyRing>,
    checkpoints: std::sync::mpsc::SyncSender<()>,
    /// The last batch needed a savepoint it had not set: set every one in the next transaction.
    strict_next: bool,
}

#[async_trait]
impl WriterConn for SqliteWriterConn {
    async fn begin<'a>(&'a mut self) -> StoreResult<Box<dyn WriteTx + 'a>> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let strict = std::mem::take(&mut self.strict_next);
        Ok(Box::new(SqliteTx { w: self, created: Vec::new(), marks: Vec::new(), open: true, strict }))
    }

    fn send_writes_at_once(&mut self) {
        self.strict_next = true;
    }
}

/// A savepoint as the engine sees it. SQLite copies every page a savepoint's changes touch into
/// its sub-journal (about a tenth of the writer's time per payout), and most commands either
/// succeed or are refused before they change anything, so a savepoint is only set for real in
/// a strict transaction: rolling back to one that was not set is free when nothing changed since
/// (`total_changes`), and otherwise fails the batch, which the writer reruns strictly.
struct Mark {
    created: usize,
    changes: u64,
    set: bool,
}

/// Calls block: the writer runs on its own thread, so there is nothing else to starve.
pub struct SqliteTx<'a> {
    w: &'a mut SqliteWriterConn,
    /// Ledger accounts inserted by this transaction: cached only once it commits.
    created: Vec<(LedgerKey, i64)>,
    marks: Vec<Mark>,
    open: bool,
    /// Set every savepoint (the rerun of a batch that needed one it had not set).
    strict: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.w.conn.execute_batch("ROLLBACK");
        }
    }
}

impl SqliteTx<'_> {
    fn ledger_id(&mut self, key: &LedgerKey, at: i64) -> StoreResult<i64> {
        if let Some(id) = self.w.ledger_ids.get(key) {
            return Ok(*id);
        }
        if let Some((_, id)) = self.created.iter().find(|(k, _)| k == key) {
            return Ok(*id);
        }
        let (owner, currency, kind) = (key.owner.as_key_text(), key.currency.code(), key.kind.as_key_text());
        let inserted = self
            .w
            .conn
            .prepare_cached(
                "INSERT INTO ledger_accounts (owner_id, currency, kind, balance, created_at, updated_at) VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![owner, currency, kind, at])?;
        let id: i64 = self
            .w
            .conn
            .prepare_cached("SELECT id FROM ledger_accounts WHERE owner_id = ?1 AND currency = ?2 AND kind = ?3")?
            .query_row(params![owner, currency, kind], |r| r.get(0))?;
        if inserted == 1 {
            self.created.push((key.clone(), id));
        } else {
            self.w.ledger_ids.insert(key.clone(), id);
        }
        Ok(id)
    }
}

#[async_trait]
impl WriteTx for SqliteTx<'_> {
    // --- wallets (stored-value model) ---
    async fn payout_model(&mut self, account: AccountId) -> StoreResult<Option<String>> {
        wallets::payout_model(&self.w.conn, account)
    }
    async fn set_payout_model(&mut self, account: AccountId, model: &str, at: OffsetDateTime) -> StoreResult<()> {
        wallets::set_payout_model(&self.w.conn, account, model, at)
    }
    async fn recipient(&mut self, id: Uuid) -> StoreResult<Option<crate::RecipientRow>> {
        wallets::recipient(&self.w.conn, None, id)
    }
    async fn recipient_by_reference(
        &mut self,
        account: AccountId,
        external_reference: &str,
    ) -> StoreResult<Option<crate::RecipientRow>> {
        wallets::recipient_by_reference(&self.w.conn, account, external_reference)
    }
    async fn insert_recipient(&mut self, row: &crate::RecipientRow) -> StoreResult<()> {
        wallets::insert_recipient(&self.w.conn, row)
    }
    async fn insert_recipient_credential(&mut self, row: &crate::RecipientCredentialRow) -> StoreResult<()> {
        wallets::insert_recipient_credential(&self.w.conn, row)
    }
    async fn insert_recipient_token(&mut self, row: &crate::RecipientTokenRow) -> StoreResult<()> {
        wallets::insert_recipient_token(&self.w.conn, row)
    }
    async fn transfer_method(&mut self, id: Uuid) -> StoreResult<Option<crate::TransferMethodRow>> {
        wallets::transfer_method(&self.w.conn, id)
    }
    async fn insert_transfer_method(&mut self, row: &crate::TransferMethodRow) -> StoreResult<()> {
        wallets::insert_transfer_method(&self.w.conn, row)
    }
    async fn insert_wallet_payout(&mut self, row: &crate::WalletPayoutRow) -> StoreResult<()> {
        wallets::insert_wallet_payout(&self.w.conn, row)
    }
    async fn wallet_withdrawal(&mut self, payout: Uuid) -> StoreResult<Option<crate::WalletWithdrawalRow>> {
        wallets::wallet_withdrawal(&self.w.conn, payout)
    }
    async fn insert_wallet_withdrawal(&mut self, row: &crate::WalletWithdrawalRow) -> StoreResult<()> {
        wallets::insert_wallet_withdrawal(&self.w.conn, row)
    }
    async fn savepoint(&mut self) -> StoreResult<()> {
        if self.strict {
            // Cached: `execute_batch` would parse the statement again for every command.
            self.w.conn.prepare_cached("SAVEPOINT cmd")?.execute([])?;
        }
        self.marks.push(Mark { created: self.created.len(), changes: self.w.conn.total_changes(), set: self.strict });
        Ok(())
    }

    async fn release_savepoint(&mut self) -> StoreResult<()> {
        if let Some(mark) = self.marks.pop()
            && mark.set
        {
            self.w.conn.prepare_cached("RELEASE cmd")?.execute([])?;
        }
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        let Some(mark) = self.marks.pop() else { return Ok(()) };
        self.created.truncate(mark.created);
        if mark.set {
            self.w.conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd")?;
        } else if self.w.conn.total_changes() != mark.changes {
            // Changes to undo and no savepoint to undo them with: the writer reruns the batch
            // with every savepoint set.
            self.w.strict_next = true;
            return Err(StoreError::Retry("a refused command had changed rows; the batch is rerun".into()));
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.w.conn.execute_batch("COMMIT")?;
        self.open = false;
        // Full: a wake-up is already pending, which is all the checkpointer needs.
        let _ = self.w.checkpoints.try_send(());
        let created = std::mem::take(&mut self.created);
        self.w.ledger_ids.extend(created);
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> StoreResult<()> {
        self.open = false;
        self.w.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }

    async fn platform_accounts_locked(&mut self) -> StoreResult<u64> {
        // `BEGIN IMMEDIATE` already holds the database's write lock.
        count(&self.w.conn, "SELECT COUNT(*) FROM accounts WHERE kind = 'platform'", [])
    }

    async fn lock_chains(&mut self, _accounts: &[AccountId]) -> StoreResult<()> {
        Ok(())
    }

    async fn idempotency_get(&mut self, account: AccountId, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        get_idempotency(&self.w.conn, account, key)
    }

    async fn idempotency_put(&mut self, rec: &IdempotencyRecord) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, status_code, response_body, audit_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                rec.account_id.to_string(),
                rec.key,
                rec.request_hash,
                rec.status_code,
                rec.body_in_audit.is_none().then_some(&rec.response_body),
                rec.body_in_audit.map(|id| id.to_string()),
                ms(rec.created_at)
            ])?;
        Ok(())
    }

    async fn post_entry(&mut self, draft: &EntryDraft, entry_id: Uuid, at: OffsetDateTime) -> Result<(), PostError> {
        draft.validate()?;
        let at_ms = ms(at);
        let mut changes = Vec::new();
        for (key, delta) in draft.net_changes() {
            let id = self.ledger_id(&key, at_ms)?;
            if key.must_stay_non_negative() && delta != 0 {
                changes.push((key, id, delta));
            }
        }
        // Debits first: a refused entry then changed no row, so its command needs no savepoint.
        changes.sort_by_key(|(_, _, delta)| *delta > 0);
        for (key, id, delta) in changes {
            change_balance(&self.w.conn, &key, id, delta, at_ms)?;
        }
        let owner = draft.chain_owner.to_string();
        let (seq, prev) = chain_head(&self.w.conn, &owner)?;
        let ledger_ids =
            draft.lines().iter().map(|l| self.ledger_id(&l.key, at_ms)).collect::<StoreResult<Vec<i64>>>()?;
        let hash = write_entry(&self.w.conn, draft, &entry_id.to_string(), &owner, seq + 1, &prev, at_ms, &ledger_ids)?;
        set_chain_head(&self.w.conn, &owner, seq + 1, &hash)?;
        Ok(())
    }

    async fn ledger_balance(&mut self, key: &LedgerKey) -> StoreResult<i64> {
        let balance: Option<i64> = self
            .w
            .conn
            .prepare_cached("SELECT balance FROM ledger_accounts WHERE owner_id = ?1 AND currency = ?2 AND kind = ?3")?
            .query_row(params![key.owner.as_key_text(), key.currency.code(), key.kind.as_key_text()], |r| r.get(0))
            .optional()?;
        Ok(balance.unwrap_or_default())
    }

    async fn insert_account(&mut self, row: &AccountRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(
                "INSERT INTO accounts (id, name, parent_id, kind, status, bank_account, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.id.to_string(),
                row.name,
                row.parent_id.map(|p| p.to_string()),
                row.kind,
                row.status,
                row.bank_account.as_ref().map(|b| self.w.keys.seal_bank_json(b)).transpose()?,
                ms(row.created_at)
            ])?;
        Ok(())
    }

    async fn set_bank_account(&mut self, account: AccountId, bank: Option<&BankAccount>) -> StoreResult<bool> {
        let n = self
            .w
            .conn
            .prepare_cached("UPDATE accounts SET bank_account = ?2 WHERE id = ?1")?
            .execute(params![account.to_string(), bank.map(|b| self.w.keys.seal_bank_json(b)).transpose()?])?;
        Ok(n == 1)
    }

    async fn account(&mut self, id: AccountId) -> StoreResult<Option<AccountRow>> {
        get_account(&self.w.conn, id)?.map(|a| self.w.keys.open_account(a)).transpose()
    }

    async fn insert_credential(&mut self, row: &CredentialRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(
                "INSERT INTO credentials (id, account_id, client_id, secret_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![row.id.to_string(), row.account_id.to_string(), row.client_id, row.secret_hash, row.role, ms(row.created_at)])?;
        Ok(())
    }

    async fn insert_token(&mut self, row: &TokenRow) -> StoreResult<()> {
        let conn = &self.w.conn;
        // Expired tokens are pruned as new ones are issued.
        conn.prepare_cached("DELETE FROM auth_tokens WHERE expires_at < ?1")?
            .execute([ms(row.created_at) - 3_600_000])?;
        conn.prepare_cached(
            "INSERT INTO auth_tokens (token_hash, credential_id, account_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![row.token_hash, row.credential_id.to_string(), row.account_id.to_string(), ms(row.expires_at), ms(row.created_at)])?;
        Ok(())
    }

    async fn revoke_credential(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        credentials::revoke(&self.w.conn, account, id, at)
    }

    async fn insert_deposit(&mut self, d: &DepositRow) -> StoreResult<()> {
        let d = &self.w.keys.seal_deposit(d)?;
        self.w
            .conn
            .prepare_cached(&format!(
                "INSERT INTO deposits ({DEPOSIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(params![
                d.id.to_string(),
                d.account_id.to_string(),
                d.short_reference_id,
                d.currency,
                d.amount,
                d.fee,
                d.status,
                d.receiver_account_number,
                d.deposit_reference,
                d.sender_name,
                d.sender_country,
                d.sender_account_number,
                d.sender_swift_code,
                d.source,
                ms(d.created_at),
                d.completed_at.map(ms)
            ])?;
        Ok(())
    }

    async fn deposit(&mut self, id: Uuid) -> StoreResult<Option<DepositRow>> {
        get_deposit(&self.w.conn, None, id)?.map(|d| self.w.keys.open_deposit(d)).transpose()
    }

    async fn set_deposit_status(
        &mut self,
        id: Uuid,
        status: &str,
        completed_at: Option<OffsetDateTime>,
    ) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached("UPDATE deposits SET status = ?2, completed_at = ?3 WHERE id = ?1")?
            .execute(params![id.to_string(), status, completed_at.map(ms)])?;
        Ok(())
    }

    async fn insert_withdrawal(&mut self, w: &WithdrawalRow) -> StoreResult<()> {
        self.w
            .conn
            .prepare_cached(&format!(
                "INSERT INTO withdrawals ({WITHDRAWAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                w.id.to_string(),
                w.account_id.to_string(),
                w.short_reference_id,
                w.currency,
                w.amount,
                w.fee,
                w.status,
                w.reference,
                w.bank_account_holder,
                w.bank_account_last4,
                w.bank_country_code,
                w.failure_reason,
                ms(w.created_at),
                ms(w.updated_at),
                w.completed_at.map(ms)
            ])?;
        Ok(())
    }

    async fn withdrawal(&mut self, id: Uuid) -> StoreResult<Option<WithdrawalRow>> {
        get_withdrawal(&self.w.conn, None, id)
    }

    async fn set_withdrawal_status(
        &mut self,
        id: Uuid,
        status: &str,
        at: OffsetDateTime,
        failure_reason: Option<&str>,
    ) -> StoreResult<()> {
        let completed = (status == "COMPLETED").then_some(ms(at));
        self.w
            .conn
            .prepare_cached("UPDATE withdrawals SET status = ?2, updated_at = ?3, completed_at = ?4, failure_reason = ?5 WHERE id = ?1")?
            .execute(params![id.to_string(), status, ms(at), completed, failure_reason])?;
        Ok(())
    }

    async fn insert_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()> {
        payouts::insert_beneficiary(&self.w.conn, &self.w.keys.seal_beneficiary(row)?)
    }

    async fn update_beneficiary(&mut self, row: &BeneficiaryRow) -> StoreResult<()> {
        payouts::update_beneficiary(&self.w.conn, &self.w.keys.seal_beneficiary(row)?)
    }

    async fn beneficiary(&mut self, id: Uuid) -> StoreResult<Option<BeneficiaryRow>> {
        payouts::beneficiary(&self.w.conn, None, id)?.map(|b| self.w.keys.open_beneficiary(b)).transpose()
    }

    async fn insert_file(&mut self, row: &FileRow, content: &[u8]) -> StoreResult<()> {
        payouts::insert_file(&self.w.conn, row, &self.w.keys.encrypt_bytes(content)?)
    }

    async fn file(&mut self, id: Uuid) -> StoreResult<Option<FileRow>> {
        payouts::file(&self.w.conn, None, id)
    }

    async fn insert_payout(&mut self, row: &PayoutRow) -> StoreResult<()> {
        payouts::insert_payout(&self.w.conn, &self.w.keys.seal_payout(row)?)
    }

    async fn payout(&mut self, id: Uuid) -> StoreResult<Option<PayoutRow>> {
        payouts::payout(&self.w.conn, None, id)?.map(|p| self.w.keys.open_payout(p)).transpose()
    }

    async fn insert_transfer(&mut self, row: &crate::TransferRow) -> StoreResult<()> {
        transfers::insert(&self.w.conn, row)
    }

    async fn set_payout_state(&mut self, change: &PayoutStateChange) -> StoreResult<()> {
        payouts::set_payout_state(&self.w.conn, change)
    }

    async fn upsert_fx_rate(&mut self, row: &crate::FxRateRow) -> StoreResult<()> {
        self.fx_upsert_rate(row)
    }

    async fn fx_rate(&mut self, currency_pair: &str) -> StoreResult<Option<crate::FxRateRow>> {
        self.fx_rate_get(currency_pair)
    }

    async fn insert_quote(&mut self, row: &crate::QuoteRow) -> StoreResult<()> {
        self.fx_insert_quote(row)
    }

    async fn quote(&mut self, id: Uuid) -> StoreResult<Option<crate::QuoteRow>> {
        self.fx_quote(id)
    }

    async fn mark_quote_used(&mut self, id: Uuid, used_by: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        self.fx_mark_quote_used(id, used_by, at)
    }

    async fn insert_conversion(&mut self, row: &crate::ConversionRow) -> StoreResult<()> {
        self.fx_insert_conversion(row)
    }

    async fn insert_event(&mut self, e: &NewEvent) -> StoreResult<()> {
        let conn = &self.w.conn;
        let source = e.source_id.to_string();
        let seq: i64 = conn.prepare_cached(NEXT_EVENT_SEQ_SQL)?.query_row([&source], |r| r.get(0))?;
        conn.prepare_cached(
            "INSERT INTO events (id, account_id, event_name, event_type, source_id, object_seq, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![e.id.to_string(), e.account_id.to_string(), e.event_name, e.event_type, source, seq, e.data.to_string(), ms(e.created_at)])?;
        self.webhook_fan_out(e)?;
        Ok(())
    }

    async fn event(&mut self, id: Uuid) -> StoreResult<Option<crate::EventRow>> {
        self.webhook_event(id)
    }

    async fn insert_webhook_endpoint(&mut self, row: &crate::WebhookEndpointRow) -> StoreResult<()> {
        self.webhook_insert_endpoint(row)
    }

    async fn webhook_endpoint(&mut self, id: Uuid) -> StoreResult<Option<crate::WebhookEndpointRow>> {
        self.webhook_endpoint_get(id)
    }

    async fn update_webhook_endpoint(&mut self, row: &crate::WebhookEndpointRow) -> StoreResult<()> {
        self.webhook_update_endpoint(row)
    }

    async fn count_active_webhook_endpoints(&mut self, account: AccountId) -> StoreResult<u64> {
        self.webhook_count_active(account)
    }

    async fn fail_pending_webhook_deliveries(
        &mut self,
        endpoint: Uuid,
        at: OffsetDateTime,
        reason: &str,
    ) -> StoreResult<u64> {
        self.webhook_fail_pending(endpoint, at, reason)
    }

    async fn claim_webhook_deliveries(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::ClaimedDelivery>> {
        self.webhook_claim(now, lease_until, limit)
    }

    async fn record_webhook_attempt(&mut self, record: &crate::WebhookAttemptRecord) -> StoreResult<bool> {
        self.webhook_record(record)
    }

    async fn count_replay_events(&mut self, filter: &crate::WebhookReplayFilter) -> StoreResult<u64> {
        self.webhook_count_replay(filter)
    }

    async fn replay_webhook_events(
        &mut self,
        filter: &crate::WebhookReplayFilter,
        at: OffsetDateTime,
    ) -> StoreResult<u64> {
        self.webhook_replay(filter, at)
    }

    // --- sftp ---
    async fn insert_sftp_key(&mut self, row: &crate::SftpKeyRow) -> StoreResult<()> {
        sftp::insert_key(&self.w.conn, row)
    }

    async fn sftp_key_by_fingerprint(&mut self, fingerprint: &str) -> StoreResult<Option<crate::SftpKeyRow>> {
        sftp::key_by_fingerprint(&self.w.conn, fingerprint)
    }

    async fn revoke_sftp_key(&mut self, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
        sftp::revoke_key(&self.w.conn, account, id, at)
    }

    async fn insert_sftp_file(&mut self, row: &crate::SftpFileRow) -> StoreResult<()> {
        sftp::insert_file(&self.w.conn, row)
    }

    async fn sftp_file(&mut self, id: Uuid) -> StoreResult<Option<crate::SftpFileRow>> {
        sftp::file(&self.w.conn, id)
    }

    async fn sftp_file_by_content(
        &mut self,
        account: AccountId,
        kind: &str,
        sha256: &str,
    ) -> StoreResult<Option<crate::SftpFileRow>> {
        sftp::file_by_content(&self.w.conn, account, kind, sha256)
    }

    async fn update_sftp_file(
        &mut self,
        id: Uuid,
        status: &str,
        batch_id: Option<Uuid>,
        detail: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sftp::update_file(&self.w.conn, id, status, batch_id, detail, at)
    }

    // --- audit trail ---
    async fn lock_audit_chains(&mut self, _accounts: &[AccountId]) -> StoreResult<()> {
        // BEGIN IMMEDIATE already holds the database's one write lock.
        Ok(())
    }

    async fn append_audit(&mut self, draft: &crate::AuditDraft) -> StoreResult<crate::AuditRow> {
        audit::append(&self.w.conn, draft)
    }

    async fn reseal_secrets(&mut self) -> StoreResult<u64> {
        secrets::reseal(&self.w.conn, &self.w.keys)
    }

    // --- reports ---
    async fn insert_report(&mut self, row: &crate::ReportRow) -> StoreResult<bool> {
        reports::insert(&self.w.conn, row)
    }

    async fn claim_reports(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<crate::ReportRow>> {
        reports::claim(&self.w.conn, now, lease_until, limit)
    }

    async fn finish_report(&mut self, finish: &crate::ReportFinish) -> StoreResult<bool> {
        reports::finish(&self.w.conn, finish)
    }

    // --- batches ---
    async fn insert_payout_batch(&mut self, row: &crate::PayoutBatchRow) -> StoreResult<()> {
        batches::insert_batch(&self.w.conn, row)
    }

    async fn payout_batch(&mut self, id: Uuid) -> StoreResult<Option<crate::PayoutBatchRow>> {
        batches::batch(&self.w.conn, None, id)
    }

    async fn update_payout_batch(&mut self, row: &crate::PayoutBatchRow) -> StoreResult<()> {
        batches::update_batch(&self.w.conn, row)
    }

    async fn payout_batch_by_hash(&mut self, account: AccountId, sha256: &str) -> StoreResult<Option<Uuid>> {
        batches::batch_by_hash(&self.w.conn, account, sha256)
    }

    async fn insert_batch_items(&mut self, items: &[crate::BatchItemRow]) -> StoreResult<()> {
        let sealed = items.iter().map(|i| self.w.keys.seal_batch_item(i)).collect::<StoreResult<Vec<_>>>()?;
        batches::insert_items(&self.w.conn, &sealed)
    }

    async fn batch_items_with_status(
        &mut self,
        batch: Uuid,
        status: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::BatchItemRow>> {
        let rows = batches::items_with_status(&self.w.conn, batch, status, after, limit)?;
        rows.into_iter().map(|i| self.w.keys.open_batch_item(i)).collect()
    }

    async fn update_batch_item(&mut self, item: &crate::BatchItemRow) -> StoreResult<()> {
        batches::update_item(&self.w.conn, &self.w.keys.seal_batch_item(item)?)
    }

    async fn set_batch_items_status(&mut self, batch: Uuid, from: &str, to: &str) -> StoreResult<u64> {
        batches::set_items_status(&self.w.conn, batch, from, to)
    }

    async fn mark_batch_items_created(&mut self, batch: Uuid, created: &[(i64, Uuid)]) -> StoreResult<()> {
        batches::mark_created(&self.w.conn, batch, created)
    }

    async fn payout_batch_id(&mut self, payout: Uuid) -> StoreResult<Option<Uuid>> {
        batches::payout_batch_id(&self.w.conn, payout)
    }

    async fn hold_batch_payouts(
        &mut self,
        batch: Uuid,
        holds: &[crate::BatchPayoutHold],
        at: OffsetDateTime,
    ) -> Result<(), PostError> {
        self.batch_hold_payouts(batch, holds, at)
    }

    async fn approval_policy(&mut self, account: AccountId) -> StoreResult<Option<crate::ApprovalPolicyRow>> {
        batches::policy(&self.w.conn, account)
    }

    async fn upsert_approval_policy(&mut self, row: &crate::ApprovalPolicyRow) -> StoreResult<()> {
        batches::upsert_policy(&self.w.conn, row)
    }

    // --- compliance (issue 7) ---
    async fn insert_screening_list(
        &mut self,
        list: &crate::ScreeningListRow,
        files: &crate::ScreeningFiles,
    ) -> StoreResult<()> {
        compliance::insert_list(&self.w.conn, list, files)
    }

    async fn screening_list_version(&mut self) -> StoreResult<Option<i64>> {
        compliance::list_version(&self.w.conn)
    }

    async fn screening_list_files(&mut self, version: i64) -> StoreResult<Option<crate::ScreeningFiles>> {
        compliance::list_files(&self.w.conn, version)
    }

    async fn insert_compliance_review(&mut self, row: &crate::ComplianceReviewRow) -> StoreResult<()> {
        compliance::insert_review(&self.w.conn, row)
    }

    async fn compliance_review(&mut self, id: Uuid) -> StoreResult<Option<crate::ComplianceReviewRow>> {
        compliance::review(&self.w.conn, None, id)
    }

    async fn decide_compliance_review(&mut self, decision: &crate::ReviewDecisionRow) -> StoreResult<bool> {
        compliance::decide_review(&self.w.conn, decision)
    }

    async fn latest_review_status(&mut self, subject: Uuid) -> StoreResult<Option<String>> {
        compliance::latest_review_status(&self.w.conn, subject)
    }

    async fn insert_screening_hit(&mut self, row: &crate::ScreeningHitRow) -> StoreResult<()> {
        compliance::insert_hit(&self.w.conn, row)
    }

    async fn cleared_screening_entries(&mut self, beneficiary: Uuid) -> StoreResult<Vec<(String, String)>> {
        compliance::cleared_entries(&self.w.conn, beneficiary)
    }

    async fn compliance_rules(&mut self, account: AccountId) -> StoreResult<Option<crate::ComplianceRulesRow>> {
        compliance::rules(&self.w.conn, account)
    }

    async fn upsert_compliance_rules(&mut self, row: &crate::ComplianceRulesRow) -> StoreResult<()> {
        compliance::upsert_rules(&self.w.conn, row)
    }

    async fn compliance_context(
        &mut self,
        account: AccountId,
        beneficiary: Uuid,
    ) -> StoreResult<crate::ComplianceContext> {
        compliance::context(&self.w.conn, account, beneficiary)
    }

    async fn payout_totals(
        &mut self,
        account: AccountId,
        currency: Option<&str>,
        beneficiary: Option<Uuid>,
        since: OffsetDateTime,
    ) -> StoreResult<crate::PayoutTotals> {
        compliance::payout_totals(&self.w.conn, account, currency, beneficiary, since)
    }

    // --- jobs ---
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool> {
        jobs::enqueue(&self.w.conn, job)
    }

    async fn claim_jobs(
        &mut self,
        kinds: &[&str],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<JobRow>> {
        jobs::claim(&self.w.conn, kinds, now, lease_until, limit)
    }

    async fn finish_job(&mut self, id: Uuid, claim_token: Uuid, end: &JobEnd, at: OffsetDateTime) -> StoreResult<bool> {
        jobs::finish(&self.w.conn, id, claim_token, end, at)
    }
    // --- payout approval (maker-checker) ---
    async fn set_payout_approval(&mut self, approval: &crate::PayoutApprovalRecord) -> StoreResult<()> {
        payouts::set_payout_approval(&self.w.conn, approval)
    }

    async fn set_payout_created_reason(&mut self, id: Uuid, reason: &str) -> StoreResult<()> {
        payouts::set_payout_created_reason(&self.w.conn, id, reason)
    }
}
