//! Settings come from, in order of precedence: command-line flags, `OUTLAY_*` environment
//! variables, a TOML config file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use outlay_engine::EngineConfig;
use serde::Deserialize;

/// The config file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
    /// `sandbox` (default) or `production`.
    pub mode: Option<String>,
    #[serde(default)]
    pub sandbox: SandboxFile,
    #[serde(default)]
    pub writer: WriterFile,
    #[serde(default)]
    pub fx: FxFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxFile {
    /// Pending deposits and withdrawals settle after this long (milliseconds).
    pub settle_after_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterFile {
    pub max_batch: Option<usize>,
    pub queue_capacity: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxFile {
    /// Markup taken from client rates, in basis points (50 = 0.50%).
    pub markup_bps: Option<u32>,
}

impl FileConfig {
    /// Read `path` if given (it must exist), else `./outlay.toml` if present.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, must_exist) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("outlay.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("config file {}", path.display())),
            Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("config file {}", path.display())),
        }
    }
}

pub const DEFAULT_DATA_DIR: &str = "./outlay-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where the database is: an explicit URL, or `outlay.db` in the data directory.
pub fn database_url(flag: Option<String>, file: &FileConfig, data_dir: &Path) -> String {
    flag.or_else(|| file.database_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("outlay.db").display()))
}

pub fn data_dir(flag: Option<PathBuf>, file: &FileConfig) -> PathBuf {
    flag.or_else(|| file.data_dir.clone()).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// Everything `outlay serve` needs.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub database_url: String,
    pub listen: SocketAddr,
    pub sandbox: bool,
    pub settle_after: Duration,
    pub engine: EngineConfig,
}

pub fn writer_config(file: &FileConfig) -> EngineConfig {
    let defaults = EngineConfig::default();
    EngineConfig {
        max_batch: file.writer.max_batch.unwrap_or(defaults.max_batch),
        queue_capacity: file.writer.queue_capacity.unwrap_or(defaults.queue_capacity),
        fx_markup_bps: file.fx.markup_bps.unwrap_or(defaults.fx_markup_bps),
        ..defaults
    }
}

pub const EXAMPLE: &str = r#"# outlay.toml: every key is optional; flags and OUTLAY_* variables override it.
data_dir = "./outlay-data"
# database_url = "postgres://outlay@127.0.0.1:5432/outlay"   # default: sqlite in data_dir
listen = "127.0.0.1:8080"
mode = "sandbox"            # or "production": no simulation endpoints, no first-start account

[sandbox]
settle_after_ms = 2000      # pending deposits and withdrawals settle after this long

[writer]
max_batch = 1024            # most commands per transaction (group commit)
queue_capacity = 16384      # waiting requests before new writes get 503

[fx]
markup_bps = 50             # taken from the mid rate against the client (50 = 0.50%); below 10000
"#;
