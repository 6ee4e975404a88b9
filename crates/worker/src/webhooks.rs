//! Signed webhook delivery, at least once.
//!
//! Deliveries are rows created with their event, in its transaction. This worker leases due ones
//! in batches (through the engine's writer: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so nodes
//! never take the same row), keeps up to twice its concurrency claimed (in flight plus waiting),
//! posts them concurrently over kept-alive connections with UQPAY's envelope and signature, and
//! reports each result to the engine (the writer commits many results in one transaction), which
//! schedules the retry on its clock or settles the delivery. While a claim comes back full it
//! claims again as soon as there is room; it sleeps `poll_interval` only when nothing was due.
//! A worker that dies mid-flight leaves leased rows that any worker takes again once the lease
//! expires; the receiver may then see an event twice (`x-wk-event-id`).
//!
//! Metrics: `outlay_webhook_deliveries_total{result}`, `outlay_webhook_lag_seconds` (event
//! created -> delivered, engine clock) and, sampled every second, `outlay_webhook_queue_depth`
//! and `outlay_jobs_queue_depth{kind}`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use outlay_core::webhooks::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp_millis,
};
use outlay_engine::webhooks::{LEASE, envelope};
use outlay_engine::{Command, CommandError, Engine, Outcome, WebhookAttempt};
use outlay_store::ClaimedDelivery;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How the delivery worker runs.
#[derive(Clone, Debug)]
pub struct WebhookWorkerConfig {
    /// How often to look for due deliveries when idle.
    pub poll_interval: Duration,
    /// Most requests in flight at once. Up to as many more are claimed and waiting.
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
            concurrency: 128,
            request_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            lease: Duration::from_secs(LEASE.whole_seconds().unsigned_abs()),
        }
    }
}

/// While deliveries were found within the last [`BUSY_FOR`]: look again this soon (a cheap read
/// first), so a steady trickle of events is not delayed by a whole `poll_interval`.
const BUSY_POLL: Duration = Duration::from_millis(5);
const BUSY_FOR: Duration = Duration::from_secs(1);
/// How often the queue-depth gauges are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Most attempt results written by one engine command.
const RECORD_BATCH: usize = 1024;
/// Most of those commands at once (the writer commits them together); results sent meanwhile
/// wait and go in the next, larger, command.
const RECORDS_IN_FLIGHT: usize = 2;

/// The HTTP client deliveries use: no redirects (a 3xx is a failed attempt; a receiver must not
/// bounce signed events elsewhere), a whole-request timeout, idle connections kept alive.
pub fn http_client(request_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("Outlay-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A claimed delivery waiting for a free slot, with when it was claimed.
struct Waiting {
    claimed_at: Instant,
    delivery: ClaimedDelivery,
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
    let sampler = tokio::spawn(sample_queue_depths(engine.clone(), shutdown.clone()));
    let concurrency = config.concurrency.max(1);
    let (results, results_rx) = mpsc::channel(2 * concurrency + RECORD_BATCH);
    let recorder = tokio::spawn(record_results(engine.clone(), results_rx));
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut next_claim = tokio::time::Instant::now();
    // The last claim found work: claim again without the cheap read first.
    let mut found = false;
    let mut last_found: Option<Instant> = None;
    loop {
        while inflight.try_join_next().is_some() {}
        start_waiting(&engine, &client, &config, &results, &mut waiting, &mut inflight, concurrency);
        // Claim when fewer than a round of requests is waiting, up to twice the concurrency in
        // hand: large claims, and nothing waits long enough for its lease to matter.
        let now = tokio::time::Instant::now();
        if waiting.len() < concurrency && now >= next_claim && !shutdown.is_cancelled() {
            let want = (2 * concurrency).saturating_sub(waiting.len() + inflight.len());
            match claim(&engine, want, config.lease, !found).await {
                Ok(batch) => {
                    let got = batch.len();
                    found = got == want;
                    let claimed_at = Instant::now();
                    waiting.extend(batch.into_iter().map(|delivery| Waiting { claimed_at, delivery }));
                    if got > 0 {
                        last_found = Some(claimed_at);
                    }
                    let busy = last_found.is_some_and(|t| t.elapsed() < BUSY_FOR);
                    next_claim = match got {
                        n if n == want => now,
                        _ if busy => now + BUSY_POLL.min(config.poll_interval),
                        _ => now + config.poll_interval,
                    };
                }
                Err(CommandError::ShuttingDown) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    found = false;
                    next_claim = now + config.poll_interval;
                }
            }
            start_waiting(&engine, &client, &config, &results, &mut waiting, &mut inflight, concurrency);
        }
        let can_claim = waiting.len() < concurrency;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // A slot freed up: start a waiting delivery, or claim again.
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            () = tokio::time::sleep_until(next_claim), if can_claim => {}
        }
    }
    // Within the grace period, send what is already claimed too (the writer stops after us, so
    // the results are still written); what is left waits for its lease to expire.
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        loop {
            start_waiting(&engine, &client, &config, &results, &mut waiting, &mut inflight, concurrency);
            if inflight.join_next().await.is_none() {
                break;
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            in_flight = inflight.len(),
            waiting = waiting.len(),
            "webhook deliveries in flight or claimed at shutdown were dropped; they are sent again when their lease expires"
        );
        inflight.abort_all();
    }
    // The recorder ends once every delivery's sender is gone and their results are written.
    drop(results);
    if tokio::time::timeout(config.shutdown_grace, recorder).await.is_err() {
        tracing::info!("webhook results still unrecorded at shutdown are sent again when their lease expires");
    }
    let _ = sampler.await;
    tracing::info!("webhook worker stopped");
}

/// Start waiting deliveries while slots are free. One whose lease has lapsed while it waited is
/// left alone: another worker may hold it now, and it is due again anyway.
fn start_waiting(
    engine: &Arc<Engine>,
    client: &reqwest::Client,
    config: &WebhookWorkerConfig,
    results: &mpsc::Sender<WebhookAttempt>,
    waiting: &mut VecDeque<Waiting>,
    inflight: &mut JoinSet<()>,
    concurrency: usize,
) {
    while inflight.len() < concurrency {
        let Some(w) = waiting.pop_front() else { break };
        if w.claimed_at.elapsed() >= config.lease {
            metrics::counter!("outlay_webhook_deliveries_total", "result" => "lease_lapsed").increment(1);
            continue;
        }
        inflight.spawn(deliver(engine.clone(), client.clone(), w.delivery, results.clone()));
    }
}

/// Lease up to `limit` due deliveries. With `check_first`, a read first, so an idle system does
/// not write.
async fn claim(
    engine: &Engine,
    limit: usize,
    lease: Duration,
    check_first: bool,
) -> Result<Vec<ClaimedDelivery>, CommandError> {
    if limit == 0 || (check_first && !engine.store().webhook_deliveries_due(engine.clock().now()).await?) {
        return Ok(Vec::new());
    }
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let lease = time::Duration::try_from(lease).unwrap_or(LEASE);
    match engine.execute(Command::ClaimWebhookDeliveries { limit, lease }).await? {
        Outcome::WebhookDeliveriesClaimed(batch) => Ok(batch),
        other => Err(CommandError::Internal(format!("claim answered {other:?}"))),
    }
}

/// Send one delivery and hand its result to the recorder.
async fn deliver(
    engine: Arc<Engine>,
    client: reqwest::Client,
    delivery: ClaimedDelivery,
    results: mpsc::Sender<WebhookAttempt>,
) {
    let attempt = send(&engine, &client, &delivery).await;
    if attempt.succeeded {
        let lag = engine.clock().now() - delivery.event.created_at;
        metrics::histogram!("outlay_webhook_lag_seconds").record(lag.as_seconds_f64().max(0.0));
    }
    // Closed only at shutdown: the delivery is then sent again when its lease expires.
    let _ = results.send(attempt).await;
}

/// Write attempt results as they come, many per engine command.
async fn record_results(engine: Arc<Engine>, mut results: mpsc::Receiver<WebhookAttempt>) {
    let mut writes: JoinSet<()> = JoinSet::new();
    while let Some(first) = results.recv().await {
        while writes.len() >= RECORDS_IN_FLIGHT {
            writes.join_next().await;
        }
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match results.try_recv() {
                Ok(attempt) => batch.push(attempt),
                Err(_) => break,
            }
        }
        writes.spawn(record(engine.clone(), batch));
    }
    while writes.join_next().await.is_some() {}
}

async fn record(engine: Arc<Engine>, attempts: Vec<WebhookAttempt>) {
    let count = attempts.len() as u64;
    match engine.execute(Command::RecordWebhookAttempts(attempts)).await {
        Ok(Outcome::WebhookAttemptsRecorded(recorded)) => {
            for (status, recorded) in recorded {
                let result = match (recorded, status.as_str()) {
                    // A later claim superseded the attempt (our lease had lapsed).
                    (false, _) => "superseded",
                    (true, "succeeded") => "succeeded",
                    (true, "failed") => "failed",
                    (true, _) => "retrying",
                };
                metrics::counter!("outlay_webhook_deliveries_total", "result" => result).increment(1);
            }
        }
        Ok(other) => {
            tracing::error!(outcome = ?other, "recording webhook attempts answered oddly");
            metrics::counter!("outlay_webhook_deliveries_total", "result" => "error").increment(count);
        }
        Err(e) => {
            tracing::warn!(
                error = %e, attempts = count,
                "recording webhook attempts failed; those deliveries are sent again when their lease expires"
            );
            metrics::counter!("outlay_webhook_deliveries_total", "result" => "error").increment(count);
        }
    }
}

/// Every second until shutdown: `outlay_webhook_queue_depth` (deliveries due and not leased)
/// and `outlay_jobs_queue_depth{kind}` (see [`crate::jobs::sample_queue_depth`]).
async fn sample_queue_depths(engine: Arc<Engine>, shutdown: CancellationToken) {
    loop {
        let now = engine.clock().now();
        match engine.store().webhook_queue_depth(now).await {
            Ok(depth) => metrics::gauge!("outlay_webhook_queue_depth").set(depth as f64),
            Err(e) => tracing::debug!(error = %e, "sampling the webhook queue depth failed"),
        }
        crate::jobs::sample_queue_depth(&engine).await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
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
        finished_at: engine.clock().now(),
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
