//! PostgreSQL: the audit trail (SQL and row mapping; postgres.rs delegates here). The chain head
//! of each account lives in `audit_chains`, locked in account order by the writer before it
//! appends, so writers on several nodes never interleave one account's chain.

use outlay_core::AccountId;
use tokio_postgres::Row;
use uuid::Uuid;

use super::col;
use super::pipeline::{Multi, Ty};
use crate::{AuditDraft, AuditRow, StoreResult};

macro_rules! cols {
    () => {
        "account_id, seq, id, at, credential_id, role, action, object_type, object_id, source_ip, user_agent, \
         request_id, before_json, after_json, status, error_code, prev_hash, hash"
    };
}

macro_rules! filter {
    () => {
        " FROM audit_log WHERE account_id = $1 AND ($2::text IS NULL OR action = $2) \
         AND ($3::text IS NULL OR object_id = $3) AND ($4::text IS NULL OR credential_id = $4) \
         AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)"
    };
}

pub const SQL_COUNT: &str = concat!("SELECT COUNT(*)", filter!());
pub const SQL_LIST: &str = concat!("SELECT ", cols!(), filter!(), " ORDER BY seq DESC LIMIT $7 OFFSET $8");
pub const SQL_CHAIN: &str =
    concat!("SELECT ", cols!(), " FROM audit_log WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
pub const SQL_HEADS: &str = "SELECT account_id, seq, head_hash FROM audit_chains ORDER BY account_id";
pub const SQL_LOCK_CREATE: &str = "INSERT INTO audit_chains (account_id, seq, head_hash) \
    SELECT id, 0, $2 FROM UNNEST($1::uuid[]) AS t(id) ON CONFLICT (account_id) DO NOTHING";
pub const SQL_LOCK: &str =
    "SELECT account_id, seq, head_hash FROM audit_chains WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE";
pub const SQL_HEAD: &str = "SELECT seq, head_hash FROM audit_chains WHERE account_id = $1 FOR UPDATE";
pub const SQL_HEAD_CREATE: &str =
    "INSERT INTO audit_chains (account_id, seq, head_hash) VALUES ($1, 0, $2) ON CONFLICT (account_id) DO NOTHING";
/// Audit rows, many per statement (see `pipeline::plan`); hashes are computed by the writer.
pub(super) static INSERT_MANY: Multi = Multi {
    sql: concat!(
        "INSERT INTO audit_log (",
        cols!(),
        ") SELECT * FROM unnest($1::uuid[], $2::int8[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
         $15::int4[], $16::text[], $17::text[], $18::text[])"
    ),
    main: &[
        Ty::Uuid,
        Ty::I64,
        Ty::Uuid,
        Ty::Time,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::I32,
        Ty::Text,
        Ty::Text,
        Ty::Text,
    ],
    extra: &[],
    expect_each: false,
};

/// Final audit chain heads the writer holds (account, seq, head hash).
pub(super) static ADVANCE_MANY: Multi = Multi {
    sql: "UPDATE audit_chains c SET seq = t.seq, head_hash = t.head_hash \
          FROM unnest($1::uuid[], $2::int8[], $3::text[]) AS t(account_id, seq, head_hash) WHERE c.account_id = t.account_id",
    main: &[Ty::Uuid, Ty::I64, Ty::Text],
    extra: &[],
    expect_each: true,
};

pub fn from_row(r: &Row) -> StoreResult<AuditRow> {
    let status: i32 = col(r, 14)?;
    Ok(AuditRow {
        draft: AuditDraft {
            account_id: AccountId(col(r, 0)?),
            id: col::<Uuid>(r, 2)?,
            at: col(r, 3)?,
            credential_id: col(r, 4)?,
            role: col(r, 5)?,
            action: col(r, 6)?,
            object_type: col(r, 7)?,
            object_id: col(r, 8)?,
            source_ip: col(r, 9)?,
            user_agent: col(r, 10)?,
            request_id: col(r, 11)?,
            before: col(r, 12)?,
            after: col(r, 13)?,
            status: i64::from(status),
            error_code: col(r, 15)?,
        },
        seq: col(r, 1)?,
        prev_hash: col(r, 16)?,
        hash: col(r, 17)?,
    })
}

pub fn head_from_row(r: &Row) -> StoreResult<(AccountId, i64, String)> {
    Ok((AccountId(col(r, 0)?), col(r, 1)?, col(r, 2)?))
}
