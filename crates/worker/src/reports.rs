//! The standard reports, written in the background.
//!
//! A report is a row (`POST /api/v1/reports`, or the daily schedule) that this worker claims
//! with a lease through the engine's writer, builds from the read side page by page (pure
//! builders in `outlay_core::reports`), writes to the account's `Reports/` directory and stores
//! with its SHA-256, so any node can serve the download. A worker that dies mid-report leaves a
//! leased row that any worker takes again when the lease expires; writing a report twice gives
//! the same bytes for the same period, since the ledger is append-only.
//!
//! The daily schedule asks, once the configured time of day has passed, for every report of the
//! previous day for every active account. A scheduled report is unique per account, kind and
//! period in the database, so several nodes scheduling the same day write it once.
//!
//! This loop is self-contained so it can move onto the jobs table as one job kind ("write
//! report <id>") plus one periodic job ("schedule the daily reports").

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use outlay_core::reports::{
    BalanceStatement, FeesReport, LedgerLine, PayoutEntries, PayoutLine, PayoutsReport, ReconciliationReport, Rendered,
    ReportKind, UnifiedBalance,
};
use outlay_engine::events::rfc3339;
use outlay_engine::{Command, CommandError, Engine, NewReport, Outcome};
use outlay_store::{PayoutRow, ReportFinish, ReportLedgerLine, ReportRow, Store, StoreError};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use tokio_util::sync::CancellationToken;

/// How long a claimed report is reserved for its worker.
pub const LEASE: time::Duration = time::Duration::minutes(5);
/// Rows read per query.
const PAGE: u32 = 500;
/// Attempts before a report that keeps failing is marked failed.
const MAX_ATTEMPTS: i32 = 3;

/// When the daily reports run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailySchedule {
    /// Time of day, in `offset`.
    pub at: Time,
    /// The time zone the day and `at` are counted in, as a fixed offset (UTC by default).
    pub offset: UtcOffset,
}

impl DailySchedule {
    /// The day whose reports are due at `now`: the day before the latest run time that has
    /// passed (at 00:30 with a 01:00 schedule that is the day before yesterday).
    pub fn due_day(&self, now: OffsetDateTime) -> Option<Date> {
        let local = now.to_offset(self.offset);
        let run_date = if local.time() >= self.at { local.date() } else { local.date().previous_day()? };
        run_date.previous_day()
    }

    /// The day as a period [start, end) in UTC.
    pub fn period(&self, day: Date) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let start = PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_offset(self.offset);
        let end = PrimitiveDateTime::new(day.next_day()?, Time::MIDNIGHT).assume_offset(self.offset);
        Some((start.to_offset(UtcOffset::UTC), end.to_offset(UtcOffset::UTC)))
    }
}

#[derive(Clone, Debug)]
pub struct ReportWorkerConfig {
    /// How often to look for pending reports (and whether the daily run is due).
    pub poll_interval: Duration,
    /// The daily run, if any.
    pub daily: Option<DailySchedule>,
    /// Files go to `<root>/<account_id>/Reports/` (the SFTP jail of the account); without a
    /// root, reports are kept in the database and served by the API only.
    pub root: Option<PathBuf>,
}

impl Default for ReportWorkerConfig {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(500), daily: None, root: None }
    }
}

/// Schedule and write reports until `shutdown` is cancelled.
pub async fn run(engine: Arc<Engine>, config: ReportWorkerConfig, shutdown: CancellationToken) {
    let mut scheduled: Option<Date> = None;
    loop {
        if let Some(daily) = config.daily
            && let Some(day) = daily.due_day(engine.clock().now())
            && scheduled != Some(day)
        {
            match schedule_day(&engine, &daily, day).await {
                Ok(created) => {
                    if created > 0 {
                        tracing::info!(%day, created, "daily reports scheduled");
                    }
                    scheduled = Some(day);
                }
                Err(CommandError::ShuttingDown) => break,
                Err(e) => tracing::warn!(error = %e, %day, "scheduling the daily reports failed; retrying"),
            }
        }
        let mut busy = false;
        match claim(&engine).await {
            Ok(batch) => {
                busy = !batch.is_empty();
                for report in batch {
                    if shutdown.is_cancelled() {
                        break;
                    }
                    write_one(&engine, &config, &report).await;
                }
            }
            Err(CommandError::ShuttingDown) => break,
            Err(e) => tracing::warn!(error = %e, "claiming reports failed"),
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(config.poll_interval), if !busy => {}
            () = std::future::ready(()), if busy => {}
        }
    }
    tracing::info!("report worker stopped");
}

/// Ask for every report of `day` for every active account. Returns how many were new. A page of
/// accounts is asked for at once, so the writer commits them in a few group commits.
pub async fn schedule_day(engine: &Arc<Engine>, daily: &DailySchedule, day: Date) -> Result<u64, CommandError> {
    let Some((start, end)) = daily.period(day) else { return Ok(0) };
    let mut created = 0;
    let mut after = None;
    loop {
        let accounts = engine.store().active_accounts(after, PAGE).await?;
        let asks: Vec<NewReport> = accounts
            .iter()
            .flat_map(|account| {
                ReportKind::ALL.into_iter().map(move |kind| NewReport {
                    account: *account,
                    kind,
                    period_start: start,
                    period_end: end,
                    trigger: "schedule",
                    created_by: None,
                })
            })
            .collect();
        // One transaction per page, rows in a fixed order: two nodes scheduling the same day at
        // once take turns instead of deadlocking on the unique index.
        // Asked again on the next tick if it fails; the ones already made are not made twice.
        if !asks.is_empty() {
            match engine.execute(Command::ScheduleReports(asks)).await? {
                Outcome::ReportsScheduled { created: new } => created += new,
                other => return Err(CommandError::Internal(format!("scheduling answered {other:?}"))),
            }
        }
        if accounts.len() < PAGE as usize {
            return Ok(created);
        }
        after = accounts.last().copied();
    }
}

async fn claim(engine: &Engine) -> Result<Vec<ReportRow>, CommandError> {
    if !engine.store().reports_due(engine.clock().now()).await? {
        return Ok(Vec::new());
    }
    match engine.execute(Command::ClaimReports { limit: 4, lease: LEASE }).await? {
        Outcome::ReportsClaimed(batch) => Ok(batch),
        other => Err(CommandError::Internal(format!("claim answered {other:?}"))),
    }
}

async fn write_one(engine: &Engine, config: &ReportWorkerConfig, report: &ReportRow) {
    let finish = match build(engine.store().as_ref(), report).await {
        Ok(rendered) => {
            let offset = config.daily.map_or(UtcOffset::UTC, |d| d.offset);
            let file_path = match config.root.as_deref().map(|root| file_path(root, report, offset)) {
                None => None,
                Some(path) => match write_file(&path, rendered.csv.as_bytes()).await {
                    Ok(()) => Some(path.display().to_string()),
                    Err(e) => {
                        // The API still serves the report; the file is a copy for SFTP.
                        tracing::warn!(error = %e, path = %path.display(), "report file not written");
                        None
                    }
                },
            };
            ReportFinish {
                id: report.id,
                status: "ready".to_owned(),
                row_count: i64::try_from(rendered.row_count).ok(),
                sha256: Some(rendered.sha256),
                content: Some(rendered.csv.into_bytes()),
                file_path,
                error: None,
                at: engine.clock().now(),
            }
        }
        Err(e) if report.attempts >= MAX_ATTEMPTS => {
            tracing::error!(error = %e, report = %report.id, "report failed for good");
            ReportFinish {
                id: report.id,
                status: "failed".to_owned(),
                row_count: None,
                sha256: None,
                content: None,
                file_path: None,
                error: Some(e.to_string()),
                at: engine.clock().now(),
            }
        }
        Err(e) => {
            // Left pending: taken again when the lease expires.
            tracing::warn!(error = %e, report = %report.id, attempt = report.attempts, "report failed; will retry");
            return;
        }
    };
    match engine.execute(Command::FinishReport(Box::new(finish))).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, report = %report.id, "recording a finished report failed"),
    }
}

/// `<root>/<account>/Reports/<kind>_<YYYY-MM-DD>.csv` for a scheduled day; API reports add the
/// end date and the report id, so they never overwrite a daily file.
pub fn file_path(root: &Path, report: &ReportRow, offset: UtcOffset) -> PathBuf {
    let day = |t: OffsetDateTime| {
        let d = t.to_offset(offset).date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let name = if report.trigger == "schedule" {
        format!("{}_{}.csv", report.kind, day(report.period_start))
    } else {
        let last = report.period_end - time::Duration::milliseconds(1);
        format!("{}_{}_{}_{}.csv", report.kind, day(report.period_start), day(last), report.id.simple())
    };
    root.join(report.account_id.to_string()).join("Reports").join(name)
}

/// Write through a `.part` file and rename, so a reader never sees half a report.
async fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let part = path.with_extension("csv.part");
    tokio::fs::write(&part, bytes).await?;
    tokio::fs::rename(&part, path).await
}

/// Build a report's CSV from the read side.
pub async fn build(store: &dyn Store, r: &ReportRow) -> Result<Rendered, StoreError> {
    let kind = ReportKind::parse(&r.kind).ok_or_else(|| StoreError::corrupt(format!("report kind {}", r.kind)))?;
    match kind {
        ReportKind::Payouts => {
            let mut b = PayoutsReport::new();
            let mut after = None;
            loop {
                let page = store.report_payouts(r.account_id, r.period_start, r.period_end, after, PAGE).await?;
                for p in &page {
                    b.push(&payout_line(p));
                }
                if page.len() < PAGE as usize {
                    break;
                }
                after = page.last().map(|p| (p.created_at, p.id));
            }
            Ok(b.finish())
        }
        ReportKind::BalanceStatement => {
            let opening = balances_at(store, r, r.period_start).await?;
            let mut b = BalanceStatement::new(opening);
            for_each_line(store, r, |l| b.push(l)).await?;
            let closing = balances_at(store, r, r.period_end).await?;
            let (rendered, balanced) = b.finish(&closing);
            if !balanced {
                tracing::error!(report = %r.id, account = %r.account_id, "balance statement does not tie: opening plus movements differs from closing");
            }
            Ok(rendered)
        }
        ReportKind::Fees => {
            let mut b = FeesReport::new();
            for_each_line(store, r, |l| b.push(l)).await?;
            Ok(b.finish())
        }
        ReportKind::Reconciliation => {
            let mut b = ReconciliationReport::new();
            let mut after = None;
            loop {
                let page = store.report_payouts(r.account_id, r.period_start, r.period_end, after, PAGE).await?;
                let ids: Vec<uuid::Uuid> = page.iter().map(|p| p.id).collect();
                let lines = store.report_reference_lines(r.account_id, "payout", &ids).await?;
                let mut by_payout: HashMap<String, Vec<LedgerLine>> = HashMap::new();
                for l in &lines {
                    by_payout.entry(l.reference_id.clone()).or_default().push(ledger_line(r, l));
                }
                // Payouts of a batch held as a whole draw on the batch's hold entry.
                let drawn: HashMap<uuid::Uuid, uuid::Uuid> =
                    store.report_held_batch_payouts(r.account_id, &ids).await?.into_iter().collect();
                let mut batches: Vec<uuid::Uuid> = drawn.values().copied().collect();
                batches.sort_unstable();
                batches.dedup();
                let batch_holds: HashMap<String, String> = if batches.is_empty() {
                    HashMap::new()
                } else {
                    store
                        .report_reference_lines(r.account_id, "payout_batch", &batches)
                        .await?
                        .into_iter()
                        .filter(|l| l.entry_kind == "hold")
                        .map(|l| (l.reference_id, l.entry_id.to_string()))
                        .collect()
                };
                for p in &page {
                    let mut entries =
                        PayoutEntries::from_lines(by_payout.get(&p.id.to_string()).map(Vec::as_slice).unwrap_or(&[]));
                    if let Some(hold) = drawn.get(&p.id).and_then(|batch| batch_holds.get(&batch.to_string())) {
                        entries.held_by_batch(p.amount + p.fee_amount, hold);
                    }
                    b.push(&payout_line(p), &entries, &p.short_reference_id);
                }
                if page.len() < PAGE as usize {
                    break;
                }
                after = page.last().map(|p| (p.created_at, p.id));
            }
            if b.unreconciled() > 0 {
                tracing::warn!(report = %r.id, unreconciled = b.unreconciled(), "payouts whose entries do not match their status");
            }
            Ok(b.finish())
        }
    }
}

async fn for_each_line(store: &dyn Store, r: &ReportRow, mut f: impl FnMut(&LedgerLine)) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = store.report_ledger_lines(r.account_id, r.period_start, r.period_end, after, PAGE).await?;
        for l in &page {
            f(&ledger_line(r, l));
        }
        if page.len() < PAGE as usize {
            return Ok(());
        }
        after = page.last().map(|l| (l.seq, l.line_no));
    }
}

async fn balances_at(
    store: &dyn Store,
    r: &ReportRow,
    at: OffsetDateTime,
) -> Result<BTreeMap<String, UnifiedBalance>, StoreError> {
    let mut out: BTreeMap<String, UnifiedBalance> = BTreeMap::new();
    for (currency, kind, balance) in store.report_balances_at(r.account_id, at).await? {
        out.entry(currency).or_default().add(&kind, balance);
    }
    Ok(out)
}

fn ledger_line(r: &ReportRow, l: &ReportLedgerLine) -> LedgerLine {
    LedgerLine {
        entry_id: l.entry_id.to_string(),
        line_no: l.line_no,
        entry_kind: l.entry_kind.clone(),
        reference_type: l.reference_type.clone(),
        reference_id: l.reference_id.clone(),
        created_at: rfc3339(l.created_at),
        client_owned: l.owner_id == r.account_id.to_string(),
        currency: l.currency.clone(),
        ledger_kind: l.ledger_kind.clone(),
        amount: l.amount,
    }
}

fn payout_line(p: &PayoutRow) -> PayoutLine {
    let status = p.state.parse::<outlay_core::payout::PayoutState>().map_or("UNKNOWN", |s| s.wire_status());
    PayoutLine {
        id: p.id.to_string(),
        short_reference_id: p.short_reference_id.clone(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
        completed_at: p.completed_at.map(rfc3339),
        status: status.to_owned(),
        state: p.state.clone(),
        currency: p.currency.clone(),
        amount: p.amount,
        fee: p.fee_amount,
        payout_currency: p.payout_currency.clone(),
        payout_amount: p.payout_amount,
        payment_method: p.payment_method.clone(),
        beneficiary_id: p.beneficiary_id.to_string(),
        payout_reference: p.payout_reference.clone(),
        failure_reason: p.failure_reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset, time};

    #[test]
    fn the_due_day_is_the_day_before_the_last_run() {
        let utc = DailySchedule { at: time!(01:00), offset: UtcOffset::UTC };
        assert_eq!(utc.due_day(datetime!(2026-03-10 00:59:59 UTC)), Some(time::macros::date!(2026 - 03 - 08)));
        assert_eq!(utc.due_day(datetime!(2026-03-10 01:00:00 UTC)), Some(time::macros::date!(2026 - 03 - 09)));
        let (start, end) = utc.period(time::macros::date!(2026 - 03 - 09)).expect("period");
        assert_eq!((start, end), (datetime!(2026-03-09 00:00 UTC), datetime!(2026-03-10 00:00 UTC)));
        // In UTC+8, 01:00 local on 10 March is 17:00 UTC on 9 March.
        let sg = DailySchedule { at: time!(01:00), offset: offset!(+8) };
        assert_eq!(sg.due_day(datetime!(2026-03-09 17:00:00 UTC)), Some(time::macros::date!(2026 - 03 - 09)));
        let (start, _) = sg.period(time::macros::date!(2026 - 03 - 09)).expect("period");
        assert_eq!(start, datetime!(2026-03-08 16:00 UTC));
    }
}
