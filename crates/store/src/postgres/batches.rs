//! PostgreSQL: payout batches, their rows, and the approval policy (SQL and row mapping;
//! postgres.rs delegates here).

use tokio_postgres::Row;

use super::col;
use crate::{ApprovalPolicyRow, BatchItemRow, BatchStatusTotal, PayoutBatchRow, StoreError, StoreResult};
use outlay_core::AccountId;

macro_rules! batch_cols {
    () => {
        "id, account_id, created_by, file_name, format, mode, content_sha256, dedup_sha256, status, \
         approval_required, total_rows, valid_rows, invalid_rows, open_payouts, failure_code, failure_reason, \
         approved_by, approved_at, cancelled_by, cancelled_at, released_at, completed_at, created_at, updated_at, \
         quote_id, client_rate, valid_totals, held, held_at"
    };
}
macro_rules! item_cols {
    () => {
        "batch_id, row_number, status, currency, amount, payout_reference, payload, payout_id, error_field, \
         error_code, error_message"
    };
}

pub const SQL_BATCH: &str =
    concat!("SELECT ", batch_cols!(), " FROM payout_batches WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");
/// The writer's read locks the row: batch counters change from several nodes.
pub const SQL_BATCH_FOR_UPDATE: &str =
    concat!("SELECT ", batch_cols!(), " FROM payout_batches WHERE id = $1 FOR UPDATE");
pub const SQL_BATCHES_TO_RESUME: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM payout_batches WHERE status IN ('VALIDATED', 'RELEASING') ORDER BY created_at LIMIT $1"
);
pub const SQL_BATCHES_COUNT: &str = "SELECT COUNT(*) FROM payout_batches WHERE account_id = $1";
pub const SQL_BATCHES: &str = concat!(
    "SELECT ",
    batch_cols!(),
    " FROM payout_batches WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
);
pub const SQL_ITEMS_COUNT: &str =
    "SELECT COUNT(*) FROM payout_batch_items WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)";
pub const SQL_ITEMS: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM payout_batch_items WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2) \
     ORDER BY row_number LIMIT $3 OFFSET $4"
);
pub const SQL_TOTALS: &str = "SELECT COALESCE(p.state, i.status), i.currency, COUNT(*), COALESCE(SUM(i.amount), 0)::BIGINT \
     FROM payout_batch_items i LEFT JOIN payouts p ON p.id = i.payout_id \
     WHERE i.batch_id = $1 GROUP BY 1, 2 ORDER BY 1, 2";
pub const SQL_POLICY: &str = "SELECT account_id, approval_required_for_batches, payout_approval_thresholds, updated_by, \
     updated_at FROM approval_policies WHERE account_id = $1";
pub const SQL_POLICIES_ANY: &str = "SELECT account_id, approval_required_for_batches, payout_approval_thresholds, \
     updated_by, updated_at FROM approval_policies WHERE account_id = ANY($1::uuid[])";
pub const SQL_POLICY_UPSERT: &str = "INSERT INTO approval_policies (account_id, approval_required_for_batches, \
     payout_approval_thresholds, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE \
     SET approval_required_for_batches = excluded.approval_required_for_batches, \
     payout_approval_thresholds = excluded.payout_approval_thresholds, updated_by = excluded.updated_by, \
     updated_at = excluded.updated_at";
pub const SQL_BATCH_INSERT: &str = concat!(
    "INSERT INTO payout_batches (",
    batch_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
     $23, $24, $25, $26, $27, $28, $29)"
);
pub const SQL_BATCH_UPDATE: &str = "UPDATE payout_batches SET dedup_sha256 = $2, status = $3, approval_required = $4, \
     total_rows = $5, valid_rows = $6, invalid_rows = $7, open_payouts = $8, failure_code = $9, failure_reason = $10, \
     approved_by = $11, approved_at = $12, cancelled_by = $13, cancelled_at = $14, released_at = $15, \
     completed_at = $16, updated_at = $17, valid_totals = $18, held = $19, held_at = $20 WHERE id = $1";
pub const SQL_BATCH_BY_HASH: &str = "SELECT id FROM payout_batches WHERE account_id = $1 AND dedup_sha256 = $2";
pub const SQL_ITEMS_INSERT: &str = concat!(
    "INSERT INTO payout_batch_items (",
    item_cols!(),
    ") SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], \
     $8::uuid[], $9::text[], $10::text[], $11::text[])"
);
pub const SQL_ITEMS_WITH_STATUS: &str = concat!(
    "SELECT ",
    item_cols!(),
    " FROM payout_batch_items WHERE batch_id = $1 AND status = $2 AND row_number > $3 ORDER BY row_number LIMIT $4"
);
pub const SQL_ITEM_UPDATE: &str = "UPDATE payout_batch_items SET status = $3, payload = $4, payout_id = $5, \
     error_field = $6, error_code = $7, error_message = $8 WHERE batch_id = $1 AND row_number = $2";
pub const SQL_ITEMS_SET_STATUS: &str = "UPDATE payout_batch_items SET status = $3 WHERE batch_id = $1 AND status = $2";
pub const SQL_ITEMS_CREATED: &str = "UPDATE payout_batch_items i SET status = 'CREATED', payout_id = c.payout_id, \
     payload = NULL FROM UNNEST($2::bigint[], $3::uuid[]) AS c(row_number, payout_id) \
     WHERE i.batch_id = $1 AND i.row_number = c.row_number";
pub const SQL_PAYOUTS_SET_BATCH: &str = "UPDATE payouts SET batch_id = $1 WHERE id = ANY($2::uuid[])";
pub const SQL_PAYOUT_BATCH_ID: &str = "SELECT batch_id FROM payouts WHERE id = $1";

pub fn batch_from_row(r: &Row) -> StoreResult<PayoutBatchRow> {
    Ok(PayoutBatchRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        created_by: col(r, 2)?,
        file_name: col(r, 3)?,
        format: col(r, 4)?,
        mode: col(r, 5)?,
        content_sha256: col(r, 6)?,
        dedup_sha256: col(r, 7)?,
        status: col(r, 8)?,
        approval_required: col(r, 9)?,
        total_rows: col(r, 10)?,
        valid_rows: col(r, 11)?,
        invalid_rows: col(r, 12)?,
        open_payouts: col(r, 13)?,
        failure_code: col(r, 14)?,
        failure_reason: col(r, 15)?,
        approved_by: col(r, 16)?,
        approved_at: col(r, 17)?,
        cancelled_by: col(r, 18)?,
        cancelled_at: col(r, 19)?,
        released_at: col(r, 20)?,
        completed_at: col(r, 21)?,
        created_at: col(r, 22)?,
        updated_at: col(r, 23)?,
        quote_id: col(r, 24)?,
        client_rate: col(r, 25)?,
        valid_totals: crate::batch_totals_parse(col::<Option<String>>(r, 26)?.as_deref())?.unwrap_or_default(),
        held: crate::batch_totals_parse(col::<Option<String>>(r, 27)?.as_deref())?,
        held_at: col(r, 28)?,
    })
}

/// The batch's funding columns as stored: valid totals (NULL when empty) and held.
pub fn funding_text(b: &PayoutBatchRow) -> (Option<String>, Option<String>) {
    let valid = Some(&b.valid_totals).filter(|t| !t.is_empty());
    (crate::batch_totals_text(valid), crate::batch_totals_text(b.held.as_ref()))
}

pub const SQL_BATCH_HOLDS: &str = "SELECT id, held FROM payout_batches WHERE held IS NOT NULL";

pub fn item_from_row(r: &Row) -> StoreResult<BatchItemRow> {
    Ok(BatchItemRow {
        batch_id: col(r, 0)?,
        row_number: col(r, 1)?,
        status: col(r, 2)?,
        currency: col(r, 3)?,
        amount: col(r, 4)?,
        payout_reference: col(r, 5)?,
        payload: col(r, 6)?,
        payout_id: col(r, 7)?,
        error_field: col(r, 8)?,
        error_code: col(r, 9)?,
        error_message: col(r, 10)?,
    })
}

pub fn total_from_row(r: &Row) -> StoreResult<BatchStatusTotal> {
    Ok(BatchStatusTotal { status: col(r, 0)?, currency: col(r, 1)?, count: col(r, 2)?, amount: col(r, 3)? })
}

pub fn policy_from_row(r: &Row) -> StoreResult<ApprovalPolicyRow> {
    let thresholds: String = col(r, 2)?;
    Ok(ApprovalPolicyRow {
        account_id: AccountId(col(r, 0)?),
        approval_required_for_batches: col(r, 1)?,
        payout_approval_thresholds: serde_json::from_str(&thresholds).map_err(StoreError::corrupt)?,
        updated_by: col(r, 3)?,
        updated_at: col(r, 4)?,
    })
}

// --- bulk hold of a batch's payouts (`WriteTx::hold_batch_payouts`) ---

const SQL_BULK_ENTRIES: &str = "INSERT INTO journal_entries (id, account_id, seq, kind, reference_type, reference_id, \
     created_at_ms, prev_hash, hash) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], \
     $6::text[], $7::int8[], $8::text[], $9::text[])";
const SQL_BULK_LINES: &str = "INSERT INTO journal_lines (entry_id, line_no, ledger_account_id, amount) \
     SELECT * FROM unnest($1::uuid[], $2::int4[], $3::int8[], $4::int8[])";
const SQL_BULK_PAYOUTS: &str = concat!(
    "INSERT INTO payouts (",
    "id, account_id, short_reference_id, unique_request_id, currency, amount, fee_amount, fee_paid_by, \
     payout_currency, payout_amount, quote_id, client_rate, purpose_code, payout_reference, payout_date, \
     payment_method, clearing_system, beneficiary_id, beneficiary, payer, documentation, state, failure_reason, \
     failure_returned_amount, created_at, updated_at, completed_at, created_by, approved_by, approved_at",
    ") SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], \
     $8::text[], $9::text[], $10::int8[], $11::uuid[], $12::text[], $13::text[], $14::text[], $15::date[], $16::text[], \
     $17::text[], $18::uuid[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::int8[], \
     $25::timestamptz[], $26::timestamptz[], $27::timestamptz[], $28::uuid[], $29::uuid[], $30::timestamptz[])"
);
const SQL_BULK_FIRST_TRANSITIONS: &str = "INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) \
     SELECT t.id, 1, NULL, t.state, 'created', t.at FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS t(id, state, at)";
/// `SQL_EVENT_INSERT` for many events of new sources, in order, with the same webhook fan-out.
const SQL_BULK_EVENTS: &str = "WITH ev AS (INSERT INTO events (id, account_id, event_name, event_type, source_id, \
     object_seq, data, created_at) \
     SELECT t.id, t.account_id, t.event_name, t.event_type, t.source_id, \
     COALESCE((SELECT MAX(e.object_seq) FROM events e WHERE e.source_id = t.source_id), 0) + 1, t.data::jsonb, t.created_at \
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::timestamptz[]) \
     WITH ORDINALITY AS t(id, account_id, event_name, event_type, source_id, data, created_at, ord) ORDER BY t.ord \
     RETURNING id, account_id, event_type, created_at) \
     INSERT INTO webhook_deliveries (id, event_id, endpoint_id, account_id, generation, status, attempts, next_attempt_at, created_at) \
     SELECT gen_random_uuid(), ev.id, ep.id, ep.account_id, 0, 'pending', 0, ev.created_at, ev.created_at \
     FROM ev JOIN webhook_endpoints ep ON ep.status = 'ACTIVE' \
     AND ep.account_id IN (ev.account_id, (SELECT parent_id FROM accounts WHERE id = ev.account_id)) \
     AND (ep.event_types = '[]'::jsonb OR ep.event_types @> jsonb_build_array(ev.event_type))";

impl super::PgTx<'_> {
    /// `WriteTx::hold_batch_payouts` on PostgreSQL: each ledger account resolved once, one
    /// guarded balance update per account for the run's net change, each chain head locked and
    /// read once and advanced once (hashes computed here, in row order), and the entries, lines,
    /// payouts, their `created` history rows and the events (with their webhook fan-out) inserted
    /// with one multi-row statement each.
    pub(super) async fn batch_hold_payouts(
        &mut self,
        batch: uuid::Uuid,
        holds: &[crate::BatchPayoutHold],
        at: time::OffsetDateTime,
    ) -> Result<(), crate::PostError> {
        use outlay_core::ledger::{self, LedgerKey, StoredLine};
        use std::collections::HashMap;
        use uuid::Uuid;
        if holds.is_empty() {
            return Ok(());
        }
        let at_ms = super::ms(at);
        let at_time = super::from_ms(at_ms)?;
        let net = crate::batch_run_net_changes(holds)?;
        let mut ids: HashMap<LedgerKey, i64> = HashMap::new();
        for (key, delta) in &net {
            let id = self.ledger_id(key, at_time).await?;
            ids.insert(key.clone(), id);
            if key.must_stay_non_negative() && *delta != 0 {
                let changed = self.exec(super::SQL_BALANCE_UPDATE, &[delta, &at_time, &id]).await?;
                if changed == 0 {
                    return Err(crate::PostError::Insufficient { key: key.to_string() });
                }
            }
        }
        // Entries and lines, hashed in row order on each chain.
        let mut heads: HashMap<Uuid, (i64, String)> = HashMap::new();
        let n = holds.len();
        let (
            mut e_id,
            mut e_owner,
            mut e_seq,
            mut e_kind,
            mut e_ref_type,
            mut e_ref_id,
            mut e_at,
            mut e_prev,
            mut e_hash,
        ) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut l_entry, mut l_no, mut l_account, mut l_amount): (Vec<Uuid>, Vec<i32>, Vec<i64>, Vec<i64>) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (h, entry) in holds.iter().filter_map(|h| h.entry.as_ref().map(|e| (h, e))) {
            let owner_uuid = entry.chain_owner.0;
            if let std::collections::hash_map::Entry::Vacant(vacant) = heads.entry(owner_uuid) {
                vacant.insert(self.chain_head(owner_uuid).await?);
            }
            let lines: Vec<StoredLine> =
                entry.lines().into_iter().map(|l| StoredLine { key: l.key, amount: l.amount }).collect();
            for (no, line) in lines.iter().enumerate() {
                let ledger_id = match ids.get(&line.key) {
                    Some(id) => *id,
                    None => {
                        let id = self.ledger_id(&line.key, at_time).await?;
                        ids.insert(line.key.clone(), id);
                        id
                    }
                };
                l_entry.push(h.entry_id);
                l_no.push(i32::try_from(no).map_err(|_| StoreError::Database("too many lines in one entry".into()))?);
                l_account.push(ledger_id);
                l_amount.push(line.amount);
            }
            let Some((seq, prev)) = heads.get_mut(&owner_uuid) else { continue };
            let owner = entry.chain_owner.to_string();
            let id_text = h.entry_id.to_string();
            let reference_id = entry.reference.id.to_string();
            let next = *seq + 1;
            let fields = ledger::ChainFields {
                entry_id: &id_text,
                owner: &owner,
                seq: next,
                kind: entry.kind.as_str(),
                reference_type: entry.reference.kind,
                reference_id: &reference_id,
                created_at_ms: at_ms,
            };
            let hash = ledger::entry_hash(prev, &fields, &lines);
            e_id.push(h.entry_id);
            e_owner.push(owner_uuid);
            e_seq.push(next);
            e_kind.push(entry.kind.as_str().to_owned());
            e_ref_type.push(entry.reference.kind.to_owned());
            e_ref_id.push(reference_id);
            e_at.push(at_ms);
            e_prev.push(std::mem::replace(prev, hash.clone()));
            e_hash.push(hash);
            *seq = next;
        }
        // Rows drawing on their batch's hold have no entry of their own.
        if !e_id.is_empty() {
            self.exec(
                SQL_BULK_ENTRIES,
                &[&e_id, &e_owner, &e_seq, &e_kind, &e_ref_type, &e_ref_id, &e_at, &e_prev, &e_hash],
            )
            .await?;
            self.exec(SQL_BULK_LINES, &[&l_entry, &l_no, &l_account, &l_amount]).await?;
        }
        for (owner, (seq, hash)) in &heads {
            self.exec(super::SQL_CHAIN_ADVANCE, &[owner, seq, hash]).await?;
        }
        self.bulk_insert_payouts(holds).await?;
        self.bulk_insert_events(holds).await?;
        let rows: Vec<i64> = holds.iter().map(|h| h.row_number).collect();
        let ids: Vec<Uuid> = holds.iter().map(|h| h.payout.id).collect();
        self.exec(SQL_ITEMS_CREATED, &[&batch, &rows, &ids]).await?;
        self.exec(SQL_PAYOUTS_SET_BATCH, &[&batch, &ids]).await?;
        Ok(())
    }

    async fn bulk_insert_payouts(&mut self, holds: &[crate::BatchPayoutHold]) -> StoreResult<()> {
        let n = holds.len();
        let mut rows = Vec::with_capacity(n);
        for h in holds {
            rows.push(self.w.keys.seal_payout(&h.payout)?);
        }
        let t = super::db_time;
        let id: Vec<_> = rows.iter().map(|p| p.id).collect();
        let account: Vec<_> = rows.iter().map(|p| p.account_id.0).collect();
        let short: Vec<_> = rows.iter().map(|p| p.short_reference_id.clone()).collect();
        let request: Vec<_> = rows.iter().map(|p| p.unique_request_id.clone()).collect();
        let currency: Vec<_> = rows.iter().map(|p| p.currency.clone()).collect();
        let amount: Vec<_> = rows.iter().map(|p| p.amount).collect();
        let fee: Vec<_> = rows.iter().map(|p| p.fee_amount).collect();
        let fee_paid_by: Vec<_> = rows.iter().map(|p| p.fee_paid_by.clone()).collect();
        let payout_currency: Vec<_> = rows.iter().map(|p| p.payout_currency.clone()).collect();
        let payout_amount: Vec<_> = rows.iter().map(|p| p.payout_amount).collect();
        let quote: Vec<_> = rows.iter().map(|p| p.quote_id).collect();
        let rate: Vec<_> = rows.iter().map(|p| p.client_rate.clone()).collect();
        let purpose: Vec<_> = rows.iter().map(|p| p.purpose_code.clone()).collect();
        let reference: Vec<_> = rows.iter().map(|p| p.payout_reference.clone()).collect();
        let date: Vec<_> = rows.iter().map(|p| p.payout_date).collect();
        let method: Vec<_> = rows.iter().map(|p| p.payment_method.clone()).collect();
        let clearing: Vec<_> = rows.iter().map(|p| p.clearing_system.clone()).collect();
        let beneficiary_id: Vec<_> = rows.iter().map(|p| p.beneficiary_id).collect();
        let beneficiary: Vec<_> = rows.iter().map(|p| p.beneficiary.to_string()).collect();
        let payer: Vec<_> = rows.iter().map(|p| p.payer.as_ref().map(serde_json::Value::to_string)).collect();
        let documentation: Vec<_> = rows.iter().map(|p| p.documentation.to_string()).collect();
        let state: Vec<_> = rows.iter().map(|p| p.state.clone()).collect();
        let failure: Vec<_> = rows.iter().map(|p| p.failure_reason.clone()).collect();
        let returned: Vec<_> = rows.iter().map(|p| p.failure_returned_amount).collect();
        let created: Vec<_> = rows.iter().map(|p| t(p.created_at)).collect();
        let updated: Vec<_> = rows.iter().map(|p| t(p.updated_at)).collect();
        let completed: Vec<_> = rows.iter().map(|p| p.completed_at.map(t)).collect();
        let created_by: Vec<_> = rows.iter().map(|p| p.created_by).collect();
        let approved_by: Vec<_> = rows.iter().map(|p| p.approved_by).collect();
        let approved_at: Vec<_> = rows.iter().map(|p| p.approved_at.map(t)).collect();
        self.exec(
            SQL_BULK_PAYOUTS,
            &[
                &id,
                &account,
                &short,
                &request,
                &currency,
                &amount,
                &fee,
                &fee_paid_by,
                &payout_currency,
                &payout_amount,
                &quote,
                &rate,
                &purpose,
                &reference,
                &date,
                &method,
                &clearing,
                &beneficiary_id,
                &beneficiary,
                &payer,
                &documentation,
                &state,
                &failure,
                &returned,
                &created,
                &updated,
                &completed,
                &created_by,
                &approved_by,
                &approved_at,
            ],
        )
        .await?;
        self.exec(SQL_BULK_FIRST_TRANSITIONS, &[&id, &state, &created]).await?;
        Ok(())
    }

    async fn bulk_insert_events(&mut self, holds: &[crate::BatchPayoutHold]) -> StoreResult<()> {
        let events: Vec<&crate::NewEvent> = holds.iter().filter_map(|h| h.event.as_ref()).collect();
        if events.is_empty() {
            return Ok(());
        }
        let id: Vec<_> = events.iter().map(|e| e.id).collect();
        let account: Vec<_> = events.iter().map(|e| e.account_id.0).collect();
        let name: Vec<_> = events.iter().map(|e| e.event_name.clone()).collect();
        let kind: Vec<_> = events.iter().map(|e| e.event_type.clone()).collect();
        let source: Vec<_> = events.iter().map(|e| e.source_id).collect();
        let data: Vec<_> = events.iter().map(|e| e.data.to_string()).collect();
        let at: Vec<_> = events.iter().map(|e| super::db_time(e.created_at)).collect();
        self.exec(SQL_BULK_EVENTS, &[&id, &account, &name, &kind, &source, &data, &at]).await?;
        Ok(())
    }
}
