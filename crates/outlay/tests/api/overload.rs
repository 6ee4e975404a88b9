//! Issue 6: overload is refused at once (503 server_busy), never queued without bound; a write
//! that waited past `[writer] max_queue_wait_ms` is refused without running.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_envelope};

both_backends!(
    requests_past_the_bound_are_refused_at_once,
    a_write_past_the_queue_wait_bound_runs_nothing_and_its_retry_does,
    internal_work_is_never_shed,
);

async fn requests_past_the_bound_are_refused_at_once(backend: Backend) {
    let app =
        TestApp::spawn_limited(backend, true, Duration::from_secs(24 * 3600), outlay::config::RailSettings::Sandbox, 1)
            .await;
    let (_, token) = app.funded_client("Busy Co", "USD", "10.00").await;

    // 128 clients at once against a bound of one request in progress.
    let storm = (0..128).map(|_| {
        let (http, base, token) = (app.http.clone(), app.base.clone(), token.clone());
        async move {
            let r = http
                .get(format!("{base}/api/v1/balances"))
                .header("x-auth-token", format!("Bearer {token}"))
                .send()
                .await
                .expect("every request is answered");
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body)
        }
    });
    let answers = join_all(storm).await;
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE).collect();
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok + busy.len(), answers.len(), "only 200 or 503: {answers:?}");
    assert!(ok > 0, "some requests are served");
    assert!(!busy.is_empty(), "past the bound requests are refused, not queued");
    for (_, body) in &busy {
        assert_eq!(body["code"], "server_busy", "{body}");
        assert_eq!(body["retryable"], true, "{body}");
    }
    // Writes past the bound are refused the same way, and a refusal writes nothing: not even an
    // audit record (recording refusals would turn overload into writes).
    let storm = (0..64).map(|i| {
        let (http, base, token) = (app.http.clone(), app.base.clone(), token.clone());
        async move {
            http.post(format!("{base}/api/v1/withdrawals"))
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", format!("busy-{i}"))
                .json(&serde_json::json!({"currency": "USD", "amount": "0.10"}))
                .send()
                .await
                .expect("every request is answered")
                .status()
        }
    });
    let statuses = join_all(storm).await;
    let made = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert_eq!(made + refused, statuses.len(), "only 200 or 503: {statuses:?}");
    assert!(refused > 0, "past the bound writes are refused");
    let audited = app.get("/api/v1/audit_events?action=withdrawal.create&page_size=100", &token).await;
    assert_eq!(audited.body["data"].as_array().map(Vec::len), Some(made), "{}", audited.text);
    let withdrawals = app.get("/api/v1/withdrawals?page_size=100", &token).await;
    assert_eq!(withdrawals.body["total_items"], made);

    // Health checks are outside the bound, and the node serves again once the storm is over.
    let health = app.http.get(format!("{}/healthz", app.base)).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let left = 1_000 - 10 * i64::try_from(made).expect("count");
    let expected = format!("{}.{:02}", left / 100, left % 100);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], expected.as_str());
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn a_write_past_the_queue_wait_bound_runs_nothing_and_its_retry_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, token) = app.funded_client("Late Co", "USD", "10.00").await;
    let engine = app.server.as_ref().expect("server").engine.clone();
    let account: outlay_core::AccountId = client.account_id.parse().expect("account id");

    // A zero bound: every API write has waited longer than that when the writer takes it.
    engine.set_max_queue_wait(Some(Duration::ZERO));
    let body = json!({"currency": "USD", "amount": "1.00"});
    for path in ["/api/v1/withdrawals", "/api/v1/withdrawals"] {
        let r = app.post_with_key(path, &token, "late-1", &body).await;
        assert_envelope(&r, StatusCode::SERVICE_UNAVAILABLE, "api_error", "server_busy");
        assert_eq!(r.body["retryable"], true, "{}", r.text);
        assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    }
    // Another key, another refusal: each one waited, none ran.
    let r = app.post_with_key("/api/v1/withdrawals", &token, "late-2", &body).await;
    assert_envelope(&r, StatusCode::SERVICE_UNAVAILABLE, "api_error", "server_busy");
    assert_eq!(engine.writer_stats().shed.load(std::sync::atomic::Ordering::Relaxed), 3, "shed by the writer");
    // Reads are not writes: they are served.
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "10.00");

    // Nothing was written: no withdrawal, no hold, no idempotency record, no audit record.
    engine.set_max_queue_wait(None);
    let withdrawals = app.get("/api/v1/withdrawals?page_size=100", &token).await;
    assert_eq!(withdrawals.body["total_items"], 0, "{}", withdrawals.text);
    for key in ["late-1", "late-2"] {
        assert!(engine.store().idempotency(account, key).await.expect("read").is_none(), "{key}");
    }
    let audited = app.get("/api/v1/audit_events?action=withdrawal.create&page_size=100", &token).await;
    assert_eq!(audited.body["data"].as_array().map(Vec::len), Some(0), "{}", audited.text);
    app.assert_ledger_verifies();

    // The client's retry with the same key runs it, once.
    let r = app.post_with_key("/api/v1/withdrawals", &token, "late-1", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let replay = app.post_with_key("/api/v1/withdrawals", &token, "late-1", &body).await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(replay.body["withdrawal_id"], r.body["withdrawal_id"]);
    let withdrawals = app.get("/api/v1/withdrawals?page_size=100", &token).await;
    assert_eq!(withdrawals.body["total_items"], 1, "{}", withdrawals.text);
    assert!(engine.store().idempotency(account, "late-1").await.expect("read").is_some());
    // The run and its replay (a replay is audited too, without an effect).
    let audited = app.get("/api/v1/audit_events?action=withdrawal.create&page_size=100", &token).await;
    let records = audited.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 2, "{}", audited.text);
    assert_eq!(records.iter().filter(|e| !e["after"].is_null()).count(), 1, "{}", audited.text);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "9.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn internal_work_is_never_shed(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, Duration::from_secs(2)).await;
    let (_, token) = app.funded_client("Internal Co", "USD", "10.00").await;
    let r = app
        .post_with_key("/api/v1/withdrawals", &token, "settle-me", &json!({"currency": "USD", "amount": "2.00"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["withdrawal_status"], "PENDING");
    let id = r.body["withdrawal_id"].as_str().expect("withdrawal_id").to_owned();
    let engine = app.server.as_ref().expect("server").engine.clone();

    // Under a bound that sheds every API write, the sandbox settler (a background task of the
    // same engine) still completes the withdrawal, and a command from outside any API request
    // (as the CLI, rails, webhooks, jobs and batch release submit them) still runs.
    engine.set_max_queue_wait(Some(Duration::ZERO));
    let r = app
        .post_with_key("/api/v1/withdrawals", &token, "shed-me", &json!({"currency": "USD", "amount": "1.00"}))
        .await;
    assert_envelope(&r, StatusCode::SERVICE_UNAVAILABLE, "api_error", "server_busy");
    app.clock.advance(time::Duration::seconds(3));
    let mut status = String::new();
    for _ in 0..100 {
        let w = app.get(&format!("/api/v1/withdrawals/{id}"), &token).await;
        status = w.body["withdrawal_status"].as_str().unwrap_or_default().to_owned();
        if status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "COMPLETED", "the settler's write was not shed");
    let made = outlay::server::create_account(&engine, "Made Internally", None).await;
    assert!(made.is_ok(), "{made:?}");
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "8.00");
    let shed = engine.writer_stats().shed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(shed, 1, "only the API write was shed");
    engine.set_max_queue_wait(None);
    app.assert_ledger_verifies();
    app.finish().await;
}
