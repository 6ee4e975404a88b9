//! `outlay-bench webhooks`: signed webhook delivery to a local receiver.
//!
//! The server runs the API only (`--role api`); the bench starts the delivery worker itself, on
//! the server's engine, exactly as `outlay serve` does, so it can choose when delivery begins.
//! The receiver is in-process but real: an HTTP/1.1 server on a local TCP port that checks every
//! request's `x-wk-signature` over the raw body and `x-wk-timestamp` with the endpoint's secret,
//! checks the timestamp is fresh, and records each event id (duplicates are counted).
//!
//! Two modes:
//! - backlog (default): N payouts are created first (one `payout.ready.send` event, so one
//!   delivery, each), then the worker starts; deliveries/s is the worker's ceiling;
//! - `--rate R`: the worker runs while payouts are created at R per second (open loop), so
//!   event-created -> received latency is the lag a receiver sees at that rate.
//!
//! The reference, in the same run: the same number of signed POSTs from the worker's own HTTP
//! client (`outlay_worker::webhooks::http_client`), with the worker's concurrency, to the same
//! receiver: the receiver's and the client's own ceiling, with no database in the loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use outlay::config::ServeSettings;
use outlay::server::{Server, start};
use outlay_core::webhooks::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, timestamp_is_fresh,
    timestamp_millis, verify as verify_signature,
};
use outlay_engine::{Command, EngineConfig, Outcome};
use outlay_store::{PageRequest, WebhookDeliveryFilter};
use outlay_worker::webhooks::{WebhookWorkerConfig, http_client};
use tokio_util::sync::CancellationToken;

use crate::{Cli, Latencies, backend_name, closed_loop, counters, database, new_payout, payout_date, peak_rss_mib};

/// What the receiver saw.
#[derive(Default)]
struct Received {
    /// Deliveries per event id.
    seen: HashMap<String, u32>,
    /// Event created (envelope `created_at`) -> received, per accepted request.
    lag: Vec<Duration>,
    first: Option<Instant>,
    last: Option<Instant>,
    /// One real body, reused (signed afresh) by the reference loop.
    sample: Option<Bytes>,
}

#[derive(Default)]
struct Receiver {
    secret: Mutex<String>,
    received: Mutex<Received>,
    /// Requests refused: bad signature, stale timestamp, unreadable envelope.
    rejected: AtomicU64,
    reference: AtomicU64,
}

impl Receiver {
    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The checks a client makes before trusting a webhook.
    fn authentic(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
        let secret = self.secret.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        verify_signature(&secret, body, timestamp, signature)
            && timestamp_is_fresh(timestamp, time::OffsetDateTime::now_utc(), time::Duration::minutes(5))
            && !header(DELIVERY_ID_HEADER).is_empty()
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let wall = time::OffsetDateTime::now_utc();
    if !r.authentic(&headers, &body) {
        r.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let event_id = envelope["event_id"].as_str().unwrap_or_default().to_owned();
    let header_id = headers.get(EVENT_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let created = envelope["created_at"]
        .as_str()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    let (Some(created), false) = (created, event_id.is_empty() || event_id != header_id) else {
        r.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    let lag = Duration::try_from(wall - created).unwrap_or_default();
    let mut g = r.lock();
    *g.seen.entry(event_id).or_insert(0) += 1;
    g.lag.push(lag);
    g.first.get_or_insert(now);
    g.last = Some(now);
    if g.sample.is_none() {
        g.sample = Some(body);
    }
    StatusCode::OK
}

/// The same checks and parsing as [`hook`], without the bookkeeping.
async fn reference(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !r.authentic(&headers, &body) {
        r.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let created = envelope["created_at"]
        .as_str()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    if created.is_none() || envelope["event_id"].as_str().is_none() {
        r.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    }
    r.reference.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

async fn start_receiver(state: Arc<Receiver>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(hook))
        .route("/reference", axum::routing::post(reference))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

/// Deliveries of `account` in `status`.
async fn deliveries(server: &Server, account: outlay_core::AccountId, status: &str) -> anyhow::Result<u64> {
    let filter = WebhookDeliveryFilter { status: Some(status.to_owned()), ..Default::default() };
    let page = server.engine.store().webhook_deliveries(account, &filter, PageRequest { number: 1, size: 1 }).await?;
    Ok(page.total_items)
}

pub async fn run(
    cli: &Cli,
    events: u64,
    concurrency: usize,
    rate: Option<u64>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = database(cli, &dir).await?;
    let server: Server = start(ServeSettings {
        database_url: url,
        listen: "127.0.0.1:0".parse()?,
        sandbox: true,
        settle_after: Duration::from_secs(24 * 3600),
        engine: EngineConfig::default(),
        metrics_listen: None,
        webhooks: Default::default(),
        // The bench runs the delivery worker itself (below).
        role: outlay::config::Role::Api,
        rail: Default::default(),
        trust_forwarded_for: false,
        max_in_flight: outlay::config::DEFAULT_MAX_IN_FLIGHT,
        sftp: None,
        reports: Default::default(),
        keys: None,
    })
    .await?;
    let engine = server.engine.clone();
    let seeded = crate::seed(&engine, 1).await?.into_iter().next().context("seeded account")?;
    let receiver = Arc::new(Receiver::default());
    let base = start_receiver(receiver.clone()).await?;
    let Outcome::WebhookEndpoint(endpoint) = engine
        .execute(Command::CreateWebhookEndpoint {
            account: seeded.account,
            url: format!("{base}/hooks"),
            event_types: vec!["payout.ready.send".to_owned()],
        })
        .await?
    else {
        bail!("registering the endpoint answered something else");
    };
    *receiver.secret.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = endpoint.secret.clone();
    let config = WebhookWorkerConfig { concurrency, ..WebhookWorkerConfig::default() };
    println!(
        "scenario webhooks, backend {}, {events} events, worker concurrency {concurrency}, mode {}",
        backend_name(cli),
        rate.map_or("backlog".to_owned(), |r| format!("offered {r} events/s"))
    );

    let shutdown = CancellationToken::new();
    let spawn_worker =
        || tokio::spawn(outlay_worker::webhooks::run(engine.clone(), config.clone(), shutdown.child_token()));
    let date = payout_date()?;
    let (account, beneficiary) = (seeded.account, seeded.beneficiary);
    let create = {
        let engine = engine.clone();
        move |_| {
            let engine = engine.clone();
            async move {
                match new_payout(account, beneficiary, date) {
                    Ok(p) => engine.execute(Command::CreatePayout(Box::new(p))).await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    let (worker, delivery_started, before) = match rate {
        None => {
            let (lat, errors, elapsed) = closed_loop(events, 256, create).await;
            Latencies(lat).report("events (payouts created, each one delivery)", elapsed, errors);
            let before = counters(&engine);
            (spawn_worker(), Instant::now(), before)
        }
        Some(rate) => {
            let before = counters(&engine);
            let worker = spawn_worker();
            let started = Instant::now();
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            let errors = Arc::new(AtomicU64::new(0));
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..events {
                tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
                let (create, errors) = (create.clone(), errors.clone());
                tasks.spawn(async move {
                    if !create(i).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            println!(
                "events: {events} payouts offered at {rate}/s in {:.2}s, {} errors",
                started.elapsed().as_secs_f64(),
                errors.load(Ordering::Relaxed)
            );
            (worker, started, before)
        }
    };

    // Wait for every event to arrive, then for every result to be recorded.
    let deadline = Instant::now() + timeout;
    loop {
        let unique = receiver.lock().seen.len() as u64;
        if unique >= events {
            break;
        }
        if Instant::now() > deadline {
            println!("timed out: {unique} of {events} events received");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let received_all = delivery_started.elapsed();
    while deliveries(&server, account, "pending").await? > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded_all = delivery_started.elapsed();
    let writer_elapsed = recorded_all;
    shutdown.cancel();
    let _ = worker.await;

    let (lag, seen, first, last, sample) = {
        let mut g = receiver.lock();
        (std::mem::take(&mut g.lag), std::mem::take(&mut g.seen), g.first, g.last, g.sample.clone())
    };
    let unique = seen.len() as u64;
    let duplicates: u64 = seen.values().map(|n| u64::from(n.saturating_sub(1))).sum();
    let succeeded = deliveries(&server, account, "succeeded").await?;
    let rejected = receiver.rejected.load(Ordering::Relaxed);
    let failures = rejected + events.saturating_sub(succeeded);
    let span = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f),
        _ => Duration::ZERO,
    };
    let requests = lag.len() as u64;
    Latencies(lag).report("deliveries (event created -> received)", span, failures);
    println!(
        "deliveries: {requests} requests, {unique} of {events} events, {duplicates} duplicates, {rejected} rejected, \
         {succeeded} recorded succeeded; {:.0} deliveries/s first to last received ({:.2}s), all received {:.2}s and \
         recorded {:.2}s after the worker started",
        requests as f64 / span.as_secs_f64().max(1e-9),
        span.as_secs_f64(),
        received_all.as_secs_f64(),
        recorded_all.as_secs_f64(),
    );
    crate::writer_line(&engine, writer_elapsed, before);

    // The reference: the same client, concurrency and bodies, no database.
    let client = http_client(config.request_timeout)?;
    let body = sample.unwrap_or_else(|| Bytes::from_static(b"{}"));
    let secret = endpoint.secret.clone();
    let target = format!("{base}/reference");
    let (lat, err, elapsed) = closed_loop(events, concurrency, move |i| {
        let (client, body, secret, target) = (client.clone(), body.clone(), secret.clone(), target.clone());
        async move {
            let timestamp = timestamp_millis(time::OffsetDateTime::now_utc()).to_string();
            let signature = sign(&secret, &body, &timestamp);
            client
                .post(target)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, &timestamp)
                .header(SIGNATURE_HEADER, signature)
                .header(EVENT_ID_HEADER, i.to_string())
                .header(DELIVERY_ID_HEADER, i.to_string())
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    let reference_rate = lat.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    Latencies(lat).report("reference: signed POSTs, same client and concurrency, no database", elapsed, err);
    let delivery_rate = requests as f64 / span.as_secs_f64().max(1e-9);
    println!(
        "ratio: deliveries/s is {:.2} x the receiver ceiling ({:.0}/s against {:.0}/s)",
        delivery_rate / reference_rate.max(1e-9),
        delivery_rate,
        reference_rate
    );
    println!("peak RSS {:.0} MiB (server, worker, receiver and load generator in one process)", peak_rss_mib());
    crate::verify(&engine).await?;
    let missing = events.saturating_sub(unique);
    server.stop().await?;
    if missing > 0 || succeeded < events || rejected > 0 {
        bail!(
            "{missing} events never arrived, {} deliveries not recorded succeeded, {rejected} rejected",
            events.saturating_sub(succeeded)
        );
    }
    println!("every event arrived: OK");
    Ok(())
}
