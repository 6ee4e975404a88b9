//! Sandbox only: settles pending deposits and withdrawals after a delay, as a bank would. The
//! durable jobs table replaces this for real rails; until then every settle command checks the
//! object's state in its own transaction, so two nodes settling the same object is harmless.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{Command, CommandError, Engine, Settlement};

pub async fn run(engine: Arc<Engine>, delay: Duration, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = settle_due(&engine, delay).await {
            tracing::warn!(error = %e, "sandbox settler pass failed");
        }
    }
}

/// Settle everything pending for longer than `delay`. Returns how many were settled.
pub async fn settle_due(engine: &Engine, delay: Duration) -> Result<usize, CommandError> {
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
    Ok(settled)
}

fn count<T>(result: Result<T, CommandError>) -> Result<usize, CommandError> {
    match result {
        Ok(_) => Ok(1),
        // Someone (a simulation call, another node) got there first.
        Err(CommandError::InvalidState(_) | CommandError::NotFound { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}
