//! Maker-checker for single payouts: a payout above the account's approval threshold waits
//! (AWAITING_APPROVAL, wire PENDING, funds held, no rail takes it) until a credential other than
//! its creator, with the approver or admin role, approves it (on to READY_TO_SEND, then the rail)
//! or declines it (CANCELLED, money back). Approvals and refusals are on the audit trail.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, WebhookReceiver, assert_envelope, sg_company};

both_backends!(
    a_payout_above_the_threshold_waits_for_another_credentials_approval,
    a_declined_or_cancelled_payout_gets_its_money_back,
    approval_and_compliance_review_both_have_to_pass,
    batch_rows_are_covered_by_the_batch_approval,
);

const TODAY: &str = "2026-11-24";

fn payout(beneficiary: &str, amount: &str) -> Value {
    json!({
        "currency": "SGD",
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November",
        "payout_date": TODAY,
        "beneficiary_id": beneficiary
    })
}

/// An account with 1000 SGD, an SG beneficiary and a 100.00 SGD approval threshold, as `admin`.
async fn setup(app: &TestApp) -> (crate::helpers::Credentials, String, String) {
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let admin = app.create_account("Checked Co", None);
    let token = app.token(&admin).await;
    app.fund(&token, "SGD", "1000.00").await;
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary = r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned();
    let r = app
        .post(
            "/api/v1/accounts/approval_policy",
            &token,
            &json!({"approval_required_for_batches": false, "payout_approval_thresholds": {"SGD": "100.00"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (admin, token, beneficiary)
}

async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post_with_key("/api/v1/payouts", token, &uuid::Uuid::new_v4().to_string(), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn id(p: &Value) -> String {
    p["payout_id"].as_str().expect("payout_id").to_owned()
}

async fn decide(app: &TestApp, token: &str, payout: &str, action: &str) -> crate::helpers::Response {
    app.post(&format!("/api/v1/payouts/{payout}/{action}"), token, &json!({})).await
}

async fn status(app: &TestApp, token: &str, payout: &str) -> Value {
    let r = app.get(&format!("/api/v1/payouts/{payout}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn balances(app: &TestApp, token: &str) -> (String, String) {
    let b = app.balance(token, "SGD").await;
    let text = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
    (text("available_balance"), text("pending_balance"))
}

async fn audit(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/audit_events?page_size=100&{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().expect("data").clone()
}

async fn wait_for(app: &TestApp, token: &str, payout: &str, want: &str) {
    for _ in 0..80 {
        if status(app, token, payout).await["outlay_status"] == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("payout {payout} never became {want}: {}", status(app, token, payout).await);
}

async fn a_payout_above_the_threshold_waits_for_another_credentials_approval(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    let (admin, admin_token, b) = setup(&app).await;
    let maker = app.token(&app.credential(&admin, "payments").await).await;
    let other_payments = app.token(&app.credential(&admin, "payments").await).await;
    let checker = app.token(&app.credential(&admin, "approver").await).await;
    let receiver = WebhookReceiver::start().await;
    let r = app
        .post(
            "/api/v1/webhook_endpoints",
            &admin_token,
            &json!({"url": receiver.url, "event_types": ["payout.ready.send"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    receiver.trust(r.body["secret"].as_str().expect("secret"));
    let ready_sent = |payout: &str| {
        receiver
            .received()
            .iter()
            .any(|w| w.event_type() == "payout.ready.send" && w.envelope["data"]["payout_id"] == payout)
    };

    // Above the threshold: accepted and held, but waiting.
    let big = create(&app, &maker, &payout(&b, "150.00")).await;
    assert_eq!(big["outlay_status"], "AWAITING_APPROVAL", "{big}");
    assert_eq!(big["payout_status"], "PENDING", "UQPAY has no approval status");
    assert!(big["created_by"].is_string(), "{big}");
    assert!(big["approved_by"].is_null(), "{big}");
    let held = big["amount_payer_pays"].as_str().expect("amount_payer_pays").to_owned();
    let (available, pending) = balances(&app, &admin_token).await;
    assert_eq!(pending, held, "the amount and fee are held");
    // At the threshold exactly: straight on.
    let small = create(&app, &maker, &payout(&b, "100.00")).await;
    assert_eq!(small["outlay_status"], "READY_TO_SEND", "{small}");
    let big = id(&big);
    let small_id = id(&small);
    receiver
        .wait_for("payout.ready.send of the payout at the threshold", |got| {
            got.iter().any(|w| w.envelope["data"]["payout_id"] == small_id.as_str())
        })
        .await;
    assert!(!ready_sent(&big), "no payout.ready.send before the approval");
    // The list filters know the new state.
    let r = app.get("/api/v1/payouts?outlay_status=AWAITING_APPROVAL", &admin_token).await;
    assert_eq!(r.body["total_items"], 1, "{}", r.text);
    let r = app.get("/api/v1/payouts?payout_status=PENDING", &admin_token).await;
    assert_eq!(r.body["data"][0]["payout_id"], big.as_str(), "{}", r.text);

    // The maker cannot approve its own payout; a payments credential may not approve at all.
    let r = decide(&app, &maker, &big, "approve").await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    let r = decide(&app, &other_payments, &big, "approve").await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    let r = decide(&app, &other_payments, &big, "reject_approval").await;
    assert_envelope(&r, StatusCode::FORBIDDEN, "permission_error", "permission_denied");
    // An admin who created a payout cannot approve it either: the checker must be someone else.
    let own = id(&create(&app, &admin_token, &payout(&b, "120.00")).await);
    let r = decide(&app, &admin_token, &own, "approve").await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "payout_error", "approver_is_creator");
    assert_eq!(status(&app, &admin_token, &own).await["outlay_status"], "AWAITING_APPROVAL", "nothing changed");
    // Not waiting for approval: 409.
    let r = decide(&app, &checker, &id(&small), "approve").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");

    // The rail does not take a payout awaiting approval.
    app.clock.advance(time::Duration::seconds(3));
    wait_for(&app, &admin_token, &id(&small), "SENT").await;
    assert_eq!(status(&app, &admin_token, &big).await["outlay_status"], "AWAITING_APPROVAL");

    // The approver approves: READY_TO_SEND, then the sandbox rail completes it.
    let r = decide(&app, &checker, &big, "approve").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "READY_TO_SEND", "{}", r.text);
    assert_eq!(r.body["payout_status"], "READY_TO_SEND");
    let approver_id = r.body["approved_by"].as_str().expect("approved_by").to_owned();
    assert_ne!(Some(approver_id.as_str()), r.body["created_by"].as_str());
    assert!(r.body["approve_time"].is_string(), "{}", r.text);
    let r = decide(&app, &checker, &big, "approve").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    receiver
        .wait_for("payout.ready.send of the approved payout", |got| {
            got.iter().any(|w| w.envelope["data"]["payout_id"] == big.as_str())
        })
        .await;
    let history: Vec<String> = status(&app, &admin_token, &big).await["status_history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| format!("{} {}", h["to"].as_str().unwrap_or(""), h["reason"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        history,
        [
            "AWAITING_APPROVAL waiting for approval: above the account's threshold of 100.00 SGD",
            &format!("READY_TO_SEND approved by credential {approver_id}")
        ]
    );
    app.clock.advance(time::Duration::seconds(3));
    wait_for(&app, &admin_token, &big, "SENT").await;
    app.clock.advance(time::Duration::seconds(3));
    wait_for(&app, &admin_token, &big, "COMPLETED").await;
    wait_for(&app, &admin_token, &id(&small), "COMPLETED").await;
    let (after, pending_after) = balances(&app, &admin_token).await;
    assert_eq!(pending_after, status(&app, &admin_token, &own).await["amount_payer_pays"], "only `own` is held");
    assert_ne!(after, available);

    // The audit trail has the approval under the approver's credential, and the refusals.
    let approvals = audit(&app, &admin_token, "action=payout.approve").await;
    let ok: Vec<&Value> = approvals.iter().filter(|a| a["status_code"] == 200).collect();
    assert_eq!(ok.len(), 1, "{approvals:#?}");
    assert_eq!(ok[0]["credential_id"], approver_id.as_str(), "{:#}", ok[0]);
    assert_eq!(ok[0]["role"], "approver");
    assert_eq!(ok[0]["object_id"], big.as_str());
    assert_eq!(ok[0]["before"]["state"], "AWAITING_APPROVAL", "{:#}", ok[0]);
    assert_eq!(ok[0]["after"]["outlay_status"], "READY_TO_SEND", "{:#}", ok[0]);
    let refused: Vec<i64> = approvals.iter().filter_map(|a| a["status_code"].as_i64()).filter(|s| *s != 200).collect();
    assert!(refused.contains(&400) && refused.contains(&403) && refused.contains(&409), "{approvals:#?}");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn a_declined_or_cancelled_payout_gets_its_money_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, admin_token, b) = setup(&app).await;
    let maker = app.token(&app.credential(&admin, "payments").await).await;
    let checker = app.token(&app.credential(&admin, "approver").await).await;
    let start = balances(&app, &admin_token).await;
    assert_eq!(start, ("1000.00".to_owned(), "0.00".to_owned()));

    let declined = id(&create(&app, &maker, &payout(&b, "400.00")).await);
    let withdrawn = id(&create(&app, &maker, &payout(&b, "300.00")).await);
    let (available, _) = balances(&app, &admin_token).await;
    assert_ne!(available, "1000.00", "both are held");

    // The approver declines one: CANCELLED, its hold voided, the decliner named.
    let r = decide(&app, &checker, &declined, "reject_approval").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "CANCELLED", "{}", r.text);
    assert_eq!(r.body["payout_status"], "FAILED");
    let reason = r.body["failure_reason"].as_str().expect("failure_reason");
    assert!(reason.starts_with("approval declined by credential "), "{reason}");
    assert!(r.body["approved_by"].is_null(), "a declined payout has no approver");
    let r = decide(&app, &checker, &declined, "approve").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    // The creator withdraws the other before anyone approves it.
    let r = app.post(&format!("/api/v1/payouts/{withdrawn}/cancel"), &maker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "CANCELLED", "{}", r.text);
    let r = decide(&app, &checker, &withdrawn, "reject_approval").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    assert_eq!(balances(&app, &admin_token).await, start, "all the money is back");

    let declines = audit(&app, &admin_token, "action=payout.reject_approval").await;
    let ok: Vec<&Value> = declines.iter().filter(|a| a["status_code"] == 200).collect();
    assert_eq!(ok.len(), 1, "{declines:#?}");
    assert_eq!(ok[0]["role"], "approver");
    assert_eq!(ok[0]["object_id"], declined.as_str());
    assert!(reason.ends_with(ok[0]["credential_id"].as_str().expect("credential")), "{reason}");
    // An unknown payout is a 404.
    let r = decide(&app, &checker, &uuid::Uuid::new_v4().to_string(), "approve").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn review_of(app: &TestApp, token: &str, payout: &str) -> String {
    let r = app.get("/api/v1/compliance/reviews?page_size=100", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|v| v["subject_id"] == payout)
        .and_then(|v| v["review_id"].as_str())
        .unwrap_or_else(|| panic!("no review of {payout}: {}", r.text))
        .to_owned()
}

/// Both gates, in either order: the payout goes on only when it is approved and its review
/// cleared; a compliance rejection ends it at once, approved or not.
async fn approval_and_compliance_review_both_have_to_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, admin_token, b) = setup(&app).await;
    // Above 150.00 SGD a payout is held for compliance review too.
    let rules = json!({"limits": [{"currency": "SGD", "per_payout": "150.00"}], "actions": {"per_payout": "review"}});
    let r = app.post("/api/v1/account_rules", &admin_token, &rules).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let maker = app.token(&app.credential(&admin, "payments").await).await;
    let checker = app.token(&app.credential(&admin, "approver").await).await;
    let reviewer = app.token(&app.credential(&admin, "reviewer").await).await;

    // Approval first, then the review.
    let first = id(&create(&app, &maker, &payout(&b, "200.00")).await);
    assert_eq!(status(&app, &admin_token, &first).await["outlay_status"], "AWAITING_APPROVAL");
    let r = decide(&app, &checker, &first, "approve").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "IN_REVIEW", "its review is still open: {}", r.text);
    let review = review_of(&app, &reviewer, &first).await;
    let r = app.post(&format!("/api/v1/compliance/reviews/{review}/clear"), &reviewer, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status(&app, &admin_token, &first).await["outlay_status"], "READY_TO_SEND");

    // The review first, then the approval.
    let second = id(&create(&app, &maker, &payout(&b, "210.00")).await);
    let review = review_of(&app, &reviewer, &second).await;
    let r = app.post(&format!("/api/v1/compliance/reviews/{review}/clear"), &reviewer, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status(&app, &admin_token, &second).await["outlay_status"], "AWAITING_APPROVAL", "still not approved");
    let r = decide(&app, &checker, &second, "approve").await;
    assert_eq!(r.body["outlay_status"], "READY_TO_SEND", "{}", r.text);

    // Compliance rejects one still waiting for approval: REJECTED, money back.
    let before = balances(&app, &admin_token).await;
    let third = create(&app, &maker, &payout(&b, "220.00")).await;
    let review = review_of(&app, &reviewer, &id(&third)).await;
    let r = app.post(&format!("/api/v1/compliance/reviews/{review}/reject"), &reviewer, &json!({"note": "no"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(status(&app, &admin_token, &id(&third)).await["outlay_status"], "REJECTED");
    assert_eq!(balances(&app, &admin_token).await, before);
    let r = decide(&app, &checker, &id(&third), "approve").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    app.assert_ledger_verifies();
    app.finish().await;
}

/// A batch's rows above the threshold make the batch wait for approval; once it is approved its
/// payouts do not wait again one by one.
async fn batch_rows_are_covered_by_the_batch_approval(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, admin_token, b) = setup(&app).await;
    let maker = app.token(&app.credential(&admin, "payments").await).await;
    let checker = app.token(&app.credential(&admin, "approver").await).await;
    let mut row = payout(&b, "150.00");
    row["payout_reference"] = json!("Batch row");
    let r = app.post("/api/v1/payout_batches", &maker, &json!({"payouts": [row]})).await;
    assert!(r.status.is_success(), "{}", r.text);
    let batch = r.body["batch_id"].as_str().expect("batch_id").to_owned();
    let mut batch_status = Value::Null;
    for _ in 0..50 {
        batch_status = app.get(&format!("/api/v1/payout_batches/{batch}"), &maker).await.body;
        if batch_status["batch_status"] == "PENDING_APPROVAL" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(batch_status["batch_status"], "PENDING_APPROVAL", "{batch_status}");
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &checker, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/payouts?page_size=10", &admin_token).await;
    let payouts = r.body["data"].as_array().expect("data");
    assert_eq!(payouts.len(), 1, "{}", r.text);
    assert_eq!(payouts[0]["outlay_status"], "READY_TO_SEND", "{}", r.text);
    assert!(payouts[0]["created_by"].is_null(), "{}", r.text);
    app.assert_ledger_verifies();
    app.finish().await;
}
