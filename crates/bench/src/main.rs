//! `cargo run --release -p outlay-bench -- <scenario> [options]`
//!
//! Every scenario creates its own database (a temporary SQLite file, or a fresh PostgreSQL
//! database next to `--postgres`), prints throughput, latency percentiles, error counts and
//! peak memory, and ends with the same ledger verification as `outlay ledger verify`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use outlay::config::ServeSettings;
use outlay::server::{Server, create_account, start};
use outlay_core::{AccountId, Amount, Currency};
use outlay_engine::verify::verify_ledger;
use outlay_engine::{
    BeneficiarySource, Command, DepositOutcome, Engine, EngineConfig, NewBeneficiary, NewDeposit, NewPayout, Outcome,
    SystemClock,
};
use outlay_store::BankAccount;
use serde_json::json;

mod nodes;
mod pgbench;
mod webhooks;
mod wrk;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[arg(long, value_enum, default_value = "sqlite", global = true)]
    backend: BackendArg,
    /// Server for the PostgreSQL runs; a fresh database is created on it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres", global = true)]
    postgres: String,
    /// PostgreSQL runs: length of the pgbench TPC-B-like reference run after the scenario, in
    /// seconds (0 skips it).
    #[arg(long, default_value_t = 20, global = true)]
    pgbench_seconds: u64,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
enum Scenario {
    /// Payout creates (or withdrawals) submitted straight to the engine: the writer's own
    /// ceiling, and commits per second against requests per second.
    Writer {
        /// Create withdrawals instead of payouts.
        #[arg(long)]
        withdrawals: bool,
        #[arg(long, default_value_t = 50_000)]
        requests: u64,
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Spread the load over this many client accounts (1 = one hot account).
        #[arg(long, default_value_t = 1)]
        accounts: usize,
    },
    /// The same over HTTP, with idempotency keys, next to `GET /healthz` on the same server.
    Http(HttpLoad),
    /// A payout batch file (CSV, one stored beneficiary) read streaming and validated; with
    /// `--release`, approval is off and every row is held too. Peak memory is the process's.
    Batch {
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Hold the rows as well (the account's policy needs no approval).
        #[arg(long)]
        release: bool,
        /// ALL_OR_NOTHING (one transaction) instead of PARTIAL (chunks of 5,000).
        #[arg(long)]
        all_or_nothing: bool,
    },
    /// N real `outlay serve` processes on one fresh PostgreSQL database, payout creates over
    /// HTTP spread round-robin over them; the same load on one node first, in the same run.
    Nodes {
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// Requests per phase (one node, then N nodes).
        #[arg(long, default_value_t = 5_000)]
        requests: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        accounts: usize,
        /// Open loop at this many payouts per second (refusals counted apart).
        #[arg(long)]
        rate: Option<u64>,
    },
    /// Signed webhook delivery to a local receiver (real TCP, signatures checked): N payouts,
    /// one `payout.ready.send` delivery each, next to signed POSTs from the same client.
    Webhooks {
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// The delivery worker's most requests in flight.
        #[arg(long, default_value_t = outlay_worker::webhooks::WebhookWorkerConfig::default().concurrency)]
        concurrency: usize,
        /// Create the events at this rate while the worker runs (default: all first, then deliver).
        #[arg(long)]
        rate: Option<u64>,
        /// Give up waiting for deliveries after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
}

struct Latencies(Vec<Duration>);

impl Latencies {
    /// Print the figures; the throughput (ok per second).
    fn report(mut self, label: &str, elapsed: Duration, errors: u64) -> f64 {
        self.0.sort_unstable();
        let n = self.0.len();
        let throughput = n as f64 / elapsed.as_secs_f64();
        let pct = |p: f64| self.0.get(((n as f64 * p) as usize).min(n.saturating_sub(1))).copied().unwrap_or_default();
        println!(
            "{label}: {n} ok, {errors} errors in {:.2}s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
            elapsed.as_secs_f64(),
            throughput,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            pct(0.999).as_secs_f64() * 1e3,
            self.0.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
        throughput
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn database(cli: &Cli, dir: &tempfile::TempDir) -> anyhow::Result<String> {
    Ok(match cli.backend {
        BackendArg::Sqlite => format!("sqlite://{}", dir.path().join("bench.db").display()),
        // Named with this process's id, so a later run can drop it if this one is interrupted.
        BackendArg::Postgres => pgbench::create_database(&cli.postgres).await?,
    })
}

/// PostgreSQL runs: pgbench's TPC-B-like tps on the same server, after the scenario, and each
/// figure as a ratio of it. Nothing on SQLite.
async fn pg_reference(cli: &Cli, figures: &[(&str, f64)]) -> anyhow::Result<()> {
    if cli.backend == BackendArg::Postgres {
        pgbench::compare(&cli.postgres, cli.pgbench_seconds, figures).await?;
    }
    Ok(())
}

/// Accounts with a designated bank account and plenty of cleared USD.
/// A seeded account: its id, credentials and a stored SG beneficiary.
struct Seeded {
    account: AccountId,
    creds: outlay::server::NewCredentials,
    beneficiary: uuid::Uuid,
}

/// The next SG business day on or after today in Singapore (payouts must fall on one).
fn payout_date() -> anyhow::Result<time::Date> {
    let sg = outlay_core::corridors::lookup("SG", "SGD").context("SG corridor")?;
    let now = time::OffsetDateTime::now_utc();
    let today = now.to_offset(sg.offset_at(now)).date();
    Ok(outlay_core::calendar::calendar("SG")?.business_day_on_or_after(today)?)
}

fn new_payout(account: AccountId, beneficiary: uuid::Uuid, date: time::Date) -> anyhow::Result<NewPayout> {
    Ok(NewPayout {
        account,
        currency: Currency::parse("SGD")?,
        amount: Amount::from_minor(1)?,
        purpose: outlay_core::payout::PurposeCode::WagesSalary,
        payout_reference: "bench".into(),
        fee_paid_by: None,
        payout_date: date,
        quote_id: None,
        payout_currency: None,
        payout_amount: None,
        beneficiary: BeneficiarySource::Stored(beneficiary),
        payer: None,
        documentation: Vec::new(),
        unique_request_id: None,
        created_by: None,
    })
}

async fn seed(engine: &Arc<Engine>, n: usize) -> anyhow::Result<Vec<Seeded>> {
    // 16 seeding tasks: 1,000 accounts one command at a time take half a minute on PostgreSQL.
    let chunk = n.div_ceil(16).max(1);
    let mut tasks = Vec::new();
    for first in (0..n).step_by(chunk) {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move { seed_range(&engine, first..(first + chunk).min(n)).await }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.extend(t.await??);
    }
    Ok(out)
}

async fn seed_range(engine: &Engine, range: std::ops::Range<usize>) -> anyhow::Result<Vec<Seeded>> {
    let usd = Currency::parse("USD")?;
    let sgd = Currency::parse("SGD")?;
    let mut out = Vec::with_capacity(range.len());
    for i in range {
        let creds = create_account(engine, &format!("bench {i}"), None).await?;
        let account: AccountId = creds.account_id.parse()?;
        engine
            .execute(Command::SetBankAccount {
                account,
                bank: Some(BankAccount {
                    account_holder: "Bench".into(),
                    account_number: "000111222".into(),
                    bank_country_code: "SG".into(),
                    swift_code: None,
                    bank_name: None,
                }),
            })
            .await?;
        for currency in [usd, sgd] {
            engine
                .execute(Command::CreateDeposit(NewDeposit {
                    account,
                    currency,
                    amount: Amount::from_minor(100_000_000_000)?,
                    receiver_account_number: None,
                    deposit_reference: None,
                    sender_name: None,
                    sender_country: None,
                    sender_account_number: None,
                    sender_swift_code: None,
                    source: "operator",
                    outcome: DepositOutcome::Cleared,
                }))
                .await?;
        }
        let beneficiary = NewBeneficiary {
            account,
            entity_type: "COMPANY".into(),
            payment_method: "LOCAL".into(),
            first_name: None,
            last_name: None,
            company_name: Some("Bench Pte Ltd".into()),
            nickname: None,
            email: None,
            bank_country_code: "SG".into(),
            account_currency_code: "SGD".into(),
            clearing_system: Some("FAST".into()),
            bank_details: json!({"bank_country_code": "SG", "account_currency_code": "SGD", "account_holder": "Bench",
                                 "account_number": "0123456789", "swift_code": "DBSSSGSG", "clearing_system": "FAST"}),
            address: None,
            additional_info: None,
        };
        let Outcome::Beneficiary(b) = engine.execute(Command::CreateBeneficiary(Box::new(beneficiary))).await? else {
            bail!("unexpected outcome");
        };
        out.push(Seeded { account, creds, beneficiary: b.id });
    }
    Ok(out)
}

async fn verify(engine: &Engine) -> anyhow::Result<()> {
    let report = verify_ledger(engine.store().as_ref()).await?;
    println!(
        "ledger verify: {} ({} entries, {} violations)",
        if report.ok() { "OK" } else { "FAILED" },
        report.entries,
        report.violations.len()
    );
    if !report.ok() {
        bail!("ledger verification failed: {:?}", &report.violations[..report.violations.len().min(5)]);
    }
    Ok(())
}

fn writer_line(engine: &Engine, elapsed: Duration, before: (u64, u64)) {
    let s = engine.writer_stats();
    let batches = s.batches.load(Ordering::Relaxed) - before.0;
    let commands = s.commands.load(Ordering::Relaxed) - before.1;
    println!(
        "writer: {commands} commands in {batches} commits = {:.0} commits/s, {:.1} commands per commit (largest {}), {} batch retries",
        batches as f64 / elapsed.as_secs_f64(),
        commands as f64 / batches.max(1) as f64,
        s.largest_batch.load(Ordering::Relaxed),
        s.retried_batches.load(Ordering::Relaxed),
    );
}

fn counters(engine: &Engine) -> (u64, u64) {
    let s = engine.writer_stats();
    (s.batches.load(Ordering::Relaxed), s.commands.load(Ordering::Relaxed))
}

async fn run_writer(
    cli: &Cli,
    withdrawals: bool,
    requests: u64,
    concurrency: usize,
    accounts: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = database(cli, &dir).await?;
    let store = outlay_store::open(&url).await?;
    let engine = Engine::start(store, Arc::new(SystemClock), EngineConfig::default()).await?;
    let accounts = Arc::new(seed(&engine, accounts.max(1)).await?);
    let usd = Currency::parse("USD")?;
    let one_cent = Amount::from_minor(1)?;
    let payout_date = if withdrawals { None } else { Some(payout_date()?) };
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let before = counters(&engine);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (engine, next, errors, accounts) = (engine.clone(), next.clone(), errors.clone(), accounts.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let seeded = &accounts[(i as usize) % accounts.len()];
                let t = Instant::now();
                let cmd = match payout_date {
                    Some(date) => match new_payout(seeded.account, seeded.beneficiary, date) {
                        Ok(p) => Command::CreatePayout(Box::new(p)),
                        Err(_) => break,
                    },
                    None => Command::CreateWithdrawal {
                        account: seeded.account,
                        currency: usd,
                        amount: one_cent,
                        reference: None,
                    },
                };
                match engine.execute(cmd).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    println!("scenario writer, backend {}, {} accounts, concurrency {concurrency}", backend_name(cli), accounts.len());
    let throughput = Latencies(all).report(
        if withdrawals { "withdrawals (holds)" } else { "payouts (holds)" },
        elapsed,
        errors.load(Ordering::Relaxed),
    );
    writer_line(&engine, elapsed, before);
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    verify(&engine).await?;
    engine.shutdown().await;
    pg_reference(cli, &[(if withdrawals { "withdrawals/s" } else { "payouts/s" }, throughput)]).await
}

fn backend_name(cli: &Cli) -> &'static str {
    match cli.backend {
        BackendArg::Sqlite => "sqlite",
        BackendArg::Postgres => "postgres",
    }
}

async fn closed_loop<F, Fut>(requests: u64, concurrency: usize, f: F) -> (Vec<Duration>, u64, Duration)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, next, errors) = (f.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                if f(i).await {
                    latencies.push(t.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    (all, errors.load(Ordering::Relaxed), started.elapsed())
}

/// Offer `requests` at `rate` per second, one every tick whatever is in flight (open loop), and
/// sort the answers: accepted (2xx) latencies, refused (429/503) latencies, and other errors.
async fn open_loop<F, Fut>(requests: u64, rate: u64, f: F) -> (Vec<Duration>, Vec<Duration>, u64, Duration)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send + 'static,
{
    let f = Arc::new(f);
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tasks = Vec::with_capacity(usize::try_from(requests).unwrap_or(0));
    for i in 0..requests {
        // Sleep to the request's slot; when the generator falls behind it sends at once.
        let slot = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(slot.into()).await;
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let status = f(i).await;
            (status, t.elapsed())
        }));
    }
    let (mut accepted, mut refused, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok((200..=299, latency)) => accepted.push(latency),
            Ok((429 | 503, latency)) => refused.push(latency),
            _ => errors += 1,
        }
    }
    (accepted, refused, errors, started.elapsed())
}

/// What the `http` scenario offers the server (its command-line options).
#[derive(clap::Args, Clone, Copy)]
struct HttpLoad {
    /// Create withdrawals instead of payouts.
    #[arg(long)]
    withdrawals: bool,
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 1)]
    accounts: usize,
    /// Open loop: offer this many payouts per second whatever the answers (a request per
    /// tick, no cap on requests in flight), and count the ones refused with 429/503.
    #[arg(long)]
    rate: Option<u64>,
    /// The server's `[writer] max_queue_wait_ms` (as `outlay serve`: 100; 0 turns it off).
    #[arg(long, default_value_t = 100)]
    max_queue_wait_ms: u64,
    /// The server's `[api] max_in_flight`.
    #[arg(long, default_value_t = outlay::config::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Closed loop from `wrk` (a separate process, one thread, `--concurrency` connections)
    /// for this many seconds instead of the in-process generator; `--requests` is unused.
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["rate", "withdrawals"])]
    wrk: Option<u64>,
}

async fn run_http(cli: &Cli, load: &HttpLoad) -> anyhow::Result<()> {
    let HttpLoad { withdrawals, requests, concurrency, accounts, rate, max_queue_wait_ms, max_in_flight, wrk } = *load;
    let dir = tempfile::tempdir()?;
    let url = database(cli, &dir).await?;
    let max_queue_wait = (max_queue_wait_ms > 0).then(|| Duration::from_millis(max_queue_wait_ms));
    let server: Server = start(ServeSettings {
        database_url: url,
        listen: "127.0.0.1:0".parse()?,
        sandbox: true,
        settle_after: Duration::from_secs(24 * 3600),
        engine: EngineConfig { max_queue_wait, ..EngineConfig::default() },
        metrics_listen: None,
        webhooks: Default::default(),
        role: outlay::config::Role::All,
        rail: Default::default(),
        trust_forwarded_for: false,
        max_in_flight,
        sftp: None,
        reports: Default::default(),
        keys: None,
    })
    .await?;
    let base = format!("http://{}", server.addr);
    let accounts = seed(&server.engine, accounts.max(1)).await?;
    // Open loop: keep every connection the offered load opened, so the generator reuses them
    // instead of closing and reopening thousands a second (which measured its own TCP churn).
    let idle = if rate.is_some() { usize::MAX } else { concurrency };
    let http = reqwest::Client::builder().pool_max_idle_per_host(idle).build()?;
    let mut tokens = Vec::new();
    for c in accounts.iter().map(|a| &a.creds) {
        let r: serde_json::Value = http
            .post(format!("{base}/api/v1/connect/token"))
            .header("x-client-id", &c.client_id)
            .header("x-api-key", &c.api_key)
            .send()
            .await?
            .json()
            .await?;
        tokens.push(r["auth_token"].as_str().context("token")?.to_owned());
    }
    let tokens = Arc::new(tokens);
    let date = payout_date()?.to_string();
    let beneficiaries: Arc<Vec<String>> = Arc::new(accounts.iter().map(|a| a.beneficiary.to_string()).collect());
    println!("scenario http, backend {}, {} accounts, concurrency {concurrency}", backend_name(cli), accounts.len());

    if let Some(seconds) = wrk {
        wrk::healthz(&base, concurrency, seconds, dir.path())?.report("GET /healthz (HTTP ceiling)");
        let callers: Vec<wrk::Caller> = tokens
            .iter()
            .zip(beneficiaries.iter())
            .map(|(token, beneficiary)| wrk::Caller { token: token.clone(), beneficiary: beneficiary.clone() })
            .collect();
        let before = counters(&server.engine);
        let started = Instant::now();
        let figures = wrk::payouts(&base, concurrency, seconds, &callers, &date, dir.path())?;
        let throughput = figures.report("POST /api/v1/payouts (held, durable)");
        writer_line(&server.engine, started.elapsed(), before);
        return finish_http(cli, server, "server process; wrk runs apart", ("payouts/s", throughput)).await;
    }

    let (h, b) = (http.clone(), base.clone());
    let (lat, err, elapsed) = closed_loop(requests, concurrency, move |_| {
        let (h, b) = (h.clone(), b.clone());
        async move { h.get(format!("{b}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    Latencies(lat).report("GET /healthz (HTTP ceiling)", elapsed, err);

    if let Some(rate) = rate {
        let before = counters(&server.engine);
        let (h, b, t, ben) = (http.clone(), base.clone(), tokens.clone(), beneficiaries.clone());
        let (accepted, refused, errors, elapsed) = open_loop(requests, rate, move |i| {
            let (h, b, t, ben, date) = (h.clone(), b.clone(), t.clone(), ben.clone(), date.clone());
            async move {
                let n = (i as usize) % t.len();
                let body = json!({"currency": "SGD", "amount": "0.01", "purpose_code": "WAGES_SALARY",
                    "payout_reference": "bench", "payout_date": date, "beneficiary_id": ben[n]});
                h.post(format!("{b}/api/v1/payouts"))
                    .header("x-auth-token", format!("Bearer {}", t[n]))
                    .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        })
        .await;
        println!("open loop: offered {rate}/s for {requests} requests");
        let throughput = Latencies(accepted).report("POST /api/v1/payouts accepted", elapsed, errors);
        Latencies(refused).report("POST /api/v1/payouts refused (429/503)", elapsed, 0);
        writer_line(&server.engine, elapsed, before);
        return finish_http(cli, server, IN_PROCESS, ("accepted payouts/s", throughput)).await;
    }

    let before = counters(&server.engine);
    let (h, b, t, ben) = (http.clone(), base.clone(), tokens.clone(), beneficiaries.clone());
    let (lat, err, elapsed) = closed_loop(requests, concurrency, move |i| {
        let (h, b, t, ben, date) = (h.clone(), b.clone(), t.clone(), ben.clone(), date.clone());
        async move {
            let n = (i as usize) % t.len();
            let (path, body) = if withdrawals {
                ("withdrawals", json!({"currency": "USD", "amount": "0.01"}))
            } else {
                (
                    "payouts",
                    json!({"currency": "SGD", "amount": "0.01", "purpose_code": "WAGES_SALARY",
                    "payout_reference": "bench", "payout_date": date, "beneficiary_id": ben[n]}),
                )
            };
            h.post(format!("{b}/api/v1/{path}"))
                .header("x-auth-token", format!("Bearer {}", t[n]))
                .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    let label =
        if withdrawals { "POST /api/v1/withdrawals (held, durable)" } else { "POST /api/v1/payouts (held, durable)" };
    let throughput = Latencies(lat).report(label, elapsed, err);
    writer_line(&server.engine, elapsed, before);
    let figure = if withdrawals { "withdrawals/s" } else { "payouts/s" };
    finish_http(cli, server, IN_PROCESS, (figure, throughput)).await
}

const IN_PROCESS: &str = "server and load generator in one process";

/// The end of every `http` run: peak memory, a run with no success fails, the ledger verified,
/// the server stopped, then the PostgreSQL reference for `figure`.
async fn finish_http(cli: &Cli, server: Server, memory_note: &str, figure: (&str, f64)) -> anyhow::Result<()> {
    println!("peak RSS {:.0} MiB ({memory_note})", peak_rss_mib());
    if figure.1 == 0.0 {
        bail!("no request succeeded");
    }
    verify(&server.engine).await?;
    server.stop().await?;
    pg_reference(cli, &[figure]).await
}

async fn run_batch(cli: &Cli, rows: u64, release: bool, all_or_nothing: bool) -> anyhow::Result<()> {
    use outlay_engine::batches::{BatchFileFormat, BatchMode, NewBatchRequest, create_batch_from_reader};
    use std::io::Write as _;
    let dir = tempfile::tempdir()?;
    let url = database(cli, &dir).await?;
    let store = outlay_store::open(&url).await?;
    let engine = Engine::start(store, Arc::new(SystemClock), EngineConfig::default()).await?;
    let seeded = seed(&engine, 1).await?.into_iter().next().context("seeded account")?;
    if release {
        let policy = outlay_store::ApprovalPolicyRow {
            account_id: seeded.account,
            approval_required_for_batches: false,
            payout_approval_thresholds: Default::default(),
            updated_by: None,
            updated_at: time::OffsetDateTime::now_utc(),
        };
        engine.execute(Command::SetApprovalPolicy(Box::new(policy))).await?;
    }
    // The file is written to disk first, so only the reader's memory is measured.
    let path = dir.path().join("batch.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id")?;
        let date = payout_date()?;
        for i in 0..rows {
            writeln!(out, "SGD,{}.{:02},WAGES_SALARY,Row {i},{date},{}", 1 + i % 500, i % 100, seeded.beneficiary)?;
        }
        out.flush()?;
    }
    let size = std::fs::metadata(&path)?.len();
    let before = counters(&engine);
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    let batch = create_batch_from_reader(
        &engine,
        NewBatchRequest {
            account: seeded.account,
            created_by: None,
            file_name: Some("batch.csv".into()),
            format: BatchFileFormat::Csv,
            mode: if all_or_nothing { BatchMode::AllOrNothing } else { BatchMode::Partial },
            on_behalf: false,
            content_sha256: None,
            reader: std::fs::File::open(&path)?,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let answered = started.elapsed();
    // A batch held as a whole is answered once held; its payouts are created in the background.
    let mut batch = batch;
    while batch.status == "RELEASING" {
        tokio::time::sleep(Duration::from_millis(20)).await;
        batch = engine.store().payout_batch(seeded.account, batch.id).await?.context("the batch")?;
    }
    let elapsed = started.elapsed();
    println!(
        "scenario batch, backend {}, {rows} rows ({:.0} MiB CSV), mode {}, release {release}",
        backend_name(cli),
        size as f64 / 1_048_576.0,
        batch.mode
    );
    println!(
        "batch {}: {} rows, {} valid, {} invalid, {} payouts held, status {} in {:.2}s = {:.0} rows/s",
        batch.id,
        batch.total_rows,
        batch.valid_rows,
        batch.invalid_rows,
        batch.open_payouts,
        batch.status,
        elapsed.as_secs_f64(),
        batch.total_rows as f64 / elapsed.as_secs_f64()
    );
    match batch.held_at {
        // Validated, every valid row's funds held by one entry, and durable (the rows were
        // committed before it): the payouts are then created from that hold.
        Some(at) => println!(
            "validated and held as a whole (one entry) after {:.2}s; upload answered after {:.2}s; every payout \
             created after {:.2}s",
            (at - started_at).as_seconds_f64(),
            answered.as_secs_f64(),
            elapsed.as_secs_f64()
        ),
        None if release => println!("held row by row (the balance did not cover the batch, or ALL_OR_NOTHING)"),
        None => {}
    }
    writer_line(&engine, elapsed, before);
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    verify(&engine).await?;
    engine.shutdown().await;
    Ok(())
}

/// The server's allocator, as in `outlay` itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let postgres = cli.backend == BackendArg::Postgres || matches!(cli.scenario, Scenario::Nodes { .. });
    if postgres && let Err(e) = pgbench::drop_leftovers(&cli.postgres).await {
        eprintln!("could not look for leftover bench databases: {e:#}");
    }
    let result = match cli.scenario {
        Scenario::Writer { withdrawals, requests, concurrency, accounts } => {
            run_writer(&cli, withdrawals, requests, concurrency, accounts).await
        }
        Scenario::Http(load) => run_http(&cli, &load).await,
        Scenario::Batch { rows, release, all_or_nothing } => run_batch(&cli, rows, release, all_or_nothing).await,
        Scenario::Nodes { nodes, requests, concurrency, accounts, rate } => {
            let args =
                nodes::NodesArgs { nodes, requests, concurrency, rate, accounts, pgbench_seconds: cli.pgbench_seconds };
            nodes::run(&cli.postgres, &args).await
        }
        Scenario::Webhooks { events, concurrency, rate, timeout_secs } => {
            webhooks::run(&cli, events, concurrency, rate, Duration::from_secs(timeout_secs)).await
        }
    };
    // This run's databases go with it, whether it succeeded or not.
    if postgres && let Err(e) = pgbench::drop_own(&cli.postgres).await {
        eprintln!("could not drop this run's databases: {e:#}");
    }
    result
}
