//! PostgreSQL: SFTP keys and received files (SQL and row mapping; postgres.rs delegates here).

use tokio_postgres::Row;

use super::col;
use crate::{SftpFileRow, SftpKeyRow, StoreResult};
use outlay_core::AccountId;

macro_rules! key_cols {
    () => {
        "id, account_id, public_key, fingerprint, created_at, revoked_at"
    };
}

macro_rules! file_cols {
    () => {
        "id, account_id, kind, name, sha256, size, status, batch_id, detail, created_at, updated_at"
    };
}

pub const SQL_KEY_BY_FINGERPRINT: &str =
    concat!("SELECT ", key_cols!(), " FROM sftp_keys WHERE fingerprint = $1 AND revoked_at IS NULL");
pub const SQL_KEYS_COUNT: &str = "SELECT COUNT(*) FROM sftp_keys WHERE account_id = $1 AND revoked_at IS NULL";
pub const SQL_KEYS: &str = concat!(
    "SELECT ",
    key_cols!(),
    " FROM sftp_keys WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
pub const SQL_KEY_INSERT: &str = concat!("INSERT INTO sftp_keys (", key_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6)");
pub const SQL_KEY_REVOKE: &str =
    "UPDATE sftp_keys SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL";

pub const SQL_FILE: &str = concat!("SELECT ", file_cols!(), " FROM sftp_files WHERE id = $1");
pub const SQL_FILE_BY_CONTENT: &str = concat!(
    "SELECT ",
    file_cols!(),
    " FROM sftp_files WHERE account_id = $1 AND kind = $2 AND sha256 = $3 AND status <> 'refused' \
     ORDER BY created_at, id LIMIT 1"
);
pub const SQL_OPEN_FILES: &str = concat!(
    "SELECT ",
    file_cols!(),
    " FROM sftp_files WHERE status IN ('received', 'accepted') ORDER BY created_at, id"
);
pub const SQL_FILE_INSERT: &str =
    concat!("INSERT INTO sftp_files (", file_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
pub const SQL_FILE_UPDATE: &str = "UPDATE sftp_files SET status = $2, batch_id = COALESCE($3, batch_id), \
    detail = COALESCE($4, detail), updated_at = $5 WHERE id = $1";

pub fn key_from_row(r: &Row) -> StoreResult<SftpKeyRow> {
    Ok(SftpKeyRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        public_key: col(r, 2)?,
        fingerprint: col(r, 3)?,
        created_at: col(r, 4)?,
        revoked_at: col(r, 5)?,
    })
}

pub fn file_from_row(r: &Row) -> StoreResult<SftpFileRow> {
    Ok(SftpFileRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        kind: col(r, 2)?,
        name: col(r, 3)?,
        sha256: col(r, 4)?,
        size: col(r, 5)?,
        status: col(r, 6)?,
        batch_id: col(r, 7)?,
        detail: col(r, 8)?,
        created_at: col(r, 9)?,
        updated_at: col(r, 10)?,
    })
}
