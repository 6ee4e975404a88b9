//! PostgreSQL: reports and the reads that build them (SQL and row mapping; postgres.rs delegates here).

use outlay_core::AccountId;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgStore, PgTx, col, collect, count_of, db_time, from_ms, ms, page_params};
use crate::{Page, PageRequest, PayoutRow, ReportFinish, ReportLedgerLine, ReportRow, StoreResult};

macro_rules! report_cols {
    () => {
        "id, account_id, kind, period_start, period_end, status, trigger_kind, created_by, row_count, sha256, \
         file_path, error, attempts, created_at, completed_at"
    };
}

macro_rules! line_cols {
    () => {
        "e.id, e.seq, l.line_no, e.kind, e.reference_type, e.reference_id, e.created_at_ms, a.owner_id, a.currency, \
         a.kind, l.amount"
    };
}

const SQL_LINES: &str = concat!(
    "SELECT ",
    line_cols!(),
    " FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id \
     JOIN ledger_accounts a ON a.id = l.ledger_account_id \
     WHERE e.account_id = $1 AND e.created_at_ms >= $2 AND e.created_at_ms < $3 \
     AND (e.seq, l.line_no) > ($4::bigint, $5::integer) ORDER BY e.seq, l.line_no LIMIT $6"
);
const SQL_BALANCES_AT: &str = "SELECT a.currency, a.kind, SUM(l.amount)::bigint FROM ledger_accounts a \
     JOIN journal_lines l ON l.ledger_account_id = a.id JOIN journal_entries e ON e.id = l.entry_id \
     WHERE a.owner_id = $1 AND e.created_at_ms < $2 GROUP BY a.currency, a.kind ORDER BY a.currency, a.kind";
const SQL_HELD_BATCH_PAYOUTS: &str = "SELECT p.id, p.batch_id FROM payouts p JOIN payout_batches b ON b.id = p.batch_id \
     WHERE p.account_id = $1 AND b.held IS NOT NULL AND p.id = ANY($2::uuid[])";
const SQL_REFERENCE_LINES: &str = concat!(
    "SELECT ",
    line_cols!(),
    " FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id \
     JOIN ledger_accounts a ON a.id = l.ledger_account_id \
     WHERE e.account_id = $1 AND e.reference_type = $2 AND e.reference_id = ANY($3) ORDER BY e.seq, l.line_no"
);
const SQL_REPORT: &str = concat!("SELECT ", report_cols!(), " FROM reports WHERE account_id = $1 AND id = $2");
const SQL_REPORTS_COUNT: &str = "SELECT COUNT(*) FROM reports WHERE account_id = $1";
const SQL_REPORTS: &str = concat!(
    "SELECT ",
    report_cols!(),
    " FROM reports WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
const SQL_CONTENT: &str = "SELECT content FROM reports WHERE account_id = $1 AND id = $2 AND status = 'ready'";
const SQL_DUE: &str =
    "SELECT 1 FROM reports WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $1) LIMIT 1";
const SQL_ACTIVE_ACCOUNTS: &str = "SELECT id FROM accounts WHERE status = 'ACTIVE' AND id > $1 ORDER BY id LIMIT $2";
const SQL_INSERT: &str = concat!(
    "INSERT INTO reports (",
    report_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING"
);
const SQL_CLAIM: &str = concat!(
    "UPDATE reports SET lease_until = $2, attempts = attempts + 1 WHERE id IN (SELECT id FROM reports \
     WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $1) ORDER BY created_at, id LIMIT $3 \
     FOR UPDATE SKIP LOCKED) RETURNING ",
    report_cols!()
);
const SQL_FINISH: &str = "UPDATE reports SET status = $2, row_count = $3, sha256 = $4, content = $5, file_path = $6, \
     error = $7, completed_at = $8, lease_until = NULL WHERE id = $1 AND status = 'pending'";

fn report_row(r: &Row) -> StoreResult<ReportRow> {
    Ok(ReportRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        kind: col(r, 2)?,
        period_start: col(r, 3)?,
        period_end: col(r, 4)?,
        status: col(r, 5)?,
        trigger: col(r, 6)?,
        created_by: col(r, 7)?,
        row_count: col(r, 8)?,
        sha256: col(r, 9)?,
        file_path: col(r, 10)?,
        error: col(r, 11)?,
        attempts: col(r, 12)?,
        created_at: col(r, 13)?,
        completed_at: col(r, 14)?,
    })
}

fn line_row(r: &Row) -> StoreResult<ReportLedgerLine> {
    let line_no: i32 = col(r, 2)?;
    Ok(ReportLedgerLine {
        entry_id: col(r, 0)?,
        seq: col(r, 1)?,
        line_no: i64::from(line_no),
        entry_kind: col(r, 3)?,
        reference_type: col(r, 4)?,
        reference_id: col(r, 5)?,
        created_at: from_ms(col(r, 6)?)?,
        owner_id: col(r, 7)?,
        currency: col(r, 8)?,
        ledger_kind: col(r, 9)?,
        amount: col(r, 10)?,
    })
}

impl PgStore {
    pub(super) async fn report_lines(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> StoreResult<Vec<ReportLedgerLine>> {
        let (seq, line) = after.unwrap_or((i64::MIN, i64::MIN));
        let line = i32::try_from(line).unwrap_or(if line < 0 { i32::MIN } else { i32::MAX });
        let rows = self.rows(SQL_LINES, &[&account.0, &ms(from), &ms(to), &seq, &line, &i64::from(limit)]).await?;
        collect(&rows, line_row)
    }

    pub(super) async fn report_balances(
        &self,
        account: AccountId,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = self.rows(SQL_BALANCES_AT, &[&account.to_string(), &ms(at)]).await?;
        collect(&rows, |r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
    }

    pub(super) async fn report_payout_page(
        &self,
        account: AccountId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<PayoutRow>> {
        let sql = format!(
            "SELECT {} FROM payouts WHERE account_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5)) ORDER BY created_at, id LIMIT $6",
            super::payouts::PAYOUT_COLS
        );
        let (at, id) = (after.map(|(t, _)| db_time(t)), after.map_or(Uuid::nil(), |(_, id)| id));
        let rows = self.rows(&sql, &[&account.0, &db_time(from), &db_time(to), &at, &id, &i64::from(limit)]).await?;
        collect(&rows, super::payouts::payout_from_row)
    }

    pub(super) async fn report_ref_lines(
        &self,
        account: AccountId,
        reference_type: &str,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ReportLedgerLine>> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = self.rows(SQL_REFERENCE_LINES, &[&account.0, &reference_type, &ids]).await?;
        collect(&rows, line_row)
    }

    pub(super) async fn report_held_batch(
        &self,
        account: AccountId,
        payouts: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, Uuid)>> {
        let rows = self.rows(SQL_HELD_BATCH_PAYOUTS, &[&account.0, &payouts]).await?;
        collect(&rows, |r| Ok((col(r, 0)?, col(r, 1)?)))
    }

    pub(super) async fn report_get(&self, account: AccountId, id: Uuid) -> StoreResult<Option<ReportRow>> {
        self.row_opt(SQL_REPORT, &[&account.0, &id]).await?.as_ref().map(report_row).transpose()
    }

    pub(super) async fn report_list(&self, account: AccountId, page: PageRequest) -> StoreResult<Page<ReportRow>> {
        let total = count_of(&self.row(SQL_REPORTS_COUNT, &[&account.0]).await?)?;
        let (limit, offset) = page_params(page);
        let rows = self.rows(SQL_REPORTS, &[&account.0, &limit, &offset]).await?;
        Ok(Page { total_items: total, items: collect(&rows, report_row)? })
    }

    pub(super) async fn report_bytes(&self, account: AccountId, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        match self.row_opt(SQL_CONTENT, &[&account.0, &id]).await? {
            Some(r) => col(&r, 0),
            None => Ok(None),
        }
    }

    pub(super) async fn report_due(&self, now: OffsetDateTime) -> StoreResult<bool> {
        Ok(self.row_opt(SQL_DUE, &[&db_time(now)]).await?.is_some())
    }

    pub(super) async fn accounts_active(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        let after = after.map_or(Uuid::nil(), |a| a.0);
        let rows = self.rows(SQL_ACTIVE_ACCOUNTS, &[&after, &i64::from(limit)]).await?;
        collect(&rows, |r| Ok(AccountId(col(r, 0)?)))
    }
}

impl PgTx<'_> {
    pub(super) async fn report_insert(&mut self, r: &ReportRow) -> StoreResult<bool> {
        let n = self
            .exec(
                SQL_INSERT,
                &[
                    &r.id,
                    &r.account_id.0,
                    &r.kind,
                    &db_time(r.period_start),
                    &db_time(r.period_end),
                    &r.status,
                    &r.trigger,
                    &r.created_by,
                    &r.row_count,
                    &r.sha256,
                    &r.file_path,
                    &r.error,
                    &r.attempts,
                    &db_time(r.created_at),
                    &r.completed_at.map(db_time),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    pub(super) async fn report_claim(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ReportRow>> {
        let rows = self.all(SQL_CLAIM, &[&db_time(now), &db_time(lease_until), &i64::from(limit)]).await?;
        collect(&rows, report_row)
    }

    pub(super) async fn report_finish(&mut self, f: &ReportFinish) -> StoreResult<bool> {
        let n = self
            .exec(
                SQL_FINISH,
                &[&f.id, &f.status, &f.row_count, &f.sha256, &f.content, &f.file_path, &f.error, &db_time(f.at)],
            )
            .await?;
        Ok(n == 1)
    }
}
