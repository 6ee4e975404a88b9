//! SQLite: reports and the reads that build them.

use outlay_core::AccountId;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{account_id, from_ms, get, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{Page, PageRequest, PayoutRow, ReportFinish, ReportLedgerLine, ReportRow, StoreResult};

const REPORT_COLS: &str = "id, account_id, kind, period_start, period_end, status, trigger_kind, created_by, row_count, \
    sha256, file_path, error, attempts, created_at, completed_at";

fn report_row(r: &Row<'_>) -> StoreResult<ReportRow> {
    Ok(ReportRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        kind: get(r, 2)?,
        period_start: from_ms(get(r, 3)?)?,
        period_end: from_ms(get(r, 4)?)?,
        status: get(r, 5)?,
        trigger: get(r, 6)?,
        created_by: get::<Option<String>>(r, 7)?.as_deref().map(uuid).transpose()?,
        row_count: get(r, 8)?,
        sha256: get(r, 9)?,
        file_path: get(r, 10)?,
        error: get(r, 11)?,
        attempts: get(r, 12)?,
        created_at: from_ms(get(r, 13)?)?,
        completed_at: opt_from_ms(get(r, 14)?)?,
    })
}

const LINE_COLS: &str = "e.id, e.seq, l.line_no, e.kind, e.reference_type, e.reference_id, e.created_at, a.owner_id, \
    a.currency, a.kind, l.amount";

fn line_row(r: &Row<'_>) -> StoreResult<ReportLedgerLine> {
    Ok(ReportLedgerLine {
        entry_id: uuid(&get::<String>(r, 0)?)?,
        seq: get(r, 1)?,
        line_no: get(r, 2)?,
        entry_kind: get(r, 3)?,
        reference_type: get(r, 4)?,
        reference_id: get(r, 5)?,
        created_at: from_ms(get(r, 6)?)?,
        owner_id: get(r, 7)?,
        currency: get(r, 8)?,
        ledger_kind: get(r, 9)?,
        amount: get(r, 10)?,
    })
}

pub fn ledger_lines(
    conn: &Connection,
    account: AccountId,
    from: OffsetDateTime,
    to: OffsetDateTime,
    after: Option<(i64, i64)>,
    limit: u32,
) -> StoreResult<Vec<ReportLedgerLine>> {
    let (seq, line) = after.unwrap_or((i64::MIN, i64::MIN));
    query_all(
        conn,
        &format!(
            "SELECT {LINE_COLS} FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id \
             JOIN ledger_accounts a ON a.id = l.ledger_account_id \
             WHERE e.account_id = ?1 AND e.created_at >= ?2 AND e.created_at < ?3 \
             AND (e.seq > ?4 OR (e.seq = ?4 AND l.line_no > ?5)) \
             ORDER BY e.seq, l.line_no LIMIT ?6"
        ),
        params![account.to_string(), ms(from), ms(to), seq, line, limit],
        line_row,
    )
}

pub fn balances_at(
    conn: &Connection,
    account: AccountId,
    at: OffsetDateTime,
) -> StoreResult<Vec<(String, String, i64)>> {
    query_all(
        conn,
        "SELECT a.currency, a.kind, SUM(l.amount) FROM ledger_accounts a \
         JOIN journal_lines l ON l.ledger_account_id = a.id JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.owner_id = ?1 AND e.created_at < ?2 GROUP BY a.currency, a.kind ORDER BY a.currency, a.kind",
        params![account.to_string(), ms(at)],
        |r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)),
    )
}

pub fn payouts(
    conn: &Connection,
    account: AccountId,
    from: OffsetDateTime,
    to: OffsetDateTime,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: u32,
) -> StoreResult<Vec<PayoutRow>> {
    let (at, id) = after.map_or((i64::MIN, String::new()), |(t, id)| (ms(t), id.to_string()));
    query_all(
        conn,
        &format!(
            "SELECT {} FROM payouts WHERE account_id = ?1 AND created_at >= ?2 AND created_at < ?3 \
             AND (created_at > ?4 OR (created_at = ?4 AND id > ?5)) ORDER BY created_at, id LIMIT ?6",
            super::payouts::PAYOUT_COLS
        ),
        params![account.to_string(), ms(from), ms(to), at, id, limit],
        super::payouts::payout_row,
    )
}

pub fn reference_lines(
    conn: &Connection,
    account: AccountId,
    reference_type: &str,
    ids: &[Uuid],
) -> StoreResult<Vec<ReportLedgerLine>> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned());
    query_all(
        conn,
        &format!(
            "SELECT {LINE_COLS} FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id \
             JOIN ledger_accounts a ON a.id = l.ledger_account_id \
             WHERE e.account_id = ?1 AND e.reference_type = ?2 \
             AND e.reference_id IN (SELECT value FROM json_each(?3)) ORDER BY e.seq, l.line_no"
        ),
        params![account.to_string(), reference_type, ids],
        line_row,
    )
}

pub fn held_batch_payouts(conn: &Connection, account: AccountId, payouts: &[Uuid]) -> StoreResult<Vec<(Uuid, Uuid)>> {
    let ids: Vec<String> = payouts.iter().map(Uuid::to_string).collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned());
    let rows: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT p.id, p.batch_id FROM payouts p JOIN payout_batches b ON b.id = p.batch_id \
             WHERE p.account_id = ?1 AND b.held IS NOT NULL AND p.id IN (SELECT value FROM json_each(?2))",
        )?
        .query_map(params![account.to_string(), ids], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.iter().map(|(p, b)| Ok((super::uuid(p)?, super::uuid(b)?))).collect()
}

pub fn report(conn: &Connection, account: AccountId, id: Uuid) -> StoreResult<Option<ReportRow>> {
    query_one(
        conn,
        &format!("SELECT {REPORT_COLS} FROM reports WHERE account_id = ?1 AND id = ?2"),
        params![account.to_string(), id.to_string()],
        report_row,
    )
}

pub fn reports(conn: &Connection, account: AccountId, page: PageRequest) -> StoreResult<Page<ReportRow>> {
    let a = account.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM reports WHERE account_id = ?1")?
        .query_row(params![a], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {REPORT_COLS} FROM reports WHERE account_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![a, page.size, page.offset()],
        report_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn content(conn: &Connection, account: AccountId, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT content FROM reports WHERE account_id = ?1 AND id = ?2 AND status = 'ready'")?
        .query_row(params![account.to_string(), id.to_string()], |r| r.get::<_, Option<Vec<u8>>>(0))
        .optional()?
        .flatten())
}

pub fn due(conn: &Connection, now: OffsetDateTime) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM reports WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 1",
        )?
        .query_row(params![ms(now)], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn active_accounts(conn: &Connection, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
    query_all(
        conn,
        "SELECT id FROM accounts WHERE status = 'ACTIVE' AND id > ?1 ORDER BY id LIMIT ?2",
        params![after.map(|a| a.to_string()).unwrap_or_default(), limit],
        |r| account_id(&get::<String>(r, 0)?),
    )
}

pub fn insert(conn: &Connection, r: &ReportRow) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(&format!(
            "INSERT INTO reports ({REPORT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT DO NOTHING"
        ))?
        .execute(params![
            r.id.to_string(),
            r.account_id.to_string(),
            r.kind,
            ms(r.period_start),
            ms(r.period_end),
            r.status,
            r.trigger,
            r.created_by.map(|c| c.to_string()),
            r.row_count,
            r.sha256,
            r.file_path,
            r.error,
            r.attempts,
            ms(r.created_at),
            r.completed_at.map(ms),
        ])?;
    Ok(n == 1)
}

pub fn claim(
    conn: &Connection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<ReportRow>> {
    query_all(
        conn,
        &format!(
            "UPDATE reports SET lease_until = ?2, attempts = attempts + 1 WHERE id IN (SELECT id FROM reports \
             WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY created_at, id LIMIT ?3) \
             RETURNING {REPORT_COLS}"
        ),
        params![ms(now), ms(lease_until), limit],
        report_row,
    )
}

pub fn finish(conn: &Connection, f: &ReportFinish) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE reports SET status = ?2, row_count = ?3, sha256 = ?4, content = ?5, file_path = ?6, error = ?7, \
             completed_at = ?8, lease_until = NULL WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![
            f.id.to_string(),
            f.status,
            f.row_count,
            f.sha256,
            f.content,
            f.file_path,
            f.error,
            ms(f.at)
        ])?;
    Ok(n == 1)
}
