//! Webhook endpoints (create, rotate the secret, delete), replays, and the delivery worker's
//! claims and results. Deliveries themselves are created with each event (`insert_event`).

use outlay_core::AccountId;
use outlay_core::webhooks::next_attempt_at;
use outlay_store::{StoreError, WebhookAttemptRecord, WebhookEndpointRow, WebhookReplayFilter, WriteTx};
use rand::Rng;
use uuid::Uuid;

use super::Ctx;
use crate::auth::new_webhook_secret;
use crate::webhooks::{MAX_ENDPOINTS, MAX_REPLAY_EVENTS};
use crate::{CommandError, Outcome, WebhookAttempt, WebhookReplay};

/// Longest error text kept on a delivery.
const MAX_ERROR_CHARS: usize = 500;

pub async fn create_endpoint(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    url: &str,
    event_types: &[String],
) -> Result<Outcome, CommandError> {
    if tx.account(account).await?.is_none() {
        return Err(CommandError::NotFound { what: "account" });
    }
    if tx.count_active_webhook_endpoints(account).await? >= MAX_ENDPOINTS {
        return Err(CommandError::Rejected {
            field: "url",
            code: "too_many_endpoints",
            message: format!("url: an account may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        });
    }
    let row = WebhookEndpointRow {
        id: Uuid::now_v7(),
        account_id: account,
        url: url.to_owned(),
        secret: new_webhook_secret(),
        event_types: event_types.to_vec(),
        status: "ACTIVE".to_owned(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    tx.insert_webhook_endpoint(&row).await?;
    Ok(Outcome::WebhookEndpoint(Box::new(row)))
}

async fn owned(tx: &mut dyn WriteTx, account: AccountId, id: Uuid) -> Result<WebhookEndpointRow, CommandError> {
    match tx.webhook_endpoint(id).await? {
        Some(e) if e.account_id == account && e.status == "ACTIVE" => Ok(e),
        _ => Err(CommandError::NotFound { what: "webhook endpoint" }),
    }
}

/// A new secret signs every attempt from now on, including retries of earlier events.
pub async fn rotate_secret(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
) -> Result<Outcome, CommandError> {
    let row = WebhookEndpointRow { secret: new_webhook_secret(), updated_at: ctx.now, ..owned(tx, account, id).await? };
    tx.update_webhook_endpoint(&row).await?;
    Ok(Outcome::WebhookEndpoint(Box::new(row)))
}

/// A soft delete (deliveries keep their endpoint); its pending deliveries fail at once.
pub async fn delete_endpoint(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: AccountId,
    id: Uuid,
) -> Result<Outcome, CommandError> {
    let row = WebhookEndpointRow { status: "DELETED".to_owned(), updated_at: ctx.now, ..owned(tx, account, id).await? };
    tx.update_webhook_endpoint(&row).await?;
    tx.fail_pending_webhook_deliveries(id, ctx.now, "endpoint deleted").await?;
    Ok(Outcome::WebhookEndpoint(Box::new(row)))
}

pub async fn replay(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, r: &WebhookReplay) -> Result<Outcome, CommandError> {
    if let Some(endpoint) = r.endpoint_id {
        owned(tx, r.account, endpoint).await?;
    }
    let filter = WebhookReplayFilter {
        owner: r.account,
        event_id: r.event_id,
        event_type: r.event_type.clone(),
        start_time: r.start_time,
        end_time: r.end_time,
        endpoint_id: r.endpoint_id,
    };
    let events = tx.count_replay_events(&filter).await?;
    if r.event_id.is_some() && events == 0 {
        return Err(CommandError::NotFound { what: "event" });
    }
    if events > MAX_REPLAY_EVENTS {
        return Err(CommandError::Rejected {
            field: "start_time",
            code: "too_many_events",
            message: format!(
                "start_time: the filter matches {events} events; one replay takes at most {MAX_REPLAY_EVENTS} (narrow start_time, end_time or event_type)"
            ),
        });
    }
    let deliveries = match tx.replay_webhook_events(&filter, ctx.now).await {
        Ok(n) => n,
        // Another node replayed the same event to the same endpoint at the same moment: take
        // the next generation.
        Err(StoreError::Conflict { .. }) => return Err(CommandError::RetryCommand),
        Err(e) => return Err(e.into()),
    };
    Ok(Outcome::WebhookReplayed { events, deliveries })
}

pub async fn claim(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    limit: u32,
    lease: time::Duration,
) -> Result<Outcome, CommandError> {
    let claimed = tx.claim_webhook_deliveries(ctx.now, ctx.now + lease, limit).await?;
    Ok(Outcome::WebhookDeliveriesClaimed(claimed))
}

/// 2xx: succeeded. Anything else: retry with exponential backoff on the engine clock
/// (`outlay_core::webhooks::next_attempt_at`) until three days after the first attempt, then
/// failed.
pub async fn record_attempt(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, a: &WebhookAttempt) -> Result<Outcome, CommandError> {
    let record = attempt_record(ctx, a);
    let recorded = tx.record_webhook_attempt(&record).await?;
    Ok(Outcome::WebhookAttemptRecorded { status: record.status, recorded })
}

/// [`record_attempt`] for many attempts, written together.
pub async fn record_attempts(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    attempts: &[WebhookAttempt],
) -> Result<Outcome, CommandError> {
    let records: Vec<WebhookAttemptRecord> = attempts.iter().map(|a| attempt_record(ctx, a)).collect();
    let recorded = tx.record_webhook_attempts(&records).await?;
    Ok(Outcome::WebhookAttemptsRecorded(records.into_iter().map(|r| r.status).zip(recorded).collect()))
}

fn attempt_record(ctx: &Ctx<'_>, a: &WebhookAttempt) -> WebhookAttemptRecord {
    // From when the attempt ended, not when its result is written (never later than now).
    let now = a.finished_at.min(ctx.now);
    let (status, next) = if a.succeeded {
        ("succeeded", now)
    } else {
        let jitter: f64 = rand::rng().random();
        match next_attempt_at(a.attempt, a.first_attempt_at, now, jitter) {
            Some(at) => ("pending", at),
            None => ("failed", now),
        }
    };
    WebhookAttemptRecord {
        delivery_id: a.delivery_id,
        attempt: a.attempt,
        status: status.to_owned(),
        next_attempt_at: next,
        status_code: a.status_code.map(i32::from),
        error: a.error.as_ref().map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
        at: now,
    }
}
