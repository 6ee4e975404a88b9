//! `outlay serve`: the API, the writer, the webhook delivery worker and the sandbox settler in
//! one process.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use outlay_api::{ApiConfig, AppState};
use outlay_engine::auth::{hash_secret, new_api_key, new_client_id};
use outlay_engine::{Clock, Command, Engine, Outcome, SystemClock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{RailSettings, ServeSettings};

/// How often a worker node looks for payout batches another node stopped releasing.
const BATCH_RESUME_SWEEP: Duration = Duration::from_secs(5);

/// Credentials created on first start, printed once.
#[derive(Debug, Clone)]
pub struct NewCredentials {
    pub account_id: String,
    pub client_id: String,
    pub api_key: String,
}

pub struct Server {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub first_start: Option<NewCredentials>,
    shutdown: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    settler: Option<JoinHandle<()>>,
    /// The bank-file rail, when configured.
    rail: Option<JoinHandle<()>>,
    webhooks: Option<JoinHandle<()>>,
    /// The report worker (reports asked for over the API, and the daily run).
    reports: Option<JoinHandle<()>>,
    /// The embedded SFTP server, when enabled.
    sftp: Option<outlay_sftp::SftpServer>,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
}

/// Create an account with one credential; the API key is returned once and stored hashed.
pub async fn create_account(
    engine: &Engine,
    name: &str,
    parent: Option<outlay_core::AccountId>,
) -> anyhow::Result<NewCredentials> {
    let client_id = new_client_id();
    let api_key = new_api_key();
    let outcome = engine
        .execute(Command::CreateAccount {
            name: name.to_owned(),
            parent,
            client_id: client_id.clone(),
            api_key_hash: hash_secret(&api_key),
        })
        .await?;
    let Outcome::AccountCreated { account, .. } = outcome else { anyhow::bail!("unexpected outcome {outcome:?}") };
    Ok(NewCredentials { account_id: account.id.to_string(), client_id, api_key })
}

/// The sandbox's platform account on first start, unless another node made it meanwhile.
async fn bootstrap_sandbox_platform(engine: &Engine) -> anyhow::Result<Option<NewCredentials>> {
    let client_id = new_client_id();
    let api_key = new_api_key();
    let command = Command::BootstrapSandboxPlatform {
        name: "Sandbox platform account".to_owned(),
        client_id: client_id.clone(),
        api_key_hash: hash_secret(&api_key),
    };
    match engine.execute(command).await? {
        Outcome::AccountCreated { account, .. } => {
            Ok(Some(NewCredentials { account_id: account.id.to_string(), client_id, api_key }))
        }
        Outcome::PlatformExists => Ok(None),
        other => anyhow::bail!("unexpected outcome {other:?}"),
    }
}

pub async fn start(settings: ServeSettings) -> anyhow::Result<Server> {
    start_with_clock(settings, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(settings: ServeSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    let store = outlay_store::open_with_keys(&settings.database_url, settings.keys.clone().unwrap_or_default())
        .await
        .with_context(|| format!("opening {}", outlay_store::redact_url(&settings.database_url)))?;
    let engine = Engine::start(store, clock, settings.engine.clone()).await?;

    let role = settings.role;
    let first_start = if settings.sandbox && role.serves_api() && !engine.store().has_platform_account().await? {
        bootstrap_sandbox_platform(&engine).await?
    } else {
        None
    };

    let listener =
        tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(
        engine.clone(),
        ApiConfig {
            sandbox: settings.sandbox,
            trust_forwarded_for: settings.trust_forwarded_for,
            max_in_flight: settings.max_in_flight,
        },
    );
    // A worker node answers health checks only.
    let app = if role.serves_api() { outlay_api::router(state) } else { outlay_api::health_router(state) };
    let shutdown = CancellationToken::new();
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await
    });

    let settler = (settings.sandbox && role.runs_workers()).then(|| {
        let every = settings.settle_after.clamp(Duration::from_millis(50), Duration::from_secs(1));
        // A real rail walks payouts itself; the settler then only settles deposits and withdrawals.
        let walk_payouts = settings.rail == RailSettings::Sandbox;
        tokio::spawn(outlay_engine::settler::run(
            engine.clone(),
            settings.settle_after,
            every,
            walk_payouts,
            shutdown.clone(),
        ))
    });
    let metrics_addr = match settings.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, engine.clone(), shutdown.clone()).await?),
        None => None,
    };
    // Signed webhook delivery, in sandbox and production alike, on nodes that run workers.
    let webhooks = role.runs_workers().then(|| {
        tokio::spawn(outlay_worker::webhooks::run(engine.clone(), settings.webhooks.clone(), shutdown.clone()))
    });
    let reports = role
        .runs_workers()
        .then(|| tokio::spawn(outlay_worker::reports::run(engine.clone(), settings.reports.clone(), shutdown.clone())));
    // --- batches --- A release a crash interrupted goes on (each row commits with its payout):
    // every unfinished one at start, then any that a stopped node left idle.
    if role.runs_workers() {
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut idle_for = None;
            loop {
                if let Err(e) = outlay_engine::batches::resume_unfinished(&engine, idle_for).await {
                    tracing::warn!(error = %e, "could not resume payout batches");
                }
                idle_for = Some(outlay_engine::batches::RELEASE_IDLE);
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(BATCH_RESUME_SWEEP) => {}
                }
            }
        });
    }
    let rail = match (&settings.rail, role.runs_workers()) {
        (RailSettings::BankFile(b), true) => {
            let rail = outlay_worker::rails::bank_file::BankFileRail::new(b.config.clone(), engine.clock().clone())
                .context("bank-file rail directories")?;
            Some(tokio::spawn(outlay_worker::rails::run(
                engine.clone(),
                Arc::new(rail),
                b.poll_interval,
                shutdown.clone(),
            )))
        }
        _ => None,
    };
    let sftp = match &settings.sftp {
        Some(config) => Some(outlay_sftp::start(engine.clone(), config.clone(), shutdown.clone()).await?),
        None => None,
    };
    Ok(Server { addr, engine, first_start, shutdown, http, settler, rail, webhooks, reports, sftp, metrics_addr })
}

/// The process-wide Prometheus recorder, installed on first use (tests start several servers).
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
            let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];
            // Webhook lag includes retries: seconds to days, not milliseconds.
            let lag = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21_600.0, 86_400.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("outlay_writer_batch_size".into()), &sizes))
                // A full name sorts before a suffix, so it wins.
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("outlay_webhook_lag_seconds".into()), &lag))
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// `GET /metrics` on its own listener, so metrics are never exposed on the API's address.
async fn serve_metrics(
    addr: SocketAddr,
    engine: Arc<Engine>,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let handle = prometheus().context("the metrics recorder could not be installed")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding metrics on {addr}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let engine = engine.clone();
            async move {
                let stats = engine.writer_stats();
                metrics::gauge!("outlay_writer_queue_depth").set(engine.queue_depth() as f64);
                metrics::gauge!("outlay_writer_batches").set(stats.batches.load(Ordering::Relaxed) as f64);
                metrics::gauge!("outlay_writer_commands").set(stats.commands.load(Ordering::Relaxed) as f64);
                metrics::gauge!("outlay_writer_retried_batches")
                    .set(stats.retried_batches.load(Ordering::Relaxed) as f64);
                // What the door compares with `[writer] max_queue_wait_ms`.
                metrics::gauge!("outlay_writer_expected_wait_seconds").set(engine.expected_queue_wait().as_secs_f64());
                handle.render()
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await;
    });
    Ok(bound)
}

impl Server {
    /// The SFTP server's address, when it runs.
    pub fn sftp_addr(&self) -> Option<SocketAddr> {
        self.sftp.as_ref().map(|s| s.addr)
    }

    /// Stop accepting connections, let in-flight requests finish, then drain the writer.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let served = self.http.await;
        if let Some(settler) = self.settler {
            let _ = settler.await;
        }
        if let Some(rail) = self.rail {
            let _ = rail.await;
        }
        if let Some(sftp) = self.sftp {
            sftp.join().await;
        }
        // Before the writer stops: the worker records the outcome of requests still in flight.
        if let Some(reports) = self.reports {
            let _ = reports.await;
        }
        if let Some(webhooks) = self.webhooks {
            let _ = webhooks.await;
        }
        self.engine.shutdown().await;
        served??;
        Ok(())
    }

    /// Serve until `signal` resolves, then shut down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.stop().await
    }
}

/// SIGINT or SIGTERM. The handlers are installed when this is called, not when it is first
/// awaited, so a signal that arrives right after start-up is not lost.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
