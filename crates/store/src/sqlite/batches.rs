//! SQLite: payout batches, their rows, and the approval policy.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{account_id, from_ms, get, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{
    ApprovalPolicyRow, BatchItemRow, BatchStatusTotal, Page, PageRequest, PayoutBatchRow, StoreError, StoreResult,
};
use outlay_core::AccountId;

const BATCH_COLS: &str = "id, account_id, created_by, file_name, format, mode, content_sha256, dedup_sha256, status, \
    approval_required, total_rows, valid_rows, invalid_rows, open_payouts, failure_code, failure_reason, approved_by, \
    approved_at, cancelled_by, cancelled_at, released_at, completed_at, created_at, updated_at, quote_id, client_rate, \
    valid_totals, held, held_at";

fn opt_uuid(v: &Option<String>) -> StoreResult<Option<Uuid>> {
    v.as_deref().map(uuid).transpose()
}

fn batch_row(r: &Row<'_>) -> StoreResult<PayoutBatchRow> {
    Ok(PayoutBatchRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        created_by: opt_uuid(&get(r, 2)?)?,
        file_name: get(r, 3)?,
        format: get(r, 4)?,
        mode: get(r, 5)?,
        content_sha256: get(r, 6)?,
        dedup_sha256: get(r, 7)?,
        status: get(r, 8)?,
        approval_required: get::<i64>(r, 9)? != 0,
        total_rows: get(r, 10)?,
        valid_rows: get(r, 11)?,
        invalid_rows: get(r, 12)?,
        open_payouts: get(r, 13)?,
        failure_code: get(r, 14)?,
        failure_reason: get(r, 15)?,
        approved_by: opt_uuid(&get(r, 16)?)?,
        approved_at: opt_from_ms(get(r, 17)?)?,
        cancelled_by: opt_uuid(&get(r, 18)?)?,
        cancelled_at: opt_from_ms(get(r, 19)?)?,
        released_at: opt_from_ms(get(r, 20)?)?,
        completed_at: opt_from_ms(get(r, 21)?)?,
        created_at: from_ms(get(r, 22)?)?,
        updated_at: from_ms(get(r, 23)?)?,
        quote_id: opt_uuid(&get(r, 24)?)?,
        client_rate: get(r, 25)?,
        valid_totals: crate::batch_totals_parse(get::<Option<String>>(r, 26)?.as_deref())?.unwrap_or_default(),
        held: crate::batch_totals_parse(get::<Option<String>>(r, 27)?.as_deref())?,
        held_at: opt_from_ms(get(r, 28)?)?,
    })
}

/// The batch's funding columns as stored: valid totals (NULL when empty), held, held at.
fn funding(b: &PayoutBatchRow) -> (Option<String>, Option<String>, Option<i64>) {
    let valid = Some(&b.valid_totals).filter(|t| !t.is_empty());
    (crate::batch_totals_text(valid), crate::batch_totals_text(b.held.as_ref()), b.held_at.map(ms))
}

const ITEM_COLS: &str = "batch_id, row_number, status, currency, amount, payout_reference, payload, payout_id, \
    error_field, error_code, error_message";

fn item_row(r: &Row<'_>) -> StoreResult<BatchItemRow> {
    Ok(BatchItemRow {
        batch_id: uuid(&get::<String>(r, 0)?)?,
        row_number: get(r, 1)?,
        status: get(r, 2)?,
        currency: get(r, 3)?,
        amount: get(r, 4)?,
        payout_reference: get(r, 5)?,
        payload: get(r, 6)?,
        payout_id: opt_uuid(&get(r, 7)?)?,
        error_field: get(r, 8)?,
        error_code: get(r, 9)?,
        error_message: get(r, 10)?,
    })
}

pub fn batch(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<PayoutBatchRow>> {
    query_one(
        conn,
        &format!("SELECT {BATCH_COLS} FROM payout_batches WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"),
        params![id.to_string(), account.map(|a| a.to_string())],
        batch_row,
    )
}

pub fn batches(conn: &Connection, account: AccountId, page: PageRequest) -> StoreResult<Page<PayoutBatchRow>> {
    let a = account.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM payout_batches WHERE account_id = ?1")?
        .query_row([&a], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {BATCH_COLS} FROM payout_batches WHERE account_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ),
        params![a, page.size, page.offset()],
        batch_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn items(
    conn: &Connection,
    batch: Uuid,
    status: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<BatchItemRow>> {
    let b = batch.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM payout_batch_items WHERE batch_id = ?1 AND (?2 IS NULL OR status = ?2)")?
        .query_row(params![b, status], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {ITEM_COLS} FROM payout_batch_items WHERE batch_id = ?1 AND (?2 IS NULL OR status = ?2) \
             ORDER BY row_number LIMIT ?3 OFFSET ?4"
        ),
        params![b, status, page.size, page.offset()],
        item_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn totals(conn: &Connection, batch: Uuid) -> StoreResult<Vec<BatchStatusTotal>> {
    query_all(
        conn,
        "SELECT COALESCE(p.state, i.status), i.currency, COUNT(*), COALESCE(SUM(i.amount), 0) \
         FROM payout_batch_items i LEFT JOIN payouts p ON p.id = i.payout_id \
         WHERE i.batch_id = ?1 GROUP BY 1, 2 ORDER BY 1, 2",
        params![batch.to_string()],
        |r| Ok(BatchStatusTotal { status: get(r, 0)?, currency: get(r, 1)?, count: get(r, 2)?, amount: get(r, 3)? }),
    )
}

fn policy_row(r: &Row<'_>) -> StoreResult<ApprovalPolicyRow> {
    let thresholds: String = get(r, 2)?;
    Ok(ApprovalPolicyRow {
        account_id: account_id(&get::<String>(r, 0)?)?,
        approval_required_for_batches: get::<i64>(r, 1)? != 0,
        payout_approval_thresholds: serde_json::from_str(&thresholds).map_err(StoreError::corrupt)?,
        updated_by: opt_uuid(&get(r, 3)?)?,
        updated_at: from_ms(get(r, 4)?)?,
    })
}

pub fn policy(conn: &Connection, account: AccountId) -> StoreResult<Option<ApprovalPolicyRow>> {
    query_one(
        conn,
        "SELECT account_id, approval_required_for_batches, payout_approval_thresholds, updated_by, updated_at \
         FROM approval_policies WHERE account_id = ?1",
        params![account.to_string()],
        policy_row,
    )
}

pub fn upsert_policy(conn: &Connection, p: &ApprovalPolicyRow) -> StoreResult<()> {
    let thresholds = serde_json::to_string(&p.payout_approval_thresholds).map_err(StoreError::corrupt)?;
    conn.prepare_cached(
        "INSERT INTO approval_policies (account_id, approval_required_for_batches, payout_approval_thresholds, \
         updated_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account_id) DO UPDATE SET \
         approval_required_for_batches = excluded.approval_required_for_batches, \
         payout_approval_thresholds = excluded.payout_approval_thresholds, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![
        p.account_id.to_string(),
        i64::from(p.approval_required_for_batches),
        thresholds,
        p.updated_by.map(|u| u.to_string()),
        ms(p.updated_at)
    ])?;
    Ok(())
}

pub fn insert_batch(conn: &Connection, b: &PayoutBatchRow) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO payout_batches ({BATCH_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
         ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"
    ))?;
    let (valid_totals, held, held_at) = funding(b);
    stmt.execute(params![
        b.id.to_string(),
        b.account_id.to_string(),
        b.created_by.map(|u| u.to_string()),
        b.file_name,
        b.format,
        b.mode,
        b.content_sha256,
        b.dedup_sha256,
        b.status,
        i64::from(b.approval_required),
        b.total_rows,
        b.valid_rows,
        b.invalid_rows,
        b.open_payouts,
        b.failure_code,
        b.failure_reason,
        b.approved_by.map(|u| u.to_string()),
        b.approved_at.map(ms),
        b.cancelled_by.map(|u| u.to_string()),
        b.cancelled_at.map(ms),
        b.released_at.map(ms),
        b.completed_at.map(ms),
        ms(b.created_at),
        ms(b.updated_at),
        b.quote_id.map(|u| u.to_string()),
        b.client_rate,
        valid_totals,
        held,
        held_at
    ])?;
    Ok(())
}

pub fn update_batch(conn: &Connection, b: &PayoutBatchRow) -> StoreResult<()> {
    let (valid_totals, held, held_at) = funding(b);
    conn.prepare_cached(
        "UPDATE payout_batches SET dedup_sha256 = ?2, status = ?3, approval_required = ?4, total_rows = ?5, \
         valid_rows = ?6, invalid_rows = ?7, open_payouts = ?8, failure_code = ?9, failure_reason = ?10, \
         approved_by = ?11, approved_at = ?12, cancelled_by = ?13, cancelled_at = ?14, released_at = ?15, \
         completed_at = ?16, updated_at = ?17, valid_totals = ?18, held = ?19, held_at = ?20 WHERE id = ?1",
    )?
    .execute(params![
        b.id.to_string(),
        b.dedup_sha256,
        b.status,
        i64::from(b.approval_required),
        b.total_rows,
        b.valid_rows,
        b.invalid_rows,
        b.open_payouts,
        b.failure_code,
        b.failure_reason,
        b.approved_by.map(|u| u.to_string()),
        b.approved_at.map(ms),
        b.cancelled_by.map(|u| u.to_string()),
        b.cancelled_at.map(ms),
        b.released_at.map(ms),
        b.completed_at.map(ms),
        ms(b.updated_at),
        valid_totals,
        held,
        held_at
    ])?;
    Ok(())
}

pub fn batch_by_hash(conn: &Connection, account: AccountId, sha: &str) -> StoreResult<Option<Uuid>> {
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM payout_batches WHERE account_id = ?1 AND dedup_sha256 = ?2")?
        .query_row(params![account.to_string(), sha], |r| r.get(0))
        .optional()?;
    id.as_deref().map(uuid).transpose()
}

pub fn insert_items(conn: &Connection, items: &[BatchItemRow]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO payout_batch_items ({ITEM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for i in items {
        stmt.execute(params![
            i.batch_id.to_string(),
            i.row_number,
            i.status,
            i.currency,
            i.amount,
            i.payout_reference,
            i.payload,
            i.payout_id.map(|u| u.to_string()),
            i.error_field,
            i.error_code,
            i.error_message
        ])?;
    }
    Ok(())
}

pub fn items_with_status(
    conn: &Connection,
    batch: Uuid,
    status: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<BatchItemRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {ITEM_COLS} FROM payout_batch_items WHERE batch_id = ?1 AND status = ?2 AND row_number > ?3 \
             ORDER BY row_number LIMIT ?4"
        ),
        params![batch.to_string(), status, after, limit],
        item_row,
    )
}

pub fn update_item(conn: &Connection, i: &BatchItemRow) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE payout_batch_items SET status = ?3, payload = ?4, payout_id = ?5, error_field = ?6, error_code = ?7, \
         error_message = ?8 WHERE batch_id = ?1 AND row_number = ?2",
    )?
    .execute(params![
        i.batch_id.to_string(),
        i.row_number,
        i.status,
        i.payload,
        i.payout_id.map(|u| u.to_string()),
        i.error_field,
        i.error_code,
        i.error_message
    ])?;
    Ok(())
}

pub fn set_items_status(conn: &Connection, batch: Uuid, from: &str, to: &str) -> StoreResult<u64> {
    let n = conn
        .prepare_cached("UPDATE payout_batch_items SET status = ?3 WHERE batch_id = ?1 AND status = ?2")?
        .execute(params![batch.to_string(), from, to])?;
    Ok(n as u64)
}

pub fn payout_batch_id(conn: &Connection, payout: Uuid) -> StoreResult<Option<Uuid>> {
    let id: Option<Option<String>> = conn
        .prepare_cached("SELECT batch_id FROM payouts WHERE id = ?1")?
        .query_row([payout.to_string()], |r| r.get(0))
        .optional()?;
    id.flatten().as_deref().map(uuid).transpose()
}

pub fn to_resume(conn: &Connection, limit: u32) -> StoreResult<Vec<PayoutBatchRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {BATCH_COLS} FROM payout_batches WHERE status IN ('VALIDATED', 'RELEASING') \
             ORDER BY created_at LIMIT ?1"
        ),
        params![limit],
        batch_row,
    )
}

pub fn mark_created(conn: &Connection, batch: Uuid, created: &[(i64, Uuid)]) -> StoreResult<()> {
    let b = batch.to_string();
    let mut item = conn.prepare_cached(
        "UPDATE payout_batch_items SET status = 'CREATED', payout_id = ?3, payload = NULL \
         WHERE batch_id = ?1 AND row_number = ?2",
    )?;
    let mut payout = conn.prepare_cached("UPDATE payouts SET batch_id = ?2 WHERE id = ?1")?;
    for (row, id) in created {
        let id = id.to_string();
        item.execute(params![b, row, id])?;
        payout.execute(params![id, b])?;
    }
    Ok(())
}

const SQL_ITEM_CREATED: &str = "UPDATE payout_batch_items SET status = 'CREATED', payout_id = ?3, payload = NULL \
    WHERE batch_id = ?1 AND row_number = ?2";

/// `insert_payout`'s two statements, with the payout's batch recorded at once (what
/// `mark_batch_items_created` would set afterwards).
fn insert_batch_payout(conn: &Connection, p: &crate::PayoutRow, batch: &str) -> StoreResult<()> {
    use super::payouts::{PAYOUT_COLS, date_text};
    let sql = format!(
        "INSERT INTO payouts ({PAYOUT_COLS}, batch_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
         ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        p.id.to_string(),
        p.account_id.to_string(),
        p.short_reference_id,
        p.unique_request_id,
        p.currency,
        p.amount,
        p.fee_amount,
        p.fee_paid_by,
        p.payout_currency,
        p.payout_amount,
        p.quote_id.map(|q| q.to_string()),
        p.client_rate,
        p.purpose_code,
        p.payout_reference,
        date_text(p.payout_date),
        p.payment_method,
        p.clearing_system,
        p.beneficiary_id.to_string(),
        p.beneficiary.to_string(),
        p.payer.as_ref().map(serde_json::Value::to_string),
        p.documentation.to_string(),
        p.state,
        p.failure_reason,
        p.failure_returned_amount,
        ms(p.created_at),
        ms(p.updated_at),
        p.completed_at.map(ms),
        p.created_by.map(|c| c.to_string()),
        p.approved_by.map(|c| c.to_string()),
        p.approved_at.map(ms),
        batch
    ])?;
    conn.prepare_cached(
        "INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) VALUES (?1, 1, NULL, ?2, 'created', ?3)",
    )?
    .execute(params![p.id.to_string(), p.state, ms(p.created_at)])?;
    Ok(())
}

impl super::SqliteTx<'_> {
    /// `WriteTx::hold_batch_payouts` on SQLite: every ledger account of the run resolved once,
    /// one guarded balance update per account for the run's net change, each chain's head read
    /// once and written once (the hashes computed here, in row order), and the entries, lines,
    /// payouts (with their `created` history row) and events inserted with cached statements,
    /// in row order. No savepoint: the caller rolls back on an error.
    pub(super) fn batch_hold_payouts(
        &mut self,
        batch: Uuid,
        holds: &[crate::BatchPayoutHold],
        at: time::OffsetDateTime,
    ) -> Result<(), crate::PostError> {
        use outlay_core::ledger::LedgerKey;
        use std::collections::HashMap;
        if holds.is_empty() {
            return Ok(());
        }
        let at_ms = ms(at);
        let net = crate::batch_run_net_changes(holds)?;
        let mut ids: HashMap<LedgerKey, i64> = HashMap::new();
        for entry in holds.iter().filter_map(|h| h.entry.as_ref()) {
            for line in entry.lines() {
                if let std::collections::hash_map::Entry::Vacant(vacant) = ids.entry(line.key) {
                    let id = self.ledger_id(vacant.key(), at_ms)?;
                    vacant.insert(id);
                }
            }
        }
        for (key, delta) in &net {
            let id = match ids.get(key) {
                Some(id) => *id,
                None => {
                    let id = self.ledger_id(key, at_ms)?;
                    ids.insert(key.clone(), id);
                    id
                }
            };
            if key.must_stay_non_negative() && *delta != 0 {
                super::change_balance(&self.w.conn, key, id, *delta, at_ms)?;
            }
        }
        // Chain heads: read once per owner, advanced in Rust, written once at the end.
        let mut heads: HashMap<String, (i64, String)> = HashMap::new();
        // Whether an account (or its parent) has an active webhook endpoint, asked once a run.
        let mut endpoints: HashMap<outlay_core::AccountId, bool> = HashMap::new();
        let batch_text = batch.to_string();
        for h in holds {
            if let Some(entry) = &h.entry {
                let owner = entry.chain_owner.to_string();
                if !heads.contains_key(&owner) {
                    heads.insert(owner.clone(), super::chain_head(&self.w.conn, &owner)?);
                }
                let Some((seq, prev)) = heads.get_mut(&owner) else { continue };
                let ledger_ids = entry
                    .lines()
                    .iter()
                    .map(|l| {
                        ids.get(&l.key)
                            .copied()
                            .ok_or_else(|| StoreError::Database("a line's ledger account was not resolved".into()))
                    })
                    .collect::<StoreResult<Vec<i64>>>()?;
                let next = *seq + 1;
                let hash = super::write_entry(
                    &self.w.conn,
                    entry,
                    &h.entry_id.to_string(),
                    &owner,
                    next,
                    prev,
                    at_ms,
                    &ledger_ids,
                )?;
                *seq = next;
                *prev = hash;
            }
            let sealed = self.w.keys.seal_payout(&h.payout)?;
            insert_batch_payout(&self.w.conn, &sealed, &batch_text)?;
            self.w
                .conn
                .prepare_cached(SQL_ITEM_CREATED)
                .map_err(StoreError::from)?
                .execute(params![batch_text, h.row_number, sealed.id.to_string()])
                .map_err(StoreError::from)?;
            if let Some(e) = &h.event {
                let fan_out = match endpoints.get(&e.account_id) {
                    Some(any) => *any,
                    None => {
                        let any = self.batch_has_endpoints(e.account_id)?;
                        endpoints.insert(e.account_id, any);
                        any
                    }
                };
                let new_source = e.source_id == h.payout.id;
                self.batch_insert_event(e, new_source, fan_out)?;
            }
        }
        for (owner, (seq, hash)) in heads {
            super::set_chain_head(&self.w.conn, &owner, seq, &hash)?;
        }
        Ok(())
    }

    /// `insert_event`'s statements (its object sequence, the row, the webhook fan-out).
    /// The event of a payout created in this very call is its first (`object_seq` 1); the
    /// fan-out is skipped when the account and its parent have no active endpoint (it would
    /// insert nothing).
    fn batch_insert_event(&mut self, e: &crate::NewEvent, new_source: bool, fan_out: bool) -> StoreResult<()> {
        let conn = &self.w.conn;
        let source = e.source_id.to_string();
        let seq: i64 = if new_source {
            1
        } else {
            conn.prepare_cached("SELECT COALESCE(MAX(object_seq), 0) + 1 FROM events WHERE source_id = ?1")?
                .query_row([&source], |r| r.get(0))?
        };
        conn.prepare_cached(
            "INSERT INTO events (id, account_id, event_name, event_type, source_id, object_seq, data, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            e.id.to_string(),
            e.account_id.to_string(),
            e.event_name,
            e.event_type,
            source,
            seq,
            e.data.to_string(),
            ms(e.created_at)
        ])?;
        if fan_out {
            self.webhook_fan_out(e)?;
        }
        Ok(())
    }

    /// Whether `account` or its parent has an active webhook endpoint (what the fan-out joins).
    fn batch_has_endpoints(&mut self, account: outlay_core::AccountId) -> StoreResult<bool> {
        let a = account.to_string();
        let n: i64 = self
            .w
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM webhook_endpoints ep WHERE ep.status = 'ACTIVE' \
                 AND ep.account_id IN (?1, (SELECT parent_id FROM accounts WHERE id = ?1))",
            )?
            .query_row([&a], |r| r.get(0))?;
        Ok(n > 0)
    }
}
