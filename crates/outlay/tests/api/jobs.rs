//! Issue 4: the durable jobs table (leases, attempts, backoff, recovery of a dead worker's job),
//! rail submissions that survive a failure between SENT and the file, and corridor cut-offs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use outlay_engine::{Clock, Command, Engine, Outcome};
use outlay_store::{JobEnd, JobRow, NewJob};
use outlay_worker::jobs::{JobHandler, JobResult, JobRunner, JobsConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, sg_company};

both_backends!(
    jobs_are_leased_retried_and_recovered,
    runner_retries_with_backoff_until_done,
    rail_submission_is_recovered_after_a_failure,
    scheduled_payouts_wait_for_their_day_and_the_cutoff,
);

fn engine(app: &TestApp) -> Arc<Engine> {
    app.server.as_ref().expect("server").engine.clone()
}

fn new_job(app: &TestApp, kind: &str, key: Option<&str>, max_attempts: i32) -> NewJob {
    let now = app.clock.now();
    NewJob {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        dedupe_key: key.map(str::to_owned),
        payload: json!({"n": 1}),
        run_at: now,
        max_attempts,
        created_at: now,
    }
}

async fn claim(engine: &Engine, kind: &str, lease_secs: u64) -> Vec<JobRow> {
    let cmd = Command::ClaimJobs { kinds: vec![kind.to_owned()], limit: 10, lease: Duration::from_secs(lease_secs) };
    match engine.execute(cmd).await.expect("claim") {
        Outcome::JobsClaimed(jobs) => jobs,
        other => panic!("{other:?}"),
    }
}

async fn finish(engine: &Engine, job: &JobRow, end: JobEnd) -> bool {
    let cmd = Command::FinishJob { id: job.id, claim_token: job.claim_token.expect("claimed"), end };
    match engine.execute(cmd).await.expect("finish") {
        Outcome::JobFinished(held) => held,
        other => panic!("{other:?}"),
    }
}

async fn jobs_are_leased_retried_and_recovered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Whole milliseconds, as the database keeps them.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let engine = engine(&app);

    // The same dedupe key makes one job.
    let first = new_job(&app, "test.echo", Some("k-1"), 5);
    assert!(matches!(engine.execute(Command::EnqueueJob(first.clone())).await, Ok(Outcome::JobEnqueued(true))));
    let again = new_job(&app, "test.echo", Some("k-1"), 5);
    assert!(matches!(engine.execute(Command::EnqueueJob(again)).await, Ok(Outcome::JobEnqueued(false))));

    // Claimed once; while leased nobody else gets it.
    let claimed = claim(&engine, "test.echo", 30).await;
    assert_eq!(claimed.len(), 1);
    let held = claimed[0].clone();
    assert_eq!((held.id, held.attempts, held.status.as_str()), (first.id, 1, "running"));
    assert!(claim(&engine, "test.echo", 30).await.is_empty(), "a leased job is not claimed twice");
    assert!(claim(&engine, "other.kind", 30).await.is_empty(), "claims are by kind");

    // The worker dies: its lease lapses and the job is claimed again, with a new token.
    app.clock.advance(time::Duration::seconds(31));
    let reclaimed = claim(&engine, "test.echo", 30).await;
    assert_eq!(reclaimed.len(), 1);
    let second = reclaimed[0].clone();
    assert_eq!((second.id, second.attempts), (first.id, 2));
    assert_ne!(second.claim_token, held.claim_token);
    assert!(!finish(&engine, &held, JobEnd::Done).await, "the dead worker's token no longer finishes it");

    // A failure queues it again for later, keeping the error.
    let retry_at = app.clock.now() + time::Duration::seconds(10);
    let failed = JobEnd::Failed { error: "bank unreachable".into(), retry_at };
    assert!(finish(&engine, &second, failed).await);
    let row = engine.store().job(first.id).await.expect("read").expect("job");
    assert_eq!((row.status.as_str(), row.last_error.as_deref()), ("queued", Some("bank unreachable")));
    assert!(claim(&engine, "test.echo", 30).await.is_empty(), "not before its retry time");
    app.clock.advance(time::Duration::seconds(10));
    let third = claim(&engine, "test.echo", 30).await.pop().expect("due again");
    assert_eq!(third.attempts, 3);
    assert!(finish(&engine, &third, JobEnd::Done).await);
    let row = engine.store().job(first.id).await.expect("read").expect("job");
    assert_eq!(row.status, "done");
    assert!(row.finished_at.is_some() && row.lease_until.is_none());
    assert!(claim(&engine, "test.echo", 30).await.is_empty(), "a done job never runs again");

    // Out of attempts: failed for good.
    let once = new_job(&app, "test.once", None, 1);
    engine.execute(Command::EnqueueJob(once.clone())).await.expect("enqueue");
    let job = claim(&engine, "test.once", 30).await.pop().expect("claimed");
    let end = JobEnd::Failed { error: "permanent".into(), retry_at: app.clock.now() };
    assert!(finish(&engine, &job, end).await);
    let row = engine.store().job(once.id).await.expect("read").expect("job");
    assert_eq!(row.status, "failed");
    app.clock.advance(time::Duration::hours(1));
    assert!(claim(&engine, "test.once", 30).await.is_empty());
    app.finish().await;
}

/// Fails its first two runs, then succeeds.
struct Flaky {
    runs: AtomicUsize,
}

impl JobHandler for Flaky {
    fn run<'a>(
        &'a self,
        _engine: &'a Engine,
        _job: &'a JobRow,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = JobResult> + Send + 'a>> {
        Box::pin(async move {
            let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= 2 { Err(format!("run {n} failed")) } else { Ok(()) }
        })
    }
}

async fn runner_retries_with_backoff_until_done(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Whole milliseconds, as the database keeps them.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let engine = engine(&app);
    let job = new_job(&app, "test.flaky", None, 5);
    engine.execute(Command::EnqueueJob(job.clone())).await.expect("enqueue");
    let flaky = Arc::new(Flaky { runs: AtomicUsize::new(0) });
    let runner = JobRunner::default().with("test.flaky", flaky.clone());
    let config = JobsConfig::default();

    let r = runner.round(&engine, &config).await.expect("round");
    assert_eq!((r.done, r.failed), (0, 1));
    let row = engine.store().job(job.id).await.expect("read").expect("job");
    assert_eq!(row.run_at, app.clock.now() + time::Duration::seconds(5), "first retry after the base backoff");
    assert_eq!(runner.round(&engine, &config).await.expect("round").failed, 0, "not due yet");

    app.clock.advance(time::Duration::seconds(5));
    assert_eq!(runner.round(&engine, &config).await.expect("round").failed, 1);
    let row = engine.store().job(job.id).await.expect("read").expect("job");
    assert_eq!(row.run_at, app.clock.now() + time::Duration::seconds(10), "the backoff doubles");

    app.clock.advance(time::Duration::seconds(10));
    assert_eq!(runner.round(&engine, &config).await.expect("round").done, 1);
    let row = engine.store().job(job.id).await.expect("read").expect("job");
    assert_eq!((row.status.as_str(), row.attempts), ("done", 3));
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);
    app.finish().await;
}

fn xml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "xml")).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn rail_submission_is_recovered_after_a_failure(backend: Backend) {
    // The sandbox rail runs in the server but never walks these payouts on (a day's delay);
    // this test drives the bank-file rail's passes itself.
    let app = TestApp::spawn(backend).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let engine = engine(&app);
    let client = app.create_account("Payer Pte Ltd", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "1000.00").await;
    let body = json!({"currency": "SGD", "amount": "120.00", "purpose_code": "WAGES_SALARY",
                      "payout_reference": "Salary November", "payout_date": "2026-11-24", "beneficiary": sg_company()});
    let r = app.post_with_key("/api/v1/payouts", &token, "p-1", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (payout_id, short_ref) = (
        r.body["payout_id"].as_str().expect("id").to_owned(),
        r.body["short_reference_id"].as_str().expect("ref").to_owned(),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("outbox");
    let config = outlay_worker::rails::bank_file::BankFileConfig {
        outbox: outbox.clone(),
        inbox: dir.path().join("inbox"),
        initiating_party: "Outlay Test".into(),
        debtor: outlay_core::iso20022::Debtor {
            name: "Outlay FBO".into(),
            iban: "DE89 3704 0044 0532 0130 00".into(),
            bic: "COBADEFFXXX".into(),
        },
    };
    let rail =
        Arc::new(outlay_worker::rails::bank_file::BankFileRail::new(config, engine.clock().clone()).expect("rail"));
    // The bank's share disappears: the payout is marked SENT, but the file cannot be written.
    std::fs::remove_dir_all(&outbox).expect("remove outbox");
    let summary = outlay_worker::rails::pass(&engine, &rail).await.expect("pass");
    assert_eq!(summary.sent, 0);
    let r = app.get(&format!("/api/v1/payouts/{payout_id}"), &token).await;
    assert_eq!(r.body["outlay_status"], "SENT", "{}", r.text);
    let jobs = engine.store().jobs(Some(outlay_engine::RAIL_SUBMIT), None, 10).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "the submission waits as a job: {jobs:?}");
    assert_eq!((jobs[0].status.as_str(), jobs[0].attempts), ("queued", 1));
    assert!(jobs[0].last_error.is_some());

    // The share is back; after the backoff the next pass (any node's) writes the file once.
    std::fs::create_dir_all(&outbox).expect("outbox");
    assert_eq!(outlay_worker::rails::pass(&engine, &rail).await.expect("pass").sent, 0, "not before the backoff");
    app.clock.advance(time::Duration::seconds(6));
    assert_eq!(outlay_worker::rails::pass(&engine, &rail).await.expect("pass").sent, 1);
    let files = xml_files(&outbox);
    assert_eq!(files.len(), 1, "{files:?}");
    let xml = std::fs::read_to_string(&files[0]).expect("read");
    assert!(xml.contains(&format!("<EndToEndId>{short_ref}</EndToEndId>")), "{xml}");
    let job = engine.store().job(jobs[0].id).await.expect("read").expect("job");
    assert_eq!((job.status.as_str(), job.attempts), ("done", 2));
    let msg_id = format!("OUT{}", job.id.simple().to_string().to_uppercase());
    let listed = app.cli(&["jobs", "list", "--kind", "rail.submit"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains(&job.id.to_string()) && listed.contains("done") && listed.contains("2/50"), "{listed}");
    assert!(xml.contains(&format!("<MsgId>{msg_id}</MsgId>")), "the MsgId is the submission's id");

    // Nothing more to send; the payout was handed over once.
    assert_eq!(outlay_worker::rails::pass(&engine, &rail).await.expect("pass").sent, 0);
    assert_eq!(xml_files(&outbox).len(), 1);

    // The bank refuses the whole file (a group status, no transaction statuses): every payout
    // of that submission fails and its money comes back.
    let rejection = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
  <GrpHdr><MsgId>BANK-RJ-1</MsgId><CreDtTm>2026-11-24T09:00:00Z</CreDtTm></GrpHdr>
  <OrgnlGrpInfAndSts><OrgnlMsgId>{msg_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>RJCT</GrpSts>
    <StsRsnInf><Rsn><Cd>FF01</Cd></Rsn><AddtlInf>Invalid file format</AddtlInf></StsRsnInf></OrgnlGrpInfAndSts>
</CstmrPmtStsRpt></Document>"#
    );
    std::fs::write(dir.path().join("inbox").join("status-rjct.xml"), rejection).expect("write pain.002");
    assert_eq!(outlay_worker::rails::pass(&engine, &rail).await.expect("pass").applied, 1);
    let r = app.get(&format!("/api/v1/payouts/{payout_id}"), &token).await;
    assert_eq!(r.body["outlay_status"], "FAILED", "{}", r.text);
    assert!(r.body["failure_reason"].as_str().is_some_and(|f| f.contains("FF01")), "{}", r.text);
    assert_eq!(app.balance(&token, "SGD").await["available_balance"], "1000.00");
    // Read again (a file seen twice): nothing changes.
    assert_eq!(outlay_worker::rails::pass(&engine, &rail).await.expect("pass").applied, 0);
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn wait_for_status(app: &TestApp, token: &str, id: &str, want: &str) -> Value {
    for _ in 0..100 {
        let r = app.get(&format!("/api/v1/payouts/{id}"), token).await;
        if r.body["outlay_status"] == want {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("payout {id} never became {want}");
}

async fn scheduled_payouts_wait_for_their_day_and_the_cutoff(backend: Backend) {
    let app = TestApp::spawn_full(backend, true, Duration::from_secs(60)).await;
    // Tuesday 24 November 2026, 10:00 in Singapore.
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Payer Pte Ltd", None);
    let token = app.token(&client).await;
    app.fund(&token, "SGD", "1000.00").await;
    let body = json!({"currency": "SGD", "amount": "80.00", "purpose_code": "WAGES_SALARY",
                      "payout_reference": "Salary November", "payout_date": "2026-11-25", "beneficiary": sg_company()});
    let r = app.post_with_key("/api/v1/payouts", &token, "p-future", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outlay_status"], "SCHEDULED");
    let id = r.body["payout_id"].as_str().expect("id").to_owned();

    // Wednesday 16:00 in Singapore: its day, but past the 15:00 cut-off: it waits.
    app.clock.set(datetime!(2026-11-25 08:00 UTC));
    let token = app.token(&client).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = app.get(&format!("/api/v1/payouts/{id}"), &token).await;
    assert_eq!(r.body["outlay_status"], "SCHEDULED", "released after the cut-off: {}", r.text);

    // Thursday 09:00 in Singapore: released, then sent and completed by the sandbox rail.
    app.clock.set(datetime!(2026-11-26 01:00 UTC));
    let token = app.token(&client).await;
    wait_for_status(&app, &token, &id, "READY_TO_SEND").await;
    app.clock.advance(time::Duration::seconds(61));
    let token = app.token(&client).await;
    wait_for_status(&app, &token, &id, "SENT").await;
    app.clock.advance(time::Duration::seconds(61));
    let token = app.token(&client).await;
    let done = wait_for_status(&app, &token, &id, "COMPLETED").await;
    assert_eq!(done["payout_status"], "COMPLETED");
    app.assert_ledger_verifies();
    app.finish().await;
}
