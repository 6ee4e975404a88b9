//! `outlay-bench nodes --nodes 2|3`: real `outlay serve` processes (the release binary next to
//! this one) on one fresh PostgreSQL database, payout creates over HTTP with idempotency keys
//! spread round-robin over the nodes. The same load runs first against one node (the reference
//! the multi-node figure is a ratio of), then against N fresh nodes, then the checks: every
//! accepted payout exists once (rows against accepted requests, and a replay of accepted
//! requests on another node returns the same payout), and the ledger verifies.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use outlay_engine::{Engine, EngineConfig, SystemClock};
use serde_json::json;

use crate::{Latencies, peak_rss_mib, pgbench};

pub struct NodesArgs {
    pub nodes: usize,
    pub requests: u64,
    pub concurrency: usize,
    pub rate: Option<u64>,
    pub accounts: usize,
    pub pgbench_seconds: u64,
}

/// One `outlay serve` child process. Dropping it kills the process, so an error anywhere in the
/// scenario never leaves nodes running.
struct Node {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl Node {
    fn start(bin: &Path, database_url: &str, dir: &Path) -> anyhow::Result<Node> {
        std::fs::create_dir_all(dir)?;
        // Its config file (`./outlay.toml`): no daily report run. It would schedule and write
        // the previous day's four reports for every account during the measurement (the
        // in-process `http` scenario runs none either).
        std::fs::write(dir.join("outlay.toml"), "[reports]\ndaily_at = \"off\"\n")?;
        let stderr = dir.join("stderr.log");
        let mut child = std::process::Command::new(bin)
            // Its data directory (sandbox rail files, reports) goes in the run's temporary dir.
            .current_dir(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
            // Nothing settles during the run: the nodes only take payout creates.
            .args(["--sandbox-settle-after-ms", "86400000"])
            .env("OUTLAY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("node stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(rest) = line.split("Outlay is running at ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                    break;
                }
            }
            // Keep draining so the node never blocks on a full pipe.
            for _ in lines {}
        });
        let mut node = Node { child, base: String::new(), stderr };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) if !base.is_empty() => node.base = base,
            _ => {
                let _ = node.child.kill();
                let _ = node.child.wait();
                let log = std::fs::read_to_string(&node.stderr).unwrap_or_default();
                bail!("outlay serve did not start; its stderr:\n{}", tail(&log, 20));
            }
        }
        Ok(node)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's peak resident memory (`VmHWM`), MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    }

    /// SIGTERM and wait for a graceful stop (SIGKILL after 30 s).
    fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.pid().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                    eprintln!("node {pid} exited with {status}; stderr:\n{}", tail(&log, 20));
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                eprintln!("node {pid} did not stop within 30 s of SIGTERM: killing it");
                self.child.kill()?;
                self.child.wait()?;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `outlay` binary built beside this one (`target/release/outlay`).
fn outlay_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("OUTLAY_BIN") {
        return Ok(PathBuf::from(path));
    }
    let bin = std::env::current_exe()?.with_file_name("outlay");
    if !bin.exists() {
        bail!("{} not found: build it first (cargo build --release -p outlay) or set OUTLAY_BIN", bin.display());
    }
    Ok(bin)
}

/// What one payout create returned.
struct Sent {
    status: u16,
    latency: Duration,
    /// For accepted requests: the request's number and idempotency key, and the payout's id.
    accepted: Option<(u64, String, String)>,
}

/// Everything a request needs, shared by the load tasks.
struct Load {
    http: reqwest::Client,
    bases: Vec<String>,
    tokens: Vec<String>,
    beneficiaries: Vec<String>,
    date: String,
}

impl Load {
    fn body(&self, n: usize) -> serde_json::Value {
        json!({"currency": "SGD", "amount": "0.01", "purpose_code": "WAGES_SALARY", "payout_reference": "bench",
               "payout_date": self.date, "beneficiary_id": self.beneficiaries[n]})
    }

    /// Request `i`: node `i mod N`, account `i mod A`, a fresh idempotency key (or `key`).
    async fn send(&self, i: u64, node: usize, key: Option<&str>) -> (u16, Option<String>, String) {
        let n = (i as usize) % self.tokens.len();
        let key = key.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let response = self
            .http
            .post(format!("{}/api/v1/payouts", self.bases[node % self.bases.len()]))
            .header("x-auth-token", format!("Bearer {}", self.tokens[n]))
            .header("x-idempotency-key", &key)
            .json(&self.body(n))
            .send()
            .await;
        let Ok(response) = response else { return (0, None, key) };
        let status = response.status().as_u16();
        let id = if response.status().is_success() {
            response.json::<serde_json::Value>().await.ok().and_then(|b| b["payout_id"].as_str().map(str::to_owned))
        } else {
            None
        };
        (status, id, key)
    }

    async fn one(self: Arc<Self>, i: u64) -> Sent {
        let started = Instant::now();
        let (status, id, key) = self.send(i, i as usize % self.bases.len(), None).await;
        let latency = started.elapsed();
        match id {
            Some(id) => Sent { status, latency, accepted: Some((i, key, id)) },
            // A 2xx without a payout id is counted as an error.
            None => Sent { status: if (200..300).contains(&status) { 0 } else { status }, latency, accepted: None },
        }
    }
}

async fn closed(load: Arc<Load>, requests: u64, concurrency: usize) -> (Vec<Sent>, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (load, next) = (load.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                out.push(load.clone().one(i).await);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    (all, started.elapsed())
}

async fn open(load: Arc<Load>, requests: u64, rate: u64) -> (Vec<Sent>, Duration) {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tasks = Vec::with_capacity(usize::try_from(requests).unwrap_or(0));
    for i in 0..requests {
        tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
        tasks.push(tokio::spawn(load.clone().one(i)));
    }
    let mut all = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(sent) = t.await {
            all.push(sent);
        }
    }
    (all, started.elapsed())
}

/// One phase's figures.
struct Phase {
    throughput: f64,
    accepted: Vec<(u64, String, String)>,
    /// Requests without a clear answer (no response, or an error other than 429/503): each may
    /// or may not have created a payout.
    unclear: u64,
}

/// CPU seconds (user + system) a process has used so far (`/proc/<pid>/stat`, 100 ticks/s).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // After the command name: state is field 3, utime field 14, stime field 15.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The machine's (busy, total) CPU ticks so far (`/proc/stat`).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle.min(total), total)
}

async fn phase(label: &str, load: Arc<Load>, args: &NodesArgs, pids: &[u32]) -> Phase {
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_seconds(&p.to_string())).collect::<Vec<f64>>();
    let (nodes_before, self_before, machine_before) = (cpu(pids), cpu_seconds("self"), machine_ticks());
    let (sent, elapsed) = match args.rate {
        Some(rate) => open(load, args.requests, rate).await,
        None => closed(load, args.requests, args.concurrency).await,
    };
    let (nodes_after, self_after, machine_after) = (cpu(pids), cpu_seconds("self"), machine_ticks());
    let busy = (machine_after.0 - machine_before.0) as f64 / (machine_after.1 - machine_before.1).max(1) as f64;
    let per_node: Vec<String> = nodes_after.iter().zip(&nodes_before).map(|(a, b)| format!("{:.1} s", a - b)).collect();
    println!(
        "{label}: CPU over the phase: machine {:.0}% busy (all cores, everything running); nodes {}; load generator {:.1} s; wall {:.1} s",
        busy * 100.0,
        per_node.join(", "),
        self_after - self_before,
        elapsed.as_secs_f64()
    );
    let (mut ok, mut refused, mut accepted) = (Vec::new(), Vec::new(), Vec::new());
    let (mut r429, mut r503, mut other) = (0u64, 0u64, 0u64);
    for s in sent {
        match (s.status, s.accepted) {
            (_, Some(a)) => {
                ok.push(s.latency);
                accepted.push(a);
            }
            (429, None) => {
                r429 += 1;
                refused.push(s.latency);
            }
            (503, None) => {
                r503 += 1;
                refused.push(s.latency);
            }
            _ => other += 1,
        }
    }
    let throughput = Latencies(ok).report(&format!("{label}: POST /api/v1/payouts accepted"), elapsed, other);
    println!(
        "{label}: refused {r429} with 429, {r503} with 503; {other} other errors (not 2xx, 429 or 503, or no answer)"
    );
    if !refused.is_empty() {
        Latencies(refused).report(&format!("{label}: refusals (429/503)"), elapsed, 0);
    }
    Phase { throughput, accepted, unclear: other }
}

async fn tokens(http: &reqwest::Client, base: &str, seeded: &[crate::Seeded]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(seeded.len());
    // 32 at a time: 1,000 accounts would otherwise take a while one by one.
    for chunk in seeded.chunks(32) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|s| {
                let (http, url) = (http.clone(), format!("{base}/api/v1/connect/token"));
                let (client_id, api_key) = (s.creds.client_id.clone(), s.creds.api_key.clone());
                tokio::spawn(async move {
                    let r: serde_json::Value = http
                        .post(url)
                        .header("x-client-id", client_id)
                        .header("x-api-key", api_key)
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    anyhow::Ok(r["auth_token"].as_str().context("token")?.to_owned())
                })
            })
            .collect();
        for t in tasks {
            out.push(t.await??);
        }
    }
    Ok(out)
}

/// Seed `accounts` accounts (bank account, USD and SGD funds, a stored SG beneficiary) through
/// an engine of this process on the shared database, with the nodes' sandbox key.
async fn seed_accounts(url: &str, accounts: usize) -> anyhow::Result<Vec<crate::Seeded>> {
    let keys = outlay::keys::key_ring(&Default::default(), url, true, false).await?;
    let store = outlay_store::open_with_keys(url, keys).await?;
    let engine = Engine::start(store, Arc::new(SystemClock), EngineConfig::default()).await?;
    let seeded = crate::seed(&engine, accounts.max(1)).await;
    engine.shutdown().await;
    seeded
}

fn start_nodes(bin: &Path, url: &str, dir: &Path, n: usize, generation: &str) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::with_capacity(n);
    // One after the other: the first start on an empty database creates the sandbox platform
    // account and encryption key, which the next ones then find.
    for i in 0..n {
        nodes.push(Node::start(bin, url, &dir.join(format!("{generation}-node{i}")))?);
    }
    Ok(nodes)
}

fn stop_nodes(label: &str, nodes: Vec<Node>) -> anyhow::Result<Vec<f64>> {
    let mut rss = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let peak = node.peak_rss_mib().unwrap_or(0.0);
        println!("{label}: node {i} (pid {}, {}) peak RSS {peak:.0} MiB", node.pid(), node.base);
        rss.push(peak);
        node.stop()?;
    }
    Ok(rss)
}

async fn count_payouts(url: &str) -> anyhow::Result<i64> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client.query_one("SELECT count(*) FROM payouts", &[]).await?.get(0))
}

/// Replay up to `sample` accepted requests (same key, same body) on the next node: each must
/// answer with the payout it created the first time, and create nothing.
async fn replay(load: &Load, accepted: &[(u64, String, String)], sample: usize) -> anyhow::Result<usize> {
    let step = (accepted.len() / sample.max(1)).max(1);
    let mut checked = 0;
    for (i, key, id) in accepted.iter().step_by(step).take(sample) {
        let node = (*i as usize + 1) % load.bases.len();
        let (status, replayed, _) = load.send(*i, node, Some(key)).await;
        if replayed.as_deref() != Some(id.as_str()) {
            bail!("replaying request {i} (key {key}) on node {node} answered {status} with {replayed:?}, not {id}");
        }
        checked += 1;
    }
    Ok(checked)
}

pub async fn run(server: &str, args: &NodesArgs) -> anyhow::Result<()> {
    if !(1..=16).contains(&args.nodes) {
        bail!("--nodes must be between 1 and 16");
    }
    let bin = outlay_binary()?;
    let dir = tempfile::tempdir()?;
    let url = pgbench::create_database(server).await?;
    let db = pgbench::database_of(&url).context("database name")?.to_owned();
    let result = run_on(&bin, &url, dir.path(), args).await;
    // The database goes whatever happened (the nodes are stopped by now).
    if let Err(e) = pgbench::drop_database(server, &db).await {
        eprintln!("could not drop {db}: {e:#}");
    }
    let (single, multi) = result?;
    println!(
        "nodes: {} nodes {multi:.0} payouts/s against 1 node {single:.0} payouts/s on the same database and load = {:.2} x single node",
        args.nodes,
        multi / single.max(f64::MIN_POSITIVE)
    );
    pgbench::compare(
        server,
        args.pgbench_seconds,
        &[("payouts/s, 1 node", single), (format!("payouts/s, {} nodes", args.nodes).as_str(), multi)],
    )
    .await?;
    Ok(())
}

/// The two phases and the checks; the nodes are stopped (or killed) when this returns.
async fn run_on(bin: &Path, url: &str, dir: &Path, args: &NodesArgs) -> anyhow::Result<(f64, f64)> {
    println!(
        "scenario nodes, backend postgres, {} nodes, {} accounts, {}",
        args.nodes,
        args.accounts.max(1),
        match args.rate {
            Some(r) => format!("open loop at {r}/s, {} requests per phase", args.requests),
            None => format!("closed loop, concurrency {}, {} requests per phase", args.concurrency, args.requests),
        }
    );
    let single = start_nodes(bin, url, dir, 1, "single")?;
    let seeded = seed_accounts(url, args.accounts).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .timeout(Duration::from_secs(120))
        .build()?;
    let tokens = tokens(&http, &single[0].base, &seeded).await?;
    let date = crate::payout_date()?.to_string();
    let beneficiaries: Vec<String> = seeded.iter().map(|s| s.beneficiary.to_string()).collect();
    let load = |bases: Vec<String>| {
        Arc::new(Load {
            http: http.clone(),
            bases,
            tokens: tokens.clone(),
            beneficiaries: beneficiaries.clone(),
            date: date.clone(),
        })
    };

    let load1 = load(single.iter().map(|n| n.base.clone()).collect());
    let one = phase("1 node", load1, args, &single.iter().map(Node::pid).collect::<Vec<_>>()).await;
    stop_nodes("1 node", single)?;

    let nodes = start_nodes(bin, url, dir, args.nodes, "multi")?;
    let load_n = load(nodes.iter().map(|n| n.base.clone()).collect());
    let label = format!("{} nodes", args.nodes);
    let many = phase(&label, load_n.clone(), args, &nodes.iter().map(Node::pid).collect::<Vec<_>>()).await;

    // Every accepted payout exists once: as many rows as accepted requests, distinct ids, and
    // accepted requests replayed on another node return the same payout and add no row.
    let accepted = one.accepted.len() + many.accepted.len();
    let mut ids: Vec<&str> = one.accepted.iter().chain(&many.accepted).map(|(_, _, id)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let replayed = replay(&load_n, &many.accepted, 200).await?;
    let rows = count_payouts(url).await?;
    stop_nodes(&label, nodes)?;
    println!(
        "payouts: {accepted} requests accepted, {} distinct payout ids, {rows} payout rows; {replayed} accepted requests replayed on another node returned the same payout",
        ids.len()
    );
    // A request without a clear answer may have created its payout: the only slack allowed.
    let unclear = one.unclear + many.unclear;
    let (low, high) = (accepted as u64, accepted as u64 + unclear);
    if ids.len() != accepted || !u64::try_from(rows).is_ok_and(|r| (low..=high).contains(&r)) {
        bail!(
            "accepted payouts and stored payouts differ: {accepted} accepted, {} distinct ids, {rows} rows \
             ({unclear} requests without a clear answer)",
            ids.len()
        );
    }
    println!("peak RSS of the load generator {:.0} MiB", peak_rss_mib());

    let store = outlay_store::open(url).await?;
    let engine = Engine::start(store, Arc::new(SystemClock), EngineConfig::default()).await?;
    let verified = crate::verify(&engine).await;
    engine.shutdown().await;
    verified?;
    if one.accepted.is_empty() || many.accepted.is_empty() {
        bail!("a phase accepted no request");
    }
    Ok((one.throughput, many.throughput))
}
