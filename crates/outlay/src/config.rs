//! Settings come from, in order of precedence: command-line flags, `OUTLAY_*` environment
//! variables, a TOML config file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use outlay_core::fees::{FeeRule, FeeSchedule};
use outlay_core::payout::FeePaidBy;
use outlay_core::{Amount, Currency};
use outlay_engine::EngineConfig;
use outlay_worker::webhooks::WebhookWorkerConfig;
use serde::Deserialize;

/// The config file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    /// `api`, `worker` or `all` (default).
    pub role: Option<Role>,
    /// `sandbox` (default) or `production`.
    pub mode: Option<String>,
    #[serde(default)]
    pub sandbox: SandboxFile,
    #[serde(default)]
    pub writer: WriterFile,
    #[serde(default)]
    pub fx: FxFile,
    #[serde(default)]
    pub webhooks: WebhooksFile,
    /// The daily reports (`[reports]`).
    #[serde(default)]
    pub reports: ReportsFile,
    /// Which rail pays out (`[rail] kind`).
    #[serde(default)]
    pub rail: RailFile,
    /// The bank-file rail's directories and debtor account.
    #[serde(default)]
    pub bank_file: BankFileFile,
    /// The fee schedule; when given it replaces the built-in one (first matching rule wins).
    #[serde(default)]
    pub fees: Vec<FeeFile>,
    /// Cut-off times per corridor, local time (`[cutoffs] "SG/SGD" = "15:30"`), overriding the
    /// corridor table's.
    #[serde(default)]
    pub cutoffs: std::collections::BTreeMap<String, String>,
    /// `[api]`: HTTP settings.
    #[serde(default)]
    pub api: ApiFile,
    /// `[encryption]`: keys for account and identity numbers at rest (see `keys.rs`).
    #[serde(default)]
    pub encryption: crate::keys::EncryptionFile,
    /// `[sftp]`: the embedded SFTP server.
    #[serde(default)]
    pub sftp: SftpFile,
    /// `[screening]`: sanctions screening.
    #[serde(default)]
    pub screening: ScreeningFile,
}

/// `[sftp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpFile {
    /// Serve SFTP on this address (off when unset).
    pub listen: Option<SocketAddr>,
    /// Where the account jails live (default `<data_dir>/sftp`).
    pub root: Option<PathBuf>,
    /// The Ed25519 host key, generated on first start (default `<data_dir>/sftp_host_ed25519`).
    pub host_key: Option<PathBuf>,
    /// Most bytes in one uploaded file (default 512 MiB).
    pub max_file_size: Option<u64>,
}

/// The SFTP server's settings, when a listen address is given by flag, env or `[sftp] listen`.
pub fn sftp_settings(flag: Option<SocketAddr>, file: &FileConfig, data_dir: &Path) -> Option<outlay_sftp::SftpConfig> {
    let listen = flag.or(file.sftp.listen)?;
    let mut config = outlay_sftp::SftpConfig::under(data_dir, listen);
    if let Some(root) = &file.sftp.root {
        config.root.clone_from(root);
    }
    if let Some(key) = &file.sftp.host_key {
        config.host_key.clone_from(key);
    }
    if let Some(max) = file.sftp.max_file_size {
        config.max_file_size = max;
    }
    Some(config)
}

/// `[reports]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsFile {
    /// Time of day ("HH:MM") the previous day's reports are written; "off" disables the daily
    /// run (reports asked for over the API are still written). Default "01:00".
    pub daily_at: Option<String>,
    /// The day's time zone as a UTC offset ("+08:00"); default UTC.
    pub time_zone: Option<String>,
}

/// The report worker's settings: `[reports]`, files under `[sftp] root` (default `<data_dir>/sftp`).
pub fn report_settings(
    file: &FileConfig,
    data_dir: &Path,
) -> anyhow::Result<outlay_worker::reports::ReportWorkerConfig> {
    let at = match file.reports.daily_at.as_deref().map(str::trim) {
        Some("off") => None,
        text => {
            let text = text.unwrap_or("01:00");
            let format = time::macros::format_description!("[hour]:[minute]");
            Some(time::Time::parse(text, format).with_context(|| {
                format!("config: [reports] daily_at must be a time of day such as \"01:00\" or \"off\" (got {text:?})")
            })?)
        }
    };
    let offset = match file.reports.time_zone.as_deref().map(str::trim) {
        None | Some("UTC" | "Z") => time::UtcOffset::UTC,
        Some(text) => {
            let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
            time::UtcOffset::parse(text, format).with_context(|| {
                format!("config: [reports] time_zone must be a UTC offset such as \"+08:00\" (got {text:?})")
            })?
        }
    };
    Ok(outlay_worker::reports::ReportWorkerConfig {
        daily: at.map(|at| outlay_worker::reports::DailySchedule { at, offset }),
        root: Some(file.sftp.root.clone().unwrap_or_else(|| data_dir.join("sftp"))),
        ..Default::default()
    })
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    /// Behind a reverse proxy you trust: record the client address from `x-forwarded-for`.
    pub trust_forwarded_for: Option<bool>,
    /// API requests in progress at once on this node; more get 503 `server_busy` at once.
    pub max_in_flight: Option<usize>,
}

/// One `[[fees]]` rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeFile {
    /// LOCAL or SWIFT; absent matches both.
    pub payment_method: Option<String>,
    /// SHARED or OURS; absent matches both (and LOCAL payouts, which have none).
    pub fee_paid_by: Option<String>,
    /// ISO 4217; needed for a fixed part, absent matches every currency.
    pub currency: Option<String>,
    /// Fixed part as a decimal string in `currency`, e.g. "15.00".
    pub fixed: Option<String>,
    /// Basis points of the amount, rounded up to the minor unit.
    #[serde(default)]
    pub bps: u32,
}

impl FileConfig {
    /// The configured fee schedule, if any rules are given.
    pub fn fee_schedule(&self) -> anyhow::Result<Option<FeeSchedule>> {
        if self.fees.is_empty() {
            return Ok(None);
        }
        let mut rules = Vec::with_capacity(self.fees.len());
        for (i, f) in self.fees.iter().enumerate() {
            let at = |what: &str| format!("fees[{i}].{what}");
            let payment_method = match f.payment_method.as_deref() {
                None => None,
                Some(m @ ("LOCAL" | "SWIFT")) => Some(m.to_owned()),
                Some(other) => anyhow::bail!("{} must be LOCAL or SWIFT (got {other:?})", at("payment_method")),
            };
            let fee_paid_by = f
                .fee_paid_by
                .as_deref()
                .map(|b| b.parse::<FeePaidBy>().map_err(|e| anyhow::anyhow!("{} {e}", at("fee_paid_by"))))
                .transpose()?;
            let currency = f
                .currency
                .as_deref()
                .map(|c| Currency::parse(c).map_err(|e| anyhow::anyhow!("{} {e}", at("currency"))))
                .transpose()?;
            let fixed_minor = match (&f.fixed, currency) {
                (None, _) => 0,
                (Some(_), None) => anyhow::bail!("{} needs {} for its currency", at("fixed"), at("currency")),
                (Some(text), Some(c)) => {
                    Amount::parse(text, c).map_err(|e| anyhow::anyhow!("{} {e}", at("fixed")))?.minor()
                }
            };
            if f.bps > 10_000 {
                anyhow::bail!("{} must be at most 10000", at("bps"));
            }
            rules.push(FeeRule { payment_method, fee_paid_by, currency, fixed_minor, bps: f.bps });
        }
        Ok(Some(FeeSchedule { rules }))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxFile {
    /// Pending deposits and withdrawals settle after this long (milliseconds).
    pub settle_after_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreeningFile {
    /// Lowest score (per mille, 0 to 1000) that is a hit; default 850 (docs/screening.md).
    pub threshold: Option<outlay_core::screening::Score>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterFile {
    pub max_batch: Option<usize>,
    pub queue_capacity: Option<usize>,
    /// An API write that waited this long in the writer's queue is refused with 503
    /// `server_busy` without running; 0 turns the bound off (milliseconds, default 100).
    pub max_queue_wait_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksFile {
    /// How often the delivery worker looks for due deliveries when idle (milliseconds).
    pub poll_interval_ms: Option<u64>,
    /// Most webhook requests in flight at once.
    pub concurrency: Option<usize>,
    /// How long a claimed delivery is leased (milliseconds, default 60000): a node that dies
    /// mid-delivery delays those deliveries by this much.
    pub lease_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailFile {
    /// `sandbox` (default) or `bank_file`.
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankFileFile {
    /// Where pain.001 files are written (default `<data_dir>/bank/outbox`).
    pub outbox: Option<PathBuf>,
    /// Where pain.002 reports are read from (default `<data_dir>/bank/inbox`).
    pub inbox: Option<PathBuf>,
    pub initiating_party: Option<String>,
    pub debtor_name: Option<String>,
    pub debtor_iban: Option<String>,
    pub debtor_bic: Option<String>,
    /// How often the rail writes files and reads reports (milliseconds).
    pub poll_interval_ms: Option<u64>,
}

/// Which rail pays out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RailSettings {
    /// The sandbox settler walks payouts by itself (sandbox mode only).
    #[default]
    Sandbox,
    BankFile(BankFileSettings),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankFileSettings {
    pub config: outlay_worker::rails::bank_file::BankFileConfig,
    pub poll_interval: Duration,
}

/// The rail from `[rail]` and `[bank_file]`.
pub fn rail_settings(file: &FileConfig, data_dir: &Path) -> anyhow::Result<RailSettings> {
    match file.rail.kind.as_deref() {
        None | Some("sandbox") => Ok(RailSettings::Sandbox),
        Some("bank_file") => {
            let b = &file.bank_file;
            let required =
                |value: &Option<String>, key: &str| {
                    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).with_context(|| {
                        format!("config: [bank_file] {key} is required when [rail] kind = \"bank_file\"")
                    })
                };
            let debtor = outlay_core::iso20022::Debtor {
                name: required(&b.debtor_name, "debtor_name")?,
                iban: required(&b.debtor_iban, "debtor_iban")?,
                bic: required(&b.debtor_bic, "debtor_bic")?,
            };
            Ok(RailSettings::BankFile(BankFileSettings {
                config: outlay_worker::rails::bank_file::BankFileConfig {
                    outbox: b.outbox.clone().unwrap_or_else(|| data_dir.join("bank").join("outbox")),
                    inbox: b.inbox.clone().unwrap_or_else(|| data_dir.join("bank").join("inbox")),
                    initiating_party: b.initiating_party.clone().unwrap_or_else(|| debtor.name.clone()),
                    debtor,
                },
                poll_interval: Duration::from_millis(b.poll_interval_ms.unwrap_or(1_000).max(10)),
            }))
        }
        Some(other) => anyhow::bail!("config: [rail] kind must be \"sandbox\" or \"bank_file\" (got {other:?})"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxFile {
    /// Markup taken from client rates, in basis points (50 = 0.50%).
    pub markup_bps: Option<u32>,
}

impl FileConfig {
    /// `[cutoffs]`, checked: each key a corridor of the table, each value a local `HH:MM`.
    pub fn cutoff_times(&self) -> anyhow::Result<std::collections::BTreeMap<String, time::Time>> {
        let format = time::macros::format_description!("[hour]:[minute]");
        let mut out = std::collections::BTreeMap::new();
        for (key, value) in &self.cutoffs {
            let (country, currency) = key.split_once('/').unwrap_or((key, ""));
            if outlay_core::corridors::lookup(country, currency).is_none() {
                anyhow::bail!("[cutoffs] {key:?} is not a corridor (expected COUNTRY/CURRENCY such as \"SG/SGD\")");
            }
            let time = time::Time::parse(value.trim(), &format)
                .map_err(|_| anyhow::anyhow!("[cutoffs] {key:?} must be a local time HH:MM (got {value:?})"))?;
            out.insert(key.to_ascii_uppercase(), time);
        }
        Ok(out)
    }

    /// Read `path` if given (it must exist), else `./outlay.toml` if present.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, must_exist) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("outlay.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config: Self = toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
                config.fee_schedule().with_context(|| format!("config file {}", path.display()))?;
                config.cutoff_times().with_context(|| format!("config file {}", path.display()))?;
                Ok(config)
            }
            Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("config file {}", path.display())),
        }
    }
}

/// The default bound on API requests in progress per node (`[api] max_in_flight`).
pub use outlay_api::DEFAULT_MAX_IN_FLIGHT;

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
    /// Serve Prometheus metrics on their own listener (not on the API's).
    pub metrics_listen: Option<SocketAddr>,
    /// The webhook delivery worker.
    pub webhooks: WebhookWorkerConfig,
    /// What this node runs.
    pub role: Role,
    /// Which rail pays out.
    pub rail: RailSettings,
    /// Audit the client address from `x-forwarded-for` (`[api] trust_forwarded_for`).
    pub trust_forwarded_for: bool,
    /// API requests in progress at once before load shedding (`[api] max_in_flight`).
    pub max_in_flight: usize,
    /// Encrypts account and identity numbers at rest; `None` stores them as given.
    pub keys: Option<std::sync::Arc<outlay_store::crypto::KeyRing>>,
    /// The embedded SFTP server, when enabled.
    pub sftp: Option<outlay_sftp::SftpConfig>,
    /// The report worker (daily schedule, where files go).
    pub reports: outlay_worker::reports::ReportWorkerConfig,
}

/// What one `outlay serve` process runs. Any number of nodes of any role may share one
/// PostgreSQL database: state lives only there, and background work is leased or re-checked in
/// its own transaction, so no node is special and any may die at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The HTTP API only.
    Api,
    /// Background work only (sandbox rail, webhook delivery); HTTP serves health checks only.
    Worker,
    /// Both (the default, and what a single node runs).
    #[default]
    All,
}

impl Role {
    pub fn serves_api(self) -> bool {
        matches!(self, Role::Api | Role::All)
    }

    pub fn runs_workers(self) -> bool {
        matches!(self, Role::Worker | Role::All)
    }
}

/// The webhook worker's settings from the config file (`[webhooks]`), else the defaults.
pub fn webhook_config(file: &FileConfig) -> WebhookWorkerConfig {
    let defaults = WebhookWorkerConfig::default();
    WebhookWorkerConfig {
        poll_interval: file.webhooks.poll_interval_ms.map_or(defaults.poll_interval, Duration::from_millis),
        concurrency: file.webhooks.concurrency.unwrap_or(defaults.concurrency).max(1),
        lease: file.webhooks.lease_ms.map_or(defaults.lease, |ms| Duration::from_millis(ms.max(1000))),
        ..defaults
    }
}

pub fn writer_config(file: &FileConfig) -> EngineConfig {
    let defaults = EngineConfig::default();
    EngineConfig {
        max_batch: file.writer.max_batch.unwrap_or(defaults.max_batch),
        queue_capacity: file.writer.queue_capacity.unwrap_or(defaults.queue_capacity),
        fx_markup_bps: file.fx.markup_bps.unwrap_or(defaults.fx_markup_bps),
        // Validated when the file was loaded.
        fees: file.fee_schedule().ok().flatten().unwrap_or(defaults.fees),
        screening: file
            .screening
            .threshold
            .map_or(defaults.screening, |t| std::sync::Arc::new(outlay_engine::screening::ScreeningState::new(t))),
        // Validated when the file was loaded.
        cutoffs: file.cutoff_times().unwrap_or_default(),
        max_queue_wait: match file.writer.max_queue_wait_ms {
            None => Some(outlay_engine::DEFAULT_MAX_QUEUE_WAIT),
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
        },
    }
}

pub const EXAMPLE: &str = r#"# outlay.toml: every key is optional; flags and OUTLAY_* variables override it.
data_dir = "./outlay-data"
# database_url = "postgres://outlay@127.0.0.1:5432/outlay"   # default: sqlite in data_dir
listen = "127.0.0.1:8080"
# metrics_listen = "127.0.0.1:9090"   # Prometheus metrics at /metrics on their own listener
# role = "all"              # api, worker or all: several nodes may share one PostgreSQL database
mode = "sandbox"            # or "production": no simulation endpoints, no first-start account

[sandbox]
settle_after_ms = 2000      # pending deposits and withdrawals settle after this long

[writer]
max_batch = 1024            # most commands per transaction (group commit)
queue_capacity = 16384      # waiting requests before new writes get 503
max_queue_wait_ms = 100     # an API write queued this long for the writer gets 503 server_busy without
                            # running (nothing written; retry with the same key); 0 = no bound.
                            # Internal work (settler, rails, webhooks, jobs, batches) is never shed

[screening]
threshold = 850             # per mille: a name scoring this or more against a list entry is held for review

[fx]
markup_bps = 50             # taken from the mid rate against the client (50 = 0.50%); below 10000

[webhooks]
poll_interval_ms = 200      # how often the delivery worker looks for due deliveries when idle
concurrency = 32            # most webhook requests in flight at once (each times out after 10 s)
lease_ms = 60000            # a node dying mid-delivery delays those deliveries by this much

# [encryption]              # account and identity numbers at rest (AES-256-GCM); needed in production
# keys = { k1 = "<base64 of 32 random bytes>" }   # or OUTLAY_ENCRYPTION_KEY; sandbox generates outlay.key
# active = "k1"

[api]
trust_forwarded_for = false # behind a trusted proxy: audit the client address from x-forwarded-for
max_in_flight = 512         # API requests in progress at once per node; more get 503 server_busy at once

# [sftp]                    # the embedded SFTP server (off unless listen is set; see docs/sftp.md)
# listen = "127.0.0.1:2222"
# root = "./outlay-data/sftp"               # one jail per account: <root>/<account_id>/
# host_key = "./outlay-data/sftp_host_ed25519"   # generated on first start
# max_file_size = 536870912                 # bytes (512 MiB)

[reports]
daily_at = "01:00"          # the previous day's reports, for every active account ("off" disables)
# time_zone = "+08:00"      # the day is counted in this UTC offset (default UTC)
# files: <[sftp] root>/<account_id>/Reports/<kind>_<YYYY-MM-DD>.csv

[cutoffs]                   # local cut-off per corridor; later payouts go the next business day
# "SG/SGD" = "15:00"        # (the corridor table's own times apply where none is set)

[rail]
kind = "sandbox"            # or "bank_file": ISO 20022 pain.001 files out, pain.002 reports in

# [bank_file]               # needed with kind = "bank_file"
# outbox = "./outlay-data/bank/outbox"   # pain.001.<MsgId>.xml, written as .part then renamed
# inbox = "./outlay-data/bank/inbox"     # pain.002 *.xml; moved to processed/ (or failed/)
# initiating_party = "Outlay"
# debtor_name = "Outlay Ltd FBO"
# debtor_iban = "DE89370400440532013000"
# debtor_bic = "COBADEFFXXX"
# poll_interval_ms = 1000

# Fees on payouts, in the payout's source currency; the first matching rule wins. Without any
# [[fees]] the built-in schedule applies: LOCAL free; SWIFT 15.00 SHARED / 25.00 OURS in USD, EUR,
# GBP and SGD; 0.10% SHARED / 0.25% OURS in other currencies.
# [[fees]]
# payment_method = "SWIFT"    # LOCAL or SWIFT; omit for both
# fee_paid_by = "OURS"        # SHARED or OURS; omit for both
# currency = "USD"            # omit for every currency (then only bps applies)
# fixed = "25.00"
# bps = 0
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_fee_rules_replace_the_default() {
        let example: FileConfig = toml::from_str(EXAMPLE).expect("the example config parses");
        assert!(example.fee_schedule().expect("valid").is_none());
        let file: FileConfig = toml::from_str(
            "[[fees]]\npayment_method = \"SWIFT\"\nfee_paid_by = \"OURS\"\ncurrency = \"USD\"\nfixed = \"30.00\"\n\n[[fees]]\nbps = 5\n",
        )
        .expect("parses");
        let schedule = writer_config(&file).fees;
        let usd = Currency::parse("USD").expect("USD");
        let amount = Amount::from_minor(100_000).expect("amount");
        assert_eq!(schedule.fee("SWIFT", Some(FeePaidBy::Ours), usd, amount).map(Amount::minor), Some(3_000));
        assert_eq!(schedule.fee("LOCAL", None, usd, amount).map(Amount::minor), Some(50));
    }

    #[test]
    fn api_writes_wait_at_most_100_ms_for_the_writer_by_default_and_0_turns_the_bound_off() {
        let wait = |toml_text: &str| writer_config(&toml::from_str(toml_text).expect("parses")).max_queue_wait;
        assert_eq!(wait(""), Some(Duration::from_millis(100)));
        assert_eq!(wait(EXAMPLE), Some(Duration::from_millis(100)));
        assert_eq!(wait("[writer]\nmax_queue_wait_ms = 250\n"), Some(Duration::from_millis(250)));
        assert_eq!(wait("[writer]\nmax_queue_wait_ms = 0\n"), None);
    }

    #[test]
    fn reports_run_daily_at_one_by_default_and_can_be_moved_or_turned_off() {
        let data = Path::new("/data");
        let default = report_settings(&FileConfig::default(), data).expect("default");
        let daily = default.daily.expect("on by default");
        assert_eq!((daily.at, daily.offset), (time::macros::time!(01:00), time::UtcOffset::UTC));
        assert_eq!(default.root, Some(data.join("sftp")));
        let file: FileConfig =
            toml::from_str("[reports]\ndaily_at = \"06:30\"\ntime_zone = \"+08:00\"\n[sftp]\nroot = \"/jails\"\n")
                .expect("parses");
        let moved = report_settings(&file, data).expect("valid");
        let daily = moved.daily.expect("on");
        assert_eq!((daily.at, daily.offset), (time::macros::time!(06:30), time::macros::offset!(+8)));
        assert_eq!(moved.root, Some(PathBuf::from("/jails")));
        let off: FileConfig = toml::from_str("[reports]\ndaily_at = \"off\"\n").expect("parses");
        assert!(report_settings(&off, data).expect("valid").daily.is_none());
        for (text, key) in
            [("[reports]\ndaily_at = \"25:00\"\n", "daily_at"), ("[reports]\ntime_zone = \"SGT\"\n", "time_zone")]
        {
            let file: FileConfig = toml::from_str(text).expect("parses");
            let err = format!("{:#}", report_settings(&file, data).expect_err("refused"));
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_screening_threshold_is_configurable_and_checked() {
        assert_eq!(writer_config(&FileConfig::default()).screening.threshold().per_mille(), 850);
        let file: FileConfig = toml::from_str("[screening]\nthreshold = 900\n").expect("parses");
        assert_eq!(writer_config(&file).screening.threshold().per_mille(), 900);
        let err = toml::from_str::<FileConfig>("[screening]\nthreshold = 1001\n").expect_err("refused").to_string();
        assert!(err.contains("per-mille"), "{err}");
    }

    #[test]
    fn bad_fee_rules_name_the_key() {
        for (text, expected) in [
            ("[[fees]]\ncurrency = \"USD\"\nfixed = \"1.001\"\n", "fees[0].fixed"),
            ("[[fees]]\nfixed = \"1.00\"\n", "fees[0].currency"),
            ("[[fees]]\npayment_method = \"ACH\"\n", "fees[0].payment_method"),
            ("[[fees]]\nfee_paid_by = \"BEN\"\n", "fees[0].fee_paid_by"),
            ("[[fees]]\nbps = 20000\n", "fees[0].bps"),
        ] {
            let file: FileConfig = toml::from_str(text).expect("parses");
            let err = file.fee_schedule().expect_err("refused").to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
