//! Deferred, pipelined writes for the writer's transaction.
//!
//! A payout create used to wait for ~20 round trips (savepoint, idempotency, beneficiary, rules,
//! balance, chain head, entry, lines, chain, payout, history, event, audit head, audit row, ...)
//! while PostgreSQL itself sat idle. Here, writes whose answer nobody needs are queued and sent
//! together in one pipeline (before any read that could see them, before any other write, and
//! with the `COMMIT`); balances and chain heads locked by this transaction are kept in memory
//! and written once per flush; savepoints are only sent when a flush happens inside one.
//! Queued writes are kept as rows, and a flush sends the rows of each statement as one
//! multi-row statement (`plan`, "Coalesced statements" below).
//!
//! Errors: a queued statement that fails is only seen at the flush, possibly on behalf of a
//! later command. The transaction is then poisoned (everything after answers "retry") and the
//! writer reruns the batch with every write flushed at once (`strict`), where errors land on the
//! command that caused them, exactly as before this existed.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use time::{Date, OffsetDateTime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// Parameters a queued statement owns until it is sent.
pub(super) trait Params: Send + Sync {
    fn params(&self) -> Vec<&(dyn ToSql + Sync)>;
}

impl Params for Vec<Param> {
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect()
    }
}

/// One queued statement.
pub(super) enum Pending {
    /// A row (or an entry with its lines) of a multi-row statement.
    Rows(Rows),
    Savepoint,
    Release,
}

pub(super) const SQL_SAVEPOINT: &str = "SAVEPOINT cmd";
pub(super) const SQL_RELEASE: &str = "RELEASE SAVEPOINT cmd";

impl Pending {
    pub(super) fn sql(&self) -> &'static str {
        match self {
            Pending::Rows(rows) => rows.multi.sql,
            Pending::Savepoint => SQL_SAVEPOINT,
            Pending::Release => SQL_RELEASE,
        }
    }
}

/// A savepoint as the engine sees it. It reaches the database only if a flush happens while it
/// is open (`materialized`); otherwise rolling back to it just forgets what was queued after it.
pub(super) struct Mark {
    /// Queue length when it was set.
    pub pending: usize,
    /// Ledger accounts created (`PgTx::created`) when it was set.
    pub created: usize,
    /// Undo-log length when it was set.
    pub undo: usize,
    pub materialized: bool,
}

/// A balance or chain head this transaction holds locked, with whether the database still has
/// an older value.
#[derive(Clone, Debug)]
pub(super) struct Held<T> {
    pub value: T,
    pub dirty: bool,
}

/// What to put back when rolling back to a savepoint.
pub(super) enum Undo {
    Balance(i64, Option<Held<i64>>),
    Chain(Uuid, Option<Held<(i64, String)>>),
    AuditHead(Uuid, Option<Held<(i64, String)>>),
    Idempotency(Uuid, String),
}

/// The tables a statement writes (`INSERT INTO t`, `UPDATE t`, `DELETE FROM t`, also inside a
/// CTE). Over-reporting is harmless (an extra flush); `FOR UPDATE` is not a write.
pub(super) fn written_tables(sql: &str) -> Vec<&str> {
    let words: Vec<&str> = sql.split(|c: char| c.is_whitespace() || c == '(' || c == ',').collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let next = words[i + 1..].iter().find(|w| !w.is_empty()).copied();
        let table = if w.eq_ignore_ascii_case("INTO") || w.eq_ignore_ascii_case("FROM") {
            // INSERT INTO t / DELETE FROM t: only when the previous word says so.
            let prev = words[..i].iter().rev().find(|w| !w.is_empty()).copied().unwrap_or("");
            if prev.eq_ignore_ascii_case("INSERT") || prev.eq_ignore_ascii_case("DELETE") { next } else { None }
        } else if w.eq_ignore_ascii_case("UPDATE") {
            let prev = words[..i].iter().rev().find(|w| !w.is_empty()).copied().unwrap_or("");
            if prev.eq_ignore_ascii_case("FOR") || prev.eq_ignore_ascii_case("DO") { None } else { next }
        } else {
            None
        };
        if let Some(t) = table {
            out.push(t.trim_matches('"'));
        }
    }
    out
}

/// A statement that only inserts rows (`ON CONFLICT DO NOTHING` at most): it cannot change a row
/// this transaction holds.
pub(super) fn only_inserts(sql: &str) -> bool {
    let head = sql.trim_start();
    head.len() >= 6 && head[..6].eq_ignore_ascii_case("INSERT") && !sql.to_ascii_uppercase().contains("DO UPDATE")
}

/// A statement that only reads (it cannot change anything, so queued writes need to be flushed
/// before it only if it reads a table they write).
pub(super) fn is_read(sql: &str) -> bool {
    let head = sql.trim_start();
    head.len() >= 6 && head[..6].eq_ignore_ascii_case("SELECT")
}

/// Whether `sql` mentions any of `tables` (a conservative test: a substring match).
pub(super) fn mentions_any(sql: &str, tables: &HashSet<&'static str>) -> bool {
    tables.iter().any(|t| sql.contains(t))
}

type Answer = Result<u64, tokio_postgres::Error>;
type Request<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Send every statement at once and wait for all answers. The first poll of each request sends
/// it, and requests are first polled in order, so the server runs them in queue order.
pub(super) async fn run<'a>(
    client: &'a Client,
    statements: &'a [(Statement, Vec<&'a (dyn ToSql + Sync)>)],
) -> Vec<Answer> {
    let mut requests: Vec<Option<Request<'a>>> = statements
        .iter()
        .map(|(stmt, params)| {
            let request: Request<'a> = Box::pin(client.execute_raw(stmt, params.iter().copied()));
            Some(request)
        })
        .collect();
    let mut answers: Vec<Option<Answer>> = (0..statements.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, answer) in requests.iter_mut().zip(answers.iter_mut()) {
            if let Some(request) = slot {
                match request.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        *answer = Some(result);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    answers.into_iter().map(|a| a.unwrap_or(Ok(0))).collect()
}

/// Per-transaction caches of reads that payouts repeat (one hot account pays many times in one
/// batch). Dropped whole when a write touches their tables or a savepoint is rolled back.
#[derive(Default)]
pub(super) struct ReadCache {
    pub beneficiaries: HashMap<Uuid, Option<crate::BeneficiaryRow>>,
    pub contexts: HashMap<(Uuid, Uuid), crate::ComplianceContext>,
    pub policies: HashMap<Uuid, Option<crate::ApprovalPolicyRow>>,
}

impl ReadCache {
    pub(super) fn clear(&mut self) {
        self.beneficiaries.clear();
        self.contexts.clear();
        self.policies.clear();
    }

    /// Forget what a write to `table` may have changed.
    pub(super) fn written(&mut self, table: &str) {
        match table {
            "beneficiaries" => self.beneficiaries.clear(),
            "screening_lists" | "compliance_rules" | "compliance_reviews" => self.contexts.clear(),
            "approval_policies" => self.policies.clear(),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coalesced statements
//
// The hot path queues ~5 writes per payout; sent one statement each, the server parses, plans and
// executes ~700 statements per flush of 140 payouts. Queued rows are kept as values instead, and
// at flush time the rows of one statement between two savepoint boundaries become ONE statement
// over `unnest` (one array per column). Strict mode flushes after every queued row, so there each
// statement carries one row and a failure still lands on its own command.

/// A column's type, as the multi-row statement casts its array (`$n::uuid[]`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Uuid,
    Text,
    I64,
    I32,
    Time,
    Date,
}

/// One value of a queued row.
#[derive(Clone, Debug)]
pub(super) enum Val {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    I64(Option<i64>),
    I32(Option<i32>),
    Time(Option<OffsetDateTime>),
    Date(Option<Date>),
}

macro_rules! val_from {
    ($t:ty, $v:ident) => {
        impl From<$t> for Val {
            fn from(x: $t) -> Self {
                Val::$v(Some(x))
            }
        }
        impl From<Option<$t>> for Val {
            fn from(x: Option<$t>) -> Self {
                Val::$v(x)
            }
        }
    };
}
val_from!(Uuid, Uuid);
val_from!(String, Text);
val_from!(i64, I64);
val_from!(i32, I32);
val_from!(OffsetDateTime, Time);
val_from!(Date, Date);

impl From<&str> for Val {
    fn from(x: &str) -> Self {
        Val::Text(Some(x.to_owned()))
    }
}

/// A multi-row statement: `$1..$m` are the arrays of `main`'s columns, then `extra`'s.
pub(super) struct Multi {
    pub sql: &'static str,
    pub main: &'static [Ty],
    /// Columns of rows of a second table the same statement inserts (an entry's lines).
    pub extra: &'static [Ty],
    /// Each main row must change exactly one row (the statement's count is the number of rows):
    /// updates of rows this transaction holds locked.
    pub expect_each: bool,
}

/// A queued write: one row of `multi` (and its `extra` rows).
pub(super) struct Rows {
    pub multi: &'static Multi,
    pub main: Vec<Val>,
    pub extra: Vec<Vec<Val>>,
}

/// A column of many rows, sent as one array.
enum Col {
    Uuid(Vec<Option<Uuid>>),
    Text(Vec<Option<String>>),
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    Time(Vec<Option<OffsetDateTime>>),
    Date(Vec<Option<Date>>),
}

impl Col {
    fn new(ty: Ty, rows: usize) -> Col {
        match ty {
            Ty::Uuid => Col::Uuid(Vec::with_capacity(rows)),
            Ty::Text => Col::Text(Vec::with_capacity(rows)),
            Ty::I64 => Col::I64(Vec::with_capacity(rows)),
            Ty::I32 => Col::I32(Vec::with_capacity(rows)),
            Ty::Time => Col::Time(Vec::with_capacity(rows)),
            Ty::Date => Col::Date(Vec::with_capacity(rows)),
        }
    }

    /// False if the value is not of the column's type (a bug in the caller's row).
    fn push(&mut self, v: &Val) -> bool {
        match (self, v) {
            (Col::Uuid(c), Val::Uuid(x)) => c.push(*x),
            (Col::Text(c), Val::Text(x)) => c.push(x.clone()),
            (Col::I64(c), Val::I64(x)) => c.push(*x),
            (Col::I32(c), Val::I32(x)) => c.push(*x),
            (Col::Time(c), Val::Time(x)) => c.push(*x),
            (Col::Date(c), Val::Date(x)) => c.push(*x),
            _ => return false,
        }
        true
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Col::Uuid(c) => c,
            Col::Text(c) => c,
            Col::I64(c) => c,
            Col::I32(c) => c,
            Col::Time(c) => c,
            Col::Date(c) => c,
        }
    }
}

struct Columns(Vec<Col>);

impl Params for Columns {
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(Col::param).collect()
    }
}

/// One statement of a flush, in the order it is sent.
pub(super) struct Planned {
    pub sql: &'static str,
    pub params: Box<dyn Params>,
    /// The number of rows it must change, if that is checked.
    pub expect: Option<u64>,
}

/// The rows of one `Multi` as one statement.
fn coalesce(rows: &[&Rows]) -> Result<Planned, String> {
    let Some(first) = rows.first() else { return Err("no rows to send".into()) };
    let multi = first.multi;
    let extra_rows: usize = rows.iter().map(|r| r.extra.len()).sum();
    let mut main: Vec<Col> = multi.main.iter().map(|t| Col::new(*t, rows.len())).collect();
    let mut extra: Vec<Col> = multi.extra.iter().map(|t| Col::new(*t, extra_rows)).collect();
    let mismatch = || format!("a queued row does not fit {}", multi.sql);
    for row in rows {
        if row.main.len() != main.len() {
            return Err(mismatch());
        }
        for (col, v) in main.iter_mut().zip(&row.main) {
            if !col.push(v) {
                return Err(mismatch());
            }
        }
        for line in &row.extra {
            if line.len() != extra.len() {
                return Err(mismatch());
            }
            for (col, v) in extra.iter_mut().zip(line) {
                if !col.push(v) {
                    return Err(mismatch());
                }
            }
        }
    }
    main.append(&mut extra);
    let expect = multi.expect_each.then_some(rows.len() as u64);
    Ok(Planned { sql: multi.sql, params: Box::new(Columns(main)), expect })
}

/// The statements that send `queue`: savepoint commands stay where they are; between two of
/// them, the rows of each multi-row statement become one statement, in the order of each
/// statement's first row. Regrouping is safe because the queued statements insert into distinct
/// tables with no foreign key from one kind to another (an entry's lines, a payout's history, an
/// event's deliveries are inserted by their parent's own statement), so only rows of the same
/// statement could depend on each other's order, and `coalesce` keeps that order.
pub(super) fn plan(queue: Vec<Pending>) -> Result<Vec<Planned>, String> {
    let mut out = Vec::new();
    let mut segment: Vec<Rows> = Vec::new();
    for item in queue {
        match item {
            Pending::Rows(rows) => segment.push(rows),
            Pending::Savepoint | Pending::Release => {
                plan_segment(&segment, &mut out)?;
                segment.clear();
                let none: Vec<Param> = Vec::new();
                out.push(Planned { sql: item.sql(), params: Box::new(none), expect: None });
            }
        }
    }
    plan_segment(&segment, &mut out)?;
    Ok(out)
}

fn plan_segment(segment: &[Rows], out: &mut Vec<Planned>) -> Result<(), String> {
    let mut groups: Vec<Vec<&Rows>> = Vec::new();
    for rows in segment {
        match groups.iter_mut().find(|g| g[0].multi.sql == rows.multi.sql) {
            Some(group) => group.push(rows),
            None => groups.push(vec![rows]),
        }
    }
    for group in groups {
        out.push(coalesce(&group)?);
    }
    Ok(())
}

/// Journal entries and their lines (`extra`: entry id, line no, ledger account, amount).
pub(super) static ENTRIES: Multi = Multi {
    sql: "WITH e AS (INSERT INTO journal_entries (id, account_id, seq, kind, reference_type, reference_id, created_at_ms, \
          prev_hash, hash) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], $6::text[], \
          $7::int8[], $8::text[], $9::text[])) \
          INSERT INTO journal_lines (entry_id, line_no, ledger_account_id, amount) \
          SELECT * FROM unnest($10::uuid[], $11::int4[], $12::int8[], $13::int8[])",
    main: &[Ty::Uuid, Ty::Uuid, Ty::I64, Ty::Text, Ty::Text, Ty::Text, Ty::I64, Ty::Text, Ty::Text],
    extra: &[Ty::Uuid, Ty::I32, Ty::I64, Ty::I64],
    expect_each: false,
};

/// Idempotency records (a key committed meanwhile fails the primary key, as one row did).
pub(super) static IDEMPOTENCY: Multi = Multi {
    sql: "INSERT INTO idempotency_keys (account_id, key, request_hash, status_code, response_body, audit_id, created_at) \
          SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::uuid[], $7::timestamptz[])",
    main: &[Ty::Uuid, Ty::Text, Ty::Text, Ty::I32, Ty::Text, Ty::Uuid, Ty::Time],
    extra: &[],
    expect_each: false,
};

/// Final values of the balances this transaction holds (ledger account id, balance, updated_at).
pub(super) static BALANCES: Multi = Multi {
    sql: "UPDATE ledger_accounts a SET balance = t.balance, updated_at = t.at \
          FROM unnest($1::int8[], $2::int8[], $3::timestamptz[]) AS t(id, balance, at) WHERE a.id = t.id",
    main: &[Ty::I64, Ty::I64, Ty::Time],
    extra: &[],
    expect_each: true,
};

/// Final ledger chain heads this transaction holds (account, seq, head hash).
pub(super) static CHAINS: Multi = Multi {
    sql: "UPDATE ledger_chains c SET seq = t.seq, head_hash = t.head_hash \
          FROM unnest($1::uuid[], $2::int8[], $3::text[]) AS t(account_id, seq, head_hash) WHERE c.account_id = t.account_id",
    main: &[Ty::Uuid, Ty::I64, Ty::Text],
    extra: &[],
    expect_each: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_written_tables() {
        assert_eq!(written_tables("INSERT INTO payouts (id) VALUES ($1)"), vec!["payouts"]);
        assert_eq!(written_tables("UPDATE ledger_accounts SET balance = $2 WHERE id = $1"), vec!["ledger_accounts"]);
        assert_eq!(written_tables("DELETE FROM auth_tokens WHERE x"), vec!["auth_tokens"]);
        assert_eq!(
            written_tables(
                "WITH ev AS (INSERT INTO events (id) SELECT 1 FROM events), fan AS (INSERT INTO webhook_deliveries (id) SELECT 1) SELECT 1"
            ),
            vec!["events", "webhook_deliveries"]
        );
        assert!(written_tables("SELECT seq FROM ledger_chains WHERE account_id = $1 FOR UPDATE").is_empty());
        assert_eq!(written_tables("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2"), vec!["t"]);
    }

    #[test]
    fn reads_are_selects() {
        assert!(is_read("  SELECT 1"));
        assert!(is_read("select 1"));
        assert!(!is_read("WITH x AS (INSERT INTO t VALUES (1)) SELECT 1"));
        assert!(!is_read("UPDATE t SET a = 1"));
        assert!(only_inserts("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING"));
        assert!(!only_inserts("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2"));
        assert!(!only_inserts("UPDATE t SET a = 1"));
    }

    fn balance(id: i64) -> Pending {
        Pending::Rows(Rows {
            multi: &BALANCES,
            main: vec![id.into(), id.into(), OffsetDateTime::UNIX_EPOCH.into()],
            extra: vec![],
        })
    }

    fn key(k: &str) -> Pending {
        let main: Vec<Val> = vec![
            Uuid::nil().into(),
            k.into(),
            "hash".into(),
            200i32.into(),
            "{}".into(),
            None::<Uuid>.into(),
            OffsetDateTime::UNIX_EPOCH.into(),
        ];
        Pending::Rows(Rows { multi: &IDEMPOTENCY, main, extra: vec![] })
    }

    fn entry(lines: usize) -> Pending {
        let id = Uuid::new_v4();
        let main: Vec<Val> = vec![
            id.into(),
            Uuid::nil().into(),
            1i64.into(),
            "payout".into(),
            "payout".into(),
            "x".into(),
            0i64.into(),
            "prev".into(),
            "hash".into(),
        ];
        let extra = (0..lines).map(|no| vec![id.into(), (no as i32).into(), 1i64.into(), 5i64.into()]).collect();
        Pending::Rows(Rows { multi: &ENTRIES, main, extra })
    }

    fn shape(planned: &[Planned]) -> Vec<(&'static str, usize, Option<u64>)> {
        planned.iter().map(|p| (p.sql, p.params.params().len(), p.expect)).collect()
    }

    #[test]
    fn coalesces_rows_of_one_statement_between_savepoints() {
        let queue = vec![
            balance(1),
            key("a"),
            balance(2),
            key("b"),
            Pending::Savepoint,
            balance(3),
            entry(2),
            entry(3),
            Pending::Release,
            balance(4),
        ];
        let planned = match plan(queue) {
            Ok(planned) => planned,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            shape(&planned),
            vec![
                (BALANCES.sql, 3, Some(2)),
                (IDEMPOTENCY.sql, 7, None),
                (SQL_SAVEPOINT, 0, None),
                (BALANCES.sql, 3, Some(1)),
                (ENTRIES.sql, 13, None),
                (SQL_RELEASE, 0, None),
                (BALANCES.sql, 3, Some(1)),
            ]
        );
        assert!(plan(Vec::new()).map(|p| p.is_empty()).unwrap_or(false));
    }

    #[test]
    fn refuses_a_row_of_the_wrong_shape() {
        let wrong = Pending::Rows(Rows {
            multi: &BALANCES,
            main: vec!["1".into(), 1i64.into(), OffsetDateTime::UNIX_EPOCH.into()],
            extra: vec![],
        });
        assert!(plan(vec![balance(1), wrong]).is_err());
        let short = Pending::Rows(Rows { multi: &BALANCES, main: vec![1i64.into()], extra: vec![] });
        assert!(plan(vec![short]).is_err());
    }

    #[test]
    fn multi_row_statements_name_their_tables() {
        assert_eq!(written_tables(ENTRIES.sql), vec!["journal_entries", "journal_lines"]);
        assert_eq!(written_tables(BALANCES.sql), vec!["ledger_accounts"]);
        assert_eq!(written_tables(CHAINS.sql), vec!["ledger_chains"]);
        assert_eq!(written_tables(IDEMPOTENCY.sql), vec!["idempotency_keys"]);
        assert!(only_inserts(IDEMPOTENCY.sql));
    }
}
