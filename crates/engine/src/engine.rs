use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outlay_core::AccountId;
use outlay_core::fees::FeeSchedule;
use outlay_store::Store;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::writer::{Job, QueueClock, WriteRequest, Writer};
use crate::{Clock, Command, CommandError, IdempotencyContext, Outcome, StoredResponse, WriteResult, WriterStats};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most commands the writer puts in one transaction.
    pub max_batch: usize,
    /// Requests waiting for the writer before new ones are refused as overloaded.
    pub queue_capacity: usize,
    /// Fees charged on payouts.
    pub fees: FeeSchedule,
    /// Markup applied to mid rates against the client, in basis points.
    pub fx_markup_bps: u32,
    /// The active sanctions list and the screening threshold; shared by every clone.
    pub screening: Arc<crate::screening::ScreeningState>,
    /// Operator overrides of corridor cut-off times (local time), by `COUNTRY/CURRENCY`.
    pub cutoffs: std::collections::BTreeMap<String, time::Time>,
    /// While the writer's queue has stood longer than this for as long, a write from an API
    /// request that waited longer is refused with 503 `server_busy` without running (`[writer]
    /// max_queue_wait_ms`), and new API writes are refused at the door. `None` (the default
    /// here; `outlay serve` defaults to [`DEFAULT_MAX_QUEUE_WAIT`]): no bound. Internal work
    /// (settler, rails, webhooks, jobs, batches, reports, CLI) is never shed.
    pub max_queue_wait: Option<Duration>,
}

/// `outlay serve`'s default `[writer] max_queue_wait_ms`.
pub const DEFAULT_MAX_QUEUE_WAIT: Duration = Duration::from_millis(100);

tokio::task_local! {
    /// Set while an API request is served (see [`Engine::api_request`]): whether it has
    /// submitted a write yet. Only its first may be shed, so a request that writes in several
    /// steps (a batch upload, approve then release) is never cut half-way.
    static API_REQUEST: Option<Arc<std::sync::atomic::AtomicBool>>;
}

impl EngineConfig {
    /// Whether a payout may be released to its rail at `now` (see
    /// [`outlay_core::calendar::release_due`]), with the operator's cut-off for its corridor.
    pub fn release_due(&self, p: &outlay_store::PayoutRow, now: time::OffsetDateTime) -> bool {
        let country = p.beneficiary.pointer("/bank_details/bank_country_code").and_then(serde_json::Value::as_str);
        let cutoff = country.and_then(|c| {
            self.cutoffs.get(&format!("{}/{}", c.to_ascii_uppercase(), p.payout_currency.to_ascii_uppercase()))
        });
        outlay_core::calendar::release_due(country, &p.payout_currency, p.payout_date, now, cutoff.copied())
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            queue_capacity: 16_384,
            fees: FeeSchedule::default(),
            fx_markup_bps: 50,
            screening: Arc::default(),
            cutoffs: std::collections::BTreeMap::new(),
            max_queue_wait: None,
        }
    }
}

/// `None` stored as this.
const NO_BOUND: u64 = u64::MAX;

/// The handle every front end (HTTP, CLI, background tasks) uses to read and write.
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    queue: mpsc::Sender<Job>,
    inflight: Mutex<HashSet<(AccountId, String)>>,
    stats: Arc<WriterStats>,
    shutdown: CancellationToken,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    config: Arc<EngineConfig>,
    fx_markup: outlay_core::fx::Markup,
    queue_clock: Arc<QueueClock>,
    /// `max_queue_wait` in microseconds (changeable while running, see `set_max_queue_wait`).
    max_queue_wait: AtomicU64,
}

/// Removes an idempotency key from the in-flight set when the request ends, however it ends.
struct InflightGuard<'a> {
    set: &'a Mutex<HashSet<(AccountId, String)>>,
    entry: Option<(AccountId, String)>,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if let (Some(entry), Ok(mut set)) = (self.entry.take(), self.set.lock()) {
            set.remove(&entry);
        }
    }
}

impl Engine {
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> anyhow::Result<Arc<Self>> {
        let (queue, rx) = mpsc::channel(config.queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let shutdown = CancellationToken::new();
        let fx_markup = outlay_core::fx::Markup::from_bps(config.fx_markup_bps)?;
        let max_queue_wait = AtomicU64::new(
            config.max_queue_wait.map_or(NO_BOUND, |d| u64::try_from(d.as_micros()).unwrap_or(NO_BOUND - 1)),
        );
        let config = Arc::new(config);
        let queue_clock = Arc::new(QueueClock::default());
        let writer = Writer {
            store: store.clone(),
            clock: clock.clone(),
            max_batch: config.max_batch.max(1),
            stats: stats.clone(),
            config: config.clone(),
            queue: queue_clock.clone(),
        };
        let handle = writer.spawn(rx, shutdown.clone()).await?;
        Ok(Arc::new(Self {
            store,
            clock,
            queue,
            inflight: Mutex::new(HashSet::new()),
            stats,
            shutdown,
            writer_thread: Mutex::new(Some(handle)),
            config,
            fx_markup,
            queue_clock,
            max_queue_wait,
        }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The settings the engine was started with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The FX markup taken from client rates (validated when the engine started).
    pub fn fx_markup(&self) -> outlay_core::fx::Markup {
        self.fx_markup
    }

    pub fn writer_stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Requests waiting for the writer right now.
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Run `fut`, an API request's handling: its first write, if it waits in the writer's queue
    /// longer than `max_queue_wait`, is refused with [`CommandError::Overloaded`] without
    /// running. Work outside such a scope is never shed.
    pub async fn api_request<F: Future>(fut: F) -> F::Output {
        API_REQUEST.scope(Some(Arc::default()), fut).await
    }

    /// Run `fut` as internal work (never shed) even inside [`Engine::api_request`].
    pub async fn internal<F: Future>(fut: F) -> F::Output {
        API_REQUEST.scope(None, fut).await
    }

    /// The bound on how long an API write may wait for the writer; `None`: no bound.
    pub fn max_queue_wait(&self) -> Option<Duration> {
        match self.max_queue_wait.load(Ordering::Relaxed) {
            NO_BOUND => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }

    /// Change the bound while running (tests use a zero bound to shed every API write).
    pub fn set_max_queue_wait(&self, bound: Option<Duration>) {
        let micros = bound.map_or(NO_BOUND, |d| u64::try_from(d.as_micros()).unwrap_or(NO_BOUND - 1));
        self.max_queue_wait.store(micros, Ordering::Relaxed);
    }

    /// How long a write queued now is expected to wait for the writer (an estimate from the
    /// batch being run, the requests waiting and recent time per command).
    pub fn expected_queue_wait(&self) -> Duration {
        self.queue_clock.expected_wait(self.queue_depth())
    }

    /// Whether an API write arriving now should be refused before any work: the writer is
    /// shedding and its queue is longer than the bound, so the write would be shed after it had
    /// cost parsing and reads.
    pub fn refuse_api_write(&self) -> bool {
        self.queue_clock.over() && self.max_queue_wait().is_some_and(|bound| self.expected_queue_wait() > bound)
    }

    async fn submit(&self, mut request: WriteRequest) -> Result<WriteResult, CommandError> {
        let enqueued = Instant::now();
        let submitted = API_REQUEST.try_with(Clone::clone).ok().flatten();
        if submitted.is_some_and(|s| !s.swap(true, Ordering::Relaxed)) {
            request.shed_at = self.max_queue_wait().map(|bound| enqueued + bound);
        }
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { request, reply, enqueued }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CommandError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => CommandError::ShuttingDown,
        })?;
        answer.await.map_err(|_| CommandError::ShuttingDown)?
    }

    /// Run a command that carries no idempotency key.
    pub async fn execute(&self, command: Command) -> Result<Outcome, CommandError> {
        match self.submit(WriteRequest { command, idempotency: None, audit: None, shed_at: None }).await? {
            WriteResult::Done { outcome, .. } => Ok(*outcome),
            WriteResult::Replayed(_) => Err(CommandError::Internal("replay without a key".into())),
        }
    }

    /// Run a command under an idempotency key (DESIGN.md section 5).
    pub async fn execute_idempotent(
        &self,
        command: Command,
        idem: IdempotencyContext,
    ) -> Result<WriteResult, CommandError> {
        self.execute_keyed(command, idem, None).await
    }

    /// Run a command, under a key when one is given, and append its audit record in the same
    /// transaction as its effect (see [`crate::audit`]). A replay writes no record here.
    pub async fn execute_audited(
        &self,
        command: Command,
        idem: Option<IdempotencyContext>,
        audit: crate::audit::AuditContext,
    ) -> Result<WriteResult, CommandError> {
        match idem {
            Some(idem) => self.execute_keyed(command, idem, Some(audit)).await,
            None => self.submit(WriteRequest { command, idempotency: None, audit: Some(audit), shed_at: None }).await,
        }
    }

    /// Append an audit record on its own (a request that failed before or in the engine).
    pub async fn record_audit(&self, draft: outlay_store::AuditDraft) -> Result<(), CommandError> {
        self.execute(Command::RecordAudit(Box::new(draft))).await.map(|_| ())
    }

    async fn execute_keyed(
        &self,
        command: Command,
        idem: IdempotencyContext,
        audit: Option<crate::audit::AuditContext>,
    ) -> Result<WriteResult, CommandError> {
        // Fast path: a retry of a finished request never reaches the writer.
        if let Some(record) =
            self.store.idempotency(idem.account, idem.key.as_str()).await.map_err(CommandError::from)?
        {
            return if record.request_hash == idem.request_hash {
                Ok(WriteResult::Replayed(StoredResponse { status: record.status_code, body: record.response_body }))
            } else {
                Err(CommandError::IdempotencyMismatch)
            };
        }
        let entry = (idem.account, idem.key.as_str().to_owned());
        {
            let mut set = self.inflight.lock().map_err(|_| CommandError::Internal("in-flight set poisoned".into()))?;
            if !set.insert(entry.clone()) {
                return Err(CommandError::IdempotencyInFlight);
            }
        }
        let _guard = InflightGuard { set: &self.inflight, entry: Some(entry) };
        self.submit(WriteRequest { command, idempotency: Some(idem), audit, shed_at: None }).await
    }

    /// Stop taking writes, finish the accepted ones, and wait for the writer to exit.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let handle = self.writer_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}
