//! The SSH side: host key, public-key authentication against the registered keys, and the
//! `sftp` subsystem on a session channel. Nothing else (no shell, no exec, no forwarding).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use outlay_core::AccountId;
use outlay_engine::Engine;
use rand::Rng;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::mpsc;

use crate::fs::SftpSession;
use crate::jail::Jail;

/// Load the host key, or generate an Ed25519 one and keep it (mode 0600) on first start.
pub fn load_or_create_host_key(path: &Path) -> anyhow::Result<PrivateKey> {
    if path.exists() {
        return PrivateKey::read_openssh_file(path).with_context(|| format!("reading host key {}", path.display()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let seed: [u8; 32] = rand::rng().random();
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let text = key.to_openssh(LineEnding::LF).context("encoding host key")?;
    let tmp = path.with_extension("tmp");
    write_private(&tmp, text.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

pub fn ssh_config(host_key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: std::time::Duration::from_millis(300),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        keys: vec![host_key],
        max_auth_attempts: 6,
        inactivity_timeout: Some(std::time::Duration::from_secs(30 * 60)),
        ..Default::default()
    }
}

/// What every connection shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub root: std::path::PathBuf,
    pub max_file_size: u64,
    pub pickups: mpsc::UnboundedSender<outlay_store::SftpFileRow>,
}

/// One SSH connection.
pub struct Connection {
    shared: Arc<Shared>,
    peer: Option<std::net::SocketAddr>,
    account: Option<AccountId>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl Connection {
    pub fn new(shared: Arc<Shared>, peer: Option<std::net::SocketAddr>) -> Self {
        Connection { shared, peer, account: None, channels: HashMap::new() }
    }

    /// The account this key may log in as: the user name must be the account id the key is
    /// registered to.
    async fn key_account(&self, user: &str, key: &PublicKey) -> anyhow::Result<Option<AccountId>> {
        let Ok(user) = uuid::Uuid::parse_str(user) else { return Ok(None) };
        let blob = key.to_bytes().context("encoding public key")?;
        let fingerprint = outlay_engine::sftp_keys::fingerprint(&blob);
        let Some(row) = self.shared.engine.store().sftp_key_by_fingerprint(&fingerprint).await? else {
            tracing::info!(peer = ?self.peer, %fingerprint, "sftp: unknown key refused");
            return Ok(None);
        };
        if row.account_id.0 != user {
            tracing::warn!(peer = ?self.peer, %fingerprint, user = %user, "sftp: key of another account refused");
            return Ok(None);
        }
        match self.shared.engine.store().account(row.account_id).await? {
            Some(a) if a.status == "ACTIVE" => Ok(Some(row.account_id)),
            Some(a) => {
                tracing::warn!(account = %a.id, status = %a.status, "sftp: login to an inactive account refused");
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = anyhow::Error;

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, Self::Error> {
        Ok(if self.key_account(user, offer.public_key).await?.is_some() { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, Self::Error> {
        match self.key_account(user, key.public_key).await? {
            Some(account) => {
                tracing::info!(peer = ?self.peer, %account, "sftp: login");
                self.account = Some(account);
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(account), true) = (self.account, name == "sftp") else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        let Some(channel) = self.channels.remove(&channel_id) else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        let root = self.shared.root.clone();
        let jail = tokio::task::spawn_blocking(move || Jail::open(&root, account)).await??;
        let sftp = SftpSession::new(
            account,
            jail,
            self.shared.engine.clone(),
            self.shared.max_file_size,
            self.shared.pickups.clone(),
        );
        session.channel_success(channel_id)?;
        russh_sftp::server::run(channel.into_stream(), sftp).await;
        Ok(())
    }
}
