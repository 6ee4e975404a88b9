//! Several `outlay serve` nodes on one database behave as one system: many clients spending one
//! balance through both nodes never overdraw it, and with both nodes running the sandbox rail
//! every payout is sent once and completed once.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    two_nodes_one_balance_no_overdraft_each_payout_sent_once,
    a_worker_node_serves_health_only,
    one_key_raced_through_two_nodes_runs_once,
    two_sandbox_nodes_starting_together_make_one_platform_account
);

/// Two sandbox nodes started at the same moment on an empty database: one platform account
/// between them, and only the node that made it prints credentials.
async fn two_sandbox_nodes_starting_together_make_one_platform_account(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::helpers::fresh_database(backend, &dir).await;
    // Migrate once first, as the first of several nodes does; then both race for the bootstrap.
    let keys = crate::helpers::sandbox_keys(&url).await;
    drop(outlay_store::open_with_keys(&url, keys.clone()).await.expect("migrate"));
    let settings = || outlay::config::ServeSettings {
        database_url: url.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        sandbox: true,
        settle_after: std::time::Duration::from_secs(3600),
        engine: outlay_engine::EngineConfig::default(),
        metrics_listen: None,
        webhooks: outlay_worker::webhooks::WebhookWorkerConfig::default(),
        role: outlay::config::Role::All,
        rail: Default::default(),
        trust_forwarded_for: false,
        max_in_flight: outlay_api::DEFAULT_MAX_IN_FLIGHT,
        sftp: None,
        reports: Default::default(),
        keys: Some(keys.clone()),
    };
    let (a, b) = futures::join!(outlay::server::start(settings()), outlay::server::start(settings()));
    let (a, b) = (a.expect("node a starts"), b.expect("node b starts"));
    let printed = usize::from(a.first_start.is_some()) + usize::from(b.first_start.is_some());
    assert_eq!(printed, 1, "exactly one node made the platform account");
    let store = outlay_store::open_with_keys(&url, keys.clone()).await.expect("store");
    let accounts = store.active_accounts(None, 100).await.expect("accounts");
    assert_eq!(accounts.len(), 1, "one platform account: {accounts:?}");
    drop(store);
    a.stop().await.expect("stop a");
    b.stop().await.expect("stop b");
}

/// Each idempotency key sent to both nodes at the same moment: both answer the same response
/// and the withdrawal exists once. (Both nodes' API look-ups miss the key, so the race is decided
/// in the writers: on PostgreSQL the loser's queued insert of the key fails at commit and its
/// batch reruns strictly, which replays the winner's answer.)
async fn one_key_raced_through_two_nodes_runs_once(backend: Backend) {
    let settle = std::time::Duration::from_secs(3600);
    let app = TestApp::spawn_full(backend, true, settle).await;
    let peer = app.spawn_peer(outlay::config::Role::Api, settle).await;
    let peer_base = format!("http://{}", peer.addr);
    let (_, token) = app.funded_client("Twice Sent Co", "USD", "100.00").await;
    let send = |base: String, key: String| {
        let (http, token) = (app.http.clone(), token.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/withdrawals"))
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", key)
                .json(&json!({"currency": "USD", "amount": "1.00"}))
                .send()
                .await
                .expect("send");
            (r.status(), r.text().await.expect("body"))
        }
    };
    let keys: Vec<String> = (0..30).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let pairs = keys.iter().map(|key| {
        let (here, there) = (send(app.base.clone(), key.clone()), send(peer_base.clone(), key.clone()));
        async move { futures::join!(here, there) }
    });
    for ((s1, b1), (s2, b2)) in join_all(pairs).await {
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} / {b2}");
        assert_eq!(b1, b2, "both nodes answer the first response");
    }
    assert_eq!(app.get("/api/v1/withdrawals?page_size=100", &token).await.body["total_items"], 30);
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "70.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn two_nodes_one_balance_no_overdraft_each_payout_sent_once(backend: Backend) {
    let settle = std::time::Duration::from_secs(2);
    let app = TestApp::spawn_full(backend, true, settle).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let peer = app.spawn_peer(outlay::config::Role::All, settle).await;
    let peer_base = format!("http://{}", peer.addr);
    let client = app.create_account("Shared Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "250.00").await;
    let b = app.post("/api/v1/beneficiaries", &token, &json!({
        "entity_type": "COMPANY", "company_name": "Lion City Trading Pte Ltd", "payment_method": "LOCAL",
        "bank_details": {"bank_country_code": "SG", "account_currency_code": "SGD", "account_holder": "Lion City Trading",
                         "account_number": "0123456789", "swift_code": "DBSSSGSG", "clearing_system": "FAST"}})).await;
    let beneficiary = b.body["beneficiary_id"].as_str().expect("beneficiary").to_owned();

    // 60 clients, alternating between the two nodes, each paying 10.00 from 250.00.
    let body = json!({"currency": "SGD", "amount": "10.00", "purpose_code": "WAGES_SALARY", "payout_reference": "Split",
                      "payout_date": "2026-11-24", "beneficiary_id": beneficiary});
    let requests = (0..60).map(|i| {
        let base = if i % 2 == 0 { app.base.clone() } else { peer_base.clone() };
        let (http, token, body) = (app.http.clone(), token.clone(), body.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/payouts"))
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = r.status();
            (status, r.json::<Value>().await.expect("json"))
        }
    });
    let results = join_all(requests).await;
    let ok: Vec<String> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b["payout_id"].as_str().expect("id").to_owned())
        .collect();
    let refused =
        results.iter().filter(|(s, b)| *s == StatusCode::BAD_REQUEST && b["code"] == "insufficient_balance").count();
    assert_eq!((ok.len(), refused), (25, 35), "{results:?}");
    let bal = app.balance(&token, "SGD").await;
    assert_eq!((bal["available_balance"].as_str(), bal["pending_balance"].as_str()), (Some("0.00"), Some("250.00")));

    // Both nodes run the sandbox rail: each payout must be sent once and completed once.
    for _ in 0..3 {
        app.clock.advance(time::Duration::seconds(3));
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    }
    let mut completed = 0;
    for id in &ok {
        let p = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
        let steps: Vec<&str> =
            p.body["status_history"].as_array().expect("history").iter().filter_map(|h| h["to"].as_str()).collect();
        assert_eq!(steps, ["READY_TO_SEND", "SENT", "COMPLETED"], "payout {id}");
        completed += 1;
    }
    assert_eq!(completed, 25);
    let bal = app.balance(&token, "SGD").await;
    assert_eq!((bal["available_balance"].as_str(), bal["pending_balance"].as_str()), (Some("0.00"), Some("0.00")));
    peer.stop().await.expect("peer stops");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn a_worker_node_serves_health_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let worker = app.spawn_peer(outlay::config::Role::Worker, std::time::Duration::from_secs(3600)).await;
    let base = format!("http://{}", worker.addr);
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.expect("health").status(), StatusCode::OK);
    let api = reqwest::Client::new().post(format!("{base}/api/v1/connect/token")).send().await.expect("send");
    assert_eq!(api.status(), StatusCode::NOT_FOUND, "a worker node does not serve the API");
    worker.stop().await.expect("stops");
    app.finish().await;
}
