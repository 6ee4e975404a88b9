//! Payout batches in the writer: create the batch row, add validated rows in chunks, finish the
//! validation, approve (maker-checker), release (holds), cancel, and complete when every payout
//! of the batch is final. See `crate::batches` for the streaming side and the public interface.

use std::collections::HashMap;

use outlay_core::fx::{Fixed, FxError, Rate, buy_for_sell, sell_for_buy};
use outlay_core::ledger::{LedgerKey, Reference, rules};
use outlay_core::payout::PayoutState;
use outlay_core::{Amount, Currency};
use outlay_store::{
    ApprovalPolicyRow, BatchItemRow, BatchPayoutHold, BeneficiaryRow, PayoutBatchRow, QuoteRow, WriteTx,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use crate::events::{event, payout_data, rfc3339};
use crate::{BeneficiarySource, CommandError, NewPayout, Outcome};

/// Rows read from the store at a time while releasing.
const RELEASE_PAGE: u32 = 1_000;

pub mod status {
    pub const VALIDATING: &str = "VALIDATING";
    pub const VALIDATED: &str = "VALIDATED";
    pub const PENDING_APPROVAL: &str = "PENDING_APPROVAL";
    pub const RELEASING: &str = "RELEASING";
    pub const PROCESSING: &str = "PROCESSING";
    pub const COMPLETED: &str = "COMPLETED";
    pub const CANCELLED: &str = "CANCELLED";
    pub const FAILED: &str = "FAILED";
}

pub mod item_status {
    pub const VALID: &str = "VALID";
    pub const INVALID: &str = "INVALID";
    // CREATED is set by the store with the payout id (`mark_batch_items_created`).
    pub const FAILED: &str = "FAILED";
    pub const CANCELLED: &str = "CANCELLED";
}

pub const ALL_OR_NOTHING: &str = "ALL_OR_NOTHING";
pub const PARTIAL: &str = "PARTIAL";

/// The payload of `batch.*` events.
pub fn batch_data(b: &PayoutBatchRow) -> Value {
    json!({
        "account_id": b.account_id,
        "batch_id": b.id,
        "batch_status": b.status,
        "mode": b.mode,
        "file_name": b.file_name,
        "total_rows": b.total_rows,
        "valid_rows": b.valid_rows,
        "invalid_rows": b.invalid_rows,
        "failure_code": b.failure_code,
        "failure_reason": b.failure_reason,
        "approval_required": b.approval_required,
        "approved_by": b.approved_by,
        "quote_id": b.quote_id,
        "client_rate": b.client_rate,
        "create_time": rfc3339(b.created_at),
        "complete_time": b.completed_at.map(rfc3339),
    })
}

async fn emit(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, b: &PayoutBatchRow, event_type: &str) -> Result<(), CommandError> {
    tx.insert_event(&event(b.account_id, "BATCH", event_type, b.id, batch_data(b), ctx.now)).await?;
    Ok(())
}

async fn load(tx: &mut dyn WriteTx, account: outlay_core::AccountId, id: Uuid) -> Result<PayoutBatchRow, CommandError> {
    match tx.payout_batch(id).await? {
        Some(b) if b.account_id == account => Ok(b),
        _ => Err(CommandError::NotFound { what: "payout batch" }),
    }
}

fn done(b: PayoutBatchRow) -> Result<Outcome, CommandError> {
    Ok(Outcome::Batch(Box::new(b)))
}

pub async fn create(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, row: &PayoutBatchRow) -> Result<Outcome, CommandError> {
    // A hash known up front refuses a file sent again before it is read.
    if let Some(sha) = &row.content_sha256
        && let Some(existing) = tx.payout_batch_by_hash(row.account_id, sha).await?
    {
        return Err(duplicate_file(existing));
    }
    let mut row = row.clone();
    row.created_at = ctx.now;
    row.updated_at = ctx.now;
    // The batch's quote is used by the batch (once, now): its rate is locked for the batch's
    // cross-currency rows of its pair, however long the approval takes.
    if let Some(quote_id) = row.quote_id {
        let quote = super::fx::consume_quote_for(tx, row.account_id, quote_id, "payout", row.id, ctx.now).await?;
        row.client_rate = Some(quote.client_rate);
    }
    tx.insert_payout_batch(&row).await?;
    done(row)
}

fn duplicate_file(existing: Uuid) -> CommandError {
    CommandError::Rejected {
        field: "file",
        code: "duplicate_file",
        message: format!("file was already sent as batch {existing} (same content)"),
    }
}

pub async fn add_items(tx: &mut dyn WriteTx, batch: Uuid, items: &[BatchItemRow]) -> Result<Outcome, CommandError> {
    match tx.payout_batch(batch).await? {
        Some(b) if b.status == status::VALIDATING => {}
        Some(_) => return Err(CommandError::InvalidState("the batch is no longer being validated".into())),
        None => return Err(CommandError::NotFound { what: "payout batch" }),
    }
    tx.insert_batch_items(items).await?;
    Ok(Outcome::BatchItemsAdded(items.len()))
}

fn fail(b: &mut PayoutBatchRow, ctx: &Ctx<'_>, code: &str, reason: String) {
    b.status = status::FAILED.to_owned();
    b.failure_code = Some(code.to_owned());
    b.failure_reason = Some(reason);
    // A refused file may be corrected (or funded) and sent again.
    b.dedup_sha256 = None;
    b.updated_at = ctx.now;
}

pub async fn finish_validation(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: outlay_core::AccountId,
    v: &crate::BatchValidation,
) -> Result<Outcome, CommandError> {
    let mut b = load(tx, account, v.batch).await?;
    if b.status != status::VALIDATING {
        return Err(CommandError::InvalidState(format!("the batch is {}, not VALIDATING", b.status)));
    }
    b.content_sha256 = v.content_sha256.clone().or(b.content_sha256);
    b.total_rows = v.total_rows;
    b.valid_rows = v.valid_rows;
    b.invalid_rows = v.invalid_rows;
    b.valid_totals = v.valid_totals.clone();
    b.updated_at = ctx.now;
    if let Some(sha) = &v.content_sha256
        && b.dedup_sha256.is_none()
        && b.format != "JSON"
    {
        if let Some(existing) = tx.payout_batch_by_hash(account, sha).await? {
            fail(&mut b, ctx, "duplicate_file", format!("file was already sent as batch {existing} (same content)"));
            tx.update_payout_batch(&b).await?;
            emit(tx, ctx, &b, "batch.validated").await?;
            return done(b);
        }
        b.dedup_sha256 = Some(sha.clone());
    }
    if let Some((code, reason)) = &v.file_error {
        fail(&mut b, ctx, code, reason.clone());
    } else if v.valid_rows == 0 {
        fail(&mut b, ctx, "no_valid_rows", "no row of the batch is valid".to_owned());
    } else if b.mode == ALL_OR_NOTHING && v.invalid_rows > 0 {
        fail(
            &mut b,
            ctx,
            "invalid_rows",
            format!(
                "{} of {} rows are invalid and the batch is ALL_OR_NOTHING: nothing is released",
                v.invalid_rows, v.total_rows
            ),
        );
    } else {
        b.approval_required = b.approval_required || v.above_threshold;
        b.status = if b.approval_required { status::PENDING_APPROVAL } else { status::VALIDATED }.to_owned();
    }
    if b.status == status::FAILED {
        tx.set_batch_items_status(b.id, item_status::VALID, item_status::CANCELLED).await?;
    }
    tx.update_payout_batch(&b).await?;
    emit(tx, ctx, &b, "batch.validated").await?;
    done(b)
}

pub async fn approve(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: outlay_core::AccountId,
    batch: Uuid,
    approver: Uuid,
) -> Result<Outcome, CommandError> {
    let mut b = load(tx, account, batch).await?;
    let chunk = u32::try_from(crate::batches::CHUNK_ROWS).unwrap_or(u32::MAX);
    if b.status == status::RELEASING || b.status == status::VALIDATED {
        // Approved (or needing none) and interrupted: carry on releasing.
        return release(tx, ctx, b, chunk).await;
    }
    if b.status != status::PENDING_APPROVAL {
        return Err(CommandError::InvalidState(format!(
            "the batch is {}; only a PENDING_APPROVAL batch can be approved",
            b.status
        )));
    }
    if b.created_by == Some(approver) {
        return Err(CommandError::Rejected {
            field: "x-auth-token",
            code: "approver_is_creator",
            message: "the batch must be approved by a different credential than the one that created it".into(),
        });
    }
    b.approved_by = Some(approver);
    b.approved_at = Some(ctx.now);
    release(tx, ctx, b, chunk).await
}

/// Release a batch that needs no approval (right after its validation).
pub async fn release_validated(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: outlay_core::AccountId,
    batch: Uuid,
    limit: u32,
) -> Result<Outcome, CommandError> {
    let b = load(tx, account, batch).await?;
    if b.status != status::VALIDATED && b.status != status::RELEASING {
        return Err(CommandError::InvalidState(format!("the batch is {}; it cannot be released", b.status)));
    }
    release(tx, ctx, b, limit).await
}

fn item_payout(item: &BatchItemRow, account: outlay_core::AccountId) -> Result<NewPayout, CommandError> {
    let payload = item.payload.as_deref().unwrap_or("null");
    // A stored row passed validation: read it straight into the request (no JSON tree, no path
    // tracking); only a row that no longer parses takes the slow way, for its error.
    if let Ok(body) = serde_json::from_str::<crate::parse::payout::CreatePayout>(payload)
        && let Ok(p) = crate::parse::payout::parse_payout(body, account, false, None)
    {
        return Ok(p);
    }
    let value: Value = serde_json::from_str(payload).map_err(|e| CommandError::Internal(format!("stored row: {e}")))?;
    crate::batches::row_to_payout(value, account).map_err(|issues| {
        let first = issues.into_iter().next();
        CommandError::Internal(format!(
            "a stored row no longer parses: {}",
            first.map(|i| i.message).unwrap_or_default()
        ))
    })
}

fn item_failed(item: &mut BatchItemRow, e: &CommandError) {
    let (field, code, message) = match e {
        CommandError::Rejected { field, code, message } => ((*field).to_owned(), (*code).to_owned(), message.clone()),
        CommandError::InsufficientFunds { currency } => (
            "amount".to_owned(),
            "insufficient_balance".to_owned(),
            format!("the available {currency} balance does not cover this payout"),
        ),
        CommandError::NotFound { what } => ("row".to_owned(), "not_found".to_owned(), format!("{what} not found")),
        other => ("row".to_owned(), "refused".to_owned(), other.to_string()),
    };
    item.status = item_status::FAILED.to_owned();
    item.error_field = Some(field);
    item.error_code = Some(code);
    item.error_message = Some(message);
}

/// Whether an error of one row must stop the whole command (a database failure, not a rule).
fn fatal(e: &CommandError) -> bool {
    matches!(e, CommandError::Internal(_) | CommandError::RetryBatch | CommandError::RetryCommand)
}

async fn create_one(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &PayoutBatchRow,
    item: &BatchItemRow,
    locked: Option<&LockedRate>,
) -> Result<Uuid, CommandError> {
    let p = item_payout(item, b.account_id)?;
    match super::payouts::create_locked(tx, ctx, &p, locked).await? {
        Outcome::Payout(row) => Ok(row.id),
        _ => Err(CommandError::Internal("payout creation answered something else".into())),
    }
}

/// Hold the batch's rows. ALL_OR_NOTHING: every valid row in this one transaction, or none.
/// PARTIAL: up to `limit` rows (0: all), each on its own; a refused row is reported and the
/// others go on. Each row's payout and its item change commit together, so a release a crash
/// interrupted resumes with the rows still VALID.
///
/// Rows go through the bulk path ([`Bulk`]) when it is provably the single-payout path's
/// equivalent, and through the single-payout path (`create_locked`) otherwise.
async fn release(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    mut b: PayoutBatchRow,
    limit: u32,
) -> Result<Outcome, CommandError> {
    let first = b.status != status::RELEASING;
    if first {
        b.status = status::RELEASING.to_owned();
        b.released_at = Some(ctx.now);
    }
    let locked = match b.quote_id {
        Some(quote_id) => Some(load_locked(tx, &b, quote_id).await?),
        None => None,
    };
    let locked = locked.as_ref();
    if b.mode == ALL_OR_NOTHING {
        return release_all(tx, ctx, b, locked).await;
    }
    if first && hold_whole_batch(tx, ctx, &mut b).await? {
        // Every valid row's funds are held: the next commands create the payouts.
        b.updated_at = ctx.now;
        tx.update_payout_batch(&b).await?;
        return done(b);
    }
    let mut bulk = Bulk::new(&b, locked);
    let mut created: Vec<(i64, Uuid)> = Vec::new();
    let (mut after, mut processed) = (0i64, 0u32);
    loop {
        let page_size = if limit == 0 { RELEASE_PAGE } else { RELEASE_PAGE.min(limit - processed) };
        if page_size == 0 {
            break;
        }
        let items = tx.batch_items_with_status(b.id, item_status::VALID, after, page_size).await?;
        let Some(last) = items.last() else { break };
        after = last.row_number;
        processed += u32::try_from(items.len()).unwrap_or(u32::MAX);
        release_page(tx, ctx, &b, items, &mut created, locked, &mut bulk).await?;
    }
    bulk.flush(tx, ctx).await?;
    tx.mark_batch_items_created(b.id, &created).await?;
    let (bulk_rows, draw) = (bulk.held, bulk.draw.take());
    b.open_payouts += i64::try_from(created.len()).unwrap_or(i64::MAX) + bulk_rows;
    b.updated_at = ctx.now;
    b.held = draw;
    if tx.batch_items_with_status(b.id, item_status::VALID, 0, 1).await?.is_empty() {
        // Funds held for rows that were refused, or that held on their own, go back.
        return_held(tx, ctx, &mut b).await?;
        b.status = status::PROCESSING.to_owned();
        complete_if_done(tx, ctx, &mut b).await?;
    }
    tx.update_payout_batch(&b).await?;
    done(b)
}

/// PARTIAL: create the payouts of a page of rows, each row on its own. Rows the bulk path takes
/// are checked in Rust against the running balance and queued (a refused one is reported and
/// nothing of it is written); a run of rows that need the single-payout path goes through
/// [`release_run`] after the queue is written.
async fn release_page(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &PayoutBatchRow,
    mut items: Vec<BatchItemRow>,
    created: &mut Vec<(i64, Uuid)>,
    locked: Option<&LockedRate>,
    bulk: &mut Bulk<'_>,
) -> Result<(), CommandError> {
    let mut rows = Vec::with_capacity(items.len());
    for item in &items {
        let p = item_payout(item, b.account_id)?;
        let general = bulk.needs_general(tx, &p).await?;
        rows.push((p, general));
    }
    let mut k = 0;
    while k < items.len() {
        if rows[k].1 {
            let end = (k..items.len()).find(|&j| !rows[j].1).unwrap_or(items.len());
            bulk.flush(tx, ctx).await?;
            bulk.return_shares(tx, ctx, &rows[k..end]).await?;
            bulk.forget_balances();
            release_run(tx, ctx, b, &mut items[k..end], created, locked).await?;
            k = end;
            continue;
        }
        match bulk.hold(tx, ctx, items[k].row_number, &rows[k].0).await {
            Ok(hold) => {
                bulk.pending.push(hold);
                if bulk.pending.len() >= HOLD_RUN {
                    bulk.flush(tx, ctx).await?;
                }
            }
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => {
                item_failed(&mut items[k], &e);
                tx.update_batch_item(&items[k]).await?;
            }
        }
        k += 1;
    }
    Ok(())
}

/// PARTIAL, single-payout path: savepoints are paid per run of good rows, not per row (on
/// SQLite a savepoint journals every page it touches): a run is tried under one savepoint; when
/// row k is refused, the run is undone, the rows before k are done again (they passed in this
/// very state) and row k is reported.
async fn release_run(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &PayoutBatchRow,
    items: &mut [BatchItemRow],
    created: &mut Vec<(i64, Uuid)>,
    locked: Option<&LockedRate>,
) -> Result<(), CommandError> {
    let (mut start, mut end) = (0usize, items.len());
    while start < items.len() {
        tx.savepoint().await?;
        let mut run = Vec::with_capacity(end - start);
        let mut refused = None;
        for (k, item) in items.iter().enumerate().take(end).skip(start) {
            match create_one(tx, ctx, b, item, locked).await {
                Ok(payout) => run.push((item.row_number, payout)),
                Err(e) if fatal(&e) => {
                    tx.rollback_to_savepoint().await?;
                    return Err(e);
                }
                Err(e) => {
                    refused = Some((k, e));
                    break;
                }
            }
        }
        match refused {
            None => {
                tx.release_savepoint().await?;
                created.append(&mut run);
                (start, end) = (end, items.len());
            }
            Some((k, e)) => {
                tx.rollback_to_savepoint().await?;
                if k == start {
                    item_failed(&mut items[k], &e);
                    tx.update_batch_item(&items[k]).await?;
                    (start, end) = (k + 1, items.len());
                } else {
                    end = k;
                }
            }
        }
    }
    Ok(())
}

/// ALL_OR_NOTHING: every valid row is held in this transaction; the first row refused (a rule
/// that changed since validation, or a balance that does not cover the total) undoes them all
/// and fails the batch, naming that row. Nothing of it is held.
async fn release_all(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    mut b: PayoutBatchRow,
    locked: Option<&LockedRate>,
) -> Result<Outcome, CommandError> {
    tx.savepoint().await?;
    let mut bulk = Bulk::new(&b, locked);
    let mut created: Vec<(i64, Uuid)> = Vec::new();
    let mut after = 0i64;
    let outcome: Result<Option<(BatchItemRow, CommandError)>, CommandError> = async {
        loop {
            let items = tx.batch_items_with_status(b.id, item_status::VALID, after, RELEASE_PAGE).await?;
            let Some(last) = items.last() else { return Ok(None) };
            after = last.row_number;
            for item in items {
                let p = item_payout(&item, b.account_id)?;
                let result = if bulk.needs_general(tx, &p).await? {
                    bulk.flush(tx, ctx).await?;
                    bulk.forget_balances();
                    create_one(tx, ctx, &b, &item, locked).await.map(|payout| created.push((item.row_number, payout)))
                } else {
                    match bulk.hold(tx, ctx, item.row_number, &p).await {
                        Ok(hold) => {
                            bulk.pending.push(hold);
                            if bulk.pending.len() >= HOLD_RUN {
                                bulk.flush(tx, ctx).await?;
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                };
                match result {
                    Ok(()) => {}
                    Err(e) if fatal(&e) => return Err(e),
                    Err(e) => return Ok(Some((item, e))),
                }
            }
        }
    }
    .await;
    let refused = match outcome {
        Ok(refused) => refused,
        Err(e) => {
            tx.rollback_to_savepoint().await?;
            return Err(e);
        }
    };
    if let Some((mut item, e)) = refused {
        // The queued rows are dropped, the written ones undone.
        bulk.pending.clear();
        tx.rollback_to_savepoint().await?;
        let (code, reason) = match &e {
            CommandError::InsufficientFunds { currency } => (
                "insufficient_balance",
                format!(
                    "the available {currency} balance does not cover the batch total (short at row {}): nothing was held",
                    item.row_number
                ),
            ),
            other => {
                ("rows_refused", format!("row {} was refused at release ({other}): nothing was held", item.row_number))
            }
        };
        item_failed(&mut item, &e);
        tx.update_batch_item(&item).await?;
        tx.set_batch_items_status(b.id, item_status::VALID, item_status::CANCELLED).await?;
        fail(&mut b, ctx, code, reason);
        tx.update_payout_batch(&b).await?;
        return done(b);
    }
    if let Err(e) = bulk.flush(tx, ctx).await {
        tx.rollback_to_savepoint().await?;
        return Err(e);
    }
    tx.mark_batch_items_created(b.id, &created).await?;
    tx.release_savepoint().await?;
    b.open_payouts += i64::try_from(created.len()).unwrap_or(i64::MAX) + bulk.held;
    b.status = status::PROCESSING.to_owned();
    b.updated_at = ctx.now;
    complete_if_done(tx, ctx, &mut b).await?;
    tx.update_payout_batch(&b).await?;
    done(b)
}

/// Rows held per `hold_batch_payouts` call (bounded memory; one call per run of rows).
const HOLD_RUN: usize = 1_000;

/// Stored beneficiaries cached while releasing (a batch may name a million different ones).
const BULK_BENEFICIARY_CACHE: usize = 10_000;

/// Whether the bulk path may be used (`OUTLAY_BATCH_NO_BULK` set: every row goes through the
/// single-payout path, for comparison in benchmarks and tests).
fn bulk_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("OUTLAY_BATCH_NO_BULK").is_none())
}

/// The bulk release path. A row takes it when the single-payout path would, for that row, only
/// read (its stored beneficiary, the compliance context) and then write its hold entry, its
/// payout with its history row and its `payout.ready.send` event: a stored beneficiary, no
/// quote of its own, no documents, no approval threshold (batch rows never have one), the
/// account without compliance rules, no screening list loaded, and the beneficiary without an
/// open review. Such a row gets exactly the single-payout checks (same order, same refusals),
/// with the balance checked against a running balance kept here; what it writes is queued and
/// written by `WriteTx::hold_batch_payouts` in runs. Every other row goes through
/// `create_locked`, after the queue is written.
struct Bulk<'a> {
    b: &'a PayoutBatchRow,
    locked: Option<&'a LockedRate>,
    enabled: bool,
    beneficiaries: HashMap<Uuid, Option<std::sync::Arc<BeneficiaryRow>>>,
    /// Per beneficiary: whether its rows need the single-payout path for compliance, or its
    /// newest review status (`rejected` refuses the row).
    compliance: HashMap<Uuid, Compliance>,
    /// Client balances as the queued rows leave them.
    balances: HashMap<LedgerKey, i64>,
    pending: Vec<BatchPayoutHold>,
    /// Rows written by the bulk path (their items are marked by `hold_batch_payouts`).
    held: i64,
    /// A batch held as a whole: what it still holds per currency, drawn by each row it pays.
    draw: Option<outlay_store::BatchTotals>,
}

#[derive(Clone)]
enum Compliance {
    /// Rules, a screening list or an open review: the single-payout path decides.
    General,
    Review(Option<String>),
}

impl<'a> Bulk<'a> {
    fn new(b: &'a PayoutBatchRow, locked: Option<&'a LockedRate>) -> Self {
        Bulk {
            b,
            locked,
            enabled: bulk_enabled(),
            beneficiaries: HashMap::new(),
            compliance: HashMap::new(),
            balances: HashMap::new(),
            pending: Vec::new(),
            held: 0,
            draw: b.held.clone(),
        }
    }

    async fn beneficiary(
        &mut self,
        tx: &mut dyn WriteTx,
        id: Uuid,
    ) -> Result<Option<std::sync::Arc<BeneficiaryRow>>, CommandError> {
        if let Some(b) = self.beneficiaries.get(&id) {
            return Ok(b.clone());
        }
        if self.beneficiaries.len() >= BULK_BENEFICIARY_CACHE {
            self.beneficiaries.clear();
            self.compliance.clear();
        }
        let found = tx.beneficiary(id).await?.filter(|b| b.account_id == self.b.account_id).map(std::sync::Arc::new);
        self.beneficiaries.insert(id, found.clone());
        Ok(found)
    }

    async fn compliance(&mut self, tx: &mut dyn WriteTx, beneficiary: Uuid) -> Result<Compliance, CommandError> {
        if let Some(c) = self.compliance.get(&beneficiary) {
            return Ok(c.clone());
        }
        let context = tx.compliance_context(self.b.account_id, beneficiary).await?;
        let c = if context.rules.is_some()
            || context.list_version.is_some()
            || context.beneficiary_review.as_deref() == Some("open")
        {
            Compliance::General
        } else {
            Compliance::Review(context.beneficiary_review)
        };
        self.compliance.insert(beneficiary, c.clone());
        Ok(c)
    }

    /// Whether the row must go through the single-payout path (decided before anything of it
    /// is written; the single-payout path then checks it all again).
    async fn needs_general(&mut self, tx: &mut dyn WriteTx, p: &NewPayout) -> Result<bool, CommandError> {
        if !self.enabled || p.created_by.is_some() || p.quote_id.is_some() || !p.documentation.is_empty() {
            return Ok(true);
        }
        let BeneficiarySource::Stored(id) = &p.beneficiary else { return Ok(true) };
        match self.beneficiary(tx, *id).await? {
            // Refused as `create_locked` refuses it.
            None => Ok(false),
            Some(_) => Ok(matches!(self.compliance(tx, *id).await?, Compliance::General)),
        }
    }

    /// `create_locked` for a row `needs_general` let through, up to the writes, which are
    /// returned (and the running balance moved) instead of written.
    async fn hold(
        &mut self,
        tx: &mut dyn WriteTx,
        ctx: &Ctx<'_>,
        row_number: i64,
        p: &NewPayout,
    ) -> Result<BatchPayoutHold, CommandError> {
        let id = Uuid::now_v7();
        let BeneficiarySource::Stored(beneficiary_id) = &p.beneficiary else {
            return Err(CommandError::Internal("the bulk path was given an inline beneficiary".into()));
        };
        let beneficiary = self.beneficiary(tx, *beneficiary_id).await?.ok_or_else(|| CommandError::Rejected {
            field: "beneficiary_id",
            code: "beneficiary_not_found",
            message: "no active beneficiary with this id".into(),
        })?;
        let (payout_currency, payout_amount, client_rate) = match self.locked {
            Some(l) => l.resolve(p)?,
            None => super::payouts::without_quote(p)?,
        };
        super::payouts::check_against_beneficiary(p, &beneficiary, payout_currency)?;
        let future = super::payouts::check_payout_date(p, &beneficiary, ctx)?;
        let (fee_paid_by, fee, total) = super::payouts::fee_and_total(ctx, p, &beneficiary)?;
        match self.compliance(tx, beneficiary.id).await? {
            Compliance::Review(Some(review)) if review == "rejected" => {
                return Err(CommandError::Rejected {
                    field: "beneficiary_id",
                    code: "beneficiary_rejected",
                    message: "compliance rejected this beneficiary; it cannot be paid".into(),
                });
            }
            Compliance::Review(_) => {}
            Compliance::General => {
                return Err(CommandError::Internal("the bulk path was given a row compliance must check".into()));
            }
        }
        // A batch held as a whole pays the row from its hold: no entry of its own. A row it
        // cannot cover (a fee changed since validation) holds its own, as any other.
        let drawn = match self.draw.as_mut().and_then(|d| d.get_mut(p.currency.code())) {
            Some(left) if *left >= total.minor() => {
                *left -= total.minor();
                true
            }
            _ => false,
        };
        let entry = if drawn {
            None
        } else {
            let entry = rules::hold(p.account, p.currency, total, Reference { kind: "payout", id });
            // The guarded balance update of `post_entry`, against the running balance.
            let mut moved = Vec::new();
            for (key, delta) in entry.net_changes() {
                if key.must_stay_non_negative() && delta != 0 {
                    let balance = match self.balances.get(&key) {
                        Some(balance) => *balance,
                        None => tx.ledger_balance(&key).await?,
                    };
                    match balance.checked_add(delta) {
                        Some(after) if after >= 0 => moved.push((key, after)),
                        _ => return Err(CommandError::InsufficientFunds { currency: p.currency.code().to_owned() }),
                    }
                }
            }
            self.balances.extend(moved);
            Some(entry)
        };
        let state = if future { PayoutState::Scheduled } else { PayoutState::ReadyToSend };
        let quote_id = self.locked.filter(|_| client_rate.is_some()).map(|l| l.quote_id);
        let resolved =
            super::payouts::Resolved { payout_currency, payout_amount, client_rate, quote_id, fee_paid_by, fee };
        let row = super::payouts::new_row(ctx, p, id, &beneficiary, resolved, Value::Array(Vec::new()), state);
        let event = event(p.account, "PAYOUT", "payout.ready.send", id, payout_data(&row), ctx.now);
        Ok(BatchPayoutHold { row_number, entry, entry_id: Uuid::now_v7(), payout: row, event: Some(event) })
    }

    /// Write the queued rows (their payouts, and their items marked CREATED).
    async fn flush(&mut self, tx: &mut dyn WriteTx, ctx: &Ctx<'_>) -> Result<(), CommandError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        tx.hold_batch_payouts(self.b.id, &self.pending, ctx.now).await.map_err(|e| match e {
            // The running balance said it was covered: something else moved the balance.
            outlay_store::PostError::Insufficient { key } => {
                CommandError::Internal(format!("the balance {key} changed under a batch release"))
            }
            outlay_store::PostError::Invalid(e) => CommandError::Internal(format!("invalid ledger entry: {e}")),
            outlay_store::PostError::Store(e) => e.into(),
        })?;
        self.held += i64::try_from(self.pending.len()).unwrap_or(i64::MAX);
        self.pending.clear();
        Ok(())
    }

    /// The single-payout path is about to move balances: read them again afterwards.
    fn forget_balances(&mut self) {
        self.balances.clear();
    }

    /// A batch held as a whole, before a run of rows goes through the single-payout path
    /// (which holds each row on its own): the run's shares of the batch's hold go back to
    /// available first, so the same funds are not held twice. A row whose total cannot be
    /// worked out here (its beneficiary is gone) keeps its share until the batch ends.
    async fn return_shares(
        &mut self,
        tx: &mut dyn WriteTx,
        ctx: &Ctx<'_>,
        rows: &[(NewPayout, bool)],
    ) -> Result<(), CommandError> {
        if self.draw.is_none() {
            return Ok(());
        }
        let mut shares = outlay_store::BatchTotals::new();
        for (p, _) in rows {
            let method = match &p.beneficiary {
                BeneficiarySource::Stored(id) => match self.beneficiary(tx, *id).await? {
                    Some(b) => b.payment_method.clone(),
                    None => continue,
                },
                BeneficiarySource::Inline(nb) => nb.payment_method.clone(),
            };
            let Ok((_, _, total)) = super::payouts::fee_for_method(ctx, p, &method) else { continue };
            let share = shares.entry(p.currency.code().to_owned()).or_insert(0);
            *share = share.saturating_add(total.minor());
        }
        let Some(draw) = self.draw.as_mut() else { return Ok(()) };
        for (currency, share) in &mut shares {
            let left = draw.get(currency).copied().unwrap_or(0);
            *share = (*share).min(left);
        }
        void_from_batch_hold(tx, ctx, self.b, draw, &shares).await
    }
}

/// PARTIAL: hold every valid row's funds (amount plus fee as validated, per currency) with one
/// entry when the available balance covers them all; the rows' payouts then draw on it as they
/// are created, with no entry of their own. False (nothing written) when it does not, or when
/// the totals are unknown: each row then holds its own, as it is created.
async fn hold_whole_batch(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, b: &mut PayoutBatchRow) -> Result<bool, CommandError> {
    if !bulk_enabled() || b.held.is_some() || b.valid_totals.is_empty() {
        return Ok(false);
    }
    let Some(legs) = totals_legs(&b.valid_totals) else { return Ok(false) };
    let entry = rules::hold_batch(b.account_id, &legs, Reference { kind: BATCH_REFERENCE, id: b.id });
    match tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await {
        Ok(()) => {}
        Err(outlay_store::PostError::Insufficient { .. }) => return Ok(false),
        Err(outlay_store::PostError::Invalid(e)) => {
            return Err(CommandError::Internal(format!("invalid batch hold entry: {e}")));
        }
        Err(outlay_store::PostError::Store(e)) => return Err(e.into()),
    }
    b.held = Some(b.valid_totals.clone());
    b.held_at = Some(ctx.now);
    Ok(true)
}

/// The reference of the entries that hold (and give back) a whole batch's funds.
pub const BATCH_REFERENCE: &str = "payout_batch";

/// Totals as ledger legs; `None` when one is not a holdable amount (the batch then holds row
/// by row, which names the row).
fn totals_legs(totals: &outlay_store::BatchTotals) -> Option<Vec<(outlay_core::Currency, outlay_core::Amount)>> {
    totals
        .iter()
        .filter(|(_, total)| **total != 0)
        .map(|(code, total)| {
            let currency = outlay_core::Currency::parse(code).ok()?;
            let amount = outlay_core::Amount::from_minor(*total).ok()?;
            Some((currency, amount))
        })
        .collect()
}

/// Give `amounts` of a batch's hold back to available (one entry) and take them off `draw`.
async fn void_from_batch_hold(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    b: &PayoutBatchRow,
    draw: &mut outlay_store::BatchTotals,
    amounts: &outlay_store::BatchTotals,
) -> Result<(), CommandError> {
    let legs = totals_legs(amounts)
        .ok_or_else(|| CommandError::Internal(format!("batch {} holds an amount that is not one", b.id)))?;
    if legs.is_empty() {
        return Ok(());
    }
    let entry = rules::void_batch_hold(b.account_id, &legs, Reference { kind: BATCH_REFERENCE, id: b.id });
    tx.post_entry(&entry, Uuid::now_v7(), ctx.now).await.map_err(|e| match e {
        outlay_store::PostError::Insufficient { key } => {
            CommandError::Internal(format!("the pending balance {key} does not cover batch {}'s hold", b.id))
        }
        outlay_store::PostError::Invalid(e) => CommandError::Internal(format!("invalid ledger entry: {e}")),
        outlay_store::PostError::Store(e) => e.into(),
    })?;
    for (currency, amount) in amounts {
        if let Some(left) = draw.get_mut(currency) {
            *left -= *amount;
        }
    }
    draw.retain(|_, left| *left != 0);
    Ok(())
}

/// The batch's last row is done: what its hold still holds (rows refused, or that held on
/// their own) goes back to available.
async fn return_held(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, b: &mut PayoutBatchRow) -> Result<(), CommandError> {
    let Some(mut draw) = b.held.take() else { return Ok(()) };
    let rest = draw.clone();
    void_from_batch_hold(tx, ctx, b, &mut draw, &rest).await?;
    b.held = Some(draw);
    Ok(())
}

async fn complete_if_done(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, b: &mut PayoutBatchRow) -> Result<(), CommandError> {
    if b.status == status::PROCESSING && b.open_payouts <= 0 {
        b.status = status::COMPLETED.to_owned();
        b.completed_at = Some(ctx.now);
        b.updated_at = ctx.now;
        emit(tx, ctx, b, "batch.completed").await?;
    }
    Ok(())
}

/// A payout left the states that hold funds: if it belongs to a batch, the batch may be done.
pub async fn payout_finished(tx: &mut dyn WriteTx, ctx: &Ctx<'_>, payout: Uuid) -> Result<(), CommandError> {
    let Some(batch) = tx.payout_batch_id(payout).await? else { return Ok(()) };
    let Some(mut b) = tx.payout_batch(batch).await? else { return Ok(()) };
    b.open_payouts -= 1;
    b.updated_at = ctx.now;
    complete_if_done(tx, ctx, &mut b).await?;
    tx.update_payout_batch(&b).await?;
    Ok(())
}

/// Whether a transition ends a payout's hold (it is final for its batch).
pub fn ends_hold(from: PayoutState, to: PayoutState) -> bool {
    from.holds_funds() && !to.holds_funds()
}

pub async fn cancel(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    account: outlay_core::AccountId,
    batch: Uuid,
    by: Option<Uuid>,
) -> Result<Outcome, CommandError> {
    let mut b = load(tx, account, batch).await?;
    if b.status != status::PENDING_APPROVAL && b.status != status::VALIDATED {
        return Err(CommandError::InvalidState(format!(
            "the batch is {}; only a batch not yet released can be cancelled (cancel its payouts instead)",
            b.status
        )));
    }
    tx.set_batch_items_status(b.id, item_status::VALID, item_status::CANCELLED).await?;
    b.status = status::CANCELLED.to_owned();
    b.cancelled_by = by;
    b.cancelled_at = Some(ctx.now);
    b.dedup_sha256 = None;
    b.updated_at = ctx.now;
    tx.update_payout_batch(&b).await?;
    done(b)
}

pub async fn set_policy(
    tx: &mut dyn WriteTx,
    ctx: &Ctx<'_>,
    policy: &ApprovalPolicyRow,
) -> Result<Outcome, CommandError> {
    let mut row = policy.clone();
    row.updated_at = ctx.now;
    tx.upsert_approval_policy(&row).await?;
    Ok(Outcome::ApprovalPolicy(Box::new(row)))
}

/// The rules of a single payout that need its beneficiary (currency, SWIFT fee payer, reference
/// format, documents, business day), checked while a batch is validated so an approver sees
/// the rows that would be refused. Release checks them again in the transaction that holds.
pub(crate) fn precheck(
    p: &NewPayout,
    b: &outlay_store::BeneficiaryRow,
    now: time::OffsetDateTime,
    config: &crate::EngineConfig,
    batch_quote: bool,
) -> Result<(), CommandError> {
    let payout_currency = p.payout_currency.unwrap_or(p.currency);
    // With a batch quote, a cross-currency row was already matched against its pair.
    if p.quote_id.is_none() && !batch_quote && payout_currency != p.currency {
        return Err(CommandError::Rejected {
            field: "quote_id",
            code: "quote_required",
            message: "a cross-currency payout needs a quote_id from POST /api/v1/conversion/quote with transaction_type payout"
                .into(),
        });
    }
    super::payouts::check_against_beneficiary(p, b, payout_currency)?;
    super::payouts::check_payout_date(p, b, &Ctx { now, config })?;
    Ok(())
}

// --- batch quote ---

/// One FX quote locked for a whole batch: its rate converts every cross-currency row of its
/// pair (`currency` = the quote's sell currency, `payout_currency` = its buy currency), rounded
/// against the client exactly as a single payout's quote is (`outlay_core::fx`).
#[derive(Clone, Debug)]
pub struct LockedRate {
    pub quote_id: Uuid,
    pub sell: Currency,
    pub buy: Currency,
    pub rate: Rate,
    /// The rate as the quote states it (kept on each payout as `client_rate`).
    pub client_rate: String,
    /// The side the quote fixed and its amount: the batch's matching rows may use up to it.
    pub fixed: Fixed,
}

fn rejected(field: &'static str, code: &'static str, message: impl Into<String>) -> CommandError {
    CommandError::Rejected { field, code, message: message.into() }
}

impl LockedRate {
    pub fn from_quote(q: &QuoteRow) -> Result<Self, CommandError> {
        let internal =
            |what: &str, e: &dyn std::fmt::Display| CommandError::Internal(format!("stored quote {what}: {e}"));
        let currency = |c: &str| Currency::parse(c).map_err(|e| internal("currency", &e));
        let amount = |m: i64| Amount::from_minor(m).map_err(|e| internal("amount", &e));
        let fixed =
            if q.fixed_side == "buy" { Fixed::Buy(amount(q.buy_amount)?) } else { Fixed::Sell(amount(q.sell_amount)?) };
        Ok(LockedRate {
            quote_id: q.id,
            sell: currency(&q.sell_currency)?,
            buy: currency(&q.buy_currency)?,
            rate: Rate::parse(&q.client_rate).map_err(|e| internal("rate", &e))?,
            client_rate: q.client_rate.clone(),
            fixed,
        })
    }

    /// A row converting `currency → payout_currency` must be of the quote's pair.
    pub fn check_pair(&self, currency: Currency, payout_currency: Currency) -> Result<(), CommandError> {
        if currency == self.sell && payout_currency == self.buy {
            return Ok(());
        }
        Err(rejected(
            "payout_currency",
            "quote_pair_mismatch",
            format!(
                "payout_currency {payout_currency} with currency {currency} does not match the batch quote {} ({} to {}): \
                 a batch with quote_id converts only that pair",
                self.quote_id, self.sell, self.buy
            ),
        ))
    }

    /// Both amounts of a row of the quote's pair at the locked rate: from `amount` (the buy
    /// amount rounded down) or from `payout_amount` (the sell amount rounded up). When the row
    /// gives both, the side the quote fixed decides and the other must equal its conversion.
    pub fn amounts(
        &self,
        amount: Option<Amount>,
        payout_amount: Option<Amount>,
    ) -> Result<(Amount, Amount), CommandError> {
        let (sell, buy, rate) = (self.sell, self.buy, self.rate);
        let fx = |field: &'static str, e: FxError| match e {
            FxError::TooSmall => rejected(
                field,
                "amount_too_small",
                format!(
                    "{field} is too small: at the batch quote's rate {rate} it converts to less than one minor unit"
                ),
            ),
            FxError::TooLarge | FxError::Rate(_) => rejected(
                field,
                "amount_too_large",
                format!("{field} is too large to convert at the batch quote's rate {rate}"),
            ),
        };
        let buy_of = |a: Amount| buy_for_sell(a, sell, buy, rate).map_err(|e| fx("amount", e));
        let sell_of = |pa: Amount| sell_for_buy(pa, sell, buy, rate).map_err(|e| fx("payout_amount", e));
        match (amount, payout_amount) {
            (None, None) => Err(rejected("amount", "missing_required_field", "amount or payout_amount is required")),
            (Some(a), None) => Ok((a, buy_of(a)?)),
            (None, Some(pa)) => Ok((sell_of(pa)?, pa)),
            (Some(a), Some(pa)) => match self.fixed {
                Fixed::Buy(_) => {
                    let want = sell_of(pa)?;
                    if want == a {
                        Ok((a, pa))
                    } else {
                        Err(rejected(
                            "amount",
                            "quote_mismatch",
                            format!(
                                "amount must be {} {sell}: at the batch quote's rate {rate}, payout_amount {} {buy} \
                                 costs {} {sell} (rounded up; omit amount to have it computed)",
                                want.to_decimal_string(sell),
                                pa.to_decimal_string(buy),
                                want.to_decimal_string(sell)
                            ),
                        ))
                    }
                }
                Fixed::Sell(_) => {
                    let want = buy_of(a)?;
                    if want == pa {
                        Ok((a, pa))
                    } else {
                        Err(rejected(
                            "payout_amount",
                            "quote_mismatch",
                            format!(
                                "payout_amount must be {} {buy}: at the batch quote's rate {rate}, amount {} {sell} \
                                 converts to {} {buy} (rounded down; omit payout_amount to have it computed)",
                                want.to_decimal_string(buy),
                                a.to_decimal_string(sell),
                                want.to_decimal_string(buy)
                            ),
                        ))
                    }
                }
            },
        }
    }

    /// What a payout of the batch pays: the currency and amount the beneficiary receives, and
    /// the locked rate for a cross-currency row (a same-currency row pays its amount).
    pub(crate) fn resolve(&self, p: &NewPayout) -> Result<(Currency, Amount, Option<String>), CommandError> {
        let payout_currency = p.payout_currency.unwrap_or(p.currency);
        if payout_currency == p.currency {
            if p.payout_amount.is_some_and(|a| a != p.amount) {
                return Err(rejected(
                    "payout_amount",
                    "amount_mismatch",
                    "without a conversion, payout_amount must equal amount",
                ));
            }
            return Ok((p.currency, p.amount, None));
        }
        self.check_pair(p.currency, payout_currency)?;
        let (amount, payout_amount) = self.amounts(Some(p.amount), p.payout_amount)?;
        if amount != p.amount {
            return Err(CommandError::Internal("a locked conversion changed the row's amount".into()));
        }
        Ok((payout_currency, payout_amount, Some(self.client_rate.clone())))
    }
}

/// The batch's locked rate, read in the transaction that releases it (the quote has long been
/// used by the batch; its validity does not matter any more).
async fn load_locked(tx: &mut dyn WriteTx, b: &PayoutBatchRow, quote_id: Uuid) -> Result<LockedRate, CommandError> {
    match tx.quote(quote_id).await? {
        Some(q) if q.account_id == b.account_id && q.used_by == Some(b.id) => LockedRate::from_quote(&q),
        _ => Err(CommandError::Internal(format!("the batch's quote {quote_id} is missing or not used by the batch"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// USD→SGD at 1.338872, the buy side fixed at 1000.00 SGD (or the sell side at 100.00 USD).
    fn locked(fixed_buy: bool) -> LockedRate {
        let usd = Currency::parse("USD").expect("USD");
        let sgd = Currency::parse("SGD").expect("SGD");
        LockedRate {
            quote_id: Uuid::nil(),
            sell: usd,
            buy: sgd,
            rate: Rate::parse("1.338872").expect("rate"),
            client_rate: "1.338872".into(),
            fixed: if fixed_buy {
                Fixed::Buy(Amount::from_minor(100_000).expect("amount"))
            } else {
                Fixed::Sell(Amount::from_minor(10_000).expect("amount"))
            },
        }
    }

    fn minor(m: i64) -> Amount {
        Amount::from_minor(m).expect("amount")
    }

    fn code(e: CommandError) -> (&'static str, &'static str) {
        match e {
            CommandError::Rejected { field, code, .. } => (field, code),
            other => panic!("not a rule refusal: {other}"),
        }
    }

    #[test]
    fn a_locked_rate_rounds_against_the_client_from_either_side() {
        let l = locked(true);
        // 400.00 SGD ÷ 1.338872 = 298.7593... → 298.76 USD (up); 100.00 USD × 1.338872 = 133.8872 → 133.88 (down).
        assert_eq!(l.amounts(None, Some(minor(40_000))).ok(), Some((minor(29_876), minor(40_000))));
        assert_eq!(l.amounts(Some(minor(10_000)), None).ok(), Some((minor(10_000), minor(13_388))));
        // Both given: the quote's fixed side decides which one must match.
        assert!(l.amounts(Some(minor(29_876)), Some(minor(40_000))).is_ok());
        assert_eq!(
            l.amounts(Some(minor(29_875)), Some(minor(40_000))).err().map(code),
            Some(("amount", "quote_mismatch"))
        );
        let s = locked(false);
        assert!(s.amounts(Some(minor(10_000)), Some(minor(13_388))).is_ok());
        assert_eq!(
            s.amounts(Some(minor(10_000)), Some(minor(13_389))).err().map(code),
            Some(("payout_amount", "quote_mismatch"))
        );
        // 0.01 SGD costs 0.0074... → 0.01 USD; 0.01 USD buys 0.0133... → 0.01 SGD.
        assert_eq!(l.amounts(None, Some(minor(1))).ok(), Some((minor(1), minor(1))));
        assert_eq!(l.amounts(Some(minor(1)), None).ok(), Some((minor(1), minor(1))));
        assert_eq!(l.amounts(None, None).err().map(code), Some(("amount", "missing_required_field")));
    }

    #[test]
    fn only_the_quotes_pair_is_converted() {
        let l = locked(true);
        let eur = Currency::parse("EUR").expect("EUR");
        assert!(l.check_pair(l.sell, l.buy).is_ok());
        assert_eq!(l.check_pair(l.sell, eur).err().map(code), Some(("payout_currency", "quote_pair_mismatch")));
        assert_eq!(l.check_pair(l.buy, l.sell).err().map(code), Some(("payout_currency", "quote_pair_mismatch")));
    }
}
