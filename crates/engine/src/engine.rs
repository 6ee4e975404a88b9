use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use outlay_core::AccountId;
use outlay_core::fees::FeeSchedule;
use outlay_store::Store;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::writer::{Job, WriteRequest, Writer};
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
        }
    }
}

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
        let config = Arc::new(config);
        let writer = Writer {
            store: store.clone(),
            clock: clock.clone(),
            max_batch: config.max_batch.max(1),
            stats: stats.clone(),
            config: config.clone(),
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

    async fn submit(&self, request: WriteRequest) -> Result<WriteResult, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { request, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CommandError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => CommandError::ShuttingDown,
        })?;
        answer.await.map_err(|_| CommandError::ShuttingDown)?
    }

    /// Run a command that carries no idempotency key.
    pub async fn execute(&self, command: Command) -> Result<Outcome, CommandError> {
        match self.submit(WriteRequest { command, idempotency: None, audit: None }).await? {
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
            None => self.submit(WriteRequest { command, idempotency: None, audit: Some(audit) }).await,
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
        self.submit(WriteRequest { command, idempotency: Some(idem), audit }).await
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
