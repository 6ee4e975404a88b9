//! Issue 6: overload is refused at once (503 server_busy), never queued without bound.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(requests_past_the_bound_are_refused_at_once);

async fn requests_past_the_bound_are_refused_at_once(backend: Backend) {
    let app =
        TestApp::spawn_limited(backend, true, Duration::from_secs(24 * 3600), outlay::config::RailSettings::Sandbox, 1)
            .await;
    let client = app.create_account("Busy Co", None);
    app.set_bank_account(&client.account_id);
    let token = app.token(&client).await;
    app.fund(&token, "USD", "10.00").await;

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
