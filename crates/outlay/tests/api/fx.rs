//! FX end to end: the operator's rates (CLI), indicative prices with markup, quotes with either
//! side fixed and their rounding, conversions between an account's own balances, and every way
//! a quote is refused. Expected amounts are computed by hand in the comments.

use outlay_engine::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Response, TestApp, assert_envelope};

both_backends!(
    rates_from_the_cli_show_with_markup,
    quotes_fix_one_side_and_round_against_the_client,
    quote_requests_name_the_offending_field,
    conversion_moves_balances_and_verifies,
    quotes_are_refused_when_expired_used_or_mismatched,
    insufficient_funds_refuses_and_writes_nothing,
    accounts_cannot_use_or_see_each_others_fx,
    rates_file_loads_all_or_nothing,
);

fn today(app: &TestApp) -> String {
    app.clock.now().date().to_string()
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "outlay {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// USDSGD 1.3456 and USDJPY 149.5 at the default 50 bps markup.
fn set_rates(app: &TestApp) {
    cli_ok(app, &["rates", "set", "--pair", "USDSGD", "--rate", "1.3456"]);
    cli_ok(app, &["rates", "set", "--pair", "USDJPY", "--rate", "149.5"]);
}

async fn quote(app: &TestApp, token: &str, body: Value) -> Response {
    app.post("/api/v1/conversion/quote", token, &body).await
}

/// A conversion quote selling `amount` USD for SGD today; returns its id.
async fn usd_sgd_quote(app: &TestApp, token: &str, amount: &str) -> String {
    let r = quote(
        app,
        token,
        json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": amount, "conversion_date": today(app)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["quote_price"]["quote_id"].as_str().expect("quote_id").to_owned()
}

async fn convert(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.post_with_key("/api/v1/conversion", token, key, body).await
}

fn usd_sgd_conversion(app: &TestApp, quote_id: &str) -> Value {
    json!({"quote_id": quote_id, "sell_currency": "USD", "buy_currency": "SGD", "conversion_date": today(app)})
}

fn assert_field(r: &Response, field: &str) {
    assert_eq!(r.body["field"], field, "{}", r.text);
}

async fn rates_from_the_cli_show_with_markup(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Rates Co", None);
    let token = app.token(&client).await;
    let out = cli_ok(&app, &["rates", "set", "--pair", "USDSGD", "--rate", "1.3456"]);
    assert!(out.contains("USDSGD set to 1.3456"), "{out}");
    cli_ok(&app, &["rates", "set", "--pair", "EURUSD", "--rate", "1.08"]);

    let r = app.get("/api/v1/exchange/rates?currency_pairs=USDSGD,SGDUSD,EURSGD,USDCAD,USDXYZ,USD/SGD", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rates = r.body["rates"].as_array().expect("rates");
    let find = |pair: &str| rates.iter().find(|x| x["currency_pair"] == pair).cloned().expect(pair);
    // Selling 1 USD: 1.3456 × 0.995 = 1.338872. Buying 1 USD: the SGD → USD client rate
    // (1 / 1.3456 × 0.995 = 0.7394470868, down) inverted and rounded up: 1.3523618091.
    assert_eq!(
        find("USDSGD"),
        json!({"currency_pair": "USDSGD", "buy_price": "1.3523618091", "sell_price": "1.338872"})
    );
    // The reverse pair: selling 1 SGD gets 0.7394470868 USD; buying 1 SGD costs 1 / 1.338872, up.
    assert_eq!(
        find("SGDUSD"),
        json!({"currency_pair": "SGDUSD", "buy_price": "0.7468973883", "sell_price": "0.7394470868"})
    );
    // Through USD: 1.08 × 1.3456 × 0.995 = 1.44598176.
    let eursgd = find("EURSGD");
    assert_eq!(eursgd["sell_price"], "1.44598176");
    assert!(eursgd["buy_price"].as_str().expect("buy") > "1.44598176");
    assert_eq!(rates.len(), 3, "USD/SGD is the same pair as USDSGD: {}", r.text);
    assert_eq!(r.body["unavailable_currency_pairs"], json!(["USDCAD", "USDXYZ"]));
    assert!(r.body["last_updated"].as_str().is_some_and(|t| t.contains('T')), "{}", r.text);

    // Without a filter: every pair the operator set.
    let r = app.get("/api/v1/exchange/rates", &token).await;
    let pairs: Vec<&str> =
        r.body["rates"].as_array().expect("rates").iter().filter_map(|x| x["currency_pair"].as_str()).collect();
    assert_eq!(pairs, ["EURUSD", "USDSGD"]);

    let r = app.get("/api/v1/exchange/rates?currency_pairs=USDSG", &token).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_currency_pair");
    assert_field(&r, "currency_pairs");
    let r = app.request(Method::GET, "/api/v1/exchange/rates", None, &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The operator's view, with the configured markup (a flag overrides the default).
    let listed: Value = serde_json::from_str(&cli_ok(&app, &["rates", "list", "--json"])).expect("json");
    assert_eq!(listed["markup_bps"], 50);
    assert_eq!(listed["rates"][1]["currency_pair"], "USDSGD");
    assert_eq!(listed["rates"][1]["rate"], "1.3456");
    assert_eq!(listed["rates"][1]["sell_price"], "1.338872");
    assert_eq!(listed["rates"][1]["source"], "cli");
    let listed: Value =
        serde_json::from_str(&cli_ok(&app, &["--fx-markup-bps", "100", "rates", "list", "--json"])).expect("json");
    assert_eq!(listed["markup_bps"], 100);
    // 1.3456 × 0.99 = 1.332144
    assert_eq!(listed["rates"][1]["sell_price"], "1.332144");
    let text = cli_ok(&app, &["rates", "list"]);
    assert!(text.contains("USDSGD") && text.contains("1.338872"), "{text}");

    let out = app.cli(&["rates", "set", "--pair", "USDUSD", "--rate", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--pair"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = app.cli(&["rates", "set", "--pair", "USDSGD", "--rate", "1.3e2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"), "{}", String::from_utf8_lossy(&out.stderr));
    app.finish().await;
}

async fn quotes_fix_one_side_and_round_against_the_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let client = app.create_account("Quote Co", None);
    let token = app.token(&client).await;
    let date = today(&app);

    // Sell fixed: 100.00 USD × 1.338872 = 133.8872 SGD, rounded down to 133.88.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "100.00", "conversion_date": date}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sell_currency"], "USD");
    assert_eq!(r.body["sell_amount"], "100.00");
    assert_eq!(r.body["buy_currency"], "SGD");
    assert_eq!(r.body["buy_amount"], "133.88");
    assert_eq!(r.body["conversion_date"], date);
    assert_eq!(r.body["transaction_type"], "conversion");
    let price = &r.body["quote_price"];
    assert_eq!(price["currency_pair"], "USDSGD");
    assert_eq!(price["direct_rate"], "1.338872");
    // 1 / 1.338872 = 0.74689738826..., rounded up.
    assert_eq!(price["inverse_rate"], "0.7468973883");
    assert!(price["quote_id"].as_str().is_some_and(|q| uuid::Uuid::parse_str(q).is_ok()), "{}", r.text);
    let (from, to) =
        (price["validity"]["valid_from"].as_i64().expect("ms"), price["validity"]["valid_to"].as_i64().expect("ms"));
    assert_eq!(to - from, 75_000, "valid for 75 seconds, in Unix milliseconds");
    let now_ms = (app.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    assert!((from - now_ms).abs() < 1_000, "valid_from {from} is the engine clock {now_ms}");

    // Buy fixed: 133.89 SGD ÷ 1.338872 = 100.00209... USD, rounded up to 100.01.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "SGD", "buy_amount": "133.89", "conversion_date": date}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sell_amount"], "100.01");
    assert_eq!(r.body["buy_amount"], "133.89");

    // Exponent 0: 10.00 USD × 148.7525 (149.5 × 0.995) = 1487.525 JPY → 1487.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": 10, "conversion_date": date}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["buy_amount"], "1487");
    assert_eq!(r.body["quote_price"]["direct_rate"], "148.7525");
    // 1000 JPY ÷ 148.7525 = 6.7225... USD → 6.73. An empty sell_amount (as SDKs send) is absent.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "JPY", "sell_amount": "", "buy_amount": "1000", "conversion_date": date, "transaction_type": "payout"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["sell_amount"], "6.73");
    assert_eq!(r.body["transaction_type"], "payout");

    // The reverse direction uses the inverse of the pair: 1 / 1.3456 × 0.995 = 0.7394470868.
    // 100.00 SGD → 73.94470868 USD → 73.94.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "SGD", "buy_currency": "USD", "sell_amount": "100.00", "conversion_date": date}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["buy_amount"], "73.94");
    assert_eq!(r.body["quote_price"]["direct_rate"], "0.7394470868");

    // Too small to buy one minor unit: 0.01 SGD → 0.0073... USD.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "SGD", "buy_currency": "USD", "sell_amount": "0.01", "conversion_date": date}),
    )
    .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "amount_too_small");
    assert_field(&r, "sell_amount");

    // A quote with an idempotency key replays the same quote.
    let body = json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "5.00", "conversion_date": date});
    let first = app.post_with_key("/api/v1/conversion/quote", &token, "q-1", &body).await;
    let again = app.post_with_key("/api/v1/conversion/quote", &token, "q-1", &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.text, again.text);
    assert_eq!(again.headers.get("x-idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    app.finish().await;
}

async fn quote_requests_name_the_offending_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let client = app.create_account("Field Co", None);
    let token = app.token(&client).await;
    let date = today(&app);
    let base = json!({"sell_currency": "USD", "buy_currency": "SGD", "conversion_date": date});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };

    // Both sides, or neither.
    let r = quote(&app, &token, with(json!({"sell_amount": "100.00", "buy_amount": "133.88"}))).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "conflicting_amounts");
    assert_field(&r, "buy_amount");
    let r = quote(&app, &token, base.clone()).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "amount_required");
    assert_field(&r, "sell_amount");

    // An unsupported pair names currency_pair.
    let r = quote(&app, &token, with(json!({"buy_currency": "CAD", "sell_amount": "1.00"}))).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "unsupported_currency_pair");
    assert_field(&r, "currency_pair");
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("USDCAD")), "{}", r.text);

    let cases = [
        (json!({"buy_currency": "USD", "sell_amount": "1.00"}), "buy_currency", "same_currency"),
        (json!({"buy_currency": "sgd", "sell_amount": "1.00"}), "buy_currency", "invalid_currency"),
        (json!({"sell_amount": "100.001"}), "sell_amount", "invalid_amount"),
        (json!({"buy_amount": "-1"}), "buy_amount", "invalid_amount"),
        (json!({"sell_amount": "0"}), "sell_amount", "invalid_amount"),
        (json!({"sell_amount": "1.00", "transaction_type": "transfer"}), "transaction_type", "invalid_value"),
        (json!({"sell_amount": "1.00", "conversion_date": "01/03/2024"}), "conversion_date", "invalid_date"),
    ];
    for (extra, field, code) in cases {
        let r = quote(&app, &token, with(extra.clone())).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", code);
        assert_field(&r, field);
    }
    let r = quote(&app, &token, with(json!({"sell_amount": "1.00", "rate": "2"}))).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "unknown_field");
    // Outlay converts on the current date only.
    let r = quote(&app, &token, with(json!({"sell_amount": "1.00", "conversion_date": "2020-01-01"}))).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "invalid_conversion_date");
    assert_field(&r, "conversion_date");

    let r = quote(&app, &token, json!({"sell_amount": "1.00"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_fields");
    assert_eq!(r.body["missing_fields"], json!(["sell_currency", "buy_currency", "conversion_date"]));
    app.finish().await;
}

async fn conversion_moves_balances_and_verifies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let client = app.create_account("Convert Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "USD", "1000.00").await;

    let quote_id = usd_sgd_quote(&app, &token, "100.00").await;
    let mut body = usd_sgd_conversion(&app, &quote_id);
    body["reference"] = json!("treasury");
    body["sell_amount"] = json!("100.00");
    let r = convert(&app, &token, "c-1", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = r.body.clone();
    assert_eq!(c["conversion_status"], "COMPLETED");
    assert_eq!(c["status"], "COMPLETED");
    assert_eq!(c["sell_currency"], "USD");
    assert_eq!(c["sell_amount"], "100.00");
    assert_eq!(c["buy_currency"], "SGD");
    assert_eq!(c["buy_amount"], "133.88");
    assert_eq!(c["client_rate"], "1.338872");
    assert_eq!(c["currency_pair"], "USDSGD");
    assert_eq!(c["quote_id"], quote_id.as_str());
    assert_eq!(c["reference"], "treasury");
    assert_eq!(c["conversion_date"], today(&app));
    assert!(c["short_reference_id"].as_str().is_some_and(|s| s.starts_with("XC") && s.len() == 17), "{}", r.text);
    let id = c["conversion_id"].as_str().expect("conversion_id").to_owned();

    let usd = app.balance(&token, "USD").await;
    assert_eq!(usd["available_balance"], "900.00");
    assert_eq!(usd["pending_balance"], "0.00");
    let sgd = app.balance(&token, "SGD").await;
    assert_eq!(sgd["available_balance"], "133.88");
    assert_eq!(sgd["unified_balance"], "133.88");

    // Replay: the same response, nothing converted twice; another body under the key is refused.
    let again = convert(&app, &token, "c-1", &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.text, r.text);
    assert_eq!(again.headers.get("x-idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    body["reference"] = json!("other");
    let r = convert(&app, &token, "c-1", &body).await;
    assert_envelope(&r, StatusCode::CONFLICT, "idempotency_error", "idempotency_key_reused");
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "900.00");

    // Retrieve and list, with UQPAY's filters.
    let r = app.get(&format!("/api/v1/conversion/{id}"), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, c);
    let r = app.get("/api/v1/conversion?sell_currency=USD&buy_currency=SGD&conversion_status=COMPLETED", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total_items"], 1);
    assert_eq!(r.body["total_pages"], 1);
    assert_eq!(r.body["data"][0], c);
    for filter in ["sell_currency=SGD", "conversion_status=FAILED", "start_time=4102444800000"] {
        let r = app.get(&format!("/api/v1/conversion?{filter}"), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["total_items"], 0, "{filter}");
    }
    let r = app.get("/api/v1/conversion?conversion_status=DONE", &token).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value");
    assert_field(&r, "conversion_status");

    // The ledger shows one line on each available balance.
    let r = app.get("/api/v1/balances/transactions?transaction_type=CONVERSION", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let lines = r.body["data"].as_array().expect("data");
    assert_eq!(lines.len(), 2, "{}", r.text);
    assert!(lines.iter().any(|l| l["currency"] == "USD" && l["amount"] == "100.00" && l["credit_debit_type"] == "D"));
    assert!(lines.iter().any(|l| l["currency"] == "SGD" && l["amount"] == "133.88" && l["credit_debit_type"] == "C"));

    app.assert_ledger_verifies();
    let out = cli_ok(&app, &["ledger", "verify"]);
    assert!(out.contains("USD: FBO cash 100000 = client balances 90000 + fee revenue 0 + FX position 10000"), "{out}");
    assert!(out.contains("SGD: FBO cash 0 = client balances 13388 + fee revenue 0 + FX position -13388"), "{out}");
    app.finish().await;
}

async fn quotes_are_refused_when_expired_used_or_mismatched(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let client = app.create_account("Refusal Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "USD", "1000.00").await;

    // Expired: 76 seconds later.
    let expired = usd_sgd_quote(&app, &token, "10.00").await;
    app.clock.advance(time::Duration::seconds(76));
    let r = convert(&app, &token, "x-1", &usd_sgd_conversion(&app, &expired)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_expired");
    assert_field(&r, "quote_id");

    // Used: once is fine, twice is refused.
    let used = usd_sgd_quote(&app, &token, "10.00").await;
    let r = convert(&app, &token, "x-2", &usd_sgd_conversion(&app, &used)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = convert(&app, &token, "x-3", &usd_sgd_conversion(&app, &used)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_already_used");
    assert_field(&r, "quote_id");

    // A payout quote cannot be used for a conversion.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "10.00", "conversion_date": today(&app), "transaction_type": "payout"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let payout_quote = r.body["quote_price"]["quote_id"].as_str().expect("id").to_owned();
    let r = convert(&app, &token, "x-4", &usd_sgd_conversion(&app, &payout_quote)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_type_mismatch");
    assert_field(&r, "quote_id");

    // Key parameters must match the quote; a refusal leaves the quote usable.
    let quote_id = usd_sgd_quote(&app, &token, "10.00").await;
    let tomorrow = (app.clock.now().date() + time::Duration::days(1)).to_string();
    let mismatches = [
        (json!({"buy_currency": "JPY"}), "buy_currency"),
        (json!({"sell_currency": "EUR"}), "sell_currency"),
        (json!({"conversion_date": tomorrow}), "conversion_date"),
        (json!({"sell_amount": "10.01"}), "sell_amount"),
        (json!({"buy_amount": "13.39"}), "buy_amount"),
    ];
    for (i, (change, field)) in mismatches.iter().enumerate() {
        let mut body = usd_sgd_conversion(&app, &quote_id);
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = convert(&app, &token, &format!("m-{i}"), &body).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_mismatch");
        assert_field(&r, field);
    }
    let mut body = usd_sgd_conversion(&app, &quote_id);
    body["buy_amount"] = json!("13.38");
    let r = convert(&app, &token, "m-ok", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["buy_amount"], "13.38");

    // Unknown and malformed quote ids; the idempotency key is required.
    let r = convert(&app, &token, "u-1", &usd_sgd_conversion(&app, &uuid::Uuid::new_v4().to_string())).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_not_found");
    assert_field(&r, "quote_id");
    let r = convert(&app, &token, "u-2", &usd_sgd_conversion(&app, "not-a-uuid")).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_id");
    assert_field(&r, "quote_id");
    let fresh = usd_sgd_quote(&app, &token, "10.00").await;
    let r = app.post("/api/v1/conversion", &token, &usd_sgd_conversion(&app, &fresh)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_fields");
    assert_eq!(r.body["missing_fields"], json!(["x-idempotency-key"]));
    let r = convert(&app, &token, "u-3", &json!({"quote_id": fresh})).await;
    assert_eq!(r.body["missing_fields"], json!(["sell_currency", "buy_currency", "conversion_date"]), "{}", r.text);

    // Two conversions happened: 10.00 USD → 13.38 SGD each.
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "980.00");
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "26.76");
    assert_eq!(app.get("/api/v1/conversion", &token).await.body["total_items"], 2);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn insufficient_funds_refuses_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let client = app.create_account("Short Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "USD", "50.00").await;

    let quote_id = usd_sgd_quote(&app, &token, "100.00").await;
    let body = usd_sgd_conversion(&app, &quote_id);
    let r = convert(&app, &token, "short-1", &body).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "insufficient_balance");
    assert_field(&r, "sell_amount");
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "50.00");
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "0.00");
    assert_eq!(app.get("/api/v1/conversion", &token).await.body["total_items"], 0);
    let r = app.get("/api/v1/balances/transactions?transaction_type=CONVERSION", &token).await;
    assert_eq!(r.body["total_items"], 0, "{}", r.text);

    // Nothing was stored, not even the quote's use or the key: top up and retry the same request.
    app.fund(&token, "USD", "50.00").await;
    let r = convert(&app, &token, "short-1", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "0.00");
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "133.88");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn accounts_cannot_use_or_see_each_others_fx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    set_rates(&app);
    let alice = app.create_account("Alice Co", None);
    let bob = app.create_account("Bob Co", None);
    let (ta, tb) = (app.token(&alice).await, app.token(&bob).await);
    app.fund(&ta, "USD", "100.00").await;
    app.fund(&tb, "USD", "100.00").await;

    // Bob cannot use Alice's quote: it does not exist for him.
    let quote_id = usd_sgd_quote(&app, &ta, "10.00").await;
    let r = convert(&app, &tb, "steal", &usd_sgd_conversion(&app, &quote_id)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_not_found");
    assert_eq!(app.balance(&tb, "USD").await["available_balance"], "100.00");

    // Alice still can, and Bob cannot see the conversion.
    let r = convert(&app, &ta, "mine", &usd_sgd_conversion(&app, &quote_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["conversion_id"].as_str().expect("id").to_owned();
    let r = app.get(&format!("/api/v1/conversion/{id}"), &tb).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    assert_eq!(app.get("/api/v1/conversion", &tb).await.body["total_items"], 0);
    assert_eq!(app.get("/api/v1/conversion", &ta).await.body["total_items"], 1);

    // A connected account's quote is its own: the parent acting for it uses x-on-behalf-of.
    let sub = app.create_account("Alice Sub", Some(&alice.account_id));
    let on_behalf = [("x-on-behalf-of", sub.account_id.as_str())];
    let r = app
        .request(
            Method::POST,
            "/api/v1/simulation/deposit",
            Some(&ta),
            &on_behalf,
            Some(&json!({"amount": "20.00", "currency": "USD"})),
        )
        .await;
    let deposit = r.body["deposit_id"].as_str().expect("deposit").to_owned();
    app.request(
        Method::POST,
        &format!("/api/v1/simulation/deposit/{deposit}"),
        Some(&ta),
        &on_behalf,
        Some(&json!({"deposit_status": "COMPLETED"})),
    )
    .await;
    let r = app
        .request(
            Method::POST,
            "/api/v1/conversion/quote",
            Some(&ta),
            &on_behalf,
            Some(&json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "20.00", "conversion_date": today(&app)})),
        )
        .await;
    let sub_quote = r.body["quote_price"]["quote_id"].as_str().expect("quote").to_owned();
    let r = convert(&app, &ta, "parent-uses-sub-quote", &usd_sgd_conversion(&app, &sub_quote)).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "conversion_error", "quote_not_found");
    let mut headers = on_behalf.to_vec();
    headers.push(("x-idempotency-key", "sub-1"));
    let r = app
        .request(Method::POST, "/api/v1/conversion", Some(&ta), &headers, Some(&usd_sgd_conversion(&app, &sub_quote)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["buy_amount"], "26.77");
    assert_eq!(app.balance(&ta, "USD").await["available_balance"], "90.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn rates_file_loads_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("File Co", None);
    let token = app.token(&client).await;
    let dir = tempfile::tempdir().expect("tempdir");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "currency_pair,rate\nUSDSGD,1.3456\nEURUSD,abc\nGBPUSD,1.27,x\n").expect("write");
    let out = app.cli(&["rates", "load", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3: rate \"abc\""), "{stderr}");
    assert!(stderr.contains("line 4: expected 2 columns"), "{stderr}");
    assert!(stderr.contains("no rate was loaded"), "{stderr}");
    let r = app.get("/api/v1/exchange/rates", &token).await;
    assert_eq!(r.body["rates"], json!([]), "nothing was loaded: {}", r.text);
    assert_eq!(r.body["last_updated"], Value::Null);

    let good = dir.path().join("rates.csv");
    std::fs::write(&good, "currency_pair,rate\n# morning fix\nUSDSGD,1.3456\nEURUSD,1.08\nUSDJPY,149.5\n")
        .expect("write");
    let out = cli_ok(&app, &["rates", "load", good.to_str().expect("path")]);
    assert!(out.contains("3 rate(s) loaded"), "{out}");
    let listed: Value = serde_json::from_str(&cli_ok(&app, &["rates", "list", "--json"])).expect("json");
    let pairs: Vec<&str> =
        listed["rates"].as_array().expect("rates").iter().filter_map(|r| r["currency_pair"].as_str()).collect();
    assert_eq!(pairs, ["EURUSD", "USDJPY", "USDSGD"]);
    assert_eq!(listed["rates"][0]["source"], "file:rates.csv");

    // Loading again replaces rates; quotes use the new one.
    std::fs::write(&good, "currency_pair,rate\nUSDSGD,1.40\n").expect("write");
    cli_ok(&app, &["rates", "load", good.to_str().expect("path")]);
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "USD", "buy_currency": "SGD", "sell_amount": "100.00", "conversion_date": today(&app)}),
    )
    .await;
    // 1.40 × 0.995 = 1.393 → 139.30 SGD.
    assert_eq!(r.body["buy_amount"], "139.30", "{}", r.text);
    // Cross through USD with the loaded EURUSD: 100.00 EUR × 1.08 × 1.40 × 0.995 = 150.444 → 150.44.
    let r = quote(
        &app,
        &token,
        json!({"sell_currency": "EUR", "buy_currency": "SGD", "sell_amount": "100.00", "conversion_date": today(&app)}),
    )
    .await;
    assert_eq!(r.body["buy_amount"], "150.44", "{}", r.text);
    app.finish().await;
}
