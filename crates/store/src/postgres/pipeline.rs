//! Deferred, pipelined writes for the writer's transaction.
//!
//! A payout create used to wait for ~20 round trips (savepoint, idempotency, beneficiary, rules,
//! balance, chain head, entry, lines, chain, payout, history, event, audit head, audit row, ...)
//! while PostgreSQL itself sat idle. Here, writes whose answer nobody needs are queued and sent
//! together in one pipeline (before any read that could see them, before any other write, and
//! with the `COMMIT`); balances and chain heads locked by this transaction are kept in memory
//! and written once per flush; savepoints are only sent when a flush happens inside one.
//!
//! Errors: a queued statement that fails is only seen at the flush, possibly on behalf of a
//! later command. The transaction is then poisoned (everything after answers "retry") and the
//! writer reruns the batch with every write flushed at once (`strict`), where errors land on the
//! command that caused them, exactly as before this existed.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

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
    Write {
        sql: &'static str,
        params: Box<dyn Params>,
        /// The statement must change exactly one row.
        expect_one: bool,
    },
    Savepoint,
    Release,
}

pub(super) const SQL_SAVEPOINT: &str = "SAVEPOINT cmd";
pub(super) const SQL_RELEASE: &str = "RELEASE SAVEPOINT cmd";

impl Pending {
    pub(super) fn sql(&self) -> &'static str {
        match self {
            Pending::Write { sql, .. } => sql,
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
}
