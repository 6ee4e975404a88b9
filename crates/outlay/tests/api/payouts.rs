//! Issue 3: payouts and beneficiaries over the UQPAY wire, every rule of the seed page, on a
//! clock set to a known business day (Tuesday 24 November 2026, 10:00 in Singapore).

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, assert_envelope, raw_sql, sg_company};

both_backends!(
    local_payout_holds_then_completes,
    swift_payout_charges_and_posts_its_fee,
    inline_beneficiary_is_stored_and_reusable,
    every_rule_of_the_seed_page_names_its_field,
    cancel_fail_reject_and_return_move_the_ledger,
    concurrent_payouts_never_overdraw,
    seed_example_gets_precise_errors,
    beneficiaries_crud_check_and_payment_methods,
    files_upload_by_content,
    cross_currency_guide_flow,
    sandbox_rail_walks_payouts_with_deterministic_outcomes,
    a_due_payout_is_sent_behind_pages_of_later_ones,
    ledger_verify_checks_holds_page_by_page,
);

const TODAY: &str = "2026-11-24";

async fn app_on_business_day(backend: Backend) -> (TestApp, Credentials, String) {
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Payer Pte Ltd", None);
    let token = app.token(&client).await;
    (app, client, token)
}

fn gb_individual_usd_swift() -> Value {
    json!({
        "entity_type": "INDIVIDUAL",
        "first_name": "Jane",
        "last_name": "Smith",
        "payment_method": "SWIFT",
        "bank_details": {
            "bank_country_code": "GB",
            "account_currency_code": "USD",
            "account_holder": "Jane Smith",
            "iban": "GB82 WEST 1234 5698 7654 32",
            "swift_code": "WESTGB2L"
        },
        "address": {"street_address": "1 High Street", "city": "London", "postal_code": "EC1A 1BB", "country": "GB"}
    })
}

async fn create_beneficiary(app: &TestApp, token: &str, body: &Value) -> String {
    let r = app.post("/api/v1/beneficiaries", token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["beneficiary_id"].as_str().expect("beneficiary_id").to_owned()
}

fn payout(beneficiary_id: &str, currency: &str, amount: &str) -> Value {
    json!({
        "currency": currency,
        "amount": amount,
        "purpose_code": "WAGES_SALARY",
        "payout_reference": "Salary November",
        "payout_date": TODAY,
        "beneficiary_id": beneficiary_id
    })
}

async fn create_payout(app: &TestApp, token: &str, body: &Value) -> crate::helpers::Response {
    app.post_with_key("/api/v1/payouts", token, &uuid::Uuid::new_v4().to_string(), body).await
}

async fn force(app: &TestApp, token: &str, id: &str, status: &str) -> crate::helpers::Response {
    app.post(
        &format!("/api/v1/simulation/payouts/{id}"),
        token,
        &json!({"payout_status": status, "failure_reason": "account closed"}),
    )
    .await
}

async fn local_payout_holds_then_completes(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    app.fund(&token, "SGD", "1000.00").await;
    let beneficiary = create_beneficiary(&app, &token, &sg_company()).await;

    let r = create_payout(&app, &token, &payout(&beneficiary, "SGD", "250.00")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["payout_status"], "READY_TO_SEND");
    assert_eq!(r.body["fee_amount"], "0.00", "LOCAL payouts are free by default");
    assert!(r.body["fee_paid_by"].is_null(), "fee_paid_by only applies to SWIFT");
    let short = r.body["short_reference_id"].as_str().expect("short ref");
    assert!(short.starts_with("P261124-") && short.len() == 16, "{short}");
    let id = r.body["payout_id"].as_str().expect("id").to_owned();
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("750.00"), Some("250.00")));

    let got = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
    assert_eq!(got.body["payout_reason"], "Wages/salary");
    assert_eq!(got.body["payout_method"], "LOCAL");
    assert_eq!(got.body["beneficiary"]["company_name"], "Lion City Trading Pte Ltd");
    assert_eq!(got.body["amount_beneficiary_receives"], "250.00");
    assert_eq!(got.body["status_history"][0]["to"], "READY_TO_SEND");

    assert_eq!(force(&app, &token, &id, "COMPLETED").await.body["payout_status"], "COMPLETED");
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("750.00"), Some("0.00")));
    let got = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
    let history: Vec<&str> = got.body["status_history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["to"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(history, ["READY_TO_SEND", "SENT", "COMPLETED"]);
    assert!(got.body["complete_time"].is_string());

    for (query, expected) in [
        ("payout_status=COMPLETED", 1),
        ("payout_status=READY_TO_SEND", 0),
        ("currency=SGD", 1),
        ("currency=USD", 0),
        (&format!("beneficiary_id={beneficiary}") as &str, 1),
        ("start_time=2026-11-25T00:00:00Z", 0),
    ] {
        let r = app.get(&format!("/api/v1/payouts?{query}"), &token).await;
        assert_eq!(r.body["total_items"], expected, "{query}: {}", r.text);
    }
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn swift_payout_charges_and_posts_its_fee(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    app.fund(&token, "USD", "1000.00").await;
    let beneficiary = create_beneficiary(&app, &token, &gb_individual_usd_swift()).await;
    let mut body = payout(&beneficiary, "USD", "100.00");
    body["fee_paid_by"] = json!("OURS");
    body["payout_reference"] = json!("INV-2026/11 (final)");
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["fee_amount"], "25.00");
    assert_eq!(r.body["fee_paid_by"], "OURS");
    assert_eq!(r.body["amount_payer_pays"], "125.00");
    let b = app.balance(&token, "USD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("875.00"), Some("125.00")));
    let id = r.body["payout_id"].as_str().expect("id").to_owned();
    force(&app, &token, &id, "COMPLETED").await;
    let out = app.cli(&["ledger", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fee revenue 2500"), "the fee is revenue once the payout completes:\n{stdout}");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn inline_beneficiary_is_stored_and_reusable(backend: Backend) {
    let (app, client, token) = app_on_business_day(backend).await;
    app.set_bank_account(&client.account_id);
    app.fund(&token, "SGD", "100.00").await;
    let mut body = payout("", "SGD", "10.00");
    body.as_object_mut().expect("object").remove("beneficiary_id");
    body["beneficiary"] = sg_company();
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary_id = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    let list = app.get("/api/v1/beneficiaries", &token).await;
    assert_eq!(list.body["total_items"], 1);
    assert_eq!(list.body["data"][0]["beneficiary_id"], beneficiary_id);
    let again = create_payout(&app, &token, &payout(&beneficiary_id, "SGD", "5.00")).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    app.assert_ledger_verifies();
    app.finish().await;
}

/// Each rule: (what to change, expected field, expected code).
async fn every_rule_of_the_seed_page_names_its_field(backend: Backend) {
    let (app, client, token) = app_on_business_day(backend).await;
    app.set_bank_account(&client.account_id);
    app.fund(&token, "SGD", "100.00").await;
    app.fund(&token, "USD", "100.00").await;
    let sg = create_beneficiary(&app, &token, &sg_company()).await;
    let gb = create_beneficiary(&app, &token, &gb_individual_usd_swift()).await;
    let base = payout(&sg, "SGD", "10.00");
    let with = |changes: Value| {
        let mut b = base.clone();
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                b.as_object_mut().expect("object").remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let swift = |changes: Value| {
        let mut b = payout(&gb, "USD", "10.00");
        b["fee_paid_by"] = json!("SHARED");
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                b.as_object_mut().expect("object").remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(json!({"currency": null})), "currency", "missing_required_field"),
        (with(json!({"currency": "SGDX"})), "currency", "invalid_currency"),
        (with(json!({"amount": null})), "amount", "missing_required_field"),
        (with(json!({"amount": "10.001"})), "amount", "invalid_amount"),
        (with(json!({"amount": "-1"})), "amount", "invalid_amount"),
        (with(json!({"purpose_code": null})), "purpose_code", "missing_required_field"),
        (with(json!({"purpose_code": "SALARY"})), "purpose_code", "invalid_purpose_code"),
        (with(json!({"payout_reference": null})), "payout_reference", "missing_required_field"),
        (with(json!({"payout_reference": "x".repeat(101)})), "payout_reference", "too_long"),
        // LOCAL in SGD keeps the SWIFT character set (UQPAY exempts LOCAL except SGD and CNH).
        (with(json!({"payout_reference": "Lohn für November"})), "payout_reference", "invalid_reference"),
        (with(json!({"fee_paid_by": "BEN"})), "fee_paid_by", "invalid_fee_paid_by"),
        (with(json!({"payout_date": null})), "payout_date", "missing_required_field"),
        (with(json!({"payout_date": "24/11/2026"})), "payout_date", "invalid_date"),
        (with(json!({"payout_date": "2026-11-23"})), "payout_date", "date_in_past"),
        (with(json!({"payout_date": "2026-11-28"})), "payout_date", "not_a_business_day"),
        (with(json!({"payout_date": "2026-12-25"})), "payout_date", "not_a_business_day"),
        (with(json!({"payout_date": "2028-01-04"})), "payout_date", "date_too_far"),
        (with(json!({"quote_id": uuid::Uuid::new_v4().to_string()})), "payout_currency", "required_with_quote"),
        (
            with(json!({"quote_id": "not-a-uuid", "payout_currency": "SGD", "payout_amount": "10.00"})),
            "quote_id",
            "invalid_uuid",
        ),
        (
            with(
                json!({"quote_id": uuid::Uuid::new_v4().to_string(), "payout_currency": "SGD", "payout_amount": "10.00"}),
            ),
            "quote_id",
            "quote_not_found",
        ),
        (with(json!({"payout_currency": "USD"})), "quote_id", "quote_required"),
        (with(json!({"payout_amount": "9.00"})), "payout_amount", "amount_mismatch"),
        (with(json!({"beneficiary": sg_company()})), "beneficiary", "beneficiary_conflict"),
        (with(json!({"beneficiary_id": null})), "beneficiary_id", "missing_required_field"),
        (with(json!({"beneficiary_id": "b3d9d2d5-4c12-4946-a09d-953e82sed2b0"})), "beneficiary_id", "invalid_uuid"),
        (with(json!({"beneficiary_id": uuid::Uuid::new_v4().to_string()})), "beneficiary_id", "beneficiary_not_found"),
        (with(json!({"currency": "USD"})), "payout_currency", "currency_mismatch"),
        (with(json!({"is_payer": "yes"})), "is_payer", "invalid_value"),
        (with(json!({"payer_id": "nope"})), "payer_id", "invalid_uuid"),
        (
            with(json!({"documentation": [{"file": "data:image/png;base64,TG9yZW0gaXBzdW0="}]})),
            "documentation[0].file",
            "unsupported_file_type",
        ),
        (
            with(json!({"documentation": [{"file_id": uuid::Uuid::new_v4().to_string()}]})),
            "documentation",
            "file_not_found",
        ),
        (with(json!({"amount": "1000.00"})), "amount", "insufficient_balance"),
        (swift(json!({"fee_paid_by": null})), "fee_paid_by", "required_for_swift"),
        (swift(json!({"payout_reference": "Réf. facture"})), "payout_reference", "invalid_reference"),
    ];
    let transactions_before = app.get("/api/v1/balances/transactions", &token).await.body["total_items"].clone();
    for (body, field, code) in cases {
        let r = create_payout(&app, &token, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}/{code}: {}", r.text);
        assert_eq!(r.body["field"], field, "{field}/{code}: {}", r.text);
        assert_eq!(r.body["code"], code, "{field}/{code}: {}", r.text);
        assert!(
            r.body["message"].as_str().is_some_and(|m| m.contains(field.split('[').next().unwrap_or(field))),
            "{}",
            r.text
        );
    }
    // Nothing above moved money or created a payout.
    assert_eq!(app.get("/api/v1/payouts", &token).await.body["total_items"], 0);
    assert_eq!(app.get("/api/v1/balances/transactions", &token).await.body["total_items"], transactions_before);

    // And what each rule accepts.
    for body in [
        with(json!({"payout_reference": "a".repeat(100)})),
        with(json!({"amount": 10.5})),
        with(json!({"payout_date": "2026-11-25", "purpose_code": "GOODS_PURCHASED"})),
        with(json!({"payout_currency": "SGD", "payout_amount": "10.00", "is_payer": "N"})),
        swift(json!({"fee_paid_by": "SHARED", "payout_reference": "INV-1/2 (ok), ref:7?+'"})),
    ] {
        let r = create_payout(&app, &token, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
    }
    let scheduled = app.get("/api/v1/payouts?outlay_status=SCHEDULED", &token).await;
    assert_eq!(scheduled.body["total_items"], 1, "a future payout_date is scheduled");
    assert_eq!(scheduled.body["data"][0]["payout_status"], "READY_TO_SEND");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn cancel_fail_reject_and_return_move_the_ledger(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    app.fund(&token, "SGD", "1000.00").await;
    let b = create_beneficiary(&app, &token, &sg_company()).await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..4 {
            let r = create_payout(&app, &token, &payout(&b, "SGD", "100.00")).await;
            ids.push(r.body["payout_id"].as_str().expect("id").to_owned());
        }
        ids
    };
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "600.00");

    let r = app.request(Method::POST, &format!("/api/v1/payouts/{}/cancel", ids[0]), Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["payout_status"].as_str(), r.body["outlay_status"].as_str()),
        (Some("FAILED"), Some("CANCELLED"))
    );
    assert_eq!(r.body["failure_returned_amount"], "100.00");
    let again = app.request(Method::POST, &format!("/api/v1/payouts/{}/cancel", ids[0]), Some(&token), &[], None).await;
    assert_envelope(&again, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");

    let r = force(&app, &token, &ids[1], "FAILED").await;
    assert_eq!(
        (r.body["payout_status"].as_str(), r.body["failure_reason"].as_str()),
        (Some("FAILED"), Some("account closed"))
    );
    let r = force(&app, &token, &ids[2], "REJECTED").await;
    assert_eq!(r.body["payout_status"], "REJECTED");
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "900.00");

    // Sent: too late to cancel. Completed, then the money comes back.
    force(&app, &token, &ids[3], "PENDING").await;
    let late = app.request(Method::POST, &format!("/api/v1/payouts/{}/cancel", ids[3]), Some(&token), &[], None).await;
    assert_envelope(&late, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    force(&app, &token, &ids[3], "COMPLETED").await;
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "900.00");
    let r = force(&app, &token, &ids[3], "RETURNED").await;
    assert_eq!(
        (r.body["payout_status"].as_str(), r.body["outlay_status"].as_str()),
        (Some("FAILED"), Some("RETURNED"))
    );
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("1000.00"), Some("0.00")));
    // A completed payout cannot fail any more.
    let r = force(&app, &token, &ids[3], "FAILED").await;
    assert_envelope(&r, StatusCode::CONFLICT, "invalid_request_error", "invalid_state");
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn concurrent_payouts_never_overdraw(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    app.fund(&token, "SGD", "150.00").await;
    let b = create_beneficiary(&app, &token, &sg_company()).await;
    let body = payout(&b, "SGD", "10.00");
    let responses = join_all((0..40).map(|_| create_payout(&app, &token, &body))).await;
    let ok = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = responses
        .iter()
        .filter(|r| r.body["code"] == "insufficient_balance" && r.body["type"] == "payout_error")
        .count();
    assert_eq!((ok, refused), (15, 25));
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("0.00"), Some("150.00")));
    assert_eq!(app.get("/api/v1/payouts", &token).await.body["total_items"], 15);
    app.assert_ledger_verifies();
    app.finish().await;
}

/// The seed page's own example request (shared/seeds/uqpay-create-payout.txt), verbatim.
async fn seed_example_gets_precise_errors(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    let seed = json!({
      "currency": "USD", "amount": "1000.00", "purpose_code": "AUDIO_VISUAL_SERVICES", "payout_reference": "026073150",
      "fee_paid_by": "SHARED", "payout_date": "2024-03-01", "quote_id": "784832f7-1f8a-4b08-ac2a-8719b5b2a590",
      "payout_currency": "SGD", "payout_amount": 100, "beneficiary_id": "b3d9d2d5-4c12-4946-a09d-953e82sed2b0",
      "beneficiary": {
        "entity_type": "COMPANY", "company_name": "UQPAY TECHNOLOGY SG PTE LTD", "payment_method": "LOCAL",
        "bank_details": {
          "bank_name": "Bank of America", "bank_address": "123 Main St", "bank_country_code": "SG", "account_holder": "John Doe",
          "account_currency_code": "USD", "swift_code": "WELGBE22", "clearing_system": "GIRO", "account_number": "12345678",
          "iban": "GB82 WEST 1234 5698 7654 32", "routing_code_type1": "aba", "routing_code_value1": "123456789",
          "routing_code_type2": "ach", "routing_code_value2": "123456789"
        },
        "address": {"country": "SG", "city": "Singapore", "street_address": "123 Main St", "postal_code": "123456", "state": "CA", "nationality": "SG"},
        "email": "example@uqpay.com", "nickname": "John Doe",
        "additional_info": {"organization_code": "91210106MA0P46BWXY", "proxy_id": "<string>", "id_type": "PASSPORT", "id_number": "AB1234567", "tax_id": "123456789", "msisdn": "+65111111"}
      },
      "is_payer": "N", "payer_id": "d36384c8-5df1-4ede-b054-804578601ae7",
      "documentation": [{"file": "data:image/png;base64,TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZWxpdC4=", "file_id": "5135e6cc-28b6-4889-81dc-3b86a09e1395"}]
    });
    let r = create_payout(&app, &token, &seed).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let fields: Vec<&str> =
        r.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["beneficiary", "documentation[0]"], "{}", r.text);

    // With those two fixed (beneficiary_id dropped, one document), the next precise error is the
    // inline beneficiary's: a USD account in SG has no LOCAL corridor.
    let mut fixed = seed.clone();
    fixed.as_object_mut().expect("object").remove("beneficiary_id");
    fixed["documentation"] = json!([{"file_id": "5135e6cc-28b6-4889-81dc-3b86a09e1395"}]);
    let r = create_payout(&app, &token, &fixed).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "beneficiary.bank_details.bank_country_code", "{}", r.text);
    assert_eq!(r.body["code"], "unsupported_corridor", "{}", r.text);
    app.finish().await;
}

async fn beneficiaries_crud_check_and_payment_methods(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    let id = create_beneficiary(&app, &token, &sg_company()).await;
    let got = app.get(&format!("/api/v1/beneficiaries/{id}"), &token).await;
    assert!(got.body["short_reference_id"].as_str().is_some_and(|s| s.starts_with("BF261124-")), "{}", got.text);
    assert_eq!(got.body["beneficiary_status"], "ACTIVE");

    let mut changed = sg_company();
    changed["nickname"] = json!("LCT");
    let r = app.post(&format!("/api/v1/beneficiaries/{id}"), &token, &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["nickname"], "LCT");
    let mut person = changed.clone();
    person["entity_type"] = json!("INDIVIDUAL");
    person["first_name"] = json!("Li");
    person["last_name"] = json!("Wei");
    let r = app.post(&format!("/api/v1/beneficiaries/{id}"), &token, &person).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "beneficiary_error", "entity_type_immutable");

    let list = app.get("/api/v1/beneficiaries?currency=SGD&entity_type=COMPANY", &token).await;
    assert_eq!(list.body["total_items"], 1);
    assert_eq!(app.get("/api/v1/beneficiaries?currency=USD", &token).await.body["total_items"], 0);

    // Corridor validation names the field and the rule.
    let mut bad = gb_individual_usd_swift();
    bad["bank_details"]["iban"] = json!("GB83 WEST 1234 5698 7654 32");
    let r = app.post("/api/v1/beneficiaries", &token, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["field"], "bank_details.iban", "{}", r.text);
    let mut bad = sg_company();
    bad["entity_type"] = json!("INDIVIDUAL");
    let r = app.post("/api/v1/beneficiaries", &token, &bad).await;
    let fields: Vec<&str> =
        r.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["first_name", "last_name"], "{}", r.text);
    let mut bad = gb_individual_usd_swift();
    bad["first_name"] = json!("Zoë");
    let r = app.post("/api/v1/beneficiaries", &token, &bad).await;
    assert_eq!(r.body["field"], "first_name", "SWIFT names are Latin only: {}", r.text);

    let r = app.post("/api/v1/beneficiaries/check", &token, &json!({"entity_type": "COMPANY", "company_name": "ACME", "payment_method": "LOCAL", "currency": "SGD", "account_number": "0123456789", "swift_code": "DBSSSGSG"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["valid"], true);
    let r = app.post("/api/v1/beneficiaries/check", &token, &json!({"entity_type": "COMPANY", "company_name": "ACME", "payment_method": "LOCAL", "currency": "SGD", "account_number": "12"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = app.get("/api/v1/beneficiaries/paymentmethods?currency=SGD&country=SG", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let methods = r.body["data"].as_array().expect("data");
    assert!(
        methods.iter().any(|m| m["payment_method"] == "LOCAL"
            && m["clearing_systems"].as_array().is_some_and(|c| c.iter().any(|s| s == "PayNow"))),
        "{}",
        r.text
    );

    let r = app.post(&format!("/api/v1/beneficiaries/{id}/delete"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_envelope(
        &app.get(&format!("/api/v1/beneficiaries/{id}"), &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "resource_not_found",
    );
    app.finish().await;
}

async fn files_upload_by_content(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let (app, token) = (&app, &token);
        async move {
            let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
            let form = reqwest::multipart::Form::new().part("file", part).text("notes", "invoice");
            let resp = app
                .http
                .post(format!("{}/api/v1/files/upload", app.base))
                .header("x-auth-token", format!("Bearer {token}"))
                .multipart(form)
                .send()
                .await
                .expect("upload");
            let status = resp.status();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = upload("invoice.pdf", b"%PDF-1.7\n1 0 obj\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["file_type"], "pdf");
    let file_id = body["file_id"].as_str().expect("file_id").to_owned();
    let (status, body) = upload("photo.png", b"%PDF-1.7 pretending".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("file_type_mismatch")), "{body}");
    let (status, body) = upload("tool.pdf", b"MZ\x90\x00 not a document".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_file_type")), "{body}");
    // Over 20 MB: the server answers 413 as soon as the limit is crossed. It may close the
    // connection while the client is still sending, so a reset is the same refusal seen from the
    // client; either way nothing is stored (the INR payout below needs the one good file only).
    let part = reqwest::multipart::Part::bytes([b"%PDF-".to_vec(), vec![b'x'; 21 * 1024 * 1024]].concat())
        .file_name("big.pdf");
    let big = reqwest::Client::new()
        .post(format!("{}/api/v1/files/upload", app.base))
        .header("x-auth-token", format!("Bearer {token}"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    match big {
        Ok(resp) => assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_body() || e.is_connect(), "unexpected error: {e}"),
    }

    // An INR payout over IFSC needs a document; the uploaded file satisfies it.
    app.fund(&token, "INR", "100000.00").await;
    let inr = json!({
        "entity_type": "INDIVIDUAL", "first_name": "Asha", "last_name": "Rao", "payment_method": "LOCAL",
        "bank_details": {"bank_country_code": "IN", "account_currency_code": "INR", "account_holder": "Asha Rao",
                         "account_number": "123456789012", "clearing_system": "IFSC", "routing_code_type1": "ifsc", "routing_code_value1": "HDFC0001234"},
        "address": {"street_address": "12 MG Road", "city": "Bengaluru", "country": "IN"}
    });
    let b = create_beneficiary(&app, &token, &inr).await;
    let mut body = payout(&b, "INR", "5000.00");
    // 24 November 2026 is a holiday in India (Guru Nanak's birthday).
    body["payout_date"] = json!("2026-11-25");
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(
        (r.body["field"].as_str(), r.body["code"].as_str()),
        (Some("documentation"), Some("documentation_required")),
        "{}",
        r.text
    );
    body["documentation"] = json!([{"file_id": file_id}]);
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["documentation"][0]["file_type"], "pdf");
    app.assert_ledger_verifies();
    app.finish().await;
}

/// UQPAY's cross-currency payout guide: a THB beneficiary, a USD→THB `payout` quote with the
/// sell side fixed, then the payout within the quote's 75 seconds.
async fn cross_currency_guide_flow(backend: Backend) {
    let (app, _client, token) = app_on_business_day(backend).await;
    let out = app.cli(&["rates", "set", "--pair", "USDTHB", "--rate", "31.75"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    app.fund(&token, "USD", "500.00").await;
    let th = json!({
        "entity_type": "INDIVIDUAL", "first_name": "Somchai", "last_name": "Jaidee", "payment_method": "LOCAL",
        "bank_details": {"bank_country_code": "TH", "account_currency_code": "THB", "account_holder": "Somchai Jaidee",
                         "account_number": "1234567890", "swift_code": "BKKBTHBK", "clearing_system": "ORFT"},
        "address": {"street_address": "99 Sukhumvit Road", "city": "Bangkok", "country": "TH"}
    });
    let beneficiary = create_beneficiary(&app, &token, &th).await;

    let quote_body = json!({"sell_currency": "USD", "sell_amount": "100.00", "buy_currency": "THB",
                            "conversion_date": TODAY, "transaction_type": "payout"});
    let q = app.post("/api/v1/conversion/quote", &token, &quote_body).await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text);
    // Mid 31.75 less the default 0.50% markup is 31.59125; 100 USD buys 3159.12 THB, rounded down.
    assert_eq!(q.body["buy_amount"], "3159.12", "{}", q.text);
    let quote_id = q.body["quote_price"]["quote_id"].as_str().expect("quote_id").to_owned();

    let mut body = payout(&beneficiary, "USD", "100.00");
    body["quote_id"] = json!(quote_id);
    body["payout_currency"] = json!("THB");
    body["payout_amount"] = json!("3159.11");
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(
        (r.body["field"].as_str(), r.body["code"].as_str()),
        (Some("payout_amount"), Some("quote_mismatch")),
        "{}",
        r.text
    );
    // A refused payout does not use up the quote.
    body["payout_amount"] = json!("3159.12");
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["payout_currency"], "THB");
    assert_eq!(r.body["amount_beneficiary_receives"], "3159.12");
    assert_eq!(r.body["conversion"]["currency_pair"], "USDTHB");
    assert_eq!(r.body["conversion"]["client_rate"], "31.59125");
    let id = r.body["payout_id"].as_str().expect("id").to_owned();
    let b = app.balance(&token, "USD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("400.00"), Some("100.00")));

    // The quote is spent; another payout with it is refused.
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(
        (r.body["field"].as_str(), r.body["code"].as_str()),
        (Some("quote_id"), Some("quote_already_used")),
        "{}",
        r.text
    );
    // A conversion quote cannot pay out, and a payout quote expires after 75 seconds.
    let mut conversion_quote = quote_body.clone();
    conversion_quote["transaction_type"] = json!("conversion");
    let q = app.post("/api/v1/conversion/quote", &token, &conversion_quote).await;
    body["quote_id"] = q.body["quote_price"]["quote_id"].clone();
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.body["code"], "quote_type_mismatch", "{}", r.text);
    let q = app.post("/api/v1/conversion/quote", &token, &quote_body).await;
    body["quote_id"] = q.body["quote_price"]["quote_id"].clone();
    app.clock.advance(time::Duration::seconds(76));
    let r = create_payout(&app, &token, &body).await;
    assert_eq!(r.body["code"], "quote_expired", "{}", r.text);

    // Completing posts the source amount to the FX position and pays THB out of it.
    assert_eq!(force(&app, &token, &id, "COMPLETED").await.body["payout_status"], "COMPLETED");
    let b = app.balance(&token, "USD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("400.00"), Some("0.00")));
    app.assert_ledger_verifies();
    app.finish().await;
}

/// The sandbox rail on the manual clock: ready → sent → completed after the delay each; amounts
/// ending in .91 fail ("account closed"), .92 are rejected; a scheduled payout waits for its date.
async fn sandbox_rail_walks_payouts_with_deterministic_outcomes(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Rail Co", None);
    let token = app.token(&client).await;
    let r = app.post("/api/v1/simulation/deposit", &token, &json!({"amount": "1000.00", "currency": "SGD"})).await;
    let deposit = r.body["deposit_id"].as_str().expect("id").to_owned();
    app.post(&format!("/api/v1/simulation/deposit/{deposit}"), &token, &json!({"deposit_status": "COMPLETED"})).await;
    let b = create_beneficiary(&app, &token, &sg_company()).await;
    let mut ids = Vec::new();
    for amount in ["10.00", "10.91", "10.92", "10.93"] {
        ids.push(
            create_payout(&app, &token, &payout(&b, "SGD", amount)).await.body["payout_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let mut later = payout(&b, "SGD", "20.00");
    later["payout_date"] = json!("2026-11-25");
    let scheduled = create_payout(&app, &token, &later).await.body["payout_id"].as_str().expect("id").to_owned();

    let status = |id: String| {
        let (app, token) = (&app, &token);
        async move {
            app.get(&format!("/api/v1/payouts/{id}"), token).await.body["outlay_status"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        }
    };
    let wait = |id: String, want: &'static str| {
        let status = &status;
        async move {
            for _ in 0..60 {
                if status(id.clone()).await == want {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("payout {id} never became {want} (is {})", status(id.clone()).await);
        }
    };
    app.clock.advance(time::Duration::seconds(3));
    wait(ids[0].clone(), "SENT").await;
    wait(ids[2].clone(), "REJECTED").await;
    assert_eq!(status(scheduled.clone()).await, "SCHEDULED", "not before its date");
    app.clock.advance(time::Duration::seconds(3));
    wait(ids[0].clone(), "COMPLETED").await;
    wait(ids[1].clone(), "FAILED").await;
    let failed = app.get(&format!("/api/v1/payouts/{}", ids[1]), &token).await;
    assert_eq!(failed.body["failure_reason"], "account closed");
    // Completed, then returned late by the beneficiary's bank.
    wait(ids[3].clone(), "RETURNED").await;
    let returned = app.get(&format!("/api/v1/payouts/{}", ids[3]), &token).await;
    assert_eq!(returned.body["failure_returned_amount"], "10.93", "{}", returned.text);
    let history: Vec<&str> =
        returned.body["status_history"].as_array().expect("history").iter().filter_map(|h| h["to"].as_str()).collect();
    assert!(history.ends_with(&["SENT", "COMPLETED", "RETURNED"]), "{history:?}");
    app.clock.advance(time::Duration::days(1));
    // A day later the old token has expired.
    let token = app.token(&client).await;
    let mut ready = false;
    for _ in 0..60 {
        if app.get(&format!("/api/v1/payouts/{scheduled}"), &token).await.body["outlay_status"] == "READY_TO_SEND" {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the scheduled payout is released on its date");
    let bal = app.balance(&token, "SGD").await;
    // 1000 − 10.00 completed − 20.00 still held; the failed and rejected ones came back.
    assert_eq!((bal["available_balance"].as_str(), bal["pending_balance"].as_str()), (Some("970.00"), Some("20.00")));
    app.assert_ledger_verifies();
    app.finish().await;
}

/// The rail reads open payouts a page at a time (500) in the order they last changed: more
/// than a page of payouts scheduled for next week, created first, must neither be sent early
/// nor keep today's payout, created after them, from being sent.
async fn a_due_payout_is_sent_behind_pages_of_later_ones(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, std::time::Duration::from_secs(2)).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Forward Co", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "1000.00").await;
    let b = create_beneficiary(&app, &token, &sg_company()).await;
    let mut next_week = payout(&b, "SGD", "1.00");
    next_week["payout_date"] = json!("2026-12-01");
    const LATER: usize = 520;
    for chunk in 0..LATER / 40 {
        let created = join_all((0..40).map(|_| create_payout(&app, &token, &next_week))).await;
        for r in created {
            assert_eq!(r.status, StatusCode::OK, "chunk {chunk}: {}", r.text);
        }
    }
    let today = create_payout(&app, &token, &payout(&b, "SGD", "2.00")).await;
    let today = today.body["payout_id"].as_str().expect("payout_id").to_owned();

    app.clock.advance(time::Duration::seconds(3));
    let mut sent = false;
    for _ in 0..100 {
        if app.get(&format!("/api/v1/payouts/{today}"), &token).await.body["outlay_status"] == "SENT" {
            sent = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(sent, "today's payout is sent although {LATER} older open payouts are not due");
    let scheduled = app.get("/api/v1/payouts?outlay_status=SCHEDULED&page_size=10", &token).await;
    assert_eq!(scheduled.body["total_items"], LATER, "next week's payouts wait: {}", scheduled.text);
    let bal = app.balance(&token, "SGD").await;
    assert_eq!((bal["available_balance"].as_str(), bal["pending_balance"].as_str()), (Some("478.00"), Some("522.00")));
    app.assert_ledger_verifies();
    app.finish().await;
}

/// `ledger verify` reads deposits, withdrawals and payouts a page at a time, each with what the
/// ledger holds for it: in pages of two it checks as many as in one page, and it finds a payout
/// edited behind the ledger's back on the last page.
async fn ledger_verify_checks_holds_page_by_page(backend: Backend) {
    use outlay_engine::verify::{verify_ledger, verify_ledger_paged};
    let (app, client, token) = app_on_business_day(backend).await;
    app.set_bank_account(&client.account_id);
    app.fund(&token, "SGD", "100.00").await;
    let r =
        app.post_with_key("/api/v1/withdrawals", &token, "w-1", &json!({"currency": "SGD", "amount": "3.00"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let b = create_beneficiary(&app, &token, &sg_company()).await;
    for amount in ["1.00", "2.00", "3.00", "4.00", "5.00"] {
        assert_eq!(create_payout(&app, &token, &payout(&b, "SGD", amount)).await.status, StatusCode::OK);
    }
    let store = app.server.as_ref().expect("server").engine.store().clone();
    let whole = verify_ledger(store.as_ref()).await.expect("verify");
    let paged = verify_ledger_paged(store.as_ref(), 2).await.expect("verify in pages of two");
    assert!(whole.ok() && paged.ok(), "{:?} / {:?}", whole.violations, paged.violations);
    assert_eq!(paged.holds_checked, whole.holds_checked);
    assert!(paged.holds_checked >= 7, "a deposit, a withdrawal and five payouts: {}", paged.holds_checked);

    raw_sql(
        &app.database_url,
        "UPDATE payouts SET amount = amount + 1 WHERE id = (SELECT id FROM payouts ORDER BY id DESC LIMIT 1)",
    )
    .await;
    let paged = verify_ledger_paged(store.as_ref(), 2).await.expect("verify in pages of two");
    assert_eq!(paged.violations.len(), 1, "{:?}", paged.violations);
    assert!(
        paged.violations[0].starts_with("payout ") && paged.violations[0].contains("should hold"),
        "{:?}",
        paged.violations
    );
    app.finish().await;
}
