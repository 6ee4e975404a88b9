//! Command-line interface: `serve` and the operator commands. Operator commands work against the
//! same database while `outlay serve` runs, on either backend: they use their own writer, and
//! the database serialises the two.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use outlay_core::{AccountId, Amount, Currency};
use outlay_engine::verify::verify_ledger;
use outlay_engine::{Command, DepositOutcome, Engine, EngineConfig, NewDeposit, Outcome, SystemClock};
use outlay_store::BankAccount;
use serde_json::json;

use crate::config::{self, FileConfig, ServeSettings};
use crate::{rates, server};

#[derive(Parser, Debug)]
#[command(name = "outlay", version, about = "Outlay: a self-hostable payouts platform")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Args, Debug)]
pub struct Global {
    /// Config file (TOML). Default: ./outlay.toml if it exists.
    #[arg(long, global = true, env = "OUTLAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and files.
    #[arg(long, global = true, env = "OUTLAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://path or postgres://user@host/db. Default: sqlite in the data dir.
    #[arg(long, global = true, env = "OUTLAY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// FX markup taken from client rates, in basis points (default 50, config `[fx] markup_bps`).
    #[arg(long, global = true, env = "OUTLAY_FX_MARKUP_BPS")]
    pub fx_markup_bps: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the API server (and, in sandbox mode, the settlement simulator).
    Serve(ServeArgs),
    /// Create or upgrade the database schema.
    Migrate,
    /// Manage client accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Issue and list an account's credentials (each in a role).
    #[command(subcommand)]
    Credentials(CredentialsCmd),
    /// Inspect the background jobs table.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// Record funding that arrived at the FBO bank.
    #[command(subcommand)]
    Deposits(DepositsCmd),
    /// Move funds between available and reserve.
    #[command(subcommand)]
    Reserves(ReservesCmd),
    /// Check the ledger.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Set and list the FX mid rates that quotes and conversions are priced from.
    #[command(subcommand)]
    Rates(RatesCmd),
    /// Print an example config file.
    DefaultConfig,
    /// Manage the public keys that may log in to the SFTP server as an account.
    #[command(subcommand)]
    SftpKeys(crate::sftp_keys::SftpKeysCmd),
    // --- audit ---
    /// Check and export the audit trail.
    #[command(subcommand)]
    Audit(crate::audit_cli::AuditCmd),
    /// Rotate the key that encrypts account and identity numbers at rest.
    #[command(subcommand)]
    Keys(crate::keys::KeysCmd),
    // --- compliance ---
    /// Load and list the sanctions lists (OFAC SDN CSV, UN consolidated XML).
    #[command(subcommand)]
    Screening(crate::compliance_cli::ScreeningCmd),
    /// The compliance review queue: list, show, clear, reject.
    #[command(subcommand)]
    Reviews(crate::compliance_cli::ReviewsCmd),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OUTLAY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// What this node runs: api, worker or all (default).
    #[arg(long, env = "OUTLAY_ROLE", value_enum)]
    pub role: Option<crate::config::Role>,
    /// Serve Prometheus metrics at /metrics on this address (off by default).
    #[arg(long, env = "OUTLAY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Production mode: no simulation endpoints and no first-start account.
    #[arg(long, env = "OUTLAY_PRODUCTION")]
    pub production: bool,
    /// Sandbox: settle pending deposits and withdrawals after this many milliseconds.
    #[arg(long, env = "OUTLAY_SANDBOX_SETTLE_AFTER_MS")]
    pub sandbox_settle_after_ms: Option<u64>,
    /// Run the embedded SFTP server on this address (off by default; config `[sftp] listen`).
    #[arg(long, env = "OUTLAY_SFTP_LISTEN")]
    pub sftp_listen: Option<SocketAddr>,
}

#[derive(Subcommand, Debug)]
pub enum AccountsCmd {
    /// Create a platform account, or a connected account with --parent. Prints the API key once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set the designated bank account that withdrawals go to.
    SetBankAccount {
        #[arg(long)]
        account: String,
        #[arg(long)]
        holder: String,
        #[arg(long)]
        number: String,
        /// ISO 3166 alpha-2 country of the bank.
        #[arg(long)]
        country: String,
        #[arg(long)]
        swift: Option<String>,
        #[arg(long)]
        bank_name: Option<String>,
    },
    // --- wallets ---
    /// Choose how the account pays recipients: bank (default), wallet (stored value) or both.
    SetPayoutModel {
        #[arg(long)]
        account: String,
        #[arg(long, value_parser = ["bank", "wallet", "both"])]
        model: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCmd {
    /// Jobs, oldest first: id, kind, status, attempts, next run, last error.
    List {
        #[arg(long)]
        kind: Option<String>,
        /// queued, running, done or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum CredentialsCmd {
    /// Issue a credential in a role: admin, payments, approver, reviewer or read_only. Prints the
    /// API key once.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// List an account's credentials (never their keys).
    List {
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DepositsCmd {
    /// Record a deposit that arrived at the FBO bank (cleared at once unless --pending).
    Record {
        #[arg(long)]
        account: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reference: Option<String>,
        #[arg(long)]
        sender_name: Option<String>,
        #[arg(long)]
        pending: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReservesCmd {
    /// Set the reserve of an account in a currency to exactly --amount.
    Set {
        #[arg(long)]
        account: String,
        #[arg(long)]
        currency: String,
        #[arg(long)]
        amount: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RatesCmd {
    /// Set one mid rate: --pair USDSGD --rate 1.3456 means 1 USD = 1.3456 SGD.
    Set {
        #[arg(long)]
        pair: String,
        #[arg(long)]
        rate: String,
    },
    /// Load mid rates from a CSV file with the header `currency_pair,rate`: all or nothing.
    Load { file: PathBuf },
    /// List the mid rates with the client's buy and sell prices at the configured markup.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCmd {
    /// Prove every ledger invariant; exit 1 naming each violation.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

fn parse_account(text: &str) -> anyhow::Result<AccountId> {
    text.parse().map_err(|_| anyhow::anyhow!("--account/--parent: {text} is not an account id (a UUID)"))
}

fn parse_money(currency: &str, amount: &str) -> anyhow::Result<(Currency, Amount)> {
    let currency = Currency::parse(currency).map_err(|e| anyhow::anyhow!("--currency {e}"))?;
    let amount = Amount::parse(amount, currency).map_err(|e| anyhow::anyhow!("--amount {e}"))?;
    Ok((currency, amount))
}

async fn open_engine(global: &Global, file: &FileConfig) -> anyhow::Result<Arc<Engine>> {
    let data_dir = config::data_dir(global.data_dir.clone(), file);
    let url = config::database_url(global.database_url.clone(), file, &data_dir);
    let keys = crate::keys::key_ring(&file.encryption, &url, true, false).await?;
    let store = outlay_store::open_with_keys(&url, keys)
        .await
        .with_context(|| format!("opening {}", outlay_store::redact_url(&url)))?;
    Engine::start(store, Arc::new(SystemClock), engine_config(global, file)).await
}

/// `outlay keys rotate`: the new key becomes active, then every stored value is re-encrypted.
async fn keys(global: &Global, file: &FileConfig, cmd: crate::keys::KeysCmd) -> anyhow::Result<i32> {
    let new_key_id = match cmd {
        crate::keys::KeysCmd::Rotate { new_key_id } => new_key_id,
        crate::keys::KeysCmd::Reseal => {
            let data_dir = config::data_dir(global.data_dir.clone(), file);
            let url = config::database_url(global.database_url.clone(), file, &data_dir);
            let ring = crate::keys::key_ring(&file.encryption, &url, true, false).await?;
            let Some(active) = ring.active().map(str::to_owned) else {
                bail!("no encryption key configured (and no sandbox key): nothing to encrypt with");
            };
            let store = outlay_store::open_with_keys(&url, ring)
                .await
                .with_context(|| format!("opening {}", outlay_store::redact_url(&url)))?;
            let engine = Engine::start(store, Arc::new(SystemClock), engine_config(global, file)).await?;
            let result = crate::keys::reseal(&engine).await;
            engine.shutdown().await;
            println!("re-encrypted {} stored value(s) with key {active}", result?);
            return Ok(0);
        }
    };
    let data_dir = config::data_dir(global.data_dir.clone(), file);
    let url = config::database_url(global.database_url.clone(), file, &data_dir);
    let (ring, written) = crate::keys::rotate(&file.encryption, &url, &new_key_id).await?;
    let store = outlay_store::open_with_keys(&url, ring)
        .await
        .with_context(|| format!("opening {}", outlay_store::redact_url(&url)))?;
    let engine = Engine::start(store, Arc::new(SystemClock), engine_config(global, file)).await?;
    let result = crate::keys::reseal(&engine).await;
    engine.shutdown().await;
    let changed = result?;
    if let Some(place) = written {
        println!("added key {new_key_id} to {place} (now active)");
    }
    println!("re-encrypted {changed} stored value(s) with key {new_key_id}");
    Ok(0)
}

/// The engine's settings: the config file's, with the flags' and environment's overrides.
fn engine_config(global: &Global, file: &FileConfig) -> EngineConfig {
    let mut engine = config::writer_config(file);
    if let Some(bps) = global.fx_markup_bps {
        engine.fx_markup_bps = bps;
    }
    engine
}

/// Run the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let file = FileConfig::load(cli.global.config.as_deref())?;
    match cli.command {
        Cmd::DefaultConfig => {
            print!("{}", config::EXAMPLE);
            Ok(0)
        }
        Cmd::Serve(args) => serve(&cli.global, &file, args).await,
        Cmd::Migrate => {
            let engine = open_engine(&cli.global, &file).await?;
            engine.shutdown().await;
            println!("database schema is up to date");
            Ok(0)
        }
        Cmd::Accounts(cmd) => with_engine(&cli.global, &file, |engine| accounts(engine, cmd)).await,
        Cmd::SftpKeys(cmd) => with_engine(&cli.global, &file, |engine| crate::sftp_keys::run(engine, cmd)).await,
        Cmd::Audit(cmd) => with_engine(&cli.global, &file, |engine| crate::audit_cli::run(engine, cmd)).await,
        Cmd::Keys(cmd) => keys(&cli.global, &file, cmd).await,
        Cmd::Screening(cmd) => {
            with_engine(&cli.global, &file, |engine| crate::compliance_cli::screening(engine, cmd)).await
        }
        Cmd::Reviews(cmd) => {
            with_engine(&cli.global, &file, |engine| crate::compliance_cli::reviews(engine, cmd)).await
        }
        Cmd::Credentials(cmd) => with_engine(&cli.global, &file, |engine| credentials(engine, cmd)).await,
        Cmd::Jobs(JobsCmd::List { kind, status, limit }) => {
            with_engine(&cli.global, &file, |engine| async move {
                for j in engine.store().jobs(kind.as_deref(), status.as_deref(), limit).await? {
                    println!(
                        "{}  {:<14} {:<8} {}/{}  run_at={}  {}",
                        j.id,
                        j.kind,
                        j.status,
                        j.attempts,
                        j.max_attempts,
                        outlay_engine::events::rfc3339(j.run_at),
                        j.last_error.as_deref().unwrap_or("")
                    );
                }
                Ok(0)
            })
            .await
        }
        Cmd::Deposits(cmd) => with_engine(&cli.global, &file, |engine| deposits(engine, cmd)).await,
        Cmd::Reserves(cmd) => with_engine(&cli.global, &file, |engine| reserves(engine, cmd)).await,
        Cmd::Ledger(LedgerCmd::Verify { json }) => with_engine(&cli.global, &file, |engine| verify(engine, json)).await,
        Cmd::Rates(cmd) => {
            with_engine(&cli.global, &file, |engine| async move {
                match cmd {
                    RatesCmd::Set { pair, rate } => rates::set(engine, &pair, &rate).await,
                    RatesCmd::Load { file } => rates::load(engine, &file).await,
                    RatesCmd::List { json } => rates::list(engine, json).await,
                }
            })
            .await
        }
    }
}

async fn with_engine<F, Fut>(global: &Global, file: &FileConfig, f: F) -> anyhow::Result<i32>
where
    F: FnOnce(Arc<Engine>) -> Fut,
    Fut: Future<Output = anyhow::Result<i32>>,
{
    let engine = open_engine(global, file).await?;
    let result = f(engine.clone()).await;
    engine.shutdown().await;
    result
}

async fn serve(global: &Global, file: &FileConfig, args: ServeArgs) -> anyhow::Result<i32> {
    let data_dir = config::data_dir(global.data_dir.clone(), file);
    let production = args.production || file.mode.as_deref() == Some("production");
    if let Some(mode) = file.mode.as_deref()
        && mode != "production"
        && mode != "sandbox"
    {
        bail!("config: mode must be \"sandbox\" or \"production\" (got {mode:?})");
    }
    let listen = match (args.listen, file.listen) {
        (Some(l), _) | (None, Some(l)) => l,
        (None, None) => config::DEFAULT_LISTEN.parse()?,
    };
    let settings = ServeSettings {
        database_url: config::database_url(global.database_url.clone(), file, &data_dir),
        listen,
        sandbox: !production,
        settle_after: Duration::from_millis(
            args.sandbox_settle_after_ms.or(file.sandbox.settle_after_ms).unwrap_or(2_000),
        ),
        engine: engine_config(global, file),
        metrics_listen: args.metrics_listen.or(file.metrics_listen),
        webhooks: config::webhook_config(file),
        role: args.role.or(file.role).unwrap_or_default(),
        rail: config::rail_settings(file, &data_dir)?,
        sftp: config::sftp_settings(args.sftp_listen, file, &data_dir),
        reports: config::report_settings(file, &data_dir)?,
        keys: Some(
            crate::keys::key_ring(
                &file.encryption,
                &config::database_url(global.database_url.clone(), file, &data_dir),
                !production,
                true,
            )
            .await?,
        ),
        trust_forwarded_for: file.api.trust_forwarded_for.unwrap_or(false),
        max_in_flight: file.api.max_in_flight.unwrap_or(outlay_api::DEFAULT_MAX_IN_FLIGHT).max(1),
    };
    let server = server::start(settings.clone()).await?;
    let signal = server::shutdown_signal()?;
    let base = format!("http://{}", server.addr);
    tracing::info!(listen = %server.addr, database = %outlay_store::redact_url(&settings.database_url),
        mode = if production { "production" } else { "sandbox" }, "outlay is serving");
    if let Some(c) = &server.first_start {
        println!(
            "\nOutlay is running at {base} (sandbox). A platform account was created; its API key is shown only now:\n\n  \
             account_id  {}\n  client_id   {}\n  api_key     {}\n\nTry it:\n\n  \
             TOKEN=$(curl -s -X POST {base}/api/v1/connect/token -H 'x-client-id: {}' -H 'x-api-key: {}' \
             | sed -E 's/.*\"auth_token\":\"([^\"]+)\".*/\\1/')\n  \
             curl -s -X POST {base}/api/v1/simulation/deposit -H \"x-auth-token: Bearer $TOKEN\" -H 'content-type: application/json' \
             -d '{{\"amount\":\"1000.00\",\"currency\":\"USD\"}}'\n  \
             curl -s {base}/api/v1/balances -H \"x-auth-token: Bearer $TOKEN\"\n",
            c.account_id, c.client_id, c.api_key, c.client_id, c.api_key
        );
    } else {
        println!("Outlay is running at {base}");
    }
    server.run_until(signal).await?;
    Ok(0)
}

async fn accounts(engine: Arc<Engine>, cmd: AccountsCmd) -> anyhow::Result<i32> {
    match cmd {
        AccountsCmd::Create { name, parent, json } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                bail!("--name must be 1 to 200 characters");
            }
            let parent = parent.as_deref().map(parse_account).transpose()?;
            let c = server::create_account(&engine, name, parent).await?;
            if json {
                println!("{}", json!({"account_id": c.account_id, "client_id": c.client_id, "api_key": c.api_key}));
            } else {
                println!(
                    "account_id  {}\nclient_id   {}\napi_key     {}\n(the API key is shown only now)",
                    c.account_id, c.client_id, c.api_key
                );
            }
            Ok(0)
        }
        AccountsCmd::SetBankAccount { account, holder, number, country, swift, bank_name } => {
            let account = parse_account(&account)?;
            if holder.trim().is_empty() {
                bail!("--holder must not be empty");
            }
            if number.is_empty() || number.len() > 60 || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
                bail!("--number must be 1 to 60 letters and digits");
            }
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                bail!("--country must be an ISO 3166 alpha-2 code such as SG");
            }
            let bank = BankAccount {
                account_holder: holder,
                account_number: number,
                bank_country_code: country,
                swift_code: swift,
                bank_name,
            };
            let command = Command::SetBankAccount { account, bank: Some(bank) };
            crate::audit_cli::operator_execute(&engine, account, "account.set_bank_account", command).await?;
            println!("designated bank account set for {account}");
            Ok(0)
        }
        AccountsCmd::SetPayoutModel { account, model } => {
            let account = parse_account(&account)?;
            if engine.store().account(account).await?.is_none() {
                bail!("no account {account}");
            }
            let command = Command::SetPayoutModel { account, model: model.clone() };
            crate::audit_cli::operator_execute(&engine, account, "account.set_payout_model", command).await?;
            println!("payout model of {account} set to {model}");
            Ok(0)
        }
    }
}

async fn credentials(engine: Arc<Engine>, cmd: CredentialsCmd) -> anyhow::Result<i32> {
    match cmd {
        CredentialsCmd::Create { account, role, json } => {
            let account = parse_account(&account)?;
            let role: outlay_core::roles::Role = role.trim().parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let (client_id, api_key) = (outlay_engine::auth::new_client_id(), outlay_engine::auth::new_api_key());
            let command = Command::CreateCredential {
                account,
                role,
                client_id: client_id.clone(),
                api_key_hash: outlay_engine::auth::hash_secret(&api_key),
            };
            let Outcome::CredentialCreated(row) = engine.execute(command).await? else {
                bail!("unexpected answer from the writer");
            };
            if json {
                println!(
                    "{}",
                    json!({"credential_id": row.id, "account_id": account, "client_id": client_id, "api_key": api_key, "role": role.as_str()})
                );
            } else {
                println!(
                    "credential_id  {}\nclient_id      {client_id}\napi_key        {api_key}\nrole           {role}\n(the API key is shown only now)",
                    row.id
                );
            }
            Ok(0)
        }
        CredentialsCmd::List { account } => {
            let account = parse_account(&account)?;
            for c in engine.store().credentials(account).await? {
                let status = if c.revoked_at.is_some() { "REVOKED" } else { "ACTIVE" };
                println!("{}  {}  {:<9}  {status}", c.id, c.client_id, c.role);
            }
            Ok(0)
        }
    }
}

async fn deposits(engine: Arc<Engine>, cmd: DepositsCmd) -> anyhow::Result<i32> {
    let DepositsCmd::Record { account, currency, amount, reference, sender_name, pending, json } = cmd;
    let account = parse_account(&account)?;
    let (currency, amount) = parse_money(&currency, &amount)?;
    if amount.is_zero() {
        bail!("--amount must be greater than zero");
    }
    let deposit = NewDeposit {
        account,
        currency,
        amount,
        receiver_account_number: None,
        deposit_reference: reference,
        sender_name,
        sender_country: None,
        sender_account_number: None,
        sender_swift_code: None,
        source: "operator",
        outcome: if pending { DepositOutcome::Pending } else { DepositOutcome::Cleared },
    };
    let Outcome::Deposit(d) =
        crate::audit_cli::operator_execute(&engine, account, "deposit.create", Command::CreateDeposit(deposit)).await?
    else {
        bail!("unexpected outcome")
    };
    if json {
        println!(
            "{}",
            json!({"deposit_id": d.id, "short_reference_id": d.short_reference_id, "deposit_status": d.status})
        );
    } else {
        println!(
            "deposit {} ({}) recorded: {} {} {}",
            d.id,
            d.short_reference_id,
            amount.to_decimal_string(currency),
            currency,
            d.status
        );
    }
    Ok(0)
}

async fn reserves(engine: Arc<Engine>, cmd: ReservesCmd) -> anyhow::Result<i32> {
    let ReservesCmd::Set { account, currency, amount } = cmd;
    let account = parse_account(&account)?;
    let (currency, target) = parse_money(&currency, &amount)?;
    let command = Command::SetReserve { account, currency, target };
    match crate::audit_cli::operator_execute(&engine, account, "reserve.set", command).await {
        Ok(Outcome::ReserveSet { reserve, available, .. }) => {
            println!(
                "reserve for {account} is now {} {currency}; available {} {currency}",
                reserve.to_decimal_string(currency),
                available.to_decimal_string(currency)
            );
            Ok(0)
        }
        Ok(other) => bail!("unexpected outcome {other:?}"),
        Err(outlay_engine::CommandError::InsufficientFunds { .. }) => {
            eprintln!("refused: available {currency} is less than the reserve increase");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

async fn verify(engine: Arc<Engine>, json: bool) -> anyhow::Result<i32> {
    let report = verify_ledger(engine.store().as_ref()).await?;
    if json {
        println!(
            "{}",
            json!({
                "ok": report.ok(),
                "checks": report.checks(),
                "violations": report.violations,
                "totals": report.totals.iter().map(|t| json!({
                    "currency": t.currency,
                    "fbo_bank": t.fbo_cash,
                    "client_balances": t.client_balances,
                    "fee_revenue": t.fee_revenue,
                    "fx_position": t.fx_position,
                    "other_platform": t.other_platform,
                })).collect::<Vec<_>>(),
            })
        );
    } else {
        for check in report.checks() {
            println!("checked: {check}");
        }
        for t in &report.totals {
            let other = if t.other_platform == 0 {
                String::new()
            } else {
                format!(" + other platform accounts {}", t.other_platform)
            };
            println!(
                "{}: FBO cash {} = client balances {} + fee revenue {} + FX position {}{other} (minor units)",
                t.currency, t.fbo_cash, t.client_balances, t.fee_revenue, t.fx_position
            );
        }
        if report.ok() {
            println!("ledger OK");
        } else {
            for v in &report.violations {
                println!("VIOLATION: {v}");
            }
            println!("ledger verification FAILED: {} violation(s)", report.violations.len());
        }
    }
    Ok(if report.ok() { 0 } else { 1 })
}
