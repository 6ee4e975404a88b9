//! Signed webhook delivery, at least once.
//!
//! Deliveries are rows created with their event, in its transaction. This worker claims due
//! ones with a lease (through the engine's writer: on PostgreSQL with `FOR UPDATE SKIP LOCKED`,
//! so nodes never take the same row), posts them concurrently with UQPAY's envelope and
//! signature, and reports each result to the engine, which schedules the retry on its clock or
//! settles the delivery. A worker that dies mid-flight leaves leased rows that any worker takes
//! again once the lease expires; the receiver may then see an event twice (`x-wk-event-id`).

use std::sync::Arc;
use std::time::Duration;

use outlay_core::webhooks::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp_millis,
};
use outlay_engine::webhooks::{LEASE, envelope};
use outlay_engine::{Command, CommandError, Engine, Outcome, WebhookAttempt};
use outlay_store::ClaimedDelivery;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How the delivery worker runs.
#[derive(Clone, Debug)]
pub struct WebhookWorkerConfig {
    /// How often to look for due deliveries when idle.
    pub poll_interval: Duration,
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Whole-request timeout (connect, send, answer).
    pub request_timeout: Duration,
    /// At shutdown, how long in-flight requests may take to finish before they are dropped
    /// (their leases expire and they are sent again).
    pub shutdown_grace: Duration,
    /// How long a claimed delivery is ours. A worker that dies mid-flight delays its deliveries
    /// by this much; one slower than this may deliver an event twice.
    pub lease: Duration,
}

impl Default for WebhookWorkerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            concurrency: 32,
            request_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            lease: Duration::from_secs(LEASE.whole_seconds().unsigned_abs()),
        }
    }
}

/// The HTTP client deliveries use: no redirects (a 3xx is a failed attempt; a receiver must not
/// bounce signed events elsewhere), a whole-request timeout.
pub fn http_client(request_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Outlay-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Deliver until `shutdown` is cancelled.
pub async fn run(engine: Arc<Engine>, config: WebhookWorkerConfig, shutdown: CancellationToken) {
    let client = match http_client(config.request_timeout) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhook worker could not build its HTTP client; no webhooks will be sent");
            return;
        }
    };
    let concurrency = config.concurrency.max(1);
    let mut inflight: JoinSet<()> = JoinSet::new();
    loop {
        while inflight.try_join_next().is_some() {}
        let free = concurrency.saturating_sub(inflight.len());
        let mut more_due = false;
        if free > 0 && !shutdown.is_cancelled() {
            match claim(&engine, free, config.lease).await {
                Ok(batch) => {
                    more_due = batch.len() == free;
                    for delivery in batch {
                        inflight.spawn(deliver(engine.clone(), client.clone(), delivery));
                    }
                }
                Err(CommandError::ShuttingDown) => break,
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // A slot freed up: claim again at once.
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            () = tokio::time::sleep(config.poll_interval), if !more_due => {}
        }
    }
    let drained =
        tokio::time::timeout(config.shutdown_grace, async { while inflight.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(
            in_flight = inflight.len(),
            "webhook deliveries still in flight at shutdown were dropped; they are sent again when their lease expires"
        );
        inflight.abort_all();
    }
    tracing::info!("webhook worker stopped");
}

/// Lease up to `limit` due deliveries. A read first, so an idle system does not write.
async fn claim(engine: &Engine, limit: usize, lease: Duration) -> Result<Vec<ClaimedDelivery>, CommandError> {
    if !engine.store().webhook_deliveries_due(engine.clock().now()).await? {
        return Ok(Vec::new());
    }
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let lease = time::Duration::try_from(lease).unwrap_or(LEASE);
    match engine.execute(Command::ClaimWebhookDeliveries { limit, lease }).await? {
        Outcome::WebhookDeliveriesClaimed(batch) => Ok(batch),
        other => Err(CommandError::Internal(format!("claim answered {other:?}"))),
    }
}

async fn deliver(engine: Arc<Engine>, client: reqwest::Client, delivery: ClaimedDelivery) {
    let attempt = send(&engine, &client, &delivery).await;
    let (id, number, ok) = (attempt.delivery_id, attempt.attempt, attempt.succeeded);
    match engine.execute(Command::RecordWebhookAttempt(attempt)).await {
        Ok(Outcome::WebhookAttemptRecorded { status, recorded }) => {
            tracing::debug!(delivery = %id, attempt = number, succeeded = ok, %status, recorded, "webhook attempt");
        }
        Ok(other) => tracing::error!(delivery = %id, outcome = ?other, "recording a webhook attempt answered oddly"),
        Err(e) => tracing::warn!(
            delivery = %id, error = %e,
            "recording a webhook attempt failed; the delivery is sent again when its lease expires"
        ),
    }
}

/// Post one delivery, signed now, and say how it went.
pub async fn send(engine: &Engine, client: &reqwest::Client, d: &ClaimedDelivery) -> WebhookAttempt {
    let body = serde_json::to_vec(&envelope(&d.event)).unwrap_or_default();
    let timestamp = timestamp_millis(engine.clock().now()).to_string();
    let signature = sign(&d.secret, &body, &timestamp);
    let result = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_ID_HEADER, d.event.id.to_string())
        .header(DELIVERY_ID_HEADER, d.delivery_id.to_string())
        .body(body)
        .send()
        .await;
    let (succeeded, status_code, error) = match result {
        Ok(response) if response.status().is_success() => (true, Some(response.status().as_u16()), None),
        Ok(response) => {
            let code = response.status().as_u16();
            let snippet = body_start(response).await;
            let error = if snippet.is_empty() { format!("HTTP {code}") } else { format!("HTTP {code}: {snippet}") };
            (false, Some(code), Some(error))
        }
        Err(e) => (false, None, Some(describe(&e))),
    };
    WebhookAttempt {
        delivery_id: d.delivery_id,
        attempt: d.attempt,
        first_attempt_at: d.first_attempt_at,
        succeeded,
        status_code,
        error,
    }
}

/// The first 200 characters of an error answer, for the delivery log.
async fn body_start(mut response: reqwest::Response) -> String {
    match response.chunk().await {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>().trim().to_owned(),
        _ => String::new(),
    }
}

/// A network error with its causes ("error sending request: … connection refused").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
