//! Closed-loop load from `wrk` (a separate C process) instead of the in-process generator, so
//! the server's figures are not shared with a Rust HTTP client running on the same two cores.
//!
//! The request script gives every request its own idempotency key and spreads them over the
//! accounts' tokens; its `done` hook prints one machine-readable line that is parsed here.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// One account's side of the load: its bearer token and the beneficiary it pays.
pub struct Caller {
    pub token: String,
    pub beneficiary: String,
}

/// What `wrk` measured; latencies in microseconds.
#[derive(Debug)]
pub struct WrkFigures {
    pub requests: u64,
    pub elapsed: Duration,
    pub non_2xx: u64,
    pub socket_errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl WrkFigures {
    /// Print the figures in the same shape as the in-process generator; the throughput (ok per
    /// second).
    pub fn report(&self, label: &str) -> f64 {
        let ok = self.requests.saturating_sub(self.non_2xx);
        let throughput = ok as f64 / self.elapsed.as_secs_f64();
        let ms = |us: u64| us as f64 / 1e3;
        println!(
            "{label} [wrk]: {ok} ok, {} errors ({} socket) in {:.2}s = {throughput:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
            self.non_2xx + self.socket_errors,
            self.socket_errors,
            self.elapsed.as_secs_f64(),
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.p999_us),
            ms(self.max_us),
        );
        throughput
    }
}

/// The script's `done` hook: one line, `WRK key=value ...`.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d status=%d socket=%d p50=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"#;

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

/// The request script for payout creates: a fresh idempotency key each request, round-robin
/// over the callers.
fn payouts_script(callers: &[Caller], date: &str) -> String {
    let mut script = String::from("local callers = {\n");
    for c in callers {
        let body = serde_json::json!({"currency": "SGD", "amount": "0.01", "purpose_code": "WAGES_SALARY",
            "payout_reference": "bench", "payout_date": date, "beneficiary_id": c.beneficiary})
        .to_string();
        script.push_str(&format!(
            "  {{ auth = {}, body = {} }},\n",
            lua_string(&format!("Bearer {}", c.token)),
            lua_string(&body)
        ));
    }
    script.push_str(
        r#"}
local thread_id = 0
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local c = callers[(counter % #callers) + 1]
  local headers = {
    ["content-type"] = "application/json",
    ["x-auth-token"] = c.auth,
    ["x-idempotency-key"] = string.format("wrk-%d-%d", thread_id, counter),
  }
  return wrk.format("POST", "/api/v1/payouts", headers, c.body)
end
"#,
    );
    script.push_str(DONE);
    script
}

/// Run `wrk` against `url` for `seconds` with `connections` connections on one thread.
fn run(url: &str, connections: usize, seconds: u64, script: &Path) -> anyhow::Result<WrkFigures> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (Debian package `wrk`)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    }
    parse(&stdout).with_context(|| format!("no WRK line in wrk's output:\n{stdout}"))
}

fn parse(stdout: &str) -> Option<WrkFigures> {
    let line = stdout.lines().find(|l| l.starts_with("WRK "))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some(WrkFigures {
        requests: field("requests")?,
        elapsed: Duration::from_micros(field("duration_us")?),
        non_2xx: field("status")?,
        socket_errors: field("socket")?,
        p50_us: field("p50")?,
        p99_us: field("p99")?,
        p999_us: field("p999")?,
        max_us: field("max")?,
    })
}

/// `GET /healthz` on the same server with the same connections: the HTTP ceiling.
pub fn healthz(base: &str, connections: usize, seconds: u64, dir: &Path) -> anyhow::Result<WrkFigures> {
    let script = dir.join("healthz.lua");
    std::fs::write(&script, DONE)?;
    run(&format!("{base}/healthz"), connections, seconds, &script)
}

/// Payout creates with idempotency keys over `callers`.
pub fn payouts(
    base: &str,
    connections: usize,
    seconds: u64,
    callers: &[Caller],
    date: &str,
    dir: &Path,
) -> anyhow::Result<WrkFigures> {
    let script = dir.join("payouts.lua");
    std::fs::write(&script, payouts_script(callers, date))?;
    run(base, connections, seconds, &script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_line_is_parsed() {
        let out = "Running 1s test\nWRK requests=120 duration_us=1000000 status=3 socket=0 p50=900 p99=4000 p999=5000 max=6000\n";
        let f = parse(out).expect("parsed");
        assert_eq!((f.requests, f.non_2xx, f.p99_us, f.max_us), (120, 3, 4000, 6000));
        assert_eq!(f.elapsed, Duration::from_secs(1));
    }

    #[test]
    fn the_script_quotes_bodies_as_lua_strings() {
        let s = payouts_script(&[Caller { token: "t\"k".into(), beneficiary: "b".into() }], "2026-11-23");
        assert!(s.contains(r#"auth = "Bearer t\"k""#), "{s}");
        assert!(s.contains(r#"\"beneficiary_id\":\"b\""#), "{s}");
    }
}
