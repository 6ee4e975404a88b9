//! SQLite: the stored-value (wallet) model: payout model setting, recipients, their credentials
//! and tokens, transfer methods, wallet payouts and withdrawals. Each function serves both the
//! read pool and the writer's transaction.

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{account_id, from_ms, get, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{
    Page, PageRequest, RecipientCredentialRow, RecipientRow, RecipientTokenRow, StoreResult, TransferMethodRow,
    WalletPayoutRow, WalletWithdrawalRow,
};
use outlay_core::AccountId;

fn total(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<u64> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(p, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

// --- payout model ---

pub fn payout_model(conn: &Connection, account: AccountId) -> StoreResult<Option<String>> {
    query_one(
        conn,
        "SELECT payout_model FROM account_payout_models WHERE account_id = ?1",
        params![account.to_string()],
        |r| get(r, 0),
    )
}

pub fn set_payout_model(conn: &Connection, account: AccountId, model: &str, at: OffsetDateTime) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO account_payout_models (account_id, payout_model, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account_id) DO UPDATE SET payout_model = excluded.payout_model, updated_at = excluded.updated_at",
    )?
    .execute(params![account.to_string(), model, ms(at)])?;
    Ok(())
}

// --- recipients ---

const RECIPIENT_COLS: &str = "id, account_id, external_reference, name, email, status, created_at";

fn recipient_row(r: &Row<'_>) -> StoreResult<RecipientRow> {
    Ok(RecipientRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        external_reference: get(r, 2)?,
        name: get(r, 3)?,
        email: get(r, 4)?,
        status: get(r, 5)?,
        created_at: from_ms(get(r, 6)?)?,
    })
}

/// `account` None: whoever owns it (the writer checks ownership itself).
pub fn recipient(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<RecipientRow>> {
    query_one(
        conn,
        &format!("SELECT {RECIPIENT_COLS} FROM recipients WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"),
        params![id.to_string(), account.map(|a| a.to_string())],
        recipient_row,
    )
}

pub fn recipient_by_reference(
    conn: &Connection,
    account: AccountId,
    external_reference: &str,
) -> StoreResult<Option<RecipientRow>> {
    query_one(
        conn,
        &format!("SELECT {RECIPIENT_COLS} FROM recipients WHERE account_id = ?1 AND external_reference = ?2"),
        params![account.to_string(), external_reference],
        recipient_row,
    )
}

pub fn recipients(conn: &Connection, account: AccountId, page: PageRequest) -> StoreResult<Page<RecipientRow>> {
    let a = account.to_string();
    let total_items = total(conn, "SELECT COUNT(*) FROM recipients WHERE account_id = ?1", params![a])?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {RECIPIENT_COLS} FROM recipients WHERE account_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![a, page.size, page.offset()],
        recipient_row,
    )?;
    Ok(Page { total_items, items })
}

pub fn insert_recipient(conn: &Connection, r: &RecipientRow) -> StoreResult<()> {
    conn.prepare_cached(&format!("INSERT INTO recipients ({RECIPIENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"))?
        .execute(params![
            r.id.to_string(),
            r.account_id.to_string(),
            r.external_reference,
            r.name,
            r.email,
            r.status,
            ms(r.created_at)
        ])?;
    Ok(())
}

// --- credentials and tokens ---

const CREDENTIAL_COLS: &str = "id, recipient_id, account_id, client_id, secret_hash, created_at, revoked_at";

fn credential_row(r: &Row<'_>) -> StoreResult<RecipientCredentialRow> {
    Ok(RecipientCredentialRow {
        id: uuid(&get::<String>(r, 0)?)?,
        recipient_id: uuid(&get::<String>(r, 1)?)?,
        account_id: account_id(&get::<String>(r, 2)?)?,
        client_id: get(r, 3)?,
        secret_hash: get(r, 4)?,
        created_at: from_ms(get(r, 5)?)?,
        revoked_at: opt_from_ms(get(r, 6)?)?,
    })
}

pub fn recipient_credential(conn: &Connection, client_id: &str) -> StoreResult<Option<RecipientCredentialRow>> {
    query_one(
        conn,
        &format!("SELECT {CREDENTIAL_COLS} FROM recipient_credentials WHERE client_id = ?1"),
        params![client_id],
        credential_row,
    )
}

pub fn insert_recipient_credential(conn: &Connection, c: &RecipientCredentialRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO recipient_credentials ({CREDENTIAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?
    .execute(params![
        c.id.to_string(),
        c.recipient_id.to_string(),
        c.account_id.to_string(),
        c.client_id,
        c.secret_hash,
        ms(c.created_at),
        c.revoked_at.map(ms)
    ])?;
    Ok(())
}

pub fn recipient_token(conn: &Connection, token_hash: &str) -> StoreResult<Option<RecipientTokenRow>> {
    query_one(
        conn,
        "SELECT token_hash, recipient_id, account_id, expires_at, created_at FROM recipient_tokens WHERE token_hash = ?1",
        params![token_hash],
        |r| {
            Ok(RecipientTokenRow {
                token_hash: get(r, 0)?,
                recipient_id: uuid(&get::<String>(r, 1)?)?,
                account_id: account_id(&get::<String>(r, 2)?)?,
                expires_at: from_ms(get(r, 3)?)?,
                created_at: from_ms(get(r, 4)?)?,
            })
        },
    )
}

pub fn insert_recipient_token(conn: &Connection, t: &RecipientTokenRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO recipient_tokens (token_hash, recipient_id, account_id, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        t.token_hash,
        t.recipient_id.to_string(),
        t.account_id.to_string(),
        ms(t.expires_at),
        ms(t.created_at)
    ])?;
    Ok(())
}

// --- transfer methods ---

fn method_row(r: &Row<'_>) -> StoreResult<TransferMethodRow> {
    Ok(TransferMethodRow {
        id: uuid(&get::<String>(r, 0)?)?,
        recipient_id: uuid(&get::<String>(r, 1)?)?,
        account_id: account_id(&get::<String>(r, 2)?)?,
        created_at: from_ms(get(r, 3)?)?,
    })
}

pub fn transfer_method(conn: &Connection, id: Uuid) -> StoreResult<Option<TransferMethodRow>> {
    query_one(
        conn,
        "SELECT id, recipient_id, account_id, created_at FROM recipient_transfer_methods WHERE id = ?1",
        params![id.to_string()],
        method_row,
    )
}

pub fn transfer_methods(conn: &Connection, recipient: Uuid) -> StoreResult<Vec<TransferMethodRow>> {
    query_all(
        conn,
        "SELECT id, recipient_id, account_id, created_at FROM recipient_transfer_methods WHERE recipient_id = ?1 \
         ORDER BY created_at DESC, id DESC LIMIT 500",
        params![recipient.to_string()],
        method_row,
    )
}

pub fn insert_transfer_method(conn: &Connection, m: &TransferMethodRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO recipient_transfer_methods (id, recipient_id, account_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![m.id.to_string(), m.recipient_id.to_string(), m.account_id.to_string(), ms(m.created_at)])?;
    Ok(())
}

// --- wallet payouts ---

const WALLET_PAYOUT_COLS: &str =
    "id, account_id, recipient_id, short_reference_id, currency, amount, reference, status, created_at";

fn wallet_payout_row(r: &Row<'_>) -> StoreResult<WalletPayoutRow> {
    Ok(WalletPayoutRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        recipient_id: uuid(&get::<String>(r, 2)?)?,
        short_reference_id: get(r, 3)?,
        currency: get(r, 4)?,
        amount: get(r, 5)?,
        reference: get(r, 6)?,
        status: get(r, 7)?,
        created_at: from_ms(get(r, 8)?)?,
    })
}

pub fn wallet_payout(conn: &Connection, account: AccountId, id: Uuid) -> StoreResult<Option<WalletPayoutRow>> {
    query_one(
        conn,
        &format!("SELECT {WALLET_PAYOUT_COLS} FROM wallet_payouts WHERE account_id = ?1 AND id = ?2"),
        params![account.to_string(), id.to_string()],
        wallet_payout_row,
    )
}

pub fn wallet_payouts(
    conn: &Connection,
    account: AccountId,
    recipient: Option<Uuid>,
    page: PageRequest,
) -> StoreResult<Page<WalletPayoutRow>> {
    let (a, r) = (account.to_string(), recipient.map(|r| r.to_string()));
    let where_ = "account_id = ?1 AND (?2 IS NULL OR recipient_id = ?2)";
    let total_items = total(conn, &format!("SELECT COUNT(*) FROM wallet_payouts WHERE {where_}"), params![a, r])?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {WALLET_PAYOUT_COLS} FROM wallet_payouts WHERE {where_} ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
        ),
        params![a, r, page.size, page.offset()],
        wallet_payout_row,
    )?;
    Ok(Page { total_items, items })
}

pub fn insert_wallet_payout(conn: &Connection, w: &WalletPayoutRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO wallet_payouts ({WALLET_PAYOUT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        w.id.to_string(),
        w.account_id.to_string(),
        w.recipient_id.to_string(),
        w.short_reference_id,
        w.currency,
        w.amount,
        w.reference,
        w.status,
        ms(w.created_at)
    ])?;
    Ok(())
}

// --- withdrawals ---

const WITHDRAWAL_COLS: &str = "payout_id, recipient_id, account_id, transfer_method_id, created_at";

fn withdrawal_row(r: &Row<'_>) -> StoreResult<WalletWithdrawalRow> {
    Ok(WalletWithdrawalRow {
        payout_id: uuid(&get::<String>(r, 0)?)?,
        recipient_id: uuid(&get::<String>(r, 1)?)?,
        account_id: account_id(&get::<String>(r, 2)?)?,
        transfer_method_id: uuid(&get::<String>(r, 3)?)?,
        created_at: from_ms(get(r, 4)?)?,
    })
}

pub fn wallet_withdrawal(conn: &Connection, payout: Uuid) -> StoreResult<Option<WalletWithdrawalRow>> {
    query_one(
        conn,
        &format!("SELECT {WITHDRAWAL_COLS} FROM wallet_withdrawals WHERE payout_id = ?1"),
        params![payout.to_string()],
        withdrawal_row,
    )
}

pub fn wallet_withdrawals(
    conn: &Connection,
    recipient: Uuid,
    page: PageRequest,
) -> StoreResult<Page<WalletWithdrawalRow>> {
    let r = recipient.to_string();
    let total_items = total(conn, "SELECT COUNT(*) FROM wallet_withdrawals WHERE recipient_id = ?1", params![r])?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {WITHDRAWAL_COLS} FROM wallet_withdrawals WHERE recipient_id = ?1 \
             ORDER BY created_at DESC, payout_id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![r, page.size, page.offset()],
        withdrawal_row,
    )?;
    Ok(Page { total_items, items })
}

pub fn insert_wallet_withdrawal(conn: &Connection, w: &WalletWithdrawalRow) -> StoreResult<()> {
    conn.prepare_cached(&format!("INSERT INTO wallet_withdrawals ({WITHDRAWAL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"))?
        .execute(params![
            w.payout_id.to_string(),
            w.recipient_id.to_string(),
            w.account_id.to_string(),
            w.transfer_method_id.to_string(),
            ms(w.created_at)
        ])?;
    Ok(())
}

// --- audit ---

pub fn audit_wallet_by_reference(conn: &Connection) -> StoreResult<Vec<crate::WalletByReference>> {
    query_all(
        conn,
        "SELECT e.account_id, e.reference_type, e.reference_id, a.kind, SUM(l.amount) \
         FROM journal_lines l JOIN ledger_accounts a ON a.id = l.ledger_account_id \
         JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.kind LIKE 'wallet:%' AND a.owner_id <> 'platform' GROUP BY 1, 2, 3, 4",
        [],
        |r| {
            Ok(crate::WalletByReference {
                account_id: account_id(&get::<String>(r, 0)?)?,
                reference_type: get(r, 1)?,
                reference_id: get(r, 2)?,
                kind: get(r, 3)?,
                net: get(r, 4)?,
            })
        },
    )
}

pub fn audit_wallet_withdrawals(conn: &Connection) -> StoreResult<Vec<crate::WalletWithdrawalAudit>> {
    query_all(
        conn,
        "SELECT w.payout_id, w.recipient_id, p.state, p.amount, p.fee_amount \
         FROM wallet_withdrawals w JOIN payouts p ON p.id = w.payout_id",
        [],
        |r| {
            Ok(crate::WalletWithdrawalAudit {
                payout_id: get(r, 0)?,
                recipient_id: get(r, 1)?,
                state: get(r, 2)?,
                amount: get(r, 3)?,
                fee: get(r, 4)?,
            })
        },
    )
}
