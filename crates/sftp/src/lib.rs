//! Outlay's embedded SFTP server (DESIGN.md section 8): public-key logins with keys registered
//! per account, one jail per account laid out as Nomupay's (`Request/Payments`,
//! `Request/Onboarding`, `Response/Payments`, `Response/Onboarding`, `Reports`), uploads that
//! become payouts or beneficiaries, and acknowledgement and response files written back.
//!
//! The SFTP server reads and writes files on this node's disk: run it on one node (it may share
//! a PostgreSQL database with any number of API and worker nodes).

pub mod fs;
pub mod jail;
pub mod process;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use outlay_engine::Engine;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Default most bytes in one uploaded file: 512 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 512 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct SftpConfig {
    pub listen: SocketAddr,
    /// Where the jails live: `<root>/<account_id>/`.
    pub root: PathBuf,
    /// The Ed25519 host key (OpenSSH format), generated on first start.
    pub host_key: PathBuf,
    pub max_file_size: u64,
    /// How often payment files waiting for final payouts are looked at.
    pub poll_interval: Duration,
}

impl SftpConfig {
    /// Defaults under a data directory: jails in `<data_dir>/sftp`, host key
    /// `<data_dir>/sftp_host_ed25519`.
    pub fn under(data_dir: &std::path::Path, listen: SocketAddr) -> Self {
        SftpConfig {
            listen,
            root: data_dir.join("sftp"),
            host_key: data_dir.join("sftp_host_ed25519"),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// A running SFTP server and its file processor.
pub struct SftpServer {
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
    processor: JoinHandle<()>,
}

impl SftpServer {
    /// Wait for both tasks after `shutdown` was cancelled.
    pub async fn join(self) {
        let _ = self.accept.await;
        let _ = self.processor.await;
    }
}

/// Bind, load (or create) the host key, finish files a previous run left, and serve until
/// `shutdown` is cancelled.
pub async fn start(engine: Arc<Engine>, config: SftpConfig, shutdown: CancellationToken) -> anyhow::Result<SftpServer> {
    std::fs::create_dir_all(&config.root).with_context(|| format!("creating {}", config.root.display()))?;
    let host_key = server::load_or_create_host_key(&config.host_key)?;
    let ssh = Arc::new(server::ssh_config(host_key));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the SFTP listener {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let processor = process::Processor::new(engine.clone(), config.root.clone(), config.poll_interval);
    let processor = tokio::spawn(processor.run(rx, shutdown.clone()));
    let shared = Arc::new(server::Shared {
        engine,
        root: config.root.clone(),
        max_file_size: config.max_file_size,
        pickups: tx,
    });
    let accept = tokio::spawn(accept_loop(listener, ssh, shared, shutdown));
    tracing::info!(%addr, root = %config.root.display(), "SFTP server listening");
    Ok(SftpServer { addr, accept, processor })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    ssh: Arc<russh::server::Config>,
    shared: Arc<server::Shared>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "sftp: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = server::Connection::new(shared.clone(), Some(peer));
        let (ssh, stop) = (ssh.clone(), shutdown.clone());
        tokio::spawn(async move {
            match russh::server::run_stream(ssh, stream, handler).await {
                Ok(session) => {
                    tokio::select! {
                        result = session => if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "sftp: session ended");
                        },
                        () = stop.cancelled() => {}
                    }
                }
                Err(e) => tracing::debug!(%peer, error = %e, "sftp: handshake failed"),
            }
        });
    }
}
