//! The jobs table's writes: enqueue, claim with a lease, finish (done, or failed with a retry
//! time). Jobs other operations queue in their own transaction live here too.

use std::time::Duration;

use outlay_core::AccountId;
use outlay_store::{JobEnd, NewJob, WriteTx};
use serde_json::json;
use uuid::Uuid;

use super::Ctx;
use crate::{CommandError, Outcome};

/// The job that hands SENT payouts to a rail.
pub const RAIL_SUBMIT: &str = "rail.submit";
/// A rail submission is retried for about a day (backoff capped by the runner).
const RAIL_SUBMIT_ATTEMPTS: i32 = 50;

pub async fn enqueue(tx: &mut dyn WriteTx, job: &NewJob) -> Result<Outcome, CommandError> {
    Ok(Outcome::JobEnqueued(tx.enqueue_job(job).await?))
}

pub async fn claim(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    kinds: &[String],
    limit: u32,
    lease: Duration,
) -> Result<Outcome, CommandError> {
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let lease_until = ctx.now + lease;
    Ok(Outcome::JobsClaimed(tx.claim_jobs(&kinds, ctx.now, lease_until, limit).await?))
}

pub async fn finish(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    id: Uuid,
    claim_token: Uuid,
    end: &JobEnd,
) -> Result<Outcome, CommandError> {
    Ok(Outcome::JobFinished(tx.finish_job(id, claim_token, end, ctx.now).await?))
}

/// A `rail.submit` job's payload read back: the rail it is for and its payouts. The one reader
/// of what [`enqueue_rail_submit`] writes.
pub fn rail_submission(job: &outlay_store::JobRow) -> Result<(String, Vec<(AccountId, Uuid)>), String> {
    let rail = job.payload.get("rail").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let items = job.payload.get("payouts").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    let payouts = items
        .iter()
        .map(|item| {
            let account = item.get("account_id").and_then(serde_json::Value::as_str).and_then(|s| s.parse().ok());
            let payout = item.get("payout_id").and_then(serde_json::Value::as_str).and_then(|s| s.parse().ok());
            account.zip(payout).ok_or_else(|| format!("job {} has a bad payout entry: {item}", job.id))
        })
        .collect::<Result<_, _>>()?;
    Ok((rail, payouts))
}

/// Queue the submission of these (just SENT) payouts to `rail`.
pub async fn enqueue_rail_submit(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    rail: &str,
    payouts: &[(AccountId, Uuid)],
) -> Result<(), CommandError> {
    let job = NewJob {
        id: Uuid::now_v7(),
        kind: RAIL_SUBMIT.to_owned(),
        dedupe_key: None,
        payload: json!({
            "rail": rail,
            "payouts": payouts.iter().map(|(account, id)| json!({"account_id": account, "payout_id": id})).collect::<Vec<_>>(),
        }),
        run_at: ctx.now,
        max_attempts: RAIL_SUBMIT_ATTEMPTS,
        created_at: ctx.now,
    };
    tx.enqueue_job(&job).await?;
    Ok(())
}
