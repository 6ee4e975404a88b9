//! Issue 5 (parts 1-4): payout batches from JSON and files, per-row results, the two release
//! modes, maker-checker approval, cancel, completion by the rail, webhooks, and a 100,000-row
//! file. On a clock set to a business day (Tuesday 24 November 2026, 10:00 in Singapore).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, Response, TestApp, WebhookReceiver, assert_envelope, raw_sql};

both_backends!(
    json_batch_reports_good_and_bad_rows,
    csv_upload_reports_every_row_problem_and_refuses_the_same_file,
    file_level_problems_fail_the_batch,
    all_or_nothing_refuses_on_insufficient_funds_with_nothing_held,
    approval_needs_a_second_credential_and_cancel_releases_nothing,
    batch_completes_when_the_rail_finishes_its_rows,
    hundred_thousand_row_file_is_ingested,
    a_release_a_crash_interrupted_resumes_at_start,
    bulk_partial_release_reports_refused_rows_and_runs_out_of_balance_part_way,
    bulk_all_or_nothing_release_undoes_everything_at_a_refused_row,
    a_covered_batch_is_held_by_one_entry_and_its_payouts_draw_on_it,
    a_large_held_batch_is_answered_once_held_and_finishes_in_the_background,
    a_release_a_stopped_node_left_idle_is_carried_on_by_a_live_node,
);

const TODAY: &str = "2026-11-24";

async fn setup(backend: Backend, settle_after: Option<Duration>) -> (TestApp, Credentials, String, String) {
    let app = match settle_after {
        Some(d) => TestApp::spawn_full(backend, true, d).await,
        None => TestApp::spawn(backend).await,
    };
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Batch Payer Pte Ltd", None);
    let token = app.token(&client).await;
    let r = app
        .post(
            "/api/v1/beneficiaries",
            &token,
            &json!({
                "entity_type": "COMPANY",
                "company_name": "Lion City Trading Pte Ltd",
                "payment_method": "LOCAL",
                "bank_details": {
                    "bank_country_code": "SG",
                    "account_currency_code": "SGD",
                    "account_holder": "Lion City Trading Pte Ltd",
                    "account_number": "0123456789",
                    "swift_code": "DBSSSGSG",
                    "clearing_system": "FAST"
                }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary = r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned();
    (app, client, token, beneficiary)
}

fn row(beneficiary: &str, amount: &str, reference: &str) -> Value {
    json!({
        "currency": "SGD",
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": reference,
        "payout_date": TODAY,
        "beneficiary_id": beneficiary,
    })
}

async fn set_policy(app: &TestApp, token: &str, body: Value) {
    let r = app.post("/api/v1/accounts/approval_policy", token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>, mode: &str) -> Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("file", part).text("mode", mode.to_owned());
    let resp = app
        .http
        .post(format!("{}/api/v1/payout_batches", app.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .multipart(form)
        .send()
        .await
        .expect("upload sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Response { status, headers, body, text }
}

async fn items(app: &TestApp, token: &str, batch: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/payout_batches/{batch}/items?{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// The SGD balance is `available` and `pending`.
async fn assert_sgd(app: &TestApp, token: &str, available: &str, pending: &str) {
    let b = app.balance(token, "SGD").await;
    assert_eq!(
        (b["available_balance"].as_str(), b["pending_balance"].as_str()),
        (Some(available), Some(pending)),
        "{b}"
    );
}

fn id(body: &Value) -> String {
    body["batch_id"].as_str().expect("batch_id").to_owned()
}

/// The batch once its status is `wanted` (polled for up to 30 s; fails if it never gets there).
async fn wait_for_status(app: &TestApp, token: &str, batch: &str, wanted: &str) -> Value {
    let mut got = Value::Null;
    for _ in 0..300 {
        got = app.get(&format!("/api/v1/payout_batches/{batch}"), token).await.body;
        if got["batch_status"] == wanted {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch {batch} never became {wanted}: {got}");
}

async fn json_batch_reports_good_and_bad_rows(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "1000.00").await;
    set_policy(&app, &token, json!({"approval_required_for_batches": false})).await;
    let mut bad_currency = row(&beneficiary, "5.00", "Bad currency");
    bad_currency["currency"] = json!("XXQ");
    let mut bad_amount = row(&beneficiary, "5.001", "Too precise");
    bad_amount["colour"] = json!("blue");
    let body = json!({"mode": "PARTIAL", "payouts": [
        row(&beneficiary, "100.00", "Salary 1"),
        bad_currency,
        row(&beneficiary, "50.00", "Salary 2"),
        row(&beneficiary, "100.00", "Salary 1"),
        bad_amount,
        row(&beneficiary, "2000.00", "Too much"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let batch = id(&r.body);
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    assert_eq!((r.body["total_rows"].as_i64(), r.body["valid_rows"].as_i64()), (Some(6), Some(3)), "{}", r.text);
    assert_eq!(r.body["format"], "JSON");

    let all = items(&app, &token, &batch, "page_size=10").await;
    let rows = all["data"].as_array().expect("data");
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0]["item_status"], "CREATED");
    assert!(rows[0]["payout_id"].is_string());
    assert_eq!(rows[1]["item_status"], "INVALID");
    assert_eq!(rows[1]["error"]["field"], "currency");
    assert_eq!(rows[1]["error"]["code"], "invalid_currency");
    assert_eq!(rows[3]["item_status"], "INVALID");
    assert_eq!(rows[3]["error"]["code"], "duplicate_row");
    assert!(rows[3]["error"]["message"].as_str().is_some_and(|m| m.contains("row 1")), "{}", rows[3]);
    assert_eq!(rows[4]["error"]["code"], "unknown_field");
    assert_eq!(rows[4]["error"]["field"], "colour");
    // Valid by its own rules, refused at release: the balance does not cover it (PARTIAL).
    assert_eq!(rows[5]["item_status"], "FAILED");
    assert_eq!(rows[5]["error"]["code"], "insufficient_balance");

    // The payouts exist, are held, and the batch totals agree.
    let payout_id = rows[0]["payout_id"].as_str().expect("payout id");
    let p = app.get(&format!("/api/v1/payouts/{payout_id}"), &token).await;
    assert_eq!(p.body["payout_status"], "READY_TO_SEND", "{}", p.text);
    let b = app.balance(&token, "SGD").await;
    assert_eq!(b["pending_balance"], "150.00", "{b}");
    let got = app.get(&format!("/api/v1/payout_batches/{batch}"), &token).await;
    assert_eq!(got.body["counts"]["READY_TO_SEND"], 2, "{}", got.text);
    assert_eq!(got.body["counts"]["INVALID"], 3, "{}", got.text);
    assert_eq!(got.body["counts"]["FAILED"], 1, "{}", got.text);
    let ready = got.body["totals"].as_array().expect("totals").iter().find(|t| t["status"] == "READY_TO_SEND").cloned();
    assert_eq!(ready.expect("ready total")["amount"], "150.00");

    // Filter and pagination.
    let invalid = items(&app, &token, &batch, "item_status=INVALID&page_size=10").await;
    assert_eq!(invalid["total_items"], 3);
    let page2 = items(&app, &token, &batch, "page_size=10&page_number=2").await;
    assert_eq!(page2["data"].as_array().map(Vec::len), Some(0));
    assert_eq!(page2["total_pages"], 1);
    let r = app.get(&format!("/api/v1/payout_batches/{batch}/items?item_status=NOPE"), &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let list = app.get("/api/v1/payout_batches?page_size=10", &token).await;
    assert_eq!(list.body["total_items"], 1, "{}", list.text);

    // The rules that need the beneficiary are checked while validating too.
    let saturday = {
        let mut r = row(&beneficiary, "1.00", "Weekend");
        r["payout_date"] = json!("2026-11-28");
        r
    };
    let mut usd = row(&beneficiary, "1.00", "Dollars");
    usd["currency"] = json!("USD");
    let body = json!({"mode": "PARTIAL", "payouts": [
        row("0190f5c2-0000-7000-8000-000000000000", "1.00", "Nobody"), saturday, usd,
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "no_valid_rows", "{}", r.text);
    let rows = items(&app, &token, &id(&r.body), "").await;
    let codes: Vec<&str> =
        rows["data"].as_array().expect("data").iter().filter_map(|r| r["error"]["code"].as_str()).collect();
    assert_eq!(codes, ["beneficiary_not_found", "not_a_business_day", "currency_mismatch"], "{rows}");
    let r = app.post("/api/v1/payout_batches", &token, &json!({"payouts": []})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

const HEADER: &str = "currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id\n";

async fn csv_upload_reports_every_row_problem_and_refuses_the_same_file(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "1000.00").await;
    let mut file = vec![0xEF, 0xBB, 0xBF];
    file.extend_from_slice(HEADER.as_bytes());
    file.extend_from_slice(format!("SGD,10.00,WAGES_SALARY,\"Salary, November\",{TODAY},{beneficiary}\r\n").as_bytes());
    file.extend_from_slice(format!("SGD,11.00,WAGES_SALARY,\"Bad\"quote,{TODAY},{beneficiary}\n").as_bytes());
    file.extend_from_slice(format!("SGD,12.00,WAGES_SALARY,Short row,{TODAY}\n").as_bytes());
    file.extend_from_slice(format!("SGD,10.00,WAGES_SALARY,\"Salary, November\",{TODAY},{beneficiary}\n").as_bytes());
    file.extend_from_slice(b"SGD,13.00,WAGES_SALARY,Caf\xe9,2026-11-24,");
    file.extend_from_slice(format!("{beneficiary}\n").as_bytes());
    file.extend_from_slice(b"\n");
    file.extend_from_slice(format!("SGD,14.00,NOT_A_PURPOSE,Bonus,{TODAY},{beneficiary}\n").as_bytes());
    file.extend_from_slice(format!("SGD,15.00,WAGES_SALARY,Bonus,{TODAY},{beneficiary}").as_bytes());

    let r = upload(&app, &token, "november.csv", file.clone(), "PARTIAL").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let batch = id(&r.body);
    // Approval is required by default: nothing is held yet.
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert_eq!(r.body["format"], "CSV");
    assert_eq!(r.body["file_name"], "november.csv");
    assert_eq!((r.body["total_rows"].as_i64(), r.body["valid_rows"].as_i64()), (Some(7), Some(2)), "{}", r.text);
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "0.00");

    let rows = items(&app, &token, &batch, "page_size=10").await;
    let by_row =
        |n: i64| rows["data"].as_array().expect("data").iter().find(|r| r["row_number"] == n).cloned().expect("row");
    // Row numbers are file lines; the header is line 1.
    assert_eq!(by_row(2)["item_status"], "VALID");
    assert_eq!(by_row(2)["payout_reference"], "Salary, November");
    assert_eq!(by_row(2)["amount"], "10.00");
    assert_eq!(by_row(3)["error"]["code"], "invalid_quoting");
    assert_eq!(by_row(4)["error"]["code"], "wrong_field_count");
    assert_eq!(by_row(5)["error"]["code"], "duplicate_row");
    assert_eq!(by_row(6)["error"]["code"], "invalid_encoding");
    assert_eq!(by_row(8)["error"]["field"], "purpose_code");
    assert_eq!(by_row(9)["item_status"], "VALID");

    // The same file again is refused by its content hash.
    let again = upload(&app, &token, "november-copy.csv", file, "PARTIAL").await;
    assert_envelope(&again, StatusCode::BAD_REQUEST, "batch_error", "duplicate_file");
    assert!(again.body["message"].as_str().is_some_and(|m| m.contains(&batch)), "{}", again.text);

    // JSON Lines works the same way.
    let jsonl = format!("{}\n\n{{not json\n", row(&beneficiary, "20.00", "Lines"));
    let r = upload(&app, &token, "rows.jsonl", jsonl.into_bytes(), "PARTIAL").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["format"], "JSONL");
    assert_eq!((r.body["total_rows"].as_i64(), r.body["valid_rows"].as_i64()), (Some(2), Some(1)), "{}", r.text);
    let rows = items(&app, &token, &id(&r.body), "item_status=INVALID").await;
    assert_eq!(rows["data"][0]["row_number"], 3);
    assert_eq!(rows["data"][0]["error"]["code"], "invalid_json");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn file_level_problems_fail_the_batch(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    let missing = format!(
        "currency,amount,purpose_code,payout_reference,beneficiary_id\nSGD,1.00,WAGES_SALARY,x,{beneficiary}\n"
    );
    let r = upload(&app, &token, "missing.csv", missing.into_bytes(), "PARTIAL").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "FAILED");
    assert_eq!(r.body["failure_code"], "missing_column", "{}", r.text);
    assert!(r.body["failure_reason"].as_str().is_some_and(|m| m.contains("payout_date")), "{}", r.text);

    let unknown = HEADER.replace("beneficiary_id", "beneficiary_id,colour");
    let r = upload(&app, &token, "unknown.csv", unknown.into_bytes(), "PARTIAL").await;
    assert_eq!(r.body["failure_code"], "unknown_column", "{}", r.text);
    let r = upload(&app, &token, "empty.csv", Vec::new(), "PARTIAL").await;
    assert_eq!(r.body["failure_code"], "empty_file", "{}", r.text);

    // ALL_OR_NOTHING with one invalid row: nothing is released.
    let file = format!(
        "{HEADER}SGD,1.00,WAGES_SALARY,ok,{TODAY},{beneficiary}\nSGD,1.001,WAGES_SALARY,bad,{TODAY},{beneficiary}\n"
    );
    let r = upload(&app, &token, "aon.csv", file.clone().into_bytes(), "ALL_OR_NOTHING").await;
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "invalid_rows", "{}", r.text);
    // A failed file may be corrected and sent again: the hash of a refused batch is released.
    let r = upload(&app, &token, "aon.csv", file.into_bytes(), "PARTIAL").await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let r = upload(&app, &token, "x.csv", b"a,b\n1,2\n".to_vec(), "SOMETIMES").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    app.finish().await;
}

async fn all_or_nothing_refuses_on_insufficient_funds_with_nothing_held(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "100.00").await;
    set_policy(&app, &token, json!({"approval_required_for_batches": false})).await;
    let body = json!({"payouts": [row(&beneficiary, "60.00", "A"), row(&beneficiary, "60.00", "B")]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["mode"], "ALL_OR_NOTHING");
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "insufficient_balance", "{}", r.text);
    assert_sgd(&app, &token, "100.00", "0.00").await;
    let payouts = app.get("/api/v1/payouts", &token).await;
    assert_eq!(payouts.body["total_items"], 0, "{}", payouts.text);
    let rows = items(&app, &token, &id(&r.body), "item_status=CREATED").await;
    assert_eq!(rows["total_items"], 0);

    // Enough money: every row is held at once.
    let body = json!({"payouts": [row(&beneficiary, "40.00", "A"), row(&beneficiary, "60.00", "B")]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    assert_sgd(&app, &token, "0.00", "100.00").await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn approval_needs_a_second_credential_and_cancel_releases_nothing(backend: Backend) {
    let (app, client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "500.00").await;
    let payments = app.credential(&client, "payments").await;
    let approver = app.credential(&client, "approver").await;
    let (maker, checker) = (app.token(&payments).await, app.token(&approver).await);

    let body = json!({"payouts": [row(&beneficiary, "10.00", "A"), row(&beneficiary, "20.00", "B")]});
    let r = app.post("/api/v1/payout_batches", &maker, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let batch = id(&r.body);
    let created_by = r.body["created_by"].clone();

    // The maker cannot approve; an approver cannot create.
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &maker, &json!({})).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    let r = app.post("/api/v1/payout_batches", &checker, &body).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    // An admin that made the batch may not approve its own batch either.
    let r = app.post("/api/v1/payout_batches", &token, &json!({"payouts": [row(&beneficiary, "1.00", "own")]})).await;
    let own = id(&r.body);
    let r = app.post(&format!("/api/v1/payout_batches/{own}/approve"), &token, &json!({})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "batch_error", "approver_is_creator");

    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    assert!(r.body["approved_by"].is_string() && r.body["approved_by"] != created_by, "{}", r.text);
    assert!(r.body["approved_at"].is_string());
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "30.00");
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/cancel"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // Cancel before approval: nothing is held, nothing can be approved.
    let r = app.post(&format!("/api/v1/payout_batches/{own}/cancel"), &maker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "CANCELLED");
    assert_eq!(r.body["counts"]["CANCELLED"], 1, "{}", r.text);
    let r = app.post(&format!("/api/v1/payout_batches/{own}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "30.00");

    // A threshold makes approval necessary even when batches need none.
    set_policy(
        &app,
        &token,
        json!({"approval_required_for_batches": false, "payout_approval_thresholds": {"SGD": "100.00"}}),
    )
    .await;
    let small =
        app.post("/api/v1/payout_batches", &maker, &json!({"payouts": [row(&beneficiary, "100.00", "S")]})).await;
    assert_eq!(small.body["batch_status"], "PROCESSING", "{}", small.text);
    let big = app.post("/api/v1/payout_batches", &maker, &json!({"payouts": [row(&beneficiary, "100.01", "B")]})).await;
    assert_eq!(big.body["batch_status"], "PENDING_APPROVAL", "{}", big.text);
    let policy = app.get("/api/v1/accounts/approval_policy", &checker).await;
    assert_eq!(policy.body["payout_approval_thresholds"]["SGD"], "100.00", "{}", policy.text);
    let r = app.post("/api/v1/accounts/approval_policy", &maker, &json!({"approval_required_for_batches": true})).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn batch_completes_when_the_rail_finishes_its_rows(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, Some(Duration::from_secs(2))).await;
    let receiver = WebhookReceiver::start().await;
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            &token,
            &json!({"url": receiver.url, "event_types": ["batch.validated", "batch.completed"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    receiver.trust(r.body["secret"].as_str().expect("secret"));
    app.fund(&token, "SGD", "100.00").await;
    set_policy(&app, &token, json!({"approval_required_for_batches": false})).await;
    let body = json!({"payouts": [row(&beneficiary, "10.00", "A"), row(&beneficiary, "20.00", "B")]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    let batch = id(&r.body);
    // The sandbox rail sends and completes the payouts on the manual clock.
    let mut status = Value::Null;
    for _ in 0..100 {
        app.clock.advance(time::Duration::seconds(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = app.get(&format!("/api/v1/payout_batches/{batch}"), &token).await.body;
        if status["batch_status"] == "COMPLETED" {
            break;
        }
    }
    assert_eq!(status["batch_status"], "COMPLETED", "{status}");
    assert_eq!(status["counts"]["COMPLETED"], 2, "{status}");
    assert!(status["completed_at"].is_string());
    let got = receiver.wait_for("batch.completed", |w| w.iter().any(|h| h.event_type() == "batch.completed")).await;
    let types: Vec<&str> = got.iter().map(|h| h.event_type()).collect();
    assert!(types.contains(&"batch.validated"), "{types:?}");
    assert_eq!(receiver.bad_signatures(), 0);
    assert_sgd(&app, &token, "70.00", "0.00").await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn hundred_thousand_row_file_is_ingested(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    let mut file = String::with_capacity(100_000 * 90);
    file.push_str(HEADER);
    for i in 0..100_000 {
        file.push_str(&format!("SGD,{}.{:02},WAGES_SALARY,Row {i},{TODAY},{beneficiary}\n", 1 + i % 500, i % 100));
    }
    // One duplicate at the end.
    file.push_str(&format!("SGD,1.00,WAGES_SALARY,Row 0,{TODAY},{beneficiary}\n"));
    let started = Instant::now();
    let r = upload(&app, &token, "big.csv", file.into_bytes(), "PARTIAL").await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert_eq!((r.body["total_rows"].as_i64(), r.body["valid_rows"].as_i64()), (Some(100_001), Some(100_000)));
    let batch = id(&r.body);
    let invalid = items(&app, &token, &batch, "item_status=INVALID").await;
    assert_eq!(invalid["data"][0]["row_number"], 100_002);
    assert_eq!(invalid["data"][0]["error"]["code"], "duplicate_row");
    let valid = items(&app, &token, &batch, "item_status=VALID&page_size=100&page_number=1000").await;
    assert_eq!(valid["total_items"], 100_000);
    assert_eq!(valid["data"][99]["row_number"], 100_001);
    eprintln!("100,000-row file ingested in {took:?} on {backend:?}");
    app.finish().await;
}

async fn a_release_a_crash_interrupted_resumes_at_start(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "100.00").await;
    let body = json!({"mode": "PARTIAL", "payouts": [
        row(&beneficiary, "10.00", "A"), row(&beneficiary, "20.00", "B"), row(&beneficiary, "30.00", "C"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let batch = id(&r.body);
    // As if the node stopped right after the approval committed, before any row was released.
    raw_sql(&app.database_url, &format!("UPDATE payout_batches SET status = 'RELEASING' WHERE id = '{batch}'")).await;
    let peer = app.spawn_peer(outlay::config::Role::All, Duration::from_secs(3600)).await;
    let got = wait_for_status(&app, &token, &batch, "PROCESSING").await;
    assert_eq!(got["counts"]["READY_TO_SEND"], 3, "{got}");
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "60.00");
    peer.stop().await.expect("peer stops");
    app.assert_ledger_verifies();
    app.finish().await;
}

// --- the bulk release path (issue 6) ---

/// One number from the test database (a `SELECT COUNT(*)`).
async fn raw_count(app: &TestApp, sql: &str) -> i64 {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).expect("open sqlite");
        conn.query_row(sql, [], |r| r.get(0)).expect("raw count")
    } else {
        let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client.query_one(sql, &[]).await.expect("raw count").get(0)
    }
}

/// A second stored beneficiary, deleted later so that its rows are refused at release.
async fn second_beneficiary(app: &TestApp, token: &str) -> String {
    let r = app
        .post(
            "/api/v1/beneficiaries",
            token,
            &json!({
                "entity_type": "COMPANY",
                "company_name": "Merlion Supplies Pte Ltd",
                "payment_method": "LOCAL",
                "bank_details": {
                    "bank_country_code": "SG",
                    "account_currency_code": "SGD",
                    "account_holder": "Merlion Supplies Pte Ltd",
                    "account_number": "9876543210",
                    "swift_code": "DBSSSGSG",
                    "clearing_system": "FAST"
                }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned()
}

/// A client with 100.00 SGD, two stored beneficiaries and an approver's token:
/// (app, token, approver's token, beneficiary, the other beneficiary).
async fn two_beneficiaries(backend: Backend) -> (TestApp, String, String, String, String) {
    let (app, client, token, beneficiary) = setup(backend, None).await;
    let other = second_beneficiary(&app, &token).await;
    app.fund(&token, "SGD", "100.00").await;
    let approver = app.credential(&client, "approver").await;
    let checker = app.token(&approver).await;
    (app, token, checker, beneficiary, other)
}

/// A row with an inline beneficiary: it goes through the single-payout path.
fn inline_row(amount: &str, reference: &str) -> Value {
    json!({
        "currency": "SGD",
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": reference,
        "payout_date": TODAY,
        "beneficiary": {
            "entity_type": "COMPANY",
            "company_name": "Orchard Goods Pte Ltd",
            "payment_method": "LOCAL",
            "bank_details": {
                "bank_country_code": "SG",
                "account_currency_code": "SGD",
                "account_holder": "Orchard Goods Pte Ltd",
                "account_number": "5550001111",
                "swift_code": "DBSSSGSG",
                "clearing_system": "FAST"
            }
        }
    })
}

/// Validated while both beneficiaries exist, approved after one was deleted: the rows are
/// released by the bulk path except the inline one (single-payout path, in the middle), the
/// deleted beneficiary's row is refused, and the balance runs out part-way (a row refused, the
/// next smaller one still held, the last one refused).
async fn bulk_partial_release_reports_refused_rows_and_runs_out_of_balance_part_way(backend: Backend) {
    let (app, token, checker, beneficiary, other) = two_beneficiaries(backend).await;
    let body = json!({"mode": "PARTIAL", "payouts": [
        row(&beneficiary, "30.00", "A"),
        row(&other, "5.00", "B"),
        inline_row("50.00", "C"),
        row(&beneficiary, "40.00", "D"),
        row(&beneficiary, "20.00", "E"),
        row(&beneficiary, "1.00", "F"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert_eq!(r.body["valid_rows"], 6, "{}", r.text);
    let batch = id(&r.body);
    let r = app.post(&format!("/api/v1/beneficiaries/{other}/delete"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    let all = items(&app, &token, &batch, "page_size=10").await;
    let rows = all["data"].as_array().expect("data");
    let statuses: Vec<&str> = rows.iter().filter_map(|r| r["item_status"].as_str()).collect();
    assert_eq!(statuses, ["CREATED", "FAILED", "CREATED", "FAILED", "CREATED", "FAILED"], "{all}");
    let codes: Vec<&str> = rows.iter().filter_map(|r| r["error"]["code"].as_str()).collect();
    assert_eq!(codes, ["beneficiary_not_found", "insufficient_balance", "insufficient_balance"], "{all}");
    assert_sgd(&app, &token, "0.00", "100.00").await;

    // Each held row is a payout like any other: its history, its event, its batch.
    let got = app.get(&format!("/api/v1/payout_batches/{batch}"), &token).await;
    assert_eq!(got.body["counts"]["READY_TO_SEND"], 3, "{}", got.text);
    assert_eq!(got.body["counts"]["FAILED"], 3, "{}", got.text);
    let payouts = app.get("/api/v1/payouts?page_size=10", &token).await;
    assert_eq!(payouts.body["total_items"], 3, "{}", payouts.text);
    let first = rows[0]["payout_id"].as_str().expect("payout id");
    let p = app.get(&format!("/api/v1/payouts/{first}"), &token).await;
    assert_eq!(p.body["payout_status"], "READY_TO_SEND", "{}", p.text);
    assert_eq!(p.body["amount"], "30.00", "{}", p.text);
    assert_eq!(p.body["beneficiary"]["beneficiary_id"], beneficiary.as_str(), "{}", p.text);
    let history = raw_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM payout_transitions WHERE payout_id = '{first}' AND seq = 1 \
             AND to_state = 'READY_TO_SEND' AND reason = 'created'"
        ),
    )
    .await;
    assert_eq!(history, 1);
    let events = raw_count(&app, "SELECT COUNT(*) FROM events WHERE event_type = 'payout.ready.send'").await;
    assert_eq!(events, 3);
    let in_batch = raw_count(&app, &format!("SELECT COUNT(*) FROM payouts WHERE batch_id = '{batch}'")).await;
    assert_eq!(in_batch, 3);
    app.assert_ledger_verifies();
    app.finish().await;
}

/// ALL_OR_NOTHING through the bulk path: a row refused in the middle (its beneficiary deleted
/// after validation) undoes the rows already held, bulk and single-payout ones alike; so does a
/// balance that runs out part-way.
async fn bulk_all_or_nothing_release_undoes_everything_at_a_refused_row(backend: Backend) {
    let (app, token, checker, beneficiary, other) = two_beneficiaries(backend).await;
    let body = json!({"payouts": [
        row(&beneficiary, "10.00", "A"),
        inline_row("10.00", "B"),
        row(&other, "10.00", "C"),
        row(&beneficiary, "10.00", "D"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let batch = id(&r.body);
    let r = app.post(&format!("/api/v1/beneficiaries/{other}/delete"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "rows_refused", "{}", r.text);
    assert!(r.body["failure_reason"].as_str().is_some_and(|m| m.contains("row 3")), "{}", r.text);
    let all = items(&app, &token, &batch, "page_size=10").await;
    let statuses: Vec<&str> =
        all["data"].as_array().expect("data").iter().filter_map(|r| r["item_status"].as_str()).collect();
    assert_eq!(statuses, ["CANCELLED", "CANCELLED", "FAILED", "CANCELLED"], "{all}");
    assert_eq!(all["data"][2]["error"]["code"], "beneficiary_not_found", "{all}");
    assert_sgd(&app, &token, "100.00", "0.00").await;
    let payouts = app.get("/api/v1/payouts", &token).await;
    assert_eq!(payouts.body["total_items"], 0, "{}", payouts.text);
    app.assert_ledger_verifies();

    // The balance runs out at the fourth row, after a single-payout row: nothing is held.
    let body = json!({"payouts": [
        row(&beneficiary, "30.00", "E"),
        inline_row("50.00", "F"),
        row(&beneficiary, "15.00", "G"),
        row(&beneficiary, "15.00", "H"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    let batch = id(&r.body);
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "insufficient_balance", "{}", r.text);
    assert!(r.body["failure_reason"].as_str().is_some_and(|m| m.contains("row 4")), "{}", r.text);
    assert_sgd(&app, &token, "100.00", "0.00").await;
    app.assert_ledger_verifies();

    // Covered: every row is held, and the ledger still verifies.
    let body = json!({"payouts": [
        row(&beneficiary, "30.00", "I"),
        inline_row("50.00", "J"),
        row(&beneficiary, "20.00", "K"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    let batch = id(&r.body);
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    assert_sgd(&app, &token, "0.00", "100.00").await;
    app.assert_ledger_verifies();
    app.finish().await;
}

// --- one hold for the whole batch (issue 6) ---

/// A PARTIAL batch the balance covers is held by one entry when it is released; its payouts
/// draw on that hold with no entry of their own, a row that goes through the single-payout path
/// gives its share back before holding on its own, and what a refused row's share was goes back
/// when the last row is done. The ledger audit checks the batch and its payouts together, and
/// notices a batch whose recorded hold does not match the ledger.
async fn a_covered_batch_is_held_by_one_entry_and_its_payouts_draw_on_it(backend: Backend) {
    let (app, token, checker, beneficiary, other) = two_beneficiaries(backend).await;
    let body = json!({"mode": "PARTIAL", "payouts": [
        row(&beneficiary, "30.00", "A"),
        row(&other, "5.00", "B"),
        inline_row("50.00", "C"),
        row(&beneficiary, "10.00", "D"),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert!(r.body["held_at"].is_null(), "{}", r.text);
    let batch = id(&r.body);
    let r = app.post(&format!("/api/v1/beneficiaries/{other}/delete"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);
    assert!(r.body["held_at"].is_string(), "{}", r.text);
    let all = items(&app, &token, &batch, "page_size=10").await;
    let statuses: Vec<&str> =
        all["data"].as_array().expect("data").iter().filter_map(|r| r["item_status"].as_str()).collect();
    assert_eq!(statuses, ["CREATED", "FAILED", "CREATED", "CREATED"], "{all}");
    assert_eq!(all["data"][1]["error"]["code"], "beneficiary_not_found", "{all}");
    // B's 5.00 went back when the batch ended: 90.00 held for the three payouts.
    assert_sgd(&app, &token, "10.00", "90.00").await;

    // The batch's entries: its hold (95.00), C's share back before C held on its own, and
    // B's share back at the end. Only C has a hold entry of its own.
    let batch_entries = raw_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM journal_entries WHERE reference_type = 'payout_batch' AND reference_id = '{batch}'"
        ),
    )
    .await;
    assert_eq!(batch_entries, 3);
    let own_holds = raw_count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM journal_entries e JOIN payouts p ON CAST(p.id AS TEXT) = e.reference_id \
             WHERE e.reference_type = 'payout' AND e.kind = 'hold' AND CAST(p.batch_id AS TEXT) = '{batch}'"
        ),
    )
    .await;
    assert_eq!(own_holds, 1);
    app.assert_ledger_verifies();

    // The reconciliation report ties A and D to the batch's hold entry, C to its own.
    let rows = reconciliation_rows(&app, &token).await;
    let payout_of = |k: usize| all["data"][k]["payout_id"].as_str().expect("payout id").to_owned();
    let row_of = |payout: &str| {
        rows.iter().find(|r| r["payout_id"] == payout).cloned().unwrap_or_else(|| panic!("{payout} reported"))
    };
    let (a, c, d) = (row_of(&payout_of(0)), row_of(&payout_of(2)), row_of(&payout_of(3)));
    for r in [&a, &c, &d] {
        assert_eq!(r["reconciled"], "true", "{r:?}");
        assert_eq!(r["hold_entry_ids"].split(' ').count(), 1, "{r:?}");
    }
    assert_eq!((a["held"].as_str(), d["held"].as_str(), c["held"].as_str()), ("30.00", "10.00", "50.00"));
    assert_eq!(a["hold_entry_ids"], d["hold_entry_ids"]);
    assert_ne!(a["hold_entry_ids"], c["hold_entry_ids"]);

    // A cancelled payout gives its funds back from the batch's hold like any other.
    let first = all["data"][0]["payout_id"].as_str().expect("payout id");
    let r =
        app.request(reqwest::Method::POST, &format!("/api/v1/payouts/{first}/cancel"), Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["failure_returned_amount"], "30.00", "{}", r.text);
    assert_sgd(&app, &token, "40.00", "60.00").await;
    app.assert_ledger_verifies();

    // A batch whose recorded hold disagrees with the ledger is reported.
    raw_sql(&app.database_url, &format!("UPDATE payout_batches SET held = '{{\"SGD\": 500}}' WHERE id = '{batch}'"))
        .await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("payout batch {batch}")), "{stdout}");
    app.finish().await;
}

/// The rows of a reconciliation report of today, each a map from column to value.
async fn reconciliation_rows(app: &TestApp, token: &str) -> Vec<std::collections::HashMap<String, String>> {
    let r = app.post("/api/v1/reports", token, &json!({"kind": "reconciliation", "from": TODAY, "to": TODAY})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["report_id"].as_str().expect("report_id").to_owned();
    for _ in 0..200 {
        let r = app.get(&format!("/api/v1/reports/{id}"), token).await;
        if r.body["status"] == "READY" {
            let csv = app.get(&format!("/api/v1/reports/{id}/download"), token).await.text;
            let data = csv.split_once("\r\n\r\n").map_or(csv.as_str(), |(d, _)| d).to_owned();
            let mut reader = csv::ReaderBuilder::new().from_reader(data.as_bytes());
            let headers = reader.headers().expect("header").clone();
            return reader
                .records()
                .map(|rec| {
                    let rec = rec.expect("csv record");
                    headers.iter().zip(rec.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
                })
                .collect();
        }
        assert_eq!(r.body["status"], "PENDING", "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("report {id} never became READY");
}

/// A held batch of more than one chunk (5,000 rows) is answered once it is held and its first
/// chunk created (`RELEASING`, `held_at` set, every row's money already in pending); the rest of
/// its payouts are created in the background and the batch reaches `PROCESSING` by itself.
async fn a_large_held_batch_is_answered_once_held_and_finishes_in_the_background(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "10000.00").await;
    set_policy(&app, &token, json!({"approval_required_for_batches": false})).await;
    let rows = 6_000;
    let mut file = String::from(HEADER);
    for i in 0..rows {
        file.push_str(&format!("SGD,1.00,WAGES_SALARY,Row {i},{TODAY},{beneficiary}\n"));
    }
    let r = upload(&app, &token, "six-thousand.csv", file.into_bytes(), "PARTIAL").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "RELEASING", "{}", r.text);
    assert!(r.body["held_at"].is_string(), "{}", r.text);
    assert_eq!(r.body["valid_rows"], rows, "{}", r.text);
    assert_sgd(&app, &token, "4000.00", "6000.00").await;
    let batch = id(&r.body);
    let got = wait_for_status(&app, &token, &batch, "PROCESSING").await;
    assert_eq!(got["counts"]["READY_TO_SEND"], rows, "{got}");
    let in_batch = raw_count(&app, &format!("SELECT COUNT(*) FROM payouts WHERE batch_id = '{batch}'")).await;
    assert_eq!(in_batch, i64::from(rows));
    assert_sgd(&app, &token, "4000.00", "6000.00").await;
    app.assert_ledger_verifies();
    app.finish().await;
}

/// A batch a node stopped releasing (RELEASING, no progress for longer than a minute by the
/// clock) is carried on by a node that is running, without a restart.
async fn a_release_a_stopped_node_left_idle_is_carried_on_by_a_live_node(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend, None).await;
    app.fund(&token, "SGD", "100.00").await;
    let body =
        json!({"mode": "PARTIAL", "payouts": [row(&beneficiary, "10.00", "A"), row(&beneficiary, "20.00", "B")]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let batch = id(&r.body);
    // As if the node releasing it had stopped an hour ago, right after the approval committed.
    let long_ago = if app.database_url.starts_with("sqlite") { "0" } else { "'2000-01-01T00:00:00Z'" };
    raw_sql(
        &app.database_url,
        &format!("UPDATE payout_batches SET status = 'RELEASING', updated_at = {long_ago} WHERE id = '{batch}'"),
    )
    .await;
    let got = wait_for_status(&app, &token, &batch, "PROCESSING").await;
    assert_eq!(got["counts"]["READY_TO_SEND"], 2, "{got}");
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "30.00");
    app.assert_ledger_verifies();
    app.finish().await;
}
