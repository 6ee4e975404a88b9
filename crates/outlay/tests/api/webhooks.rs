//! Issue 4: signed webhook delivery. A real HTTP receiver in the test verifies every signature;
//! the worker runs inside the server on the test's manual clock, so backoff is tested by moving
//! the clock.

use outlay_engine::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, ReceivedWebhook, TestApp, WebhookReceiver, assert_envelope, sg_company};

both_backends!(
    payout_and_deposit_events_arrive_signed_and_in_sequence,
    failing_receiver_gets_everything_once_it_recovers,
    deliveries_fail_after_three_days_and_replays_redeliver,
    event_type_filters_and_connected_accounts,
    accounts_are_isolated_and_deleting_an_endpoint_stops_deliveries,
    rotating_the_secret_signs_with_the_new_one,
    production_requires_https_to_a_public_host,
    delivery_metrics_are_scraped,
);

async fn client_app(backend: Backend, name: &str) -> (TestApp, Credentials, String) {
    let app = TestApp::spawn(backend).await;
    // A business day (Tuesday 24 November 2026, 10:00 in Singapore), for payouts.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account(name, None);
    let token = app.token(&client).await;
    (app, client, token)
}

/// Register `receiver` for `event_types` (all when empty); it trusts the secret from now on.
async fn register(app: &TestApp, token: &str, receiver: &WebhookReceiver, event_types: &[&str]) -> Value {
    let mut body = json!({"url": receiver.url});
    if !event_types.is_empty() {
        body["event_types"] = json!(event_types);
    }
    let r = app.post("/api/v1/webhook_endpoints", token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let secret = r.body["secret"].as_str().expect("the secret is shown on create");
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    receiver.trust(secret);
    r.body
}

async fn deliveries(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/webhook_deliveries?page_size=100&{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// Poll the delivery log (up to 15 s) until `done` holds for its rows.
async fn wait_for_log(
    app: &TestApp,
    token: &str,
    query: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let log = deliveries(app, token, query).await;
        let rows = log["data"].as_array().cloned().unwrap_or_default();
        if done(&rows) {
            return rows;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {log}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

fn of_type<'a>(received: &'a [ReceivedWebhook], event_type: &str) -> Vec<&'a ReceivedWebhook> {
    received.iter().filter(|w| w.event_type() == event_type).collect()
}

fn has_types(received: &[ReceivedWebhook], types: &[&str]) -> bool {
    types.iter().all(|t| received.iter().any(|w| w.event_type() == *t))
}

async fn pending_deposit(app: &TestApp, token: &str, headers: &[(&str, &str)], amount: &str) -> String {
    let body = json!({"amount": amount, "currency": "USD", "sender_name": "Funding Co"});
    let r = app.request(Method::POST, "/api/v1/simulation/deposit", Some(token), headers, Some(&body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["deposit_id"].as_str().expect("deposit_id").to_owned()
}

async fn payout_and_deposit_events_arrive_signed_and_in_sequence(backend: Backend) {
    let (app, client, token) = client_app(backend, "Hooked Pte Ltd").await;
    let receiver = WebhookReceiver::start().await;
    let endpoint = register(&app, &token, &receiver, &[]).await;
    let endpoint_id = endpoint["endpoint_id"].as_str().expect("endpoint_id").to_owned();
    assert_eq!(endpoint["url"], receiver.url);
    assert_eq!(endpoint["event_types"], json!([]));
    assert_eq!(endpoint["status"], "ACTIVE");
    let got = app.get(&format!("/api/v1/webhook_endpoints/{endpoint_id}"), &token).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert!(got.body.get("secret").is_none(), "the secret is shown only on create and rotate: {}", got.text);
    let list = app.get("/api/v1/webhook_endpoints", &token).await;
    assert_eq!((list.body["total_items"].as_u64(), list.body["total_pages"].as_u64()), (Some(1), Some(1)));
    assert!(list.body["data"][0].get("secret").is_none());

    // Fund, add a beneficiary, pay and complete: five events on three objects.
    let deposit = app.fund(&token, "SGD", "1000.00").await;
    let deposit_id = deposit["deposit_id"].as_str().expect("deposit_id").to_owned();
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary = r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned();
    let payout = json!({"currency": "SGD", "amount": "250.00", "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November", "payout_date": "2026-11-24", "beneficiary_id": beneficiary});
    let r = app.post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &payout).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let payout_id = r.body["payout_id"].as_str().expect("payout_id").to_owned();
    let r = app
        .post(&format!("/api/v1/simulation/payouts/{payout_id}"), &token, &json!({"payout_status": "COMPLETED"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let types =
        ["deposit.pending", "deposit.completed", "beneficiary.successful", "payout.ready.send", "payout.completed"];
    let received = receiver.wait_for("five events", |r| has_types(r, &types)).await;
    assert_eq!(receiver.bad_signatures(), 0, "every request carried a valid signature");
    for w in &received {
        let e = &w.envelope;
        assert_eq!(e["version"], "V1.6.0", "{e}");
        assert_eq!(e["event_id"], w.event_id.as_str(), "x-wk-event-id names the event");
        assert_eq!(e["account_id"], client.account_id.as_str());
        assert!(!w.delivery_id.is_empty() && w.timestamp.len() == 13, "{w:?}");
        assert!(e["created_at"].is_string() && e["data"].is_object(), "{e}");
    }
    let one = |t: &str| of_type(&received, t)[0].envelope.clone();
    let (ready, completed) = (one("payout.ready.send"), one("payout.completed"));
    assert_eq!((ready["event_name"].as_str(), ready["source_id"].as_str()), (Some("PAYOUT"), Some(payout_id.as_str())));
    assert_eq!(completed["source_id"], payout_id.as_str());
    assert_eq!(completed["data"]["payout_id"], payout_id.as_str());
    assert_eq!(completed["data"]["payout_status"], "COMPLETED");
    assert_eq!(ready["data"]["payout_status"], "READY_TO_SEND");
    // The sequence grows per object in the order its events happened.
    assert_eq!((ready["sequence"].as_i64(), completed["sequence"].as_i64()), (Some(1), Some(2)));
    let (pending, cleared) = (one("deposit.pending"), one("deposit.completed"));
    assert_eq!(
        (pending["source_id"].as_str(), cleared["source_id"].as_str()),
        (Some(&*deposit_id), Some(&*deposit_id))
    );
    assert_eq!(
        (pending["event_name"].as_str(), pending["data"]["deposit_status"].as_str()),
        (Some("DEPOSIT"), Some("PENDING"))
    );
    assert_eq!((pending["sequence"].as_i64(), cleared["sequence"].as_i64()), (Some(1), Some(2)));
    assert_eq!(one("beneficiary.successful")["sequence"], 1);

    // The delivery log: one delivery per event, each succeeded at the first attempt.
    let rows = wait_for_log(&app, &token, "", "five deliveries settled", |rows| {
        rows.len() == 5 && rows.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    for d in &rows {
        assert_eq!((d["attempts"].as_i64(), d["last_status_code"].as_i64()), (Some(1), Some(200)), "{d}");
        assert_eq!(d["endpoint_id"], endpoint_id.as_str());
        assert_eq!(d["generation"], 0);
        assert!(d["delivered_time"].is_string() && d["next_attempt_time"].is_null() && d["last_error"].is_null());
        assert_eq!(d["event"]["event_id"], d["event_id"]);
    }
    for (query, expected) in [
        ("event_type=payout.completed", 1),
        ("status=SUCCEEDED", 5),
        ("status=pending", 0),
        (&format!("endpoint_id={endpoint_id}") as &str, 5),
        (&format!("event_id={}", completed["event_id"].as_str().unwrap_or_default()), 1),
        ("start_time=2026-11-25T00:00:00Z", 0),
        ("end_time=2026-11-25T00:00:00Z", 5),
    ] {
        assert_eq!(deliveries(&app, &token, query).await["total_items"], expected, "{query}");
    }
    let r = app.get("/api/v1/webhook_deliveries?status=DONE", &token).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value");
    let r = app.get("/api/v1/webhook_deliveries?event_type=payout.done", &token).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "unknown_event_type");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn failing_receiver_gets_everything_once_it_recovers(backend: Backend) {
    let (app, _client, token) = client_app(backend, "Flaky Receiver Ltd").await;
    let receiver = WebhookReceiver::start().await;
    receiver.answer(500);
    register(&app, &token, &receiver, &[]).await;
    app.fund(&token, "USD", "100.00").await;

    // The first attempt fails; the next is due within 30 s on the engine's clock.
    let rows = wait_for_log(&app, &token, "", "first failed attempts", |rows| {
        rows.len() == 2 && rows.iter().all(|d| d["attempts"] == 1 && d["last_status_code"] == 500)
    })
    .await;
    let now = app.clock.now();
    for d in &rows {
        assert_eq!(d["status"], "PENDING", "{d}");
        assert!(d["last_error"].as_str().is_some_and(|e| e.starts_with("HTTP 500")), "{d}");
        let next = time_of(&d["next_attempt_time"]);
        assert!(next > now && next <= now + time::Duration::seconds(30), "{d}");
        assert!(next >= now + time::Duration::seconds(24), "jitter takes at most 20% off: {d}");
    }
    assert!(receiver.received().is_empty());

    // 31 s later the second attempt fails too; the delay doubles.
    app.clock.advance(time::Duration::seconds(31));
    let now = app.clock.now();
    // The claim counts the attempt; the recorded failure moves the next attempt ahead.
    let rows = wait_for_log(&app, &token, "", "second failed attempts", |rows| {
        rows.iter()
            .all(|d| d["attempts"] == 2 && d["next_attempt_time"].is_string() && time_of(&d["next_attempt_time"]) > now)
    })
    .await;
    for d in &rows {
        let next = time_of(&d["next_attempt_time"]);
        assert!(next > now + time::Duration::seconds(47) && next <= now + time::Duration::seconds(60), "{d}");
    }
    // An event while the receiver is down is queued like the others.
    pending_deposit(&app, &token, &[], "5.00").await;
    wait_for_log(&app, &token, "", "the third event's first attempt", |rows| {
        rows.len() == 3 && rows.iter().all(|d| d["attempts"].as_i64() >= Some(1) && d["last_status_code"] == 500)
    })
    .await;

    // The receiver recovers; once the retries are due, everything arrives.
    receiver.answer(200);
    app.clock.advance(time::Duration::seconds(61));
    let received = receiver.wait_for("three events", |r| r.len() >= 3).await;
    assert_eq!(of_type(&received, "deposit.pending").len(), 2);
    assert_eq!(of_type(&received, "deposit.completed").len(), 1);
    let rows =
        wait_for_log(&app, &token, "", "all delivered", |rows| rows.iter().all(|d| d["status"] == "SUCCEEDED")).await;
    let mut attempts: Vec<i64> = rows.iter().filter_map(|d| d["attempts"].as_i64()).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [2, 3, 3], "each attempt is counted");
    assert!(rows.iter().all(|d| d["last_status_code"] == 200 && d["last_error"].is_null()));
    assert_eq!(receiver.bad_signatures(), 0);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn deliveries_fail_after_three_days_and_replays_redeliver(backend: Backend) {
    let (app, client, token) = client_app(backend, "Gone Away Ltd").await;
    let receiver = WebhookReceiver::start().await;
    receiver.answer(503);
    register(&app, &token, &receiver, &[]).await;
    app.fund(&token, "USD", "100.00").await;
    // Answered and recorded (a claim counts the attempt before the answer arrives; moving the
    // clock while an attempt is in flight would date its failure three days later).
    wait_for_log(&app, &token, "", "first attempts", |rows| {
        rows.len() == 2 && rows.iter().all(|d| d["attempts"] == 1 && d["last_status_code"] == 503)
    })
    .await;

    // Three days after the first attempt, the next failure is the last.
    app.clock.advance(time::Duration::days(3) + time::Duration::minutes(1));
    let token = app.token(&client).await;
    let rows =
        wait_for_log(&app, &token, "", "failed deliveries", |rows| rows.iter().all(|d| d["status"] == "FAILED")).await;
    for d in &rows {
        assert_eq!((d["attempts"].as_i64(), d["last_status_code"].as_i64()), (Some(2), Some(503)), "{d}");
        assert!(d["next_attempt_time"].is_null());
    }
    assert_eq!(deliveries(&app, &token, "status=FAILED").await["total_items"], 2);

    // Replay one event: a new delivery (the next generation) reaches the recovered receiver.
    receiver.answer(200);
    let completed = rows.iter().find(|d| d["event_type"] == "deposit.completed").expect("deposit.completed");
    let event_id = completed["event_id"].as_str().expect("event_id").to_owned();
    let r = app.post(&format!("/api/v1/webhook_events/{event_id}/replay"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"events_replayed": 1, "deliveries_created": 1}));
    let received = receiver.wait_for("the replayed event", |r| r.len() == 1).await;
    assert_eq!(received[0].event_id, event_id);
    assert_eq!(received[0].envelope["sequence"], 2, "a replay carries the event's own sequence");
    let log = wait_for_log(&app, &token, &format!("event_id={event_id}"), "the replay delivered", |rows| {
        rows.len() == 2 && rows.iter().any(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    let generations: Vec<(i64, &str)> =
        log.iter().map(|d| (d["generation"].as_i64().unwrap_or(-1), d["status"].as_str().unwrap_or(""))).collect();
    assert!(generations.contains(&(0, "FAILED")) && generations.contains(&(1, "SUCCEEDED")), "{generations:?}");

    // Replay everything matching a filter; with an idempotency key a retry replays nothing more.
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"event_type": "deposit.pending", "end_time": app.clock.now().format(&Rfc3339).expect("time")});
    let r = app.post_with_key("/api/v1/webhook_events/replay", &token, &key, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"events_replayed": 1, "deliveries_created": 1}));
    let again = app.post_with_key("/api/v1/webhook_events/replay", &token, &key, &body).await;
    assert_eq!(again.headers.get("x-idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let received = receiver.wait_for("the bulk replay", |r| r.len() == 2).await;
    assert_eq!(received[1].event_type(), "deposit.pending");
    assert_ne!(received[0].delivery_id, received[1].delivery_id);
    let future = app.clock.now() + time::Duration::days(1);
    let r = app
        .post("/api/v1/webhook_events/replay", &token, &json!({"start_time": (future.unix_timestamp() * 1000)}))
        .await;
    assert_eq!(r.body, json!({"events_replayed": 0, "deliveries_created": 0}), "{}", r.text);
    for (body, field, code) in [
        (json!({"event_type": "deposit.lost"}), "event_type", "unknown_event_type"),
        (json!({"start_time": "last week"}), "start_time", "invalid_time"),
        (
            json!({"start_time": 2_000_000_000_000_i64, "end_time": 1_000_000_000_000_i64}),
            "end_time",
            "invalid_time_range",
        ),
    ] {
        let r = app.post("/api/v1/webhook_events/replay", &token, &body).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", code);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }
    let r = app.post("/api/v1/webhook_events/replay", &token, &json!({"colour": "blue"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "unknown_field");
    let r = app.post(&format!("/api/v1/webhook_events/{}/replay", uuid::Uuid::new_v4()), &token, &json!({})).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn event_type_filters_and_connected_accounts(backend: Backend) {
    let (app, parent, token) = client_app(backend, "Marketplace Ltd").await;
    let sub = app.create_account("Seller One", Some(&parent.account_id));
    let on_behalf = [("x-on-behalf-of", sub.account_id.as_str())];

    // Event types are checked against the ones Outlay emits.
    for (body, field, code) in [
        (
            json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["payout.completed", "payout.done"]}),
            "event_types[1]",
            "unknown_event_type",
        ),
        (json!({"url": "ftp://127.0.0.1/hooks"}), "url", "invalid_url"),
        (json!({"url": "not a url"}), "url", "invalid_url"),
        (json!({"event_types": []}), "url", "missing_required_field"),
    ] {
        let r = app.post("/api/v1/webhook_endpoints", &token, &body).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", code);
        assert_eq!(r.body["field"], field, "{}", r.text);
    }

    let everything = WebhookReceiver::start().await;
    let completed_only = WebhookReceiver::start().await;
    let sellers_own = WebhookReceiver::start().await;
    register(&app, &token, &everything, &[]).await;
    let filtered = register(&app, &token, &completed_only, &["deposit.completed", "deposit.completed"]).await;
    assert_eq!(filtered["event_types"], json!(["deposit.completed"]), "duplicates are dropped");
    // The connected account registers its own endpoint (acting through x-on-behalf-of).
    let body = json!({"url": sellers_own.url});
    let r = app.request(Method::POST, "/api/v1/webhook_endpoints", Some(&token), &on_behalf, Some(&body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["account_id"], sub.account_id.as_str());
    sellers_own.trust(r.body["secret"].as_str().expect("secret"));

    // The platform's own deposit, then the connected account's.
    app.fund(&token, "USD", "100.00").await;
    let sub_deposit = pending_deposit(&app, &token, &on_behalf, "40.00").await;
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/simulation/deposit/{sub_deposit}"),
            Some(&token),
            &on_behalf,
            Some(&json!({"deposit_status": "COMPLETED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The platform's endpoints get both accounts' events; the filter keeps only completions.
    let all = everything.wait_for("four events", |r| r.len() == 4).await;
    let accounts: Vec<&str> = all.iter().filter_map(|w| w.envelope["account_id"].as_str()).collect();
    assert_eq!(accounts.iter().filter(|a| **a == sub.account_id).count(), 2, "{accounts:?}");
    assert_eq!(accounts.iter().filter(|a| **a == parent.account_id).count(), 2, "{accounts:?}");
    let completions = completed_only.wait_for("two completions", |r| r.len() == 2).await;
    assert!(completions.iter().all(|w| w.event_type() == "deposit.completed"));
    // The connected account's endpoint gets its own events only.
    let own = sellers_own.wait_for("the seller's two events", |r| r.len() == 2).await;
    assert!(own.iter().all(|w| w.envelope["account_id"] == sub.account_id.as_str()));
    assert!(own.iter().all(|w| w.envelope["source_id"] == sub_deposit.as_str()));

    // Each account's log shows deliveries to its own endpoints.
    let rows = wait_for_log(&app, &token, "", "six deliveries", |rows| {
        rows.len() == 6 && rows.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(rows.len(), 6);
    let r = app.request(Method::GET, "/api/v1/webhook_deliveries", Some(&token), &on_behalf, None).await;
    assert_eq!(r.body["total_items"], 2, "{}", r.text);
    // Nothing was sent that was not asked for.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!((everything.received().len(), completed_only.received().len(), sellers_own.received().len()), (4, 2, 2));
    assert_eq!(everything.bad_signatures() + completed_only.bad_signatures() + sellers_own.bad_signatures(), 0);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn accounts_are_isolated_and_deleting_an_endpoint_stops_deliveries(backend: Backend) {
    let (app, _alice, token) = client_app(backend, "Alice Ltd").await;
    let mallory = app.create_account("Mallory Ltd", None);
    let mallory_token = app.token(&mallory).await;
    let receiver = WebhookReceiver::start().await;

    // Creating with an idempotency key twice answers the same endpoint and secret.
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"url": receiver.url});
    let first = app.post_with_key("/api/v1/webhook_endpoints", &token, &key, &body).await;
    let again = app.post_with_key("/api/v1/webhook_endpoints", &token, &key, &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.text, again.text);
    assert_eq!(again.headers.get("x-idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    receiver.trust(first.body["secret"].as_str().expect("secret"));
    let endpoint_id = first.body["endpoint_id"].as_str().expect("endpoint_id").to_owned();
    assert_eq!(app.get("/api/v1/webhook_endpoints", &token).await.body["total_items"], 1);

    app.fund(&token, "USD", "100.00").await;
    receiver.wait_for("alice's two events", |r| r.len() == 2).await;
    let rows = wait_for_log(&app, &token, "", "two deliveries", |rows| rows.len() == 2).await;
    let event_id = rows[0]["event_id"].as_str().expect("event_id").to_owned();

    // Mallory sees none of it and can change none of it.
    let endpoint_path = format!("/api/v1/webhook_endpoints/{endpoint_id}");
    let r = app.get(&endpoint_path, &mallory_token).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app.request(Method::DELETE, &endpoint_path, Some(&mallory_token), &[], None).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app.post(&format!("{endpoint_path}/rotate_secret"), &mallory_token, &json!({})).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    assert_eq!(app.get("/api/v1/webhook_endpoints", &mallory_token).await.body["total_items"], 0);
    assert_eq!(deliveries(&app, &mallory_token, "").await["total_items"], 0);
    assert_eq!(deliveries(&app, &mallory_token, &format!("event_id={event_id}")).await["total_items"], 0);
    let r = app.post(&format!("/api/v1/webhook_events/{event_id}/replay"), &mallory_token, &json!({})).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app.post("/api/v1/webhook_events/replay", &mallory_token, &json!({})).await;
    assert_eq!(r.body, json!({"events_replayed": 0, "deliveries_created": 0}), "{}", r.text);
    // Mallory cannot aim Alice's replays at her own endpoint either.
    let trap = WebhookReceiver::start().await;
    let mallory_endpoint = register(&app, &mallory_token, &trap, &[]).await;
    let body = json!({"endpoint_id": mallory_endpoint["endpoint_id"]});
    let r = app.post("/api/v1/webhook_events/replay", &token, &body).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");

    // A delivery still pending when its endpoint is deleted fails; nothing more is sent.
    receiver.answer(500);
    pending_deposit(&app, &token, &[], "5.00").await;
    wait_for_log(&app, &token, "status=PENDING", "a failed first attempt", |rows| {
        rows.len() == 1 && rows[0]["attempts"] == 1 && rows[0]["last_status_code"] == 500
    })
    .await;
    let r = app.request(Method::DELETE, &endpoint_path, Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "DELETED");
    assert!(r.body.get("secret").is_none());
    let r = app.get(&endpoint_path, &token).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    let r = app.request(Method::DELETE, &endpoint_path, Some(&token), &[], None).await;
    assert_envelope(&r, StatusCode::NOT_FOUND, "not_found", "resource_not_found");
    assert_eq!(app.get("/api/v1/webhook_endpoints", &token).await.body["total_items"], 0);
    let failed = deliveries(&app, &token, "status=FAILED").await;
    assert_eq!(failed["total_items"], 1, "{failed}");
    assert_eq!(failed["data"][0]["last_error"], "endpoint deleted");

    receiver.answer(200);
    let requests = receiver.requests();
    app.fund(&token, "USD", "10.00").await;
    app.clock.advance(time::Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(receiver.requests(), requests, "a deleted endpoint receives nothing");
    assert_eq!(deliveries(&app, &token, "").await["total_items"], 3, "no deliveries to a deleted endpoint");
    assert!(trap.received().is_empty(), "mallory's endpoint never saw alice's events");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn rotating_the_secret_signs_with_the_new_one(backend: Backend) {
    let (app, _client, token) = client_app(backend, "Rotator Ltd").await;
    let receiver = WebhookReceiver::start().await;
    let endpoint = register(&app, &token, &receiver, &["deposit.pending"]).await;
    let old_secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let id = endpoint["endpoint_id"].as_str().expect("id").to_owned();

    let r = app.post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let new_secret = r.body["secret"].as_str().expect("the new secret is shown").to_owned();
    assert_ne!(new_secret, old_secret);
    assert_eq!(r.body["event_types"], json!(["deposit.pending"]));
    // A receiver still on the old secret refuses the next delivery; on the new one it accepts.
    receiver.trust_only(&old_secret);
    pending_deposit(&app, &token, &[], "1.00").await;
    wait_for_log(&app, &token, "", "a refused attempt", |rows| rows.len() == 1 && rows[0]["last_status_code"] == 401)
        .await;
    assert!(receiver.bad_signatures() >= 1);
    receiver.trust_only(&new_secret);
    app.clock.advance(time::Duration::seconds(31));
    let received = receiver.wait_for("the event signed with the new secret", |r| r.len() == 1).await;
    assert_eq!(received[0].event_type(), "deposit.pending");
    app.finish().await;
}

async fn production_requires_https_to_a_public_host(backend: Backend) {
    let app = TestApp::spawn_with(backend, false).await;
    let client = app.create_account("Prod Co", None);
    let token = app.token(&client).await;
    for url in
        ["http://hooks.example.com/uqpay", "https://127.0.0.1/hooks", "https://10.0.0.8/hooks", "https://localhost/"]
    {
        let r = app.post("/api/v1/webhook_endpoints", &token, &json!({"url": url})).await;
        assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_url");
    }
    let r = app.post("/api/v1/webhook_endpoints", &token, &json!({"url": "https://hooks.example.com/uqpay"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.finish().await;
}

/// The value of the first sample of `name` (with exactly `labels`, e.g. `{result="succeeded"}`,
/// or none) in a Prometheus text exposition.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{labels} ");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|v| v.trim().parse().ok())
}

/// Issue 6: delivery counters by result, lag (event created -> delivered, engine clock) and the
/// sampled queue depths, on the metrics listener. The recorder is process-wide (other tests'
/// servers count too), so counters are checked as lower bounds.
async fn delivery_metrics_are_scraped(backend: Backend) {
    let (app, _client, token) = client_app(backend, "Measured Hooks Ltd").await;
    let receiver = WebhookReceiver::start().await;
    receiver.answer(503);
    register(&app, &token, &receiver, &["deposit.pending"]).await;
    pending_deposit(&app, &token, &[], "7.00").await;
    wait_for_log(&app, &token, "", "the failed first attempt", |rows| {
        rows.len() == 1 && rows[0]["attempts"] == 1 && rows[0]["last_status_code"] == 503
    })
    .await;
    // The retry succeeds 31 s after the event on the engine's clock: that is its lag.
    receiver.answer(200);
    app.clock.advance(time::Duration::seconds(31));
    receiver.wait_for("the retried event", |r| r.len() == 1).await;
    wait_for_log(&app, &token, "", "the delivery recorded", |rows| rows[0]["status"] == "SUCCEEDED").await;

    let metrics_addr = app.server.as_ref().and_then(|s| s.metrics_addr).expect("metrics listener");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let text = loop {
        let text =
            reqwest::get(format!("http://{metrics_addr}/metrics")).await.expect("scrape").text().await.expect("text");
        // The gauges are sampled every second by the worker.
        let ready = sample(&text, "outlay_webhook_deliveries_total", "{result=\"succeeded\"}").is_some()
            && sample(&text, "outlay_webhook_queue_depth", "").is_some()
            && sample(&text, "outlay_jobs_queue_depth", "{kind=\"rail.submit\"}").is_some();
        if ready {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "metrics missing: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let succeeded = sample(&text, "outlay_webhook_deliveries_total", "{result=\"succeeded\"}");
    let retrying = sample(&text, "outlay_webhook_deliveries_total", "{result=\"retrying\"}");
    assert!(succeeded >= Some(1.0) && retrying >= Some(1.0), "{text}");
    // A histogram: this delivery alone contributes 31 s to the sum.
    let lag_count = sample(&text, "outlay_webhook_lag_seconds_count", "");
    let lag_sum = sample(&text, "outlay_webhook_lag_seconds_sum", "");
    assert!(lag_count >= Some(1.0) && lag_sum >= Some(31.0), "{text}");
    assert!(text.contains("outlay_webhook_lag_seconds_bucket{le=\""), "{text}");
    // Lag has its own buckets (retries take minutes to days), not the request-latency ones.
    assert!(text.contains("outlay_webhook_lag_seconds_bucket{le=\"3600\"}"), "{text}");
    for (name, labels) in [("outlay_webhook_queue_depth", ""), ("outlay_jobs_queue_depth", "{kind=\"rail.submit\"}")] {
        let depth = sample(&text, name, labels).expect("sampled");
        assert!(depth >= 0.0 && depth.fract() == 0.0, "{name}: {depth}");
    }
    assert_eq!(receiver.bad_signatures(), 0);
    app.finish().await;
}
