//! PostgreSQL backend tests. They need a server: set `OUTLAY_TEST_DATABASE_URL` to a URL whose
//! user may create databases; without it they use `postgres://postgres@127.0.0.1:5432/postgres`.
//! Each test creates and drops its own database.
//!
//! The main test runs one scripted sequence of writes and reads against SQLite and PostgreSQL and
//! requires both transcripts to be identical, hashes and timestamps included.

use std::fmt::Debug;
use std::sync::Arc;

use outlay_core::ledger::{AuditReport, Auditor, EntryDraft, Kind, LedgerKey, Reference, rules};
use outlay_core::{AccountId, Amount, Currency};
use outlay_store::postgres::PgStore;
use outlay_store::sqlite::SqliteStore;
use outlay_store::{
    AccountRow, ApprovalPolicyRow, Backend, BankAccount, BatchReads, BeneficiaryRow, ComplianceReviewRow,
    ComplianceRulesRow, ConversionFilter, ConversionRow, CredentialRow, DepositFilter, DepositRow, FxRateRow,
    IdempotencyRecord, NewEvent, PageRequest, PostError, QuoteRow, Store, StoreError, TokenRow, TransactionFilter,
    WebhookAttemptRecord, WebhookDeliveryFilter, WebhookDeliveryView, WebhookEndpointRow, WebhookReplayFilter,
    WithdrawalFilter, WithdrawalRow, WriteTx,
};
use time::OffsetDateTime;
use tokio_postgres::NoTls;
use uuid::Uuid;

const ENV: &str = "OUTLAY_TEST_DATABASE_URL";

/// A throwaway database on the test server.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    /// `None` (and a note on stdout) when no server is configured.
    async fn create(test: &str) -> Option<TestDb> {
        // Never skipped: without the variable, the local server every dev machine and CI has.
        let _ = test;
        let admin_url = std::env::var(ENV).unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("outlay_store_test_{}", Uuid::new_v4().simple());
        let admin = admin_client(&admin_url).await;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create the test database");
        let url = with_database(&admin_url, &name);
        Some(TestDb { admin_url, name, url })
    }

    async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }

    /// Best effort: the test has passed or failed by now.
    async fn drop_database(self) {
        let admin = admin_client(&self.admin_url).await;
        if let Err(e) = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await {
            println!("could not drop {}: {e:?}", self.name);
        }
    }
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect to the test server");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The same URL naming another database.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").expect("a URL with a scheme") + 3;
    let root = match base[host_start..].find('/') {
        Some(i) => &base[..host_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

fn usd() -> Currency {
    Currency::parse("USD").expect("USD")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn amount(minor: i64) -> Amount {
    Amount::from_minor(minor).expect("amount")
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

/// A fixed instant plus `ms`, with sub-millisecond noise that both backends must drop alike.
fn t(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(1_750_000_000_000_000_000 + i128::from(ms) * 1_000_000 + 456_789)
        .expect("time")
}

fn page(number: u32, size: u32) -> PageRequest {
    PageRequest { number, size }
}

fn account(n: u128, parent: Option<AccountId>, created: OffsetDateTime) -> AccountRow {
    AccountRow {
        id: AccountId(id(n)),
        name: format!("account {n}"),
        parent_id: parent,
        kind: if parent.is_some() { "connected" } else { "platform" }.to_owned(),
        status: "ACTIVE".to_owned(),
        bank_account: parent.map(|_| BankAccount {
            account_holder: "Ada Lovelace".to_owned(),
            account_number: "GB00 1234 5678".to_owned(),
            bank_country_code: "GB".to_owned(),
            swift_code: Some("ABCDGB2L".to_owned()),
            bank_name: None,
        }),
        created_at: created,
    }
}

fn deposit(
    n: u128,
    account: AccountId,
    currency: &str,
    minor: i64,
    short: &str,
    created: OffsetDateTime,
) -> DepositRow {
    DepositRow {
        id: id(n),
        account_id: account,
        short_reference_id: short.to_owned(),
        currency: currency.to_owned(),
        amount: minor,
        fee: 0,
        status: "PENDING".to_owned(),
        receiver_account_number: Some("123".to_owned()),
        deposit_reference: None,
        sender_name: Some("Sender".to_owned()),
        sender_country: Some("DE".to_owned()),
        sender_account_number: None,
        sender_swift_code: None,
        source: "sandbox".to_owned(),
        created_at: created,
        completed_at: None,
    }
}

fn withdrawal(n: u128, account: AccountId, minor: i64, fee: i64, created: OffsetDateTime) -> WithdrawalRow {
    WithdrawalRow {
        id: id(n),
        account_id: account,
        short_reference_id: format!("W-{n}"),
        currency: "USD".to_owned(),
        amount: minor,
        fee,
        status: "PENDING".to_owned(),
        reference: Some("rent".to_owned()),
        bank_account_holder: "Ada Lovelace".to_owned(),
        bank_account_last4: "5678".to_owned(),
        bank_country_code: "GB".to_owned(),
        failure_reason: None,
        created_at: created,
        updated_at: created,
        completed_at: None,
    }
}

fn event(n: u128, account: AccountId, source: Uuid, event_type: &str, at: OffsetDateTime) -> NewEvent {
    NewEvent {
        id: id(n),
        account_id: account,
        event_name: "DEPOSIT".to_owned(),
        event_type: event_type.to_owned(),
        source_id: source,
        data: serde_json::json!({ "id": source.to_string(), "type": event_type, "amount": "1.00" }),
        created_at: at,
    }
}

fn reference(kind: &'static str, id: Uuid) -> Reference {
    Reference { kind, id }
}

async fn post(tx: &mut dyn WriteTx, draft: &EntryDraft, entry: u128, at: OffsetDateTime) {
    tx.post_entry(draft, id(entry), at).await.expect("post entry");
}

fn conflict_name<T: Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Conflict { constraint }) => constraint,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Every entry (in pages of `page_size`), chain head and balance through the auditor.
async fn audit(store: &dyn Store, page_size: u32) -> (AuditReport, Vec<String>) {
    let mut auditor = Auditor::new();
    let mut after = None;
    let mut entries = Vec::new();
    loop {
        let page = store.audit_entries(after, page_size).await.expect("audit entries");
        let Some(last) = page.last() else { break };
        assert!(page.len() <= page_size as usize);
        after = Some((last.owner, last.seq));
        for entry in &page {
            auditor.feed(entry);
            entries.push(format!("{entry:?}"));
        }
    }
    for (owner, seq, hash) in store.audit_chain_heads().await.expect("chain heads") {
        auditor.check_chain_head(owner, seq, &hash);
    }
    (auditor.finish(store.audit_balances().await.expect("audit balances")), entries)
}

fn sorted_debug<T: Debug>(items: &[T]) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    out.sort();
    out
}

/// Writes and reads that every backend must answer identically; returns the transcript.
async fn script(store: &dyn Store) -> Vec<String> {
    let mut log: Vec<String> = Vec::new();
    macro_rules! record {
        ($label:expr, $value:expr) => {
            log.push(format!("{}: {:?}", $label, $value))
        };
    }
    let platform = AccountId(id(1));
    let a = AccountId(id(2));
    let b = AccountId(id(3));
    record!("has platform before", store.has_platform_account().await.expect("has platform"));

    let mut conn = store.writer_conn().await.expect("writer connection");

    // Accounts, a credential and a token.
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.insert_account(&account(2, Some(platform), t(10))).await.expect("insert a");
    let mut row_b = account(3, Some(platform), t(10));
    row_b.bank_account = None;
    tx.insert_account(&row_b).await.expect("insert b");
    record!("account in tx", tx.account(a).await.expect("account in tx"));
    tx.insert_credential(&CredentialRow {
        id: id(50),
        account_id: a,
        client_id: "client-a".to_owned(),
        secret_hash: "hash".to_owned(),
        role: "admin".to_owned(),
        created_at: t(20),
    })
    .await
    .expect("insert credential");
    tx.insert_token(&TokenRow {
        token_hash: "token-1".to_owned(),
        credential_id: id(50),
        account_id: a,
        expires_at: t(3_600_000),
        created_at: t(30),
    })
    .await
    .expect("insert token");
    tx.commit().await.expect("commit accounts");

    record!("has platform", store.has_platform_account().await.expect("has platform"));
    record!("platform", store.account(platform).await.expect("account"));
    record!("a", store.account(a).await.expect("account"));
    record!("missing", store.account(AccountId(id(999))).await.expect("account"));
    record!("connected p1", store.connected_accounts(platform, page(1, 10)).await.expect("connected"));
    record!("connected p2", store.connected_accounts(platform, page(2, 1)).await.expect("connected"));
    record!("credential", store.credential_by_client_id("client-a").await.expect("credential"));
    record!("no credential", store.credential_by_client_id("nope").await.expect("credential"));
    record!("token", store.token("token-1").await.expect("token"));

    // Money: a deposit arrives and clears, a too-large hold fails, a withdrawal holds funds.
    let d1 = deposit(100, a, "USD", 10_000, "P250615-AAAAAAAA", t(1_000));
    let w1 = withdrawal(200, a, 3_000, 100, t(2_000));
    // Savepoints set for real and writes sent at once, on both backends, so that a refused call is
    // undone by its savepoint (the default is lazier: see `*_queued_writes`/`sqlite_lazy_savepoints`).
    conn.send_writes_at_once();
    let mut tx = conn.begin().await.expect("begin");
    tx.lock_chains(&[b, a, a]).await.expect("lock chains");
    tx.savepoint().await.expect("savepoint");
    tx.insert_deposit(&d1).await.expect("insert deposit");
    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(10_000), reference("deposit", d1.id)), 1_001, t(1_000))
        .await;
    tx.insert_event(&event(300, a, d1.id, "deposit.pending", t(1_000))).await.expect("event");
    let idem = IdempotencyRecord {
        account_id: a,
        key: "key-1".to_owned(),
        request_hash: "rh".to_owned(),
        status_code: 201,
        response_body: "{\"ok\":true}".to_owned(),
        body_in_audit: None,
        created_at: t(1_000),
    };
    tx.idempotency_put(&idem).await.expect("idempotency put");
    record!("idempotency in tx", tx.idempotency_get(a, "key-1").await.expect("idempotency get"));
    tx.release_savepoint().await.expect("release");
    tx.savepoint().await.expect("savepoint");
    tx.set_deposit_status(d1.id, "COMPLETED", Some(t(1_500))).await.expect("deposit status");
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(10_000), reference("deposit", d1.id)), 1_002, t(1_500))
        .await;
    tx.insert_event(&event(301, a, d1.id, "deposit.completed", t(1_500))).await.expect("event");
    record!("deposit in tx", tx.deposit(d1.id).await.expect("deposit in tx"));
    tx.release_savepoint().await.expect("release");

    tx.savepoint().await.expect("savepoint");
    tx.insert_withdrawal(&withdrawal(201, a, 50_000, 0, t(1_900))).await.expect("insert withdrawal");
    let too_much = tx
        .post_entry(&rules::hold(a, usd(), amount(50_000), reference("withdrawal", id(201))), id(1_003), t(1_900))
        .await;
    match too_much {
        Err(PostError::Insufficient { key }) => record!("insufficient", key),
        other => panic!("expected insufficient funds, got {other:?}"),
    }
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    record!("rolled back withdrawal", tx.withdrawal(id(201)).await.expect("withdrawal in tx"));

    tx.savepoint().await.expect("savepoint");
    tx.insert_withdrawal(&w1).await.expect("insert withdrawal");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(3_100), reference("withdrawal", w1.id)), 1_004, t(2_000)).await;
    tx.release_savepoint().await.expect("release");
    record!(
        "available in tx",
        tx.ledger_balance(&LedgerKey::client(a, usd(), Kind::Available)).await.expect("balance")
    );
    record!("unknown balance", tx.ledger_balance(&LedgerKey::client(a, eur(), Kind::Reserve)).await.expect("balance"));
    tx.commit().await.expect("commit money");

    // More chains and currencies, a reserve, a posted withdrawal.
    let d2 = deposit(101, b, "USD", 500, "P250615-BBBBBBBB", t(3_000));
    let d3 = deposit(102, a, "EUR", 700, "P250615-CCCCCCCC", t(3_001));
    let mut tx = conn.begin().await.expect("begin");
    tx.lock_chains(&[a, b]).await.expect("lock chains");
    tx.insert_deposit(&d2).await.expect("insert deposit");
    post(tx.as_mut(), &rules::deposit_received(b, usd(), amount(500), reference("deposit", d2.id)), 1_005, t(3_000))
        .await;
    tx.insert_deposit(&d3).await.expect("insert deposit");
    post(tx.as_mut(), &rules::deposit_received(a, eur(), amount(700), reference("deposit", d3.id)), 1_006, t(3_001))
        .await;
    let reserve = rules::adjust_reserve(a, usd(), 900, reference("reserve", a.0)).expect("reserve");
    post(tx.as_mut(), &reserve, 1_007, t(3_002)).await;
    tx.set_withdrawal_status(w1.id, "COMPLETED", t(4_000), None).await.expect("withdrawal status");
    post(
        tx.as_mut(),
        &rules::post_hold(a, usd(), amount(3_000), amount(100), reference("withdrawal", w1.id)),
        1_008,
        t(4_000),
    )
    .await;
    record!("bank cleared", tx.set_bank_account(a, None).await.expect("set bank"));
    record!("bank of unknown", tx.set_bank_account(AccountId(id(999)), None).await.expect("set bank"));
    tx.commit().await.expect("commit more");

    // Conflicts the engine acts on; the transaction goes on after a rollback to the savepoint.
    // (Queued writes on PostgreSQL report their conflicts late: see `deferred_conflict_*`.)
    conn.send_writes_at_once();
    let mut tx = conn.begin().await.expect("begin");
    tx.savepoint().await.expect("savepoint");
    record!("idempotency conflict", conflict_name(tx.idempotency_put(&idem).await));
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.savepoint().await.expect("savepoint");
    let mut dup = deposit(103, a, "USD", 1, "P250615-AAAAAAAA", t(5_000));
    record!("deposit short reference conflict", conflict_name(tx.insert_deposit(&dup).await));
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.savepoint().await.expect("savepoint");
    let mut dup_w = withdrawal(202, a, 1, 0, t(5_000));
    dup_w.short_reference_id = w1.short_reference_id.clone();
    record!("withdrawal short reference conflict", conflict_name(tx.insert_withdrawal(&dup_w).await));
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.savepoint().await.expect("savepoint");
    let dup_credential = CredentialRow {
        id: id(51),
        account_id: b,
        client_id: "client-a".to_owned(),
        secret_hash: "other".to_owned(),
        role: "admin".to_owned(),
        created_at: t(5_000),
    };
    record!("client id conflict", conflict_name(tx.insert_credential(&dup_credential).await));
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    dup.short_reference_id = "P250615-DDDDDDDD".to_owned();
    tx.insert_deposit(&dup).await.expect("insert deposit after conflicts");
    tx.commit().await.expect("commit after conflicts");

    // A transaction dropped while open leaves nothing behind and the connection usable.
    {
        let mut tx = conn.begin().await.expect("begin");
        tx.insert_account(&account(4, Some(platform), t(6_000))).await.expect("insert account");
    }
    {
        let mut tx = conn.begin().await.expect("begin after a dropped transaction");
        record!("dropped account", tx.account(AccountId(id(4))).await.expect("account"));
        tx.rollback().await.expect("rollback");
    }

    // A new token prunes tokens expired for more than an hour.
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_token(&TokenRow {
        token_hash: "token-2".to_owned(),
        credential_id: id(50),
        account_id: a,
        expires_at: t(4 * 3_600_000),
        created_at: t(3 * 3_600_000 - 1),
    })
    .await
    .expect("insert token");
    tx.commit().await.expect("commit token");
    record!("pruned token", store.token("token-1").await.expect("token"));
    record!("new token", store.token("token-2").await.expect("token"));

    // Reads.
    record!("balances a", store.balances(a).await.expect("balances"));
    record!("balances b", store.balances(b).await.expect("balances"));
    let all = TransactionFilter::default();
    record!("transactions a", store.transactions(a, &all, page(1, 10)).await.expect("transactions"));
    record!("transactions a p2", store.transactions(a, &all, page(2, 3)).await.expect("transactions"));
    let pending_usd = TransactionFilter {
        currency: Some("USD".to_owned()),
        balance_kind: Some("pending".to_owned()),
        ..TransactionFilter::default()
    };
    record!("transactions pending usd", store.transactions(a, &pending_usd, page(1, 10)).await.expect("transactions"));
    let window = TransactionFilter {
        reference_type: Some("deposit".to_owned()),
        start_time: Some(t(1_500)),
        end_time: Some(t(3_001)),
        ..TransactionFilter::default()
    };
    record!("transactions window", store.transactions(a, &window, page(1, 10)).await.expect("transactions"));
    record!("transactions b", store.transactions(b, &all, page(1, 10)).await.expect("transactions"));

    record!("deposit", store.deposit(a, d1.id).await.expect("deposit"));
    record!("deposit of another account", store.deposit(b, d1.id).await.expect("deposit"));
    record!("deposits", store.deposits(a, &DepositFilter::default(), page(1, 10)).await.expect("deposits"));
    record!("deposits p2", store.deposits(a, &DepositFilter::default(), page(2, 2)).await.expect("deposits"));
    let filter = DepositFilter {
        status: Some("PENDING".to_owned()),
        currency: Some("EUR".to_owned()),
        ..DepositFilter::default()
    };
    record!("deposits pending eur", store.deposits(a, &filter, page(1, 10)).await.expect("deposits"));
    let filter = DepositFilter { start_time: Some(t(1_000)), end_time: Some(t(3_000)), ..DepositFilter::default() };
    record!("deposits window", store.deposits(a, &filter, page(1, 10)).await.expect("deposits"));
    record!("pending deposits", store.pending_deposits(t(3_001), 10).await.expect("pending deposits"));
    record!("pending deposits limit", store.pending_deposits(t(10_000), 1).await.expect("pending deposits"));
    record!("withdrawal", store.withdrawal(a, w1.id).await.expect("withdrawal"));
    record!("withdrawal of another account", store.withdrawal(b, w1.id).await.expect("withdrawal"));
    record!("withdrawals", store.withdrawals(a, &WithdrawalFilter::default(), page(1, 10)).await.expect("withdrawals"));
    let filter = WithdrawalFilter { status: Some("PENDING".to_owned()), currency: None };
    record!("withdrawals pending", store.withdrawals(a, &filter, page(1, 10)).await.expect("withdrawals"));
    record!("pending withdrawals", store.pending_withdrawals(t(10_000), 10).await.expect("pending withdrawals"));
    record!("idempotency", store.idempotency(a, "key-1").await.expect("idempotency"));
    record!("no idempotency", store.idempotency(b, "key-1").await.expect("idempotency"));

    record!("audit balances", sorted_debug(&store.audit_balances().await.expect("audit balances")));
    record!("pending elsewhere", sorted_debug(&store.audit_pending_elsewhere().await.expect("pending elsewhere")));
    for kind in outlay_store::HoldableKind::ALL {
        // One object a page: every page after the first starts after the previous one's id.
        let (mut after, mut objects) = (None, Vec::new());
        loop {
            let page = store.audit_holdable_page(kind, after, 1).await.expect("holdable page");
            let Some(last) = page.last() else { break };
            after = Some(last.reference_id.parse().expect("uuid"));
            objects.extend(page);
        }
        let all = store.audit_holdable_page(kind, None, 1_000).await.expect("holdable page");
        assert_eq!(format!("{objects:?}"), format!("{all:?}"), "{kind:?}: pages of one are the whole, in order");
        record!(format!("holdable {kind:?}"), all);
    }
    let heads: Vec<_> =
        store.audit_chain_heads().await.expect("chain heads").into_iter().filter(|(_, seq, _)| *seq > 0).collect();
    record!("chain heads", sorted_debug(&heads));
    let (report, entries) = audit(store, 2).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 7);
    record!("entries", entries);
    record!("audit", (report.entries, report.lines, report.chains, report.balances_checked, report.balances));
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_matches_sqlite() {
    let Some(db) = TestDb::create("postgres_matches_sqlite").await else { return };

    // Several nodes starting at once: one migrates, the others wait and find it done.
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PgStore::open(&url).await.map(drop) })
        })
        .collect();
    for open in opens {
        open.await.expect("join").expect("concurrent open");
    }
    // Applying again is a no-op; the URL dispatch picks this backend.
    let store = outlay_store::open(&db.url).await.expect("open through the URL");
    assert_eq!(store.backend(), Backend::Postgres);
    let check = db.client().await;
    let applied: i64 = check.query_one("SELECT COUNT(*) FROM schema_migrations", &[]).await.expect("count").get(0);
    // One row per migration file (numbers may have gaps while migrations land in parallel).
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations directory")
        .filter(|f| f.as_ref().is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".sql")))
        .count();
    assert_eq!(usize::try_from(applied).expect("count"), files);

    let pg = script(store.as_ref()).await;

    let dir = std::env::temp_dir().join(format!("outlay-parity-{}", Uuid::new_v4().simple()));
    let sqlite =
        SqliteStore::open(&format!("sqlite://{}", dir.join("outlay.db").display())).await.expect("open sqlite");
    let lite = script(&sqlite).await;
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    for (i, (p, s)) in pg.iter().zip(&lite).enumerate() {
        assert_eq!(p, s, "transcript line {i} differs (left: PostgreSQL, right: SQLite)");
    }
    assert_eq!(pg.len(), lite.len());

    // An edited migration is refused.
    check.batch_execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1").await.expect("tamper");
    match PgStore::open(&db.url).await {
        Err(StoreError::Config(message)) => assert!(message.contains("changed after it was applied"), "{message}"),
        Err(e) => panic!("expected a configuration error, got {e:?}"),
        Ok(_) => panic!("an edited migration was accepted"),
    }
    drop(check);
    drop(store);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_writer_recovers() {
    let Some(db) = TestDb::create("postgres_writer_recovers").await else { return };
    let store = PgStore::open(&db.url).await.expect("open");
    let mut conn = store.writer_conn().await.expect("writer");
    let platform = AccountId(id(1));

    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.commit().await.expect("commit");

    // A failed statement while writes are queued (the default): the transaction is poisoned,
    // every later call and the commit answer "retry", nothing is committed, and the next
    // transaction sends every write at once.
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert account");
    let err = tx.insert_account(&account(1, None, t(0))).await.expect_err("duplicate platform");
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    let err = tx.account(platform).await.expect_err("the transaction is poisoned");
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    let err = tx.commit().await.expect_err("commit of a poisoned transaction");
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    assert!(store.account(AccountId(id(2))).await.expect("account").is_none());

    // The rerun: a failed statement not rolled back to a savepoint: COMMIT would silently roll
    // back, so commit refuses.
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert account");
    let err = tx.insert_account(&account(1, None, t(0))).await.expect_err("duplicate platform");
    assert!(matches!(err, StoreError::Conflict { ref constraint } if constraint == "accounts_pkey"), "{err:?}");
    let err = tx.account(platform).await.expect_err("the transaction is aborted");
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    let err = tx.commit().await.expect_err("commit of an aborted transaction");
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(store.account(AccountId(id(2))).await.expect("account").is_none());

    // An entry on an account that was never locked, and one on an account that does not exist
    // (writes sent at once, so the error lands on its own call).
    conn.send_writes_at_once();
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert account");
    let a = AccountId(id(2));
    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(5), reference("deposit", id(7))), 10, t(2)).await;
    tx.savepoint().await.expect("savepoint");
    let ghost = AccountId(id(3));
    tx.lock_chains(&[ghost]).await.expect("locking an unknown account is a no-op");
    let err = tx
        .post_entry(&rules::deposit_received(ghost, usd(), amount(5), reference("deposit", id(8))), id(11), t(3))
        .await
        .expect_err("no such account");
    assert!(matches!(err, PostError::Store(StoreError::Database(_))), "{err:?}");
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.commit().await.expect("commit");

    // The server drops the writer's connection: the next transaction reconnects.
    let admin = db.client().await;
    admin
        .batch_execute(
            // Only this test's database: other tests run writers at the same time.
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'outlay-writer' AND datname = '{}'",
                db.name
            ),
        )
        .await
        .expect("terminate the writer's backend");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut tx = conn.begin().await.expect("begin after the connection was dropped");
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(5), reference("deposit", id(7))), 12, t(4)).await;
    tx.commit().await.expect("commit");

    let (report, _) = audit(&store, 100).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 2);
    drop(admin);
    drop(conn);
    drop(store);
    db.drop_database().await;
}

/// SQLite sets a command's savepoint only in a strict transaction: a refusal that changed nothing
/// needs none, one that changed rows fails the batch (`Retry`) and the rerun sets them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lazy_savepoints() {
    let dir = std::env::temp_dir().join(format!("outlay-lazy-{}", Uuid::new_v4().simple()));
    let store = SqliteStore::open(&format!("sqlite://{}", dir.join("outlay.db").display())).await.expect("open sqlite");
    let mut conn = store.writer_conn().await.expect("writer");
    let platform = AccountId(id(1));
    let a = AccountId(id(2));
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert a");
    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(1_000), reference("deposit", id(7))), 10, t(2)).await;
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(1_000), reference("deposit", id(7))), 11, t(3)).await;
    post(tx.as_mut(), &rules::hold(a, usd(), amount(100), reference("withdrawal", id(8))), 12, t(4)).await;
    // Refused before changing a row (the debit comes first): no savepoint needed.
    tx.savepoint().await.expect("savepoint");
    let refused =
        tx.post_entry(&rules::hold(a, usd(), amount(901), reference("withdrawal", id(9))), id(13), t(5)).await;
    assert!(matches!(refused, Err(PostError::Insufficient { .. })), "{refused:?}");
    tx.rollback_to_savepoint().await.expect("nothing to undo");
    // Changed a row, then refused: the savepoint was not set, so the batch must be rerun.
    tx.savepoint().await.expect("savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(50), reference("withdrawal", id(10))), 14, t(6)).await;
    let err = tx.rollback_to_savepoint().await.expect_err("changes without a savepoint");
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    drop(tx);
    // The rerun sets every savepoint: the same sequence rolls back for real.
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert a");
    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(1_000), reference("deposit", id(7))), 10, t(2)).await;
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(1_000), reference("deposit", id(7))), 11, t(3)).await;
    tx.savepoint().await.expect("savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(50), reference("withdrawal", id(10))), 14, t(6)).await;
    tx.rollback_to_savepoint().await.expect("rolled back for real");
    tx.commit().await.expect("commit");
    let balances = store.balances(a).await.expect("balances");
    let of = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!(of("available"), Some(1_000), "{balances:?}");
    let (report, _) = audit(&store, 100).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 2);
    drop(conn);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Queued writes (the default on PostgreSQL): reads see them, savepoints roll them back whether
/// or not a flush sent them, and a conflict surfaces at commit, after which the rerun reports it
/// on its own call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_queued_writes() {
    let Some(db) = TestDb::create("postgres_queued_writes").await else { return };
    let store = PgStore::open(&db.url).await.expect("open");
    let mut conn = store.writer_conn().await.expect("writer");
    let platform = AccountId(id(1));
    let a = AccountId(id(2));
    let available = LedgerKey::client(a, usd(), Kind::Available);

    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.insert_account(&account(2, Some(platform), t(1))).await.expect("insert a");
    tx.lock_chains(&[a]).await.expect("lock");
    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(1_000), reference("deposit", id(7))), 10, t(2)).await;
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(1_000), reference("deposit", id(7))), 11, t(3)).await;
    // A read after queued writes sees them.
    assert_eq!(tx.ledger_balance(&available).await.expect("balance"), 1_000);

    // Rolled back before anything was sent: the queued hold is forgotten.
    tx.savepoint().await.expect("savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(300), reference("withdrawal", id(8))), 12, t(4)).await;
    tx.rollback_to_savepoint().await.expect("rollback");
    // Rolled back after a read sent it (and the savepoint with it).
    tx.savepoint().await.expect("savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(400), reference("withdrawal", id(9))), 13, t(5)).await;
    assert_eq!(tx.ledger_balance(&available).await.expect("balance"), 600);
    tx.savepoint().await.expect("inner savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(100), reference("withdrawal", id(10))), 14, t(6)).await;
    assert_eq!(tx.ledger_balance(&available).await.expect("balance"), 500);
    tx.release_savepoint().await.expect("release inner");
    tx.rollback_to_savepoint().await.expect("rollback outer");
    assert_eq!(tx.ledger_balance(&available).await.expect("balance"), 1_000);
    // Kept: a hold after the rollbacks; too large a hold is refused from the held balance.
    tx.savepoint().await.expect("savepoint");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(250), reference("withdrawal", id(11))), 15, t(7)).await;
    tx.release_savepoint().await.expect("release");
    tx.savepoint().await.expect("savepoint");
    let refused =
        tx.post_entry(&rules::hold(a, usd(), amount(751), reference("withdrawal", id(12))), id(16), t(8)).await;
    assert!(matches!(refused, Err(PostError::Insufficient { .. })), "{refused:?}");
    tx.rollback_to_savepoint().await.expect("rollback");
    let idem = IdempotencyRecord {
        account_id: a,
        key: "key-1".to_owned(),
        request_hash: "rh".to_owned(),
        status_code: 201,
        response_body: "{}".to_owned(),
        body_in_audit: None,
        created_at: t(8),
    };
    tx.idempotency_put(&idem).await.expect("put");
    let got = tx.idempotency_get(a, "key-1").await.expect("get").expect("the queued record");
    assert_eq!((got.request_hash.as_str(), got.status_code), ("rh", 201));
    tx.commit().await.expect("commit");

    let balances = store.balances(a).await.expect("balances");
    let of = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!((of("available"), of("pending")), (Some(750), Some(250)), "{balances:?}");
    let (report, _) = audit(&store, 100).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 3);

    // The same key again: queued, so the conflict shows at commit, and nothing is committed.
    let mut tx = conn.begin().await.expect("begin");
    tx.lock_chains(&[a]).await.expect("lock");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(50), reference("withdrawal", id(17))), 18, t(9)).await;
    tx.idempotency_put(&idem).await.expect("queued put");
    let err = tx.commit().await.expect_err("the queued insert conflicts");
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    // The rerun sends each write at once: the conflict is the put's own answer.
    let mut tx = conn.begin().await.expect("begin");
    tx.lock_chains(&[a]).await.expect("lock");
    post(tx.as_mut(), &rules::hold(a, usd(), amount(50), reference("withdrawal", id(17))), 18, t(9)).await;
    tx.savepoint().await.expect("savepoint");
    assert_eq!(conflict_name(tx.idempotency_put(&idem).await), "idempotency_keys_pkey");
    tx.rollback_to_savepoint().await.expect("rollback");
    tx.commit().await.expect("commit");
    let balances = store.balances(a).await.expect("balances");
    let of = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!((of("available"), of("pending")), (Some(700), Some(300)), "{balances:?}");
    let (report, _) = audit(&store, 100).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 4);
    drop(conn);
    drop(store);
    db.drop_database().await;
}

/// One writer's work: `rounds` transactions, each holding 3 units if it can.
async fn hold_rounds(store: Arc<PgStore>, client: AccountId, first_entry: u128, rounds: u128, lock: bool) -> u32 {
    let mut conn = store.writer_conn().await.expect("writer");
    let mut held = 0;
    for round in 0..rounds {
        let entry = first_entry + round;
        let draft = rules::hold(client, usd(), amount(3), reference("withdrawal", id(entry)));
        loop {
            let mut tx = conn.begin().await.expect("begin");
            if lock {
                tx.lock_chains(&[client]).await.expect("lock chains");
            }
            tx.savepoint().await.expect("savepoint");
            match tx.post_entry(&draft, id(entry), t(10_000 + i64::try_from(entry).expect("small"))).await {
                Ok(()) => {
                    tx.release_savepoint().await.expect("release");
                    tx.commit().await.expect("commit");
                    held += 1;
                }
                Err(PostError::Insufficient { .. }) => {
                    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
                    tx.commit().await.expect("commit");
                }
                Err(PostError::Store(StoreError::Retry(e))) if !lock => {
                    println!("retrying after: {e}");
                    tx.rollback().await.expect("rollback");
                    continue;
                }
                Err(e) => panic!("post failed: {e:?}"),
            }
            break;
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_writers_never_overdraw() {
    let Some(db) = TestDb::create("postgres_two_writers_never_overdraw").await else { return };
    let store = Arc::new(PgStore::open(&db.url).await.expect("open"));
    let platform = AccountId(id(1));
    let client = AccountId(id(2));
    let mut conn = store.writer_conn().await.expect("writer");
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert platform");
    tx.insert_account(&account(2, Some(platform), t(0))).await.expect("insert client");
    post(tx.as_mut(), &rules::deposit_received(client, usd(), amount(100), reference("deposit", id(9))), 1, t(1)).await;
    post(tx.as_mut(), &rules::deposit_cleared(client, usd(), amount(100), reference("deposit", id(9))), 2, t(2)).await;
    tx.commit().await.expect("commit deposit");
    drop(conn);

    // With chain locks, as the engine runs: 2 × 50 attempts at 3 units against 100.
    let first = tokio::spawn(hold_rounds(store.clone(), client, 1_000, 50, true));
    let second = tokio::spawn(hold_rounds(store.clone(), client, 2_000, 50, true));
    let held = first.await.expect("join") + second.await.expect("join");
    assert_eq!(held, 33, "exactly floor(100 / 3) holds fit");
    let balances = store.balances(client).await.expect("balances");
    let balance = |kind: &str| balances.iter().find(|b| b.kind == kind).map(|b| b.balance);
    assert_eq!(balance("available"), Some(1));
    assert_eq!(balance("pending"), Some(99));

    // Without chain locks the row locks alone still keep the chain and the balance whole.
    let mut conn = store.writer_conn().await.expect("writer");
    let mut tx = conn.begin().await.expect("begin");
    post(tx.as_mut(), &rules::void_hold(client, usd(), amount(60), reference("withdrawal", id(1_000))), 3, t(3)).await;
    tx.commit().await.expect("commit void");
    let first = tokio::spawn(hold_rounds(store.clone(), client, 3_000, 20, false));
    let second = tokio::spawn(hold_rounds(store.clone(), client, 4_000, 20, false));
    let held = first.await.expect("join") + second.await.expect("join");
    assert_eq!(held, 20, "61 units fit 20 holds of 3");

    let (report, _) = audit(store.as_ref(), 16).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    assert_eq!(report.entries, 3 + 33 + 20);
    drop(conn);
    drop(store);
    db.drop_database().await;
}

fn quote_row(n: u128, account: AccountId, transaction_type: &str, at: OffsetDateTime) -> QuoteRow {
    QuoteRow {
        id: id(n),
        account_id: account,
        sell_currency: "USD".to_owned(),
        sell_amount: 10_000,
        buy_currency: "SGD".to_owned(),
        buy_amount: 13_388,
        fixed_side: "sell".to_owned(),
        mid_rate: "1.3456".to_owned(),
        client_rate: "1.338872".to_owned(),
        markup_bps: 50,
        transaction_type: transaction_type.to_owned(),
        conversion_date: at.date(),
        valid_from: at,
        valid_to: at + time::Duration::seconds(75),
        used_at: None,
        used_by: None,
    }
}

fn conversion_row(n: u128, quote: &QuoteRow, short: &str, at: OffsetDateTime) -> ConversionRow {
    ConversionRow {
        id: id(n),
        account_id: quote.account_id,
        short_reference_id: short.to_owned(),
        quote_id: quote.id,
        sell_currency: quote.sell_currency.clone(),
        sell_amount: quote.sell_amount,
        buy_currency: quote.buy_currency.clone(),
        buy_amount: quote.buy_amount,
        client_rate: quote.client_rate.clone(),
        status: "COMPLETED".to_owned(),
        conversion_date: quote.conversion_date,
        reference: Some("treasury".to_owned()),
        created_at: at,
        completed_at: Some(at),
    }
}

/// FX rows (rates, quotes used at most once, conversions) and a conversion's ledger entry: both
/// backends must answer alike.
async fn fx_script(store: &dyn Store) -> Vec<String> {
    let mut log: Vec<String> = Vec::new();
    macro_rules! record {
        ($label:expr, $value:expr) => {
            log.push(format!("{}: {:?}", $label, $value))
        };
    }
    let (a, b) = (AccountId(id(2)), AccountId(id(3)));
    let sgd = Currency::parse("SGD").expect("SGD");
    let mut conn = store.writer_conn().await.expect("writer connection");

    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(2, None, t(0))).await.expect("insert a");
    tx.insert_account(&account(3, None, t(0))).await.expect("insert b");
    for (pair, rate, at) in [("USDSGD", "1.3456", 1), ("EURUSD", "1.08", 2), ("USDSGD", "1.35", 3)] {
        let row = FxRateRow {
            currency_pair: pair.to_owned(),
            rate: rate.to_owned(),
            source: "cli".to_owned(),
            updated_at: t(at),
        };
        tx.upsert_fx_rate(&row).await.expect("upsert rate");
    }
    record!("rate in tx", tx.fx_rate("USDSGD").await.expect("rate"));
    record!("missing rate", tx.fx_rate("USDJPY").await.expect("rate"));

    let q1 = quote_row(100, a, "conversion", t(10));
    let mut q2 = quote_row(101, a, "payout", t(20));
    q2.fixed_side = "buy".to_owned();
    let q3 = quote_row(102, b, "conversion", t(30));
    for q in [&q1, &q2, &q3] {
        tx.insert_quote(q).await.expect("insert quote");
    }
    record!("quote in tx", tx.quote(q1.id).await.expect("quote"));
    record!("first use", tx.mark_quote_used(q1.id, id(200), t(40)).await.expect("use"));
    record!("second use", tx.mark_quote_used(q1.id, id(201), t(41)).await.expect("use"));
    record!("unknown quote", tx.mark_quote_used(id(999), id(202), t(42)).await.expect("use"));
    record!("used quote in tx", tx.quote(q1.id).await.expect("quote"));

    post(tx.as_mut(), &rules::deposit_received(a, usd(), amount(50_000), reference("deposit", id(300))), 301, t(5))
        .await;
    post(tx.as_mut(), &rules::deposit_cleared(a, usd(), amount(50_000), reference("deposit", id(300))), 302, t(6))
        .await;
    let entry = rules::conversion(a, usd(), amount(10_000), sgd, amount(13_388), reference("conversion", id(200)));
    post(tx.as_mut(), &entry, 303, t(40)).await;
    tx.insert_conversion(&conversion_row(200, &q1, "XC250615-AAAAAAAA", t(40))).await.expect("insert conversion");
    tx.commit().await.expect("commit");

    // A short reference collision is reported by name (the engine retries with another one); a
    // second conversion of one quote is refused by the database too. (Sent at once, as the
    // engine's rerun does, so the error lands on its own call.)
    conn.send_writes_at_once();
    let mut tx = conn.begin().await.expect("begin");
    tx.savepoint().await.expect("savepoint");
    let dup = conversion_row(201, &q2, "XC250615-AAAAAAAA", t(50));
    record!("short reference conflict", conflict_name(tx.insert_conversion(&dup).await));
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.savepoint().await.expect("savepoint");
    let twice = conversion_row(202, &q1, "XC250615-BBBBBBBB", t(50));
    record!("quote converted twice refused", tx.insert_conversion(&twice).await.is_err());
    tx.rollback_to_savepoint().await.expect("rollback to savepoint");
    tx.insert_conversion(&conversion_row(203, &q2, "XC250615-CCCCCCCC", t(50))).await.expect("insert conversion");
    tx.insert_conversion(&conversion_row(204, &q3, "XC250615-DDDDDDDD", t(60))).await.expect("insert conversion");
    tx.commit().await.expect("commit");

    record!("rates", store.fx_rates().await.expect("rates"));
    record!("quote", store.quote(a, q1.id).await.expect("quote"));
    record!("quote of another account", store.quote(b, q1.id).await.expect("quote"));
    record!("unused quote", store.quote(a, q2.id).await.expect("quote"));
    record!("conversion", store.conversion(a, id(200)).await.expect("conversion"));
    record!("conversion of another account", store.conversion(b, id(200)).await.expect("conversion"));
    let all = ConversionFilter::default();
    record!("conversions a", store.conversions(a, &all, page(1, 10)).await.expect("conversions"));
    record!("conversions a p2", store.conversions(a, &all, page(2, 1)).await.expect("conversions"));
    record!("conversions b", store.conversions(b, &all, page(1, 10)).await.expect("conversions"));
    let filters = [
        ConversionFilter { status: Some("COMPLETED".to_owned()), ..ConversionFilter::default() },
        ConversionFilter { status: Some("FAILED".to_owned()), ..ConversionFilter::default() },
        ConversionFilter { sell_currency: Some("USD".to_owned()), buy_currency: Some("SGD".to_owned()), ..all.clone() },
        ConversionFilter { buy_currency: Some("USD".to_owned()), ..ConversionFilter::default() },
        ConversionFilter { start_time: Some(t(45)), end_time: Some(t(55)), ..ConversionFilter::default() },
    ];
    for (i, filter) in filters.iter().enumerate() {
        record!(
            format!("conversions filter {i}"),
            store.conversions(a, filter, page(1, 10)).await.expect("conversions")
        );
    }
    record!("balances a", store.balances(a).await.expect("balances"));
    let (report, entries) = audit(store, 10).await;
    assert!(report.violations.is_empty(), "auditor: {:?}", report.violations);
    record!("entries", entries);
    record!("audit balances", report.balances);
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_fx_matches_sqlite() {
    let Some(db) = TestDb::create("postgres_fx_matches_sqlite").await else { return };
    let store = PgStore::open(&db.url).await.expect("open postgres");
    let pg = fx_script(&store).await;

    let dir = std::env::temp_dir().join(format!("outlay-fx-parity-{}", Uuid::new_v4().simple()));
    let sqlite =
        SqliteStore::open(&format!("sqlite://{}", dir.join("outlay.db").display())).await.expect("open sqlite");
    let lite = fx_script(&sqlite).await;
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    for (i, (p, s)) in pg.iter().zip(&lite).enumerate() {
        assert_eq!(p, s, "transcript line {i} differs (left: PostgreSQL, right: SQLite)");
    }
    assert_eq!(pg.len(), lite.len());
    // The transcript says what it should, not only the same thing twice.
    let line = |label: &str| pg.iter().find(|l| l.starts_with(&format!("{label}: "))).cloned().unwrap_or_default();
    assert_eq!(line("first use"), "first use: true");
    assert_eq!(line("second use"), "second use: false");
    assert_eq!(line("short reference conflict"), "short reference conflict: \"short_reference_key\"");
    assert_eq!(line("quote converted twice refused"), "quote converted twice refused: true");
    assert!(line("rate in tx").contains("rate: \"1.35\""), "{}", line("rate in tx"));
    assert!(line("quote of another account").ends_with("None"));
    drop(store);
    db.drop_database().await;
}

fn endpoint_row(n: u128, account: AccountId, event_types: &[&str], at: OffsetDateTime) -> WebhookEndpointRow {
    WebhookEndpointRow {
        id: id(n),
        account_id: account,
        url: format!("https://hooks.example.com/{n}"),
        secret: format!("whsec_{n}"),
        event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
        status: "ACTIVE".to_owned(),
        created_at: at,
        updated_at: at,
    }
}

/// A delivery without its random id, for transcripts.
fn delivery_key(v: &WebhookDeliveryView) -> String {
    let d = &v.delivery;
    format!(
        "{} -> {} gen {} {} attempts {} next {:?} lease {:?} first {:?} last {:?} code {:?} error {:?} created {:?} delivered {:?} owner {} seq {}",
        d.event_id,
        d.endpoint_id,
        d.generation,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.lease_until,
        d.first_attempt_at,
        d.last_attempt_at,
        d.last_status_code,
        d.last_error,
        d.created_at,
        d.delivered_at,
        d.account_id,
        v.event.object_seq
    )
}

async fn delivery_log(store: &dyn Store, owner: AccountId, filter: &WebhookDeliveryFilter) -> (u64, Vec<String>) {
    let page = store.webhook_deliveries(owner, filter, page(1, 100)).await.expect("deliveries");
    let mut keys: Vec<String> = page.items.iter().map(delivery_key).collect();
    keys.sort();
    (page.total_items, keys)
}

/// Endpoints, the fan-out of events (own account and parent, filters), deleting, claims with
/// leases, recorded attempts and replays: both backends must answer alike.
async fn webhook_script(store: &dyn Store) -> Vec<String> {
    let mut log: Vec<String> = Vec::new();
    macro_rules! record {
        ($label:expr, $value:expr) => {
            log.push(format!("{}: {:?}", $label, $value))
        };
    }
    let (p, sub, q) = (AccountId(id(1)), AccountId(id(2)), AccountId(id(3)));
    let mut conn = store.writer_conn().await.expect("writer connection");
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert p");
    tx.insert_account(&account(2, Some(p), t(0))).await.expect("insert sub");
    tx.insert_account(&account(3, None, t(0))).await.expect("insert q");
    for e in [
        endpoint_row(11, p, &[], t(1)),
        endpoint_row(12, p, &["deposit.completed"], t(2)),
        endpoint_row(13, sub, &[], t(3)),
        endpoint_row(14, q, &[], t(4)),
        endpoint_row(15, p, &["deposit.pending", "deposit.completed"], t(5)),
    ] {
        tx.insert_webhook_endpoint(&e).await.expect("insert endpoint");
    }
    record!("count p", tx.count_active_webhook_endpoints(p).await.expect("count"));
    record!("endpoint in tx", tx.webhook_endpoint(id(12)).await.expect("endpoint"));
    for (n, owner, source, event_type, at) in [
        (21, p, 31, "deposit.pending", 10),
        (22, p, 31, "deposit.completed", 20),
        (23, sub, 32, "deposit.pending", 30),
        (24, q, 33, "payout.completed", 40),
    ] {
        tx.insert_event(&event(n, owner, id(source), event_type, t(at))).await.expect("insert event");
        let stored = tx.event(id(n)).await.expect("event").expect("the event just inserted");
        record!(format!("event {n} seq"), stored.object_seq);
    }
    record!("event in tx", tx.event(id(23)).await.expect("event"));
    let mut deleted = tx.webhook_endpoint(id(15)).await.expect("endpoint").expect("exists");
    deleted.status = "DELETED".to_owned();
    deleted.updated_at = t(50);
    tx.update_webhook_endpoint(&deleted).await.expect("delete");
    record!("failed with the endpoint", tx.fail_pending_webhook_deliveries(id(15), t(50), "endpoint deleted").await);
    tx.commit().await.expect("commit");

    record!("endpoints p", store.webhook_endpoints(p, page(1, 10)).await.expect("endpoints"));
    record!("endpoints p page 2", store.webhook_endpoints(p, page(2, 1)).await.expect("endpoints").items);
    record!("endpoint of sub seen by p", store.webhook_endpoint(p, id(13)).await.expect("endpoint"));
    record!("deleted endpoint", store.webhook_endpoint(p, id(15)).await.expect("endpoint"));
    let all = WebhookDeliveryFilter::default();
    record!("deliveries p", delivery_log(store, p, &all).await);
    record!("deliveries sub", delivery_log(store, sub, &all).await);
    record!("deliveries q", delivery_log(store, q, &all).await);
    for (i, filter) in [
        WebhookDeliveryFilter { status: Some("failed".to_owned()), ..all.clone() },
        WebhookDeliveryFilter { event_type: Some("deposit.completed".to_owned()), ..all.clone() },
        WebhookDeliveryFilter { endpoint_id: Some(id(11)), ..all.clone() },
        WebhookDeliveryFilter { event_id: Some(id(23)), ..all.clone() },
        WebhookDeliveryFilter { start_time: Some(t(15)), end_time: Some(t(25)), ..all.clone() },
    ]
    .iter()
    .enumerate()
    {
        record!(format!("deliveries p filter {i}"), delivery_log(store, p, filter).await);
    }
    record!("due before the events", store.webhook_deliveries_due(t(5)).await.expect("due"));
    record!("due", store.webhook_deliveries_due(t(100)).await.expect("due"));

    // Claim every due delivery, leased for a minute.
    let mut tx = conn.begin().await.expect("begin");
    let mut claimed = tx.claim_webhook_deliveries(t(100), t(60_100), 100).await.expect("claim");
    claimed.sort_by_key(|c| (c.event.id, c.endpoint_id));
    let keys: Vec<String> = claimed
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {:?} {} {:?}",
                c.event.id, c.endpoint_id, c.attempt, c.url, c.first_attempt_at, c.secret, c.event
            )
        })
        .collect();
    record!("claimed", keys);
    record!(
        "claim again while leased",
        tx.claim_webhook_deliveries(t(101), t(60_101), 100).await.expect("claim").len()
    );
    let outcome = |i: usize, status: &str, next: i64, code: Option<i32>, error: Option<&str>| WebhookAttemptRecord {
        delivery_id: claimed[i].delivery_id,
        attempt: claimed[i].attempt,
        status: status.to_owned(),
        next_attempt_at: t(next),
        status_code: code,
        error: error.map(str::to_owned),
        at: t(150),
    };
    record!("succeeded", tx.record_webhook_attempt(&outcome(0, "succeeded", 150, Some(200), None)).await);
    record!("retry", tx.record_webhook_attempt(&outcome(1, "pending", 30_000, Some(500), Some("HTTP 500"))).await);
    record!("gave up", tx.record_webhook_attempt(&outcome(2, "failed", 150, None, Some("connection refused"))).await);
    let stale =
        WebhookAttemptRecord { attempt: claimed[3].attempt + 1, ..outcome(3, "succeeded", 150, Some(200), None) };
    record!("stale attempt", tx.record_webhook_attempt(&stale).await);
    record!("settled twice", tx.record_webhook_attempt(&outcome(0, "failed", 150, None, None)).await);
    tx.commit().await.expect("commit");

    // Unrecorded leases expire; the retry comes due.
    let mut tx = conn.begin().await.expect("begin");
    record!(
        "claim before the lease expires",
        tx.claim_webhook_deliveries(t(29_000), t(89_000), 100).await.expect("claim").len()
    );
    let mut again = tx.claim_webhook_deliveries(t(60_200), t(120_200), 100).await.expect("claim");
    again.sort_by_key(|c| (c.event.id, c.endpoint_id));
    record!(
        "claimed after the lease",
        again.iter().map(|c| (c.event.id, c.endpoint_id, c.attempt, c.first_attempt_at)).collect::<Vec<_>>()
    );
    let limited = tx.claim_webhook_deliveries(t(200_000), t(260_000), 1).await.expect("claim");
    record!("limit", limited.len());

    // Replays: the next generation, to the owner's active endpoints whose filter takes the event.
    let replay = |owner: AccountId| WebhookReplayFilter {
        owner,
        event_id: None,
        event_type: None,
        start_time: None,
        end_time: None,
        endpoint_id: None,
    };
    record!("replay count p", tx.count_replay_events(&replay(p)).await);
    record!("replay count sub", tx.count_replay_events(&replay(sub)).await);
    let foreign = WebhookReplayFilter { event_id: Some(id(21)), ..replay(q) };
    record!("replay of another account's event", tx.count_replay_events(&foreign).await);
    let pending_only = WebhookReplayFilter { event_type: Some("deposit.pending".to_owned()), ..replay(p) };
    record!("replay pending", tx.replay_webhook_events(&pending_only, t(300_000)).await);
    let one = WebhookReplayFilter { event_id: Some(id(22)), endpoint_id: Some(id(12)), ..replay(p) };
    record!("replay one to one endpoint", tx.replay_webhook_events(&one, t(300_001)).await);
    record!("replay it again", tx.replay_webhook_events(&one, t(300_002)).await);
    let window = WebhookReplayFilter { start_time: Some(t(25)), end_time: Some(t(35)), ..replay(p) };
    record!("replay window count", tx.count_replay_events(&window).await);
    tx.commit().await.expect("commit");
    record!("deliveries p after", delivery_log(store, p, &all).await);
    record!("deliveries sub after", delivery_log(store, sub, &all).await);
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_webhooks_match_sqlite() {
    let Some(db) = TestDb::create("postgres_webhooks_match_sqlite").await else { return };
    let store = PgStore::open(&db.url).await.expect("open postgres");
    let pg = webhook_script(&store).await;

    let dir = std::env::temp_dir().join(format!("outlay-webhook-parity-{}", Uuid::new_v4().simple()));
    let sqlite =
        SqliteStore::open(&format!("sqlite://{}", dir.join("outlay.db").display())).await.expect("open sqlite");
    let lite = webhook_script(&sqlite).await;
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    for (i, (p, s)) in pg.iter().zip(&lite).enumerate() {
        assert_eq!(p, s, "transcript line {i} differs (left: PostgreSQL, right: SQLite)");
    }
    assert_eq!(pg.len(), lite.len());
    let line = |label: &str| pg.iter().find(|l| l.starts_with(&format!("{label}: "))).cloned().unwrap_or_default();
    // The fan-out: P's two events to P's endpoints (11 and 15 both, 12 the completion only),
    // the connected account's to its own (13) and its parent's (11, 15), Q's to Q's (14);
    // deleting 15 failed its three.
    assert_eq!(line("deliveries p").matches(" gen 0 ").count(), 7, "{}", line("deliveries p"));
    assert_eq!(line("deliveries sub").matches(" gen 0 ").count(), 1, "{}", line("deliveries sub"));
    assert_eq!(line("deliveries q").matches(" gen 0 ").count(), 1, "{}", line("deliveries q"));
    assert_eq!(line("failed with the endpoint"), "failed with the endpoint: Ok(3)");
    assert_eq!(line("claim again while leased"), "claim again while leased: 0");
    assert_eq!(line("stale attempt"), "stale attempt: Ok(false)");
    assert_eq!(line("settled twice"), "settled twice: Ok(false)");
    assert_eq!(line("replay count p"), "replay count p: Ok(3)");
    assert_eq!(line("replay count sub"), "replay count sub: Ok(1)");
    assert_eq!(line("replay of another account's event"), "replay of another account's event: Ok(0)");
    assert_eq!(line("replay pending"), "replay pending: Ok(2)");
    assert_eq!(line("replay it again"), "replay it again: Ok(1)");
    assert_eq!(line("limit"), "limit: 1");
    drop(store);
    db.drop_database().await;
}

/// Two nodes claiming at once never take the same delivery: the second skips the rows the
/// first has locked and takes the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_webhook_claims_skip_locked_rows() {
    let Some(db) = TestDb::create("postgres_webhook_claims_skip_locked_rows").await else { return };
    let store = PgStore::open(&db.url).await.expect("open postgres");
    let mut setup = store.writer_conn().await.expect("writer");
    let p = AccountId(id(1));
    let mut tx = setup.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("insert p");
    tx.insert_webhook_endpoint(&endpoint_row(11, p, &[], t(1))).await.expect("endpoint");
    for n in 0..6 {
        tx.insert_event(&event(100 + n, p, id(200 + n), "deposit.pending", t(10 + n as i64))).await.expect("event");
    }
    tx.commit().await.expect("commit");

    let (mut node_a, mut node_b) = (store.writer_conn().await.expect("a"), store.writer_conn().await.expect("b"));
    let mut tx_a = node_a.begin().await.expect("begin a");
    let mut tx_b = node_b.begin().await.expect("begin b");
    let first = tx_a.claim_webhook_deliveries(t(1000), t(61_000), 4).await.expect("claim a");
    // Node A's transaction is still open: B must not wait for it nor take its rows.
    let second =
        tokio::time::timeout(std::time::Duration::from_secs(5), tx_b.claim_webhook_deliveries(t(1000), t(61_000), 10))
            .await
            .expect("the second claim does not wait for the first")
            .expect("claim b");
    tx_b.commit().await.expect("commit b");
    tx_a.commit().await.expect("commit a");
    assert_eq!((first.len(), second.len()), (4, 2));
    let mut ids: Vec<Uuid> = first.iter().chain(&second).map(|c| c.delivery_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "no delivery was claimed twice");
    assert!(!store.webhook_deliveries_due(t(1000)).await.expect("due"), "every due delivery is leased");
    drop((node_a, node_b, setup));
    drop(store);
    db.drop_database().await;
}

fn beneficiary_row(n: u128, account: AccountId, at: OffsetDateTime) -> BeneficiaryRow {
    BeneficiaryRow {
        id: id(n),
        account_id: account,
        short_reference_id: format!("B261121-{n:08}"),
        entity_type: "INDIVIDUAL".to_owned(),
        payment_method: "LOCAL".to_owned(),
        first_name: Some(format!("First{n}")),
        last_name: Some("Last".to_owned()),
        company_name: None,
        nickname: None,
        email: None,
        bank_country_code: "US".to_owned(),
        account_currency_code: "USD".to_owned(),
        clearing_system: Some("ACH".to_owned()),
        bank_details: serde_json::json!({"account_number": format!("12345{n}"), "aba": "021000021"}),
        address: None,
        additional_info: None,
        status: "ACTIVE".to_owned(),
        created_at: at,
        updated_at: at,
    }
}

/// The reads a payout's batch prefetches (beneficiaries, approval policies, compliance
/// contexts), each read once without and once after `prefetch`, and again after a write in the
/// same transaction changes them. Each line is the same whether or not the batch prefetched.
async fn prefetch_script(store: &dyn Store) -> Vec<String> {
    let (a, b, c) = (AccountId(id(2)), AccountId(id(3)), AccountId(id(4)));
    let mut conn = store.writer_conn().await.expect("writer connection");
    let mut tx = conn.begin().await.expect("begin");
    tx.insert_account(&account(1, None, t(0))).await.expect("platform");
    for n in 2..=4 {
        tx.insert_account(&account(n, Some(AccountId(id(1))), t(1))).await.expect("account");
    }
    for (n, owner) in [(10, a), (11, b), (12, c)] {
        tx.insert_beneficiary(&beneficiary_row(n, owner, t(2))).await.expect("beneficiary");
    }
    tx.update_beneficiary(&BeneficiaryRow { status: "DELETED".to_owned(), ..beneficiary_row(12, c, t(3)) })
        .await
        .expect("delete beneficiary");
    tx.upsert_approval_policy(&ApprovalPolicyRow {
        account_id: a,
        approval_required_for_batches: true,
        payout_approval_thresholds: [("USD".to_owned(), 50_000)].into(),
        updated_by: None,
        updated_at: t(4),
    })
    .await
    .expect("policy");
    tx.upsert_compliance_rules(&ComplianceRulesRow {
        account_id: b,
        rules: serde_json::json!({"max_payout_amount": {"USD": 100000}}),
        updated_by: None,
        updated_at: t(5),
    })
    .await
    .expect("rules");
    tx.insert_compliance_review(&ComplianceReviewRow {
        id: id(20),
        account_id: b,
        subject_type: "beneficiary".to_owned(),
        subject_id: id(11),
        beneficiary_id: id(11),
        reasons: serde_json::json!([{"kind": "screening_hit"}]),
        list_version: None,
        status: "open".to_owned(),
        reviewed_by: None,
        reviewed_at: None,
        note: None,
        created_at: t(6),
        updated_at: t(6),
    })
    .await
    .expect("review");
    tx.commit().await.expect("commit setup");

    let beneficiaries = [id(10), id(11), id(12), id(99)];
    let accounts = [a, b, c];
    let pairs = [(a, id(10)), (b, id(11)), (c, id(12)), (a, id(11))];
    let reads = BatchReads {
        beneficiaries: beneficiaries.to_vec(),
        approval_policies: accounts.to_vec(),
        compliance_contexts: pairs.to_vec(),
    };
    let mut log = Vec::new();
    for prefetched in [false, true] {
        let mut tx = conn.begin().await.expect("begin");
        if prefetched {
            tx.prefetch(&reads).await.expect("prefetch");
        }
        for id in beneficiaries {
            log.push(format!("beneficiary {id}: {:?}", tx.beneficiary(id).await.expect("beneficiary")));
        }
        for account in accounts {
            log.push(format!("policy {account:?}: {:?}", tx.approval_policy(account).await.expect("policy")));
        }
        for (account, beneficiary) in pairs {
            let context = tx.compliance_context(account, beneficiary).await.expect("context");
            log.push(format!("context {account:?} {beneficiary}: {context:?}"));
        }
        // A write in the same transaction is seen by the reads after it.
        let renamed = BeneficiaryRow { nickname: Some("renamed".to_owned()), ..beneficiary_row(10, a, t(7)) };
        tx.update_beneficiary(&renamed).await.expect("rename");
        log.push(format!("renamed: {:?}", tx.beneficiary(id(10)).await.expect("beneficiary")));
        tx.rollback().await.expect("rollback");
    }
    let (plain, prefetched) = log.split_at(log.len() / 2);
    for (i, (p, f)) in plain.iter().zip(prefetched).enumerate() {
        assert_eq!(p, f, "read {i} differs after prefetch (left: read alone, right: prefetched)");
    }
    assert!(plain.iter().any(|l| l.contains("renamed")), "the write in the transaction is read back");
    assert!(plain.iter().any(|l| l.contains("max_payout_amount")), "the rules were read");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefetched_reads_match_reads_one_by_one() {
    let Some(db) = TestDb::create("prefetched_reads").await else { return };
    let store = PgStore::open(&db.url).await.expect("open postgres");
    let pg = prefetch_script(&store).await;
    let dir = std::env::temp_dir().join(format!("outlay-prefetch-{}", Uuid::new_v4().simple()));
    let sqlite =
        SqliteStore::open(&format!("sqlite://{}", dir.join("outlay.db").display())).await.expect("open sqlite");
    let lite = prefetch_script(&sqlite).await;
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(pg, lite, "the backends read the same (left: PostgreSQL, right: SQLite)");
    drop(store);
    db.drop_database().await;
}
