//! PostgreSQL: payout batches, their rows, and the approval policy (SQL and row mapping;
//! postgres.rs delegates here).

use tokio_postgres::Row;

use super::col;
use crate::{ApprovalPolicyRow, BatchItemRow, BatchStatusTotal, PayoutBatchRow, StoreError, StoreResult};
use outlay_core::AccountId;

macro_rules! batch_cols {
    () => {
        "id, account_id, created_by, file_name, format, mode, content_sha256, dedup_sha256, status, \
         approval_required, total_rows, valid_rows, invalid_rows, open_payouts, failure_code, failure_reason, \
         approved_by, approved_at, cancelled_by, cancelled_at, released_at, completed_at, created_at, updated_at, \
         quote_id, client_rate"
    };
}
macro_rules! item_cols {
    () => {
        "batch_id, row_number, status, currency, amount, payout_reference, payload, payout_id, error_field, \
         error_code, error_message"
    };
}

pub const SQL_BATCH: &str =
    concat!("SELECT ", batch_cols!(), " FROM payout_batches WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
/// The writer's read locks the row: batch counters change from several nodes.
pub const SQL_BATCH_FOR_UPDATE: &str =
    concat!("SELECT ", batch_cols!(), " FROM payout_batches WHERE id = $1 FOR UPDATE");
pub const SQL_BATCHES_TO_RESUME: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM payout_batches WHERE status IN ('VALIDATED', 'RELEASING') ORDER BY created_at LIMIT $1"
);
pub const SQL_BATCHES_COUNT: &str = "SELECT COUNT(*) FROM payout_batches WHERE account_id = $1";
pub const SQL_BATCHES: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM payout_batches WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
pub const SQL_ITEMS_COUNT: &str =
    "SELECT COUNT(*) FROM payout_batch_items WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)";
pub const SQL_ITEMS: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM payout_batch_items WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2) \
     ORDER BY row_number LIMIT $3 OFFSET $4"
);
pub const SQL_TOTALS: &str = "SELECT COALESCE(p.state, i.status), i.currency, COUNT(*), COALESCE(SUM(i.amount), 0)::BIGINT \
     FROM payout_batch_items i LEFT JOIN payouts p ON p.id = i.payout_id \
     WHERE i.batch_id = $1 GROUP BY 1, 2 ORDER BY 1, 2";
pub const SQL_POLICY: &str = "SELECT account_id, approval_required_for_batches, payout_approval_thresholds, updated_by, \
     updated_at FROM approval_policies WHERE account_id = $1";
pub const SQL_POLICY_UPSERT: &str = "INSERT INTO approval_policies (account_id, approval_required_for_batches, \
     payout_approval_thresholds, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE \
     SET approval_required_for_batches = excluded.approval_required_for_batches, \
     payout_approval_thresholds = excluded.payout_approval_thresholds, updated_by = excluded.updated_by, \
     updated_at = excluded.updated_at";
pub const SQL_BATCH_INSERT: &str = concat!(
    "INSERT INTO payout_batches (",
    batch_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
     $23, $24, $25, $26)"
);
pub const SQL_BATCH_UPDATE: &str = "UPDATE payout_batches SET dedup_sha256 = $2, status = $3, approval_required = $4, \
     total_rows = $5, valid_rows = $6, invalid_rows = $7, open_payouts = $8, failure_code = $9, failure_reason = $10, \
     approved_by = $11, approved_at = $12, cancelled_by = $13, cancelled_at = $14, released_at = $15, \
     completed_at = $16, updated_at = $17 WHERE id = $1";
pub const SQL_BATCH_BY_HASH: &str = "SELECT id FROM payout_batches WHERE account_id = $1 AND dedup_sha256 = $2";
pub const SQL_ITEMS_INSERT: &str = concat!(
    "INSERT INTO payout_batch_items (",
    item_cols!(),
    ") SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], \
     $8::uuid[], $9::text[], $10::text[], $11::text[])"
);
pub const SQL_ITEMS_WITH_STATUS: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM payout_batch_items WHERE batch_id = $1 AND status = $2 AND row_number > $3 ORDER BY row_number LIMIT $4"
);
pub const SQL_ITEM_UPDATE: &str = "UPDATE payout_batch_items SET status = $3, payload = $4, payout_id = $5, \
     error_field = $6, error_code = $7, error_message = $8 WHERE batch_id = $1 AND row_number = $2";
pub const SQL_ITEMS_SET_STATUS: &str = "UPDATE payout_batch_items SET status = $3 WHERE batch_id = $1 AND status = $2";
pub const SQL_ITEMS_CREATED: &str = "UPDATE payout_batch_items i SET status = 'CREATED', payout_id = c.payout_id, \
     payload = NULL FROM UNNEST($2::bigint[], $3::uuid[]) AS c(row_number, payout_id) \
     WHERE i.batch_id = $1 AND i.row_number = c.row_number";
pub const SQL_PAYOUTS_SET_BATCH: &str = "UPDATE payouts SET batch_id = $1 WHERE id = ANY($2::uuid[])";
pub const SQL_PAYOUT_BATCH_ID: &str = "SELECT batch_id FROM payouts WHERE id = $1";

pub fn batch_from_row(r: &Row) -> StoreResult<PayoutBatchRow> {
    Ok(PayoutBatchRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        created_by: col(r, 2)?,
        file_name: col(r, 3)?,
        format: col(r, 4)?,
        mode: col(r, 5)?,
        content_sha256: col(r, 6)?,
        dedup_sha256: col(r, 7)?,
        status: col(r, 8)?,
        approval_required: col(r, 9)?,
        total_rows: col(r, 10)?,
        valid_rows: col(r, 11)?,
        invalid_rows: col(r, 12)?,
        open_payouts: col(r, 13)?,
        failure_code: col(r, 14)?,
        failure_reason: col(r, 15)?,
        approved_by: col(r, 16)?,
        approved_at: col(r, 17)?,
        cancelled_by: col(r, 18)?,
        cancelled_at: col(r, 19)?,
        released_at: col(r, 20)?,
        completed_at: col(r, 21)?,
        created_at: col(r, 22)?,
        updated_at: col(r, 23)?,
        quote_id: col(r, 24)?,
        client_rate: col(r, 25)?,
    })
}

pub fn item_from_row(r: &Row) -> StoreResult<BatchItemRow> {
    Ok(BatchItemRow {
        batch_id: col(r, 0)?,
        row_number: col(r, 1)?,
        status: col(r, 2)?,
        currency: col(r, 3)?,
        amount: col(r, 4)?,
        payout_reference: col(r, 5)?,
        payload: col(r, 6)?,
        payout_id: col(r, 7)?,
        error_field: col(r, 8)?,
        error_code: col(r, 9)?,
        error_message: col(r, 10)?,
    })
}

pub fn total_from_row(r: &Row) -> StoreResult<BatchStatusTotal> {
    Ok(BatchStatusTotal { status: col(r, 0)?, currency: col(r, 1)?, count: col(r, 2)?, amount: col(r, 3)? })
}

pub fn policy_from_row(r: &Row) -> StoreResult<ApprovalPolicyRow> {
    let thresholds: String = col(r, 2)?;
    Ok(ApprovalPolicyRow {
        account_id: AccountId(col(r, 0)?),
        approval_required_for_batches: col(r, 1)?,
        payout_approval_thresholds: serde_json::from_str(&thresholds).map_err(StoreError::corrupt)?,
        updated_by: col(r, 3)?,
        updated_at: col(r, 4)?,
    })
}
