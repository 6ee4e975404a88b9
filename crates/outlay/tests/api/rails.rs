//! Issue 4, rails: the bank-file rail writes one schema-valid pain.001 per batch of due payouts
//! to its outbox and applies pain.002 reports from its inbox (completed, failed with the
//! normalised code and the bank's reason), once even when a report is read twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use time::macros::datetime;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, sg_company};

both_backends!(bank_file_rail_sends_pain001_and_applies_pain002);

fn xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/iso20022/pain.001.001.09.xsd")
}

async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn pain002(original: &str, accepted: &str, rejected: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>BANK-STS-1</MsgId><CreDtTm>2026-11-24T09:00:00Z</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>{original}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{original}-1</OrgnlPmtInfId>
      <TxInfAndSts><OrgnlEndToEndId>{accepted}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>{rejected}</OrgnlEndToEndId><TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>"#
    )
}

async fn bank_file_rail_sends_pain001_and_applies_pain002(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outbox, inbox) = (dir.path().join("outbox"), dir.path().join("inbox"));
    let rail = outlay::config::RailSettings::BankFile(outlay::config::BankFileSettings {
        config: outlay_worker::rails::bank_file::BankFileConfig {
            outbox: outbox.clone(),
            inbox: inbox.clone(),
            initiating_party: "Outlay Test".into(),
            debtor: outlay_core::iso20022::Debtor {
                name: "Outlay FBO".into(),
                iban: "DE89 3704 0044 0532 0130 00".into(),
                bic: "COBADEFFXXX".into(),
            },
        },
        poll_interval: Duration::from_millis(50),
    });
    let app = TestApp::spawn_with_rail(backend, true, Duration::from_secs(24 * 3600), rail).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Payer Pte Ltd", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "1000.00").await;
    let r = app.post("/api/v1/beneficiaries", &token, &sg_company()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let beneficiary = r.body["beneficiary_id"].as_str().expect("id").to_owned();
    let mut payouts = Vec::new();
    // 10.91 would fail in the sandbox rail; here only the bank's report decides.
    for (amount, reference) in [("250.00", "Salary November"), ("100.91", "Invoice (42) O'Brien")] {
        let body = json!({
            "currency": "SGD", "amount": amount, "purpose_code": "WAGES_SALARY",
            "payout_reference": reference, "payout_date": "2026-11-25", "beneficiary_id": beneficiary,
        });
        let r = app.post_with_key("/api/v1/payouts", &token, &uuid::Uuid::new_v4().to_string(), &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        payouts.push((
            r.body["payout_id"].as_str().expect("id").to_owned(),
            r.body["short_reference_id"].as_str().expect("ref").to_owned(),
        ));
    }

    // Both were scheduled for tomorrow, so they become due in the same rail pass (created for
    // today, a pass could run between the two creates and send them in two files).
    app.clock.advance(time::Duration::days(1));
    let token = app.token(&client).await;

    // One pain.001 with both payouts, never a .part left behind.
    let file = wait_for("a pain.001 in the outbox", || {
        let f = files(&outbox);
        (f.len() == 1 && !f[0].to_string_lossy().ends_with(".part")).then(|| f[0].clone())
    })
    .await;
    let name = file.file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.starts_with("pain.001.OUT") && name.ends_with(".xml"), "{name}");
    let message_id = name.trim_start_matches("pain.001.").trim_end_matches(".xml").to_owned();
    let xml = std::fs::read_to_string(&file).expect("read");
    assert!(xml.contains(&format!("<MsgId>{message_id}</MsgId>")), "{xml}");
    assert!(xml.contains("<NbOfTxs>2</NbOfTxs>") && xml.contains("<CtrlSum>350.91</CtrlSum>"), "{xml}");
    for (_, short) in &payouts {
        assert!(xml.contains(&format!("<EndToEndId>{short}</EndToEndId>")), "{xml}");
    }
    assert!(xml.contains("<Ustrd>Invoice (42) O&apos;Brien</Ustrd>"), "{xml}");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd())
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(out.status.success(), "pain.001 is not schema-valid: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
    for (id, _) in &payouts {
        let p = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
        assert_eq!(p.body["outlay_status"], "SENT", "{}", p.text);
    }
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("649.09"), Some("350.91")));

    // The bank's report: the first settled, the second rejected (account closed). Delivered twice.
    let report = pain002(&message_id, &payouts[0].1, &payouts[1].1);
    for n in 1..=2 {
        std::fs::write(inbox.join(format!("pain.002.{n}.xml.tmp")), &report).expect("write");
        std::fs::rename(inbox.join(format!("pain.002.{n}.xml.tmp")), inbox.join(format!("pain.002.{n}.xml")))
            .expect("rename");
        let processed = inbox.join("processed").join(format!("pain.002.{n}.xml"));
        wait_for("the report to be processed", || processed.exists().then_some(())).await;
    }
    std::fs::write(inbox.join("garbage.xml"), "<Document><oops>").expect("write");
    wait_for("a bad report to move to failed/", || inbox.join("failed/garbage.xml").exists().then_some(())).await;

    let done = app.get(&format!("/api/v1/payouts/{}", payouts[0].0), &token).await;
    assert_eq!(
        (done.body["outlay_status"].as_str(), done.body["payout_status"].as_str()),
        (Some("COMPLETED"), Some("COMPLETED"))
    );
    let failed = app.get(&format!("/api/v1/payouts/{}", payouts[1].0), &token).await;
    assert_eq!(failed.body["outlay_status"], "FAILED", "{}", failed.text);
    assert_eq!(failed.body["failure_reason"], "account_closed: AC04 ClosedAccountNumber", "{}", failed.text);
    assert_eq!(failed.body["failure_returned_amount"], "100.91", "{}", failed.text);
    // Applied once: one COMPLETED and one FAILED step in each history.
    for (p, to) in [(&done, "COMPLETED"), (&failed, "FAILED")] {
        let history = p.body["status_history"].as_array().expect("history");
        let steps = history.iter().filter(|h| h.to_string().contains(&format!("\"{to}\""))).count();
        assert_eq!(steps, 1, "{}", p.text);
    }
    let b = app.balance(&token, "SGD").await;
    assert_eq!((b["available_balance"].as_str(), b["pending_balance"].as_str()), (Some("750.00"), Some("0.00")));
    assert_eq!(files(&outbox).len(), 1, "no second file for payouts already sent");
    app.assert_ledger_verifies();
    app.finish().await;
}
