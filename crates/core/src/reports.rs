//! The standard reports: pure builders, rows in and CSV out.
//!
//! Each builder is fed rows one at a time (the caller reads them page by page, so a client with a
//! million payouts is never loaded at once) and writes CSV as it goes. `finish` appends a totals
//! section after one empty line, with its own header, and returns the whole document with its
//! row count and SHA-256. Amounts are integers in minor units until they are rendered as exact
//! decimal strings in the currency's own exponent; nothing passes through a float.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::money::{Currency, format_minor};

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// Every payout created in the period with its status.
    Payouts,
    /// Opening and closing Unified Balance per currency and every movement between.
    BalanceStatement,
    /// Every fee charged (fee revenue movements).
    Fees,
    /// Each payout tied to its journal entries and rail reference.
    Reconciliation,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] =
        [ReportKind::Payouts, ReportKind::BalanceStatement, ReportKind::Fees, ReportKind::Reconciliation];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Payouts => "payouts",
            ReportKind::BalanceStatement => "balance_statement",
            ReportKind::Fees => "fees",
            ReportKind::Reconciliation => "reconciliation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A finished report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub csv: String,
    /// Data rows (not headers, not totals).
    pub row_count: u64,
    /// Lower-case hex SHA-256 of `csv`.
    pub sha256: String,
}

fn amount(minor: i64, currency: &str) -> String {
    format_minor(minor, Currency::parse(currency).map_or(2, Currency::exponent))
}

/// One CSV field. Text that a spreadsheet would run as a formula is prefixed with `'`.
fn field(out: &mut String, value: &str, text: bool) {
    let guarded;
    let value = if text && value.starts_with(['=', '+', '-', '@']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// A CSV document written row by row (`\r\n` line ends, RFC 4180).
#[derive(Debug, Default)]
struct Csv {
    out: String,
    rows: u64,
}

/// A cell: free text (guarded) or a value Outlay generated (ids, codes, amounts, times).
enum Cell<'a> {
    Text(&'a str),
    Value(&'a str),
}

impl Csv {
    fn line(&mut self, cells: &[Cell<'_>]) {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match c {
                Cell::Text(v) => field(&mut self.out, v, true),
                Cell::Value(v) => field(&mut self.out, v, false),
            }
        }
        self.out.push_str("\r\n");
    }

    fn header(&mut self, names: &[&str]) {
        let cells: Vec<Cell<'_>> = names.iter().map(|n| Cell::Value(n)).collect();
        self.line(&cells);
    }

    fn row(&mut self, cells: &[Cell<'_>]) {
        self.line(cells);
        self.rows += 1;
    }

    fn finish(self) -> Rendered {
        let digest = Sha256::digest(self.out.as_bytes());
        let mut sha256 = String::with_capacity(64);
        for b in digest {
            let _ = write!(sha256, "{b:02x}");
        }
        Rendered { csv: self.out, row_count: self.rows, sha256 }
    }
}

use Cell::{Text, Value};

// ---------------------------------------------------------------------------------------------
// Payouts

/// A payout as the payouts and reconciliation reports see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayoutLine {
    pub id: String,
    pub short_reference_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    /// Wire status (READY_TO_SEND, PENDING, COMPLETED, FAILED, REJECTED).
    pub status: String,
    /// Outlay's fine state.
    pub state: String,
    pub currency: String,
    pub amount: i64,
    pub fee: i64,
    pub payout_currency: String,
    pub payout_amount: i64,
    pub payment_method: String,
    pub beneficiary_id: String,
    pub payout_reference: String,
    pub failure_reason: Option<String>,
}

pub const PAYOUTS_HEADER: &[&str] = &[
    "payout_id",
    "short_reference_id",
    "created_at",
    "updated_at",
    "completed_at",
    "payout_status",
    "outlay_status",
    "currency",
    "amount",
    "fee_amount",
    "total_debited",
    "payout_currency",
    "payout_amount",
    "payment_method",
    "beneficiary_id",
    "payout_reference",
    "failure_reason",
];

pub const PAYOUTS_TOTALS_HEADER: &[&str] = &["total", "currency", "outlay_status", "count", "amount", "fee_amount"];

#[derive(Default)]
struct Sum {
    count: u64,
    amount: i64,
    fee: i64,
}

/// Every payout created in the period, then count, amount and fee per currency and state.
pub struct PayoutsReport {
    csv: Csv,
    totals: BTreeMap<(String, String), Sum>,
}

impl Default for PayoutsReport {
    fn default() -> Self {
        Self::new()
    }
}

impl PayoutsReport {
    pub fn new() -> Self {
        let mut csv = Csv::default();
        csv.header(PAYOUTS_HEADER);
        Self { csv, totals: BTreeMap::new() }
    }

    pub fn push(&mut self, p: &PayoutLine) {
        let c = &p.currency;
        self.csv.row(&[
            Value(&p.id),
            Value(&p.short_reference_id),
            Value(&p.created_at),
            Value(&p.updated_at),
            Value(p.completed_at.as_deref().unwrap_or("")),
            Value(&p.status),
            Value(&p.state),
            Value(c),
            Value(&amount(p.amount, c)),
            Value(&amount(p.fee, c)),
            Value(&amount(p.amount.saturating_add(p.fee), c)),
            Value(&p.payout_currency),
            Value(&amount(p.payout_amount, &p.payout_currency)),
            Value(&p.payment_method),
            Value(&p.beneficiary_id),
            Text(&p.payout_reference),
            Text(p.failure_reason.as_deref().unwrap_or("")),
        ]);
        let s = self.totals.entry((c.clone(), p.state.clone())).or_default();
        s.count += 1;
        s.amount += p.amount;
        s.fee += p.fee;
    }

    pub fn finish(mut self) -> Rendered {
        self.csv.out.push_str("\r\n");
        self.csv.header(PAYOUTS_TOTALS_HEADER);
        let mut by_currency: BTreeMap<String, Sum> = BTreeMap::new();
        for ((c, state), s) in &self.totals {
            self.csv.line(&[
                Value("TOTAL"),
                Value(c),
                Value(state),
                Value(&s.count.to_string()),
                Value(&amount(s.amount, c)),
                Value(&amount(s.fee, c)),
            ]);
            let all = by_currency.entry(c.clone()).or_default();
            all.count += s.count;
            all.amount += s.amount;
            all.fee += s.fee;
        }
        for (c, s) in &by_currency {
            self.csv.line(&[
                Value("TOTAL"),
                Value(c),
                Value("ALL"),
                Value(&s.count.to_string()),
                Value(&amount(s.amount, c)),
                Value(&amount(s.fee, c)),
            ]);
        }
        self.csv.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Ledger lines (balance statement, fees, reconciliation)

/// One line of a journal entry, as the reports see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    pub entry_id: String,
    pub line_no: i64,
    pub entry_kind: String,
    pub reference_type: String,
    pub reference_id: String,
    pub created_at: String,
    /// Whether the ledger account is the client's (available, pending, reserve, wallet:…) rather
    /// than the platform's (fbo_bank, fee_revenue, fx_position, clearing:…).
    pub client_owned: bool,
    pub currency: String,
    /// The ledger account's kind: available, pending, reserve, wallet:<id>, fee_revenue, ...
    pub ledger_kind: String,
    /// Signed: positive credits the ledger account.
    pub amount: i64,
}

impl LedgerLine {
    /// A movement of the Unified Balance's parts (available, pending, reserve).
    pub fn is_unified(&self) -> bool {
        self.client_owned && matches!(self.ledger_kind.as_str(), "available" | "pending" | "reserve")
    }
}

/// Per currency: available, pending and reserve at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnifiedBalance {
    pub available: i64,
    pub pending: i64,
    pub reserve: i64,
}

impl UnifiedBalance {
    pub fn unified(self) -> i64 {
        self.available + self.pending + self.reserve
    }

    /// Add a client ledger account's balance by its kind; other kinds (wallets) are not part of it.
    pub fn add(&mut self, kind: &str, balance: i64) {
        match kind {
            "available" => self.available += balance,
            "pending" => self.pending += balance,
            "reserve" => self.reserve += balance,
            _ => {}
        }
    }
}

pub const BALANCE_STATEMENT_HEADER: &[&str] = &[
    "created_at",
    "entry_id",
    "line_no",
    "entry_type",
    "transaction_type",
    "reference_id",
    "currency",
    "balance_type",
    "amount",
    "unified_balance_after",
];

pub const BALANCE_STATEMENT_TOTALS_HEADER: &[&str] = &[
    "total",
    "currency",
    "opening_available",
    "opening_pending",
    "opening_reserved",
    "opening_unified_balance",
    "credits",
    "debits",
    "net_movement",
    "closing_available",
    "closing_pending",
    "closing_reserved",
    "closing_unified_balance",
    "balanced",
];

/// Opening balances, every movement of available, pending and reserve, closing balances.
pub struct BalanceStatement {
    csv: Csv,
    opening: BTreeMap<String, UnifiedBalance>,
    running: BTreeMap<String, UnifiedBalance>,
    credits: BTreeMap<String, i64>,
    debits: BTreeMap<String, i64>,
}

impl BalanceStatement {
    /// `opening`: each currency's balances at the start of the period.
    pub fn new(opening: BTreeMap<String, UnifiedBalance>) -> Self {
        let mut csv = Csv::default();
        csv.header(BALANCE_STATEMENT_HEADER);
        Self { csv, running: opening.clone(), opening, credits: BTreeMap::new(), debits: BTreeMap::new() }
    }

    /// Lines that are not movements of the Unified Balance are ignored.
    pub fn push(&mut self, l: &LedgerLine) {
        if !l.is_unified() {
            return;
        }
        let c = &l.currency;
        let running = self.running.entry(c.clone()).or_default();
        running.add(&l.ledger_kind, l.amount);
        let after = running.unified();
        if l.amount >= 0 {
            *self.credits.entry(c.clone()).or_default() += l.amount;
        } else {
            *self.debits.entry(c.clone()).or_default() += -l.amount;
        }
        self.csv.row(&[
            Value(&l.created_at),
            Value(&l.entry_id),
            Value(&l.line_no.to_string()),
            Value(&l.entry_kind),
            Value(&l.reference_type.to_uppercase()),
            Value(&l.reference_id),
            Value(c),
            Value(&l.ledger_kind.to_uppercase()),
            Value(&amount(l.amount, c)),
            Value(&amount(after, c)),
        ]);
    }

    /// `closing`: each currency's balances at the end of the period, read from the ledger on
    /// its own. `balanced` says whether opening plus every movement equals it (it always should).
    pub fn finish(mut self, closing: &BTreeMap<String, UnifiedBalance>) -> (Rendered, bool) {
        self.csv.out.push_str("\r\n");
        self.csv.header(BALANCE_STATEMENT_TOTALS_HEADER);
        let mut currencies: Vec<&String> =
            self.opening.keys().chain(self.running.keys()).chain(closing.keys()).collect();
        currencies.sort();
        currencies.dedup();
        let mut all_balanced = true;
        for c in currencies {
            let open = self.opening.get(c).copied().unwrap_or_default();
            let close = closing.get(c).copied().unwrap_or_default();
            let walked = self.running.get(c).copied().unwrap_or_default();
            let (cr, dr) = (self.credits.get(c).copied().unwrap_or(0), self.debits.get(c).copied().unwrap_or(0));
            let balanced = walked == close && open.unified() + cr - dr == close.unified();
            all_balanced &= balanced;
            self.csv.line(&[
                Value("TOTAL"),
                Value(c),
                Value(&amount(open.available, c)),
                Value(&amount(open.pending, c)),
                Value(&amount(open.reserve, c)),
                Value(&amount(open.unified(), c)),
                Value(&amount(cr, c)),
                Value(&amount(dr, c)),
                Value(&amount(cr - dr, c)),
                Value(&amount(close.available, c)),
                Value(&amount(close.pending, c)),
                Value(&amount(close.reserve, c)),
                Value(&amount(close.unified(), c)),
                Value(if balanced { "true" } else { "false" }),
            ]);
        }
        (self.csv.finish(), all_balanced)
    }
}

pub const FEES_HEADER: &[&str] =
    &["created_at", "entry_id", "line_no", "entry_type", "transaction_type", "reference_id", "currency", "fee_amount"];
pub const FEES_TOTALS_HEADER: &[&str] = &["total", "currency", "count", "fee_amount"];

/// Every movement of fee revenue caused by the account (a fee charged is positive).
pub struct FeesReport {
    csv: Csv,
    totals: BTreeMap<String, (u64, i64)>,
}

impl Default for FeesReport {
    fn default() -> Self {
        Self::new()
    }
}

impl FeesReport {
    pub fn new() -> Self {
        let mut csv = Csv::default();
        csv.header(FEES_HEADER);
        Self { csv, totals: BTreeMap::new() }
    }

    /// Lines that are not fee revenue are ignored.
    pub fn push(&mut self, l: &LedgerLine) {
        if l.client_owned || l.ledger_kind != "fee_revenue" {
            return;
        }
        let c = &l.currency;
        self.csv.row(&[
            Value(&l.created_at),
            Value(&l.entry_id),
            Value(&l.line_no.to_string()),
            Value(&l.entry_kind),
            Value(&l.reference_type.to_uppercase()),
            Value(&l.reference_id),
            Value(c),
            Value(&amount(l.amount, c)),
        ]);
        let t = self.totals.entry(c.clone()).or_default();
        t.0 += 1;
        t.1 += l.amount;
    }

    pub fn finish(mut self) -> Rendered {
        self.csv.out.push_str("\r\n");
        self.csv.header(FEES_TOTALS_HEADER);
        for (c, (n, total)) in &self.totals {
            self.csv.line(&[Value("TOTAL"), Value(c), Value(&n.to_string()), Value(&amount(*total, c))]);
        }
        self.csv.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation

pub const RECONCILIATION_HEADER: &[&str] = &[
    "payout_id",
    "short_reference_id",
    "outlay_status",
    "currency",
    "amount",
    "fee_amount",
    "held",
    "posted",
    "voided",
    "returned",
    "net_pending",
    "hold_entry_ids",
    "post_entry_ids",
    "void_entry_ids",
    "return_entry_ids",
    "rail_reference",
    "reconciled",
    "discrepancy",
];

pub const RECONCILIATION_TOTALS_HEADER: &[&str] =
    &["total", "currency", "payouts", "held", "posted", "voided", "returned", "unreconciled"];

/// What a payout's entries add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayoutEntries {
    /// Moved available → pending by `hold` entries.
    pub held: i64,
    /// Left pending by `hold_posted` entries (amount plus fee).
    pub posted: i64,
    /// Moved pending → available by `hold_voided` entries.
    pub voided: i64,
    /// Credited to available by `late_return` entries.
    pub returned: i64,
    /// Net change of the client's pending balance over every entry.
    pub net_pending: i64,
    pub hold_ids: Vec<String>,
    pub post_ids: Vec<String>,
    pub void_ids: Vec<String>,
    pub return_ids: Vec<String>,
    /// Entries of another kind (never expected).
    pub other_ids: Vec<String>,
}

impl PayoutEntries {
    /// Fold the client-side lines of a payout's entries (any order).
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a LedgerLine>) -> Self {
        let mut e = PayoutEntries::default();
        fn note(ids: &mut Vec<String>, id: &str) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
        for l in lines {
            let pending = l.client_owned && l.ledger_kind == "pending";
            let available = l.client_owned && l.ledger_kind == "available";
            if pending {
                e.net_pending += l.amount;
            }
            match l.entry_kind.as_str() {
                "hold" => {
                    note(&mut e.hold_ids, &l.entry_id);
                    if pending {
                        e.held += l.amount;
                    }
                }
                "hold_posted" => {
                    note(&mut e.post_ids, &l.entry_id);
                    if pending {
                        e.posted -= l.amount;
                    }
                }
                "hold_voided" => {
                    note(&mut e.void_ids, &l.entry_id);
                    if pending {
                        e.voided -= l.amount;
                    }
                }
                "late_return" => {
                    note(&mut e.return_ids, &l.entry_id);
                    if available {
                        e.returned += l.amount;
                    }
                }
                _ => note(&mut e.other_ids, &l.entry_id),
            }
        }
        e
    }
}

impl PayoutEntries {
    /// The payout drew on its batch's hold (a batch held as a whole, `batch_hold` its entry)
    /// instead of holding on its own: its amount plus fee count as held by that entry. A payout
    /// with a hold entry of its own is left as it is.
    pub fn held_by_batch(&mut self, total: i64, batch_hold: &str) {
        if self.hold_ids.is_empty() {
            self.held += total;
            self.net_pending += total;
            self.hold_ids.push(batch_hold.to_owned());
        }
    }
}

/// Why a payout's entries do not agree with its state, if they do not.
pub fn payout_discrepancy(state: &str, amount: i64, fee: i64, e: &PayoutEntries) -> Option<String> {
    let total = amount + fee;
    let mut problems = Vec::new();
    if e.held != total {
        problems.push(format!("held {} but amount plus fee is {total}", e.held));
    }
    if !e.other_ids.is_empty() {
        problems.push(format!("unexpected entries {}", e.other_ids.join(" ")));
    }
    let (posted, voided, returned) = match state {
        "SCHEDULED" | "READY_TO_SEND" | "SENT" => (0, 0, false),
        "COMPLETED" => (total, 0, false),
        "FAILED" | "REJECTED" | "CANCELLED" => (0, total, false),
        "RETURNED" => (total, 0, true),
        other => {
            problems.push(format!("unknown state {other}"));
            (e.posted, e.voided, e.returned > 0)
        }
    };
    if e.posted != posted {
        problems.push(format!("posted {} but {state} expects {posted}", e.posted));
    }
    if e.voided != voided {
        problems.push(format!("voided {} but {state} expects {voided}", e.voided));
    }
    if returned != (e.returned > 0) {
        problems.push(format!(
            "returned {} but {state} expects {}",
            e.returned,
            if returned { "some" } else { "none" }
        ));
    }
    let expected_pending = if matches!(state, "SCHEDULED" | "READY_TO_SEND" | "SENT") { total } else { 0 };
    if e.net_pending != expected_pending {
        problems.push(format!("net pending {} but {state} expects {expected_pending}", e.net_pending));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[derive(Default)]
struct ReconTotals {
    payouts: u64,
    held: i64,
    posted: i64,
    voided: i64,
    returned: i64,
    unreconciled: u64,
}

/// Each payout with its entries, flagged when they do not match its state.
pub struct ReconciliationReport {
    csv: Csv,
    totals: BTreeMap<String, ReconTotals>,
    unreconciled: u64,
}

impl Default for ReconciliationReport {
    fn default() -> Self {
        Self::new()
    }
}

impl ReconciliationReport {
    pub fn new() -> Self {
        let mut csv = Csv::default();
        csv.header(RECONCILIATION_HEADER);
        Self { csv, totals: BTreeMap::new(), unreconciled: 0 }
    }

    /// `rail_reference`: what the rail knows the payout by.
    pub fn push(&mut self, p: &PayoutLine, entries: &PayoutEntries, rail_reference: &str) {
        let c = &p.currency;
        let problem = payout_discrepancy(&p.state, p.amount, p.fee, entries);
        self.csv.row(&[
            Value(&p.id),
            Value(&p.short_reference_id),
            Value(&p.state),
            Value(c),
            Value(&amount(p.amount, c)),
            Value(&amount(p.fee, c)),
            Value(&amount(entries.held, c)),
            Value(&amount(entries.posted, c)),
            Value(&amount(entries.voided, c)),
            Value(&amount(entries.returned, c)),
            Value(&amount(entries.net_pending, c)),
            Value(&entries.hold_ids.join(" ")),
            Value(&entries.post_ids.join(" ")),
            Value(&entries.void_ids.join(" ")),
            Value(&entries.return_ids.join(" ")),
            Text(rail_reference),
            Value(if problem.is_none() { "true" } else { "false" }),
            Text(problem.as_deref().unwrap_or("")),
        ]);
        let t = self.totals.entry(c.clone()).or_default();
        t.payouts += 1;
        t.held += entries.held;
        t.posted += entries.posted;
        t.voided += entries.voided;
        t.returned += entries.returned;
        if problem.is_some() {
            t.unreconciled += 1;
            self.unreconciled += 1;
        }
    }

    /// How many payouts were flagged so far.
    pub fn unreconciled(&self) -> u64 {
        self.unreconciled
    }

    pub fn finish(mut self) -> Rendered {
        self.csv.out.push_str("\r\n");
        self.csv.header(RECONCILIATION_TOTALS_HEADER);
        for (c, t) in &self.totals {
            self.csv.line(&[
                Value("TOTAL"),
                Value(c),
                Value(&t.payouts.to_string()),
                Value(&amount(t.held, c)),
                Value(&amount(t.posted, c)),
                Value(&amount(t.voided, c)),
                Value(&amount(t.returned, c)),
                Value(&t.unreconciled.to_string()),
            ]);
        }
        self.csv.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(entry: &str, kind: &str, client: bool, ledger: &str, amount: i64) -> LedgerLine {
        LedgerLine {
            entry_id: entry.to_owned(),
            line_no: 0,
            entry_kind: kind.to_owned(),
            reference_type: "payout".to_owned(),
            reference_id: "p1".to_owned(),
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            client_owned: client,
            currency: "USD".to_owned(),
            ledger_kind: ledger.to_owned(),
            amount,
        }
    }

    fn payout(state: &str) -> PayoutLine {
        PayoutLine {
            id: "p1".into(),
            short_reference_id: "P260101-AAAA".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            completed_at: None,
            status: "COMPLETED".into(),
            state: state.into(),
            currency: "USD".into(),
            amount: 10_000,
            fee: 1_500,
            payout_currency: "USD".into(),
            payout_amount: 10_000,
            payment_method: "SWIFT".into(),
            beneficiary_id: "b".into(),
            payout_reference: "=HYPERLINK(\"x\"), inv 7".into(),
            failure_reason: None,
        }
    }

    #[test]
    fn fields_are_quoted_and_formulas_guarded() {
        let mut r = PayoutsReport::new();
        r.push(&payout("COMPLETED"));
        let out = r.finish();
        assert_eq!(out.row_count, 1);
        assert!(out.csv.contains(",\"'=HYPERLINK(\"\"x\"\"), inv 7\","), "{}", out.csv);
        assert!(out.csv.contains("TOTAL,USD,COMPLETED,1,100.00,15.00\r\n"));
        assert!(out.csv.contains("TOTAL,USD,ALL,1,100.00,15.00\r\n"));
        assert_eq!(out.sha256.len(), 64);
    }

    #[test]
    fn a_completed_payout_reconciles_and_a_stuck_hold_is_flagged() {
        let posted = [
            line("e1", "hold", true, "available", -11_500),
            line("e1", "hold", true, "pending", 11_500),
            line("e2", "hold_posted", true, "pending", -11_500),
            line("e2", "hold_posted", false, "fbo_bank", 10_000),
            line("e2", "hold_posted", false, "fee_revenue", 1_500),
        ];
        let e = PayoutEntries::from_lines(&posted);
        assert_eq!((e.held, e.posted, e.voided, e.net_pending), (11_500, 11_500, 0, 0));
        assert_eq!(payout_discrepancy("COMPLETED", 10_000, 1_500, &e), None);
        // The same entries for a payout that says FAILED: flagged.
        assert!(payout_discrepancy("FAILED", 10_000, 1_500, &e).is_some());
        // Only the hold: fine while SENT, wrong once COMPLETED.
        let held = PayoutEntries::from_lines(&posted[..2]);
        assert_eq!(payout_discrepancy("SENT", 10_000, 1_500, &held), None);
        let why = payout_discrepancy("COMPLETED", 10_000, 1_500, &held).expect("flagged");
        assert!(why.contains("posted 0"), "{why}");
        let mut r = ReconciliationReport::new();
        r.push(&payout("COMPLETED"), &held, "P260101-AAAA");
        assert_eq!(r.unreconciled(), 1);
        assert!(r.finish().csv.contains("TOTAL,USD,1,115.00,0.00,0.00,0.00,1\r\n"));
    }

    #[test]
    fn the_statement_walks_from_opening_to_closing() {
        let opening =
            BTreeMap::from([("USD".to_owned(), UnifiedBalance { available: 50_000, pending: 0, reserve: 0 })]);
        let mut s = BalanceStatement::new(opening);
        for l in [
            line("e1", "hold", true, "available", -11_500),
            line("e1", "hold", true, "pending", 11_500),
            line("e2", "hold_posted", true, "pending", -11_500),
            line("e2", "hold_posted", false, "fee_revenue", 1_500),
        ] {
            s.push(&l);
        }
        let closing =
            BTreeMap::from([("USD".to_owned(), UnifiedBalance { available: 38_500, pending: 0, reserve: 0 })]);
        let (out, balanced) = s.finish(&closing);
        assert!(balanced);
        assert_eq!(out.row_count, 3);
        assert!(
            out.csv.contains("TOTAL,USD,500.00,0.00,0.00,500.00,115.00,230.00,-115.00,385.00,0.00,0.00,385.00,true")
        );
        // A closing balance the movements do not reach is reported, not hidden.
        let s = BalanceStatement::new(BTreeMap::new());
        let wrong = BTreeMap::from([("USD".to_owned(), UnifiedBalance { available: 1, pending: 0, reserve: 0 })]);
        assert!(!s.finish(&wrong).1);
    }

    #[test]
    fn fees_count_only_fee_revenue() {
        let mut f = FeesReport::new();
        f.push(&line("e2", "hold_posted", false, "fee_revenue", 1_500));
        f.push(&line("e2", "hold_posted", false, "fbo_bank", 10_000));
        f.push(&line("e2", "hold_posted", true, "pending", -11_500));
        let out = f.finish();
        assert_eq!(out.row_count, 1);
        assert!(out.csv.ends_with("TOTAL,USD,1,15.00\r\n"), "{}", out.csv);
    }
}
