//! The runner of the durable jobs table: claims due jobs of the kinds it has handlers for,
//! with a lease, runs each, and records the end (done, or failed with exponential backoff until
//! the job's attempts are used up). A node that dies mid-job leaves a lease that lapses; the
//! next claim (on any node) runs the job again, so every handler must be idempotent.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use outlay_engine::{Command, CommandError, Engine, Outcome};
use outlay_store::{JobEnd, JobRow};
use tokio_util::sync::CancellationToken;

/// What a handler answers: `Err` is retried later.
pub type JobResult = Result<(), String>;
type BoxFuture<'a> = Pin<Box<dyn Future<Output = JobResult> + Send + 'a>>;

/// Kinds whose queue depth was ever sampled (a kind that empties reads 0, not its last value).
static SAMPLED_KINDS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Set `outlay_jobs_queue_depth{kind}`: jobs due and not leased (queued with `run_at` come, or
/// running with a lapsed lease), per kind. `rail.submit` is always reported, 0 when empty.
pub async fn sample_queue_depth(engine: &Engine) {
    let depths = match engine.store().jobs_queue_depth(engine.clock().now()).await {
        Ok(depths) => depths,
        Err(e) => {
            tracing::debug!(error = %e, "sampling the jobs queue depth failed");
            return;
        }
    };
    let mut kinds = SAMPLED_KINDS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if kinds.is_empty() {
        kinds.push(outlay_engine::RAIL_SUBMIT.to_owned());
    }
    for (kind, _) in &depths {
        if !kinds.contains(kind) {
            kinds.push(kind.clone());
        }
    }
    for kind in kinds.iter() {
        let depth = depths.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
        metrics::gauge!("outlay_jobs_queue_depth", "kind" => kind.clone()).set(depth as f64);
    }
}

/// Runs one kind of job.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, engine: &'a Engine, job: &'a JobRow) -> BoxFuture<'a>;
}

#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// How often to look for due jobs when idle.
    pub poll_interval: Duration,
    /// How long a claimed job is ours; a job still running when it lapses may run twice.
    pub lease: Duration,
    /// Most jobs claimed per round.
    pub batch: u32,
    /// First retry delay; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            lease: Duration::from_secs(60),
            batch: 16,
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30 * 60),
        }
    }
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(config: &JobsConfig, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    config.base_backoff.saturating_mul(1 << exponent).min(config.max_backoff)
}

#[derive(Default)]
pub struct JobRunner {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundSummary {
    pub done: usize,
    pub failed: usize,
    /// Finished by us, but our lease had lapsed and someone else holds the job now.
    pub lost: usize,
}

impl JobRunner {
    pub fn with(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        kinds
    }

    /// Claim what is due and run it. Returns what happened.
    pub async fn round(&self, engine: &Engine, config: &JobsConfig) -> Result<RoundSummary, CommandError> {
        let mut summary = RoundSummary::default();
        let kinds = self.kinds();
        let cmd = Command::ClaimJobs { kinds, limit: config.batch, lease: config.lease };
        let Outcome::JobsClaimed(jobs) = engine.execute(cmd).await? else {
            return Err(CommandError::Internal("ClaimJobs answered something else".into()));
        };
        for job in jobs {
            let Some(token) = job.claim_token else { continue };
            let result = match self.handlers.get(&job.kind) {
                Some(handler) => handler.run(engine, &job).await,
                None => Err(format!("no handler for job kind {}", job.kind)),
            };
            let end = match &result {
                Ok(()) => JobEnd::Done,
                Err(error) => {
                    let retry_at = engine.clock().now() + backoff(config, job.attempts);
                    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed");
                    JobEnd::Failed { error: error.clone(), retry_at }
                }
            };
            let cmd = Command::FinishJob { id: job.id, claim_token: token, end };
            match engine.execute(cmd).await? {
                Outcome::JobFinished(true) if result.is_ok() => summary.done += 1,
                Outcome::JobFinished(true) => summary.failed += 1,
                _ => summary.lost += 1,
            }
        }
        Ok(summary)
    }

    /// Run rounds until shutdown.
    pub async fn run(self, engine: Arc<Engine>, config: JobsConfig, shutdown: CancellationToken) {
        let kinds = self.kinds();
        let kind_refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let mut sampled: Option<std::time::Instant> = None;
        loop {
            if sampled.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                sample_queue_depth(&engine).await;
                sampled = Some(std::time::Instant::now());
            }
            let due = engine.store().jobs_due(&kind_refs, engine.clock().now()).await.unwrap_or(true);
            if due {
                match self.round(&engine, &config).await {
                    // More may be waiting: go again at once.
                    Ok(s) if s.done + s.failed + s.lost > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "job round failed"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(config.poll_interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = JobsConfig::default();
        assert_eq!(backoff(&config, 1), Duration::from_secs(5));
        assert_eq!(backoff(&config, 2), Duration::from_secs(10));
        assert_eq!(backoff(&config, 4), Duration::from_secs(40));
        assert_eq!(backoff(&config, 30), Duration::from_secs(30 * 60));
        assert_eq!(backoff(&config, 0), Duration::from_secs(5));
    }
}
