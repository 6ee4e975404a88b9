//! SQLite: SFTP keys and received files.

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{account_id, from_ms, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{Page, PageRequest, SftpFileRow, SftpKeyRow, StoreError, StoreResult};
use outlay_core::AccountId;

const KEY_COLS: &str = "id, account_id, public_key, fingerprint, created_at, revoked_at";
const FILE_COLS: &str = "id, account_id, kind, name, sha256, size, status, batch_id, detail, created_at, updated_at";

fn key_row(r: &Row<'_>) -> StoreResult<SftpKeyRow> {
    let get = |i: usize| -> StoreResult<String> { r.get(i).map_err(StoreError::from) };
    Ok(SftpKeyRow {
        id: uuid(&get(0)?)?,
        account_id: account_id(&get(1)?)?,
        public_key: get(2)?,
        fingerprint: get(3)?,
        created_at: from_ms(r.get(4)?)?,
        revoked_at: opt_from_ms(r.get(5)?)?,
    })
}

fn file_row(r: &Row<'_>) -> StoreResult<SftpFileRow> {
    let get = |i: usize| -> StoreResult<String> { r.get(i).map_err(StoreError::from) };
    let batch: Option<String> = r.get(7)?;
    Ok(SftpFileRow {
        id: uuid(&get(0)?)?,
        account_id: account_id(&get(1)?)?,
        kind: get(2)?,
        name: get(3)?,
        sha256: get(4)?,
        size: r.get(5)?,
        status: get(6)?,
        batch_id: batch.as_deref().map(uuid).transpose()?,
        detail: r.get(8)?,
        created_at: from_ms(r.get(9)?)?,
        updated_at: from_ms(r.get(10)?)?,
    })
}

pub fn key_by_fingerprint(conn: &Connection, fingerprint: &str) -> StoreResult<Option<SftpKeyRow>> {
    query_one(
        conn,
        &format!("SELECT {KEY_COLS} FROM sftp_keys WHERE fingerprint = ?1 AND revoked_at IS NULL"),
        params![fingerprint],
        key_row,
    )
}

pub fn keys(conn: &Connection, account: AccountId, page: PageRequest) -> StoreResult<Page<SftpKeyRow>> {
    let a = account.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM sftp_keys WHERE account_id = ?1 AND revoked_at IS NULL")?
        .query_row(params![a], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {KEY_COLS} FROM sftp_keys WHERE account_id = ?1 AND revoked_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![a, page.size, page.offset()],
        key_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn insert_key(conn: &Connection, k: &SftpKeyRow) -> StoreResult<()> {
    conn.prepare_cached(&format!("INSERT INTO sftp_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))?.execute(
        params![
            k.id.to_string(),
            k.account_id.to_string(),
            k.public_key,
            k.fingerprint,
            ms(k.created_at),
            k.revoked_at.map(ms)
        ],
    )?;
    Ok(())
}

pub fn revoke_key(conn: &Connection, account: AccountId, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE sftp_keys SET revoked_at = ?3 WHERE id = ?1 AND account_id = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![id.to_string(), account.to_string(), ms(at)])?;
    Ok(n > 0)
}

pub fn file(conn: &Connection, id: Uuid) -> StoreResult<Option<SftpFileRow>> {
    query_one(conn, &format!("SELECT {FILE_COLS} FROM sftp_files WHERE id = ?1"), params![id.to_string()], file_row)
}

/// The first file of this content that was not refused.
pub fn file_by_content(
    conn: &Connection,
    account: AccountId,
    kind: &str,
    sha256: &str,
) -> StoreResult<Option<SftpFileRow>> {
    query_one(
        conn,
        &format!(
            "SELECT {FILE_COLS} FROM sftp_files WHERE account_id = ?1 AND kind = ?2 AND sha256 = ?3 \
             AND status <> 'refused' ORDER BY created_at, id LIMIT 1"
        ),
        params![account.to_string(), kind, sha256],
        file_row,
    )
}

pub fn open_files(conn: &Connection) -> StoreResult<Vec<SftpFileRow>> {
    query_all(
        conn,
        &format!("SELECT {FILE_COLS} FROM sftp_files WHERE status IN ('received', 'accepted') ORDER BY created_at, id"),
        [],
        file_row,
    )
}

pub fn insert_file(conn: &Connection, f: &SftpFileRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO sftp_files ({FILE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        f.id.to_string(),
        f.account_id.to_string(),
        f.kind,
        f.name,
        f.sha256,
        f.size,
        f.status,
        f.batch_id.map(|b| b.to_string()),
        f.detail,
        ms(f.created_at),
        ms(f.updated_at)
    ])?;
    Ok(())
}

pub fn update_file(
    conn: &Connection,
    id: Uuid,
    status: &str,
    batch_id: Option<Uuid>,
    detail: Option<&str>,
    at: OffsetDateTime,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE sftp_files SET status = ?2, batch_id = COALESCE(?3, batch_id), detail = COALESCE(?4, detail), \
         updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id.to_string(), status, batch_id.map(|b| b.to_string()), detail, ms(at)])?;
    Ok(())
}
