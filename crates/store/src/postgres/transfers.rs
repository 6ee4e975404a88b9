//! PostgreSQL: internal transfers (SQL and row mapping; postgres.rs delegates here).

use tokio_postgres::Row;

use super::col;
use crate::{StoreResult, TransferRow};
use outlay_core::AccountId;

macro_rules! cols {
    () => {
        "id, account_id, short_reference_id, source_account_id, target_account_id, currency, amount, reason, status, \
         created_at, completed_at"
    };
}

pub const SQL_TRANSFER: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM transfers WHERE (account_id = $1 OR source_account_id = $1 OR target_account_id = $1) AND id = $2"
);
pub const SQL_TRANSFERS_COUNT: &str = "SELECT COUNT(*) FROM transfers \
    WHERE (account_id = $1 OR source_account_id = $1 OR target_account_id = $1) AND ($2::text IS NULL OR status = $2)";
pub const SQL_TRANSFERS: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM transfers WHERE (account_id = $1 OR source_account_id = $1 OR target_account_id = $1) \
     AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
);
pub const SQL_TRANSFER_INSERT: &str =
    concat!("INSERT INTO transfers (", cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");

pub fn from_row(r: &Row) -> StoreResult<TransferRow> {
    Ok(TransferRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        source_account_id: AccountId(col(r, 3)?),
        target_account_id: AccountId(col(r, 4)?),
        currency: col(r, 5)?,
        amount: col(r, 6)?,
        reason: col(r, 7)?,
        status: col(r, 8)?,
        created_at: col(r, 9)?,
        completed_at: col(r, 10)?,
    })
}
