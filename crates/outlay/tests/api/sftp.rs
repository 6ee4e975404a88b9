//! Issue 5, part 5: the embedded SFTP server driven by the real OpenSSH `sftp` client. Payment
//! files become payouts with an acknowledgement and a response file; onboarding files create
//! beneficiaries; traversal, read-only folders, oversized files, garbage and another account's
//! key are refused with nothing created; a restart finishes a file that was received.

use std::path::{Path, PathBuf};
use std::time::Duration;

use outlay_sftp::{SftpConfig, SftpServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::datetime;
use tokio_util::sync::CancellationToken;

use crate::both_backends;
use crate::helpers::{Backend, Credentials, TestApp, assert_envelope};

both_backends!(
    payments_file_becomes_payouts_with_ack_and_response,
    onboarding_file_creates_beneficiaries,
    refused_uploads_create_nothing,
    another_accounts_key_is_refused,
    restart_finishes_a_received_file,
    sftp_keys_over_the_api,
    a_cut_off_upload_leaves_nothing,
);

const MAX_FILE: u64 = 64 * 1024;

struct Sftp {
    server: Option<SftpServer>,
    stop: CancellationToken,
    root: PathBuf,
    dir: tempfile::TempDir,
}

impl Sftp {
    async fn start(app: &TestApp, dir: tempfile::TempDir) -> Self {
        let engine = app.server.as_ref().expect("running").engine.clone();
        let root = dir.path().join("jails");
        let config = SftpConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            root: root.clone(),
            host_key: dir.path().join("sftp_host_ed25519"),
            max_file_size: MAX_FILE,
            poll_interval: Duration::from_millis(100),
        };
        let stop = CancellationToken::new();
        let server = outlay_sftp::start(engine, config, stop.clone()).await.expect("sftp starts");
        Sftp { server: Some(server), stop, root, dir }
    }

    fn port(&self) -> u16 {
        self.server.as_ref().expect("running").addr.port()
    }

    async fn stop(mut self) -> tempfile::TempDir {
        self.stop.cancel();
        if let Some(s) = self.server.take() {
            s.join().await;
        }
        self.dir
    }

    fn jail(&self, account: &str) -> PathBuf {
        self.root.join(account)
    }

    /// Run the OpenSSH client in batch mode; a command prefixed with `-` may fail.
    async fn run(&self, key: &Path, user: &str, commands: &str) -> std::process::Output {
        let batch = self.dir.path().join(format!("batch-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&batch, commands).expect("batch file");
        tokio::process::Command::new("sftp")
            .arg("-b")
            .arg(&batch)
            .arg("-i")
            .arg(key)
            .args(["-P", &self.port().to_string()])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"])
            .arg(format!("{user}@127.0.0.1"))
            .current_dir(self.dir.path())
            .output()
            .await
            .expect("the OpenSSH sftp client is installed")
    }
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A new Ed25519 key pair registered for `account` with the CLI; returns the private key path.
fn register_key(app: &TestApp, dir: &Path, account: &str, name: &str) -> PathBuf {
    let key = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen is installed");
    assert!(out.status.success(), "ssh-keygen: {}", text(&out));
    let pub_key = key.with_extension("pub");
    let out =
        app.cli(&["sftp-keys", "add", "--account", account, "--key-file", pub_key.to_str().expect("path"), "--json"]);
    assert!(out.status.success(), "sftp-keys add: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["fingerprint"].as_str().expect("fingerprint").starts_with("SHA256:"));
    key
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

fn lines(s: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(s.as_bytes());
    r.records().map(|x| x.expect("csv").iter().map(str::to_owned).collect()).collect()
}

async fn business_day_app(backend: Backend) -> (TestApp, Credentials, String) {
    let app = TestApp::spawn_full(backend, true, Duration::from_secs(2)).await;
    app.clock.set(datetime!(2026-11-24 02:00 UTC));
    let client = app.create_account("Files Pte Ltd", None);
    let token = app.token(&client).await;
    (app, client, token)
}

async fn sg_beneficiary(app: &TestApp, token: &str) -> String {
    let body = json!({
        "entity_type": "COMPANY",
        "company_name": "Lion City Trading Pte Ltd",
        "payment_method": "LOCAL",
        "bank_details": {
            "bank_country_code": "SG", "account_currency_code": "SGD",
            "account_holder": "Lion City Trading Pte Ltd", "account_number": "0123456789",
            "swift_code": "DBSSSGSG", "clearing_system": "FAST"
        }
    });
    let r = app.post("/api/v1/beneficiaries", token, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["beneficiary_id"].as_str().expect("id").to_owned()
}

async fn payout_count(app: &TestApp, token: &str) -> u64 {
    let r = app.get("/api/v1/payouts?page_size=100&page_number=1", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["total_items"].as_u64().expect("total_items")
}

fn payments_csv(beneficiary: &str) -> String {
    format!(
        "currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id\n\
         SGD,10.00,WAGES_SALARY,Salary November,2026-11-24,{beneficiary}\n\
         SGD,10.001,WAGES_SALARY,Too precise,2026-11-24,{beneficiary}\n\
         SGD,10.91,WAGES_SALARY,Closed account,2026-11-24,{beneficiary}\n\
         SGD,5.00,NOT_A_PURPOSE,Bad purpose,2026-11-24,{beneficiary}\n"
    )
}

async fn payments_file_becomes_payouts_with_ack_and_response(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    app.fund(&token, "SGD", "1000.00").await;
    let beneficiary = sg_beneficiary(&app, &token).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let key = register_key(&app, sftp.dir.path(), &client.account_id, "ops");
    std::fs::write(sftp.dir.path().join("pay.csv"), payments_csv(&beneficiary)).expect("write");

    // Upload as .part, then rename: picked up on the rename.
    let out = sftp
        .run(
            &key,
            &client.account_id,
            "ls /\nput pay.csv /Request/Payments/pay_20261124.csv.part\n\
             rename /Request/Payments/pay_20261124.csv.part /Request/Payments/pay_20261124.csv\n",
        )
        .await;
    assert!(out.status.success(), "sftp: {}", text(&out));
    for dir in ["Request", "Response", "Reports"] {
        assert!(text(&out).contains(dir), "the jail root lists {dir}: {}", text(&out));
    }
    let jail = sftp.jail(&client.account_id);
    let ack = wait_for_file(&jail.join("Response/Payments/pay_20261124.csv.ack.csv")).await;
    let ack = lines(&ack);
    assert_eq!(
        ack[0],
        ["file", "status", "file_id", "batch_id", "batch_status", "rows", "valid", "invalid", "code", "message"]
    );
    assert_eq!(ack[1][0], "pay_20261124.csv");
    assert_eq!(ack[1][1], "ACCEPTED");
    assert_eq!(&ack[1][5..8], ["4", "2", "2"]);
    let batch = ack[1][3].clone();
    let r = app.get(&format!("/api/v1/payout_batches/{batch}"), &token).await;
    assert_eq!(r.status, StatusCode::OK, "the batch is visible over the API: {}", r.text);
    // Batches wait for a second pair of eyes by default (maker-checker): nothing is paid yet.
    assert_eq!(ack[1][4], "PENDING_APPROVAL");
    assert_eq!(payout_count(&app, &token).await, 0);
    let r = app.post(&format!("/api/v1/payout_batches/{batch}/approve"), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(payout_count(&app, &token).await, 2, "only the good rows became payouts");

    // The sandbox rail walks the payouts: 10.00 completes, 10.91 fails ("account closed").
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.clock.advance(time::Duration::seconds(3));
    }
    let mut response = None;
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(jail.join("Response/Payments/pay_20261124.csv.response.csv")) {
            response = Some(s);
            break;
        }
        app.clock.advance(time::Duration::seconds(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = lines(&response.expect("the response file appears when every row is final"));
    assert_eq!(response[0], ["row", "status", "payout_id", "short_reference_id", "field", "code", "message"]);
    assert_eq!(response.len(), 5, "{response:?}");
    // Rows are numbered by their line in the file (the header is line 1).
    assert_eq!((response[1][0].as_str(), response[1][1].as_str()), ("2", "COMPLETED"));
    let paid = &response[1][2];
    let r = app.get(&format!("/api/v1/payouts/{paid}"), &token).await;
    assert_eq!(r.body["payout_status"], "COMPLETED", "{}", r.text);
    assert_eq!((response[2][0].as_str(), response[2][1].as_str(), response[2][4].as_str()), ("3", "INVALID", "amount"));
    assert_eq!((response[3][0].as_str(), response[3][1].as_str()), ("4", "FAILED"));
    assert_eq!(response[3][6], "account closed");
    assert_eq!(
        (response[4][0].as_str(), response[4][1].as_str(), response[4][4].as_str()),
        ("5", "INVALID", "purpose_code")
    );

    // The client reads its responses back; the request file is kept.
    let out = sftp
        .run(
            &key,
            &client.account_id,
            "get /Response/Payments/pay_20261124.csv.response.csv got.csv\nls /Request/Payments\n",
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pay_20261124.csv"), "{}", text(&out));
    let got = std::fs::read_to_string(sftp.dir.path().join("got.csv")).expect("downloaded");
    assert_eq!(lines(&got), response);

    // The same content again under another name is refused as a duplicate: nothing new.
    let out = sftp.run(&key, &client.account_id, "put pay.csv /Request/Payments/again.csv\n").await;
    assert!(out.status.success(), "{}", text(&out));
    let ack = lines(&wait_for_file(&jail.join("Response/Payments/again.csv.ack.csv")).await);
    assert_eq!((ack[1][1].as_str(), ack[1][8].as_str()), ("REFUSED", "duplicate_file"));
    assert_eq!(payout_count(&app, &token).await, 2);

    sftp.stop().await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn onboarding_file_creates_beneficiaries(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let key = register_key(&app, sftp.dir.path(), &client.account_id, "onboarding");
    let csv = "entity_type,company_name,first_name,last_name,payment_method,bank_details.bank_country_code,\
               bank_details.account_currency_code,bank_details.account_holder,bank_details.account_number,\
               bank_details.swift_code,bank_details.clearing_system\n\
               COMPANY,\"Lion City Trading, Pte Ltd\",,,LOCAL,SG,SGD,Lion City Trading Pte Ltd,0123456789,DBSSSGSG,FAST\n\
               COMPANY,Nowhere Ltd,,,LOCAL,SG,SGD,Nowhere Ltd,,DBSSSGSG,FAST\n\
               ALIEN,Mars Ltd,,,LOCAL,SG,SGD,Mars Ltd,0123456789,DBSSSGSG,FAST\n";
    std::fs::write(sftp.dir.path().join("onboard.csv"), csv).expect("write");
    // Written under its final name: picked up once complete (on close).
    let out = sftp.run(&key, &client.account_id, "cd Request/Onboarding\nput onboard.csv\n").await;
    assert!(out.status.success(), "{}", text(&out));
    let jail = sftp.jail(&client.account_id);
    let response = lines(&wait_for_file(&jail.join("Response/Onboarding/onboard.csv.response.csv")).await);
    assert_eq!(response[0], ["row", "status", "beneficiary_id", "short_reference_id", "field", "code", "message"]);
    assert_eq!((response[1][0].as_str(), response[1][1].as_str()), ("2", "CREATED"));
    let id = &response[1][2];
    let r = app.get(&format!("/api/v1/beneficiaries/{id}"), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["company_name"], "Lion City Trading, Pte Ltd");
    assert!(response[1][3].starts_with("BF"), "{response:?}");
    let row2: Vec<_> = response.iter().filter(|l| l[0] == "3").collect();
    assert!(row2.iter().all(|l| l[1] == "INVALID"), "{response:?}");
    assert!(row2.iter().any(|l| l[4] == "bank_details.account_number"), "{response:?}");
    let row3: Vec<_> = response.iter().filter(|l| l[0] == "4").collect();
    assert!(row3.iter().any(|l| l[4] == "entity_type"), "{response:?}");
    let list = app.get("/api/v1/beneficiaries?page_size=100&page_number=1", &token).await;
    assert_eq!(list.body["total_items"], 1, "{}", list.text);
    sftp.stop().await;
    app.finish().await;
}

async fn refused_uploads_create_nothing(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    app.fund(&token, "SGD", "1000.00").await;
    let beneficiary = sg_beneficiary(&app, &token).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let key = register_key(&app, sftp.dir.path(), &client.account_id, "ops");
    let dir = sftp.dir.path();
    std::fs::write(dir.join("pay.csv"), payments_csv(&beneficiary)).expect("write");
    let user = &client.account_id;

    // Traversal and absolute paths outside the jail.
    for cmd in [
        "put pay.csv ../escape.csv",
        "put pay.csv /../../escape.csv",
        "put pay.csv /Request/Payments/../../../escape.csv",
        "put pay.csv /tmp/escape.csv",
        "get /../../../../etc/passwd stolen",
        "cd ..",
        "ls /..",
    ] {
        let out = sftp.run(&key, user, &format!("{cmd}\n")).await;
        assert!(!out.status.success(), "{cmd} must be refused: {}", text(&out));
        let said = text(&out);
        assert!(
            ["Permission denied", "escapes the home directory", "not found"].iter().any(|m| said.contains(m)),
            "{cmd}: {said}"
        );
    }
    assert!(!sftp.root.join("escape.csv").exists() && !sftp.root.parent().expect("parent").join("escape.csv").exists());
    assert!(!Path::new("/tmp/escape.csv").exists());
    assert!(!dir.join("stolen").exists());

    // Response/ and Reports/ are read-only; nothing can be made or removed.
    for cmd in [
        "put pay.csv /Response/Payments/fake.ack.csv",
        "put pay.csv /Reports/fake.csv",
        "put pay.csv /pay.csv",
        "mkdir /Request/Payments/sub",
        "rmdir /Reports",
        "ln -s /etc /Request/Payments/etc",
    ] {
        let out = sftp.run(&key, user, &format!("{cmd}\n")).await;
        assert!(!out.status.success(), "{cmd} must be refused: {}", text(&out));
        assert!(text(&out).contains("Permission denied"), "{cmd}: {}", text(&out));
    }
    let jail = sftp.jail(user);
    assert!(!jail.join("Response/Payments/fake.ack.csv").exists());
    assert!(!jail.join("Reports/fake.csv").exists());

    // Oversized: refused while writing, nothing kept.
    std::fs::write(dir.join("big.csv"), vec![b'a'; usize::try_from(MAX_FILE).expect("size") + 1]).expect("write");
    let out = sftp.run(&key, user, "put big.csv /Request/Payments/big.csv\n").await;
    assert!(!out.status.success(), "an oversized file is refused: {}", text(&out));
    assert!(text(&out).contains("write remote"), "refused while writing: {}", text(&out));
    assert!(!jail.join("Request/Payments/big.csv").exists());

    // Binary garbage: stored, then refused in its acknowledgement.
    let garbage: Vec<u8> = (0..4096u32).map(|i| u8::try_from((i * 7919) % 251).expect("byte")).collect();
    std::fs::write(dir.join("garbage.bin"), garbage).expect("write");
    let out = sftp.run(&key, user, "put garbage.bin /Request/Payments/garbage.csv\n").await;
    assert!(out.status.success(), "{}", text(&out));
    let ack = lines(&wait_for_file(&jail.join("Response/Payments/garbage.csv.ack.csv")).await);
    assert_eq!((ack[1][1].as_str(), ack[1][8].as_str()), ("REFUSED", "invalid_file"), "{ack:?}");

    // A header the payout request does not know refuses the whole file.
    std::fs::write(dir.join("colour.csv"), "currency,amount,colour\nSGD,1.00,red\n").expect("write");
    let out = sftp.run(&key, user, "put colour.csv /Request/Payments/colour.csv\n").await;
    assert!(out.status.success(), "{}", text(&out));
    let ack = lines(&wait_for_file(&jail.join("Response/Payments/colour.csv.ack.csv")).await);
    assert_eq!((ack[1][1].as_str(), ack[1][8].as_str()), ("REFUSED", "unknown_column"), "{ack:?}");
    assert!(ack[1][9].contains("colour"), "{ack:?}");

    // A complete file is kept: it cannot be replaced or removed.
    let out =
        sftp.run(&key, user, "-rm /Request/Payments/garbage.csv\nput pay.csv /Request/Payments/garbage.csv\n").await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(jail.join("Request/Payments/garbage.csv").exists());

    assert_eq!(payout_count(&app, &token).await, 0, "nothing was paid");
    let engine = app.server.as_ref().expect("running").engine.clone();
    assert!(engine.store().sftp_open_files().await.expect("open files").is_empty());
    sftp.stop().await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn another_accounts_key_is_refused(backend: Backend) {
    let (app, client, _token) = business_day_app(backend).await;
    let other = app.create_account("Other Ltd", None);
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let mine = register_key(&app, sftp.dir.path(), &client.account_id, "mine");
    let theirs = register_key(&app, sftp.dir.path(), &other.account_id, "theirs");
    std::fs::write(sftp.dir.path().join("x.csv"), "a\n1\n").expect("write");

    let out = sftp.run(&theirs, &client.account_id, "put x.csv /Request/Payments/x.csv\n").await;
    assert!(!out.status.success(), "another account's key is refused: {}", text(&out));
    assert!(text(&out).to_lowercase().contains("permission denied"), "{}", text(&out));
    assert!(!sftp.jail(&client.account_id).join("Request/Payments/x.csv").exists());

    // An unknown key, and a user name that is no account id.
    let stranger = sftp.dir.path().join("stranger");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success());
    assert!(!sftp.run(&stranger, &client.account_id, "ls /\n").await.status.success());
    assert!(!sftp.run(&mine, "root", "ls /\n").await.status.success());

    // A duplicate registration and a private key are refused by the CLI.
    let dup = app.cli(&[
        "sftp-keys",
        "add",
        "--account",
        &other.account_id,
        "--key-file",
        mine.with_extension("pub").to_str().expect("p"),
    ]);
    assert!(!dup.status.success(), "{}", text(&dup));
    assert!(text(&dup).contains("already registered"), "{}", text(&dup));
    let private =
        app.cli(&["sftp-keys", "add", "--account", &client.account_id, "--key-file", mine.to_str().expect("p")]);
    assert!(!private.status.success());
    assert!(text(&private).contains("private key"), "{}", text(&private));

    // The owner's key works; once revoked it does not.
    assert!(sftp.run(&mine, &client.account_id, "ls /\n").await.status.success());
    let list = app.cli(&["sftp-keys", "list", "--account", &client.account_id, "--json"]);
    let keys: Value = serde_json::from_slice(&list.stdout).expect("json");
    let id = keys[0]["id"].as_str().expect("id").to_owned();
    let out = app.cli(&["sftp-keys", "revoke", "--account", &client.account_id, "--id", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!sftp.run(&mine, &client.account_id, "ls /\n").await.status.success());
    sftp.stop().await;
    app.finish().await;
}

async fn restart_finishes_a_received_file(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    app.fund(&token, "SGD", "1000.00").await;
    let beneficiary = sg_beneficiary(&app, &token).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let root = sftp.root.clone();
    let dir = sftp.stop().await;

    // A file that was stored and recorded, but the process died before processing it.
    let account = outlay_core::AccountId(uuid::Uuid::parse_str(&client.account_id).expect("uuid"));
    let jail = outlay_sftp::jail::Jail::open(&root, account).expect("jail");
    let path = jail.request_path(outlay_sftp::jail::Kind::Payments, "crashed.csv");
    let csv = "currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id\n".to_owned()
        + &format!("SGD,10.00,WAGES_SALARY,After restart,2026-11-24,{beneficiary}\n");
    std::fs::write(&path, csv).expect("write");
    let engine = app.server.as_ref().expect("running").engine.clone();
    let row = outlay_sftp::process::record(&engine, account, outlay_sftp::jail::Kind::Payments, "crashed.csv", &path)
        .await
        .expect("recorded");
    assert_eq!(row.status, "received");
    assert!(!jail.response_path(outlay_sftp::jail::Kind::Payments, "crashed.csv.ack.csv").exists());

    let sftp = Sftp::start(&app, dir).await;
    let ack =
        lines(&wait_for_file(&jail.response_path(outlay_sftp::jail::Kind::Payments, "crashed.csv.ack.csv")).await);
    assert_eq!((ack[1][1].as_str(), ack[1][6].as_str()), ("ACCEPTED", "1"));
    let r = app.post(&format!("/api/v1/payout_batches/{}/approve", ack[1][3]), &token, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let response_path = jail.response_path(outlay_sftp::jail::Kind::Payments, "crashed.csv.response.csv");
    let mut response = None;
    for _ in 0..100 {
        app.clock.advance(time::Duration::seconds(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(s) = std::fs::read_to_string(&response_path) {
            response = Some(s);
            break;
        }
    }
    let response = lines(&response.expect("response written after the restart"));
    assert_eq!(response[1][1], "COMPLETED", "{response:?}");
    assert_eq!(payout_count(&app, &token).await, 1);

    // A second restart processes nothing again.
    let dir = sftp.stop().await;
    let sftp = Sftp::start(&app, dir).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(payout_count(&app, &token).await, 1, "never processed twice");
    assert!(engine.store().sftp_open_files().await.expect("open").is_empty());
    sftp.stop().await;
    app.assert_ledger_verifies();
    app.finish().await;
}

async fn sftp_keys_over_the_api(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let key = sftp.dir.path().join("api_key");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ops@example", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let printed =
        std::process::Command::new("ssh-keygen").arg("-lf").arg(key.with_extension("pub")).output().expect("-l");
    let fingerprint = String::from_utf8_lossy(&printed.stdout).split_whitespace().nth(1).expect("fp").to_owned();

    // Bad input names the field; nothing is stored.
    let r = app.post("/api/v1/sftp_keys", &token, &json!({"public_key": "ssh-ed25519 not-a-key"})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_public_key");
    assert_eq!(r.body["field"], "public_key");
    let r = app.post("/api/v1/sftp_keys", &token, &json!({})).await;
    assert_envelope(&r, StatusCode::BAD_REQUEST, "invalid_request_error", "missing_required_field");

    // Registering a key that can send payment files is a Manage action: a payments role may not.
    let r = app.post("/api/v1/credentials", &token, &json!({"role": "payments"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let payments = Credentials {
        account_id: client.account_id.clone(),
        client_id: r.body["client_id"].as_str().expect("client_id").to_owned(),
        api_key: r.body["api_key"].as_str().expect("api_key").to_owned(),
    };
    let payments_token = app.token(&payments).await;
    let r = app.post("/api/v1/sftp_keys", &payments_token, &json!({"public_key": public})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.body["code"], "permission_denied", "{}", r.text);

    let r = app.post("/api/v1/sftp_keys", &token, &json!({"public_key": public})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["fingerprint"], fingerprint.as_str(), "the fingerprint ssh-keygen -l prints");
    assert_eq!(r.body["status"], "ACTIVE");
    let id = r.body["sftp_key_id"].as_str().expect("id").to_owned();
    let r = app.post("/api/v1/sftp_keys", &token, &json!({"public_key": public})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["code"], "duplicate_key", "{}", r.text);
    let list = app.get("/api/v1/sftp_keys", &token).await;
    assert_eq!(list.body["total_items"], 1, "{}", list.text);
    assert_eq!(list.body["data"][0]["sftp_key_id"], id.as_str());

    // Another account sees none of them and cannot revoke them.
    let other = app.create_account("Other Ltd", None);
    let other_token = app.token(&other).await;
    assert_eq!(app.get("/api/v1/sftp_keys", &other_token).await.body["total_items"], 0);
    let r =
        app.request(reqwest::Method::DELETE, &format!("/api/v1/sftp_keys/{id}"), Some(&other_token), &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // The key logs in; once revoked it does not.
    assert!(sftp.run(&key, &client.account_id, "ls /Request\n").await.status.success());
    let r = app.request(reqwest::Method::DELETE, &format!("/api/v1/sftp_keys/{id}"), Some(&token), &[], None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "REVOKED");
    assert!(!sftp.run(&key, &client.account_id, "ls /Request\n").await.status.success());
    assert_eq!(app.get("/api/v1/sftp_keys", &token).await.body["total_items"], 0);
    sftp.stop().await;
    app.finish().await;
}

async fn a_cut_off_upload_leaves_nothing(backend: Backend) {
    let (app, client, token) = business_day_app(backend).await;
    let sftp = Sftp::start(&app, tempfile::tempdir().expect("tempdir")).await;
    let key = register_key(&app, sftp.dir.path(), &client.account_id, "slow");
    let mut csv = String::from("currency,amount,purpose_code,payout_reference,payout_date,beneficiary_id\n");
    while csv.len() < 60_000 {
        csv += "SGD,1.00,WAGES_SALARY,Slow,2026-11-24,00000000-0000-0000-0000-000000000000\n";
    }
    std::fs::write(sftp.dir.path().join("slow.csv"), &csv).expect("write");
    let batch = sftp.dir.path().join("slow-batch");
    std::fs::write(&batch, "put slow.csv /Request/Payments/slow.csv\n").expect("batch");
    // 8 kbit/s: the upload takes about a minute; the client is killed after a moment.
    let mut child = tokio::process::Command::new("sftp")
        .arg("-b")
        .arg(&batch)
        .arg("-i")
        .arg(&key)
        .args(["-l", "8", "-P", &sftp.port().to_string()])
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg(format!("{}@127.0.0.1", client.account_id))
        .current_dir(sftp.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sftp");
    let target = sftp.jail(&client.account_id).join("Request/Payments/slow.csv");
    for _ in 0..100 {
        if target.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(target.exists(), "the upload started");
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().await.expect("kill the client");
    let mut gone = false;
    for _ in 0..100 {
        if !target.exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "a half-written file is removed when its session ends");
    assert!(!sftp.jail(&client.account_id).join("Response/Payments/slow.csv.ack.csv").exists());
    let engine = app.server.as_ref().expect("running").engine.clone();
    assert!(engine.store().sftp_open_files().await.expect("open").is_empty(), "nothing was recorded");
    // The name can be used again.
    std::fs::write(sftp.dir.path().join("small.csv"), "currency\nSGD\n").expect("write");
    let out = sftp.run(&key, &client.account_id, "put small.csv /Request/Payments/slow.csv\n").await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(payout_count(&app, &token).await, 0);
    sftp.stop().await;
    app.finish().await;
}
