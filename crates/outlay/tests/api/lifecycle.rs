//! Start-up, modes, graceful shutdown, and `kill -9` in the middle of a write storm.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, ServeProcess, TestApp, WebhookReceiver, assert_envelope, raw_sql};

both_backends!(
    first_start_account_is_usable,
    production_mode_has_no_simulation,
    kill_9_loses_no_acknowledged_write,
    kill_9_loses_no_webhook_event,
    sandbox_settles_after_its_delay,
    ledger_verify_names_tampering,
    settings_come_from_file_env_and_flags,
);

async fn settings_come_from_file_env_and_flags(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("outlay.toml");
    // The file names the database and production mode; the environment overrides the listen
    // address the file gives; the flag wins over both for the database URL check below.
    std::fs::write(
        &config,
        format!("database_url = \"{}\"\nlisten = \"127.0.0.1:1\"\nmode = \"production\"\n", app.database_url),
    )
    .expect("write config");
    let config = config.to_string_lossy().to_string();
    // Production needs an encryption key for account numbers at rest (docs/audit-and-encryption.md).
    let envs =
        [("OUTLAY_LISTEN", "127.0.0.1:0"), ("OUTLAY_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")];
    let process = ServeProcess::start_with(&["--config", &config], &envs);
    assert!(!process.created_account, "production mode creates no account");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/simulation/deposit", process.base))
        .header("x-auth-token", "Bearer x")
        .json(&json!({"amount": "1.00", "currency": "USD"}))
        .send()
        .await
        .expect("send");
    // Production: the simulation route does not exist, whoever asks.
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // It serves the database the file named: the platform account's credentials work.
    let token = token_at(&http, &process.base, &app.platform).await;
    assert!(token.starts_with("tok_"));
    assert!(process.terminate().success());

    // A bad config file is a clear start-up error, not a panic.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = 8080\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outlay"))
        .args(["serve", "--config", &bad.to_string_lossy()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
    app.finish().await;
}

async fn sandbox_settles_after_its_delay(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    let client = app.create_account("Patient Co", None);
    app.set_bank_account(&client.account_id);
    let token = app.token(&client).await;
    let r = app.post("/api/v1/simulation/deposit", &token, &json!({"amount": "80.00", "currency": "USD"})).await;
    let deposit_id = r.body["deposit_id"].as_str().expect("id").to_owned();
    // The settler runs on the manual clock: nothing moves until the delay has passed on it.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(app.get(&format!("/api/v1/deposit/{deposit_id}"), &token).await.body["deposit_status"], "PENDING");
    app.clock.advance(time::Duration::seconds(3));
    wait_for(&app, &token, &format!("/api/v1/deposit/{deposit_id}"), "deposit_status", "COMPLETED").await;
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "80.00");

    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "later", &json!({"currency": "USD", "amount": "30.00"})).await;
    let id = r.body["withdrawal_id"].as_str().expect("id").to_owned();
    app.clock.advance(time::Duration::seconds(3));
    wait_for(&app, &token, &format!("/api/v1/withdrawals/{id}"), "withdrawal_status", "COMPLETED").await;
    let b = app.balance(&token, "USD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("50.00"), Some("0.00")));
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn wait_for(app: &TestApp, token: &str, path: &str, field: &str, value: &str) {
    for _ in 0..100 {
        if app.get(path, token).await.body[field] == value {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path}: {field} never became {value}");
}

async fn ledger_verify_names_tampering(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.create_account("Tamper Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "USD", "100.00").await;
    let r = app.get("/api/v1/balances", &token).await;
    assert!(r.headers.get("x-request-id").is_some(), "every response carries a request id");
    app.assert_ledger_verifies();

    // Someone edits a balance row behind the ledger's back.
    raw_sql(&app.database_url, "UPDATE ledger_accounts SET balance = balance + 500 WHERE kind = 'available'").await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("VIOLATION: balance") && stdout.contains("stored 10500, entries sum to 10000"), "{stdout}");
    raw_sql(&app.database_url, "UPDATE ledger_accounts SET balance = balance - 500 WHERE kind = 'available'").await;
    app.assert_ledger_verifies();

    // The journal refuses edits; an attacker who drops the guard breaks the hash chain.
    let drop_guard = if app.database_url.starts_with("sqlite") {
        "DROP TRIGGER journal_lines_no_update"
    } else {
        "DROP TRIGGER journal_lines_append_only ON journal_lines"
    };
    raw_sql(&app.database_url, drop_guard).await;
    raw_sql(&app.database_url, "UPDATE journal_lines SET amount = amount * 2").await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("stored hash does not match its contents"), "{stdout}");
    app.finish().await;
}

async fn first_start_account_is_usable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(&app.platform).await;
    let r = app.post("/api/v1/simulation/deposit", &token, &json!({"amount": "1.00", "currency": "USD"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["account_id"], app.platform.account_id);
    let r = app.get("/api/openapi.json", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["paths"]["/api/v1/withdrawals"]["post"].is_object());
    assert_eq!(app.get("/readyz", &token).await.status, StatusCode::OK);

    // Prometheus metrics on their own listener: per-route rates and latencies, writer batches.
    let metrics_addr = app.server.as_ref().and_then(|s| s.metrics_addr).expect("metrics listener");
    let text =
        reqwest::get(format!("http://{metrics_addr}/metrics")).await.expect("scrape").text().await.expect("text");
    assert!(
        text.contains("outlay_http_requests_total{") && text.contains("route=\"/api/v1/simulation/deposit\""),
        "{text}"
    );
    assert!(text.contains("outlay_http_request_seconds_bucket"), "{text}");
    assert!(text.contains("outlay_writer_batch_size_bucket") && text.contains("outlay_writer_queue_depth"), "{text}");
    let api = app.request(Method::GET, "/metrics", None, &[], None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND, "metrics are not served on the API listener");

    // A restart on the same database does not create another account.
    let out = app.cli(&["ledger", "verify", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["ok"], true);
    let url = app.database_url.clone();
    let process = ServeProcess::start(&url);
    assert!(!process.created_account);
    let status = process.terminate();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
    app.finish().await;
}

async fn production_mode_has_no_simulation(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let client = app.create_account("Prod Co", None);
    let token = app.token(&client).await;
    let r = app.post("/api/v1/simulation/deposit", &token, &json!({"amount": "1.00", "currency": "USD"})).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    // Money arrives only through the operator.
    let out = app.cli(&[
        "deposits",
        "record",
        "--account",
        &client.account_id,
        "--currency",
        "USD",
        "--amount",
        "42.00",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.balance(&token, "USD").await["available_balance"], "42.00");
    app.assert_ledger_verifies();
    app.finish().await;
}

/// Withdrawals race against a `kill -9`: every acknowledged one survives the restart, a retry
/// of its key replays it instead of paying twice, and the ledger verifies.
async fn kill_9_loses_no_acknowledged_write(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let client = app.create_account("Crash Co", None);
    app.set_bank_account(&client.account_id);
    let out =
        app.cli(&["deposits", "record", "--account", &client.account_id, "--currency", "USD", "--amount", "100000.00"]);
    assert!(out.status.success());
    app.stop().await;

    let url = app.database_url.clone();
    let process = ServeProcess::start(&url);
    let http = reqwest::Client::new();
    let token = token_at(&http, &process.base, &client).await;
    let base = process.base.clone();
    let storm_http = http.clone();
    let send = move |i: usize| {
        let (http, base, token) = (storm_http.clone(), base.clone(), token.clone());
        async move {
            let r = loop {
                let r = http
                    .post(format!("{base}/api/v1/withdrawals"))
                    .header("x-auth-token", format!("Bearer {token}"))
                    .header("x-idempotency-key", format!("crash-{i}"))
                    .json(&json!({"currency": "USD", "amount": "0.01"}))
                    .send()
                    .await;
                // Only a dead server may stop a client. Load shedding (a write that waited too
                // long for the writer) ran nothing: the client retries with the same key.
                let r = r.ok()?;
                if r.status() != StatusCode::SERVICE_UNAVAILABLE {
                    break r;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            // Any other refusal is a bug.
            assert_eq!(r.status(), StatusCode::OK, "request {i} refused");
            Some((i, r.json::<serde_json::Value>().await.ok()?))
        }
    };
    // 32 clients send back to back until the server dies under them.
    let storms: Vec<_> = (0..32)
        .map(|client| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..1_000 {
                    match send(client * 1_000 + n).await {
                        Some(ack) => acked.push(ack),
                        None => return (acked, true),
                    }
                }
                (acked, false)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    process.kill_9();
    let mut acknowledged: Vec<(usize, serde_json::Value)> = Vec::new();
    let mut cut_off = 0;
    for storm in join_all(storms).await {
        let (acked, interrupted) = storm.expect("storm");
        acknowledged.extend(acked);
        cut_off += usize::from(interrupted);
    }
    assert!(cut_off > 0 && !acknowledged.is_empty(), "the kill must land mid-storm ({} acked)", acknowledged.len());
    eprintln!("kill -9 after {} acknowledged withdrawals; {cut_off} clients cut off", acknowledged.len());

    let process = ServeProcess::start(&url);
    let token = token_at(&http, &process.base, &client).await;
    for (i, first) in &acknowledged {
        let id = first["withdrawal_id"].as_str().expect("id");
        let r = http
            .get(format!("{}/api/v1/withdrawals/{id}", process.base))
            .header("x-auth-token", format!("Bearer {token}"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "acknowledged withdrawal {id} was lost");
        // The client retries: the same answer, no second withdrawal.
        let again = http
            .post(format!("{}/api/v1/withdrawals", process.base))
            .header("x-auth-token", format!("Bearer {token}"))
            .header("x-idempotency-key", format!("crash-{i}"))
            .json(&json!({"currency": "USD", "amount": "0.01"}))
            .send()
            .await
            .expect("retry");
        assert_eq!(again.headers().get("x-idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
        let again: serde_json::Value = again.json().await.expect("json");
        assert_eq!(&again, first);
    }
    let list: serde_json::Value = http
        .get(format!("{}/api/v1/withdrawals?page_size=10", process.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let stored = list["total_items"].as_u64().expect("count");
    assert!(stored >= acknowledged.len() as u64, "stored {stored} < acknowledged {}", acknowledged.len());
    let balance: serde_json::Value = http
        .get(format!("{}/api/v1/balances/USD", process.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .send()
        .await
        .expect("balance")
        .json()
        .await
        .expect("json");
    assert_eq!(balance["pending_balance"], format!("{}.{:02}", stored / 100, stored % 100));
    assert_eq!(balance["unified_balance"], "100000.00");
    process.kill_9();
    app.assert_ledger_verifies();
    app.finish().await;
}

/// Withdrawals (each one event on creation and one when the sandbox bank settles it) race
/// against a `kill -9` while a real receiver verifies every signature: after the restart every
/// event of every acknowledged withdrawal arrives, at least once, and the ledger verifies.
async fn kill_9_loses_no_webhook_event(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let client = app.create_account("Crash Hooks Co", None);
    app.set_bank_account(&client.account_id);
    let out =
        app.cli(&["deposits", "record", "--account", &client.account_id, "--currency", "USD", "--amount", "1000.00"]);
    assert!(out.status.success());
    let receiver = WebhookReceiver::start().await;
    let token = app.token(&client).await;
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            &token,
            &json!({"url": receiver.url, "event_types": ["withdrawal.pending", "withdrawal.completed"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    receiver.trust(r.body["secret"].as_str().expect("secret"));
    app.stop().await;

    // A short lease, so deliveries in flight at the kill are retried within the test's patience.
    let config = tempfile::NamedTempFile::new().expect("config");
    std::fs::write(config.path(), "[webhooks]\nlease_ms = 2000\npoll_interval_ms = 50\n").expect("write config");
    let config_path = config.path().to_string_lossy().into_owned();
    let url = app.database_url.clone();
    let args = [
        "--config",
        config_path.as_str(),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        url.as_str(),
        "--sandbox-settle-after-ms",
        "100",
    ];
    let process = ServeProcess::start_with(&args, &[]);
    let http = reqwest::Client::new();
    let token = token_at(&http, &process.base, &client).await;
    let storms: Vec<_> = (0..8)
        .map(|n| {
            let (http, base, token) = (http.clone(), process.base.clone(), token.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..500 {
                    let r = loop {
                        let sent = http
                            .post(format!("{base}/api/v1/withdrawals"))
                            .header("x-auth-token", format!("Bearer {token}"))
                            .header("x-idempotency-key", format!("hook-{n}-{i}"))
                            .json(&json!({"currency": "USD", "amount": "0.01"}))
                            .send()
                            .await;
                        let Ok(r) = sent else { return acked };
                        // Shed by the writer's queue-wait bound: nothing ran; retry the same key.
                        if r.status() != StatusCode::SERVICE_UNAVAILABLE {
                            break r;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    };
                    assert_eq!(r.status(), StatusCode::OK);
                    let Ok(body) = r.json::<serde_json::Value>().await else { return acked };
                    acked.push(body["withdrawal_id"].as_str().expect("id").to_owned());
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    process.kill_9();
    let mut acknowledged: Vec<String> = Vec::new();
    for storm in join_all(storms).await {
        acknowledged.extend(storm.expect("storm"));
    }
    assert!(!acknowledged.is_empty(), "some withdrawals were acknowledged before the kill");
    let before_restart = receiver.received().len();

    let process = ServeProcess::start_with(&args, &[]);
    let want: std::collections::HashSet<(String, &str)> = acknowledged
        .iter()
        .flat_map(|id| [(id.clone(), "withdrawal.pending"), (id.clone(), "withdrawal.completed")])
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got: std::collections::HashSet<(String, &str)> = receiver
            .received()
            .iter()
            .filter_map(|w| {
                let kind = ["withdrawal.pending", "withdrawal.completed"].into_iter().find(|k| *k == w.event_type())?;
                Some((w.envelope["source_id"].as_str()?.to_owned(), kind))
            })
            .collect();
        let missing = want.difference(&got).count();
        if missing == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing} of {} events of acknowledged withdrawals never arrived ({before_restart} before the restart)",
            want.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.bad_signatures(), 0);
    eprintln!(
        "kill -9 after {} acknowledged withdrawals; {before_restart} events before the restart, {} after",
        acknowledged.len(),
        receiver.received().len()
    );
    process.kill_9();
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn token_at(http: &reqwest::Client, base: &str, c: &Credentials) -> String {
    let r: serde_json::Value = http
        .post(format!("{base}/api/v1/connect/token"))
        .header("x-client-id", &c.client_id)
        .header("x-api-key", &c.api_key)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    r["auth_token"].as_str().expect("auth_token").to_owned()
}
