//! The audit trail's engine side. A command that carries an [`AuditContext`] gets its audit
//! record appended by the writer in the command's own savepoint, so a committed effect always has
//! its record and a rolled-back one never does. Failed requests are recorded on their own
//! ([`Command::RecordAudit`]) by whoever saw the failure (the HTTP layer, the CLI).
//!
//! What is recorded: who (credential and role), what (action, object, the object before and
//! after, as the client saw it), when, from where (source IP, user agent, request id) and the
//! outcome. Account and identity numbers are masked and secrets removed before anything is
//! stored, so the audit log never holds a value the database encryption protects elsewhere.

use outlay_core::AccountId;
use outlay_core::audit::{is_sensitive_field, mask_tail};
use outlay_store::{AuditDraft, StoreError, WriteTx};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::idempotency::Renderer;
use crate::{Command, Outcome};

/// The credential `outlay` operator commands are recorded under.
pub const OPERATOR: &str = "operator";

/// Who acts, and from where: attached to a command by the front end that received it.
#[derive(Clone)]
pub struct AuditContext {
    /// The account acted for (the chain the record joins).
    pub account: AccountId,
    /// A credential id, or [`OPERATOR`].
    pub credential_id: String,
    pub role: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The action when the command does not name one itself (the route, e.g. `payouts.create`).
    pub action: String,
    /// The object the request addressed (an id in its path), when the outcome does not say.
    pub object_id: Option<String>,
    /// Renders the outcome as the client sees it: the record's `after`.
    pub render: Option<Renderer>,
}

impl std::fmt::Debug for AuditContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditContext")
            .field("account", &self.account)
            .field("credential_id", &self.credential_id)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

impl AuditContext {
    /// A record of this context with no effect (a failed or replayed request).
    pub fn draft(&self, at: OffsetDateTime, status: u16, error_code: Option<String>) -> AuditDraft {
        AuditDraft {
            account_id: self.account,
            id: Uuid::now_v7(),
            at,
            credential_id: self.credential_id.clone(),
            role: self.role.clone(),
            action: self.action.clone(),
            object_type: object_type_of(&self.action),
            object_id: self.object_id.clone(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            before: None,
            after: None,
            status: i64::from(status),
            error_code,
        }
    }
}

fn object_type_of(action: &str) -> Option<String> {
    action.split('.').next().filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('s').to_owned())
}

/// Mask account and identity numbers (`****1234`) anywhere in a JSON document.
pub fn mask_numbers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if is_sensitive_field(&key.to_ascii_lowercase()) => {
                        if !s.starts_with("****") {
                            *s = mask_tail(s);
                        }
                    }
                    other => mask_numbers(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_numbers),
        _ => {}
    }
}

/// A copy of `value` with its account and identity numbers masked.
pub fn masked(value: &Value) -> Value {
    let mut out = value.clone();
    mask_numbers(&mut out);
    out
}

/// Mask account and identity numbers and drop secrets, anywhere in a JSON document.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let k = key.to_ascii_lowercase();
                if k == "secret" || k == "api_key" || k == "auth_token" || k.ends_with("_secret") {
                    *v = Value::String("[redacted]".into());
                } else if is_sensitive_field(&k) {
                    if let Value::String(s) = v
                        && !s.starts_with("****")
                    {
                        *s = mask_tail(s);
                    }
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn text(mut value: Value) -> String {
    redact(&mut value);
    value.to_string()
}

/// The action name of a command the engine knows, or `None` to use the context's.
fn action_of(cmd: &Command) -> Option<String> {
    let name = match cmd {
        Command::CreatePayout(_) => "payout.create",
        Command::TransitionPayout { to, .. } => {
            return Some(format!("payout.{}", snake(&format!("{to:?}"))));
        }
        Command::CreateBeneficiary(_) => "beneficiary.create",
        Command::UpdateBeneficiary { .. } => "beneficiary.update",
        Command::DeleteBeneficiary { .. } => "beneficiary.delete",
        Command::CreateWithdrawal { .. } => "withdrawal.create",
        Command::CreateTransfer(_) => "transfer.create",
        Command::CreateQuote(_) => "quote.create",
        Command::CreateConversion(_) => "conversion.create",
        Command::UploadFile { .. } => "file.upload",
        Command::CreateWebhookEndpoint { .. } => "webhook_endpoint.create",
        Command::RotateWebhookSecret { .. } => "webhook_endpoint.rotate_secret",
        Command::DeleteWebhookEndpoint { .. } => "webhook_endpoint.delete",
        Command::ReplayWebhookEvents(_) => "webhook_event.replay",
        Command::CreateDeposit(_) => "deposit.create",
        Command::SettleDeposit { .. } => "deposit.settle",
        Command::SettleWithdrawal { .. } => "withdrawal.settle",
        Command::SetReserve { .. } => "reserve.set",
        Command::SetBankAccount { .. } => "account.set_bank_account",
        Command::CreateAccount { .. } => "account.create",
        Command::ApprovePayout { .. } => "payout.approve",
        Command::DeclinePayoutApproval { .. } => "payout.reject_approval",
        _ => return None,
    };
    Some(name.to_owned())
}

/// `ReadyToSend` → `ready_to_send`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The id of the object an outcome is about.
fn object_of(outcome: &Outcome) -> Option<String> {
    let id = match outcome {
        Outcome::Payout(p) => p.id,
        Outcome::Beneficiary(b) => b.id,
        Outcome::Withdrawal(w) => w.id,
        Outcome::Deposit(d) => d.id,
        Outcome::Transfer(t) => t.id,
        Outcome::Quote(q) => q.id,
        Outcome::Conversion(c) => c.id,
        Outcome::File(f) => f.id,
        Outcome::WebhookEndpoint(e) => e.id,
        Outcome::AccountCreated { account, .. } => account.id.0,
        Outcome::Review(r) => r.id,
        _ => return None,
    };
    Some(id.to_string())
}

/// The object as it was before the command (for updates, transitions and deletes).
pub(crate) async fn before(tx: &mut dyn WriteTx, cmd: &Command) -> Result<Option<String>, StoreError> {
    Ok(match cmd {
        Command::UpdateBeneficiary { id, .. } | Command::DeleteBeneficiary { id, .. } => {
            tx.beneficiary(*id).await?.map(|b| {
                text(json!({
                    "beneficiary_id": b.id,
                    "status": b.status,
                    "entity_type": b.entity_type,
                    "payment_method": b.payment_method,
                    "first_name": b.first_name,
                    "last_name": b.last_name,
                    "company_name": b.company_name,
                    "nickname": b.nickname,
                    "email": b.email,
                    "bank_country_code": b.bank_country_code,
                    "account_currency_code": b.account_currency_code,
                    "clearing_system": b.clearing_system,
                    "bank_details": b.bank_details,
                    "address": b.address,
                    "additional_info": b.additional_info,
                }))
            })
        }
        Command::TransitionPayout { payout, .. }
        | Command::ApprovePayout { payout, .. }
        | Command::DeclinePayoutApproval { payout, .. } => tx.payout(*payout).await?.map(|p| {
            text(json!({
                "payout_id": p.id,
                "short_reference_id": p.short_reference_id,
                "state": p.state,
                "currency": p.currency,
                "amount": p.amount,
                "fee_amount": p.fee_amount,
                "failure_reason": p.failure_reason,
            }))
        }),
        Command::RotateWebhookSecret { endpoint, .. } | Command::DeleteWebhookEndpoint { endpoint, .. } => tx
            .webhook_endpoint(*endpoint)
            .await?
            .map(|e| text(json!({"id": e.id, "url": e.url, "event_types": e.event_types, "status": e.status}))),
        Command::DecideReview { review, .. } => tx.compliance_review(*review).await?.map(|r| {
            text(json!({
                "review_id": r.id,
                "status": r.status,
                "subject_type": r.subject_type,
                "subject_id": r.subject_id,
                "beneficiary_id": r.beneficiary_id,
                "reasons": r.reasons,
            }))
        }),
        Command::SetBankAccount { account, .. } => tx.account(*account).await?.map(|a| {
            text(json!({
                "bank_account": a.bank_account.map(|b| json!({
                    "account_holder": b.account_holder,
                    "account_number": b.account_number,
                    "bank_country_code": b.bank_country_code,
                    "swift_code": b.swift_code,
                })),
            }))
        }),
        _ => None,
    })
}

/// The record of a command that succeeded, `before` read ahead of it.
pub(crate) fn record(
    ctx: &AuditContext,
    cmd: &Command,
    outcome: &Outcome,
    rendered: Option<&crate::StoredResponse>,
    before: Option<String>,
    at: OffsetDateTime,
) -> AuditDraft {
    let rendered = rendered.cloned().or_else(|| ctx.render.as_ref().map(|r| r(outcome)));
    let status = rendered.as_ref().map_or(200, |r| r.status);
    let mut draft = ctx.draft(at, status, None);
    if let Some(action) = action_of(cmd) {
        draft.object_type = object_type_of(&action);
        draft.action = action;
    }
    if let Some(id) = object_of(outcome) {
        draft.object_id = Some(id);
    }
    draft.before = before;
    draft.after = rendered.map(|r| after_text(r.body));
    draft
}

/// The `after` of a record: the response body parsed, redacted and serialised again
/// ([`text`]). A body that is already in that form (serde_json's compact output of a `Value`, keys
/// in order, nothing left to mask or remove: every payout response) is kept as it is, which is
/// the same text without the parse and the second serialisation in the writer.
fn after_text(body: String) -> String {
    if CanonicalScan::is_canonical_and_redacted(&body) {
        return body;
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(v) => text(v),
        Err(_) => text(Value::String(body)),
    }
}

/// Whether `text(parse(body)) == body`: the body is exactly what serde_json writes for a `Value`
/// (no whitespace, object keys strictly ascending, strings escaped the way it escapes them,
/// integers only) and [`redact`] would change nothing in it. Anything unusual answers false and
/// takes the slow path, which is always right.
struct CanonicalScan<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> CanonicalScan<'a> {
    fn is_canonical_and_redacted(body: &str) -> bool {
        let mut scan = CanonicalScan { b: body.as_bytes(), i: 0, depth: 0 };
        scan.value() && scan.i == scan.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    /// An integer as serde_json prints it (and parses back into an integer): no sign on zero,
    /// no leading zero, at most 18 digits.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        let ok = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= 18,
        };
        // A fraction or an exponent makes it a float: leave that to the slow path.
        ok && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }

    /// A string's raw (still escaped) content, when it is escaped exactly as serde_json does.
    fn string(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return Some(&self.b[start..self.i - 1]),
                0..=0x1f => return None,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4)?;
                            self.i += 4;
                            let lower = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                            if !(hex.starts_with(b"00") && hex.iter().all(lower)) {
                                return None;
                            }
                            let code = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
                            if code >= 0x20 || [0x08, 0x09, 0x0a, 0x0c, 0x0d].contains(&code) {
                                return None;
                            }
                        }
                        _ => return None,
                    }
                }
                _ => {}
            }
        }
    }

    fn nested(&mut self, open: u8, close: u8, mut item: impl FnMut(&mut Self) -> bool) -> bool {
        if !self.eat(open) {
            return false;
        }
        self.depth += 1;
        // serde_json's own limit is 128; deeper documents take the slow path.
        if self.depth > 100 {
            return false;
        }
        if !self.eat(close) {
            loop {
                if !item(self) {
                    return false;
                }
                if self.eat(close) {
                    break;
                }
                if !self.eat(b',') {
                    return false;
                }
            }
        }
        self.depth -= 1;
        true
    }

    fn array(&mut self) -> bool {
        self.nested(b'[', b']', Self::value)
    }

    fn object(&mut self) -> bool {
        let mut previous: Option<&[u8]> = None;
        self.nested(b'{', b'}', |scan| {
            let Some(key) = scan.string() else { return false };
            // Escaped keys are rare: the slow path. Keys must ascend strictly (a map's order, no
            // duplicates).
            if key.contains(&b'\\') || previous.is_some_and(|p| p >= key) || !scan.eat(b':') {
                return false;
            }
            previous = Some(key);
            let Ok(name) = std::str::from_utf8(key) else { return false };
            let k = name.to_ascii_lowercase();
            if k == "secret" || k == "api_key" || k == "auth_token" || k.ends_with("_secret") {
                return false;
            }
            if is_sensitive_field(&k) {
                // Only an already masked string is left as it is by `redact`.
                return scan.string().is_some_and(|v| v.starts_with(b"****"));
            }
            scan.value()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_numbers_and_secrets_at_any_depth() {
        let mut v = json!({
            "bank_details": {"account_number": "12345678901", "iban": "GB82WEST12345698765432", "bank_name": "X"},
            "secret": "whsec_abc",
            "items": [{"account_number": "99998888"}],
        });
        redact(&mut v);
        assert_eq!(v["bank_details"]["account_number"], "****8901");
        assert_eq!(v["bank_details"]["iban"], "****5432");
        assert_eq!(v["bank_details"]["bank_name"], "X");
        assert_eq!(v["secret"], "[redacted]");
        assert_eq!(v["items"][0]["account_number"], "****8888");
    }

    fn slow(body: &str) -> String {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => text(v),
            Err(_) => text(Value::String(body.to_owned())),
        }
    }

    #[test]
    fn the_fast_after_is_the_slow_after() {
        let payout = json!({
            "payout_id": Uuid::nil(), "amount": "10.00", "n": -12, "z": 0, "ok": true, "none": null,
            "beneficiary": {"bank_details": {"account_number": "****6789", "iban": "****5432", "bank_name": "DBS"}},
            "documentation": [], "list": [1, "two", {"b": 1, "a": [null]}],
            "text": "quote \" back \\ nl \n tab \t bell \u{7} del \u{7f} é 漢",
        })
        .to_string();
        let cases = [
            payout.clone(),
            json!({"account_number": "12345678"}).to_string(),
            json!({"x": {"iban": "GB82WEST12345698765432"}}).to_string(),
            json!({"secret": "whsec"}).to_string(),
            json!({"webhook_secret": "whsec"}).to_string(),
            json!({"account_number": 12345}).to_string(),
            json!({"rate": 1.5}).to_string(),
            json!({"big": u64::MAX}).to_string(),
            json!("just a string").to_string(),
            json!([]).to_string(),
            json!({}).to_string(),
            "{\"b\":1,\"a\":2}".to_owned(),
            "{\"a\":1,\"a\":2}".to_owned(),
            "{\"a\": 1}".to_owned(),
            "{\"a\":\"\\/\"}".to_owned(),
            "{\"a\":\"\\u0041\"}".to_owned(),
            "{\"a\":\"\\u001F\"}".to_owned(),
            "{\"a\":\"\\u001f\"}".to_owned(),
            "{\"a\":-0}".to_owned(),
            "{\"a\":01}".to_owned(),
            "{\"a\":1e3}".to_owned(),
            "{\"Account_Number\":\"****1\"}".to_owned(),
            "{\"Account_Number\":\"1234\"}".to_owned(),
            "not json".to_owned(),
            "{\"a\":1".to_owned(),
            "[1,]".to_owned(),
            String::new(),
        ];
        let mut fast_hits = 0;
        for body in cases {
            if CanonicalScan::is_canonical_and_redacted(&body) {
                fast_hits += 1;
            }
            assert_eq!(after_text(body.clone()), slow(&body), "{body}");
        }
        assert!(CanonicalScan::is_canonical_and_redacted(&payout), "a payout response takes the fast path");
        assert!(fast_hits >= 5);
    }
}

/// An audit record as the API and the exports show it.
pub fn to_json(row: &outlay_store::AuditRow) -> Value {
    let d = &row.draft;
    let parse = |t: &Option<String>| t.as_deref().map(|s| serde_json::from_str::<Value>(s).unwrap_or(Value::Null));
    json!({
        "audit_event_id": d.id,
        "account_id": d.account_id,
        "seq": row.seq,
        "time": crate::events::rfc3339(d.at),
        "credential_id": d.credential_id,
        "role": d.role,
        "action": d.action,
        "object_type": d.object_type,
        "object_id": d.object_id,
        "source_ip": d.source_ip,
        "user_agent": d.user_agent,
        "request_id": d.request_id,
        "before": parse(&d.before),
        "after": parse(&d.after),
        "status_code": d.status,
        "error_code": d.error_code,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    })
}

pub const CSV_HEADER: &str = "audit_event_id,account_id,seq,time,credential_id,role,action,object_type,object_id,\
source_ip,user_agent,request_id,status_code,error_code,before,after,prev_hash,hash\n";

fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// One CSV line (ending in a newline), columns as [`CSV_HEADER`].
pub fn csv_line(row: &outlay_store::AuditRow) -> String {
    let d = &row.draft;
    let fields = [
        d.id.to_string(),
        d.account_id.to_string(),
        row.seq.to_string(),
        crate::events::rfc3339(d.at),
        d.credential_id.clone(),
        d.role.clone(),
        d.action.clone(),
        d.object_type.clone().unwrap_or_default(),
        d.object_id.clone().unwrap_or_default(),
        d.source_ip.clone().unwrap_or_default(),
        d.user_agent.clone().unwrap_or_default(),
        d.request_id.clone().unwrap_or_default(),
        d.status.to_string(),
        d.error_code.clone().unwrap_or_default(),
        d.before.clone().unwrap_or_default(),
        d.after.clone().unwrap_or_default(),
        row.prev_hash.clone(),
        row.hash.clone(),
    ];
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push('\n');
    out
}

/// Whether a record passes an export filter.
pub fn matches(row: &outlay_store::AuditRow, f: &outlay_store::AuditFilter) -> bool {
    let d = &row.draft;
    f.action.as_ref().is_none_or(|a| *a == d.action)
        && f.object_id.as_ref().is_none_or(|o| d.object_id.as_ref() == Some(o))
        && f.credential_id.as_ref().is_none_or(|c| *c == d.credential_id)
        && f.from.is_none_or(|t| d.at >= t)
        && f.to.is_none_or(|t| d.at < t)
}

/// Export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// One account's records in chain order, filtered, as CSV or JSON lines.
pub async fn export(
    store: &dyn outlay_store::Store,
    account: AccountId,
    filter: &outlay_store::AuditFilter,
    format: ExportFormat,
) -> Result<String, StoreError> {
    let mut out = String::new();
    if format == ExportFormat::Csv {
        out.push_str(CSV_HEADER);
    }
    let mut after = 0;
    loop {
        let rows = store.audit_log_chain(account, after, 500).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in rows.iter().filter(|r| matches(r, filter)) {
            match format {
                ExportFormat::Csv => out.push_str(&csv_line(row)),
                ExportFormat::Jsonl => {
                    out.push_str(&to_json(row).to_string());
                    out.push('\n');
                }
            }
        }
    }
    Ok(out)
}

/// What `outlay audit verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub chains: u64,
    pub records: u64,
    pub breaks: Vec<outlay_core::audit::ChainBreak>,
}

/// Walk every account's audit chain: each record's hash, its link to the one before, the
/// sequence, and the chain head.
pub async fn verify(store: &dyn outlay_store::Store) -> Result<VerifyReport, StoreError> {
    // One instant: a record appended between reading the heads and walking a chain is not a break.
    let snapshot = store.snapshot().await?;
    let store = snapshot.as_ref();
    let mut report = VerifyReport::default();
    for (account, head_seq, head_hash) in store.audit_log_heads().await? {
        report.chains += 1;
        let mut checker = outlay_core::audit::ChainChecker::new(&account.to_string());
        let mut after = 0;
        loop {
            let rows = store.audit_log_chain(account, after, 1000).await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in &rows {
                row.with_fields(|f| checker.check(f, &row.prev_hash, &row.hash));
            }
        }
        report.records += checker.checked;
        report.breaks.extend(checker.finish(head_seq, &head_hash));
    }
    Ok(report)
}
