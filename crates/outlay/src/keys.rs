//! Encryption keys for account and identity numbers at rest, and `outlay keys rotate`.
//!
//! Where the keys come from, first match wins:
//! 1. `[encryption] keys = { k1 = "<base64 of 32 bytes>", ... }` with `active = "k1"` in the
//!    config file, plus `OUTLAY_ENCRYPTION_KEY` (`<id>:<base64>` or just `<base64>`, id `env`),
//!    which becomes the active key when set;
//! 2. in sandbox mode on SQLite, the key file `outlay.key` beside the database (lines
//!    `<id>:<base64>`, the last line active, mode 0600); on PostgreSQL, the table
//!    `sandbox_encryption_keys`, so every node of the database shares it (this protects nothing
//!    against a reader of the database: it only lets the sandbox run with zero configuration).
//!    Generated on the first `outlay serve`.
//!
//! Production refuses to start without a key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use outlay_engine::{Command, Engine, Outcome};
use outlay_store::crypto::KeyRing;
use serde::Deserialize;

/// `[encryption]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionFile {
    /// Key id → base64 of 32 random bytes. Old keys stay listed until nothing uses them.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// The key new values are encrypted with.
    pub active: Option<String>,
}

pub const KEY_FILE: &str = "outlay.key";

/// The sandbox key file for a database (SQLite), or `None` (PostgreSQL keeps it in a table).
pub fn key_file(database_url: &str) -> Option<PathBuf> {
    database_url.strip_prefix("sqlite://").map(|path| {
        Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join(KEY_FILE)
    })
}

/// The sandbox keys of a PostgreSQL database, adding `add` first when given.
async fn pg_sandbox_keys(database_url: &str, add: Option<(&str, &str)>) -> anyhow::Result<Vec<(String, String)>> {
    let store = outlay_store::postgres::PgStore::open(database_url)
        .await
        .with_context(|| format!("opening {}", outlay_store::redact_url(database_url)))?;
    Ok(store.sandbox_keys(add).await?)
}

const PRODUCTION_NEEDS_A_KEY: &str = "production mode needs an encryption key for account numbers at rest: set \
    [encryption] keys and active in the config file, or OUTLAY_ENCRYPTION_KEY (base64 of 32 random bytes)";

fn read_key_file(path: &Path) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (id, key) = line.split_once(':').with_context(|| format!("{}: lines are <id>:<base64>", path.display()))?;
        keys.push((id.to_owned(), key.to_owned()));
    }
    Ok(Some(keys))
}

fn write_key_file(path: &Path, keys: &[(String, String)]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text: String = keys.iter().map(|(id, k)| format!("{id}:{k}\n")).collect();
    let tmp = path.with_extension("key.part");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn from_config(file: &EncryptionFile) -> anyhow::Result<Option<KeyRing>> {
    let mut keys: Vec<(String, String)> = file.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut active = file.active.clone();
    if let Ok(env) = std::env::var("OUTLAY_ENCRYPTION_KEY")
        && !env.trim().is_empty()
    {
        let (id, key) = match env.trim().split_once(':') {
            Some((id, key)) => (id.to_owned(), key.to_owned()),
            None => ("env".to_owned(), env.trim().to_owned()),
        };
        keys.retain(|(k, _)| *k != id);
        keys.push((id.clone(), key));
        active = Some(id);
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let active = match active {
        Some(a) => a,
        None if keys.len() == 1 => keys[0].0.clone(),
        None => bail!("config: [encryption] active must name one of the keys"),
    };
    let ring = KeyRing::new(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())), &active)
        .map_err(|e| anyhow::anyhow!("config: [encryption] {e}"))?;
    Ok(Some(ring))
}

fn from_file(keys: &[(String, String)], path: &Path) -> anyhow::Result<KeyRing> {
    let active = keys.last().map(|(id, _)| id.clone()).with_context(|| format!("{} holds no key", path.display()))?;
    KeyRing::new(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())), &active)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The key ring for a process. `serving` creates the sandbox key when there is none; other
/// commands use it when present (and encrypt nothing otherwise).
pub async fn key_ring(
    file: &EncryptionFile,
    database_url: &str,
    sandbox: bool,
    serving: bool,
) -> anyhow::Result<Arc<KeyRing>> {
    if let Some(ring) = from_config(file)? {
        return Ok(Arc::new(ring));
    }
    if serving && !sandbox {
        bail!(PRODUCTION_NEEDS_A_KEY);
    }
    let Some(path) = key_file(database_url) else {
        let generated = KeyRing::generate_key();
        let keys = pg_sandbox_keys(database_url, serving.then_some(("k1", generated.as_str()))).await?;
        if keys.is_empty() {
            return Ok(Arc::new(KeyRing::none()));
        }
        return Ok(Arc::new(from_file(&keys, Path::new("sandbox_encryption_keys"))?));
    };
    if let Some(keys) = read_key_file(&path)? {
        return Ok(Arc::new(from_file(&keys, &path)?));
    }
    if serving {
        let keys = vec![("k1".to_owned(), KeyRing::generate_key())];
        write_key_file(&path, &keys)?;
        tracing::info!(path = %path.display(), "generated the sandbox encryption key");
        return Ok(Arc::new(from_file(&keys, &path)?));
    }
    Ok(Arc::new(KeyRing::none()))
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Make a new key active and re-encrypt every stored value with it. With a configured key
    /// ring, add the key to `[encryption] keys` first; with the sandbox key file, the key is
    /// generated and added to the file. Old keys stay readable until you remove them.
    Rotate {
        #[arg(long)]
        new_key_id: String,
    },
    /// Encrypt with the active key every stored value still in clear or under an older key
    /// (after an upgrade that seals more columns: deposits' account numbers, batch rows).
    Reseal,
}

/// `outlay keys rotate`: the ring with the new key active, and where the new key was added.
pub async fn rotate(
    file: &EncryptionFile,
    database_url: &str,
    new_key_id: &str,
) -> anyhow::Result<(Arc<KeyRing>, Option<String>)> {
    if !file.keys.is_empty() || std::env::var("OUTLAY_ENCRYPTION_KEY").is_ok_and(|v| !v.trim().is_empty()) {
        let mut keys: Vec<(&str, &str)> = file.keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let env = std::env::var("OUTLAY_ENCRYPTION_KEY").unwrap_or_default();
        if let Some((id, key)) = env.trim().split_once(':') {
            keys.push((id, key));
        }
        let ring = KeyRing::new(keys, new_key_id)
            .map_err(|e| anyhow::anyhow!("{e}: add the new key to [encryption] keys before rotating to it"))?;
        return Ok((Arc::new(ring), None));
    }
    let Some(path) = key_file(database_url) else {
        let existing = pg_sandbox_keys(database_url, None).await?;
        if existing.is_empty() {
            bail!("no encryption key configured and no sandbox key in this database");
        }
        if existing.iter().any(|(id, _)| id == new_key_id) {
            bail!("--new-key-id {new_key_id} is already a sandbox key of this database");
        }
        let key = KeyRing::generate_key();
        let keys = pg_sandbox_keys(database_url, Some((new_key_id, key.as_str()))).await?;
        let ring = from_file(&keys, Path::new("sandbox_encryption_keys"))?;
        return Ok((Arc::new(ring), Some("the database's sandbox keys".to_owned())));
    };
    let mut keys = read_key_file(&path)?
        .with_context(|| format!("no encryption key configured and no sandbox key file at {}", path.display()))?;
    if keys.iter().any(|(id, _)| id == new_key_id) {
        bail!("--new-key-id {new_key_id} is already in {}", path.display());
    }
    keys.push((new_key_id.to_owned(), KeyRing::generate_key()));
    let ring = from_file(&keys, &path)?;
    write_key_file(&path, &keys)?;
    Ok((Arc::new(ring), Some(path.display().to_string())))
}

/// Re-encrypt every stored value with the engine's active key.
pub async fn reseal(engine: &Engine) -> anyhow::Result<u64> {
    match engine.execute(Command::ResealSecrets).await? {
        Outcome::Resealed(n) => Ok(n),
        other => bail!("unexpected outcome {other:?}"),
    }
}
