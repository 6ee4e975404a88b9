//! Internal transfers between a platform account and its connected accounts.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_envelope};

both_backends!(transfers_move_money_within_a_family_only);

async fn transfers_move_money_within_a_family_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let master = app.create_account("Marketplace", None);
    let seller = app.create_account("Seller", Some(&master.account_id));
    let stranger = app.create_account("Stranger", None);
    let token = app.token(&master).await;
    app.fund(&token, "USD", "100.00").await;

    let body = json!({"source_account_id": master.account_id, "target_account_id": seller.account_id,
                      "currency": "USD", "amount": "40.00", "reason": "November commission"});
    let r = app.post_with_key("/api/v1/transfer", &token, "t-1", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["transfer_status"], "COMPLETED");
    assert!(r.body["short_reference_id"].as_str().is_some_and(|s| s.starts_with('T')));
    let again = app.post_with_key("/api/v1/transfer", &token, "t-1", &body).await;
    assert_eq!(again.text, r.text, "a retry replays, no second transfer");
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "60.00");
    let on_behalf = [("x-on-behalf-of", seller.account_id.as_str())];
    let seller_balance = app.request(Method::GET, "/api/v1/balances/USD", Some(&token), &on_behalf, None).await;
    assert_eq!(seller_balance.body["available_balance"], "40.00");

    // Back again, from the connected account.
    let back = json!({"source_account_id": seller.account_id, "target_account_id": master.account_id, "currency": "USD", "amount": "10.00"});
    assert_eq!(app.post_with_key("/api/v1/transfer", &token, "t-2", &back).await.status, StatusCode::OK);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "70.00");

    // Refusals: outside the family, to itself, more than is available, no key.
    let outside = json!({"source_account_id": master.account_id, "target_account_id": stranger.account_id, "currency": "USD", "amount": "1.00"});
    let r = app.post_with_key("/api/v1/transfer", &token, "t-3", &outside).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "transfer_error", "account_not_found");
    assert_eq!(r.body["field"], "target_account_id");
    let itself = json!({"source_account_id": master.account_id, "target_account_id": master.account_id, "currency": "USD", "amount": "1.00"});
    assert_envelope(
        &app.post_with_key("/api/v1/transfer", &token, "t-4", &itself).await,
        StatusCode::BAD_REQUEST,
        "transfer_error",
        "same_account",
    );
    let mut too_much = body.clone();
    too_much["amount"] = json!("70.01");
    assert_envelope(
        &app.post_with_key("/api/v1/transfer", &token, "t-5", &too_much).await,
        StatusCode::BAD_REQUEST,
        "transfer_error",
        "insufficient_balance",
    );
    let r = app.post("/api/v1/transfer", &token, &body).await;
    assert_eq!(r.body["missing_fields"], json!(["x-idempotency-key"]));
    let stranger_token = app.token(&stranger).await;
    let steal = json!({"source_account_id": master.account_id, "target_account_id": stranger.account_id, "currency": "USD", "amount": "1.00"});
    assert_envelope(
        &app.post_with_key("/api/v1/transfer", &stranger_token, "s-1", &steal).await,
        StatusCode::BAD_REQUEST,
        "transfer_error",
        "account_not_found",
    );

    // Who sees what.
    assert_eq!(app.get("/api/v1/transfer", &token).await.body["total_items"], 2);
    let seller_token = app.token(&seller).await;
    assert_eq!(app.get("/api/v1/transfer", &seller_token).await.body["total_items"], 2);
    assert_eq!(app.get("/api/v1/transfer", &stranger_token).await.body["total_items"], 0);
    let id = r_id(&app.get("/api/v1/transfer", &token).await.body);
    assert_envelope(
        &app.get(&format!("/api/v1/transfer/{id}"), &stranger_token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_not_found",
    );
    app.assert_ledger_verifies();
    app.finish().await;
}

fn r_id(list: &serde_json::Value) -> String {
    list["data"][0]["transfer_id"].as_str().expect("transfer_id").to_owned()
}
