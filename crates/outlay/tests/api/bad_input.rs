//! Bad input gets a 4xx in UQPAY's envelope naming the field and the rule, never a 500, and
//! changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_envelope};

both_backends!(bad_bodies_are_refused_and_change_nothing, bad_auth_is_refused, bad_queries_are_refused);

async fn bad_bodies_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.funded_client("Strict Co", "USD", "100.00").await;
    let transactions_before = app.get("/api/v1/balances/transactions", &token).await.body["total_items"].clone();

    let post_raw = |body: &'static str, content_type: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let resp = app
                .http
                .post(format!("{}/api/v1/withdrawals", app.base))
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = resp.status();
            let text = resp.text().await.expect("text");
            (status, serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default(), text)
        }
    };

    // Malformed JSON, a non-object, the wrong media type.
    for (body, ct, status, code) in [
        ("{\"currency\": \"USD\", ", "application/json", 400, "invalid_json"),
        ("[1, 2]", "application/json", 400, "invalid_json"),
        ("currency=USD", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ] {
        let (s, v, text) = post_raw(body, ct).await;
        assert_eq!(s.as_u16(), status, "{text}");
        assert_eq!(v["type"], "invalid_request_error", "{text}");
        assert_eq!(v["code"], code, "{text}");
    }

    let cases = [
        (json!({"amount": "10.00"}), "missing_required_fields", None),
        (json!({}), "missing_required_fields", None),
        (json!({"currency": "USD", "amount": {"value": 1}}), "invalid_type", Some("amount")),
        (json!({"currency": 840, "amount": "1.00"}), "invalid_type", Some("currency")),
        (json!({"currency": "USD", "amount": "10.001"}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": "-5.00"}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": "1e3"}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": "0.00"}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": "ten"}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": 10.001}), "invalid_amount", Some("amount")),
        (json!({"currency": "USD", "amount": 12345678901234567890u64}), "invalid_amount", Some("amount")),
        (json!({"currency": "XYZ", "amount": "1.00"}), "invalid_currency", Some("currency")),
        (json!({"currency": "usd", "amount": "1.00"}), "invalid_currency", Some("currency")),
        (json!({"currency": "USD", "amount": "1.00", "colour": "red"}), "unknown_field", None),
        (json!({"currency": "USD", "amount": "1.00", "reference": "x".repeat(101)}), "too_long", Some("reference")),
    ];
    for (body, code, field) in cases {
        let r = app.post_with_key("/api/v1/withdrawals", &token, &uuid::Uuid::new_v4().to_string(), &body).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", code);
        if let Some(field) = field {
            assert_eq!(r.body["field"], field, "{}", r.text);
            assert!(r.body["message"].as_str().is_some_and(|m| m.contains(field)), "{}", r.text);
        }
    }
    let r = app.post_with_key("/api/v1/withdrawals", &token, "k", &json!({})).await;
    assert_eq!(r.body["missing_fields"], json!(["currency", "amount"]), "every missing field is named at once");

    // A number that is exact is accepted, like UQPAY's payout_amount.
    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "numeric", &json!({"currency": "USD", "amount": 1.5})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["amount"], "1.50");

    // Idempotency key rules.
    let r = app
        .post_with_key("/api/v1/withdrawals", &token, &"k".repeat(65), &json!({"currency": "USD", "amount": "1.00"}))
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_idempotency_key");
    let r = app.post("/api/v1/withdrawals", &token, &json!({"currency": "USD", "amount": "1.00"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_fields");
    assert_eq!(r.body["missing_fields"], json!(["x-idempotency-key"]));

    // Oversized body: 413 in the envelope.
    let huge =
        format!("{{\"currency\":\"USD\",\"amount\":\"1.00\",\"reference\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    // Its own client: the server may close the connection after refusing the body early, and a
    // pooled connection closed that way must not be reused by the requests that follow.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/withdrawals", app.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", "huge")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = resp.json().await.expect("json envelope");
    assert_eq!(v["code"], "payload_too_large");

    // Simulation input rules.
    let r = app
        .post(
            "/api/v1/simulation/deposit",
            &token,
            &json!({"amount": "1.00", "currency": "USD", "sender_country": "Singapore"}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_country");
    let r = app
        .post(
            "/api/v1/simulation/deposit",
            &token,
            &json!({"amount": "1.00", "currency": "USD", "sender_swift_code": "X".repeat(31)}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "too_long");
    let r = app.post("/api/v1/simulation/deposit/not-a-uuid", &token, &json!({"deposit_status": "COMPLETED"})).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app
        .post(
            &format!("/api/v1/simulation/deposit/{}", uuid::Uuid::new_v4()),
            &token,
            &json!({"deposit_status": "DONE"}),
        )
        .await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value");

    // Unknown routes and methods are enveloped too.
    assert_envelope(
        &app.get("/api/v1/nothing-here", &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_not_found",
    );
    let r = app.request(Method::DELETE, "/api/v1/balances", Some(&token), &[], None).await;
    assert_envelope(&r, StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", "method_not_allowed");

    // Only the one valid 1.50 withdrawal moved money.
    let after = app.get("/api/v1/balances/transactions", &token).await.body["total_items"].as_u64().expect("count");
    assert_eq!(after, transactions_before.as_u64().expect("count") + 2);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "98.50");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn bad_auth_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Auth Co", None);

    let token_with = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.request(Method::POST, "/api/v1/connect/token", None, &pairs, None).await
        }
    };
    let r = token_with(vec![]).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_fields");
    assert_eq!(r.body["missing_fields"], json!(["x-client-id", "x-api-key"]));
    let r = token_with(vec![("x-client-id", client.client_id.clone()), ("x-api-key", "sk_wrong".into())]).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_credentials");
    let r = token_with(vec![("x-client-id", "cli_nobody".into()), ("x-api-key", client.api_key.clone())]).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_credentials");

    let r = app.request(Method::GET, "/api/v1/balances", None, &[], None).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "missing_token");
    let r = app.request(Method::GET, "/api/v1/balances", Some("tok_forged"), &[], None).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_token");
    // The API key itself is not a token.
    let r = app.request(Method::GET, "/api/v1/balances", Some(&client.api_key), &[], None).await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "invalid_token");
    let r = app
        .request(
            Method::POST,
            "/api/v1/simulation/deposit",
            None,
            &[],
            Some(&json!({"amount": "1.00", "currency": "USD"})),
        )
        .await;
    assert_envelope(&r, StatusCode::UNAUTHORIZED, "unauthorized_error", "missing_token");

    let token = app.token(&client).await;
    for bad in ["not-a-uuid", &uuid::Uuid::new_v4().to_string()] {
        let r = app.request(Method::GET, "/api/v1/balances", Some(&token), &[("x-on-behalf-of", bad)], None).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "account_error", "sub_account_not_found");
    }
    app.finish().await;
}

async fn bad_queries_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Query Co", None);
    let token = app.token(&client).await;
    for (path, field) in [
        ("/api/v1/deposit?page_size=5", "page_size"),
        ("/api/v1/deposit?page_size=101", "page_size"),
        ("/api/v1/deposit?page_number=0", "page_number"),
        ("/api/v1/deposit?page_number=abc", "page_number"),
        ("/api/v1/deposit?deposit_status=DONE", "deposit_status"),
        ("/api/v1/deposit?start_time=yesterday", "start_time"),
        ("/api/v1/withdrawals?currency=EURO", "currency"),
        ("/api/v1/balances/transactions?transaction_type=GIFT", "transaction_type"),
        ("/api/v1/balances/ABC", "currency"),
    ] {
        let r = app.get(path, &token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(r.body["type"], "invalid_request_error", "{path}");
        assert_eq!(r.body["field"], field, "{path}: {}", r.text);
    }
    let r = app.get("/api/v1/deposit?page_size=100&page_number=3", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"total_pages": 0, "total_items": 0, "data": []}));
    app.finish().await;
}
