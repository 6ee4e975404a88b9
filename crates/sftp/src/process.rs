//! What happens to a file once it is complete. The SFTP session records it in the database
//! before it answers the client's close (or rename), so a file the client was told is stored is
//! never lost; the processor then turns it into beneficiaries (Onboarding) or payouts
//! (Payments), writes the acknowledgement and response files, and on start finishes every file
//! that was received but not finished. Every row is created under an idempotency key derived
//! from the file and row, so processing a file again after a crash creates nothing twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use outlay_core::payout::PayoutState;
use outlay_core::{AccountId, IdempotencyKey};
use outlay_engine::batches::{self, BatchError, BatchFileFormat, BatchMode, NewBatchRequest};
use outlay_engine::parse::FieldIssue;
use outlay_engine::{Command, CommandError, Engine, IdempotencyContext, Outcome, StoredResponse, WriteResult};
use outlay_store::{PageRequest, SftpFileRow};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::jail::{Jail, Kind};

/// Most data rows in one file.
pub const MAX_ROWS: usize = 100_000;

/// Record a complete file: its content hash and size, `received` (or `refused` as a duplicate).
pub async fn record(
    engine: &Engine,
    account: AccountId,
    kind: Kind,
    name: &str,
    path: &Path,
) -> anyhow::Result<SftpFileRow> {
    let (sha256, size) = hash_file(path).await?;
    let now = engine.clock().now();
    let row = SftpFileRow {
        id: Uuid::now_v7(),
        account_id: account,
        kind: kind.as_str().to_owned(),
        name: name.to_owned(),
        sha256,
        size: i64::try_from(size)?,
        status: "received".to_owned(),
        batch_id: None,
        detail: None,
        created_at: now,
        updated_at: now,
    };
    match engine.execute(Command::RecordSftpFile(Box::new(row))).await? {
        Outcome::SftpFile(row) => Ok(*row),
        other => anyhow::bail!("unexpected outcome {other:?}"),
    }
}

/// A data row: its line in the file and its JSON body, or why it cannot be read.
type Row = (u64, Result<Value, FieldIssue>);

/// Most bytes of an onboarding file (read whole; payment files are streamed by the batch engine).
pub const MAX_ONBOARDING_FILE: u64 = 64 * 1024 * 1024;

/// How much of a payments file is looked at before the batch engine reads it.
const SNIFF: usize = 64 * 1024;

/// SHA-256 (hex) and size of a file, read in chunks.
async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hash.finalize()), size))
}

/// The start of a file must be text: a prefix cut inside a UTF-8 character is fine.
fn sniff(prefix: &[u8], whole: bool) -> Result<(), Refusal> {
    let valid = match std::str::from_utf8(prefix) {
        Ok(_) => prefix.len(),
        Err(e) if !whole && e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return Err(garbage()),
    };
    text(&prefix[..valid]).map(|_| ())
}

fn garbage() -> Refusal {
    Refusal::new("invalid_file", "the file is not a UTF-8 CSV text file")
}

/// The outcome of one data row.
#[derive(Clone, Debug)]
enum RowResult {
    /// Created: the object id and its short reference.
    Created {
        id: Uuid,
        reference: String,
    },
    Invalid(Vec<FieldIssue>),
}

/// Why a whole file was refused.
#[derive(Clone, Debug)]
struct Refusal {
    code: String,
    message: String,
}

impl Refusal {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Refusal { code: code.into(), message: message.into() }
    }
}

/// A payments file whose batch is not final yet.
struct Pending {
    file: SftpFileRow,
}

pub struct Processor {
    engine: Arc<Engine>,
    root: PathBuf,
    poll: Duration,
    pending: HashMap<Uuid, Pending>,
}

/// CSV quoting for one field of a response file.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn line(fields: &[&str]) -> String {
    let mut out = fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
    out.push('\n');
    out
}

/// Write a response file atomically (a temporary name, then rename).
async fn write_response(path: &Path, content: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, content).await?;
    tokio::fs::File::open(&tmp).await?.sync_all().await?;
    tokio::fs::rename(&tmp, path).await
}

/// Text of a file: UTF-8 (a BOM is dropped), no NUL or other control bytes but tab and line ends.
fn text(bytes: &[u8]) -> Result<&str, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|_| garbage())?;
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(garbage());
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// A CSV file with a header row: each data row becomes a JSON object, a header `a.b` making a
/// nested object; empty cells are left out. Rows that cannot be read are kept as errors.
/// Each row comes with its line number in the file (the header is line 1).
fn rows_as_json(text: &str) -> Result<(Vec<String>, Vec<Row>), Refusal> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Refusal::new("invalid_file", format!("the header row cannot be read: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(Refusal::new("empty_file", "the file has no header row"));
    }
    let mut seen = std::collections::HashSet::new();
    for h in &headers {
        if h.is_empty() || h.split('.').any(str::is_empty) {
            return Err(Refusal::new("invalid_header", format!("column name {h:?} is not valid")));
        }
        if !seen.insert(h) {
            return Err(Refusal::new("invalid_header", format!("column {h} appears twice")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() >= MAX_ROWS {
            return Err(Refusal::new("too_many_rows", format!("a file may hold at most {MAX_ROWS} rows")));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let at = e.position().map_or(0, |p| line_of(text, p));
                rows.push((at, Err(FieldIssue::new("row", "invalid_row", format!("cannot be read: {e}")))));
                continue;
            }
        };
        let at = record.position().map_or(0, |p| line_of(text, p));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            rows.push((
                at,
                Err(FieldIssue::new(
                    "row",
                    "invalid_row",
                    format!("has {} fields; the header has {}", record.len(), headers.len()),
                )),
            ));
            continue;
        }
        let mut object = Map::new();
        for (h, cell) in headers.iter().zip(record.iter()) {
            if !cell.is_empty() {
                insert_path(&mut object, h, cell);
            }
        }
        rows.push((at, Ok(Value::Object(object))));
    }
    if rows.is_empty() {
        return Err(Refusal::new("empty_file", "the file has no data rows"));
    }
    Ok((headers, rows))
}

/// The physical line (from 1) where a record starts: the csv reader's own count skips blank lines.
fn line_of(text: &str, p: &csv::Position) -> u64 {
    let bytes = text.as_bytes();
    let mut end = usize::try_from(p.byte()).unwrap_or(usize::MAX).min(bytes.len());
    // The reader's position may be where it skipped blank lines before the record.
    while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
        end += 1;
    }
    bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

fn insert_path(object: &mut Map<String, Value>, path: &str, value: &str) {
    match path.split_once('.') {
        None => {
            object.insert(path.to_owned(), Value::String(value.to_owned()));
        }
        Some((head, rest)) => {
            let entry = object.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Refuse a header with a column the request type does not know: deserialize one object with
/// every column set and look for serde's unknown-field error.
fn check_header<T: serde::de::DeserializeOwned>(headers: &[String]) -> Result<(), Refusal> {
    let mut probe = Map::new();
    for h in headers {
        insert_path(&mut probe, h, "");
    }
    match serde_path_to_error::deserialize::<_, T>(Value::Object(probe)) {
        Err(e) if e.inner().to_string().starts_with("unknown field") => {
            let message = e.inner().to_string();
            let column = message.split('`').nth(1).unwrap_or_default().to_owned();
            let path = e.path().to_string();
            let full = if path == "." || path.is_empty() {
                column
            } else if path.ends_with(&column) {
                path
            } else {
                format!("{path}.{column}")
            };
            Err(Refusal::new("invalid_header", format!("unknown column {full}")))
        }
        _ => Ok(()),
    }
}

/// A row's JSON as the request type, or the issue that stops it.
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Vec<FieldIssue>> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        vec![FieldIssue::new(if path.is_empty() { "row".to_owned() } else { path }, "invalid_field", e.inner())]
    })
}

fn row_key(file: Uuid, row: u64) -> Result<IdempotencyKey, CommandError> {
    IdempotencyKey::parse(&format!("sftp-{}-{row}", file.simple()))
        .map_err(|e| CommandError::Internal(format!("idempotency key: {e}")))
}

/// What a row's stored response holds: the object id and its reference.
fn render(outcome: &Outcome) -> StoredResponse {
    let (id, reference) = match outcome {
        Outcome::Beneficiary(b) => (b.id, b.short_reference_id.clone()),
        Outcome::Payout(p) => (p.id, p.short_reference_id.clone()),
        _ => (Uuid::nil(), String::new()),
    };
    StoredResponse { status: 200, body: json!({"id": id, "short_reference_id": reference}).to_string() }
}

fn created_from(result: &WriteResult) -> Result<RowResult, CommandError> {
    let body = match result {
        WriteResult::Done { outcome, .. } => render(outcome).body,
        WriteResult::Replayed(stored) => stored.body.clone(),
    };
    let v: Value = serde_json::from_str(&body).map_err(|e| CommandError::Internal(e.to_string()))?;
    let id = v["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).unwrap_or_default();
    let reference = v["short_reference_id"].as_str().unwrap_or_default().to_owned();
    Ok(RowResult::Created { id, reference })
}

/// Run one row's command under its key; a refusal by the engine becomes the row's issue.
async fn submit(engine: &Engine, file: &SftpFileRow, row: u64, command: Command) -> RowResult {
    let key = match row_key(file.id, row) {
        Ok(k) => k,
        Err(e) => return RowResult::Invalid(vec![FieldIssue::new("row", "internal_error", e)]),
    };
    let idem = IdempotencyContext {
        account: file.account_id,
        key,
        request_hash: format!("sftp:{}:{}:{row}", file.sha256, file.kind),
        render: Arc::new(render),
    };
    match engine.execute_idempotent(command, idem).await {
        Ok(result) => created_from(&result)
            .unwrap_or_else(|e| RowResult::Invalid(vec![FieldIssue::new("row", "internal_error", e)])),
        Err(e) => RowResult::Invalid(vec![command_issue(&e)]),
    }
}

fn command_issue(e: &CommandError) -> FieldIssue {
    match e {
        CommandError::Rejected { field, code, message } => {
            FieldIssue { field: (*field).to_owned(), code, message: message.clone() }
        }
        CommandError::InsufficientFunds { .. } => FieldIssue::new("amount", "insufficient_balance", e),
        CommandError::NotFound { what } => FieldIssue::new(*what, "not_found", "was not found"),
        CommandError::InvalidState(m) => FieldIssue::new("row", "invalid_state", m),
        other => FieldIssue::new("row", "internal_error", other),
    }
}

impl Processor {
    pub fn new(engine: Arc<Engine>, root: PathBuf, poll: Duration) -> Self {
        Processor { engine, root, poll, pending: HashMap::new() }
    }

    /// Finish what a previous run left, then process files as sessions hand them over and
    /// write payment responses as their payouts become final.
    pub async fn run(mut self, mut files: mpsc::UnboundedReceiver<SftpFileRow>, shutdown: CancellationToken) {
        match self.engine.store().sftp_open_files().await {
            Ok(open) => {
                for file in open {
                    self.process(file).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "sftp: cannot list unfinished files"),
        }
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                file = files.recv() => match file {
                    Some(file) => self.process(file).await,
                    None => break,
                },
                _ = tick.tick() => self.poll_pending().await,
            }
        }
    }

    fn jail(&self, account: AccountId) -> std::io::Result<Jail> {
        Jail::open(&self.root, account)
    }

    async fn process(&mut self, file: SftpFileRow) {
        let id = file.id;
        if let Err(e) = self.try_process(file).await {
            tracing::error!(file = %id, error = %e, "sftp: processing failed; retried on the next start");
        }
    }

    async fn try_process(&mut self, file: SftpFileRow) -> anyhow::Result<()> {
        let Some(kind) = Kind::parse(&file.kind) else { anyhow::bail!("unknown kind {}", file.kind) };
        let jail = self.jail(file.account_id)?;
        if file.status == "refused" {
            let detail = file.detail.clone().unwrap_or_default();
            let (code, message) = detail.split_once(": ").unwrap_or(("refused", detail.as_str()));
            return self.refuse(&jail, kind, &file, &Refusal::new(code, message)).await;
        }
        let path = jail.request_path(kind, &file.name);
        let (sha256, size) = match hash_file(&path).await {
            Ok(h) => h,
            Err(e) => return self.refuse(&jail, kind, &file, &Refusal::new("file_missing", e.to_string())).await,
        };
        if sha256 != file.sha256 {
            let r = Refusal::new("file_changed", "the file changed after it was received");
            return self.refuse(&jail, kind, &file, &r).await;
        }
        if kind == Kind::Onboarding && size > MAX_ONBOARDING_FILE {
            let r = Refusal::new(
                "file_too_large",
                format!("an onboarding file may hold at most {MAX_ONBOARDING_FILE} bytes"),
            );
            return self.refuse(&jail, kind, &file, &r).await;
        }
        let prefix = {
            use tokio::io::AsyncReadExt;
            let mut buf = Vec::with_capacity(SNIFF);
            tokio::fs::File::open(&path).await?.take(SNIFF as u64).read_to_end(&mut buf).await?;
            buf
        };
        if let Err(r) = sniff(&prefix, size <= SNIFF as u64) {
            return self.refuse(&jail, kind, &file, &r).await;
        }
        match kind {
            Kind::Payments => self.payments(&jail, &file).await,
            Kind::Onboarding => {
                let bytes = tokio::fs::read(&path).await?;
                let parsed = text(&bytes).and_then(rows_as_json).and_then(|(headers, rows)| {
                    check_header::<outlay_engine::parse::beneficiary::BeneficiaryBody>(&headers)?;
                    Ok(rows)
                });
                match parsed {
                    Ok(rows) => self.onboarding(&jail, &file, rows).await,
                    Err(r) => self.refuse(&jail, kind, &file, &r).await,
                }
            }
        }
    }

    async fn refuse(&self, jail: &Jail, kind: Kind, file: &SftpFileRow, r: &Refusal) -> anyhow::Result<()> {
        if file.status != "refused" {
            self.set_status(file.id, "refused", Some(format!("{}: {}", r.code, r.message))).await?;
        }
        self.write_refusal(jail, kind, file, None, r).await
    }

    async fn write_refusal(
        &self,
        jail: &Jail,
        kind: Kind,
        file: &SftpFileRow,
        batch: Option<Uuid>,
        r: &Refusal,
    ) -> anyhow::Result<()> {
        tracing::info!(file = %file.id, name = %file.name, code = %r.code, "sftp: file refused");
        let (out, name) = match kind {
            Kind::Payments => {
                let mut out = line(&[
                    "file",
                    "status",
                    "file_id",
                    "batch_id",
                    "batch_status",
                    "rows",
                    "valid",
                    "invalid",
                    "code",
                    "message",
                ]);
                let batch = batch.map(|b| b.to_string()).unwrap_or_default();
                let batch_status = if batch.is_empty() { "" } else { "FAILED" };
                out += &line(&[
                    &file.name,
                    "REFUSED",
                    &file.id.to_string(),
                    &batch,
                    batch_status,
                    "0",
                    "0",
                    "0",
                    &r.code,
                    &r.message,
                ]);
                (out, format!("{}.ack.csv", file.name))
            }
            Kind::Onboarding => {
                let mut out =
                    line(&["row", "status", "beneficiary_id", "short_reference_id", "field", "code", "message"]);
                out += &line(&["0", "REFUSED", "", "", "file", &r.code, &r.message]);
                (out, format!("{}.response.csv", file.name))
            }
        };
        write_response(&jail.response_path(kind, &name), &out).await?;
        Ok(())
    }

    async fn set_status(&self, id: Uuid, status: &str, detail: Option<String>) -> anyhow::Result<()> {
        self.engine.execute(Command::UpdateSftpFile { id, status: status.to_owned(), batch_id: None, detail }).await?;
        Ok(())
    }

    async fn onboarding(&mut self, jail: &Jail, file: &SftpFileRow, rows: Vec<Row>) -> anyhow::Result<()> {
        let mut results = Vec::with_capacity(rows.len());
        for (n, row) in rows {
            let parsed = row
                .map_err(|issue| vec![issue])
                .and_then(typed)
                .and_then(|body| outlay_engine::parse::beneficiary::parse_beneficiary(body, file.account_id, ""));
            let result = match parsed {
                Ok(b) => submit(&self.engine, file, n, Command::CreateBeneficiary(Box::new(b))).await,
                Err(issues) => RowResult::Invalid(issues),
            };
            results.push((n, result));
        }
        let mut out = line(&["row", "status", "beneficiary_id", "short_reference_id", "field", "code", "message"]);
        out += &result_lines(&results, |_| Some("CREATED".to_owned()));
        let name = format!("{}.response.csv", file.name);
        write_response(&jail.response_path(Kind::Onboarding, &name), &out).await?;
        let created = results.iter().filter(|(_, r)| matches!(r, RowResult::Created { .. })).count();
        self.set_status(file.id, "completed", Some(format!("{created} of {} rows created", results.len()))).await?;
        tracing::info!(file = %file.id, name = %file.name, created, rows = results.len(), "sftp: onboarding file done");
        Ok(())
    }

    /// A payments file becomes a batch (PARTIAL: the valid rows are paid, the others reported);
    /// the acknowledgement names the batch, the response comes when every row is final.
    async fn payments(&mut self, jail: &Jail, file: &SftpFileRow) -> anyhow::Result<()> {
        let batch = match file.batch_id {
            Some(id) => id,
            None => {
                let reader = std::fs::File::open(jail.request_path(Kind::Payments, &file.name))?;
                let request = NewBatchRequest {
                    account: file.account_id,
                    created_by: None,
                    file_name: Some(file.name.clone()),
                    format: BatchFileFormat::Csv,
                    mode: BatchMode::Partial,
                    on_behalf: false,
                    content_sha256: Some(file.sha256.clone()),
                    reader,
                };
                let b = match batches::create_batch_from_reader(&self.engine, request).await {
                    Ok(b) => b,
                    Err(BatchError::DuplicateFile { existing }) => {
                        // A restart after the batch was made but before the file was marked: the
                        // batch of this very file is adopted; any other is a real duplicate.
                        let found = self.engine.store().payout_batch(file.account_id, existing).await?;
                        match found {
                            Some(b)
                                if b.file_name.as_deref() == Some(file.name.as_str())
                                    && b.created_at >= file.created_at =>
                            {
                                b
                            }
                            _ => {
                                let r = Refusal::new(
                                    "duplicate_file",
                                    format!("the same content was already sent as batch {existing}"),
                                );
                                return self.refuse(jail, Kind::Payments, file, &r).await;
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                };
                if b.status == "FAILED" && b.valid_rows == 0 && b.failure_code.is_some() {
                    let code = b.failure_code.clone().unwrap_or_default();
                    let r = Refusal::new(code.clone(), b.failure_reason.clone().unwrap_or_default());
                    self.engine
                        .execute(Command::UpdateSftpFile {
                            id: file.id,
                            status: "refused".to_owned(),
                            batch_id: Some(b.id),
                            detail: Some(format!("{code}: {}", r.message)),
                        })
                        .await?;
                    return self.write_refusal(jail, Kind::Payments, file, Some(b.id), &r).await;
                }
                let mut ack = line(&[
                    "file",
                    "status",
                    "file_id",
                    "batch_id",
                    "batch_status",
                    "rows",
                    "valid",
                    "invalid",
                    "code",
                    "message",
                ]);
                ack += &line(&[
                    &file.name,
                    "ACCEPTED",
                    &file.id.to_string(),
                    &b.id.to_string(),
                    &b.status,
                    &b.total_rows.to_string(),
                    &b.valid_rows.to_string(),
                    &b.invalid_rows.to_string(),
                    "",
                    "",
                ]);
                write_response(&jail.response_path(Kind::Payments, &format!("{}.ack.csv", file.name)), &ack).await?;
                let detail = format!("batch {} {}: {} of {} rows valid", b.id, b.status, b.valid_rows, b.total_rows);
                self.engine
                    .execute(Command::UpdateSftpFile {
                        id: file.id,
                        status: "accepted".to_owned(),
                        batch_id: Some(b.id),
                        detail: Some(detail),
                    })
                    .await?;
                tracing::info!(file = %file.id, name = %file.name, batch = %b.id, status = %b.status, "sftp: payments file accepted");
                b.id
            }
        };
        let mut file = file.clone();
        file.batch_id = Some(batch);
        self.pending.insert(file.id, Pending { file });
        self.poll_pending().await;
        Ok(())
    }

    /// Write the response of every payments file whose batch is final.
    async fn poll_pending(&mut self) {
        let ids: Vec<Uuid> = self.pending.keys().copied().collect();
        for id in ids {
            let Some(p) = self.pending.get(&id) else { continue };
            match self.try_finish(&p.file).await {
                Ok(true) => {
                    self.pending.remove(&id);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(file = %id, error = %e, "sftp: cannot write the response yet"),
            }
        }
    }

    async fn try_finish(&self, file: &SftpFileRow) -> anyhow::Result<bool> {
        let Some(batch_id) = file.batch_id else { anyhow::bail!("no batch") };
        let store = self.engine.store();
        let Some(batch) = store.payout_batch(file.account_id, batch_id).await? else {
            anyhow::bail!("batch {batch_id} not found");
        };
        if !batches::is_final(&batch) {
            return Ok(false);
        }
        let mut out = line(&["row", "status", "payout_id", "short_reference_id", "field", "code", "message"]);
        let mut number = 1;
        loop {
            let page = store.payout_batch_items(batch_id, None, PageRequest { number, size: 1000 }).await?;
            let done = page.items.len() < 1000;
            for item in &page.items {
                let row = item.row_number.to_string();
                match item.payout_id {
                    Some(payout_id) => {
                        let Some(p) = store.payout(file.account_id, payout_id).await? else {
                            anyhow::bail!("payout {payout_id} not found");
                        };
                        let state: PayoutState =
                            p.state.parse().map_err(|_| anyhow::anyhow!("payout state {}", p.state))?;
                        let (code, message) = if state == PayoutState::Completed {
                            (String::new(), String::new())
                        } else {
                            (state.code().to_lowercase(), p.failure_reason.clone().unwrap_or_default())
                        };
                        out += &line(&[
                            &row,
                            state.wire_status(),
                            &payout_id.to_string(),
                            &p.short_reference_id,
                            "",
                            &code,
                            &message,
                        ]);
                    }
                    None => {
                        let status = if item.status == "INVALID" { "INVALID" } else { item.status.as_str() };
                        out += &line(&[
                            &row,
                            status,
                            "",
                            "",
                            item.error_field.as_deref().unwrap_or_default(),
                            item.error_code.as_deref().unwrap_or_default(),
                            item.error_message.as_deref().unwrap_or_default(),
                        ]);
                    }
                }
            }
            if done {
                break;
            }
            number += 1;
        }
        let jail = self.jail(file.account_id)?;
        let name = format!("{}.response.csv", file.name);
        write_response(&jail.response_path(Kind::Payments, &name), &out).await?;
        self.set_status(file.id, "completed", Some(format!("batch {batch_id} {}", batch.status))).await?;
        tracing::info!(file = %file.id, name = %file.name, batch = %batch_id, "sftp: payments response written");
        Ok(true)
    }
}

fn result_lines(results: &[(u64, RowResult)], status: impl Fn(&RowResult) -> Option<String>) -> String {
    let mut out = String::new();
    for (n, r) in results {
        let n = n.to_string();
        match r {
            RowResult::Created { id, reference } => {
                let s = status(r).unwrap_or_default();
                out += &line(&[&n, &s, &id.to_string(), reference, "", "", ""]);
            }
            RowResult::Invalid(issues) => {
                for issue in issues {
                    out += &line(&[&n, "INVALID", "", "", &issue.field, issue.code, &issue.message]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_nested_json() {
        let (headers, rows) =
            rows_as_json("currency,amount,beneficiary.bank_details.account_number\nUSD,10.00,123\n\nEUR,,\n")
                .expect("parses");
        assert_eq!(headers.len(), 3);
        assert_eq!(rows.len(), 2);
        let first = rows[0].1.as_ref().expect("row");
        assert_eq!(first["beneficiary"]["bank_details"]["account_number"], "123");
        assert_eq!((rows[0].0, rows[1].0), (2, 4), "line numbers in the file");
        assert_eq!(rows[1].1.as_ref().expect("row"), &json!({"currency": "EUR"}));
    }

    #[test]
    fn garbage_and_bad_headers_refuse_the_file() {
        assert_eq!(text(&[0xff, 0xfe, 0x00, 0x01]).expect_err("binary").code, "invalid_file");
        assert_eq!(text(b"a,b\n\x00\x01").expect_err("control bytes").code, "invalid_file");
        // A prefix may end inside a character; a whole file may not.
        let euro = "a,b\n\u{20ac}".as_bytes();
        assert!(sniff(&euro[..euro.len() - 1], false).is_ok());
        assert_eq!(sniff(&euro[..euro.len() - 1], true).expect_err("cut").code, "invalid_file");
        assert_eq!(rows_as_json("").expect_err("empty").code, "empty_file");
        assert_eq!(rows_as_json("a,b\n").expect_err("no rows").code, "empty_file");
        assert_eq!(rows_as_json("a,a\n1,2\n").expect_err("twice").code, "invalid_header");
        let (headers, _) = rows_as_json("currency,colour\nUSD,red\n").expect("parses");
        let e = check_header::<outlay_engine::parse::payout::CreatePayout>(&headers).expect_err("unknown");
        assert_eq!(e.code, "invalid_header");
        assert!(e.message.contains("colour"), "{}", e.message);
    }

    #[test]
    fn a_short_row_is_a_row_error() {
        let (_, rows) = rows_as_json("a,b\n1\n1,2\n").expect("parses");
        assert_eq!(rows[0].1.as_ref().expect_err("short").code, "invalid_row");
        assert!(rows[1].1.is_ok());
    }

    #[test]
    fn response_fields_are_quoted() {
        assert_eq!(line(&["a", "b,c", "say \"hi\""]), "a,\"b,c\",\"say \"\"hi\"\"\"\n");
    }
}
