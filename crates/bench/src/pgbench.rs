//! The PostgreSQL reference point: `pgbench`'s TPC-B-like run on a scratch database on the same
//! server as the scenario, run after the scenario (never beside it), so a PostgreSQL figure is
//! printed as a ratio of the server's own single-node durable-write ceiling.
//!
//! Also the scratch-database housekeeping: every database the bench creates is named
//! `outlay_bench_<pid>_…` (or `outlay_bench_pgbench_<pid>`), so a later run can tell the
//! leftovers of an interrupted run (their process is gone) from a run still going.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

const PGBENCH: &str = "/usr/bin/pgbench";
/// Every database this binary creates starts with this.
pub const PREFIX: &str = "outlay_bench_";

/// The scratch database name for the pgbench reference of this process.
fn reference_name() -> String {
    format!("{PREFIX}pgbench_{}", std::process::id())
}

/// A fresh scenario database name carrying this process's id.
pub fn scenario_name() -> String {
    format!("{PREFIX}{}_{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

/// `server` (a `postgres://…/db[?params]` URL) pointing at database `name` instead.
pub fn url_with_database(server: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let rest = base.split_once("://").map(|(_, r)| r).context("postgres URL needs a scheme")?;
    let (prefix, _) = if rest.contains('/') {
        base.rsplit_once('/').context("postgres URL needs a database path")?
    } else {
        (base, "")
    };
    Ok(match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    })
}

/// The database name of a `postgres://…/db` URL.
pub fn database_of(url: &str) -> Option<&str> {
    let base = url.split('?').next()?;
    let rest = base.split_once("://")?.1;
    rest.split_once('/').map(|(_, db)| db).filter(|db| !db.is_empty())
}

async fn connect(server: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {}", outlay_store::redact_url(server)))?;
    tokio::spawn(conn);
    Ok(client)
}

/// A quoted identifier for a name this module built (letters, digits, underscores only).
fn ident(name: &str) -> anyhow::Result<String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("unexpected database name {name:?}");
    }
    Ok(format!("\"{name}\""))
}

/// Create a scratch database (named with this process's id) on `server`; its URL.
pub async fn create_database(server: &str) -> anyhow::Result<String> {
    let client = connect(server).await?;
    let name = scenario_name();
    client.batch_execute(&format!("CREATE DATABASE {}", ident(&name)?)).await.context("CREATE DATABASE")?;
    url_with_database(server, &name)
}

/// Drop a database this process created (closing any connection left to it).
pub async fn drop_database(server: &str, name: &str) -> anyhow::Result<()> {
    if !name.starts_with(PREFIX) {
        bail!("refusing to drop {name:?}: not a bench database");
    }
    let client = connect(server).await?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name)?))
        .await
        .with_context(|| format!("DROP DATABASE {name}"))?;
    Ok(())
}

/// The process id a bench database name carries: `outlay_bench_<pid>_<hex>` or
/// `outlay_bench_pgbench_<pid>`. Names from older binaries (`outlay_bench_<hex>`) carry none.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    if let Some(pid) = rest.strip_prefix("pgbench_") {
        return pid.parse().ok();
    }
    let (pid, hex) = rest.split_once('_')?;
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| pid.parse().ok()).flatten()
}

/// Drop the bench databases of runs whose process is gone (interrupted runs). A database of a
/// live process, or one still in use (a plain `DROP DATABASE` refuses), is left alone, and so
/// are names without a process id (older binaries).
pub async fn drop_leftovers(server: &str) -> anyhow::Result<()> {
    let client = connect(server).await?;
    let rows = client
        .query("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", &[&PREFIX])
        .await?;
    let mut dropped = Vec::new();
    let mut unknown = 0;
    for row in rows {
        let name: String = row.get(0);
        let Some(pid) = owner_pid(&name) else {
            unknown += 1;
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match client.batch_execute(&format!("DROP DATABASE IF EXISTS {}", ident(&name)?)).await {
            Ok(()) => dropped.push(name),
            Err(e) => eprintln!("leftover {name} not dropped: {e}"),
        }
    }
    if !dropped.is_empty() {
        println!("dropped {} leftover bench database(s) of finished runs: {}", dropped.len(), dropped.join(", "));
    }
    if unknown > 0 {
        println!("{unknown} older bench database(s) without a process id left alone (drop them by hand)");
    }
    Ok(())
}

/// Drop every database this process created (at the end of a run, whatever its outcome).
pub async fn drop_own(server: &str) -> anyhow::Result<()> {
    let client = connect(server).await?;
    let rows = client
        .query("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", &[&PREFIX])
        .await?;
    for row in rows {
        let name: String = row.get(0);
        if owner_pid(&name) == Some(std::process::id()) {
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name)?)).await?;
        }
    }
    Ok(())
}

/// Run `pgbench` with `args` against `url`; its standard output.
async fn pgbench(args: Vec<String>, url: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(PGBENCH).args(&args).arg(&url).output().with_context(|| format!("running {PGBENCH}"))?;
        if !out.status.success() {
            bail!(
                "pgbench {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await?
}

/// `tps = 3555.123 (without initial connection time)` → 3555.123.
pub fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// pgbench's TPC-B-like tps on a scratch database on `server`: scale 10, 16 clients, 2
/// threads, `seconds` long. The database is dropped afterwards, also when pgbench fails.
pub async fn reference_tps(server: &str, seconds: u64) -> anyhow::Result<f64> {
    let name = reference_name();
    let client = connect(server).await?;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name)?)).await?;
    client.batch_execute(&format!("CREATE DATABASE {}", ident(&name)?)).await.context("CREATE DATABASE")?;
    let url = url_with_database(server, &name)?;
    let run = async {
        pgbench(["-i", "-s", "10", "-q"].map(String::from).to_vec(), url.clone()).await?;
        let out = pgbench(
            vec!["-c".into(), "16".into(), "-j".into(), "2".into(), "-T".into(), seconds.to_string()],
            url.clone(),
        )
        .await?;
        parse_tps(&out).with_context(|| format!("no tps in pgbench's output:\n{out}"))
    };
    let result = run.await;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&name)?)).await?;
    result
}

/// Measure the reference (unless `seconds` is 0) and print each `(label, per second)` figure as a
/// ratio of it: `payouts/s = 0.42 x pgbench`.
pub async fn compare(server: &str, seconds: u64, figures: &[(&str, f64)]) -> anyhow::Result<Option<f64>> {
    if seconds == 0 {
        println!("pgbench reference skipped (--pgbench-seconds 0)");
        return Ok(None);
    }
    let tps = reference_tps(server, seconds).await?;
    println!("pgbench TPC-B-like, scale 10, 16 clients, 2 threads, {seconds} s, same server: {tps:.0} tps");
    for (label, per_second) in figures {
        println!("{label} = {per_second:.0}/s = {:.2} x pgbench", per_second / tps);
    }
    Ok(Some(tps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pgbench_tps() {
        let out = "transaction type: <builtin: TPC-B (sort of)>\nscaling factor: 10\n\
                   latency average = 4.5 ms\ninitial connection time = 12.3 ms\n\
                   tps = 3555.123456 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(3555.123456));
        assert_eq!(parse_tps("no figure here"), None);
    }

    #[test]
    fn names_carry_the_pid_and_urls_swap_the_database() {
        let pid = std::process::id();
        assert_eq!(owner_pid(&scenario_name()), Some(pid));
        assert_eq!(owner_pid(&reference_name()), Some(pid));
        assert_eq!(owner_pid("outlay_bench_0123456789abcdef0123456789abcdef"), None);
        assert_eq!(owner_pid("outlay_bench_12_notahexsuffix"), None);
        assert_eq!(
            url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").ok().as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            url_with_database("postgres://u@h/db?sslmode=disable", "x").ok().as_deref(),
            Some("postgres://u@h/x?sslmode=disable")
        );
        assert_eq!(url_with_database("postgres://u@h", "x").ok().as_deref(), Some("postgres://u@h/x"));
        assert_eq!(database_of("postgres://u@h:1/abc?x=1"), Some("abc"));
        assert!(ident("a\"b").is_err());
    }
}
