//! Payout rails behind one trait: a rail takes payouts (`submit`) and reports what became of them
//! (`poll`, or a callback feeding the same reports). The driver here moves payouts through the
//! engine: due SCHEDULED → READY_TO_SEND, READY_TO_SEND → SENT in one command per submission,
//! and each reported outcome through `Command::TransitionPayout`. Every step is re-checked by the
//! engine in its own transaction, so a report applied twice, or by two nodes, changes nothing
//! the second time (a refused transition is ignored).

pub mod bank_file;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use outlay_core::payout::PayoutState;
use outlay_engine::{Command, CommandError, Engine, Outcome};
use outlay_store::PayoutRow;

/// Most payouts handed to a rail at once (one bank file).
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum RailError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Format(String),
}

/// A payout the rail took, and the rail's reference for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub payout_id: Uuid,
    /// E.g. `pain.001 OUT…/P261124-…` for the bank-file rail.
    pub rail_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailOutcome {
    Completed,
    /// Still on its way (the bank accepted it): nothing to do yet.
    Pending,
    /// The rail refused or bounced it. `code` is Outlay's normalised failure code
    /// (`account_closed`, `invalid_account`, `rejected_by_bank`, …); `detail` is the rail's own
    /// (e.g. `AC04 ClosedAccountNumber`).
    Failed {
        code: String,
        detail: String,
    },
    /// Refused for compliance reasons.
    Rejected {
        code: String,
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The payout's short reference (ISO 20022 EndToEndId).
    pub end_to_end_id: String,
    pub outcome: RailOutcome,
    /// Where the report came from (a file name), for acknowledgement.
    pub source: String,
}

/// One way of paying out.
pub trait Rail: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Hand these payouts (already SENT) to the rail.
    fn submit(&self, payouts: &[PayoutRow]) -> impl Future<Output = Result<Vec<Submission>, RailError>> + Send;
    /// Status reports not yet acknowledged.
    fn poll(&self) -> impl Future<Output = Result<Vec<StatusReport>, RailError>> + Send;
    /// The reports have been applied: don't return them again.
    fn acknowledge(&self, reports: &[StatusReport]) -> impl Future<Output = Result<(), RailError>> + Send;
}

pub async fn run<R: Rail>(engine: Arc<Engine>, rail: Arc<R>, every: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(e) = pass(&engine, rail.as_ref()).await {
            tracing::warn!(rail = rail.name(), error = %e, "rail pass failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassSummary {
    pub readied: usize,
    pub sent: usize,
    pub applied: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Engine(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] outlay_store::StoreError),
    #[error("rail: {0}")]
    Rail(#[from] RailError),
}

/// One round: ready what is due, submit what is ready, apply what the rail reported.
pub async fn pass<R: Rail>(engine: &Engine, rail: &R) -> Result<PassSummary, PassError> {
    let mut summary = PassSummary::default();
    let now = engine.clock().now();
    let today = now.date();
    let mut ready = Vec::new();
    for p in engine.store().open_payouts(now, 5000).await? {
        match p.state.parse::<PayoutState>() {
            Ok(PayoutState::Scheduled) if p.payout_date <= today => {
                let cmd = Command::TransitionPayout {
                    account: p.account_id,
                    payout: p.id,
                    to: PayoutState::ReadyToSend,
                    reason: None,
                };
                summary.readied += applied(engine.execute(cmd).await)?;
            }
            Ok(PayoutState::ReadyToSend) if p.payout_date <= today => ready.push(p),
            _ => {}
        }
    }
    for chunk in ready.chunks(MAX_BATCH) {
        let cmd = Command::SendPayouts {
            payouts: chunk.iter().map(|p| (p.account_id, p.id)).collect(),
            reason: format!("sent by rail {}", rail.name()),
        };
        let sent = match engine.execute(cmd).await? {
            Outcome::PayoutsSent(ids) => ids,
            other => return Err(CommandError::Internal(format!("unexpected outcome {other:?}")).into()),
        };
        let rows: Vec<PayoutRow> = chunk.iter().filter(|p| sent.contains(&p.id)).cloned().collect();
        if rows.is_empty() {
            continue;
        }
        // The payouts are SENT before the rail sees them: a crash in between leaves them SENT
        // with no file (visible, never paid twice), not READY_TO_SEND with a file already out.
        match rail.submit(&rows).await {
            Ok(submissions) => {
                summary.sent += submissions.len();
                tracing::info!(rail = rail.name(), payouts = submissions.len(), "payouts handed to the rail");
            }
            Err(e) => {
                tracing::error!(rail = rail.name(), payouts = ?sent, error = %e, "payouts are SENT but the rail did not take them");
                return Err(e.into());
            }
        }
    }
    let reports = rail.poll().await?;
    for r in &reports {
        summary.applied += apply(engine, rail.name(), r).await?;
    }
    if !reports.is_empty() {
        rail.acknowledge(&reports).await?;
    }
    Ok(summary)
}

/// Apply one report; 0 when there was nothing to do (already applied, unknown payout, pending).
pub async fn apply(engine: &Engine, rail: &str, r: &StatusReport) -> Result<usize, PassError> {
    let (to, reason) = match &r.outcome {
        RailOutcome::Pending => return Ok(0),
        RailOutcome::Completed => (PayoutState::Completed, None),
        RailOutcome::Failed { code, detail } => (PayoutState::Failed, Some(failure(code, detail))),
        RailOutcome::Rejected { code, detail } => (PayoutState::Rejected, Some(failure(code, detail))),
    };
    let Some(p) = engine.store().payout_by_short_reference(&r.end_to_end_id).await? else {
        tracing::warn!(rail, report = ?r, "status report for an unknown payout ignored");
        return Ok(0);
    };
    let cmd = Command::TransitionPayout { account: p.account_id, payout: p.id, to, reason };
    Ok(applied(engine.execute(cmd).await)?)
}

fn failure(code: &str, detail: &str) -> String {
    if detail.is_empty() { code.to_owned() } else { format!("{code}: {detail}") }
}

fn applied(result: Result<Outcome, CommandError>) -> Result<usize, CommandError> {
    match result {
        Ok(_) => Ok(1),
        // Applied before (a file read twice), or another node or a client got there first.
        Err(CommandError::InvalidState(_) | CommandError::NotFound { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}
