//! Issue 5, part 6: the standard reports. A scripted day of activity on the manual clock (money
//! funded the day before, deposits, payouts completed, failed, cancelled and still waiting, a
//! conversion, a withdrawal, a fee), then each report asked for over the API, downloaded, parsed
//! and tied to the ledger: `GET /api/v1/balances`, `/api/v1/balances/transactions` and
//! `outlay ledger verify`. The daily schedule writes each report once at the configured time,
//! even with two worker nodes, into the account's `Reports/` directory.

use std::collections::HashMap;
use std::time::Duration;

use outlay::config::{Role, ServeSettings};
use outlay::server::{Server, start_with_clock};
use outlay_engine::EngineConfig;
use outlay_worker::reports::{DailySchedule, ReportWorkerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::{datetime, time};

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, assert_envelope, raw_sql, sg_company};

both_backends!(
    a_scripted_day_ties_every_report_to_the_ledger,
    reports_are_private_to_their_account_and_validated,
    daily_reports_are_written_once_at_the_configured_time,
);

const KINDS: [&str; 4] = ["payouts", "balance_statement", "fees", "reconciliation"];

/// Rows of a report section, each a map from column to value.
type Rows = Vec<HashMap<String, String>>;

/// One section of a report (the data rows, or the totals after the empty line) as maps.
fn table(section: &str) -> Rows {
    let mut reader = csv::ReaderBuilder::new().from_reader(section.as_bytes());
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("csv record");
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

/// (data rows, totals rows).
fn sections(csv: &str) -> (Rows, Rows) {
    let (data, totals) = csv.split_once("\r\n\r\n").expect("a totals section after an empty line");
    (table(data), table(totals))
}

/// An exact decimal string with two places (USD, SGD) in minor units.
fn minor(text: &str) -> i64 {
    let (negative, digits) = text.strip_prefix('-').map_or((false, text), |d| (true, d));
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    assert_eq!(frac.len(), 2, "two decimal places: {text}");
    let value: i64 = format!("{whole}{frac}").parse().expect("decimal");
    if negative { -value } else { value }
}

fn total<'a>(rows: &'a [HashMap<String, String>], filter: &[(&str, &str)]) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| filter.iter().all(|(k, v)| r.get(*k).map(String::as_str) == Some(*v)))
        .unwrap_or_else(|| panic!("no totals row {filter:?} in {rows:?}"))
}

async fn ask(app: &TestApp, token: &str, kind: &str, from: &str, to: &str) -> String {
    let r = app.post("/api/v1/reports", token, &json!({"kind": kind, "from": from, "to": to})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "PENDING", "{}", r.text);
    assert_eq!(r.body["kind"], kind);
    r.body["report_id"].as_str().expect("report_id").to_owned()
}

/// Wait for a report to be READY; returns its status body and the downloaded CSV.
async fn ready(app: &TestApp, token: &str, id: &str) -> (Value, String) {
    for _ in 0..200 {
        let r = app.get(&format!("/api/v1/reports/{id}"), token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        match r.body["status"].as_str() {
            Some("READY") => {
                let d = app.get(&format!("/api/v1/reports/{id}/download"), token).await;
                assert_eq!(d.status, StatusCode::OK, "{}", d.text);
                let ct = d.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
                assert!(ct.starts_with("text/csv"), "{ct}");
                assert_eq!(
                    d.headers.get("x-content-sha256").and_then(|v| v.to_str().ok()),
                    r.body["sha256"].as_str(),
                    "the download is the report the status describes"
                );
                return (r.body, d.text);
            }
            Some("PENDING") => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("report {id} is {other:?}: {}", r.text),
        }
    }
    panic!("report {id} never became READY");
}

async fn report(app: &TestApp, token: &str, kind: &str, from: &str, to: &str) -> String {
    let id = ask(app, token, kind, from, to).await;
    ready(app, token, &id).await.1
}

fn gb_individual_usd_swift() -> Value {
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

async fn beneficiary(app: &TestApp, token: &str, body: &Value) -> String {
    let r = app.post("/api/v1/beneficiaries", token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned()
}

async fn payout(app: &TestApp, token: &str, beneficiary: &str, currency: &str, amount: &str, ours: bool) -> String {
    let mut body = json!({
        "currency": currency,
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November",
        "payout_date": "2026-11-24",
        "beneficiary_id": beneficiary,
    });
    if ours {
        body["fee_paid_by"] = json!("OURS");
    }
    let r = app.post_with_key("/api/v1/payouts", token, &uuid::Uuid::new_v4().to_string(), &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["payout_id"].as_str().expect("payout_id").to_owned()
}

async fn force(app: &TestApp, token: &str, id: &str, status: &str) {
    let r = app
        .post(
            &format!("/api/v1/simulation/payouts/{id}"),
            token,
            &json!({"payout_status": status, "failure_reason": "account closed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// The day: 24 November 2026 (UTC). USD is funded the evening before, so it opens non-zero.
async fn scripted_day(app: &TestApp, client: &Credentials) -> (String, Vec<String>) {
    app.clock.set(datetime!(2026-11-23 22:00 UTC));
    let token = app.token(client).await;
    app.fund(&token, "USD", "1000.00").await;

    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let token = app.token(client).await;
    app.fund(&token, "SGD", "1000.00").await;
    app.fund(&token, "USD", "500.00").await;
    let gb = beneficiary(app, &token, &gb_individual_usd_swift()).await;
    let sg = beneficiary(app, &token, &sg_company()).await;
    // USD SWIFT, fee 25.00 paid by us: completed.
    let swift = payout(app, &token, &gb, "USD", "100.00", true).await;
    force(app, &token, &swift, "COMPLETED").await;
    // SGD LOCAL: failed, cancelled, completed, and one still waiting.
    let failed = payout(app, &token, &sg, "SGD", "100.00", false).await;
    force(app, &token, &failed, "FAILED").await;
    let cancelled = payout(app, &token, &sg, "SGD", "100.00", false).await;
    let r = app.request(Method::POST, &format!("/api/v1/payouts/{cancelled}/cancel"), Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let completed = payout(app, &token, &sg, "SGD", "30.00", false).await;
    force(app, &token, &completed, "COMPLETED").await;
    let waiting = payout(app, &token, &sg, "SGD", "50.00", false).await;

    // A conversion: 100.00 USD sold for SGD.
    let out = app.cli(&["rates", "set", "--pair", "USDSGD", "--rate", "1.3456"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let q = app
        .post(
            "/api/v1/conversion/quote",
            &token,
            &json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "100.00", "conversion_date": "2026-11-24"}),
        )
        .await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text);
    let quote = q.body["quote_price"]["quote_id"].as_str().expect("quote_id").to_owned();
    let c = app
        .post_with_key(
            "/api/v1/conversion",
            &token,
            &uuid::Uuid::new_v4().to_string(),
            &json!({"quote_id": quote, "sell_currency": "USD", "buy_currency": "SGD", "conversion_date": "2026-11-24"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);

    // A withdrawal of 50.00 USD, completed.
    app.set_bank_account(&client.account_id);
    let w = app
        .post_with_key(
            "/api/v1/withdrawals",
            &token,
            &uuid::Uuid::new_v4().to_string(),
            &json!({"currency": "USD", "amount": "50.00"}),
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text);
    let wid = w.body["withdrawal_id"].as_str().or_else(|| w.body["id"].as_str()).expect("withdrawal id").to_owned();
    let r = app
        .post(&format!("/api/v1/simulation/withdrawals/{wid}"), &token, &json!({"withdrawal_status": "COMPLETED"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.clock.set(datetime!(2026-11-24 18:00 UTC));
    let token = app.token(client).await;
    (token, vec![swift, failed, cancelled, completed, waiting])
}

/// Sum of the day's ledger movements of each currency's Unified Balance, as the API lists them.
async fn api_movements(app: &TestApp, token: &str) -> (HashMap<String, i64>, u64) {
    let mut net: HashMap<String, i64> = HashMap::new();
    let mut count = 0;
    for page in 1.. {
        let r = app
            .get(
                &format!(
                    "/api/v1/balances/transactions?start_time=2026-11-24T00:00:00Z&end_time=2026-11-24T23:59:59.999Z&page_size=100&page_number={page}"
                ),
                token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let data = r.body["data"].as_array().expect("data").clone();
        for t in &data {
            if !["AVAILABLE", "PENDING", "RESERVE"].contains(&t["balance_type"].as_str().unwrap_or_default()) {
                continue;
            }
            count += 1;
            let amount = minor(t["amount"].as_str().expect("amount"));
            let signed = if t["credit_debit_type"] == "D" { -amount } else { amount };
            *net.entry(t["currency"].as_str().expect("currency").to_owned()).or_default() += signed;
        }
        if data.len() < 100 {
            break;
        }
    }
    (net, count)
}

async fn a_scripted_day_ties_every_report_to_the_ledger(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Reporting Pte Ltd", None);
    let (token, payouts) = scripted_day(&app, &client).await;
    let (from, to) = ("2026-11-24", "2026-11-24");

    // --- payouts: every payout of the day with its status; totals per currency and state.
    let csv = report(&app, &token, "payouts", from, to).await;
    let (rows, totals) = sections(&csv);
    assert_eq!(rows.len(), 5, "{csv}");
    let listed = app.get("/api/v1/payouts?page_size=100", &token).await;
    assert_eq!(listed.body["total_items"], 5);
    for p in listed.body["data"].as_array().expect("data") {
        let id = p["payout_id"].as_str().expect("id");
        let row = rows.iter().find(|r| r["payout_id"] == id).unwrap_or_else(|| panic!("payout {id} in the report"));
        assert_eq!(row["payout_status"], p["payout_status"].as_str().expect("status"));
        assert_eq!(row["outlay_status"], p["outlay_status"].as_str().expect("outlay_status"));
        assert_eq!(row["amount"], p["amount"].as_str().expect("amount"));
        assert_eq!(row["fee_amount"], p["fee_amount"].as_str().expect("fee"));
    }
    let usd = total(&totals, &[("currency", "USD"), ("outlay_status", "ALL")]);
    assert_eq!((usd["count"].as_str(), usd["amount"].as_str(), usd["fee_amount"].as_str()), ("1", "100.00", "25.00"));
    let sgd = total(&totals, &[("currency", "SGD"), ("outlay_status", "ALL")]);
    assert_eq!((sgd["count"].as_str(), sgd["amount"].as_str()), ("4", "280.00"));
    assert_eq!(total(&totals, &[("currency", "SGD"), ("outlay_status", "CANCELLED")])["amount"], "100.00");

    // --- balance statement: opening + every movement = closing = GET /balances, to the cent.
    let csv = report(&app, &token, "balance_statement", from, to).await;
    let (rows, totals) = sections(&csv);
    let (api_net, api_lines) = api_movements(&app, &token).await;
    assert_eq!(rows.len() as u64, api_lines, "one row per ledger line of the day:\n{csv}");
    let balances = app.get("/api/v1/balances", &token).await;
    for b in balances.body["data"].as_array().expect("data") {
        let currency = b["currency"].as_str().expect("currency");
        let t = total(&totals, &[("currency", currency)]);
        assert_eq!(t["closing_unified_balance"], b["unified_balance"].as_str().expect("unified"), "{currency}");
        assert_eq!(t["closing_available"], b["available_balance"].as_str().expect("available"), "{currency}");
        assert_eq!(t["closing_pending"], b["pending_balance"].as_str().expect("pending"), "{currency}");
        let (open, net, close) =
            (minor(&t["opening_unified_balance"]), minor(&t["net_movement"]), minor(&t["closing_unified_balance"]));
        assert_eq!(open + net, close, "{currency}: opening + movements = closing");
        assert_eq!(minor(&t["credits"]) - minor(&t["debits"]), net);
        assert_eq!(net, api_net.get(currency).copied().unwrap_or(0), "{currency}: the day's transactions");
        assert_eq!(t["balanced"], "true");
        let walked: i64 = rows.iter().filter(|r| r["currency"] == currency).map(|r| minor(&r["amount"])).sum();
        assert_eq!(walked, net, "{currency}: the rows add up to the net movement");
    }
    // USD opened with the evening-before deposit; SGD opened empty.
    assert_eq!(total(&totals, &[("currency", "USD")])["opening_unified_balance"], "1000.00");
    assert_eq!(total(&totals, &[("currency", "SGD")])["opening_unified_balance"], "0.00");
    // The evening-before deposit is not a movement of the day.
    assert!(rows.iter().all(|r| r["created_at"].starts_with("2026-11-24")), "{csv}");

    // --- fees: the SWIFT fee, equal to the fee revenue the ledger verifier counts.
    let csv = report(&app, &token, "fees", from, to).await;
    let (rows, totals) = sections(&csv);
    assert_eq!(rows.len(), 1, "{csv}");
    assert_eq!(rows[0]["reference_id"], payouts[0]);
    assert_eq!(total(&totals, &[("currency", "USD")])["fee_amount"], "25.00");
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fee revenue 2500"), "the fee report total is the ledger's fee revenue:\n{stdout}");
    app.assert_ledger_verifies();

    // --- reconciliation: every payout tied to its entries and rail reference, none flagged.
    let csv = report(&app, &token, "reconciliation", from, to).await;
    let (rows, totals) = sections(&csv);
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["reconciled"] == "true"), "{csv}");
    assert!(rows.iter().all(|r| !r["hold_entry_ids"].is_empty() && r["rail_reference"].starts_with('P')), "{csv}");
    let usd = total(&totals, &[("currency", "USD")]);
    assert_eq!((usd["held"].as_str(), usd["posted"].as_str(), usd["unreconciled"].as_str()), ("125.00", "125.00", "0"));
    let sgd = total(&totals, &[("currency", "SGD")]);
    assert_eq!(
        (sgd["held"].as_str(), sgd["posted"].as_str(), sgd["voided"].as_str()),
        ("280.00", "30.00", "200.00"),
        "{csv}"
    );
    let waiting = rows.iter().find(|r| r["payout_id"] == payouts[4]).expect("waiting payout");
    assert_eq!(waiting["net_pending"], "50.00");

    // A payout whose status says COMPLETED but whose hold was never posted is flagged.
    let sql = format!("UPDATE payouts SET state = 'COMPLETED' WHERE id = '{}'", payouts[4]);
    raw_sql(&app.database_url, &sql).await;
    let csv = report(&app, &token, "reconciliation", from, to).await;
    let (rows, totals) = sections(&csv);
    let flagged = rows.iter().find(|r| r["payout_id"] == payouts[4]).expect("tampered payout");
    assert_eq!(flagged["reconciled"], "false");
    assert!(flagged["discrepancy"].contains("posted 0"), "{csv}");
    assert_eq!(total(&totals, &[("currency", "SGD")])["unreconciled"], "1");
    app.finish().await;
}

async fn reports_are_private_to_their_account_and_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Owner Ltd", None);
    let other = app.create_account("Other Ltd", None);
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let token = app.token(&client).await;
    let other_token = app.token(&other).await;
    app.fund(&token, "USD", "10.00").await;
    let id = ask(&app, &token, "balance_statement", "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z").await;
    let (status, csv) = ready(&app, &token, &id).await;
    assert_eq!(status["trigger"], "api");
    assert!(csv.contains("TOTAL,USD,0.00,0.00,0.00,0.00,20.00,10.00,10.00,10.00,0.00,0.00,10.00,true"), "{csv}");

    // Another account cannot see, list or download it.
    let r = app.get(&format!("/api/v1/reports/{id}"), &other_token).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app.get(&format!("/api/v1/reports/{id}/download"), &other_token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(!r.text.contains("TOTAL"));
    let r = app.get("/api/v1/reports", &other_token).await;
    assert_eq!(r.body["total_items"], 0, "{}", r.text);
    let r = app.get("/api/v1/reports", &token).await;
    assert_eq!(r.body["total_items"], 1, "{}", r.text);

    // A report still being written (leased by a worker far into the future) is not downloadable yet.
    let pending = uuid::Uuid::new_v4();
    let sql = match backend {
        Backend::Sqlite => format!(
            "INSERT INTO reports (id, account_id, kind, period_start, period_end, status, trigger_kind, attempts, \
             lease_until, created_at) VALUES ('{pending}', '{}', 'fees', 0, 1000, 'pending', 'api', 1, 4102444800000, 0)",
            client.account_id
        ),
        Backend::Postgres => format!(
            "INSERT INTO reports (id, account_id, kind, period_start, period_end, status, trigger_kind, attempts, \
             lease_until, created_at) VALUES ('{pending}', '{}', 'fees', to_timestamp(0), to_timestamp(1), 'pending', \
             'api', 1, '2100-01-01T00:00:00Z', to_timestamp(0))",
            client.account_id
        ),
    };
    raw_sql(&app.database_url, &sql).await;
    let r = app.get(&format!("/api/v1/reports/{pending}"), &token).await;
    assert_eq!(r.body["status"], "PENDING", "{}", r.text);
    let r = app.get(&format!("/api/v1/reports/{pending}/download"), &token).await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    let r = app.get("/api/v1/reports", &token).await;
    assert_eq!(r.body["total_items"], 2, "{}", r.text);

    // Bad input names its field, and nothing is created.
    for (body, field) in [
        (json!({"kind": "ledger", "from": "2026-01-01", "to": "2026-01-02"}), "kind"),
        (json!({"kind": "fees", "from": "yesterday", "to": "2026-01-02"}), "from"),
        (json!({"kind": "fees", "from": "2026-01-05", "to": "2026-01-02"}), "to"),
        (json!({"kind": "fees", "from": "2020-01-01", "to": "2026-01-02"}), "to"),
    ] {
        let r = app.post("/api/v1/reports", &token, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    let r = app.post("/api/v1/reports", &token, &json!({"kind": "fees"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_fields");
    let r = app.get("/api/v1/reports", &token).await;
    assert_eq!(r.body["total_items"], 2, "nothing was created: {}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

/// A node that serves the API and runs the report worker with the daily schedule.
async fn node(app: &TestApp, role: Role, root: &std::path::Path) -> Server {
    let settings = ServeSettings {
        database_url: app.database_url.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        sandbox: true,
        settle_after: Duration::from_secs(24 * 3600),
        engine: EngineConfig::default(),
        metrics_listen: None,
        webhooks: Default::default(),
        role,
        rail: Default::default(),
        trust_forwarded_for: false,
        max_in_flight: outlay_api::DEFAULT_MAX_IN_FLIGHT,
        sftp: None,
        keys: Some(crate::helpers::sandbox_keys(&app.database_url).await),
        reports: ReportWorkerConfig {
            poll_interval: Duration::from_millis(50),
            daily: Some(DailySchedule { at: time!(01:00), offset: time::UtcOffset::UTC }),
            root: Some(root.to_path_buf()),
        },
    };
    start_with_clock(settings, app.clock.clone()).await.expect("node starts")
}

async fn scheduled(app: &TestApp, token: &str, from: &str) -> Vec<Value> {
    let r = app.get("/api/v1/reports?page_size=100", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["trigger"] == "schedule" && r["from"] == from)
        .cloned()
        .collect()
}

async fn daily_reports_are_written_once_at_the_configured_time(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let client = app.create_account("Daily Ltd", None);
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let token = app.token(&client).await;
    app.fund(&token, "USD", "700.00").await;
    // The first node has no schedule and no report directory: hand over to two scheduling nodes.
    app.stop().await;
    let root = tempfile::tempdir().expect("tempdir");
    app.clock.set(datetime!(2026-11-25 00:30 UTC));
    let a = node(&app, Role::All, root.path()).await;
    let b = node(&app, Role::Worker, root.path()).await;
    app.base = format!("http://{}", a.addr);
    let reports_dir = root.path().join(&client.account_id).join("Reports");
    let file = |kind: &str, day: &str| reports_dir.join(format!("{kind}_{day}.csv"));

    // Before 01:00 on the 25th only the 23rd is due (a node that starts late catches up once).
    for _ in 0..200 {
        if KINDS.iter().all(|k| file(k, "2026-11-23").exists()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(KINDS.iter().all(|k| file(k, "2026-11-23").exists()), "the 23rd's reports");
    assert!(KINDS.iter().all(|k| !file(k, "2026-11-24").exists()), "nothing for the 24th before 01:00");

    app.clock.set(datetime!(2026-11-25 01:00 UTC));
    let token = app.token(&client).await;
    for _ in 0..200 {
        if KINDS.iter().all(|k| file(k, "2026-11-24").exists()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both nodes poll a while longer: still one report of each kind for the day.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let day = scheduled(&app, &token, "2026-11-24T00:00:00Z").await;
    assert_eq!(day.len(), 4, "one scheduled report per kind, once: {day:?}");
    for kind in KINDS {
        let r = day.iter().find(|r| r["kind"] == kind).unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(r["to"], "2026-11-25T00:00:00Z");
        let id = r["report_id"].as_str().expect("id");
        let (_, csv) = ready(&app, &token, id).await;
        let on_disk = std::fs::read_to_string(file(kind, "2026-11-24")).expect("report file");
        assert_eq!(on_disk, csv, "{kind}: the file is the report the API serves");
    }
    let statement = std::fs::read_to_string(file("balance_statement", "2026-11-24")).expect("file");
    assert!(
        statement.contains("TOTAL,USD,0.00,0.00,0.00,0.00,1400.00,700.00,700.00,700.00,0.00,0.00,700.00,true"),
        "{statement}"
    );
    assert_eq!(scheduled(&app, &token, "2026-11-23T00:00:00Z").await.len(), 4);
    // The platform account got its reports too (every active account).
    let platform_dir = root.path().join(&app.platform.account_id).join("Reports");
    assert!(platform_dir.join("payouts_2026-11-24.csv").exists());

    b.stop().await.expect("stop");
    a.stop().await.expect("stop");
    app.assert_ledger_verifies();
    app.finish().await;
}
