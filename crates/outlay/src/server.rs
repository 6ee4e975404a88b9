//! `outlay serve`: the API, the writer and the sandbox settler in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use outlay_api::{ApiConfig, AppState};
use outlay_engine::auth::{hash_secret, new_api_key, new_client_id};
use outlay_engine::{Clock, Command, Engine, Outcome, SystemClock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ServeSettings;

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

pub async fn start(settings: ServeSettings) -> anyhow::Result<Server> {
    start_with_clock(settings, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(settings: ServeSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    let store = outlay_store::open(&settings.database_url)
        .await
        .with_context(|| format!("opening {}", outlay_store::redact_url(&settings.database_url)))?;
    let engine = Engine::start(store, clock, settings.engine.clone()).await?;

    let first_start = if settings.sandbox && !engine.store().has_platform_account().await? {
        Some(create_account(&engine, "Sandbox platform account", None).await?)
    } else {
        None
    };

    let listener =
        tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState { engine: engine.clone(), config: Arc::new(ApiConfig { sandbox: settings.sandbox }) };
    let app = outlay_api::router(state);
    let shutdown = CancellationToken::new();
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { http_shutdown.cancelled().await }).await
    });

    let settler = settings.sandbox.then(|| {
        let every = settings.settle_after.clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(outlay_engine::settler::run(engine.clone(), settings.settle_after, every, shutdown.clone()))
    });
    Ok(Server { addr, engine, first_start, shutdown, http, settler })
}

impl Server {
    /// Stop accepting connections, let in-flight requests finish, then drain the writer.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let served = self.http.await;
        if let Some(settler) = self.settler {
            let _ = settler.await;
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
