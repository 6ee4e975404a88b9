//! PostgreSQL: beneficiaries, files and payouts (SQL and row mapping; the trait methods in
//! postgres.rs delegate here).

use serde_json::Value;
use tokio_postgres::Row;

use super::pipeline::{Multi, Rows, Ty, Val};
use super::{col, db_time};
use crate::{BeneficiaryRow, FileRow, PayoutRow, PayoutTransition, StoreError, StoreResult};
use outlay_core::AccountId;

macro_rules! beneficiary_cols {
    () => {
        "id, account_id, short_reference_id, entity_type, payment_method, first_name, last_name, company_name, \
         nickname, email, bank_country_code, account_currency_code, clearing_system, bank_details, address, \
         additional_info, status, created_at, updated_at"
    };
}

pub const SQL_BENEFICIARY: &str = concat!(
    "SELECT ",
    beneficiary_cols!(),
    " FROM beneficiaries WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2) AND status <> 'DELETED'"
);

/// [`SQL_BENEFICIARY`] for many ids at once (a batch's prefetch).
pub const SQL_BENEFICIARIES_ANY: &str =
    concat!("SELECT ", beneficiary_cols!(), " FROM beneficiaries WHERE id = ANY($1::uuid[]) AND status <> 'DELETED'");

const BENEFICIARY_FILTER: &str = "account_id = $1 AND status <> 'DELETED' \
        AND NOT EXISTS (SELECT 1 FROM recipient_transfer_methods m WHERE m.id = beneficiaries.id) \
    AND ($2::text IS NULL OR account_currency_code = $2) AND ($3::text IS NULL OR bank_country_code = $3) \
    AND ($4::text IS NULL OR entity_type = $4) AND ($5::text IS NULL OR payment_method = $5)";

pub fn sql_beneficiaries_count() -> String {
    format!("SELECT COUNT(*) FROM beneficiaries WHERE {BENEFICIARY_FILTER}")
}

pub fn sql_beneficiaries() -> String {
    format!(
        "SELECT {} FROM beneficiaries WHERE {BENEFICIARY_FILTER} ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7",
        beneficiary_cols!()
    )
}

pub const SQL_BENEFICIARY_INSERT: &str = concat!(
    "INSERT INTO beneficiaries (",
    beneficiary_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);

pub const SQL_BENEFICIARY_UPDATE: &str = "UPDATE beneficiaries SET payment_method = $5, first_name = $6, \
    last_name = $7, company_name = $8, nickname = $9, email = $10, bank_country_code = $11, \
    account_currency_code = $12, clearing_system = $13, bank_details = $14, address = $15, additional_info = $16, \
    status = $17, updated_at = $19 \
    WHERE id = $1 AND account_id = $2 AND short_reference_id = $3 AND entity_type = $4 AND created_at = $18";

pub fn beneficiary_from_row(r: &Row) -> StoreResult<BeneficiaryRow> {
    let json = |i: usize| -> StoreResult<Option<Value>> {
        col::<Option<String>>(r, i)?.map(|t| serde_json::from_str(&t).map_err(StoreError::corrupt)).transpose()
    };
    Ok(BeneficiaryRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        entity_type: col(r, 3)?,
        payment_method: col(r, 4)?,
        first_name: col(r, 5)?,
        last_name: col(r, 6)?,
        company_name: col(r, 7)?,
        nickname: col(r, 8)?,
        email: col(r, 9)?,
        bank_country_code: col(r, 10)?,
        account_currency_code: col(r, 11)?,
        clearing_system: col(r, 12)?,
        bank_details: json(13)?.ok_or_else(|| StoreError::corrupt("beneficiaries.bank_details is NULL"))?,
        address: json(14)?,
        additional_info: json(15)?,
        status: col(r, 16)?,
        created_at: col(r, 17)?,
        updated_at: col(r, 18)?,
    })
}

/// Parameters in column order, owned so the caller can borrow them as `&[&dyn ToSql]`.
pub struct BeneficiaryParams {
    strings: [Option<String>; 14],
    row: BeneficiaryRow,
}

impl BeneficiaryParams {
    pub fn new(b: &BeneficiaryRow) -> Self {
        Self {
            strings: [
                Some(b.short_reference_id.clone()),
                Some(b.entity_type.clone()),
                Some(b.payment_method.clone()),
                b.first_name.clone(),
                b.last_name.clone(),
                b.company_name.clone(),
                b.nickname.clone(),
                b.email.clone(),
                Some(b.bank_country_code.clone()),
                Some(b.account_currency_code.clone()),
                b.clearing_system.clone(),
                Some(b.bank_details.to_string()),
                b.address.as_ref().map(Value::to_string),
                b.additional_info.as_ref().map(Value::to_string),
            ],
            row: BeneficiaryRow { created_at: db_time(b.created_at), updated_at: db_time(b.updated_at), ..b.clone() },
        }
    }

    pub fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        let s = &self.strings;
        vec![
            &self.row.id,
            &self.row.account_id.0,
            &s[0],
            &s[1],
            &s[2],
            &s[3],
            &s[4],
            &s[5],
            &s[6],
            &s[7],
            &s[8],
            &s[9],
            &s[10],
            &s[11],
            &s[12],
            &s[13],
            &self.row.status,
            &self.row.created_at,
            &self.row.updated_at,
        ]
    }
}

pub const SQL_FILE: &str = "SELECT id, account_id, file_name, file_type, size, sha256, notes, created_at FROM files \
    WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)";
pub const SQL_FILE_INSERT: &str = "INSERT INTO files (id, account_id, file_name, file_type, size, sha256, notes, \
    created_at, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub fn file_from_row(r: &Row) -> StoreResult<FileRow> {
    Ok(FileRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        file_name: col(r, 2)?,
        file_type: col(r, 3)?,
        size: col(r, 4)?,
        sha256: col(r, 5)?,
        notes: col(r, 6)?,
        created_at: col(r, 7)?,
    })
}

macro_rules! payout_cols {
    () => {
        "id, account_id, short_reference_id, unique_request_id, currency, amount, fee_amount, fee_paid_by, \
         payout_currency, payout_amount, quote_id, client_rate, purpose_code, payout_reference, payout_date, \
         payment_method, clearing_system, beneficiary_id, beneficiary, payer, documentation, state, failure_reason, \
         failure_returned_amount, created_at, updated_at, completed_at, created_by, approved_by, approved_at"
    };
}

/// The payout columns in `payout_from_row` order (for queries written elsewhere).
pub const PAYOUT_COLS: &str = payout_cols!();

pub const SQL_PAYOUT: &str =
    concat!("SELECT ", payout_cols!(), " FROM payouts WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)");

pub const SQL_PAYOUT_BY_SHORT_REFERENCE: &str =
    concat!("SELECT ", payout_cols!(), " FROM payouts WHERE short_reference_id = $1");

const PAYOUT_FILTER: &str = "account_id = $1 AND ($2::text[] IS NULL OR state = ANY($2)) \
    AND ($3::text IS NULL OR currency = $3) AND ($4::uuid IS NULL OR beneficiary_id = $4) \
    AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at <= $6)";

pub fn sql_payouts_count() -> String {
    format!("SELECT COUNT(*) FROM payouts WHERE {PAYOUT_FILTER}")
}

pub fn sql_payouts() -> String {
    format!(
        "SELECT {} FROM payouts WHERE {PAYOUT_FILTER} ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8",
        payout_cols!()
    )
}

pub const SQL_PAYOUT_SET_APPROVAL: &str = "UPDATE payouts SET approved_by = $2, approved_at = $3 WHERE id = $1";

pub const SQL_PAYOUT_CREATED_REASON: &str =
    "UPDATE payout_transitions SET reason = $2 WHERE payout_id = $1 AND seq = 1";

pub const SQL_PAYOUT_SET_STATE: &str = "UPDATE payouts SET state = $2, failure_reason = COALESCE($3, failure_reason), \
    failure_returned_amount = $4, completed_at = COALESCE($5, completed_at), updated_at = $6 \
    WHERE id = $1 AND ($7::text IS NULL OR state = $7)";

pub const SQL_PAYOUT_TRANSITION: &str = "INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, \
    reason, at) VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM payout_transitions WHERE payout_id = $1), \
    $2, $3, $4, $5)";

pub const SQL_PAYOUT_HISTORY: &str =
    "SELECT seq, from_state, to_state, reason, at FROM payout_transitions WHERE payout_id = $1 ORDER BY seq";

pub fn payout_from_row(r: &Row) -> StoreResult<PayoutRow> {
    let json = |i: usize| -> StoreResult<Option<Value>> {
        col::<Option<String>>(r, i)?.map(|t| serde_json::from_str(&t).map_err(StoreError::corrupt)).transpose()
    };
    Ok(PayoutRow {
        id: col(r, 0)?,
        account_id: AccountId(col(r, 1)?),
        short_reference_id: col(r, 2)?,
        unique_request_id: col(r, 3)?,
        currency: col(r, 4)?,
        amount: col(r, 5)?,
        fee_amount: col(r, 6)?,
        fee_paid_by: col(r, 7)?,
        payout_currency: col(r, 8)?,
        payout_amount: col(r, 9)?,
        quote_id: col(r, 10)?,
        client_rate: col(r, 11)?,
        purpose_code: col(r, 12)?,
        payout_reference: col(r, 13)?,
        payout_date: col(r, 14)?,
        payment_method: col(r, 15)?,
        clearing_system: col(r, 16)?,
        beneficiary_id: col(r, 17)?,
        beneficiary: json(18)?.ok_or_else(|| StoreError::corrupt("payouts.beneficiary is NULL"))?,
        payer: json(19)?,
        documentation: json(20)?.ok_or_else(|| StoreError::corrupt("payouts.documentation is NULL"))?,
        state: col(r, 21)?,
        failure_reason: col(r, 22)?,
        failure_returned_amount: col(r, 23)?,
        created_at: col(r, 24)?,
        updated_at: col(r, 25)?,
        completed_at: col(r, 26)?,
        created_by: col(r, 27)?,
        approved_by: col(r, 28)?,
        approved_at: col(r, 29)?,
    })
}

pub fn transition_from_row(r: &Row) -> StoreResult<PayoutTransition> {
    let seq: i32 = col(r, 0)?;
    Ok(PayoutTransition {
        seq: i64::from(seq),
        from_state: col(r, 1)?,
        to_state: col(r, 2)?,
        reason: col(r, 3)?,
        at: col(r, 4)?,
    })
}

/// Payouts and their first transitions, many per statement (see `pipeline::plan`).
pub(super) static CREATE_MANY: Multi = Multi {
    sql: concat!(
        "WITH p AS (INSERT INTO payouts (",
        payout_cols!(),
        ") SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], \
         $8::text[], $9::text[], $10::int8[], $11::uuid[], $12::text[], $13::text[], $14::text[], $15::date[], $16::text[], \
         $17::text[], $18::uuid[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::int8[], \
         $25::timestamptz[], $26::timestamptz[], $27::timestamptz[], $28::uuid[], $29::uuid[], $30::timestamptz[]) \
         RETURNING id, state, created_at) \
         INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) \
         SELECT id, 1, NULL, state, 'created', created_at FROM p"
    ),
    main: &[
        Ty::Uuid,
        Ty::Uuid,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::I64,
        Ty::I64,
        Ty::Text,
        Ty::Text,
        Ty::I64,
        Ty::Uuid,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Date,
        Ty::Text,
        Ty::Text,
        Ty::Uuid,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::Text,
        Ty::I64,
        Ty::Time,
        Ty::Time,
        Ty::Time,
        Ty::Uuid,
        Ty::Uuid,
        Ty::Time,
    ],
    extra: &[],
    expect_each: false,
};

/// A payout's row for `CREATE_MANY`, in column order (times as the database keeps them).
pub(super) fn create_row(p: &PayoutRow) -> Rows {
    let main: Vec<Val> = vec![
        p.id.into(),
        p.account_id.0.into(),
        p.short_reference_id.clone().into(),
        p.unique_request_id.clone().into(),
        p.currency.clone().into(),
        p.amount.into(),
        p.fee_amount.into(),
        p.fee_paid_by.clone().into(),
        p.payout_currency.clone().into(),
        p.payout_amount.into(),
        p.quote_id.into(),
        p.client_rate.clone().into(),
        p.purpose_code.clone().into(),
        p.payout_reference.clone().into(),
        p.payout_date.into(),
        p.payment_method.clone().into(),
        p.clearing_system.clone().into(),
        p.beneficiary_id.into(),
        p.beneficiary.to_string().into(),
        p.payer.as_ref().map(Value::to_string).into(),
        p.documentation.to_string().into(),
        p.state.clone().into(),
        p.failure_reason.clone().into(),
        p.failure_returned_amount.into(),
        db_time(p.created_at).into(),
        db_time(p.updated_at).into(),
        p.completed_at.map(db_time).into(),
        p.created_by.into(),
        p.approved_by.into(),
        p.approved_at.map(db_time).into(),
    ];
    Rows { multi: &CREATE_MANY, main, extra: Vec::new() }
}

pub const SQL_OPEN_PAYOUTS: &str = concat!(
    "SELECT ",
    payout_cols!(),
    " FROM payouts WHERE state IN ('SCHEDULED', 'READY_TO_SEND', 'SENT') \
     AND (state <> 'SCHEDULED' OR payout_date <= $2) AND updated_at <= $1 \
     AND ($3::timestamptz IS NULL OR (updated_at, id) > ($3, $4::uuid)) ORDER BY updated_at, id LIMIT $5"
);
