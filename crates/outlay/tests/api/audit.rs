//! Issue 7, part 4: the audit trail. Every mutating request leaves a hash-chained record (who,
//! what, when, from where, before and after), failed and refused ones too; `outlay audit verify`
//! names an edited row; the trail exports as CSV and JSON lines. Account numbers are encrypted
//! at rest and masked where designed.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, raw_sql};

both_backends!(
    mutations_are_audited_with_who_where_before_and_after,
    failed_and_refused_mutations_are_audited,
    an_edited_audit_row_is_named_by_audit_verify,
    the_trail_exports_as_csv_and_jsonl,
    account_numbers_are_encrypted_at_rest_and_masked_in_responses,
    key_rotation_re_encrypts_and_keeps_data_readable,
    review_decisions_are_audited_under_the_reviewer,
    deposits_batch_rows_and_wallet_methods_are_encrypted_too,
    keys_reseal_encrypts_values_stored_in_clear_before_an_upgrade,
);

const TODAY: &str = "2026-11-24";

async fn app(backend: Backend) -> (TestApp, Credentials, String) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Audited Pte Ltd", None);
    let token = app.token(&client).await;
    (app, client, token)
}

fn sg_company(account_number: &str) -> Value {
    json!({
        "entity_type": "COMPANY",
        "company_name": "Lion City Trading Pte Ltd",
        "payment_method": "LOCAL",
        "bank_details": {
            "bank_country_code": "SG",
            "account_currency_code": "SGD",
            "account_holder": "Lion City Trading Pte Ltd",
            "account_number": account_number,
            "swift_code": "DBSSSGSG",
            "clearing_system": "FAST"
        }
    })
}

fn payout(beneficiary_id: &str, amount: &str) -> Value {
    json!({
        "currency": "SGD",
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November",
        "payout_date": TODAY,
        "beneficiary_id": beneficiary_id
    })
}

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/audit_events?page_size=100&{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().expect("data").clone()
}

async fn one(app: &TestApp, token: &str, action: &str) -> Value {
    let found = events(app, token, &format!("action={action}")).await;
    assert_eq!(found.len(), 1, "one {action} record expected: {found:#?}");
    found[0].clone()
}

fn audit_verify(app: &TestApp) -> (bool, String) {
    let out = app.cli(&["audit", "verify"]);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn mutations_are_audited_with_who_where_before_and_after(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let ua = [("user-agent", "audit-test/1.0")];

    // Create: after is the object as the client saw it, numbers masked; no before.
    let r = app
        .request(reqwest::Method::POST, "/api/v1/beneficiaries", Some(&token), &ua, Some(&sg_company("0123456789")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    let created = one(&app, &token, "beneficiary.create").await;
    assert_eq!(created["account_id"], client.account_id);
    assert_eq!(created["object_type"], "beneficiary");
    assert_eq!(created["object_id"], beneficiary);
    assert_eq!(created["role"], "admin");
    assert!(uuid::Uuid::parse_str(created["credential_id"].as_str().expect("credential")).is_ok(), "{created}");
    assert_eq!(created["source_ip"], "127.0.0.1");
    assert_eq!(created["user_agent"], "audit-test/1.0");
    assert!(created["request_id"].as_str().is_some_and(|s| !s.is_empty()), "{created}");
    assert_eq!(created["status_code"], 200);
    assert!(created["before"].is_null());
    assert_eq!(created["after"]["beneficiary_id"], beneficiary);
    let after_text = created["after"].to_string();
    assert!(!after_text.contains("0123456789"), "the audit log must not hold a clear account number: {after_text}");
    assert!(after_text.contains("****6789"), "{after_text}");

    // Update: before is the prior state, after the new one.
    let mut changed = sg_company("0123456789");
    changed["nickname"] = json!("Lion");
    let r = app.post(&format!("/api/v1/beneficiaries/{beneficiary}"), &token, &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let updated = one(&app, &token, "beneficiary.update").await;
    assert!(updated["before"]["nickname"].is_null(), "{updated}");
    assert_eq!(updated["before"]["status"], "ACTIVE");
    assert_eq!(updated["after"]["nickname"], "Lion", "{updated}");
    assert!(!updated.to_string().contains("0123456789"));

    // A payout and its cancellation (a transition: before READY_TO_SEND).
    app.fund(&token, "SGD", "1000.00").await;
    let r = app
        .post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &payout(&beneficiary, "100.00"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let payout_id = r.body["payout_id"].as_str().expect("payout_id").to_owned();
    let created = one(&app, &token, "payout.create").await;
    assert_eq!(created["object_id"], payout_id);
    assert_eq!(created["after"]["payout_id"], payout_id);
    let r = app.post(&format!("/api/v1/payouts/{payout_id}/cancel"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cancelled = one(&app, &token, "payout.cancelled").await;
    assert_eq!(cancelled["object_id"], payout_id);
    assert_eq!(cancelled["before"]["state"], "READY_TO_SEND", "{cancelled}");

    // The simulation endpoints are audited too, and every record of the object is found by its
    // id, newest first, each chained to the one before.
    assert!(!events(&app, &token, "action=deposit.create").await.is_empty());
    let by_object = events(&app, &token, &format!("object_id={payout_id}")).await;
    assert_eq!(by_object.len(), 2, "{by_object:#?}");
    assert_eq!(by_object[0]["action"], "payout.cancelled");
    let all = events(&app, &token, "").await;
    for pair in all.windows(2) {
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"]);
        assert_eq!(pair[0]["seq"].as_i64().expect("seq"), pair[1]["seq"].as_i64().expect("seq") + 1);
    }

    // Paging and filters are validated as every list is.
    let r = app.get("/api/v1/audit_events?page_size=5", &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.get("/api/v1/audit_events?start_time=yesterday", &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("start_time"), "{}", r.text);

    // Operator commands are recorded under the credential "operator".
    app.set_bank_account(&client.account_id);
    let op = one(&app, &token, "account.set_bank_account").await;
    assert_eq!(op["credential_id"], "operator");

    let (ok, report) = audit_verify(&app);
    assert!(ok, "{report}");
    assert!(report.contains("audit trail OK"), "{report}");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn failed_and_refused_mutations_are_audited(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company("0123456789")).await;
    let beneficiary = r.body["beneficiary_id"].as_str().expect("id").to_owned();

    // Insufficient funds: refused in the writer, nothing changed, the refusal recorded.
    let r = app
        .post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &payout(&beneficiary, "100.00"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let failed = one(&app, &token, "payout.create").await;
    assert_eq!(failed["status_code"], 400);
    assert_eq!(failed["error_code"], "insufficient_balance", "{failed}");
    assert!(failed["after"].is_null());

    // A validation failure before the engine: recorded with its code.
    let mut bad = payout(&beneficiary, "10.001");
    bad["currency"] = json!("SGD");
    let r = app.post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let all = events(&app, &token, "action=payout.create").await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0]["status_code"], 400);
    assert!(all[0]["error_code"].as_str().is_some_and(|c| !c.is_empty() && c != "insufficient_balance"), "{all:#?}");
    // The client still gets the error envelope it would have got without the audit layer.
    assert!(r.body["code"].is_string(), "{}", r.text);

    // A role that may not move money: 403, recorded under the refused credential.
    let viewer = app.credential(&client, "read_only").await;
    let viewer_token = app.token(&viewer).await;
    let r = app.post("/api/v1/beneficiaries", &viewer_token, &sg_company("0123456789")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let refused = events(&app, &token, "action=beneficiary.create").await[0].clone();
    assert_eq!(refused["status_code"], 403);
    assert_eq!(refused["role"], "read_only");
    assert_eq!(refused["error_code"], "permission_denied", "{refused}");
    let by_viewer =
        events(&app, &token, &format!("credential_id={}", refused["credential_id"].as_str().expect("cred"))).await;
    assert_eq!(by_viewer.len(), 1);

    let (ok, report) = audit_verify(&app);
    assert!(ok, "{report}");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn an_edited_audit_row_is_named_by_audit_verify(backend: Backend) {
    let (app, client, token) = app(backend).await;
    for n in ["0123456789", "0123456790", "0123456791"] {
        let r = app.post("/api/v1/beneficiaries", &token, &sg_company(n)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let (ok, report) = audit_verify(&app);
    assert!(ok, "{report}");

    // The table refuses edits...
    let edit = format!(
        "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2 AND account_id = '{}'",
        client.account_id
    );
    let refused = if app.database_url.starts_with("sqlite://") {
        let path = app.database_url.trim_start_matches("sqlite://").to_owned();
        rusqlite::Connection::open(path).expect("open").execute_batch(&edit).is_err()
    } else {
        let (c, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        c.batch_execute(&edit).await.is_err()
    };
    assert!(refused, "audit_log must be append-only");

    // ...so go around the trigger, as an attacker with database access would.
    let bypass = if app.database_url.starts_with("sqlite://") {
        "DROP TRIGGER audit_log_no_update;".to_owned()
    } else {
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;".to_owned()
    };
    raw_sql(&app.database_url, &format!("{bypass} {edit};")).await;
    let (ok, report) = audit_verify(&app);
    assert!(!ok, "verify must fail after an edit:\n{report}");
    assert!(report.contains(&client.account_id), "{report}");
    assert!(report.contains("record 2"), "{report}");
    assert!(report.contains("edited"), "{report}");
    assert!(!report.contains("record 1 "), "only the edited record is named:\n{report}");

    // The JSON report names it too.
    let out = app.cli(&["audit", "verify", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["breaks"][0]["seq"], 2);
    app.finish().await;
}

async fn the_trail_exports_as_csv_and_jsonl(backend: Backend) {
    let (app, client, token) = app(backend).await;
    for n in ["0123456789", "0123456790"] {
        let r = app.post("/api/v1/beneficiaries", &token, &sg_company(n)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = app.get("/api/v1/audit_events/export?format=csv", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers["content-type"].to_str().expect("ct").starts_with("text/csv"));
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(lines[0].starts_with("audit_event_id,account_id,seq,time,credential_id"), "{}", r.text);
    assert_eq!(lines.len(), 3, "{}", r.text);
    assert!(lines[1].contains(",1,") && lines[1].contains("beneficiary.create"), "{}", lines[1]);
    assert!(!r.text.contains("0123456789"), "{}", r.text);

    let r = app.get("/api/v1/audit_events/export?format=jsonl&action=beneficiary.create", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let records: Vec<Value> = r.text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["seq"], 1);
    assert_eq!(records[1]["prev_hash"], records[0]["hash"]);
    let r = app.get("/api/v1/audit_events/export?format=xml", &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // The operator's export is the same trail.
    let out = app.cli(&["audit", "export", "--account", &client.account_id, "--format", "jsonl"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    app.finish().await;
}

const SG_NUMBER: &str = "0123456789";
const IBAN: &str = "GB82WEST12345698765432";

fn gb_individual() -> Value {
    json!({
        "entity_type": "INDIVIDUAL",
        "first_name": "Jane",
        "last_name": "Smith",
        "payment_method": "SWIFT",
        "bank_details": {
            "bank_country_code": "GB",
            "account_currency_code": "USD",
            "account_holder": "Jane Smith",
            "iban": "GB82 WEST 1234 5698 7654 32",
            "swift_code": "WESTGB2L"
        },
        "address": {"street_address": "1 High Street", "city": "London", "postal_code": "EC1A 1BB", "country": "GB"}
    })
}

/// Everything the database holds, as an attacker reading it directly would see it: the SQLite
/// files' raw bytes (database and write-ahead log), or every row of every PostgreSQL table.
async fn raw_dump(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-journal"] {
            if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(b);
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        let (c, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let tables = c
            .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'", &[])
            .await
            .expect("tables");
        let mut out = String::new();
        for t in tables {
            let name: String = t.get(0);
            let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM \"{name}\" t");
            let row = c.query_one(&sql, &[]).await.expect("dump");
            let text: String = row.get(0);
            out.push_str(&text);
        }
        out
    }
}

fn assert_no_clear_numbers(dump: &str) {
    for clear in [SG_NUMBER, IBAN, "GB82 WEST 1234 5698 7654 32", "000123456789"] {
        assert!(!dump.contains(clear), "the database holds {clear} in clear");
    }
}

async fn account_numbers_are_encrypted_at_rest_and_masked_in_responses(backend: Backend) {
    let (app, client, token) = app(backend).await;
    // The designated withdrawal account (set by the operator: 000123456789) is sealed too.
    app.set_bank_account(&client.account_id);
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company(SG_NUMBER)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sg = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    // The create response is masked (it is also stored for idempotent replay).
    assert_eq!(r.body["bank_details"]["account_number"], "****6789", "{}", r.text);
    let r = app.post("/api/v1/beneficiaries", &token, &gb_individual()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let gb = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    app.fund(&token, "SGD", "500.00").await;
    let r =
        app.post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &payout(&sg, "50.00")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let payout_id = r.body["payout_id"].as_str().expect("payout_id").to_owned();
    assert_eq!(r.body["beneficiary"]["bank_details"]["account_number"], "****6789", "{}", r.text);

    // The owner retrieving one beneficiary sees the full numbers (as UQPAY returns them)...
    let r = app.get(&format!("/api/v1/beneficiaries/{sg}"), &token).await;
    assert_eq!(r.body["bank_details"]["account_number"], SG_NUMBER, "{}", r.text);
    let r = app.get(&format!("/api/v1/beneficiaries/{gb}"), &token).await;
    let iban = r.body["bank_details"]["iban"].as_str().expect("iban").replace(' ', "");
    assert_eq!(iban, IBAN, "{}", r.text);
    // ...lists and payouts show the last four only.
    let r = app.get("/api/v1/beneficiaries", &token).await;
    assert!(!r.text.contains(SG_NUMBER) && r.text.contains("****6789"), "{}", r.text);
    assert!(r.text.contains("****5432"), "{}", r.text);
    let r = app.get(&format!("/api/v1/payouts/{payout_id}"), &token).await;
    assert_eq!(r.body["beneficiary"]["bank_details"]["account_number"], "****6789", "{}", r.text);

    // The database read directly holds ciphertext only.
    let dump = raw_dump(&app).await;
    assert!(dump.contains("enc:v1:k1:"), "values are stored encrypted with the active key");
    assert_no_clear_numbers(&dump);

    // Withdrawals still go to the designated account (read back decrypted: its last four).
    let r = app
        .post_with_key(
            "/api/v1/withdrawals",
            &token,
            &uuid::Uuid::new_v4().to_string(),
            &json!({"currency": "SGD", "amount": "10.00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("6789"), "{}", r.text);
    assert_no_clear_numbers(&raw_dump(&app).await);

    // Production refuses to start without a configured key.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outlay"))
        .args(["serve", "--production", "--listen", "127.0.0.1:0", "--database-url", &app.database_url])
        .env("OUTLAY_LOG", "warn")
        .env_remove("OUTLAY_ENCRYPTION_KEY")
        .output()
        .expect("run outlay");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("encryption key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Payouts still settle: the rail path reads the decrypted snapshot.
    let r = app
        .post(&format!("/api/v1/simulation/payouts/{payout_id}"), &token, &json!({"payout_status": "COMPLETED"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn key_rotation_re_encrypts_and_keeps_data_readable(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company(SG_NUMBER)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sg: uuid::Uuid = r.body["beneficiary_id"].as_str().expect("id").parse().expect("uuid");
    assert!(raw_dump(&app).await.contains("enc:v1:k1:"));

    let out = app.cli(&["keys", "rotate", "--new-key-id", "k2"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("re-encrypted 1 stored value(s) with key k2"), "{text}");
    if backend == Backend::Sqlite {
        let key_file = std::fs::read_to_string(app.data_dir().join("outlay.key")).expect("key file");
        assert_eq!(key_file.lines().count(), 2, "both keys are kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(app.data_dir().join("outlay.key")).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    let dump = raw_dump(&app).await;
    assert_no_clear_numbers(&dump);
    assert!(dump.contains("enc:v1:k2:"), "re-encrypted with the new key");

    // A node started now reads the key file (both keys) and the rotated data.
    let peer = app.spawn_peer(outlay::config::Role::All, std::time::Duration::from_secs(3600)).await;
    let account: outlay_core::AccountId = client.account_id.parse().expect("account id");
    let b = peer.engine.store().beneficiary(account, sg).await.expect("read").expect("found");
    assert_eq!(b.bank_details["account_number"], SG_NUMBER);
    // Rotating again to a key id in use is refused.
    let out = app.cli(&["keys", "rotate", "--new-key-id", "k2"]);
    assert!(!out.status.success());
    peer.stop().await.expect("peer stops");
    app.finish().await;
}

const SENDER_NUMBER: &str = "987654321012";
const RECEIVER_NUMBER: &str = "555566667777";
const BATCH_NUMBER: &str = "1122334455";
const WALLET_NUMBER: &str = "2233445566";
const PASSPORT: &str = "P1234567X";

/// Uploaded documents' stored bytes as text (PostgreSQL's `bytea` is not in the text dump).
async fn document_text(app: &TestApp) -> String {
    let sql = if app.database_url.starts_with("sqlite://") {
        "SELECT CAST(content AS TEXT) FROM files"
    } else {
        "SELECT encode(content, 'escape') FROM files"
    };
    column_text(&app.database_url, sql).await
}

fn assert_none_of(dump: &str, numbers: &[&str]) {
    for clear in numbers {
        assert!(!dump.contains(clear), "the database holds {clear} in clear");
    }
}

/// Deposits (sender and receiver numbers), batch rows waiting for approval (an inline
/// beneficiary's number), a wallet recipient's transfer method, their idempotent replays,
/// events and audit records: none holds a clear number; rotation re-encrypts every one and
/// they stay readable.
async fn deposits_batch_rows_and_wallet_methods_are_encrypted_too(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let account: outlay_core::AccountId = client.account_id.parse().expect("account id");
    let all = [SENDER_NUMBER, RECEIVER_NUMBER, BATCH_NUMBER, WALLET_NUMBER];

    // A deposit carrying both account numbers: stored sealed, shown masked (also in the replay).
    let body = json!({
        "amount": "300.00", "currency": "SGD", "sender_name": "Funding Co", "sender_country": "SG",
        "sender_account_number": SENDER_NUMBER, "receiver_account_number": RECEIVER_NUMBER,
        "sender_swift_code": "DBSSSGSG"
    });
    let key = uuid::Uuid::new_v4().to_string();
    let r = app.post_with_key("/api/v1/simulation/deposit", &token, &key, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sender"]["sender_account_number"], "****1012", "{}", r.text);
    assert_eq!(r.body["receiver_account_number"], "****7777", "{}", r.text);
    let deposit: uuid::Uuid = r.body["deposit_id"].as_str().expect("deposit_id").parse().expect("uuid");
    let replay = app.post_with_key("/api/v1/simulation/deposit", &token, &key, &body).await;
    assert_eq!(replay.body, r.body);
    let r = app
        .post(&format!("/api/v1/simulation/deposit/{deposit}"), &token, &json!({"deposit_status": "COMPLETED"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get(&format!("/api/v1/deposit/{deposit}"), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deposit_status"], "COMPLETED", "{}", r.text);
    assert_eq!(r.body["sender"]["sender_account_number"], "****1012", "{}", r.text);
    let r = app.get("/api/v1/deposit", &token).await;
    assert!(r.text.contains("****7777") && !r.text.contains(RECEIVER_NUMBER), "{}", r.text);
    let stored = app
        .server
        .as_ref()
        .expect("server")
        .engine
        .store()
        .deposit(account, deposit)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(stored.sender_account_number.as_deref(), Some(SENDER_NUMBER), "the store reads it back in clear");

    // A batch whose row names an inline beneficiary; it waits for approval with its row kept.
    let row = json!({
        "currency": "SGD", "amount": "25.00", "purpose_code": "WAGES_SALARY", "payout_reference": "Inline row",
        "payout_date": TODAY, "beneficiary": sg_company(BATCH_NUMBER)
    });
    let r = app.post("/api/v1/payout_batches", &token, &json!({"payouts": [row]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let batch = r.body["batch_id"].as_str().expect("batch_id").to_owned();
    let batch_id: uuid::Uuid = batch.parse().expect("uuid");
    let page = outlay_store::PageRequest { number: 1, size: 10 };
    let items = app
        .server
        .as_ref()
        .expect("server")
        .engine
        .store()
        .payout_batch_items(batch_id, None, page)
        .await
        .expect("items");
    let payload = items.items[0].payload.clone().expect("the waiting row keeps its payload");
    assert!(payload.contains(BATCH_NUMBER), "the store reads the payload back in clear: {payload}");

    let approver = app.credential(&client, "approver").await;
    let approver = app.token(&approver).await;

    // A wallet recipient's transfer method.
    let r = app.post("/api/v1/accounts/payout_model", &token, &json!({"payout_model": "both"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post("/api/v1/recipients", &token, &json!({"name": "Mei Tan", "external_reference": "mei"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (client_id, api_key) = (
        r.body["client_id"].as_str().expect("client_id").to_owned(),
        r.body["api_key"].as_str().expect("api_key").to_owned(),
    );
    let headers = [("x-client-id", client_id.as_str()), ("x-api-key", api_key.as_str())];
    let r = app.request(reqwest::Method::POST, "/api/v1/recipient/access_token", None, &headers, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rtoken = r.body["auth_token"].as_str().expect("auth_token").to_owned();
    let mut method = sg_company(WALLET_NUMBER);
    method["bank_details"]["account_holder"] = json!("Mei Tan");
    let method = json!({
        "entity_type": "INDIVIDUAL", "first_name": "Mei", "last_name": "Tan", "payment_method": "LOCAL",
        "bank_details": method["bank_details"]
    });
    let r = app.post("/api/v1/recipient/transfer_methods", &rtoken, &method).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["bank_details"]["account_number"], "****5566", "{}", r.text);

    // A supporting document (a passport scan, say) is sealed whole.
    let part =
        reqwest::multipart::Part::bytes(format!("%PDF-1.7 passport {PASSPORT}").into_bytes()).file_name("passport.pdf");
    let r = app
        .http
        .post(format!("{}/api/v1/files/upload", app.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let documents = document_text(&app).await;
    assert!(documents.starts_with("enc:v1:k1:") && !documents.contains(PASSPORT), "{documents}");

    // Read directly, the database holds none of these numbers (nor the audit records, events
    // and idempotent replays of the requests that carried them).
    let dump = raw_dump(&app).await;
    assert_none_of(&dump, &all);

    // Rotation re-encrypts them all; a node started afterwards reads them.
    let out = app.cli(&["keys", "rotate", "--new-key-id", "k2"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let dump = raw_dump(&app).await;
    assert_none_of(&dump, &all);
    let documents = document_text(&app).await;
    assert!(documents.starts_with("enc:v1:k2:") && !documents.contains(PASSPORT), "{documents}");
    if backend == Backend::Postgres {
        // (A SQLite file keeps freed pages and old WAL frames, so only the live rows can be
        // checked there: every one of them moved to k2.)
        assert!(!dump.contains("enc:v1:k1:"), "every sealed value was re-encrypted with k2");
    }
    let peer = app.spawn_peer(outlay::config::Role::All, std::time::Duration::from_secs(3600)).await;
    let d = peer.engine.store().deposit(account, deposit).await.expect("read").expect("found");
    assert_eq!(d.sender_account_number.as_deref(), Some(SENDER_NUMBER));
    assert_eq!(d.receiver_account_number.as_deref(), Some(RECEIVER_NUMBER));
    let items = peer.engine.store().payout_batch_items(batch_id, None, page).await.expect("items");
    assert!(items.items[0].payload.as_deref().is_some_and(|p| p.contains(BATCH_NUMBER)), "{:?}", items.items[0]);

    // Approved on that node, the row (read back with k2) becomes a payout to the inline account.
    let r = app
        .http
        .post(format!("http://{}/api/v1/payout_batches/{batch}/approve", peer.addr))
        .header("x-auth-token", format!("Bearer {approver}"))
        .json(&json!({}))
        .send()
        .await
        .expect("approve sent");
    let status = r.status();
    assert_eq!(status, StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    let mut payout = None;
    for _ in 0..50 {
        let items = peer.engine.store().payout_batch_items(batch_id, None, page).await.expect("items");
        if let Some(id) = items.items[0].payout_id {
            assert!(items.items[0].payload.is_none(), "a released row drops its payload");
            payout = Some(id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let payout = payout.expect("the approved row was released");
    let p = peer.engine.store().payout(account, payout).await.expect("read").expect("found");
    assert_eq!(p.beneficiary["bank_details"]["account_number"], BATCH_NUMBER, "{}", p.beneficiary);
    assert_none_of(&raw_dump(&app).await, &all);
    peer.stop().await.expect("peer stops");
    app.finish().await;
}

/// The live values of some columns, as text (`SELECT` through the database, not the store).
async fn column_text(database_url: &str, sql: &str) -> String {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).expect("open sqlite");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0)).expect("query");
        rows.map(|r| r.expect("row").unwrap_or_default()).collect::<Vec<_>>().join("\n")
    } else {
        let (c, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let rows = c.query(sql, &[]).await.expect("query");
        rows.iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect::<Vec<_>>().join("\n")
    }
}

/// Values stored in clear before an upgrade sealed their columns (deposits, batch rows) are
/// still read, and `outlay keys reseal` encrypts them with the active key.
async fn keys_reseal_encrypts_values_stored_in_clear_before_an_upgrade(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let account: outlay_core::AccountId = client.account_id.parse().expect("account id");
    let body = json!({"amount": "100.00", "currency": "SGD", "sender_account_number": SENDER_NUMBER});
    let r = app.post("/api/v1/simulation/deposit", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let deposit = r.body["deposit_id"].as_str().expect("deposit_id").to_owned();
    let row = json!({
        "currency": "SGD", "amount": "25.00", "purpose_code": "WAGES_SALARY", "payout_reference": "Inline row",
        "payout_date": TODAY, "beneficiary": sg_company(BATCH_NUMBER)
    });
    let r = app.post("/api/v1/payout_batches", &token, &json!({"payouts": [row]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let batch: uuid::Uuid = r.body["batch_id"].as_str().expect("batch_id").parse().expect("uuid");
    let page = outlay_store::PageRequest { number: 1, size: 10 };
    let store = app.server.as_ref().expect("server").engine.store().clone();
    let payload = store.payout_batch_items(batch, None, page).await.expect("items").items[0].payload.clone();
    let payload = payload.expect("payload");

    // As an older version stored them: in clear.
    let sql = format!(
        "UPDATE deposits SET sender_account_number = '{SENDER_NUMBER}' WHERE id = '{deposit}';
         UPDATE payout_batch_items SET payload = '{}' WHERE batch_id = '{batch}';",
        payload.replace('\'', "''")
    );
    raw_sql(&app.database_url, &sql).await;
    let deposits = "SELECT sender_account_number FROM deposits";
    let payloads = "SELECT payload FROM payout_batch_items";
    assert!(column_text(&app.database_url, deposits).await.contains(SENDER_NUMBER));
    // Still read (a value without the enc: prefix is returned as it is), and still masked.
    let r = app.get(&format!("/api/v1/deposit/{deposit}"), &token).await;
    assert_eq!(r.body["sender"]["sender_account_number"], "****1012", "{}", r.text);

    let out = app.cli(&["keys", "reseal"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("re-encrypted 2 stored value(s) with key k1"), "{text}");
    for sql in [deposits, payloads] {
        let live = column_text(&app.database_url, sql).await;
        assert!(!live.contains(SENDER_NUMBER) && !live.contains(BATCH_NUMBER), "{live}");
        assert!(live.contains("enc:v1:k1:"), "{live}");
    }
    let d = store.deposit(account, deposit.parse().expect("uuid")).await.expect("read").expect("found");
    assert_eq!(d.sender_account_number.as_deref(), Some(SENDER_NUMBER));
    let items = store.payout_batch_items(batch, None, page).await.expect("items");
    assert_eq!(items.items[0].payload.as_deref(), Some(payload.as_str()));
    // Nothing left to do: a second run changes nothing.
    let out = app.cli(&["keys", "reseal"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 0 stored value(s)"));
    app.finish().await;
}

async fn review_decisions_are_audited_under_the_reviewer(backend: Backend) {
    let (app, client, token) = app(backend).await;
    let r = app
        .post(
            "/api/v1/account_rules",
            &token,
            &json!({"limits": [{"currency": "SGD", "per_payout": "10.00"}], "actions": {"per_payout": "review"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company(SG_NUMBER)).await;
    let beneficiary = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    app.fund(&token, "SGD", "500.00").await;
    let mut payouts = Vec::new();
    for _ in 0..2 {
        let r = app
            .post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &payout(&beneficiary, "50.00"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        payouts.push(r.body["payout_id"].as_str().expect("payout_id").to_owned());
    }
    let reviewer = app.credential(&client, "reviewer").await;
    let reviewer_token = app.token(&reviewer).await;
    let r = app.get("/api/v1/compliance/reviews?page_size=100", &reviewer_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let review_of = |payout: &str| {
        r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|v| v["subject_id"] == payout)
            .and_then(|v| v["review_id"].as_str())
            .unwrap_or_else(|| panic!("no review of {payout}: {}", r.text))
            .to_owned()
    };
    let (first, second) = (review_of(&payouts[0]), review_of(&payouts[1]));
    let r =
        app.post(&format!("/api/v1/compliance/reviews/{first}/clear"), &reviewer_token, &json!({"note": "ok"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r =
        app.post(&format!("/api/v1/compliance/reviews/{second}/reject"), &reviewer_token, &json!({"note": "no"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for (action, review) in [("compliance.reviews.clear", &first), ("compliance.reviews.reject", &second)] {
        let rec = one(&app, &token, action).await;
        assert_eq!(rec["role"], "reviewer", "{rec}");
        assert_eq!(rec["object_id"], review.as_str(), "{rec}");
        assert_eq!(rec["before"]["status"], "open", "{rec}");
        assert!(!rec["after"].is_null(), "{rec}");
    }
    let cleared = one(&app, &token, "compliance.reviews.clear").await;
    let by_reviewer =
        events(&app, &token, &format!("credential_id={}", cleared["credential_id"].as_str().expect("cred"))).await;
    assert_eq!(by_reviewer.len(), 2, "{by_reviewer:#?}");
    // Deciding again is refused, and the refusal is on the trail too.
    let r = app.post(&format!("/api/v1/compliance/reviews/{first}/clear"), &reviewer_token, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let again = events(&app, &token, &format!("object_id={first}")).await;
    assert_eq!(again[0]["status_code"], 409, "{again:#?}");

    let (ok, report) = audit_verify(&app);
    assert!(ok, "{report}");
    app.assert_ledger_verifies();
    app.finish().await;
}
