//! The group-commit writer (DESIGN.md section 4). One per process, on its own thread: it takes
//! every request waiting (up to a bound), runs them in one transaction with a savepoint each, so
//! one failure does not sink the others, commits once, then answers each request. The fsync is
//! paid per batch, not per request, which is what makes durable writes fast.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use outlay_core::AccountId;
use outlay_store::{IdempotencyRecord, Store, StoreError, WriteTx, WriterConn};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::ops::{self, Ctx};
use crate::{Clock, Command, CommandError, IdempotencyContext, StoredResponse, WriteResult};

pub(crate) struct WriteRequest {
    pub command: Command,
    pub idempotency: Option<IdempotencyContext>,
    /// Who asked: the writer appends the audit record in the command's savepoint.
    pub audit: Option<crate::audit::AuditContext>,
}

pub(crate) struct Job {
    pub request: WriteRequest,
    pub reply: oneshot::Sender<Result<WriteResult, CommandError>>,
}

/// Counters for the benchmarks and metrics: requests per commit is the number that matters.
#[derive(Default, Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub commands: AtomicU64,
    pub commit_micros: AtomicU64,
    pub largest_batch: AtomicU64,
    pub retried_batches: AtomicU64,
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
                    self.run_batch(conn.as_mut(), batch).await;
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

    async fn run_batch(&self, conn: &mut dyn WriterConn, jobs: Vec<Job>) {
        let mut owners: Vec<AccountId> = jobs
            .iter()
            .flat_map(|j| [j.request.command.chain_owners(), j.request.command.second_chain_owner()])
            .flatten()
            .collect();
        owners.sort_unstable();
        owners.dedup();
        let started = Instant::now();
        let mut outcome = Err(BatchError::Fatal("not run".into()));
        for attempt in 0..3 {
            outcome = self.try_batch(conn, &jobs, &owners).await;
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
                let mut response = None;
                if let Some(idem) = &request.idempotency {
                    let rendered = (idem.render)(&outcome);
                    let record = IdempotencyRecord {
                        account_id: idem.account,
                        key: idem.key.as_str().to_owned(),
                        request_hash: idem.request_hash.clone(),
                        status_code: rendered.status,
                        response_body: rendered.body.clone(),
                        created_at: ctx.now,
                    };
                    match tx.idempotency_put(&record).await {
                        Ok(()) => response = Some(rendered),
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
                if let Some(audit) = &request.audit {
                    let draft =
                        crate::audit::record(audit, &request.command, &outcome, response.as_ref(), before, ctx.now);
                    tx.append_audit(&draft).await?;
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
