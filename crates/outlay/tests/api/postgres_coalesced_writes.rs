//! The PostgreSQL writer sends the rows its transaction queued as one multi-row statement per
//! kind of row (`crates/store/src/postgres/pipeline.rs`, `plan`). These tests drive the writer's
//! transaction the way the engine's writer does (a savepoint per command, a rerun of the whole
//! batch on `Retry`) and check that the outcome is exactly the one of sending each row alone: the
//! same commands succeed, rows rolled back to a savepoint are gone, per-source event numbers and
//! the audit and ledger chains are contiguous. Each test runs on SQLite too, which must agree.

use outlay_core::ledger::{Auditor, Kind, LedgerKey, Reference, rules};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::postgres::PgStore;
use outlay_store::sqlite::SqliteStore;
use outlay_store::{AccountRow, AuditDraft, IdempotencyRecord, NewEvent, Store, StoreError, WriteTx};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{Backend, fresh_database, postgres_base_url};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(1_750_000_000_000_000_000 + i128::from(ms) * 1_000_000).expect("time")
}

fn usd() -> Currency {
    Currency::parse("USD").expect("USD")
}

fn amount(minor: i64) -> Amount {
    Amount::from_minor(minor).expect("amount")
}

fn reference(kind: &'static str, id: Uuid) -> Reference {
    Reference { kind, id }
}

fn account(n: u128, parent: Option<AccountId>) -> AccountRow {
    AccountRow {
        id: AccountId(id(n)),
        name: format!("account {n}"),
        parent_id: parent,
        kind: if parent.is_some() { "connected" } else { "platform" }.to_owned(),
        status: "ACTIVE".to_owned(),
        bank_account: None,
        created_at: at(0),
    }
}

fn key(a: AccountId, key: &str, hash: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        account_id: a,
        key: key.to_owned(),
        request_hash: hash.to_owned(),
        status_code: 201,
        response_body: format!("{{\"key\":\"{key}\"}}"),
        body_in_audit: None,
        created_at: at(1),
    }
}

/// All commands' events share one source, so several land in one statement.
const SOURCE: u128 = 9_000;

/// What a command does after queuing its rows.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Keeps its rows.
    Keep,
    /// Reuses a key committed before the batch: its idempotency row fails the primary key.
    DuplicateKey,
    /// Rolls back to its savepoint before anything was sent.
    RollBack,
    /// Reads (which sends the queue and its savepoint), then rolls back to the savepoint.
    RollBackAfterFlush,
}

async fn open(backend: Backend, url: &str) -> Box<dyn Store> {
    match backend {
        Backend::Sqlite => Box::new(SqliteStore::open(url).await.expect("open sqlite")),
        Backend::Postgres => Box::new(PgStore::open(url).await.expect("open postgres")),
    }
}

/// One payout-like command: a hold, an event, an idempotency record, an audit row.
async fn command(tx: &mut dyn WriteTx, a: AccountId, n: u128, step: Step) -> Result<String, StoreError> {
    tx.savepoint().await?;
    let draft = rules::hold(a, usd(), amount(10), reference("withdrawal", id(100 + n)));
    let queued: Result<(), StoreError> = async {
        tx.post_entry(&draft, id(200 + n), at(10 + n as i64)).await.map_err(|e| match e {
            outlay_store::PostError::Store(e) => e,
            other => StoreError::Database(format!("{other:?}")),
        })?;
        tx.insert_event(&NewEvent {
            id: id(300 + n),
            account_id: a,
            event_name: "PAYOUT".to_owned(),
            event_type: "payout.created".to_owned(),
            source_id: id(SOURCE),
            data: serde_json::json!({ "n": n.to_string() }),
            created_at: at(10 + n as i64),
        })
        .await?;
        let k = match step {
            Step::DuplicateKey => key(a, "taken", "second"),
            _ => key(a, &format!("key-{n}"), "first"),
        };
        tx.idempotency_put(&k).await?;
        tx.append_audit(&AuditDraft {
            account_id: a,
            id: id(400 + n),
            at: at(10 + n as i64),
            credential_id: "cred".to_owned(),
            role: "admin".to_owned(),
            action: "payout.create".to_owned(),
            object_type: Some("payout".to_owned()),
            object_id: Some(format!("p-{n}")),
            source_ip: None,
            user_agent: None,
            request_id: Some(format!("req-{n}")),
            before: None,
            after: Some(format!("{{\"n\":{n}}}")),
            status: 201,
            error_code: None,
        })
        .await?;
        Ok(())
    }
    .await;
    match queued {
        Err(StoreError::Retry(m)) => Err(StoreError::Retry(m)),
        Err(e) => {
            tx.rollback_to_savepoint().await?;
            match e {
                StoreError::Conflict { constraint } => Ok(format!("conflict {constraint}")),
                other => Ok(format!("failed {other:?}")),
            }
        }
        Ok(()) => match step {
            Step::Keep | Step::DuplicateKey => {
                tx.release_savepoint().await?;
                Ok("kept".to_owned())
            }
            Step::RollBack => {
                tx.rollback_to_savepoint().await?;
                Ok("rolled back".to_owned())
            }
            Step::RollBackAfterFlush => {
                let available = LedgerKey::client(a, usd(), Kind::Available);
                tx.ledger_balance(&available).await?;
                tx.rollback_to_savepoint().await?;
                Ok("rolled back".to_owned())
            }
        },
    }
}

/// Run `steps` as one batch on one writer connection, rerunning it on `Retry` as the engine's
/// writer does. Returns each command's outcome and the number of attempts.
async fn run_batch(store: &dyn Store, a: AccountId, steps: &[Step]) -> (Vec<String>, u32) {
    let mut conn = store.writer_conn().await.expect("writer");
    'attempt: for attempt in 1..=3 {
        let mut tx = conn.begin().await.expect("begin");
        tx.lock_chains(&[a]).await.expect("lock chains");
        tx.lock_audit_chains(&[a]).await.expect("lock audit chains");
        let mut outcomes = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match command(tx.as_mut(), a, n as u128, *step).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(StoreError::Retry(_)) => continue 'attempt,
                Err(e) => panic!("command {n}: {e:?}"),
            }
        }
        match tx.commit().await {
            Ok(()) => return (outcomes, attempt),
            Err(StoreError::Retry(_)) => continue 'attempt,
            Err(e) => panic!("commit: {e:?}"),
        }
    }
    panic!("the batch did not commit in 3 attempts");
}

/// A platform, one client with 1,000 available, and the key "taken" already committed.
async fn setup(store: &dyn Store) -> AccountId {
    let platform = AccountId(id(1));
    let a = AccountId(id(2));
    let mut conn = store.writer_conn().await.expect("writer");
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None)).await.expect("platform");
    tx.insert_account(&account(2, Some(platform))).await.expect("client");
    tx.lock_chains(&[a]).await.expect("lock");
    let deposit = reference("deposit", id(50));
    tx.post_entry(&rules::deposit_received(a, usd(), amount(1_000), deposit), id(51), at(2)).await.expect("deposit");
    tx.post_entry(&rules::deposit_cleared(a, usd(), amount(1_000), deposit), id(52), at(3)).await.expect("cleared");
    tx.idempotency_put(&key(a, "taken", "first")).await.expect("taken");
    tx.commit().await.expect("commit setup");
    a
}

/// Everything the batch left, checked against the outcomes: exactly the kept commands' rows.
async fn check(store: &dyn Store, a: AccountId, outcomes: &[String]) {
    let kept: Vec<u128> = (0..outcomes.len() as u128).filter(|n| outcomes[*n as usize] == "kept").collect();
    let held = 10 * kept.len() as i64;
    let balances = store.balances(a).await.expect("balances");
    let of = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!((of("available"), of("pending")), (Some(1_000 - held), Some(held)), "{balances:?}");

    let mut conn = store.writer_conn().await.expect("writer");
    let mut tx = conn.begin().await.expect("begin");
    for n in 0..outcomes.len() as u128 {
        let event = tx.event(id(300 + n)).await.expect("event");
        let stored = store.idempotency(a, &format!("key-{n}")).await.expect("idempotency");
        match kept.iter().position(|k| *k == n) {
            // Numbered per source in queue order, with no gap for the commands rolled back.
            Some(i) => {
                let event = event.unwrap_or_else(|| panic!("event of command {n}"));
                assert_eq!(event.object_seq, i as i64 + 1, "command {n}");
                assert_eq!(event.data, serde_json::json!({ "n": n.to_string() }));
                assert_eq!(stored.map(|r| r.request_hash), Some("first".to_owned()), "command {n}");
            }
            None => {
                assert!(event.is_none(), "command {n} was not kept but its event was");
                assert!(stored.is_none(), "command {n} was not kept but its key was");
            }
        }
    }
    tx.rollback().await.expect("rollback");
    let taken = store.idempotency(a, "taken").await.expect("idempotency").expect("taken");
    assert_eq!(taken.request_hash, "first");

    // The audit chain: one row per kept command, contiguous, each hash over its predecessor.
    let rows = store.audit_log_chain(a, 0, 100).await.expect("audit chain");
    let objects: Vec<Option<String>> = rows.iter().map(|r| r.draft.object_id.clone()).collect();
    let expected: Vec<Option<String>> = kept.iter().map(|n| Some(format!("p-{n}"))).collect();
    assert_eq!(objects, expected);
    let mut prev = outlay_core::audit::GENESIS_HASH.to_owned();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
        assert_eq!(row.prev_hash, prev);
        assert_eq!(row.hash, row.with_fields(|f| outlay_core::audit::record_hash(&row.prev_hash, f)));
        prev = row.hash.clone();
    }

    // The ledger: balanced entries, contiguous chains, balances equal to the sums of lines.
    let mut auditor = Auditor::new();
    let mut after = None;
    let mut entries = 0;
    loop {
        let page = store.audit_entries(after, 3).await.expect("entries");
        let Some(last) = page.last() else { break };
        after = Some((last.owner, last.seq));
        for entry in &page {
            auditor.feed(entry);
            entries += 1;
        }
    }
    for (owner, seq, hash) in store.audit_chain_heads().await.expect("heads") {
        auditor.check_chain_head(owner, seq, &hash);
    }
    let report = auditor.finish(store.audit_balances().await.expect("audit balances"));
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(entries, 2 + kept.len());
}

async fn drop_database(backend: Backend, url: &str) {
    if backend == Backend::Postgres
        && let Some((_, name)) = url.rsplit_once('/')
    {
        let (client, conn) =
            tokio_postgres::connect(&postgres_base_url(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

/// One command of a coalesced run fails (its idempotency row hits a committed key): on
/// PostgreSQL the failure of the multi-row statement poisons the batch, the rerun sends each row
/// alone and the failure lands on that command; every other command is kept.
async fn a_failed_row_reruns_the_batch_strictly(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = fresh_database(backend, &dir).await;
    let store = open(backend, &url).await;
    let a = setup(store.as_ref()).await;
    let steps = [Step::Keep, Step::Keep, Step::DuplicateKey, Step::Keep, Step::Keep, Step::Keep];
    let (outcomes, attempts) = run_batch(store.as_ref(), a, &steps).await;
    let mut expected = vec!["kept".to_owned(); steps.len()];
    expected[2] = "conflict idempotency_keys_pkey".to_owned();
    assert_eq!(outcomes, expected);
    if backend == Backend::Postgres {
        // The first attempt queued everything and only learnt of the conflict at commit.
        assert_eq!(attempts, 2);
    }
    check(store.as_ref(), a, &outcomes).await;

    // The next batch on a fresh connection is queued again, and coalesces cleanly.
    let steps = [Step::Keep, Step::Keep];
    let mut conn = store.writer_conn().await.expect("writer");
    let mut tx = conn.begin().await.expect("begin");
    tx.lock_chains(&[a]).await.expect("lock");
    tx.lock_audit_chains(&[a]).await.expect("lock audit");
    for n in 10..12u128 {
        assert_eq!(command(tx.as_mut(), a, n, steps[0]).await.expect("command"), "kept");
        // Locking again mid-batch (which also locks the balances) keeps every hold.
        tx.lock_chains(&[a]).await.expect("lock again");
    }
    tx.commit().await.expect("commit");
    let balances = store.balances(a).await.expect("balances");
    let of = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!(of("pending"), Some(70), "{balances:?}");
    let mut tx = conn.begin().await.expect("begin");
    let seqs = (
        tx.event(id(310)).await.expect("e10").map(|e| e.object_seq),
        tx.event(id(311)).await.expect("e11").map(|e| e.object_seq),
    );
    assert_eq!(seqs, (Some(6), Some(7)));
    tx.rollback().await.expect("rollback");
    drop(conn);
    drop(store);
    drop_database(backend, &url).await;
}

/// Savepoints rolled back in the middle of a coalesced run, before and after a flush sent their
/// rows: only the kept commands' rows are committed, with no gap in any numbering.
async fn savepoint_rollbacks_inside_a_coalesced_run(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = fresh_database(backend, &dir).await;
    let store = open(backend, &url).await;
    let a = setup(store.as_ref()).await;
    let steps = [
        Step::Keep,
        Step::RollBack,
        Step::Keep,
        Step::RollBackAfterFlush,
        Step::Keep,
        Step::Keep,
        Step::RollBack,
        Step::RollBackAfterFlush,
        Step::Keep,
    ];
    let (outcomes, attempts) = run_batch(store.as_ref(), a, &steps).await;
    let expected: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Keep | Step::DuplicateKey => "kept".to_owned(),
            Step::RollBack | Step::RollBackAfterFlush => "rolled back".to_owned(),
        })
        .collect();
    assert_eq!(outcomes, expected);
    if backend == Backend::Postgres {
        // Nothing failed, so no rerun (SQLite reruns a batch whose rollback needs a savepoint it
        // did not set); a coalesced statement that broke a constraint would have forced one.
        assert_eq!(attempts, 1);
    }
    check(store.as_ref(), a, &outcomes).await;
    drop(store);
    drop_database(backend, &url).await;
}

crate::both_backends!(a_failed_row_reruns_the_batch_strictly, savepoint_rollbacks_inside_a_coalesced_run);
