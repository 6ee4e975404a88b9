//! The batch engine: a payout batch is created from a file (CSV or JSON Lines) or a JSON list,
//! validated row by row with exactly the rules of a single payout, then either waits for
//! approval (maker-checker) or is released.
//!
//! # Interface (stable; used by the HTTP API and the SFTP ingestion)
//!
//! - [`create_batch_from_reader`]`(engine, `[`NewBatchRequest`]` { account, created_by, file_name,
//!   format: `[`BatchFileFormat`]`::{Csv, Jsonl}, mode: `[`BatchMode`]`, on_behalf, content_sha256,
//!   reader })` reads the file streaming (bounded memory: rows are parsed one by one and written
//!   in chunks of [`CHUNK_ROWS`]), and answers the batch row
//!   ([`outlay_store::PayoutBatchRow`]) once validated, and released when no approval is needed.
//!   A file whose content hash was already sent by the account is refused
//!   ([`BatchError::DuplicateFile`]); a file-level problem (no header, unknown or missing column)
//!   gives a FAILED batch with `failure_code`/`failure_reason`.
//! - [`create_batch_from_values`]: the same for a JSON list of create-payout bodies.
//! - Per-row results: `Store::payout_batch(account, id)`, `Store::payout_batch_items(batch,
//!   status, page)` (row number, status VALID/INVALID/CREATED/FAILED/CANCELLED, payout id or
//!   error field/code/message), `Store::payout_batch_totals(batch)`.
//! - [`is_final`]: every row of the batch has its final answer (COMPLETED, CANCELLED or FAILED).
//! - [`approve`] (a different credential than the creator), [`cancel`].
//!
//! Modes: `ALL_OR_NOTHING` (the default) holds every row in one writer transaction or nothing
//! (an invalid row, a row refused at release, or an insufficient balance fails the whole batch
//! with nothing held); `PARTIAL` releases the valid rows, chunk by chunk, and reports the rest.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use outlay_core::AccountId;
use outlay_store::{BatchItemRow, BeneficiaryRow, PayoutBatchRow};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ops::batches::{ALL_OR_NOTHING, LockedRate, PARTIAL, item_status, status};
use crate::parse::FieldIssue;
use crate::parse::payout::{CreatePayout, parse_payout};
use crate::{BatchValidation, BeneficiarySource, Command, CommandError, Engine, NewPayout, Outcome};

/// Rows written per writer command while ingesting, and released per command in PARTIAL mode.
pub const CHUNK_ROWS: usize = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchFileFormat {
    Csv,
    Jsonl,
}

impl BatchFileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchFileFormat::Csv => "CSV",
            BatchFileFormat::Jsonl => "JSONL",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BatchMode {
    #[default]
    AllOrNothing,
    Partial,
}

impl BatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchMode::AllOrNothing => ALL_OR_NOTHING,
            BatchMode::Partial => PARTIAL,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            ALL_OR_NOTHING => Some(BatchMode::AllOrNothing),
            PARTIAL => Some(BatchMode::Partial),
            _ => None,
        }
    }
}

pub struct NewBatchRequest<R> {
    pub account: AccountId,
    /// The credential that sends the batch (the maker); None for operator or system files.
    pub created_by: Option<Uuid>,
    pub file_name: Option<String>,
    pub format: BatchFileFormat,
    pub mode: BatchMode,
    /// The caller acts for a connected account (x-on-behalf-of): it becomes the payer.
    pub on_behalf: bool,
    /// When the caller already knows the file's SHA-256 (hex), a resent file is refused before
    /// it is read; otherwise the hash is computed while reading and checked at the end.
    pub content_sha256: Option<String>,
    pub reader: R,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("file was already sent as batch {existing} (same content)")]
    DuplicateFile { existing: Uuid },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("reading the file: {0}")]
    Io(String),
}

/// Every row of the batch has its final answer.
pub fn is_final(b: &PayoutBatchRow) -> bool {
    [status::COMPLETED, status::CANCELLED, status::FAILED].contains(&b.status.as_str())
}

/// A stored row (a create-payout JSON body) as a payout request of `account`.
pub fn row_to_payout(value: Value, account: AccountId) -> Result<NewPayout, Vec<FieldIssue>> {
    let body: CreatePayout = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." { "row".to_owned() } else { path };
        let inner = e.into_inner().to_string();
        if inner.starts_with("unknown field") {
            vec![FieldIssue::new(field, "unknown_field", "is not a field of a payout")]
        } else {
            vec![FieldIssue::new(field, "invalid_type", format!("has the wrong type or value ({inner})"))]
        }
    })?;
    parse_payout(body, account, false, None)
}

/// Columns a CSV file may have: the API's field names, nested beneficiary fields with dots.
pub const CSV_COLUMNS: &[&str] = &[
    "currency",
    "amount",
    "purpose_code",
    "payout_reference",
    "fee_paid_by",
    "payout_date",
    "quote_id",
    "payout_currency",
    "payout_amount",
    "beneficiary_id",
    "is_payer",
    "payer_id",
    "beneficiary.entity_type",
    "beneficiary.payment_method",
    "beneficiary.first_name",
    "beneficiary.last_name",
    "beneficiary.company_name",
    "beneficiary.nickname",
    "beneficiary.email",
    "beneficiary.bank_details.bank_name",
    "beneficiary.bank_details.bank_address",
    "beneficiary.bank_details.bank_country_code",
    "beneficiary.bank_details.account_holder",
    "beneficiary.bank_details.account_currency_code",
    "beneficiary.bank_details.swift_code",
    "beneficiary.bank_details.clearing_system",
    "beneficiary.bank_details.account_number",
    "beneficiary.bank_details.iban",
    "beneficiary.bank_details.routing_code_type1",
    "beneficiary.bank_details.routing_code_value1",
    "beneficiary.bank_details.routing_code_type2",
    "beneficiary.bank_details.routing_code_value2",
    "beneficiary.address.street_address",
    "beneficiary.address.city",
    "beneficiary.address.state",
    "beneficiary.address.postal_code",
    "beneficiary.address.country",
    "beneficiary.address.nationality",
    "beneficiary.additional_info.organization_code",
    "beneficiary.additional_info.proxy_id",
    "beneficiary.additional_info.id_type",
    "beneficiary.additional_info.id_number",
    "beneficiary.additional_info.tax_id",
    "beneficiary.additional_info.msisdn",
];

const REQUIRED_COLUMNS: &[&str] = &["currency", "amount", "purpose_code", "payout_reference", "payout_date"];

/// One row as read from the file: its number and its JSON body, or why it could not be read.
struct RawRow {
    number: i64,
    body: Result<Value, FieldIssue>,
}

/// A file-level problem: the batch fails with this code and message.
struct FileError {
    code: &'static str,
    message: String,
}

fn file_error(code: &'static str, message: impl Into<String>) -> FileError {
    FileError { code, message: message.into() }
}

/// Hashes everything read through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Read one physical line (without its line break); false at the end of the file.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    if reader.read_until(b'\n', buf)? == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(true)
}

fn strip_bom(buf: &mut Vec<u8>) {
    if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
        buf.drain(..3);
    }
}

fn decode(number: i64, buf: &[u8]) -> Result<&str, FieldIssue> {
    std::str::from_utf8(buf).map_err(|e| {
        FieldIssue::new(
            "row",
            "invalid_encoding",
            format!("is not valid UTF-8 (at byte {} of line {number})", e.valid_up_to() + 1),
        )
    })
}

/// Split one CSV line (RFC 4180, comma-separated, fields may be quoted with `"`, a quote inside a
/// quoted field doubled). Strict: a stray quote or an unclosed one is an error, not a guess.
/// Fields cannot contain line breaks.
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    let mut column = 1;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("the quote opened in column {column} is not closed on this line")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => {
                    return Err(format!(
                        "column {column}: text follows the closing quote (quote a quote by doubling it)"
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err(format!(
                            "column {column}: a quote inside an unquoted field (quote the field and double the quote)"
                        ));
                    }
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
        column += 1;
    }
}

/// Set `path` (dotted) to `value` in a JSON object.
fn set_path(root: &mut Map<String, Value>, path: &str, value: String) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_owned(), Value::String(value));
        }
        Some((head, rest)) => {
            let child = root.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = child {
                set_path(map, rest, value);
            }
        }
    }
}

fn check_header(columns: &[String]) -> Result<(), FileError> {
    let mut seen = std::collections::HashSet::new();
    for c in columns {
        if !CSV_COLUMNS.contains(&c.as_str()) {
            return Err(file_error(
                "unknown_column",
                format!("column {c:?} is not a payout field (see docs/batches.md for the column list)"),
            ));
        }
        if !seen.insert(c.as_str()) {
            return Err(file_error("duplicate_column", format!("column {c} appears twice in the header")));
        }
    }
    let missing: Vec<&str> = REQUIRED_COLUMNS.iter().copied().filter(|r| !seen.contains(r)).collect();
    if !missing.is_empty() {
        return Err(file_error(
            "missing_column",
            format!("the header lacks required column(s): {}", missing.join(", ")),
        ));
    }
    if !seen.contains("beneficiary_id") && !seen.iter().any(|c| c.starts_with("beneficiary.")) {
        return Err(file_error("missing_column", "the header needs beneficiary_id or beneficiary.* columns"));
    }
    Ok(())
}

/// Read a CSV file row by row, calling `row` for each.
fn read_csv(reader: impl Read, mut row: impl FnMut(RawRow) -> bool) -> Result<(), FileError> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buf = Vec::new();
    let io = |e: std::io::Error| file_error("unreadable_file", e.to_string());
    let mut number = 1i64;
    // The header: the first non-blank line.
    let header = loop {
        if !next_line(&mut reader, &mut buf).map_err(io)? {
            return Err(file_error("empty_file", "the file has no header line"));
        }
        if number == 1 {
            strip_bom(&mut buf);
        }
        if !buf.iter().all(u8::is_ascii_whitespace) {
            break buf.clone();
        }
        number += 1;
    };
    let header = std::str::from_utf8(&header)
        .map_err(|_| file_error("invalid_encoding", "the header line is not valid UTF-8"))?;
    let columns: Vec<String> = split_csv_line(header)
        .map_err(|e| file_error("invalid_header", format!("header line: {e}")))?
        .into_iter()
        .map(|c| c.trim().to_owned())
        .collect();
    check_header(&columns)?;
    while next_line(&mut reader, &mut buf).map_err(io)? {
        number += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let body = decode(number, &buf).and_then(|line| {
            let fields = split_csv_line(line).map_err(|e| FieldIssue::new("row", "invalid_quoting", e))?;
            if fields.len() != columns.len() {
                return Err(FieldIssue::new(
                    "row",
                    "wrong_field_count",
                    format!("has {} fields; the header has {} columns", fields.len(), columns.len()),
                ));
            }
            let mut object = Map::new();
            for (column, value) in columns.iter().zip(fields) {
                if !value.trim().is_empty() {
                    set_path(&mut object, column, value);
                }
            }
            Ok(Value::Object(object))
        });
        if !row(RawRow { number, body }) {
            break;
        }
    }
    Ok(())
}

/// Read a JSON Lines file: one create-payout body per line.
fn read_jsonl(reader: impl Read, mut row: impl FnMut(RawRow) -> bool) -> Result<(), FileError> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buf = Vec::new();
    let mut number = 0i64;
    let mut any = false;
    while next_line(&mut reader, &mut buf).map_err(|e| file_error("unreadable_file", e.to_string()))? {
        number += 1;
        if number == 1 {
            strip_bom(&mut buf);
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        any = true;
        let body = decode(number, &buf).and_then(|line| match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(FieldIssue::new("row", "invalid_json", "must be a JSON object")),
            Err(e) => Err(FieldIssue::new("row", "invalid_json", format!("is not valid JSON: {e}"))),
        });
        if !row(RawRow { number, body }) {
            break;
        }
    }
    if any { Ok(()) } else { Err(file_error("empty_file", "the file has no rows")) }
}

/// Validates rows and builds the items; keeps only what duplicate detection needs.
struct Validator {
    batch: Uuid,
    account: AccountId,
    /// For the rules that need the beneficiary (read through the store, cached).
    store: std::sync::Arc<dyn outlay_store::Store>,
    handle: tokio::runtime::Handle,
    now: time::OffsetDateTime,
    config: crate::EngineConfig,
    beneficiaries: HashMap<Uuid, Option<std::sync::Arc<BeneficiaryRow>>>,
    on_behalf: bool,
    thresholds: std::collections::BTreeMap<String, i64>,
    /// First 16 bytes of SHA-256(reference, beneficiary, amount) → first row with it.
    seen: HashMap<[u8; 16], i64>,
    total: i64,
    valid: i64,
    invalid: i64,
    above_threshold: bool,
    /// The batch's locked quote, and what its valid cross-currency rows sell and buy in total.
    quote: Option<LockedRate>,
    quoted_sell: i128,
    quoted_buy: i128,
    /// Amount plus fee of the valid rows per currency.
    valid_totals: outlay_store::BatchTotals,
}

fn beneficiary_identity(value: &Value) -> String {
    match (value.get("beneficiary_id"), value.get("beneficiary")) {
        (Some(id), _) => format!("id:{id}"),
        // serde_json's maps are ordered by key, so equal details print equally.
        (None, Some(b)) => format!("inline:{}", b.get("bank_details").unwrap_or(b)),
        (None, None) => String::new(),
    }
}

/// A refusal of a rule as the row's field issues (the message without its leading field name).
fn issues(e: CommandError) -> Vec<FieldIssue> {
    match e {
        CommandError::Rejected { field, code, message } => {
            let message = message.strip_prefix(field).map(str::trim_start).map_or(message.clone(), str::to_owned);
            vec![FieldIssue::new(field, code, message)]
        }
        other => vec![FieldIssue::new("row", "refused", other)],
    }
}

/// Cached beneficiaries kept at most (a file may name a million different ones).
const BENEFICIARY_CACHE: usize = 10_000;

impl Validator {
    fn beneficiary(&mut self, p: &NewPayout) -> Result<Option<std::sync::Arc<BeneficiaryRow>>, FieldIssue> {
        let nb = match &p.beneficiary {
            BeneficiarySource::Stored(id) => {
                if let Some(b) = self.beneficiaries.get(id) {
                    return Ok(b.clone());
                }
                if self.beneficiaries.len() >= BENEFICIARY_CACHE {
                    self.beneficiaries.clear();
                }
                let store = self.store.clone();
                let (account, id) = (self.account, *id);
                let found = self
                    .handle
                    .block_on(async move { store.beneficiary(account, id).await })
                    .map_err(|e| FieldIssue::new("row", "internal_error", e))?
                    .map(std::sync::Arc::new);
                self.beneficiaries.insert(id, found.clone());
                return Ok(found);
            }
            BeneficiarySource::Inline(nb) => nb,
        };
        Ok(Some(std::sync::Arc::new(BeneficiaryRow {
            id: Uuid::nil(),
            account_id: self.account,
            short_reference_id: String::new(),
            entity_type: nb.entity_type.clone(),
            payment_method: nb.payment_method.clone(),
            first_name: nb.first_name.clone(),
            last_name: nb.last_name.clone(),
            company_name: nb.company_name.clone(),
            nickname: nb.nickname.clone(),
            email: nb.email.clone(),
            bank_country_code: nb.bank_country_code.clone(),
            account_currency_code: nb.account_currency_code.clone(),
            clearing_system: nb.clearing_system.clone(),
            bank_details: nb.bank_details.clone(),
            address: nb.address.clone(),
            additional_info: nb.additional_info.clone(),
            status: "ACTIVE".to_owned(),
            created_at: self.now,
            updated_at: self.now,
        })))
    }

    /// The single-payout rules that need the beneficiary; the row's amount plus fee (its hold).
    fn check_with_beneficiary(&mut self, p: &NewPayout) -> Result<i64, Vec<FieldIssue>> {
        let Some(b) = self.beneficiary(p).map_err(|e| vec![e])? else {
            return Err(vec![FieldIssue::new(
                "beneficiary_id",
                "beneficiary_not_found",
                "names no active beneficiary",
            )]);
        };
        crate::ops::batches::precheck(p, &b, self.now, &self.config, self.quote.is_some()).map_err(issues)?;
        let ctx = crate::ops::Ctx { now: self.now, config: &self.config };
        let (_, _, total) = crate::ops::payouts::fee_and_total(&ctx, p, &b).map_err(issues)?;
        Ok(total.minor())
    }

    /// With a batch quote: a row of the quote's pair gets both its amounts at the locked rate
    /// (written into the row, so release converts exactly what was validated); a cross-currency
    /// row of another pair, or one with a quote of its own, is refused. Fields the row parser
    /// will refuse anyway (a bad currency or amount) are left to it.
    fn apply_quote(&self, value: &mut Value) -> Result<(), Vec<FieldIssue>> {
        let (Some(q), Value::Object(map)) = (&self.quote, value) else { return Ok(()) };
        if map.contains_key("quote_id") {
            return Err(vec![FieldIssue::new(
                "quote_id",
                "quote_conflict",
                format!(
                    "the batch's quote {} is locked for every row: a row cannot carry its own quote_id",
                    q.quote_id
                ),
            )]);
        }
        let currency_of = |field: &str| {
            map.get(field).and_then(Value::as_str).and_then(|c| outlay_core::Currency::parse(c.trim()).ok())
        };
        let (Some(currency), Some(payout_currency)) = (currency_of("currency"), currency_of("payout_currency")) else {
            return Ok(());
        };
        if currency == payout_currency {
            return Ok(());
        }
        q.check_pair(currency, payout_currency).map_err(issues)?;
        let amount_of = |field: &str, c| {
            map.get(field).map(|v| {
                serde_json::from_value::<crate::parse::DecimalInput>(v.clone())
                    .ok()
                    .and_then(|d| d.parse(field, c).ok())
            })
        };
        let (amount, payout_amount) = (amount_of("amount", currency), amount_of("payout_amount", payout_currency));
        // Unparseable: the row parser names the problem.
        if matches!(amount, Some(None)) || matches!(payout_amount, Some(None)) {
            return Ok(());
        }
        let (a, pa) = q.amounts(amount.flatten(), payout_amount.flatten()).map_err(issues)?;
        map.insert("amount".into(), Value::String(a.to_decimal_string(currency)));
        map.insert("payout_amount".into(), Value::String(pa.to_decimal_string(payout_currency)));
        Ok(())
    }

    /// The batch quote does not cover the rows of its pair: the batch fails as a whole.
    fn quote_excess(&self) -> Option<(String, String)> {
        let q = self.quote.as_ref()?;
        let (field, used, cap, currency) = match q.fixed {
            outlay_core::fx::Fixed::Buy(cap) => ("payout_amount", self.quoted_buy, cap, q.buy),
            outlay_core::fx::Fixed::Sell(cap) => ("amount", self.quoted_sell, cap, q.sell),
        };
        if used <= i128::from(cap.minor()) {
            return None;
        }
        let used = i64::try_from(used).ok().and_then(|m| outlay_core::Amount::from_minor(m).ok());
        Some((
            "quote_amount_exceeded".to_owned(),
            format!(
                "the rows converted with quote {} total {} {currency} of {field}, more than the quote's {} {currency}: \
                 nothing is released (request a quote for the whole batch total)",
                q.quote_id,
                used.map_or_else(|| "more than the maximum".to_owned(), |u| u.to_decimal_string(currency)),
                cap.to_decimal_string(currency)
            ),
        ))
    }

    fn item(&mut self, raw: RawRow) -> BatchItemRow {
        self.total += 1;
        let mut item = BatchItemRow {
            batch_id: self.batch,
            row_number: raw.number,
            status: item_status::INVALID.to_owned(),
            currency: None,
            amount: None,
            payout_reference: None,
            payload: None,
            payout_id: None,
            error_field: None,
            error_code: None,
            error_message: None,
        };
        let result = raw.body.map_err(|e| vec![e]).and_then(|mut value| {
            if self.on_behalf
                && let Value::Object(map) = &mut value
            {
                map.entry("is_payer").or_insert_with(|| Value::String("Y".into()));
            }
            self.apply_quote(&mut value)?;
            // What a valid row keeps, taken before the parser consumes the row (no copy of it).
            let identity = beneficiary_identity(&value);
            let payload = value.to_string();
            let p = row_to_payout(value, self.account)?;
            let total = self.check_with_beneficiary(&p)?;
            Ok((p, identity, payload, total))
        });
        match result {
            Err(issues) => {
                self.invalid += 1;
                let mut issues = issues.into_iter();
                if let Some(first) = issues.next() {
                    let rest: Vec<String> = issues.map(|i| i.message).collect();
                    item.error_message = Some(if rest.is_empty() {
                        first.message
                    } else {
                        format!("{}; {}", first.message, rest.join("; "))
                    });
                    item.error_field = Some(first.field);
                    item.error_code = Some(first.code.to_owned());
                }
            }
            Ok((p, identity, payload, total)) => {
                item.currency = Some(p.currency.code().to_owned());
                item.amount = Some(p.amount.minor());
                item.payout_reference = Some(p.payout_reference.clone());
                let mut h = Sha256::new();
                h.update(p.payout_reference.as_bytes());
                h.update([0]);
                h.update(identity.as_bytes());
                h.update([0]);
                h.update(format!("{}:{}", p.currency.code(), p.amount.minor()).as_bytes());
                let digest = h.finalize();
                let mut key = [0u8; 16];
                key.copy_from_slice(&digest[..16]);
                if let Some(first) = self.seen.get(&key) {
                    self.invalid += 1;
                    item.error_field = Some("payout_reference".into());
                    item.error_code = Some("duplicate_row".into());
                    item.error_message = Some(format!(
                        "payout_reference duplicates row {first} (same payout_reference, beneficiary and amount)"
                    ));
                } else {
                    self.seen.insert(key, raw.number);
                    self.valid += 1;
                    let sum = self.valid_totals.entry(p.currency.code().to_owned()).or_insert(0);
                    // Totals past i64 cannot be held as a whole: the rows then hold one by one.
                    *sum = sum.saturating_add(total);
                    if self.thresholds.get(p.currency.code()).is_some_and(|limit| p.amount.minor() > *limit) {
                        self.above_threshold = true;
                    }
                    if self.quote.is_some()
                        && let Some(payout_amount) = p.payout_amount
                        && p.payout_currency.is_some_and(|c| c != p.currency)
                    {
                        self.quoted_sell += i128::from(p.amount.minor());
                        self.quoted_buy += i128::from(payout_amount.minor());
                    }
                    item.status = item_status::VALID.to_owned();
                    item.payload = Some(payload);
                }
            }
        }
        item
    }
}

enum Chunk {
    Items(Vec<BatchItemRow>),
    Done { sha256: Option<String>, validator: Box<Validator>, error: Option<FileError> },
}

fn expect_batch(outcome: Outcome) -> Result<PayoutBatchRow, CommandError> {
    match outcome {
        Outcome::Batch(b) => Ok(*b),
        _ => Err(CommandError::Internal("the writer answered something else than a batch".into())),
    }
}

/// What a new batch is made of, before its rows are read.
struct Origin {
    account: AccountId,
    created_by: Option<Uuid>,
    file_name: Option<String>,
    format: &'static str,
    mode: BatchMode,
    content_sha256: Option<String>,
    quote_id: Option<Uuid>,
}

async fn start(
    engine: &Engine,
    origin: Origin,
) -> Result<(PayoutBatchRow, std::collections::BTreeMap<String, i64>), BatchError> {
    let Origin { account, created_by, file_name, format, mode, content_sha256, quote_id } = origin;
    let policy = engine.store().approval_policy(account).await.map_err(CommandError::from)?;
    let approval_required = policy.as_ref().is_none_or(|p| p.approval_required_for_batches);
    let thresholds = policy.map(|p| p.payout_approval_thresholds).unwrap_or_default();
    let now = engine.clock().now();
    let row = PayoutBatchRow {
        id: Uuid::now_v7(),
        account_id: account,
        created_by,
        file_name,
        format: format.to_owned(),
        mode: mode.as_str().to_owned(),
        content_sha256,
        // Set when validation ends: a batch a crash left VALIDATING never blocks its file.
        dedup_sha256: None,
        status: status::VALIDATING.to_owned(),
        approval_required,
        total_rows: 0,
        valid_rows: 0,
        invalid_rows: 0,
        open_payouts: 0,
        failure_code: None,
        failure_reason: None,
        approved_by: None,
        approved_at: None,
        cancelled_by: None,
        cancelled_at: None,
        released_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
        quote_id,
        client_rate: None,
        valid_totals: outlay_store::BatchTotals::new(),
        held: None,
        held_at: None,
    };
    match engine.execute(Command::CreateBatch(Box::new(row))).await {
        Ok(outcome) => Ok((expect_batch(outcome)?, thresholds)),
        Err(CommandError::Rejected { code: "duplicate_file", message, .. }) => {
            let existing = message.split_whitespace().find_map(|w| Uuid::parse_str(w).ok()).unwrap_or_default();
            Err(BatchError::DuplicateFile { existing })
        }
        Err(e) => Err(e.into()),
    }
}

/// Read rows on a blocking thread, validate them, and write them in chunks through the writer.
async fn ingest<F>(
    engine: &Arc<Engine>,
    batch: PayoutBatchRow,
    validator: Validator,
    read: F,
) -> Result<PayoutBatchRow, BatchError>
where
    F: FnOnce(&mut dyn FnMut(RawRow) -> bool) -> (Option<String>, Result<(), FileError>) + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut validator = validator;
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut open = true;
        let (sha256, result) = read(&mut |raw| {
            chunk.push(validator.item(raw));
            if chunk.len() >= CHUNK_ROWS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                open = tx.blocking_send(Chunk::Items(full)).is_ok();
            }
            open
        });
        if open && !chunk.is_empty() {
            open = tx.blocking_send(Chunk::Items(chunk)).is_ok();
        }
        if open {
            let _ = tx.blocking_send(Chunk::Done { sha256, validator: Box::new(validator), error: result.err() });
        }
    });
    let mut done = None;
    let mut failure = None;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Items(items) => {
                if let Err(e) = engine.execute(Command::AddBatchItems { batch: batch.id, items }).await {
                    failure = Some(e);
                    break;
                }
            }
            Chunk::Done { sha256, validator, error } => done = Some((sha256, validator, error)),
        }
    }
    drop(rx);
    reader.await.map_err(|e| BatchError::Io(e.to_string()))?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let Some((sha256, v, error)) = done else {
        return Err(BatchError::Io("the reader stopped before the end of the file".into()));
    };
    let validation = BatchValidation {
        batch: batch.id,
        content_sha256: sha256,
        total_rows: v.total,
        valid_rows: v.valid,
        invalid_rows: v.invalid,
        above_threshold: v.above_threshold,
        file_error: error.map(|e| (e.code.to_owned(), e.message)).or_else(|| v.quote_excess()),
        valid_totals: v.valid_totals,
    };
    let outcome = engine
        .execute(Command::FinishBatchValidation { account: batch.account_id, done: Box::new(validation) })
        .await?;
    let b = expect_batch(outcome)?;
    if b.failure_code.as_deref() == Some("duplicate_file") && b.status == status::FAILED {
        let existing = b
            .failure_reason
            .as_deref()
            .and_then(|r| r.split_whitespace().find_map(|w| Uuid::parse_str(w).ok()))
            .unwrap_or_default();
        return Err(BatchError::DuplicateFile { existing });
    }
    if b.status == status::VALIDATED {
        return Ok(release_for_caller(engine, b.account_id, b.id).await?);
    }
    Ok(b)
}

/// Release a VALIDATED batch (or resume a RELEASING one) until every valid row has its payout.
pub async fn release(engine: &Engine, account: AccountId, batch: Uuid) -> Result<PayoutBatchRow, CommandError> {
    loop {
        let limit = u32::try_from(CHUNK_ROWS).unwrap_or(u32::MAX);
        let b = expect_batch(engine.execute(Command::ReleaseBatch { account, batch, limit }).await?)?;
        if b.status != status::RELEASING {
            return Ok(b);
        }
    }
}

/// Release for a caller that waits (an API request, an SFTP file): a batch held as a whole is
/// answered once it is held and one chunk of its payouts is created (a batch of up to
/// `CHUNK_ROWS` rows is then done); the rest of its payouts are created in the background, so a
/// million-row upload does not wait minutes (or time out) for them. A batch held row by row is
/// released to the end here, as before. A background release a crash interrupts is resumed when
/// a worker node starts ([`resume_unfinished`]).
async fn release_for_caller(
    engine: &Arc<Engine>,
    account: AccountId,
    batch: Uuid,
) -> Result<PayoutBatchRow, CommandError> {
    let limit = u32::try_from(CHUNK_ROWS).unwrap_or(u32::MAX);
    let mut chunks_since_held = 0;
    loop {
        let b = expect_batch(engine.execute(Command::ReleaseBatch { account, batch, limit }).await?)?;
        if b.status != status::RELEASING {
            return Ok(b);
        }
        if b.held_at.is_some() {
            chunks_since_held += 1;
            if chunks_since_held > 1 {
                let engine = engine.clone();
                tokio::spawn(async move {
                    if let Err(e) = release(&engine, account, batch).await {
                        tracing::warn!(%batch, error = %e, "creating a held batch's payouts stopped; a worker node resumes it when it starts");
                    }
                });
                return Ok(b);
            }
        }
    }
}

/// Carry on releasing every batch a crash left VALIDATED or RELEASING: all of them (at
/// start-up), or those that made no progress for `idle_for` (a node creating a batch's payouts
/// updates it every chunk; one that stopped leaves it idle). Safe on several nodes: each chunk
/// locks its batch and takes only rows still VALID.
pub async fn resume_unfinished(engine: &Engine, idle_for: Option<time::Duration>) -> Result<usize, CommandError> {
    let now = engine.clock().now();
    let batches = engine.store().payout_batches_to_resume(1_000).await?;
    let idle = |b: &&PayoutBatchRow| idle_for.is_none_or(|idle| b.updated_at + idle <= now);
    let mut resumed = 0;
    for b in batches.iter().filter(idle) {
        tracing::info!(batch = %b.id, status = %b.status, "resuming the release of a payout batch");
        release(engine, b.account_id, b.id).await?;
        resumed += 1;
    }
    Ok(resumed)
}

/// How long a batch being released may go without progress before another node carries it on.
pub const RELEASE_IDLE: time::Duration = time::Duration::seconds(60);

/// Approve a batch waiting for approval (maker-checker) and release it.
pub async fn approve(
    engine: &Arc<Engine>,
    account: AccountId,
    batch: Uuid,
    approver: Uuid,
) -> Result<PayoutBatchRow, CommandError> {
    let b = expect_batch(engine.execute(Command::ApproveBatch { account, batch, approver }).await?)?;
    if b.status == status::RELEASING { release_for_caller(engine, account, batch).await } else { Ok(b) }
}

pub async fn cancel(
    engine: &Engine,
    account: AccountId,
    batch: Uuid,
    by: Option<Uuid>,
) -> Result<PayoutBatchRow, CommandError> {
    expect_batch(engine.execute(Command::CancelBatch { account, batch, by }).await?)
}

/// Create a batch from a CSV or JSON Lines file, read streaming.
pub async fn create_batch_from_reader<R: Read + Send + 'static>(
    engine: &Arc<Engine>,
    req: NewBatchRequest<R>,
) -> Result<PayoutBatchRow, BatchError> {
    create_batch_from_reader_with_quote(engine, req, None).await
}

/// [`create_batch_from_reader`] with one FX quote locked for the whole batch (`quote_id`: a
/// `payout` quote, unexpired and unused; the batch uses it). See docs/batches.md.
pub async fn create_batch_from_reader_with_quote<R: Read + Send + 'static>(
    engine: &Arc<Engine>,
    req: NewBatchRequest<R>,
    quote_id: Option<Uuid>,
) -> Result<PayoutBatchRow, BatchError> {
    let origin = Origin {
        account: req.account,
        created_by: req.created_by,
        file_name: req.file_name,
        format: req.format.as_str(),
        mode: req.mode,
        content_sha256: req.content_sha256,
        quote_id,
    };
    let (batch, thresholds) = start(engine, origin).await?;
    let validator = new_validator(engine, &batch, req.on_behalf, thresholds).await?;
    let (format, reader) = (req.format, req.reader);
    ingest(engine, batch, validator, move |row| {
        let mut hashing = Hashing { inner: reader, hash: Sha256::new() };
        let result = match format {
            BatchFileFormat::Csv => read_csv(&mut hashing, row),
            BatchFileFormat::Jsonl => read_jsonl(&mut hashing, row),
        };
        // Hash what is left so a file refused early still hashes whole.
        let _ = std::io::copy(&mut hashing, &mut std::io::sink());
        (Some(hex::encode(hashing.hash.finalize())), result)
    })
    .await
}

async fn new_validator(
    engine: &Engine,
    batch: &PayoutBatchRow,
    on_behalf: bool,
    thresholds: std::collections::BTreeMap<String, i64>,
) -> Result<Validator, BatchError> {
    let quote = match batch.quote_id {
        Some(id) => match engine.store().quote(batch.account_id, id).await.map_err(CommandError::from)? {
            Some(q) => Some(LockedRate::from_quote(&q)?),
            None => return Err(CommandError::Internal(format!("the batch's quote {id} is missing")).into()),
        },
        None => None,
    };
    Ok(Validator {
        batch: batch.id,
        account: batch.account_id,
        store: engine.store().clone(),
        handle: tokio::runtime::Handle::current(),
        now: engine.clock().now(),
        config: engine.config().clone(),
        beneficiaries: HashMap::new(),
        on_behalf,
        thresholds,
        seen: HashMap::new(),
        total: 0,
        valid: 0,
        invalid: 0,
        above_threshold: false,
        quote,
        quoted_sell: 0,
        quoted_buy: 0,
        valid_totals: outlay_store::BatchTotals::new(),
    })
}

/// Create a batch from a JSON list of create-payout bodies (the API's JSON form).
pub async fn create_batch_from_values(
    engine: &Arc<Engine>,
    account: AccountId,
    created_by: Option<Uuid>,
    mode: BatchMode,
    on_behalf: bool,
    rows: Vec<Value>,
) -> Result<PayoutBatchRow, BatchError> {
    create_batch_from_values_with_quote(engine, account, created_by, mode, on_behalf, rows, None).await
}

/// [`create_batch_from_values`] with one FX quote locked for the whole batch.
pub async fn create_batch_from_values_with_quote(
    engine: &Arc<Engine>,
    account: AccountId,
    created_by: Option<Uuid>,
    mode: BatchMode,
    on_behalf: bool,
    rows: Vec<Value>,
    quote_id: Option<Uuid>,
) -> Result<PayoutBatchRow, BatchError> {
    let origin = Origin { account, created_by, file_name: None, format: "JSON", mode, content_sha256: None, quote_id };
    let (batch, thresholds) = start(engine, origin).await?;
    let validator = new_validator(engine, &batch, on_behalf, thresholds).await?;
    ingest(engine, batch, validator, move |row| {
        for (i, value) in rows.into_iter().enumerate() {
            let body = match value {
                v @ Value::Object(_) => Ok(v),
                _ => Err(FieldIssue::new("row", "invalid_json", "must be a JSON object")),
            };
            if !row(RawRow { number: i64::try_from(i).unwrap_or(i64::MAX) + 1, body }) {
                break;
            }
        }
        (None, Ok(()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_split_strictly() {
        let owned = |v: &[&str]| Ok(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(split_csv_line("a,b,,c"), owned(&["a", "b", "", "c"]));
        assert_eq!(split_csv_line(r#""a,b","say ""hi""",c"#), owned(&["a,b", r#"say "hi""#, "c"]));
        assert_eq!(split_csv_line(r#""""#), owned(&[""]));
        assert!(split_csv_line(r#""abc"def,x"#).err().is_some_and(|e| e.contains("closing quote")));
        assert!(split_csv_line(r#"ab"c,x"#).err().is_some_and(|e| e.contains("unquoted")));
        assert!(split_csv_line(r#"x,"abc"#).err().is_some_and(|e| e.contains("not closed")));
    }

    #[test]
    fn dotted_columns_nest() {
        let mut m = Map::new();
        set_path(&mut m, "beneficiary.bank_details.iban", "DE1".into());
        set_path(&mut m, "beneficiary.entity_type", "INDIVIDUAL".into());
        set_path(&mut m, "amount", "1.00".into());
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"amount": "1.00", "beneficiary": {"entity_type": "INDIVIDUAL", "bank_details": {"iban": "DE1"}}})
        );
    }

    #[test]
    fn header_rules() {
        let cols = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert!(
            check_header(&cols("currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id")).is_ok()
        );
        assert_eq!(
            check_header(&cols("currency,amount,purpose_code,payout_reference,beneficiary_id")).err().map(|e| e.code),
            Some("missing_column")
        );
        assert_eq!(
            check_header(&cols("currency,amount,purpose_code,payout_reference,payout_date,colour"))
                .err()
                .map(|e| e.code),
            Some("unknown_column")
        );
        assert_eq!(
            check_header(&cols("currency,amount,purpose_code,payout_reference,payout_date")).err().map(|e| e.code),
            Some("missing_column")
        );
    }
}
