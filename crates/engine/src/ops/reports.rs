//! Reports: a request becomes a pending row; the report worker claims it with a lease, writes
//! the CSV from the read side and settles it here. No money moves.

use outlay_store::{ReportFinish, ReportRow, WriteTx};
use uuid::Uuid;

use super::Ctx;
use crate::command::NewReport;
use crate::{CommandError, Outcome};

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, r: &NewReport) -> Result<Outcome, CommandError> {
    if r.period_end <= r.period_start {
        return Err(CommandError::Rejected {
            field: "to",
            code: "invalid_period",
            message: "to: must be after from".to_owned(),
        });
    }
    if tx.account(r.account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    let row = ReportRow {
        id: Uuid::now_v7(),
        account_id: r.account,
        kind: r.kind.as_str().to_owned(),
        period_start: r.period_start,
        period_end: r.period_end,
        status: "pending".to_owned(),
        trigger: r.trigger.to_owned(),
        created_by: r.created_by,
        row_count: None,
        sha256: None,
        file_path: None,
        error: None,
        attempts: 0,
        created_at: ctx.now,
        completed_at: None,
    };
    let created = tx.insert_report(&row).await?;
    Ok(Outcome::Report { report: Box::new(row), created })
}

/// Create each report not made yet, in (account, kind) order: the unique index's row locks are
/// then taken in the same order by every node.
pub async fn schedule(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, asks: &[NewReport]) -> Result<Outcome, CommandError> {
    let mut ordered: Vec<&NewReport> = asks.iter().collect();
    ordered.sort_by(|a, b| (a.account, a.kind.as_str()).cmp(&(b.account, b.kind.as_str())));
    let mut created = 0;
    for ask in ordered {
        if let Outcome::Report { created: true, .. } = create(tx, ctx, ask).await? {
            created += 1;
        }
    }
    Ok(Outcome::ReportsScheduled { created })
}

pub async fn claim(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    limit: u32,
    lease: time::Duration,
) -> Result<Outcome, CommandError> {
    Ok(Outcome::ReportsClaimed(tx.claim_reports(ctx.now, ctx.now + lease, limit).await?))
}

pub async fn finish(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, f: &ReportFinish) -> Result<Outcome, CommandError> {
    let finish = ReportFinish { at: ctx.now, ..f.clone() };
    Ok(Outcome::ReportFinished { recorded: tx.finish_report(&finish).await? })
}
