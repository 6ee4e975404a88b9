//! SQLite: beneficiaries, files and payouts.

use rusqlite::{Connection, Row, params};
use serde_json::Value;
use uuid::Uuid;

use super::{account_id, from_ms, get, ms, opt_from_ms, query_all, query_one, uuid};
use crate::{
    BeneficiaryFilter, BeneficiaryRow, FileRow, Page, PageRequest, PayoutApprovalRecord, PayoutFilter, PayoutRow,
    PayoutStateChange, PayoutTransition, StoreError, StoreResult,
};
use outlay_core::AccountId;

fn json(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

fn opt_json(text: Option<&str>) -> StoreResult<Option<Value>> {
    text.map(json).transpose()
}

const BENEFICIARY_COLS: &str = "id, account_id, short_reference_id, entity_type, payment_method, first_name, last_name, \
    company_name, nickname, email, bank_country_code, account_currency_code, clearing_system, bank_details, address, \
    additional_info, status, created_at, updated_at";

fn beneficiary_row(r: &Row<'_>) -> StoreResult<BeneficiaryRow> {
    Ok(BeneficiaryRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        short_reference_id: get(r, 2)?,
        entity_type: get(r, 3)?,
        payment_method: get(r, 4)?,
        first_name: get(r, 5)?,
        last_name: get(r, 6)?,
        company_name: get(r, 7)?,
        nickname: get(r, 8)?,
        email: get(r, 9)?,
        bank_country_code: get(r, 10)?,
        account_currency_code: get(r, 11)?,
        clearing_system: get(r, 12)?,
        bank_details: json(&get::<String>(r, 13)?)?,
        address: opt_json(get::<Option<String>>(r, 14)?.as_deref())?,
        additional_info: opt_json(get::<Option<String>>(r, 15)?.as_deref())?,
        status: get(r, 16)?,
        created_at: from_ms(get(r, 17)?)?,
        updated_at: from_ms(get(r, 18)?)?,
    })
}

pub fn beneficiary(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<BeneficiaryRow>> {
    query_one(
        conn,
        &format!(
            "SELECT {BENEFICIARY_COLS} FROM beneficiaries WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2) AND status <> 'DELETED'"
        ),
        params![id.to_string(), account.map(|a| a.to_string())],
        beneficiary_row,
    )
}

pub fn beneficiaries(
    conn: &Connection,
    account: AccountId,
    f: &BeneficiaryFilter,
    page: PageRequest,
) -> StoreResult<Page<BeneficiaryRow>> {
    let where_ = "account_id = ?1 AND status <> 'DELETED' \
        AND NOT EXISTS (SELECT 1 FROM recipient_transfer_methods m WHERE m.id = beneficiaries.id) AND (?2 IS NULL OR account_currency_code = ?2) \
        AND (?3 IS NULL OR bank_country_code = ?3) AND (?4 IS NULL OR entity_type = ?4) AND (?5 IS NULL OR payment_method = ?5)";
    let a = account.to_string();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM beneficiaries WHERE {where_}"))?
        .query_row(params![a, f.currency, f.country, f.entity_type, f.payment_method], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {BENEFICIARY_COLS} FROM beneficiaries WHERE {where_} ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7"
        ),
        params![a, f.currency, f.country, f.entity_type, f.payment_method, page.size, page.offset()],
        beneficiary_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

fn beneficiary_params(b: &BeneficiaryRow) -> [Box<dyn rusqlite::ToSql>; 19] {
    [
        Box::new(b.id.to_string()),
        Box::new(b.account_id.to_string()),
        Box::new(b.short_reference_id.clone()),
        Box::new(b.entity_type.clone()),
        Box::new(b.payment_method.clone()),
        Box::new(b.first_name.clone()),
        Box::new(b.last_name.clone()),
        Box::new(b.company_name.clone()),
        Box::new(b.nickname.clone()),
        Box::new(b.email.clone()),
        Box::new(b.bank_country_code.clone()),
        Box::new(b.account_currency_code.clone()),
        Box::new(b.clearing_system.clone()),
        Box::new(b.bank_details.to_string()),
        Box::new(b.address.as_ref().map(Value::to_string)),
        Box::new(b.additional_info.as_ref().map(Value::to_string)),
        Box::new(b.status.clone()),
        Box::new(ms(b.created_at)),
        Box::new(ms(b.updated_at)),
    ]
}

pub fn insert_beneficiary(conn: &Connection, b: &BeneficiaryRow) -> StoreResult<()> {
    let p = beneficiary_params(b);
    conn.prepare_cached(&format!(
        "INSERT INTO beneficiaries ({BENEFICIARY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    ))?
    .execute(rusqlite::params_from_iter(p.iter()))?;
    Ok(())
}

pub fn update_beneficiary(conn: &Connection, b: &BeneficiaryRow) -> StoreResult<()> {
    let p = beneficiary_params(b);
    // The id, owner, short reference, entity type and creation time never change.
    conn.prepare_cached(
        "UPDATE beneficiaries SET payment_method = ?5, first_name = ?6, last_name = ?7, company_name = ?8, nickname = ?9, \
         email = ?10, bank_country_code = ?11, account_currency_code = ?12, clearing_system = ?13, bank_details = ?14, \
         address = ?15, additional_info = ?16, status = ?17, updated_at = ?19 \
         WHERE id = ?1 AND account_id = ?2 AND short_reference_id = ?3 AND entity_type = ?4 AND created_at = ?18",
    )?
    .execute(rusqlite::params_from_iter(p.iter()))?;
    Ok(())
}

const FILE_COLS: &str = "id, account_id, file_name, file_type, size, sha256, notes, created_at";

fn file_row(r: &Row<'_>) -> StoreResult<FileRow> {
    Ok(FileRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        file_name: get(r, 2)?,
        file_type: get(r, 3)?,
        size: get(r, 4)?,
        sha256: get(r, 5)?,
        notes: get(r, 6)?,
        created_at: from_ms(get(r, 7)?)?,
    })
}

pub fn file(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<FileRow>> {
    query_one(
        conn,
        &format!("SELECT {FILE_COLS} FROM files WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"),
        params![id.to_string(), account.map(|a| a.to_string())],
        file_row,
    )
}

pub fn insert_file(conn: &Connection, f: &FileRow, content: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO files ({FILE_COLS}, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        f.id.to_string(),
        f.account_id.to_string(),
        f.file_name,
        f.file_type,
        f.size,
        f.sha256,
        f.notes,
        ms(f.created_at),
        content
    ])?;
    Ok(())
}

pub(crate) const PAYOUT_COLS: &str = "id, account_id, short_reference_id, unique_request_id, currency, amount, fee_amount, \
    fee_paid_by, payout_currency, payout_amount, quote_id, client_rate, purpose_code, payout_reference, payout_date, \
    payment_method, clearing_system, beneficiary_id, beneficiary, payer, documentation, state, failure_reason, \
    failure_returned_amount, created_at, updated_at, completed_at, created_by, approved_by, approved_at";

fn date(text: &str) -> StoreResult<time::Date> {
    time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map_err(StoreError::corrupt)
}

pub(crate) fn date_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(crate) fn payout_row(r: &Row<'_>) -> StoreResult<PayoutRow> {
    Ok(PayoutRow {
        id: uuid(&get::<String>(r, 0)?)?,
        account_id: account_id(&get::<String>(r, 1)?)?,
        short_reference_id: get(r, 2)?,
        unique_request_id: get(r, 3)?,
        currency: get(r, 4)?,
        amount: get(r, 5)?,
        fee_amount: get(r, 6)?,
        fee_paid_by: get(r, 7)?,
        payout_currency: get(r, 8)?,
        payout_amount: get(r, 9)?,
        quote_id: get::<Option<String>>(r, 10)?.as_deref().map(uuid).transpose()?,
        client_rate: get(r, 11)?,
        purpose_code: get(r, 12)?,
        payout_reference: get(r, 13)?,
        payout_date: date(&get::<String>(r, 14)?)?,
        payment_method: get(r, 15)?,
        clearing_system: get(r, 16)?,
        beneficiary_id: uuid(&get::<String>(r, 17)?)?,
        beneficiary: json(&get::<String>(r, 18)?)?,
        payer: opt_json(get::<Option<String>>(r, 19)?.as_deref())?,
        documentation: json(&get::<String>(r, 20)?)?,
        state: get(r, 21)?,
        failure_reason: get(r, 22)?,
        failure_returned_amount: get(r, 23)?,
        created_at: from_ms(get(r, 24)?)?,
        updated_at: from_ms(get(r, 25)?)?,
        completed_at: opt_from_ms(get(r, 26)?)?,
        created_by: get::<Option<String>>(r, 27)?.as_deref().map(uuid).transpose()?,
        approved_by: get::<Option<String>>(r, 28)?.as_deref().map(uuid).transpose()?,
        approved_at: opt_from_ms(get(r, 29)?)?,
    })
}

pub fn payout(conn: &Connection, account: Option<AccountId>, id: Uuid) -> StoreResult<Option<PayoutRow>> {
    query_one(
        conn,
        &format!("SELECT {PAYOUT_COLS} FROM payouts WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)"),
        params![id.to_string(), account.map(|a| a.to_string())],
        payout_row,
    )
}

pub fn payouts(
    conn: &Connection,
    account: AccountId,
    f: &PayoutFilter,
    page: PageRequest,
) -> StoreResult<Page<PayoutRow>> {
    // States travel as a JSON array so one prepared statement serves every filter.
    let states = f.states.as_ref().map(|s| serde_json::to_string(s).unwrap_or_default());
    let where_ = "account_id = ?1 AND (?2 IS NULL OR state IN (SELECT value FROM json_each(?2))) \
        AND (?3 IS NULL OR currency = ?3) AND (?4 IS NULL OR beneficiary_id = ?4) \
        AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at <= ?6)";
    let (a, b) = (account.to_string(), f.beneficiary_id.map(|b| b.to_string()));
    let (s, e) = (f.start_time.map(ms), f.end_time.map(ms));
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM payouts WHERE {where_}"))?
        .query_row(params![a, states, f.currency, b, s, e], |r| r.get(0))?;
    let items = query_all(
        conn,
        &format!(
            "SELECT {PAYOUT_COLS} FROM payouts WHERE {where_} ORDER BY created_at DESC, id DESC LIMIT ?7 OFFSET ?8"
        ),
        params![a, states, f.currency, b, s, e, page.size, page.offset()],
        payout_row,
    )?;
    Ok(Page { total_items: u64::try_from(total).unwrap_or_default(), items })
}

pub fn insert_payout(conn: &Connection, p: &PayoutRow) -> StoreResult<()> {
    let values: [Box<dyn rusqlite::ToSql>; 30] = [
        Box::new(p.id.to_string()),
        Box::new(p.account_id.to_string()),
        Box::new(p.short_reference_id.clone()),
        Box::new(p.unique_request_id.clone()),
        Box::new(p.currency.clone()),
        Box::new(p.amount),
        Box::new(p.fee_amount),
        Box::new(p.fee_paid_by.clone()),
        Box::new(p.payout_currency.clone()),
        Box::new(p.payout_amount),
        Box::new(p.quote_id.map(|q| q.to_string())),
        Box::new(p.client_rate.clone()),
        Box::new(p.purpose_code.clone()),
        Box::new(p.payout_reference.clone()),
        Box::new(date_text(p.payout_date)),
        Box::new(p.payment_method.clone()),
        Box::new(p.clearing_system.clone()),
        Box::new(p.beneficiary_id.to_string()),
        Box::new(p.beneficiary.to_string()),
        Box::new(p.payer.as_ref().map(Value::to_string)),
        Box::new(p.documentation.to_string()),
        Box::new(p.state.clone()),
        Box::new(p.failure_reason.clone()),
        Box::new(p.failure_returned_amount),
        Box::new(ms(p.created_at)),
        Box::new(ms(p.updated_at)),
        Box::new(p.completed_at.map(ms)),
        Box::new(p.created_by.map(|c| c.to_string())),
        Box::new(p.approved_by.map(|c| c.to_string())),
        Box::new(p.approved_at.map(ms)),
    ];
    let placeholders: Vec<String> = (1..=30).map(|i| format!("?{i}")).collect();
    conn.prepare_cached(&format!("INSERT INTO payouts ({PAYOUT_COLS}) VALUES ({})", placeholders.join(", ")))?
        .execute(rusqlite::params_from_iter(values.iter()))?;
    conn.prepare_cached(
        "INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) VALUES (?1, 1, NULL, ?2, 'created', ?3)",
    )?
    .execute(params![p.id.to_string(), p.state, ms(p.created_at)])?;
    Ok(())
}

pub fn set_payout_state(conn: &Connection, c: &PayoutStateChange) -> StoreResult<()> {
    let id = c.id.to_string();
    let changed = conn
        .prepare_cached(
            "UPDATE payouts SET state = ?2, failure_reason = COALESCE(?3, failure_reason), \
             failure_returned_amount = ?4, completed_at = COALESCE(?5, completed_at), updated_at = ?6 \
             WHERE id = ?1 AND (?7 IS NULL OR state = ?7)",
        )?
        .execute(params![
            id,
            c.to_state,
            c.failure_reason,
            c.failure_returned_amount,
            c.completed_at.map(ms),
            ms(c.at),
            c.from_state
        ])?;
    if changed != 1 {
        return Err(StoreError::Database(format!("payout {id} is not in state {:?}", c.from_state)));
    }
    conn.prepare_cached(
        "INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM payout_transitions WHERE payout_id = ?1), ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, c.from_state, c.to_state, c.reason, ms(c.at)])?;
    Ok(())
}

/// Record who approved (or declined) a payout that waited for approval.
pub fn set_payout_approval(conn: &Connection, a: &PayoutApprovalRecord) -> StoreResult<()> {
    conn.prepare_cached("UPDATE payouts SET approved_by = ?2, approved_at = ?3 WHERE id = ?1")?.execute(params![
        a.id.to_string(),
        a.approved_by.to_string(),
        ms(a.at)
    ])?;
    Ok(())
}

pub fn set_payout_created_reason(conn: &Connection, id: Uuid, reason: &str) -> StoreResult<()> {
    conn.prepare_cached("UPDATE payout_transitions SET reason = ?2 WHERE payout_id = ?1 AND seq = 1")?
        .execute(params![id.to_string(), reason])?;
    Ok(())
}

pub fn payout_history(conn: &Connection, id: Uuid) -> StoreResult<Vec<PayoutTransition>> {
    query_all(
        conn,
        "SELECT seq, from_state, to_state, reason, at FROM payout_transitions WHERE payout_id = ?1 ORDER BY seq",
        params![id.to_string()],
        |r| {
            Ok(PayoutTransition {
                seq: get(r, 0)?,
                from_state: get(r, 1)?,
                to_state: get(r, 2)?,
                reason: get(r, 3)?,
                at: from_ms(get(r, 4)?)?,
            })
        },
    )
}

pub fn payout_by_short_reference(conn: &Connection, short_reference: &str) -> StoreResult<Option<PayoutRow>> {
    query_one(
        conn,
        &format!("SELECT {PAYOUT_COLS} FROM payouts WHERE short_reference_id = ?1"),
        params![short_reference],
        payout_row,
    )
}

pub fn open_payouts(conn: &Connection, q: &crate::OpenPayouts) -> StoreResult<Vec<PayoutRow>> {
    // The `state IN` term as the partial index `payouts_open` states it, so that it is used.
    let (after_at, after_id) = q.after.map(|(at, id)| (ms(at), id.to_string())).unzip();
    query_all(
        conn,
        &format!(
            "SELECT {PAYOUT_COLS} FROM payouts WHERE state IN ('SCHEDULED', 'READY_TO_SEND', 'SENT') \
             AND (state <> 'SCHEDULED' OR payout_date <= ?2) AND updated_at <= ?1 \
             AND (?3 IS NULL OR (updated_at, id) > (?3, ?4)) ORDER BY updated_at, id LIMIT ?5"
        ),
        params![ms(q.changed_by), date_text(q.scheduled_due_by), after_at, after_id, q.limit],
        payout_row,
    )
}
