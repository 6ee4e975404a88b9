//! Issue 5 (part 1 gap): one FX quote locked for a whole payout batch. USDSGD mid 1.3456 less
//! the default 0.50% markup gives the client rate 1.338872 (SGD per USD). Rows fix either side;
//! the other is converted at the locked rate, rounded against the client as a single payout's
//! quote is: a fixed payout_amount costs `ceil(payout_amount ÷ rate)` USD, a fixed amount buys
//! `floor(amount × rate)` SGD. On a clock set to a business day (Tuesday 24 November 2026).

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Response, TestApp, assert_envelope};

both_backends!(
    one_quote_locks_the_rate_for_every_row_past_its_validity,
    rows_of_another_pair_or_with_their_own_quote_are_refused,
    a_total_above_the_quote_fails_the_batch_with_nothing_held,
    the_batch_quote_must_be_a_fresh_unused_payout_quote,
);

const TODAY: &str = "2026-11-24";
const CLIENT_RATE: &str = "1.338872";

async fn setup(backend: Backend) -> (TestApp, crate::helpers::Credentials, String, String) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let out = app.cli(&["rates", "set", "--pair", "USDSGD", "--rate", "1.3456"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let client = app.create_account("Quoted Batch Pte Ltd", None);
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

/// A USD→SGD quote fixing one side (`sell_amount` or `buy_amount`); returns its answer.
async fn new_quote(app: &TestApp, token: &str, side: &str, amount: &str, transaction_type: &str) -> Response {
    let mut body = json!({"sell_currency": "USD", "buy_currency": "SGD", "conversion_date": TODAY,
                          "transaction_type": transaction_type});
    body[side] = json!(amount);
    let r = app.post("/api/v1/conversion/quote", token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r
}

fn quote_id(r: &Response) -> String {
    r.body["quote_price"]["quote_id"].as_str().expect("quote_id").to_owned()
}

/// A USD→SGD row: `amounts` sets `amount` and/or `payout_amount`.
fn row(beneficiary: &str, reference: &str, amounts: Value) -> Value {
    let mut row = json!({
        "currency": "USD",
        "payout_currency": "SGD",
        "purpose_code": "WAGES_SALARY",
        "payout_reference": reference,
        "payout_date": TODAY,
        "beneficiary_id": beneficiary,
    });
    if let (Value::Object(row), Value::Object(amounts)) = (&mut row, amounts) {
        row.extend(amounts);
    }
    row
}

async fn items(app: &TestApp, token: &str, batch: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/payout_batches/{batch}/items?page_size=100&{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

fn id(body: &Value) -> String {
    body["batch_id"].as_str().expect("batch_id").to_owned()
}

fn error_of(item: &Value) -> (Option<&str>, Option<&str>) {
    (item["error"]["field"].as_str(), item["error"]["code"].as_str())
}

async fn balances(app: &TestApp, token: &str, currency: &str) -> (String, String) {
    let b = app.balance(token, currency).await;
    let s = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
    (s("available_balance"), s("pending_balance"))
}

async fn upload_csv(app: &TestApp, token: &str, csv: &str, query: &str, quote_field: Option<&str>) -> Response {
    let part = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("quoted.csv");
    let mut form = reqwest::multipart::Form::new().part("file", part).text("mode", "ALL_OR_NOTHING");
    if let Some(q) = quote_field {
        form = form.text("quote_id", q.to_owned());
    }
    let resp = app
        .http
        .post(format!("{}/api/v1/payout_batches{query}", app.base))
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

async fn one_quote_locks_the_rate_for_every_row_past_its_validity(backend: Backend) {
    let (app, client, token, beneficiary) = setup(backend).await;
    app.fund(&token, "USD", "1000.00").await;
    // A payout quote buying 1000.00 SGD: 1000 ÷ 1.338872 = 746.8974... → 746.90 USD.
    let q = new_quote(&app, &token, "buy_amount", "1000.00", "payout").await;
    assert_eq!((q.body["sell_amount"].as_str(), q.body["buy_amount"].as_str()), (Some("746.90"), Some("1000.00")));
    let quote = quote_id(&q);

    // 400.00 SGD costs 298.7593... → 298.76 USD; 350.50 SGD costs 261.7876... → 261.79 USD;
    // 100.00 USD buys 133.8872 → 133.88 SGD; the last row gives both, consistently.
    let body = json!({"quote_id": quote, "payouts": [
        row(&beneficiary, "Row one", json!({"payout_amount": "400.00"})),
        row(&beneficiary, "Row two", json!({"payout_amount": "350.50"})),
        row(&beneficiary, "Row three", json!({"amount": "100.00"})),
        row(&beneficiary, "Row four", json!({"amount": "7.47", "payout_amount": "10.00"})),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert_eq!(
        (r.body["quote_id"].as_str(), r.body["client_rate"].as_str()),
        (Some(quote.as_str()), Some(CLIENT_RATE))
    );
    assert_eq!(r.body["valid_rows"], 4, "{}", r.text);
    let batch = id(&r.body);
    let rows = items(&app, &token, &batch, "").await;
    let amounts: Vec<&str> = rows.iter().filter_map(|i| i["amount"].as_str()).collect();
    assert_eq!(amounts, ["298.76", "261.79", "100.00", "7.47"]);

    // The quote belongs to the batch now: no single payout can use it.
    let mut single = row(&beneficiary, "Single", json!({"amount": "746.90", "payout_amount": "1000.00"}));
    single["quote_id"] = json!(quote);
    let key = uuid::Uuid::new_v4().to_string();
    let s = app.post_with_key("/api/v1/payouts", &token, &key, &single).await;
    assert_envelope(&s, StatusCode::BAD_REQUEST, "payout_error", "quote_already_used");

    // Approved long after the quote's 75 seconds: the locked rate still applies.
    app.clock.advance(time::Duration::minutes(5));
    let approver = app.credential(&client, "approver").await;
    let checker = app.token(&approver).await;
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "PROCESSING", "{}", r.text);

    let expected = [("298.76", "400.00"), ("261.79", "350.50"), ("100.00", "133.88"), ("7.47", "10.00")];
    let rows = items(&app, &token, &batch, "item_status=CREATED").await;
    assert_eq!(rows.len(), 4);
    let mut payouts = Vec::new();
    for (item, (amount, receives)) in rows.iter().zip(expected) {
        let payout = item["payout_id"].as_str().expect("payout_id");
        let p = app.get(&format!("/api/v1/payouts/{payout}"), &token).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text);
        assert_eq!(p.body["payout_currency"], "SGD", "{}", p.text);
        assert_eq!(p.body["amount"], amount, "{}", p.text);
        assert_eq!(p.body["amount_beneficiary_receives"], receives, "{}", p.text);
        assert_eq!(p.body["conversion"]["currency_pair"], "USDSGD", "{}", p.text);
        assert_eq!(p.body["conversion"]["client_rate"], CLIENT_RATE, "{}", p.text);
        assert_eq!(p.body["quote_id"], quote.as_str(), "{}", p.text);
        assert_eq!(p.body["payout_status"], "READY_TO_SEND", "{}", p.text);
        payouts.push(payout.to_owned());
    }
    // 298.76 + 261.79 + 100.00 + 7.47 = 668.02 USD held (LOCAL payouts carry no fee here).
    assert_eq!(balances(&app, &token, "USD").await, ("331.98".to_owned(), "668.02".to_owned()));

    // Completing one posts the USD to the FX position and pays SGD out of it.
    let c = app
        .post(&format!("/api/v1/simulation/payouts/{}", payouts[0]), &token, &json!({"payout_status": "COMPLETED"}))
        .await;
    assert_eq!(c.body["payout_status"], "COMPLETED", "{}", c.text);
    assert_eq!(balances(&app, &token, "USD").await, ("331.98".to_owned(), "369.26".to_owned()));
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn rows_of_another_pair_or_with_their_own_quote_are_refused(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend).await;
    app.fund(&token, "USD", "500.00").await;
    let quote = quote_id(&new_quote(&app, &token, "buy_amount", "100.00", "payout").await);
    let other = quote_id(&new_quote(&app, &token, "buy_amount", "50.00", "payout").await);

    let mut euro = row(&beneficiary, "Euro row", json!({"payout_amount": "10.00"}));
    euro["payout_currency"] = json!("EUR");
    let mut own = row(&beneficiary, "Own quote", json!({"amount": "37.35", "payout_amount": "50.00"}));
    own["quote_id"] = json!(other);
    // Given both amounts on a buy-fixed quote, amount must be the converted one: 20.00 SGD
    // costs 14.938... → 14.94 USD, not 14.93.
    let off = row(&beneficiary, "Off by a cent", json!({"amount": "14.93", "payout_amount": "20.00"}));
    let body = json!({"mode": "PARTIAL", "quote_id": quote, "payouts": [
        row(&beneficiary, "Good row", json!({"payout_amount": "60.00"})), euro, own, off,
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.body["valid_rows"].as_i64(), r.body["invalid_rows"].as_i64()), (Some(1), Some(3)), "{}", r.text);
    let batch = id(&r.body);
    let bad = items(&app, &token, &batch, "item_status=INVALID").await;
    let errors: Vec<_> = bad.iter().map(error_of).collect();
    assert_eq!(
        errors,
        [
            (Some("payout_currency"), Some("quote_pair_mismatch")),
            (Some("quote_id"), Some("quote_conflict")),
            (Some("amount"), Some("quote_mismatch")),
        ]
    );
    let message = bad[0]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("EUR") && message.contains(&quote), "{message}");
    let message = bad[2]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("14.94"), "{message}");
    // The row's own quote was not touched: it still pays a single payout.
    let mut single = row(&beneficiary, "Single", json!({"amount": "37.35", "payout_amount": "50.00"}));
    single["quote_id"] = json!(other);
    let s = app.post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &single).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.body["conversion"]["client_rate"], CLIENT_RATE, "{}", s.text);

    // Without a batch quote, a cross-currency row still needs a quote of its own.
    let body = json!({"mode": "PARTIAL", "payouts": [row(&beneficiary, "No quote", json!({"amount": "10.00"}))]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    let bad = items(&app, &token, &id(&r.body), "item_status=INVALID").await;
    assert_eq!(error_of(&bad[0]), (Some("quote_id"), Some("quote_required")));
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn a_total_above_the_quote_fails_the_batch_with_nothing_held(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend).await;
    app.fund(&token, "USD", "500.00").await;
    // Buy side fixed at 100.00 SGD: rows buying 60.00 + 50.00 SGD exceed it.
    let quote = quote_id(&new_quote(&app, &token, "buy_amount", "100.00", "payout").await);
    let body = json!({"quote_id": quote, "payouts": [
        row(&beneficiary, "A", json!({"payout_amount": "60.00"})),
        row(&beneficiary, "B", json!({"payout_amount": "50.00"})),
    ]});
    let r = app.post("/api/v1/payout_batches", &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["batch_status"], "FAILED", "{}", r.text);
    assert_eq!(r.body["failure_code"], "quote_amount_exceeded", "{}", r.text);
    let reason = r.body["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("110.00 SGD") && reason.contains("100.00 SGD"), "{reason}");
    assert_eq!(items(&app, &token, &id(&r.body), "item_status=CANCELLED").await.len(), 2);

    // Sell side fixed at 100.00 USD, sent as a CSV file with the quote as a query parameter:
    // rows selling 60.00 + 40.01 USD exceed it.
    let quote = quote_id(&new_quote(&app, &token, "sell_amount", "100.00", "payout").await);
    let csv = format!(
        "currency,amount,payout_currency,purpose_code,payout_reference,payout_date,beneficiary_id\n\
         USD,60.00,SGD,WAGES_SALARY,C,{TODAY},{beneficiary}\n\
         USD,40.01,SGD,WAGES_SALARY,D,{TODAY},{beneficiary}\n"
    );
    let r = upload_csv(&app, &token, &csv, &format!("?quote_id={quote}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["quote_id"], quote.as_str(), "{}", r.text);
    assert_eq!(r.body["failure_code"], "quote_amount_exceeded", "{}", r.text);
    let reason = r.body["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("100.01 USD"), "{reason}");

    // Nothing was held and no payout exists.
    assert_eq!(balances(&app, &token, "USD").await, ("500.00".to_owned(), "0.00".to_owned()));
    let payouts = app.get("/api/v1/payouts", &token).await;
    assert_eq!(payouts.body["total_items"], 0, "{}", payouts.text);

    // Within the quote (as a multipart field), the file is accepted. An empty amount with a
    // payout_amount fixes what the beneficiary receives: 40.00 SGD costs 29.8759... → 29.88 USD.
    let quote = quote_id(&quote_for_sell(&app, &token).await);
    let csv = format!(
        "currency,amount,payout_currency,payout_amount,purpose_code,payout_reference,payout_date,beneficiary_id\n\
         USD,60.00,SGD,,WAGES_SALARY,E,{TODAY},{beneficiary}\n\
         USD,,SGD,40.00,WAGES_SALARY,F,{TODAY},{beneficiary}\n"
    );
    let r = upload_csv(&app, &token, &csv, "", Some(&quote)).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    assert_eq!(r.body["client_rate"], CLIENT_RATE, "{}", r.text);
    let rows = items(&app, &token, &id(&r.body), "item_status=VALID").await;
    let amounts: Vec<&str> = rows.iter().filter_map(|i| i["amount"].as_str()).collect();
    assert_eq!(amounts, ["60.00", "29.88"]);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn quote_for_sell(app: &TestApp, token: &str) -> Response {
    new_quote(app, token, "sell_amount", "100.00", "payout").await
}

async fn the_batch_quote_must_be_a_fresh_unused_payout_quote(backend: Backend) {
    let (app, _client, token, beneficiary) = setup(backend).await;
    app.fund(&token, "USD", "500.00").await;
    let rows = json!([row(&beneficiary, "A", json!({"payout_amount": "10.00"}))]);
    let send = |quote: Value| {
        let (app, token, rows) = (&app, &token, rows.clone());
        async move { app.post("/api/v1/payout_batches", token, &json!({"quote_id": quote, "payouts": rows})).await }
    };

    let r = send(json!("not-a-uuid")).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value");
    let r = send(json!(uuid::Uuid::new_v4().to_string())).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "batch_error", "quote_not_found");
    let conversion = quote_id(&new_quote(&app, &token, "buy_amount", "10.00", "conversion").await);
    let r = send(json!(conversion)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "batch_error", "quote_type_mismatch");
    let expired = quote_id(&new_quote(&app, &token, "buy_amount", "10.00", "payout").await);
    app.clock.advance(time::Duration::seconds(76));
    let r = send(json!(expired)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "batch_error", "quote_expired");
    assert_eq!(r.body["field"], "quote_id", "{}", r.text);

    // A quote used by one batch cannot lock another.
    let fresh = quote_id(&new_quote(&app, &token, "buy_amount", "10.00", "payout").await);
    let r = send(json!(fresh)).await;
    assert_eq!(r.body["batch_status"], "PENDING_APPROVAL", "{}", r.text);
    let r = send(json!(fresh)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "batch_error", "quote_already_used");
    let list = app.get("/api/v1/payout_batches", &token).await;
    assert_eq!(list.body["total_items"], 1, "{}", list.text);
    app.assert_ledger_verifies();
    app.finish().await;
}
