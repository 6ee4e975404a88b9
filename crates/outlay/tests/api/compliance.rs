//! Issue 7: sanctions screening wired into beneficiaries and payouts, the review queue (reviewer
//! credential, API and CLI) and the account rules. Lists are loaded with the real CLI from small
//! files in their published formats (`tests/data/screening/`: real OFAC and UN entries plus
//! invented ones), on a clock set to a business day in Singapore.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, WebhookReceiver, assert_envelope};

both_backends!(
    screening_holds_payouts_for_review_then_clear_and_reject,
    lists_load_atomically_and_bad_files_are_refused,
    account_rules_refuse_or_hold_each_breach,
    a_daily_limit_holds_under_concurrent_payouts_on_two_nodes,
);

const TODAY: &str = "2026-11-24";

fn data(file: &str) -> String {
    format!("{}/tests/data/screening/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn load_lists(app: &TestApp) -> Value {
    let (sdn, alt, add, un) = (data("sdn.csv"), data("alt.csv"), data("add.csv"), data("consolidated.xml"));
    let out =
        app.cli(&["screening", "load", "--ofac", &sdn, "--ofac-alt", &alt, "--ofac-add", &add, "--un", &un, "--json"]);
    assert!(out.status.success(), "screening load: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn individual(first: &str, last: &str) -> Value {
    json!({
        "entity_type": "INDIVIDUAL",
        "first_name": first,
        "last_name": last,
        "payment_method": "LOCAL",
        "bank_details": {
            "bank_country_code": "SG",
            "account_currency_code": "SGD",
            "account_holder": format!("{first} {last}"),
            "account_number": "0123456789",
            "swift_code": "DBSSSGSG",
            "clearing_system": "FAST"
        }
    })
}

fn company(name: &str) -> Value {
    json!({
        "entity_type": "COMPANY",
        "company_name": name,
        "payment_method": "LOCAL",
        "bank_details": {
            "bank_country_code": "SG",
            "account_currency_code": "SGD",
            "account_holder": name,
            "account_number": "0123456789",
            "swift_code": "DBSSSGSG",
            "clearing_system": "FAST"
        }
    })
}

async fn beneficiary(app: &TestApp, token: &str, body: &Value) -> String {
    let r = app.post("/api/v1/beneficiaries", token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned()
}

fn payout(beneficiary_id: &str, amount: &str) -> Value {
    json!({
        "currency": "SGD",
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November",
        "payout_date": TODAY,
        "beneficiary_id": beneficiary_id
    })
}

async fn pay(app: &TestApp, token: &str, beneficiary_id: &str, amount: &str) -> crate::helpers::Response {
    app.post_with_key("/api/v1/payouts", token, &uuid::Uuid::new_v4().to_string(), &payout(beneficiary_id, amount))
        .await
}

async fn pay_ok(app: &TestApp, token: &str, beneficiary_id: &str, amount: &str) -> Value {
    let r = pay(app, token, beneficiary_id, amount).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn balances(app: &TestApp, token: &str) -> (String, String) {
    let b = app.balance(token, "SGD").await;
    (
        b["available_balance"].as_str().expect("available").to_owned(),
        b["pending_balance"].as_str().expect("pending").to_owned(),
    )
}

/// The open review of a subject (payout or beneficiary).
async fn review_of(app: &TestApp, token: &str, subject_id: &str) -> Value {
    let r = app.get("/api/v1/compliance/reviews?page_size=100", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let review = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|v| v["subject_id"] == subject_id)
        .unwrap_or_else(|| panic!("no review of {subject_id}: {}", r.text))
        .clone();
    let id = review["review_id"].as_str().expect("review_id");
    let r = app.get(&format!("/api/v1/compliance/reviews/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn hit_entries(review: &Value) -> Vec<String> {
    review["hits"].as_array().expect("hits").iter().map(|h| h["entry_id"].as_str().unwrap_or("").to_owned()).collect()
}

async fn credential_id(app: &TestApp, admin_token: &str, c: &Credentials) -> String {
    let r = app.get("/api/v1/credentials?page_size=100", admin_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = if r.body["data"].is_array() { &r.body["data"] } else { &r.body };
    list.as_array()
        .expect("credentials")
        .iter()
        .find(|x| x["client_id"] == c.client_id.as_str())
        .and_then(|x| x["credential_id"].as_str())
        .expect("credential listed")
        .to_owned()
}

async fn status(app: &TestApp, token: &str, payout_id: &str) -> Value {
    let r = app.get(&format!("/api/v1/payouts/{payout_id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn wait_status(app: &TestApp, token: &str, payout_id: &str, want: &str) {
    for _ in 0..100 {
        if status(app, token, payout_id).await["outlay_status"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("payout {payout_id} never became {want}: {}", status(app, token, payout_id).await);
}

async fn screening_holds_payouts_for_review_then_clear_and_reject(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, Duration::from_secs(2)).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let loaded = load_lists(&app);
    assert_eq!(loaded["version"], 1);
    assert_eq!(loaded["entry_count"], 27, "{loaded}");

    let client = app.create_account("Screened Pte Ltd", None);
    let admin = app.token(&client).await;
    let reviewer = app.credential(&client, "reviewer").await;
    let reviewer_token = app.token(&reviewer).await;
    let reviewer_id = credential_id(&app, &admin, &reviewer).await;
    let payments = app.credential(&client, "payments").await;
    let payments_token = app.token(&payments).await;
    let receiver = WebhookReceiver::start().await;
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            &admin,
            &json!({"url": receiver.url, "event_types": ["payout.compliance.rejected", "payout.ready.send"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    receiver.trust(r.body["secret"].as_str().expect("secret"));
    app.fund(&admin, "SGD", "1000.00").await;

    // Exact (OFAC), reordered (OFAC), accented (OFAC), misspelled (UN) and a misspelled
    // company: each opens a review of the beneficiary with the entry it matched.
    let exact = beneficiary(&app, &payments_token, &individual("Vladimir Vladimirovich", "Putin")).await;
    let reordered = beneficiary(&app, &payments_token, &individual("Putin", "Vladimir")).await;
    let accented = beneficiary(&app, &payments_token, &individual("Nicolás", "Maduro Moros")).await;
    let misspelled = beneficiary(&app, &payments_token, &individual("Aiman", "al Zawahri")).await;
    let company_hit = beneficiary(&app, &payments_token, &company("Sberbnak")).await;
    for (id, entry) in [
        (&exact, "35096"),
        (&reordered, "35096"),
        (&accented, "22150"),
        (&misspelled, "QDi.006"),
        (&company_hit, "32920"),
    ] {
        let review = review_of(&app, &reviewer_token, id).await;
        assert_eq!(review["subject_type"], "beneficiary");
        assert_eq!(review["review_status"], "OPEN");
        assert_eq!(hit_entries(&review), [entry], "{review}");
        let hit = &review["hits"][0];
        assert!(hit["score"].as_i64().is_some_and(|s| (850..=1000).contains(&s)), "{hit}");
        assert!(hit["why"].as_str().is_some_and(|w| w.contains(entry)), "the hit says why: {hit}");
    }
    let shown = app.get(&format!("/api/v1/beneficiaries/{exact}"), &admin).await;
    assert_eq!(shown.body["screening_status"], "REVIEW", "{}", shown.text);
    // Clearly different names are not held.
    let clean = beneficiary(&app, &payments_token, &individual("John", "Smith")).await;
    let other = beneficiary(&app, &payments_token, &company("Acme Widgets Ltd")).await;
    let all = app.get("/api/v1/compliance/reviews?page_size=100&subject_type=beneficiary", &admin).await;
    assert_eq!(all.body["total_items"], 5, "{}", all.text);
    for id in [&clean, &other] {
        assert!(!all.text.contains(id.as_str()), "{id} was held: {}", all.text);
    }

    // Payouts to a held beneficiary are held too: funds stay held, no rail takes them.
    let held_a = pay_ok(&app, &payments_token, &exact, "100.00").await;
    assert_eq!(
        (held_a["payout_status"].as_str(), held_a["outlay_status"].as_str()),
        (Some("PENDING"), Some("IN_REVIEW"))
    );
    let held_b = pay_ok(&app, &payments_token, &reordered, "50.00").await;
    assert_eq!(held_b["outlay_status"], "IN_REVIEW");
    let free = pay_ok(&app, &payments_token, &clean, "10.00").await;
    assert_eq!(free["outlay_status"], "READY_TO_SEND");
    assert_eq!(balances(&app, &admin).await, ("840.00".to_owned(), "160.00".to_owned()));
    let (a, b) = (held_a["payout_id"].as_str().expect("id"), held_b["payout_id"].as_str().expect("id"));
    let review_a = review_of(&app, &reviewer_token, a).await;
    assert_eq!(review_a["payout"]["outlay_status"], "IN_REVIEW");
    let kinds: Vec<&str> =
        review_a["reasons"].as_array().expect("reasons").iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(kinds.contains(&"beneficiary_under_review") && kinds.contains(&"screening_hit"), "{review_a}");
    let review_b = review_of(&app, &reviewer_token, b).await;

    // The settler walks the free payout but not the held ones.
    app.clock.advance(time::Duration::seconds(3));
    wait_status(&app, &admin, free["payout_id"].as_str().expect("id"), "SENT").await;
    assert_eq!(status(&app, &admin, a).await["outlay_status"], "IN_REVIEW");

    // Roles: a reviewer cannot create a payout; a payments credential cannot clear one.
    let r = pay(&app, &reviewer_token, &clean, "1.00").await;
    assert_envelope(&r, StatusCode::FORBIDDEN, r.body["type"].as_str().unwrap_or(""), "permission_denied");
    let id_a = review_a["review_id"].as_str().expect("review id");
    let r = app.post(&format!("/api/v1/compliance/reviews/{id_a}/clear"), &payments_token, &json!({})).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, r.body["type"].as_str().unwrap_or(""), "permission_denied");
    assert_eq!(status(&app, &admin, a).await["outlay_status"], "IN_REVIEW", "the refused clear changed nothing");

    // Cleared: the payout goes on and completes through the sandbox rail.
    let r = app
        .post(
            &format!("/api/v1/compliance/reviews/{id_a}/clear"),
            &reviewer_token,
            &json!({"note": "different person: DOB checked against passport"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["review_status"], "CLEARED");
    assert_eq!(r.body["reviewed_by"], reviewer_id.as_str());
    assert_eq!(r.body["note"], "different person: DOB checked against passport");
    assert!(r.body["reviewed_at"].is_string());
    assert_eq!(status(&app, &admin, a).await["outlay_status"], "READY_TO_SEND");
    let audit = app.get("/api/v1/audit_events?action=compliance.reviews.clear&page_size=100", &admin).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let record = &audit.body["data"][0];
    assert_eq!(
        (record["credential_id"].as_str(), record["object_id"].as_str()),
        (Some(reviewer_id.as_str()), Some(id_a)),
        "{}",
        audit.text
    );
    receiver
        .wait_for("payout.ready.send for the cleared payout", |got| {
            got.iter().any(|w| w.event_type() == "payout.ready.send" && w.envelope["data"]["payout_id"] == a)
        })
        .await;
    app.clock.advance(time::Duration::seconds(3));
    wait_status(&app, &admin, a, "SENT").await;
    app.clock.advance(time::Duration::seconds(3));
    wait_status(&app, &admin, a, "COMPLETED").await;
    let again = app.post(&format!("/api/v1/compliance/reviews/{id_a}/reject"), &reviewer_token, &json!({})).await;
    assert_envelope(&again, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");

    // Rejected: REJECTED, the hold voided, payout.compliance.rejected delivered.
    let id_b = review_b["review_id"].as_str().expect("review id");
    let r = app
        .post(&format!("/api/v1/compliance/reviews/{id_b}/reject"), &reviewer_token, &json!({"note": "true match"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["review_status"], "REJECTED");
    let rejected = status(&app, &admin, b).await;
    assert_eq!(
        (rejected["payout_status"].as_str(), rejected["outlay_status"].as_str()),
        (Some("REJECTED"), Some("REJECTED"))
    );
    assert!(rejected["failure_reason"].as_str().is_some_and(|f| f.contains("true match")), "{rejected}");
    let got = receiver
        .wait_for("payout.compliance.rejected", |got| {
            got.iter().any(|w| w.event_type() == "payout.compliance.rejected")
        })
        .await;
    let event = got.iter().find(|w| w.event_type() == "payout.compliance.rejected").expect("event");
    assert_eq!(event.envelope["data"]["payout_id"], b);
    assert_eq!(event.envelope["data"]["payout_status"], "REJECTED");
    // 1000 - 100 (completed) - 10 (completed) ; the 50 came back.
    assert_eq!(balances(&app, &admin).await, ("890.00".to_owned(), "0.00".to_owned()));

    // The beneficiary reviews: cleared, later payouts go straight through; rejected, refused.
    let ben_exact = review_of(&app, &reviewer_token, &exact).await;
    let r = app
        .post(
            &format!("/api/v1/compliance/reviews/{}/clear", ben_exact["review_id"].as_str().expect("id")),
            &reviewer_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(pay_ok(&app, &payments_token, &exact, "5.00").await["outlay_status"], "READY_TO_SEND");
    let shown = app.get(&format!("/api/v1/beneficiaries/{exact}"), &admin).await;
    assert_eq!(shown.body["screening_status"], "CLEARED", "{}", shown.text);
    let shown = app.get(&format!("/api/v1/beneficiaries/{clean}"), &admin).await;
    assert_eq!(shown.body["screening_status"], "CLEAR", "{}", shown.text);
    let ben_reordered = review_of(&app, &reviewer_token, &reordered).await;
    let r = app
        .post(
            &format!("/api/v1/compliance/reviews/{}/reject", ben_reordered["review_id"].as_str().expect("id")),
            &reviewer_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let shown = app.get(&format!("/api/v1/beneficiaries/{reordered}"), &admin).await;
    assert_eq!(shown.body["screening_status"], "REJECTED", "{}", shown.text);
    let refused = pay(&app, &payments_token, &reordered, "5.00").await;
    assert_envelope(
        &refused,
        StatusCode::BAD_REQUEST,
        refused.body["type"].as_str().unwrap_or(""),
        "beneficiary_rejected",
    );

    // The queue by status, and the operator's CLI on the same queue.
    let open = app.get("/api/v1/compliance/reviews?review_status=OPEN&page_size=100", &reviewer_token).await;
    assert_eq!(open.body["total_items"], 3, "{}", open.text);
    let out = app.cli(&["reviews", "list", "--status", "open", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    let company_review = review_of(&app, &reviewer_token, &company_hit).await;
    let company_review_id = company_review["review_id"].as_str().expect("id");
    let out = app.cli(&["reviews", "reject", company_review_id, "--note", "sanctioned bank"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = app.get(&format!("/api/v1/compliance/reviews/{company_review_id}"), &reviewer_token).await;
    assert_eq!(
        (after.body["review_status"].as_str(), after.body["note"].as_str()),
        (Some("REJECTED"), Some("sanctioned bank"))
    );
    let out = app.cli(&["reviews", "clear", company_review_id]);
    assert_eq!(out.status.code(), Some(1), "already decided");

    app.assert_ledger_verifies();
    app.finish().await;
}

async fn lists_load_atomically_and_bad_files_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let out = app.cli(&["screening", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no sanctions list loaded"));
    let client = app.create_account("Early Pte Ltd", None);
    let token = app.token(&client).await;
    // No list yet: nothing is screened.
    let early = beneficiary(&app, &token, &individual("Vladimir", "Putin")).await;

    // A broken file is refused with its file and line; nothing is loaded.
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("sdn.csv");
    std::fs::write(&bad, "36,\"AEROCARIBBEAN AIRLINES\",-0-\n").expect("write");
    let out = app.cli(&["screening", "load", "--ofac", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sdn.csv line 1"), "{stderr}");
    let out = app.cli(&["screening", "list", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).expect("json"), json!([]));

    // UN list only, then both: the newer version is the active one, on the running server too.
    let un = data("consolidated.xml");
    let out = app.cli(&["screening", "load", "--un", &un, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let only_un: Value = serde_json::from_slice(&out.stdout).expect("json");
    let zawahri = beneficiary(&app, &token, &individual("Aiman", "al Zawahri")).await;
    let putin = beneficiary(&app, &token, &individual("Vladimir", "Putin")).await;
    let reviews = app.get("/api/v1/compliance/reviews?page_size=100", &token).await;
    assert!(
        reviews.text.contains(&zawahri) && !reviews.text.contains(&putin),
        "only the UN list is active: {}",
        reviews.text
    );
    load_lists(&app);
    let out = app.cli(&["screening", "list", "--json"]);
    let lists: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(lists[0]["version"], 2);
    assert_eq!(lists[0]["entry_count"], 27);
    assert_eq!(lists[1]["entry_count"], only_un["entry_count"]);
    // Changing a beneficiary screens it again against the active list.
    let mut changed = individual("Vladimir", "Putin");
    changed["nickname"] = json!("VP");
    let r = app.post(&format!("/api/v1/beneficiaries/{putin}"), &token, &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let review = review_of(&app, &token, &putin).await;
    assert_eq!(hit_entries(&review), ["35096"]);
    assert_eq!(review["list_version"], 2);
    let reviews = app.get("/api/v1/compliance/reviews?page_size=100", &token).await;
    assert!(!reviews.text.contains(&early), "beneficiaries are screened when created or changed: {}", reviews.text);
    app.finish().await;
}

async fn set_rules(app: &TestApp, token: &str, rules: &Value) -> Value {
    let r = app.post("/api/v1/account_rules", token, rules).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn account_rules_refuse_or_hold_each_breach(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Limited Pte Ltd", None);
    let admin = app.token(&client).await;
    let payments = app.credential(&client, "payments").await;
    let payments_token = app.token(&payments).await;
    app.fund(&admin, "SGD", "5000.00").await;
    let x = beneficiary(&app, &admin, &company("Lion City Trading Pte Ltd")).await;

    // Rules are set by an admin, validated whole.
    let r = app.post("/api/v1/account_rules", &payments_token, &json!({"blocked_countries": ["IR"]})).await;
    assert_envelope(&r, StatusCode::FORBIDDEN, r.body["type"].as_str().unwrap_or(""), "permission_denied");
    let r = app
        .post(
            "/api/v1/account_rules",
            &admin,
            &json!({"limits": [{"currency": "SGD", "per_payout": "1.001"}], "blocked_countries": ["iran"], "actions": {"per_day": "maybe"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    for field in ["limits[0].per_payout", "blocked_countries[0]", "actions.per_day"] {
        assert!(r.text.contains(field), "{field} not named: {}", r.text);
    }
    let empty = app.get("/api/v1/account_rules", &payments_token).await;
    assert_eq!(empty.body["limits"], json!([]), "nothing was stored: {}", empty.text);

    // Per payout, refused: nothing held.
    let rules = set_rules(&app, &admin, &json!({"limits": [{"currency": "SGD", "per_payout": "500.00"}]})).await;
    assert_eq!(rules["actions"]["per_payout"], "refuse");
    let r = pay(&app, &payments_token, &x, "500.01").await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, r.body["type"].as_str().unwrap_or(""), "limit_per_payout_exceeded");
    assert!(r.text.contains("500.00"), "the message names the limit: {}", r.text);
    assert_eq!(balances(&app, &admin).await, ("5000.00".to_owned(), "0.00".to_owned()));
    assert_eq!(pay_ok(&app, &payments_token, &x, "500.00").await["outlay_status"], "READY_TO_SEND");

    // Per day, held for review: 500 so far, 300 fits exactly, one cent more is held.
    set_rules(
        &app,
        &admin,
        &json!({"limits": [{"currency": "SGD", "per_day": "800.00"}], "actions": {"per_day": "review"}}),
    )
    .await;
    assert_eq!(pay_ok(&app, &payments_token, &x, "300.00").await["outlay_status"], "READY_TO_SEND");
    let held = pay_ok(&app, &payments_token, &x, "0.01").await;
    assert_eq!(held["outlay_status"], "IN_REVIEW");
    let review = review_of(&app, &admin, held["payout_id"].as_str().expect("id")).await;
    assert_eq!(review["reasons"][0]["rule"], "per_day", "{review}");
    assert_eq!(balances(&app, &admin).await, ("4199.99".to_owned(), "800.01".to_owned()));

    // Per beneficiary per month, refused: 800.01 to x this month.
    set_rules(&app, &admin, &json!({"limits": [{"currency": "SGD", "per_beneficiary_month": "1000.00"}]})).await;
    let r = pay(&app, &payments_token, &x, "200.00").await;
    assert_envelope(
        &r,
        StatusCode::BAD_REQUEST,
        r.body["type"].as_str().unwrap_or(""),
        "limit_per_beneficiary_month_exceeded",
    );
    assert_eq!(pay_ok(&app, &payments_token, &x, "199.99").await["outlay_status"], "READY_TO_SEND");

    // Blocked country of the beneficiary's bank.
    set_rules(&app, &admin, &json!({"blocked_countries": ["SG", "IR"]})).await;
    let r = pay(&app, &payments_token, &x, "1.00").await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, r.body["type"].as_str().unwrap_or(""), "blocked_country");
    assert_eq!(r.body["field"], "beneficiary.bank_country_code", "{}", r.text);

    // Velocity: a beneficiary created in the last 24 hours gets one payout; the next is held.
    set_rules(
        &app,
        &admin,
        &json!({"new_beneficiary_velocity": {"window_hours": 24, "max_payouts": 1}, "actions": {"new_beneficiary_velocity": "review"}}),
    )
    .await;
    let y = beneficiary(&app, &admin, &company("Merlion Supplies Pte Ltd")).await;
    assert_eq!(pay_ok(&app, &payments_token, &y, "10.00").await["outlay_status"], "READY_TO_SEND");
    let second = pay_ok(&app, &payments_token, &y, "10.00").await;
    assert_eq!(second["outlay_status"], "IN_REVIEW");
    let review = review_of(&app, &admin, second["payout_id"].as_str().expect("id")).await;
    assert_eq!(review["reasons"][0]["rule"], "new_beneficiary_velocity", "{review}");
    let shown = app.get("/api/v1/account_rules", &payments_token).await;
    assert_eq!(shown.body["new_beneficiary_velocity"], json!({"window_hours": 24, "max_payouts": 1}));
    assert_eq!(shown.body["actions"]["new_beneficiary_velocity"], "review");
    assert_eq!(shown.body["blocked_countries"], json!([]));

    app.assert_ledger_verifies();
    app.finish().await;
}

/// The rules are checked in the writer's transaction after the account's chain is locked: 20
/// concurrent payouts of 10.00 through two nodes against a 100.00 daily limit let exactly 10 in.
async fn a_daily_limit_holds_under_concurrent_payouts_on_two_nodes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let peer = app.spawn_peer(outlay::config::Role::All, Duration::from_secs(24 * 3600)).await;
    let bases = [app.base.clone(), format!("http://{}", peer.addr)];
    let client = app.create_account("Racing Pte Ltd", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "1000.00").await;
    let x = beneficiary(&app, &token, &company("Lion City Trading Pte Ltd")).await;
    set_rules(&app, &token, &json!({"limits": [{"currency": "SGD", "per_day": "100.00"}]})).await;

    let requests = (0..20).map(|i| {
        let (http, base, token, body) = (app.http.clone(), bases[i % 2].clone(), token.clone(), payout(&x, "10.00"));
        async move {
            let r = http
                .post(format!("{base}/api/v1/payouts"))
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await
                .expect("sent");
            let status = r.status();
            let body: Value = r.json().await.expect("json");
            (status, body)
        }
    });
    let results = futures::future::join_all(requests).await;
    let accepted = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused =
        results.iter().filter(|(s, b)| *s == StatusCode::BAD_REQUEST && b["code"] == "limit_per_day_exceeded").count();
    assert_eq!((accepted, refused), (10, 10), "{results:?}");
    assert_eq!(balances(&app, &token).await, ("900.00".to_owned(), "100.00".to_owned()));
    peer.stop().await.expect("peer stops");
    app.assert_ledger_verifies();
    app.finish().await;
}
