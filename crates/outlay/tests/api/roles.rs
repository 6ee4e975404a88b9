//! Credential roles: each credential acts in one role, and one policy decides what it may do.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_envelope};

both_backends!(roles_limit_what_a_credential_may_do, revoked_credentials_stop_working_at_once);

fn payout_body() -> serde_json::Value {
    json!({
        "currency": "SGD", "amount": "10.00", "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November", "payout_date": "2026-11-24",
        "beneficiary": {
            "entity_type": "COMPANY", "company_name": "Lion City Trading Pte Ltd", "payment_method": "LOCAL",
            "bank_details": {"bank_country_code": "SG", "account_currency_code": "SGD",
                             "account_holder": "Lion City Trading Pte Ltd", "account_number": "0123456789",
                             "swift_code": "DBSSSGSG", "clearing_system": "FAST"}
        }
    })
}

async fn roles_limit_what_a_credential_may_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(time::macros::datetime!(2026-11-24 02:00 UTC));
    let admin = app.create_account("Acme", None);
    let admin_token = app.token(&admin).await;
    app.fund(&admin_token, "SGD", "100.00").await;

    // Unknown roles are refused, naming the field.
    let r = app.post("/api/v1/credentials", &admin_token, &json!({"role": "root"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_role");
    assert_eq!(r.body["field"], "role");

    let reviewer = app.credential(&admin, "reviewer").await;
    let payments = app.credential(&admin, "payments").await;
    let reader = app.credential(&admin, "read_only").await;
    let (reviewer_token, payments_token, reader_token) =
        (app.token(&reviewer).await, app.token(&payments).await, app.token(&reader).await);

    // A reviewer and a reader cannot create a payout; nothing is held.
    for token in [&reviewer_token, &reader_token] {
        let r = app.post_with_key("/api/v1/payouts", token, "p-denied", &payout_body()).await;
        assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    }
    assert_eq!(app.balance(&admin_token, "SGD").await["available_balance"], "100.00");

    // Every role reads.
    for token in [&reviewer_token, &reader_token, &payments_token] {
        assert_eq!(app.get("/api/v1/balances", token).await.status, StatusCode::OK);
    }

    // A payments credential moves money but cannot manage credentials or decide reviews.
    let r = app.post_with_key("/api/v1/payouts", &payments_token, "p-1", &payout_body()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post("/api/v1/credentials", &payments_token, &json!({"role": "admin"})).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");

    // The admin lists every credential with its role, never a key.
    let r = app.get("/api/v1/credentials", &admin_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut roles: Vec<String> =
        r.body["data"].as_array().expect("data").iter().map(|c| c["role"].as_str().unwrap_or("").to_owned()).collect();
    roles.sort();
    assert_eq!(roles, ["admin", "payments", "read_only", "reviewer"]);
    assert!(!r.text.contains(&payments.api_key), "keys are never listed");
    let r = app.get("/api/v1/credentials", &reader_token).await;
    assert_eq!(r.status, StatusCode::OK, "reading the list is a read");

    // Another account never sees these credentials.
    let other = app.create_account("Other", None);
    let other_token = app.token(&other).await;
    let r = app.get("/api/v1/credentials", &other_token).await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(1));

    // The CLI issues credentials too.
    let out = app.cli(&["credentials", "create", "--account", &admin.account_id, "--role", "approver", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = app.cli(&["credentials", "create", "--account", &admin.account_id, "--role", "boss"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role must be one of"));
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn revoked_credentials_stop_working_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.create_account("Acme", None);
    let admin_token = app.token(&admin).await;
    let payments = app.credential(&admin, "payments").await;
    let payments_token = app.token(&payments).await;
    assert_eq!(app.get("/api/v1/balances", &payments_token).await.status, StatusCode::OK);

    let list = app.get("/api/v1/credentials", &admin_token).await;
    let id = list.body["data"]
        .as_array()
        .and_then(|d| d.iter().find(|c| c["client_id"] == payments.client_id.as_str()))
        .and_then(|c| c["credential_id"].as_str())
        .expect("listed")
        .to_owned();
    let own = list.body["data"]
        .as_array()
        .and_then(|d| d.iter().find(|c| c["client_id"] == admin.client_id.as_str()))
        .and_then(|c| c["credential_id"].as_str())
        .expect("admin listed")
        .to_owned();
    let r = app.request(Method::DELETE, &format!("/api/v1/credentials/{own}"), Some(&admin_token), &[], None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an admin cannot lock itself out: {}", r.text);

    let r = app.request(Method::DELETE, &format!("/api/v1/credentials/{id}"), Some(&admin_token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/balances", &payments_token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the revoked credential's token is dead: {}", r.text);
    let r = app
        .request(
            Method::POST,
            "/api/v1/connect/token",
            None,
            &[("x-client-id", &payments.client_id), ("x-api-key", &payments.api_key)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.request(Method::DELETE, &format!("/api/v1/credentials/{id}"), Some(&admin_token), &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "revoking twice finds nothing to revoke");
    app.finish().await;
}
