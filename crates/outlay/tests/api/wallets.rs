//! The stored-value (wallet) model: a client pays into a recipient's wallet, the recipient logs in
//! with its own credentials and withdraws part of it down the sandbox rail; balances and ledger
//! agree at every step.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, assert_envelope, raw_sql};

both_backends!(
    wallet_flow_pay_in_withdraw_part_and_settle,
    failed_withdrawal_returns_to_the_wallet,
    wallet_refusals_and_overdraw,
    recipients_are_isolated_and_tokens_do_not_cross,
    withdrawals_obey_the_account_rules_and_review,
);

fn sg_account() -> Value {
    json!({
        "entity_type": "INDIVIDUAL",
        "first_name": "Mei",
        "last_name": "Tan",
        "payment_method": "LOCAL",
        "bank_details": {
            "bank_country_code": "SG",
            "account_currency_code": "SGD",
            "account_holder": "Mei Tan",
            "account_number": "0123456789",
            "swift_code": "DBSSSGSG",
            "clearing_system": "FAST"
        }
    })
}

struct Recipient {
    id: String,
    client_id: String,
    api_key: String,
}

/// A funded client in the wallet model, ready to create recipients.
async fn wallet_client(app: &TestApp, name: &str, funds: &str) -> (Credentials, String) {
    let client = app.create_account(name, None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", funds).await;
    let r = app.post("/api/v1/accounts/payout_model", &token, &json!({"payout_model": "wallet"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["payout_model"], "wallet");
    (client, token)
}

async fn create_recipient(app: &TestApp, token: &str, name: &str, reference: &str) -> Recipient {
    let r = app
        .post(
            "/api/v1/recipients",
            token,
            &json!({"name": name, "email": "mei@example.com", "external_reference": reference}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["recipient_status"], "ACTIVE");
    Recipient {
        id: r.body["recipient_id"].as_str().expect("recipient_id").to_owned(),
        client_id: r.body["client_id"].as_str().expect("client_id").to_owned(),
        api_key: r.body["api_key"].as_str().expect("api_key").to_owned(),
    }
}

async fn recipient_token(app: &TestApp, r: &Recipient) -> String {
    let headers = [("x-client-id", r.client_id.as_str()), ("x-api-key", r.api_key.as_str())];
    let resp = app.request(Method::POST, "/api/v1/recipient/access_token", None, &headers, None).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text);
    resp.body["auth_token"].as_str().expect("auth_token").to_owned()
}

async fn pay_into_wallet(app: &TestApp, token: &str, key: &str, recipient: &str, amount: &str) -> Value {
    let body = json!({"recipient_id": recipient, "currency": "SGD", "amount": amount, "reference": "November fees"});
    let r = app.post_with_key("/api/v1/wallet_payouts", token, key, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn add_method(app: &TestApp, rtoken: &str) -> String {
    let r = app.post("/api/v1/recipient/transfer_methods", rtoken, &sg_account()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["bank_details"]["account_number"], "****6789", "only the last 4 digits are shown");
    r.body["transfer_method_id"].as_str().expect("transfer_method_id").to_owned()
}

async fn wallet_balance(app: &TestApp, rtoken: &str) -> Value {
    let r = app.get("/api/v1/recipient/wallets", rtoken).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .and_then(|d| d.iter().find(|w| w["currency"] == "SGD"))
        .map_or(json!("0.00"), |w| w["balance"].clone())
}

/// Let the sandbox rail walk the withdrawal (on the manual clock) until it reaches `status`.
async fn settle_until(app: &TestApp, rtoken: &str, id: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..60 {
        app.clock.advance(time::Duration::seconds(3));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let list = app.get("/api/v1/recipient/withdrawals", rtoken).await;
        if let Some(w) = list.body["data"].as_array().and_then(|d| d.iter().find(|w| w["withdrawal_id"] == id)) {
            if w["withdrawal_status"] == status {
                return w.clone();
            }
            last = w.clone();
        }
    }
    panic!("withdrawal {id} never became {status}: {last}");
}

async fn wallet_flow_pay_in_withdraw_part_and_settle(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    // A Tuesday morning in Singapore, before the FAST cut-off.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let (_client, token) = wallet_client(&app, "Gig Platform", "500.00").await;
    let mei = create_recipient(&app, &token, "Mei Tan", "driver-1").await;

    let paid = pay_into_wallet(&app, &token, "wp-1", &mei.id, "100.00").await;
    assert_eq!(paid["wallet_payout_status"], "COMPLETED");
    assert_eq!(paid["amount"], "100.00");
    // A retry with the same key replays, no second payout.
    let body = json!({"recipient_id": mei.id, "currency": "SGD", "amount": "100.00", "reference": "November fees"});
    let again = app.post_with_key("/api/v1/wallet_payouts", &token, "wp-1", &body).await;
    assert_eq!(again.body, paid);
    assert_eq!(again.headers.get("x-idempotent-replayed").map(|v| v.to_str().unwrap_or("")), Some("true"));
    let b = app.balance(&token, "SGD").await;
    assert_eq!(b["available_balance"], "400.00");
    assert_eq!(b["wallet_balance"], "100.00");
    assert_eq!(b["unified_balance"], "500.00", "wallet money is still the client's");

    // The recipient logs in and sees its wallet.
    let rtoken = recipient_token(&app, &mei).await;
    assert_eq!(wallet_balance(&app, &rtoken).await, "100.00");
    let method = add_method(&app, &rtoken).await;
    let methods = app.get("/api/v1/recipient/transfer_methods", &rtoken).await;
    assert_eq!(methods.body["total_items"], 1);
    // The client's own beneficiary list does not show the recipient's transfer method.
    assert_eq!(app.get("/api/v1/beneficiaries", &token).await.body["total_items"], 0);

    // It withdraws 30.00: a held payout down the sandbox rail.
    let w = json!({"transfer_method_id": method, "currency": "SGD", "amount": "30.00"});
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["withdrawal_status"], "READY_TO_SEND");
    let id = r.body["withdrawal_id"].as_str().expect("withdrawal_id").to_owned();
    let replay = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &w).await;
    assert_eq!(replay.text, r.text, "idempotent replay");
    assert_eq!(wallet_balance(&app, &rtoken).await, "70.00");
    // The recipient is a credential too: its withdrawal is on the client's audit trail, once.
    let trail = app.get(&format!("/api/v1/audit_events?credential_id=recipient:{}", mei.id), &token).await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.text);
    let records = trail.body["data"].as_array().cloned().unwrap_or_default();
    let withdrawals: Vec<_> = records.iter().filter(|r| r.to_string().contains(&id)).collect();
    assert_eq!(withdrawals.len(), 1, "{}", trail.text);
    assert_eq!(withdrawals[0]["role"], "recipient", "{}", trail.text);
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["wallet_balance"].as_str(), b["pending_balance"].as_str()), (Some("70.00"), Some("30.00")));
    // The client sees the withdrawal as one of its payouts.
    let p = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    app.assert_ledger_verifies();

    let done = settle_until(&app, &rtoken, &id, "COMPLETED").await;
    assert_eq!(done["amount"], "30.00");
    assert_eq!(wallet_balance(&app, &rtoken).await, "70.00");
    let b = app.balance(&token, "SGD").await;
    assert_eq!(
        (b["available_balance"].as_str(), b["pending_balance"].as_str(), b["wallet_balance"].as_str()),
        (Some("400.00"), Some("0.00"), Some("70.00"))
    );
    assert_eq!(b["unified_balance"], "470.00");
    let r = app.get(&format!("/api/v1/recipients/{}", mei.id), &token).await;
    assert_eq!(r.body["wallets"][0]["balance"], "70.00", "{}", r.text);
    assert_eq!(app.get("/api/v1/recipient/withdrawals", &rtoken).await.body["total_items"], 1);
    assert_eq!(app.get("/api/v1/wallet_payouts", &token).await.body["total_items"], 1);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn failed_withdrawal_returns_to_the_wallet(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    // A Tuesday morning in Singapore, before the FAST cut-off.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let (_client, token) = wallet_client(&app, "Failing Rail Co", "200.00").await;
    let mei = create_recipient(&app, &token, "Mei Tan", "m-1").await;
    pay_into_wallet(&app, &token, "wp-1", &mei.id, "100.00").await;
    let rtoken = recipient_token(&app, &mei).await;
    let method = add_method(&app, &rtoken).await;
    // The sandbox rail fails amounts ending in .91 ("account closed").
    let w = json!({"transfer_method_id": method, "currency": "SGD", "amount": "20.91"});
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["withdrawal_id"].as_str().expect("withdrawal_id").to_owned();
    assert_eq!(wallet_balance(&app, &rtoken).await, "79.09");
    let failed = settle_until(&app, &rtoken, &id, "FAILED").await;
    assert_eq!(failed["failure_reason"], "account closed");
    assert_eq!(wallet_balance(&app, &rtoken).await, "100.00", "the money went back to the wallet");
    let b = app.balance(&token, "SGD").await;
    assert_eq!(
        (b["available_balance"].as_str(), b["pending_balance"].as_str(), b["wallet_balance"].as_str()),
        (Some("100.00"), Some("0.00"), Some("100.00"))
    );
    app.assert_ledger_verifies();

    // Someone marks the failed withdrawal COMPLETED behind the ledger's back: the wallet still
    // holds the money, and `ledger verify` says so.
    let sql = format!("UPDATE payouts SET state = 'COMPLETED' WHERE id = '{id}'");
    raw_sql(&app.database_url, &sql).await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("wallet withdrawal {id} is COMPLETED")), "{stdout}");
    raw_sql(&app.database_url, &format!("UPDATE payouts SET state = 'FAILED' WHERE id = '{id}'")).await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn wallet_refusals_and_overdraw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Bank Model Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "50.00").await;
    let mei = create_recipient(&app, &token, "Mei Tan", "m-1").await;
    // The default model is bank: no wallet payouts.
    assert_eq!(app.get("/api/v1/accounts/payout_model", &token).await.body["payout_model"], "bank");
    let body = json!({"recipient_id": mei.id, "currency": "SGD", "amount": "10.00"});
    let r = app.post_with_key("/api/v1/wallet_payouts", &token, "wp-0", &body).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "wallet_model_not_enabled");
    let r = app.post("/api/v1/accounts/payout_model", &token, &json!({"payout_model": "cash"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value");
    // The operator sets it with the CLI too.
    let out = app.cli(&["accounts", "set-payout-model", "--account", &client.account_id, "--model", "wallet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.get("/api/v1/accounts/payout_model", &token).await.body["payout_model"], "wallet");
    let out = app.cli(&["accounts", "set-payout-model", "--account", &client.account_id, "--model", "cash"]);
    assert_ne!(out.status.code(), Some(0));
    let r = app.post("/api/v1/accounts/payout_model", &token, &json!({"payout_model": "both"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // More than the available balance; a key is required; an unknown recipient; a bad amount.
    let mut too_much = body.clone();
    too_much["amount"] = json!("50.01");
    let r = app.post_with_key("/api/v1/wallet_payouts", &token, "wp-1", &too_much).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "insufficient_balance");
    let r = app.post("/api/v1/wallet_payouts", &token, &body).await;
    assert_eq!(r.body["missing_fields"], json!(["x-idempotency-key"]), "{}", r.text);
    let mut nobody = body.clone();
    nobody["recipient_id"] = json!(uuid::Uuid::new_v4());
    let r = app.post_with_key("/api/v1/wallet_payouts", &token, "wp-2", &nobody).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "recipient_not_found");
    let mut fraction = body.clone();
    fraction["amount"] = json!("10.001");
    let r = app.post_with_key("/api/v1/wallet_payouts", &token, "wp-3", &fraction).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "amount");
    // A duplicate external reference is refused.
    let r = app.post("/api/v1/recipients", &token, &json!({"name": "Other", "external_reference": "m-1"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "recipient_error", "duplicate_recipient");

    pay_into_wallet(&app, &token, "wp-4", &mei.id, "10.00").await;
    let rtoken = recipient_token(&app, &mei).await;
    let method = add_method(&app, &rtoken).await;
    // Overdraw of the wallet is refused and changes nothing.
    let w = json!({"transfer_method_id": method, "currency": "SGD", "amount": "10.01"});
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &w).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "insufficient_wallet_balance");
    assert_eq!(r.body["field"], "amount");
    // A corrected retry with the same key works (failures are not stored).
    let ok = json!({"transfer_method_id": method, "currency": "SGD", "amount": "10.00"});
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &ok).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(wallet_balance(&app, &rtoken).await, "0.00");
    // Wrong currency for the method, missing key, bad transfer method.
    let r = app
        .post_with_key(
            "/api/v1/recipient/withdrawals",
            &rtoken,
            "wd-2",
            &json!({"transfer_method_id": method, "currency": "USD", "amount": "1.00"}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "currency_mismatch");
    let r = app.post("/api/v1/recipient/withdrawals", &rtoken, &ok).await;
    assert_eq!(r.body["missing_fields"], json!(["x-idempotency-key"]), "{}", r.text);
    let r = app
        .post_with_key(
            "/api/v1/recipient/withdrawals",
            &rtoken,
            "wd-3",
            &json!({"transfer_method_id": uuid::Uuid::new_v4(), "currency": "SGD", "amount": "1.00"}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "transfer_method_not_found");
    // A transfer method with a bad account is refused field by field.
    let mut bad = sg_account();
    bad["bank_details"]["swift_code"] = json!("NOTABIC");
    let r = app.post("/api/v1/recipient/transfer_methods", &rtoken, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn recipients_are_isolated_and_tokens_do_not_cross(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_a, token_a) = wallet_client(&app, "Platform A", "100.00").await;
    let (_b, token_b) = wallet_client(&app, "Platform B", "100.00").await;
    let mei = create_recipient(&app, &token_a, "Mei Tan", "same-ref").await;
    let raj = create_recipient(&app, &token_a, "Raj Kumar", "raj").await;
    let bob = create_recipient(&app, &token_b, "Bob Lee", "same-ref").await;
    pay_into_wallet(&app, &token_a, "k-1", &mei.id, "40.00").await;
    pay_into_wallet(&app, &token_b, "k-1", &bob.id, "25.00").await;

    // Client B cannot see or pay client A's recipient.
    let r = app.get(&format!("/api/v1/recipients/{}", mei.id), &token_b).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app
        .post_with_key(
            "/api/v1/wallet_payouts",
            &token_b,
            "k-2",
            &json!({"recipient_id": mei.id, "currency": "SGD", "amount": "1.00"}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "recipient_not_found");
    assert_eq!(app.get("/api/v1/recipients", &token_a).await.body["total_items"], 2);
    assert_eq!(app.get("/api/v1/recipients", &token_b).await.body["total_items"], 1);

    // Each recipient sees only its own wallet and methods.
    let (mei_t, raj_t, bob_t) =
        (recipient_token(&app, &mei).await, recipient_token(&app, &raj).await, recipient_token(&app, &bob).await);
    assert_eq!(wallet_balance(&app, &mei_t).await, "40.00");
    assert_eq!(wallet_balance(&app, &raj_t).await, "0.00");
    assert_eq!(wallet_balance(&app, &bob_t).await, "25.00");
    let mei_method = add_method(&app, &mei_t).await;
    assert_eq!(app.get("/api/v1/recipient/transfer_methods", &raj_t).await.body["total_items"], 0);
    // Raj cannot withdraw to Mei's method, nor Bob (another client).
    let w = json!({"transfer_method_id": mei_method, "currency": "SGD", "amount": "1.00"});
    for (t, key) in [(&raj_t, "x-1"), (&bob_t, "x-2")] {
        let r = app.post_with_key("/api/v1/recipient/withdrawals", t, key, &w).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "transfer_method_not_found");
    }
    // Another recipient reusing Mei's key gets no one else's response.
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &mei_t, "shared", &w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let raj_method = add_method(&app, &raj_t).await;
    let r = app
        .post_with_key(
            "/api/v1/recipient/withdrawals",
            &raj_t,
            "shared",
            &json!({"transfer_method_id": raj_method, "currency": "SGD", "amount": "1.00"}),
        )
        .await;
    assert_ne!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers.get("x-idempotent-replayed").is_none());
    assert_eq!(app.get("/api/v1/recipient/withdrawals", &raj_t).await.body["total_items"], 0);
    assert_eq!(app.get("/api/v1/recipient/withdrawals", &mei_t).await.body["total_items"], 1);

    // Tokens do not cross: a client token is refused on recipient routes and the reverse.
    let r = app.get("/api/v1/recipient/wallets", &token_a).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_token");
    let r = app.get("/api/v1/balances", &mei_t).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_token");
    let r = app.get("/api/v1/recipients", &mei_t).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Recipient credentials do not open a client session, nor the reverse.
    let headers = [("x-client-id", mei.client_id.as_str()), ("x-api-key", mei.api_key.as_str())];
    let r = app.request(Method::POST, "/api/v1/connect/token", None, &headers, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let headers = [("x-client-id", mei.client_id.as_str()), ("x-api-key", "sk_wrong")];
    let r = app.request(Method::POST, "/api/v1/recipient/access_token", None, &headers, None).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_credentials");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn withdrawals_obey_the_account_rules_and_review(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let (_client, token) = wallet_client(&app, "Ruled Platform", "300.00").await;
    let mei = create_recipient(&app, &token, "Mei Tan", "m-1").await;
    pay_into_wallet(&app, &token, "wp-1", &mei.id, "200.00").await;
    let rtoken = recipient_token(&app, &mei).await;
    let method = add_method(&app, &rtoken).await;
    let rules = json!({"limits": [{"currency": "SGD", "per_payout": "50.00"}], "actions": {"per_payout": "review"}});
    let r = app.post("/api/v1/account_rules", &token, &rules).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Over the limit: held for review, the money held from the wallet.
    let w = json!({"transfer_method_id": method, "currency": "SGD", "amount": "60.00"});
    let r = app.post_with_key("/api/v1/recipient/withdrawals", &rtoken, "wd-1", &w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "IN_REVIEW");
    let id = r.body["withdrawal_id"].as_str().expect("withdrawal_id").to_owned();
    assert_eq!(wallet_balance(&app, &rtoken).await, "140.00");
    let reviews = app.get("/api/v1/compliance/reviews?page_size=100", &token).await;
    let review = reviews.body["data"]
        .as_array()
        .and_then(|d| d.iter().find(|v| v["subject_id"] == id.as_str()))
        .unwrap_or_else(|| panic!("no review of {id}: {}", reviews.text))
        .clone();
    let review_id = review["review_id"].as_str().expect("review_id");
    // The reviewer rejects it: the money goes back to the wallet, not to the client.
    let r =
        app.post(&format!("/api/v1/compliance/reviews/{review_id}/reject"), &token, &json!({"note": "limit"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = app.get("/api/v1/recipient/withdrawals", &rtoken).await;
    assert_eq!(list.body["data"][0]["withdrawal_status"], "REJECTED", "{}", list.text);
    assert_eq!(wallet_balance(&app, &rtoken).await, "200.00");
    let b = app.balance(&token, "SGD").await;
    assert_eq!(
        (b["available_balance"].as_str(), b["pending_balance"].as_str(), b["wallet_balance"].as_str()),
        (Some("100.00"), Some("0.00"), Some("200.00"))
    );
    app.assert_ledger_verifies();
    app.finish().await;
}
