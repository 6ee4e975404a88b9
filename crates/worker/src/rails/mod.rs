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
use outlay_engine::{Command, CommandError, Engine, OpenPayoutPages, Outcome};
use outlay_store::PayoutRow;

use crate::jobs::{JobHandler, JobResult, JobRunner, JobsConfig};
use outlay_engine::{RAIL_SUBMIT, rail_submission};

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
    /// The payout's short reference (ISO 20022 EndToEndId); empty when the report is about a
    /// whole submission (`submission`).
    pub end_to_end_id: String,
    /// A report on every payout of one submission (a whole file refused): the submission's id.
    pub submission: Option<Uuid>,
    pub outcome: RailOutcome,
    /// Where the report came from (a file name), for acknowledgement.
    pub source: String,
}

/// One way of paying out.
pub trait Rail: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Hand these payouts (already SENT) to the rail. `submission` identifies this hand-over; it
    /// may be repeated after a crash, so the rail must treat a repeated id as the same one.
    fn submit(
        &self,
        submission: Uuid,
        payouts: &[PayoutRow],
    ) -> impl Future<Output = Result<Vec<Submission>, RailError>> + Send;
    /// Status reports not yet acknowledged.
    fn poll(&self) -> impl Future<Output = Result<Vec<StatusReport>, RailError>> + Send;
    /// The reports have been applied: don't return them again.
    fn acknowledge(&self, reports: &[StatusReport]) -> impl Future<Output = Result<(), RailError>> + Send;
}

pub async fn run<R: Rail>(engine: Arc<Engine>, rail: Arc<R>, every: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(e) = pass(&engine, &rail).await {
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

/// One round: ready what is due, mark what is ready SENT (queuing its submission in the same
/// transaction), run the queued submissions, apply what the rail reported.
pub async fn pass<R: Rail>(engine: &Engine, rail: &Arc<R>) -> Result<PassSummary, PassError> {
    let mut summary = PassSummary::default();
    let now = engine.clock().now();
    let mut ready = Vec::new();
    let mut pages = OpenPayoutPages::new(now);
    while let Some(page) = pages.next(engine.store().as_ref()).await? {
        for p in page {
            let Ok(state) = p.state.parse::<PayoutState>() else { continue };
            if !matches!(state, PayoutState::Scheduled | PayoutState::ReadyToSend)
                || !engine.config().release_due(&p, now)
            {
                continue;
            }
            if state == PayoutState::Scheduled {
                let cmd = Command::TransitionPayout {
                    account: p.account_id,
                    payout: p.id,
                    to: PayoutState::ReadyToSend,
                    reason: None,
                };
                summary.readied += applied(engine.execute(cmd).await)?;
                pages.moved(p.id);
            }
            ready.push(p);
        }
    }
    for chunk in ready.chunks(MAX_BATCH) {
        let cmd = Command::SendPayouts {
            payouts: chunk.iter().map(|p| (p.account_id, p.id)).collect(),
            reason: format!("sent by rail {}", rail.name()),
            rail: Some(rail.name().to_owned()),
        };
        match engine.execute(cmd).await? {
            Outcome::PayoutsSent(_) => {}
            other => return Err(CommandError::Internal(format!("unexpected outcome {other:?}")).into()),
        }
    }
    // Submissions queued by this pass, by an earlier one, or by a node that died before its
    // rail had them.
    let runner = JobRunner::default().with(RAIL_SUBMIT, Arc::new(SubmitToRail { rail: Arc::clone(rail) }));
    loop {
        let round = runner.round(engine, &JobsConfig::default()).await?;
        summary.sent += round.done;
        if round.done + round.failed + round.lost == 0 {
            break;
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

/// The `rail.submit` job: hand the job's payouts that are still SENT to the rail.
struct SubmitToRail<R> {
    rail: Arc<R>,
}

impl<R: Rail> JobHandler for SubmitToRail<R> {
    fn run<'a>(
        &'a self,
        engine: &'a Engine,
        job: &'a outlay_store::JobRow,
    ) -> std::pin::Pin<Box<dyn Future<Output = JobResult> + Send + 'a>> {
        Box::pin(async move {
            let (rail, payouts) = rail_submission(job)?;
            if rail != self.rail.name() {
                return Err(format!("job is for rail {rail}, this node runs {}", self.rail.name()));
            }
            let mut rows = Vec::new();
            for (account, id) in payouts {
                match engine.store().payout(account, id).await {
                    Ok(Some(p)) if p.state == PayoutState::Sent.code() => rows.push(p),
                    // Moved on (a simulation call, a report applied already): nothing to send.
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            if rows.is_empty() {
                return Ok(());
            }
            let submissions = self.rail.submit(job.id, &rows).await.map_err(|e| e.to_string())?;
            tracing::info!(rail = self.rail.name(), payouts = submissions.len(), job = %job.id, "payouts handed to the rail");
            Ok(())
        })
    }
}

/// Apply one report; 0 when there was nothing to do (already applied, unknown payout, pending).
pub async fn apply(engine: &Engine, rail: &str, r: &StatusReport) -> Result<usize, PassError> {
    let (to, reason) = match &r.outcome {
        RailOutcome::Pending => return Ok(0),
        RailOutcome::Completed => (PayoutState::Completed, None),
        RailOutcome::Failed { code, detail } => (PayoutState::Failed, Some(failure(code, detail))),
        RailOutcome::Rejected { code, detail } => (PayoutState::Rejected, Some(failure(code, detail))),
    };
    let targets: Vec<(outlay_core::AccountId, Uuid)> = match r.submission {
        Some(submission) => submission_payouts(engine, submission).await?,
        None => match engine.store().payout_by_short_reference(&r.end_to_end_id).await? {
            Some(p) => vec![(p.account_id, p.id)],
            None => Vec::new(),
        },
    };
    if targets.is_empty() {
        tracing::warn!(rail, report = ?r, "status report for unknown payouts ignored");
    }
    let mut changed = 0;
    for (account, payout) in targets {
        let cmd = Command::TransitionPayout { account, payout, to, reason: reason.clone() };
        changed += applied(engine.execute(cmd).await)?;
    }
    Ok(changed)
}

/// The payouts a submission (a `rail.submit` job) handed to the rail.
async fn submission_payouts(
    engine: &Engine,
    submission: Uuid,
) -> Result<Vec<(outlay_core::AccountId, Uuid)>, PassError> {
    let Some(job) = engine.store().job(submission).await? else { return Ok(Vec::new()) };
    rail_submission(&job).map(|(_, payouts)| payouts).map_err(|e| PassError::Engine(CommandError::Internal(e)))
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
