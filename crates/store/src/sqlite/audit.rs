//! SQLite: the audit trail (append-only, hash-chained per account).

use outlay_core::AccountId;
use outlay_core::audit::{GENESIS_HASH, record_hash};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{account_id, from_ms, get, ms, query_all, uuid};
use crate::{AuditDraft, AuditFilter, AuditRow, Page, PageRequest, StoreError, StoreResult};

const COLS: &str = "account_id, seq, id, at, credential_id, role, action, object_type, object_id, source_ip, \
    user_agent, request_id, before_json, after_json, status, error_code, prev_hash, hash";

fn row(r: &Row<'_>) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        draft: AuditDraft {
            account_id: account_id(&get::<String>(r, 0)?)?,
            id: uuid(&get::<String>(r, 2)?)?,
            at: from_ms(get(r, 3)?)?,
            credential_id: get(r, 4)?,
            role: get(r, 5)?,
            action: get(r, 6)?,
            object_type: get(r, 7)?,
            object_id: get(r, 8)?,
            source_ip: get(r, 9)?,
            user_agent: get(r, 10)?,
            request_id: get(r, 11)?,
            before: get(r, 12)?,
            after: get(r, 13)?,
            status: get(r, 14)?,
            error_code: get(r, 15)?,
        },
        seq: get(r, 1)?,
        prev_hash: get(r, 16)?,
        hash: get(r, 17)?,
    })
}

const FILTER: &str = "account_id = ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR object_id = ?3) \
    AND (?4 IS NULL OR credential_id = ?4) AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at < ?6)";

pub fn list(conn: &Connection, account: AccountId, f: &AuditFilter, page: PageRequest) -> StoreResult<Page<AuditRow>> {
    let a = account.to_string();
    let (from, to) = (f.from.map(ms), f.to.map(ms));
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM audit_log WHERE {FILTER}"))?
        .query_row(params![a, f.action, f.object_id, f.credential_id, from, to], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!("SELECT {COLS} FROM audit_log WHERE {FILTER} ORDER BY seq DESC LIMIT ?7 OFFSET ?8"),
        params![a, f.action, f.object_id, f.credential_id, from, to, page.size, page.offset()],
        row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn chain(conn: &Connection, account: AccountId, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRow>> {
    query_all(
        conn,
        &format!("SELECT {COLS} FROM audit_log WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
        params![account.to_string(), after_seq, limit],
        row,
    )
}

pub fn heads(conn: &Connection) -> StoreResult<Vec<(AccountId, i64, String)>> {
    query_all(conn, "SELECT account_id, seq, head_hash FROM audit_chains ORDER BY account_id", [], |r| {
        Ok((account_id(&get::<String>(r, 0)?)?, get(r, 1)?, get(r, 2)?))
    })
}

/// Append to the account's chain (the writer holds the database lock: `BEGIN IMMEDIATE`).
pub fn append(conn: &Connection, d: &AuditDraft) -> StoreResult<AuditRow> {
    let a = d.account_id.to_string();
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, head_hash FROM audit_chains WHERE account_id = ?1")?
        .query_row([&a], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (prev_seq, prev_hash) = head.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
    let mut out = AuditRow { draft: d.clone(), seq: prev_seq + 1, prev_hash, hash: String::new() };
    out.draft.at = from_ms(ms(d.at))?;
    out.hash = out.with_fields(|f| record_hash(&out.prev_hash, f));
    conn.prepare_cached(&format!(
        "INSERT INTO audit_log ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))?
    .execute(params![
        a,
        out.seq,
        d.id.to_string(),
        ms(d.at),
        d.credential_id,
        d.role,
        d.action,
        d.object_type,
        d.object_id,
        d.source_ip,
        d.user_agent,
        d.request_id,
        d.before,
        d.after,
        d.status,
        d.error_code,
        out.prev_hash,
        out.hash
    ])?;
    conn.prepare_cached(
        "INSERT INTO audit_chains (account_id, seq, head_hash) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, head_hash = excluded.head_hash",
    )?
    .execute(params![a, out.seq, out.hash])
    .map_err(StoreError::from)?;
    Ok(out)
}
