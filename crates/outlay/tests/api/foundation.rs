//! Issue 2's end-to-end flow: account → token → deposit → balances → withdraw → verify, with
//! idempotency and tenant isolation.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_envelope, sql_count};

both_backends!(
    fund_withdraw_and_verify,
    idempotent_replay_and_mismatch,
    a_stored_response_is_kept_once_where_the_audit_keeps_it,
    accounts_cannot_see_or_move_each_others_money,
    connected_accounts_act_on_behalf,
    failed_withdrawal_and_rejected_deposit_return_funds,
    concurrent_withdrawals_never_overdraw,
    verify_reads_one_instant_while_money_moves,
    ledger_verify_finds_rows_that_name_nothing,
    concurrent_requests_with_one_key_run_once,
    reserve_moves_available_and_refuses_shortfall,
    tokens_expire_after_thirty_minutes,
);

async fn fund_withdraw_and_verify(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Acme Marketplace", None);
    let token = app.token(&client).await;

    let deposit = app.fund(&token, "USD", "1000.00").await;
    assert_eq!(deposit["deposit_status"], "COMPLETED");
    assert_eq!(deposit["amount"], "1000.00");
    let balance = app.balance(&token, "USD").await;
    assert_eq!(balance["available_balance"], "1000.00");
    assert_eq!(balance["pending_balance"], "0.00");
    assert_eq!(balance["reserved_balance"], "0.00");

    // No designated bank account yet: a clear refusal, nothing moves.
    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "w-0", &json!({"currency": "USD", "amount": "100.00"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "withdrawal_error", "no_designated_bank_account");
    app.set_bank_account(&client.account_id);

    let r = app
        .post_with_key(
            "/api/v1/withdrawals",
            &token,
            "w-1",
            &json!({"currency": "USD", "amount": "250.50", "reference": "payday"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["withdrawal_status"], "PENDING");
    assert_eq!(r.body["bank_account"]["account_number"], "****6789");
    let withdrawal_id = r.body["withdrawal_id"].as_str().expect("id").to_owned();
    let balance = app.balance(&token, "USD").await;
    assert_eq!(balance["available_balance"], "749.50");
    assert_eq!(balance["pending_balance"], "250.50");
    assert_eq!(balance["unified_balance"], "1000.00");
    app.assert_ledger_verifies();

    let r = app
        .post(
            &format!("/api/v1/simulation/withdrawals/{withdrawal_id}"),
            &token,
            &json!({"withdrawal_status": "COMPLETED"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["withdrawal_status"], "COMPLETED");
    let balance = app.balance(&token, "USD").await;
    assert_eq!(balance["available_balance"], "749.50");
    assert_eq!(balance["pending_balance"], "0.00");

    // A settled withdrawal cannot be settled again.
    let r = app
        .post(
            &format!("/api/v1/simulation/withdrawals/{withdrawal_id}"),
            &token,
            &json!({"withdrawal_status": "FAILED"}),
        )
        .await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");

    let r = app.get(&format!("/api/v1/withdrawals/{withdrawal_id}"), &token).await;
    assert_eq!(r.body["withdrawal_status"], "COMPLETED");
    let r = app.get("/api/v1/withdrawals?withdrawal_status=COMPLETED", &token).await;
    assert_eq!(r.body["total_items"], 1);
    let r = app.get("/api/v1/deposit", &token).await;
    assert_eq!(r.body["total_items"], 1);
    assert_eq!(r.body["total_pages"], 1);

    // The ledger listing shows each movement on each balance.
    let r = app.get("/api/v1/balances/transactions?transaction_type=WITHDRAWAL&page_size=50", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let lines = r.body["data"].as_array().expect("data");
    // hold: available D, pending C; post: pending D.
    assert_eq!(lines.len(), 3, "{}", r.text);
    assert!(lines.iter().all(|l| l["amount"] == "250.50"));
    let r = app.get("/api/v1/balances/transactions?balance_type=AVAILABLE&page_size=50", &token).await;
    let net: i64 = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| {
            let cents: i64 = l["amount"].as_str().expect("amount").replace('.', "").parse().expect("number");
            if l["credit_debit_type"] == "C" { cents } else { -cents }
        })
        .sum();
    assert_eq!(net, 74_950, "available movements add up to the available balance");

    app.assert_ledger_verifies();
    app.finish().await;
}

/// A response the audit record keeps verbatim is stored there only, and replayed from there byte
/// for byte; a response the audit record redacts (a webhook secret) is stored whole with its key.
async fn a_stored_response_is_kept_once_where_the_audit_keeps_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Once Co", "EUR", "500.00").await;
    let stored = |kind: &'static str| {
        let db = app.database_url.clone();
        async move {
            let filter = match kind {
                "in audit" => "response_body IS NULL AND audit_id IS NOT NULL",
                _ => "response_body IS NOT NULL AND audit_id IS NULL",
            };
            sql_count(&db, &format!("SELECT COUNT(*) FROM idempotency_keys WHERE {filter}")).await
        }
    };
    let (in_audit, inline) = (stored("in audit").await, stored("inline").await);

    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"currency": "EUR", "amount": "120.00"});
    let first = app.post_with_key("/api/v1/withdrawals", &token, &key, &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(stored("in audit").await, in_audit + 1, "the withdrawal's body is the audit record's");
    assert_eq!(stored("inline").await, inline);
    let again = app.post_with_key("/api/v1/withdrawals", &token, &key, &body).await;
    assert_eq!(again.headers.get("x-idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(again.text, first.text, "replayed from the audit record byte for byte");

    let hook_key = uuid::Uuid::new_v4().to_string();
    let hook = json!({"url": "http://127.0.0.1:9/hooks"});
    let created = app.post_with_key("/api/v1/webhook_endpoints", &token, &hook_key, &hook).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let secret = created.body["secret"].as_str().expect("the secret is shown on create").to_owned();
    assert_eq!(stored("inline").await, inline + 1, "a body the audit redacts is stored with its key");
    let replayed = app.post_with_key("/api/v1/webhook_endpoints", &token, &hook_key, &hook).await;
    assert_eq!(replayed.text, created.text, "the replay still shows the secret");
    assert_eq!(replayed.body["secret"], secret.as_str());

    assert_eq!(app.balance(&token, "EUR").await["available_balance"], "380.00", "the replay moved nothing");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn idempotent_replay_and_mismatch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Replay Co", "EUR", "500.00").await;

    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"currency": "EUR", "amount": "120.00"});
    let first = app.post_with_key("/api/v1/withdrawals", &token, &key, &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.headers.get("x-idempotent-replayed").is_none());

    // Same key, same body (keys reordered, spacing changed): the first response, byte for byte.
    let same = app
        .request(
            Method::POST,
            "/api/v1/withdrawals",
            Some(&token),
            &[("x-idempotency-key", &key), ("content-type", "application/json")],
            None,
        )
        .await;
    // An empty body is refused before the key is looked at.
    assert_envelope(&same, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_json");
    let raw = app
        .http
        .post(format!("{}/api/v1/withdrawals", app.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", &key)
        .header("content-type", "application/json")
        .body(r#"{ "amount" : "120.00", "currency":"EUR" }"#)
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers().get("x-idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(raw.text().await.expect("text"), first.text);

    // Same key, different body: refused, nothing written.
    let other =
        app.post_with_key("/api/v1/withdrawals", &token, &key, &json!({"currency": "EUR", "amount": "121.00"})).await;
    assert_envelope(&other, StatusCode::CONFLICT, "idempotency_error", "idempotency_key_reused");
    let list = app.get("/api/v1/withdrawals", &token).await;
    assert_eq!(list.body["total_items"], 1);
    assert_eq!(app.balance(&token, "EUR").await["available_balance"], "380.00");

    // A failed validation is not stored: the corrected retry with the same key works.
    let key2 = uuid::Uuid::new_v4().to_string();
    let bad =
        app.post_with_key("/api/v1/withdrawals", &token, &key2, &json!({"currency": "EUR", "amount": "1.001"})).await;
    assert_envelope(&bad, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_amount");
    // Neither is a refusal for lack of funds.
    let short =
        app.post_with_key("/api/v1/withdrawals", &token, &key2, &json!({"currency": "EUR", "amount": "9999.00"})).await;
    assert_envelope(&short, StatusCode::BAD_REQUEST, "withdrawal_error", "insufficient_balance");
    let good =
        app.post_with_key("/api/v1/withdrawals", &token, &key2, &json!({"currency": "EUR", "amount": "1.00"})).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);

    // Keys are scoped per account: another account may use the same key.
    let other_client = app.create_account("Other Co", None);
    app.set_bank_account(&other_client.account_id);
    let other_token = app.token(&other_client).await;
    app.fund(&other_token, "EUR", "200.00").await;
    let r = app
        .post_with_key("/api/v1/withdrawals", &other_token, &key, &json!({"currency": "EUR", "amount": "120.00"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_ne!(r.body["withdrawal_id"], first.body["withdrawal_id"]);

    app.assert_ledger_verifies();
    app.finish().await;
}

async fn accounts_cannot_see_or_move_each_others_money(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.create_account("Alice Ltd", None);
    let mallory = app.create_account("Mallory Ltd", None);
    app.set_bank_account(&alice.account_id);
    app.set_bank_account(&mallory.account_id);
    let alice_token = app.token(&alice).await;
    let mallory_token = app.token(&mallory).await;

    let deposit = app.fund(&alice_token, "USD", "300.00").await;
    let deposit_id = deposit["deposit_id"].as_str().expect("id");
    let w = app
        .post_with_key("/api/v1/withdrawals", &alice_token, "a-1", &json!({"currency": "USD", "amount": "10.00"}))
        .await;
    let withdrawal_id = w.body["withdrawal_id"].as_str().expect("id");

    // Reads: nothing of Alice's is visible to Mallory.
    assert_envelope(
        &app.get(&format!("/api/v1/deposit/{deposit_id}"), &mallory_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_not_found",
    );
    assert_envelope(
        &app.get(&format!("/api/v1/withdrawals/{withdrawal_id}"), &mallory_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_not_found",
    );
    assert_eq!(app.get("/api/v1/deposit", &mallory_token).await.body["total_items"], 0);
    assert_eq!(app.get("/api/v1/withdrawals", &mallory_token).await.body["total_items"], 0);
    assert_eq!(app.get("/api/v1/balances/transactions", &mallory_token).await.body["total_items"], 0);
    assert_eq!(app.balance(&mallory_token, "USD").await["available_balance"], "0.00");

    // Acting for Alice is refused: she is not Mallory's connected account.
    let r = app
        .request(Method::GET, "/api/v1/balances", Some(&mallory_token), &[("x-on-behalf-of", &alice.account_id)], None)
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "account_error", "sub_account_not_found");
    let r = app
        .request(
            Method::POST,
            "/api/v1/withdrawals",
            Some(&mallory_token),
            &[("x-on-behalf-of", &alice.account_id), ("x-idempotency-key", "m-1")],
            Some(&json!({"currency": "USD", "amount": "10.00"})),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "account_error", "sub_account_not_found");

    // Writes on Alice's objects: not found, nothing moves.
    let r = app
        .post(
            &format!("/api/v1/simulation/withdrawals/{withdrawal_id}"),
            &mallory_token,
            &json!({"withdrawal_status": "FAILED"}),
        )
        .await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app
        .post(&format!("/api/v1/simulation/deposit/{deposit_id}"), &mallory_token, &json!({"deposit_status": "FAILED"}))
        .await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app
        .post_with_key("/api/v1/withdrawals", &mallory_token, "m-2", &json!({"currency": "USD", "amount": "10.00"}))
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "withdrawal_error", "insufficient_balance");

    let alice_balance = app.balance(&alice_token, "USD").await;
    assert_eq!(alice_balance["available_balance"], "290.00");
    assert_eq!(alice_balance["pending_balance"], "10.00");
    assert_eq!(
        app.get(&format!("/api/v1/withdrawals/{withdrawal_id}"), &alice_token).await.body["withdrawal_status"],
        "PENDING"
    );
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn connected_accounts_act_on_behalf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let master = app.create_account("Master", None);
    let sub = app.create_account("Seller 1", Some(&master.account_id));
    let token = app.token(&master).await;

    let r = app.get("/api/v1/accounts", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["total_items"], 1);
    assert_eq!(r.body["data"][0]["account_id"], sub.account_id);
    assert_eq!(r.body["data"][0]["account_type"], "CONNECTED");

    let on_behalf = [("x-on-behalf-of", sub.account_id.as_str())];
    let r = app
        .request(
            Method::POST,
            "/api/v1/simulation/deposit",
            Some(&token),
            &on_behalf,
            Some(&json!({"amount": "75.00", "currency": "SGD"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["account_id"], sub.account_id);
    let r = app.request(Method::GET, "/api/v1/balances/SGD", Some(&token), &on_behalf, None).await;
    assert_eq!(r.body["pending_balance"], "75.00");
    assert_eq!(app.balance(&token, "SGD").await["pending_balance"], "0.00");

    // A connected account's own credential cannot reach its parent.
    let sub_token = app.token(&sub).await;
    let r = app
        .request(Method::GET, "/api/v1/balances", Some(&sub_token), &[("x-on-behalf-of", &master.account_id)], None)
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "account_error", "sub_account_not_found");
    assert_eq!(app.balance(&sub_token, "SGD").await["pending_balance"], "75.00");

    // Connected accounts cannot nest.
    let out = app.cli(&["accounts", "create", "--name", "Nested", "--parent", &sub.account_id]);
    assert!(!out.status.success());
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn failed_withdrawal_and_rejected_deposit_return_funds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Returns Co", "JPY", "50000").await;

    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "jp-1", &json!({"currency": "JPY", "amount": "20000"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["withdrawal_id"].as_str().expect("id").to_owned();
    assert_eq!(app.balance(&token, "JPY").await["available_balance"], "30000");
    let r = app
        .post(
            &format!("/api/v1/simulation/withdrawals/{id}"),
            &token,
            &json!({"withdrawal_status": "FAILED", "failure_reason": "account closed"}),
        )
        .await;
    assert_eq!(r.body["withdrawal_status"], "FAILED");
    assert_eq!(r.body["failure_reason"], "account closed");
    let b = app.balance(&token, "JPY").await;
    assert_eq!(b["available_balance"], "50000");
    assert_eq!(b["pending_balance"], "0");

    // A pending deposit rejected later leaves the balances as they were.
    let r = app.post("/api/v1/simulation/deposit", &token, &json!({"amount": "700", "currency": "JPY"})).await;
    let id = r.body["deposit_id"].as_str().expect("id").to_owned();
    assert_eq!(app.balance(&token, "JPY").await["pending_balance"], "700");
    let r = app.post(&format!("/api/v1/simulation/deposit/{id}"), &token, &json!({"deposit_status": "FAILED"})).await;
    assert_eq!(r.body["deposit_status"], "FAILED");
    let b = app.balance(&token, "JPY").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("50000"), Some("0")));

    // A deposit refused on arrival writes nothing to the ledger.
    let before = app.get("/api/v1/balances/transactions", &token).await.body["total_items"].clone();
    let r = app
        .post(
            "/api/v1/simulation/deposit",
            &token,
            &json!({"amount": "900", "currency": "JPY", "sender_name": "COMPLIANCE_REJECT test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deposit_status"], "FAILED");
    assert_eq!(app.get("/api/v1/balances/transactions", &token).await.body["total_items"], before);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn concurrent_withdrawals_never_overdraw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Race Co", "USD", "100.00").await;

    // 60 requests of 7.00 against 100.00: exactly 14 fit.
    let requests = (0..60).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            app.post_with_key(
                "/api/v1/withdrawals",
                token,
                &format!("race-{i}"),
                &json!({"currency": "USD", "amount": "7.00"}),
            )
            .await
        }
    });
    let responses = join_all(requests).await;
    let ok = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = responses
        .iter()
        .filter(|r| r.status == StatusCode::BAD_REQUEST && r.body["code"] == "insufficient_balance")
        .count();
    assert_eq!((ok, refused), (14, 46), "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
    let b = app.balance(&token, "USD").await;
    assert_eq!(b["available_balance"], "2.00");
    assert_eq!(b["pending_balance"], "98.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

/// `ledger verify` and `audit verify` on a live system: commits land between their reads (the
/// entries, then the chain heads, then the objects), and each must still see one consistent state.
async fn verify_reads_one_instant_while_money_moves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        let (_, token) = app.funded_client(&format!("Busy {n} Co"), "USD", "1000.00").await;
        tokens.push(token);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writes = async {
        let mut made = 0;
        let mut round = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) && round < 5_000 {
            round += 1;
            let body = json!({"currency": "USD", "amount": "0.01"});
            let key = format!("live-{round}");
            let requests = tokens.iter().map(|token| app.post_with_key("/api/v1/withdrawals", token, &key, &body));
            for r in join_all(requests).await {
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                made += 1;
            }
        }
        made
    };
    let verifies = {
        let (stop, url) = (stop.clone(), app.database_url.clone());
        tokio::task::spawn_blocking(move || {
            let run = |args: &[&str]| {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_outlay"))
                    .args(args)
                    .args(["--database-url", &url])
                    .env("OUTLAY_LOG", "warn")
                    .output()
                    .expect("run outlay");
                (
                    out.status.success(),
                    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
                )
            };
            let mut outcomes = Vec::new();
            for _ in 0..4 {
                outcomes.push(run(&["ledger", "verify"]));
                outcomes.push(run(&["audit", "verify"]));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            outcomes
        })
    };
    let (made, outcomes) = tokio::join!(writes, verifies);
    let outcomes = outcomes.expect("verify runs");
    assert!(made >= 40, "money moved while verifying ({made} withdrawals)");
    for (ok, output) in &outcomes {
        assert!(ok, "a verify on the live system failed:\n{output}");
    }
    app.assert_ledger_verifies();
    app.finish().await;
}

/// PostgreSQL does not enforce the payout path's references with foreign keys (migration 0019);
/// `ledger verify` checks them on both backends instead.
async fn ledger_verify_finds_rows_that_name_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Tidy Co", "USD", "100.00").await;
    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "w-1", &json!({"currency": "USD", "amount": "5.00"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.assert_ledger_verifies();

    // A payout's history row whose payout does not exist (SQLite still has the foreign key:
    // this connection turns its checks off).
    let (pragma, at) = match backend {
        Backend::Sqlite => ("PRAGMA foreign_keys = OFF;", "0"),
        Backend::Postgres => ("", "now()"),
    };
    crate::helpers::raw_sql(
        &app.database_url,
        &format!(
            "{pragma} INSERT INTO payout_transitions (payout_id, seq, from_state, to_state, reason, at) \
             VALUES ('0190a000-0000-7000-8000-000000000001', 1, NULL, 'CREATED', 'stray', {at})"
        ),
    )
    .await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a dangling reference fails the verification:\n{stdout}");
    assert!(stdout.contains("1 payout transitions name a payout that does not exist"), "{stdout}");
    app.finish().await;
}

async fn concurrent_requests_with_one_key_run_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Retry Storm Co", "USD", "100.00").await;

    let body = json!({"currency": "USD", "amount": "5.00"});
    let responses = join_all((0..20).map(|_| app.post_with_key("/api/v1/withdrawals", &token, "storm", &body))).await;
    let ok: Vec<_> = responses.iter().filter(|r| r.status == StatusCode::OK).collect();
    assert!(!ok.is_empty());
    assert!(ok.iter().all(|r| r.text == ok[0].text), "every success is the same response");
    for r in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_envelope(r, StatusCode::CONFLICT, "idempotency_error", "idempotency_request_in_progress");
        assert_eq!(r.body["retryable"], true);
    }
    assert_eq!(app.get("/api/v1/withdrawals", &token).await.body["total_items"], 1);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "95.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn reserve_moves_available_and_refuses_shortfall(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Reserve Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "GBP", "100.00").await;

    let out = app.cli(&["reserves", "set", "--account", &client.account_id, "--currency", "GBP", "--amount", "30.00"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let b = app.balance(&token, "GBP").await;
    assert_eq!((b["available_balance"].as_str(), b["reserved_balance"].as_str()), (Some("70.00"), Some("30.00")));
    assert_eq!(b["unified_balance"], "100.00");

    // Raising it beyond what is available is refused and changes nothing.
    let out = app.cli(&["reserves", "set", "--account", &client.account_id, "--currency", "GBP", "--amount", "100.01"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let b = app.balance(&token, "GBP").await;
    assert_eq!((b["available_balance"].as_str(), b["reserved_balance"].as_str()), (Some("70.00"), Some("30.00")));

    // Releasing part of it.
    let out = app.cli(&["reserves", "set", "--account", &client.account_id, "--currency", "GBP", "--amount", "10.00"]);
    assert!(out.status.success());
    let b = app.balance(&token, "GBP").await;
    assert_eq!((b["available_balance"].as_str(), b["reserved_balance"].as_str()), (Some("90.00"), Some("10.00")));

    // Bad operator input names the flag.
    let out = app.cli(&["reserves", "set", "--account", &client.account_id, "--currency", "GBP", "--amount", "1.001"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--amount"));
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn tokens_expire_after_thirty_minutes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Clock Co", None);
    let r = app
        .request(
            Method::POST,
            "/api/v1/connect/token",
            None,
            &[("x-client-id", &client.client_id), ("x-api-key", &client.api_key)],
            None,
        )
        .await;
    let token = r.body["auth_token"].as_str().expect("token").to_owned();
    let expired_at = r.body["expired_at"].as_i64().expect("unix seconds");
    assert_eq!(expired_at - outlay_engine::Clock::now(app.clock.as_ref()).unix_timestamp(), 30 * 60);
    // Accepted with and without the Bearer prefix.
    let plain = app.request(Method::GET, "/api/v1/balances", None, &[("x-auth-token", &token)], None).await;
    assert_eq!(plain.status, StatusCode::OK);
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(app.get("/api/v1/balances", &token).await.status, StatusCode::OK);
    app.clock.advance(time::Duration::minutes(2));
    assert_envelope(
        &app.get("/api/v1/balances", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized_error",
        "token_expired",
    );
    app.finish().await;
}
