//! SQLite: internal transfers.

use rusqlite::{Connection, Row, params};
use uuid::Uuid;

use super::{account_id, from_ms, ms, opt_from_ms, uuid};
use crate::{Page, PageRequest, StoreError, StoreResult, TransferRow};
use outlay_core::AccountId;

const COLS: &str = "id, account_id, short_reference_id, source_account_id, target_account_id, currency, amount, \
    reason, status, created_at, completed_at";

fn row(r: &Row<'_>) -> StoreResult<TransferRow> {
    let get = |i: usize| -> StoreResult<String> { r.get(i).map_err(StoreError::from) };
    Ok(TransferRow {
        id: uuid(&get(0)?)?,
        account_id: account_id(&get(1)?)?,
        short_reference_id: get(2)?,
        source_account_id: account_id(&get(3)?)?,
        target_account_id: account_id(&get(4)?)?,
        currency: get(5)?,
        amount: r.get(6)?,
        reason: r.get(7)?,
        status: get(8)?,
        created_at: from_ms(r.get(9)?)?,
        completed_at: opt_from_ms(r.get(10)?)?,
    })
}

const VISIBLE: &str = "(account_id = ?1 OR source_account_id = ?1 OR target_account_id = ?1)";

pub fn transfer(conn: &Connection, account: AccountId, id: Uuid) -> StoreResult<Option<TransferRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM transfers WHERE {VISIBLE} AND id = ?2"))?;
    let mut rows = stmt.query(params![account.to_string(), id.to_string()])?;
    rows.next()?.map(row).transpose()
}

pub fn transfers(
    conn: &Connection,
    account: AccountId,
    status: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<TransferRow>> {
    let filter = format!("{VISIBLE} AND (?2 IS NULL OR status = ?2)");
    let a = account.to_string();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM transfers WHERE {filter}"))?
        .query_row(params![a, status], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM transfers WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let mut rows = stmt.query(params![a, status, page.size, page.offset()])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(row(r)?);
    }
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn insert(conn: &Connection, t: &TransferRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO transfers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        t.id.to_string(),
        t.account_id.to_string(),
        t.short_reference_id,
        t.source_account_id.to_string(),
        t.target_account_id.to_string(),
        t.currency,
        t.amount,
        t.reason,
        t.status,
        ms(t.created_at),
        t.completed_at.map(ms)
    ])?;
    Ok(())
}
