//! The group-commit writer (DESIGN.md section 4). One per process, on its own thread: it takes
//! every request waiting (up to a bound), runs them in one transaction with a savepoint each, so
//! one failure does not sink the others, commits once, then answers each request. The fsync is
//! paid per batch, not per request, which is what makes durable writes fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use outlay_core::AccountId;
use outlay_store::{BatchReads, IdempotencyRecord, Store, StoreError, WriteTx, WriterConn};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::ops::{self, Ctx};
use crate::{Clock, Command, CommandError, IdempotencyContext, StoredResponse, WriteResult};

pub(crate) struct WriteRequest {
    pub command: Command,
    pub idempotency: Option<IdempotencyContext>,
    /// Who asked: the writer appends the audit record in the command's savepoint.
    pub audit: Option<crate::audit::AuditContext>,
    /// A write from an API request still queued then is refused without running
    /// (`[writer] max_queue_wait_ms`); `None` for internal work, which is never shed.
    pub shed_at: Option<Instant>,
}

pub(crate) struct Job {
    pub request: WriteRequest,
    pub reply: oneshot::Sender<Result<WriteResult, CommandError>>,
    pub enqueued: Instant,
}

/// Counters for the benchmarks and metrics: requests per commit is the number that matters.
#[derive(Default, Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub commands: AtomicU64,
    pub commit_micros: AtomicU64,
    pub largest_batch: AtomicU64,
    pub retried_batches: AtomicU64,
    /// API writes refused without running because they waited past their deadline.
    pub shed: AtomicU64,
    /// How long the oldest command of the last batch waited in the queue (microseconds).
    pub last_queue_wait_micros: AtomicU64,
}

/// What the API's door looks at: how long a write arriving now would wait for the writer.
#[derive(Debug)]
pub(crate) struct QueueClock {
    epoch: Instant,
    /// When the batch being run is expected to end (microseconds since `epoch`; 0 when idle).
    busy_until: AtomicU64,
    /// Recent time per command in batches large enough for it to mean something (nanoseconds).
    per_command_nanos: AtomicU64,
    /// Since when every batch's oldest command waited longer than the bound (microseconds since
    /// `epoch`; 0: not over it). Only a queue over the bound for a whole interval (the bound
    /// itself, as CoDel's interval) is shed: one slow commit is a spike, not overload.
    over_since: AtomicU64,
}

impl Default for QueueClock {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            busy_until: AtomicU64::new(0),
            per_command_nanos: AtomicU64::new(0),
            over_since: AtomicU64::new(0),
        }
    }
}

/// Batches smaller than this are mostly the commit's fixed cost, not a per-command cost.
const TIMED_BATCH: usize = 64;

impl QueueClock {
    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX).max(1)
    }

    fn per_command(&self) -> Duration {
        Duration::from_nanos(self.per_command_nanos.load(Ordering::Relaxed))
    }

    fn started(&self, commands: usize) {
        let expected = self.per_command().saturating_mul(u32::try_from(commands).unwrap_or(u32::MAX));
        self.busy_until.store(self.micros(Instant::now() + expected), Ordering::Relaxed);
    }

    fn finished(&self, commands: usize, took: Duration) {
        self.busy_until.store(0, Ordering::Relaxed);
        if commands >= TIMED_BATCH {
            let sample = u64::try_from(took.as_nanos() / commands as u128).unwrap_or(u64::MAX);
            let old = self.per_command_nanos.load(Ordering::Relaxed);
            // A moving average: one slow batch (a checkpoint, a busy disk) does not swing it.
            let new = if old == 0 { sample } else { (old * 7 + sample) / 8 };
            self.per_command_nanos.store(new, Ordering::Relaxed);
        }
    }

    /// Note the wait of a batch's oldest command; whether the queue has now been over `bound`
    /// for at least `bound` (a standing queue, which is shed), not just once.
    fn standing(&self, oldest_wait: Duration, bound: Option<Duration>) -> bool {
        let Some(bound) = bound else {
            self.over_since.store(0, Ordering::Relaxed);
            return false;
        };
        if oldest_wait <= bound {
            self.over_since.store(0, Ordering::Relaxed);
            return false;
        }
        let now = self.micros(Instant::now());
        let since = match self.over_since.load(Ordering::Relaxed) {
            0 => {
                self.over_since.store(now, Ordering::Relaxed);
                now
            }
            since => since,
        };
        Duration::from_micros(now.saturating_sub(since)) >= bound
    }

    /// Whether the writer is shedding (its queue has stood over the bound for an interval).
    pub fn over(&self) -> bool {
        self.over_since.load(Ordering::Relaxed) != 0
    }

    /// How long a write queued now would wait: the rest of the batch being run, then the
    /// commands already waiting (an estimate; zero until the writer has timed a large batch).
    pub fn expected_wait(&self, waiting: usize) -> Duration {
        let busy_until = self.busy_until.load(Ordering::Relaxed);
        let now = self.micros(Instant::now());
        let rest = Duration::from_micros(busy_until.saturating_sub(now));
        rest + self.per_command().saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX))
    }
}

enum BatchError {
    /// The database chose this transaction as a deadlock or serialization victim.
    Retry,
    Fatal(String),
}

impl From<StoreError> for BatchError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Retry(_) => BatchError::Retry,
            other => BatchError::Fatal(other.to_string()),
        }
    }
}

pub(crate) struct Writer {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    pub stats: Arc<WriterStats>,
    pub config: Arc<crate::EngineConfig>,
    pub queue: Arc<QueueClock>,
}

impl Writer {
    /// Start the writer thread; resolves once its connection is open.
    pub async fn spawn(
        self,
        mut rx: mpsc::Receiver<Job>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<std::thread::JoinHandle<()>> {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let handle = std::thread::Builder::new().name("outlay-writer".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut conn = match self.store.writer_conn().await {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                loop {
                    let first = tokio::select! {
                        biased;
                        job = rx.recv() => job,
                        () = shutdown.cancelled() => {
                            // Refuse new work, finish what was already accepted.
                            rx.close();
                            rx.recv().await
                        }
                    };
                    let Some(first) = first else { break };
                    let mut batch = vec![first];
                    while batch.len() < self.max_batch {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let batch = self.shed_late(batch);
                    if batch.is_empty() {
                        continue;
                    }
                    let size = batch.len();
                    self.queue.started(size);
                    let started = Instant::now();
                    self.run_batch(conn.as_mut(), batch).await;
                    self.queue.finished(size, started.elapsed());
                }
                tracing::info!("writer stopped");
            });
        })?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => Err(anyhow::anyhow!("writer could not open its connection: {e}")),
            Err(_) => Err(anyhow::anyhow!("writer thread exited during start-up")),
        }
    }

    /// While the queue stands over the bound, answer `server_busy`, without running them, the
    /// API writes whose deadline has passed: their client has waited too long already, and
    /// running them would only make every later request wait longer. Nothing of theirs is
    /// written (no effect, no idempotency record, no audit record), so a retry with the same key
    /// runs them. Internal work has no deadline.
    fn shed_late(&self, jobs: Vec<Job>) -> Vec<Job> {
        let now = Instant::now();
        let oldest = jobs.iter().map(|j| j.enqueued).min().unwrap_or(now);
        let waited = now.saturating_duration_since(oldest);
        self.stats
            .last_queue_wait_micros
            .store(u64::try_from(waited.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        metrics::histogram!("outlay_writer_queue_wait_seconds").record(waited.as_secs_f64());
        // The bound of the oldest API write (all share one bound).
        let bound = jobs.iter().find_map(|j| j.request.shed_at.map(|at| at.saturating_duration_since(j.enqueued)));
        if !self.queue.standing(waited, bound) {
            return jobs;
        }
        let mut kept = Vec::with_capacity(jobs.len());
        let mut shed = 0u64;
        for job in jobs {
            if job.request.shed_at.is_some_and(|at| now >= at) {
                shed += 1;
                let _ = job.reply.send(Err(CommandError::Overloaded));
            } else {
                kept.push(job);
            }
        }
        if shed > 0 {
            self.stats.shed.fetch_add(shed, Ordering::Relaxed);
            metrics::counter!("outlay_writer_shed_total").increment(shed);
        }
        kept
    }

    async fn run_batch(&self, conn: &mut dyn WriterConn, jobs: Vec<Job>) {
        let mut owners: Vec<AccountId> = jobs
            .iter()
            .flat_map(|j| [j.request.command.chain_owners(), j.request.command.second_chain_owner()])
            .flatten()
            .collect();
        owners.sort_unstable();
        owners.dedup();
        let mut reads = BatchReads::default();
        for job in &jobs {
            job.request.command.batch_reads(&mut reads);
        }
        let started = Instant::now();
        let mut outcome = Err(BatchError::Fatal("not run".into()));
        for attempt in 0..3 {
            outcome = self.try_batch(conn, &jobs, &owners, &reads).await;
            match outcome {
                Err(BatchError::Retry) if attempt < 2 => {
                    self.stats.retried_batches.fetch_add(1, Ordering::Relaxed);
                }
                _ => break,
            }
        }
        let size = jobs.len() as u64;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.commands.fetch_add(size, Ordering::Relaxed);
        self.stats.largest_batch.fetch_max(size, Ordering::Relaxed);
        self.stats.commit_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        metrics::histogram!("outlay_writer_batch_size").record(size as f64);
        metrics::histogram!("outlay_writer_batch_seconds").record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                let message = match e {
                    BatchError::Retry => "the database kept aborting the transaction; retry".to_owned(),
                    BatchError::Fatal(m) => m,
                };
                tracing::error!(error = %message, batch = size, "write batch failed; nothing in it was committed");
                for job in jobs {
                    let _ = job.reply.send(Err(CommandError::Internal(message.clone())));
                }
            }
        }
    }

    async fn try_batch(
        &self,
        conn: &mut dyn WriterConn,
        jobs: &[Job],
        owners: &[AccountId],
        reads: &BatchReads,
    ) -> Result<Vec<Result<WriteResult, CommandError>>, BatchError> {
        let mut tx = conn.begin().await?;
        tx.lock_chains(owners).await?;
        // Audit chain heads after ledger chains, each in id order: no two batches deadlock.
        let mut audited: Vec<AccountId> = jobs
            .iter()
            .filter_map(|j| j.request.audit.as_ref().map(|a| a.account).or_else(|| j.request.command.audit_owner()))
            .collect();
        audited.sort_unstable();
        audited.dedup();
        tx.lock_audit_chains(&audited).await?;
        if !reads.is_empty() {
            tx.prefetch(reads).await?;
        }
        let ctx = Ctx { now: self.clock.now(), config: &self.config };
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            results.push(run_one(tx.as_mut(), &job.request, &ctx).await?);
        }
        tx.commit().await?;
        Ok(results)
    }
}

fn replay_or_mismatch(record: IdempotencyRecord, idem: &IdempotencyContext) -> Result<WriteResult, CommandError> {
    if record.request_hash == idem.request_hash {
        Ok(WriteResult::Replayed(StoredResponse { status: record.status_code, body: record.response_body }))
    } else {
        Err(CommandError::IdempotencyMismatch)
    }
}

async fn run_one(
    tx: &mut dyn WriteTx,
    request: &WriteRequest,
    ctx: &Ctx<'_>,
) -> Result<Result<WriteResult, CommandError>, BatchError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        tx.savepoint().await?;
        if let Some(idem) = &request.idempotency
            && let Some(record) = tx.idempotency_get(idem.account, idem.key.as_str()).await?
        {
            // An earlier request (possibly in this very batch) already used the key.
            tx.release_savepoint().await?;
            return Ok(replay_or_mismatch(record, idem));
        }
        let before = match &request.audit {
            Some(_) => crate::audit::before(tx, &request.command).await?,
            None => None,
        };
        match ops::apply(&request.command, tx, ctx).await {
            Ok(outcome) => {
                let response = request.idempotency.as_ref().map(|idem| (idem.render)(&outcome));
                let audit = request.audit.as_ref().map(|audit| {
                    crate::audit::record(audit, &request.command, &outcome, response.as_ref(), before, ctx.now)
                });
                if let (Some(idem), Some(rendered)) = (&request.idempotency, &response) {
                    // The audit record usually keeps the body verbatim: then it is stored once.
                    let body_in_audit =
                        audit.as_ref().filter(|a| a.after.as_deref() == Some(rendered.body.as_str())).map(|a| a.id);
                    let record = IdempotencyRecord {
                        account_id: idem.account,
                        key: idem.key.as_str().to_owned(),
                        request_hash: idem.request_hash.clone(),
                        status_code: rendered.status,
                        response_body: rendered.body.clone(),
                        body_in_audit,
                        created_at: ctx.now,
                    };
                    match tx.idempotency_put(&record).await {
                        Ok(()) => {}
                        Err(StoreError::Conflict { .. }) => {
                            // Another node committed the same key first: its answer stands.
                            tx.rollback_to_savepoint().await?;
                            return Ok(match tx.idempotency_get(idem.account, idem.key.as_str()).await? {
                                Some(winner) => replay_or_mismatch(winner, idem),
                                None => Err(CommandError::IdempotencyInFlight),
                            });
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                if let Some(draft) = &audit {
                    tx.append_audit(draft).await?;
                }
                tx.release_savepoint().await?;
                return Ok(Ok(WriteResult::Done { outcome: Box::new(outcome), response }));
            }
            Err(CommandError::RetryCommand) if attempt < 3 => {
                tx.rollback_to_savepoint().await?;
            }
            Err(CommandError::RetryBatch) => return Err(BatchError::Retry),
            Err(e) => {
                tx.rollback_to_savepoint().await?;
                return Ok(Err(e));
            }
        }
    }
}
