//! Sandbox only: settles pending deposits and withdrawals after a delay, as a bank would, and
//! walks payouts through the sandbox rail: a scheduled payout becomes ready on its date (before
//! its corridor's cut-off, on a business day), a ready one is sent after the delay, a sent one
//! completes after the delay. Deterministic outcomes by amount: minor units ending in 91 fail at
//! the bank ("account closed"), ending in 92 are rejected by compliance before sending, ending
//! in 93 complete and then come back as a late return. The durable jobs table replaces this for real rails;
//! until then every command checks the object's state in its own transaction, so two nodes
//! settling the same object is harmless.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use outlay_core::payout::PayoutState;

use crate::{Command, CommandError, Engine, Settlement};

/// `walk_payouts`: whether the sandbox rail moves payouts (off when a real rail does).
pub async fn run(
    engine: Arc<Engine>,
    delay: Duration,
    every: Duration,
    walk_payouts: bool,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = settle_due(&engine, delay, walk_payouts).await {
            tracing::warn!(error = %e, "sandbox settler pass failed");
        }
    }
}

/// Settle everything pending for longer than `delay`. Returns how many were settled.
pub async fn settle_due(engine: &Engine, delay: Duration, walk_payouts: bool) -> Result<usize, CommandError> {
    let cutoff = engine.clock().now() - delay;
    let mut settled = 0;
    for d in engine.store().pending_deposits(cutoff, 500).await? {
        let cmd = Command::SettleDeposit { account: d.account_id, deposit: d.id, settlement: Settlement::Complete };
        settled += count(engine.execute(cmd).await)?;
    }
    for w in engine.store().pending_withdrawals(cutoff, 500).await? {
        let cmd =
            Command::SettleWithdrawal { account: w.account_id, withdrawal: w.id, settlement: Settlement::Complete };
        settled += count(engine.execute(cmd).await)?;
    }
    if !walk_payouts {
        return Ok(settled);
    }
    let now = engine.clock().now();
    let mut pages = crate::OpenPayoutPages::new(now);
    while let Some(page) = pages.next(engine.store().as_ref()).await? {
        settled += walk_page(engine, page, now, cutoff, &mut pages).await?;
    }
    Ok(settled)
}

/// One page of open payouts through the sandbox rail's next steps.
async fn walk_page(
    engine: &Engine,
    page: Vec<outlay_store::PayoutRow>,
    now: time::OffsetDateTime,
    cutoff: time::OffsetDateTime,
    pages: &mut crate::OpenPayoutPages,
) -> Result<usize, CommandError> {
    let mut settled = 0;
    for p in page {
        let due = engine.config().release_due(&p, now);
        let Some((to, reason)) = sandbox_rail_step(&p, due, cutoff) else { continue };
        pages.moved(p.id);
        let cmd =
            Command::TransitionPayout { account: p.account_id, payout: p.id, to, reason: reason.map(str::to_owned) };
        let stepped = count(engine.execute(cmd).await)?;
        settled += stepped;
        // The late-return trigger: completed, then the beneficiary's bank sends the money back.
        if stepped == 1 && to == PayoutState::Completed && p.amount % 100 == LATE_RETURN_TRIGGER {
            let cmd = Command::TransitionPayout {
                account: p.account_id,
                payout: p.id,
                to: PayoutState::Returned,
                reason: Some("beneficiary account closed after crediting; funds returned (sandbox trigger)".into()),
            };
            settled += count(engine.execute(cmd).await)?;
        }
    }
    Ok(settled)
}

/// Minor units ending in 93: the payout completes, then comes back as a late return.
const LATE_RETURN_TRIGGER: i64 = 93;

/// The sandbox rail's next step for a payout, if it is due.
fn sandbox_rail_step(
    p: &outlay_store::PayoutRow,
    release_due: bool,
    cutoff: time::OffsetDateTime,
) -> Option<(PayoutState, Option<&'static str>)> {
    let state: PayoutState = p.state.parse().ok()?;
    let trigger = p.amount % 100;
    match state {
        PayoutState::Scheduled if release_due => Some((PayoutState::ReadyToSend, None)),
        PayoutState::ReadyToSend if p.updated_at <= cutoff && trigger == 92 => {
            Some((PayoutState::Rejected, Some("rejected by compliance screening (sandbox trigger)")))
        }
        PayoutState::ReadyToSend if p.updated_at <= cutoff && release_due => Some((PayoutState::Sent, None)),
        PayoutState::Sent if p.updated_at <= cutoff && trigger == 91 => {
            Some((PayoutState::Failed, Some("account closed")))
        }
        PayoutState::Sent if p.updated_at <= cutoff => Some((PayoutState::Completed, None)),
        _ => None,
    }
}

fn count<T>(result: Result<T, CommandError>) -> Result<usize, CommandError> {
    match result {
        Ok(_) => Ok(1),
        // Someone (a simulation call, another node) got there first.
        Err(CommandError::InvalidState(_) | CommandError::NotFound { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}
