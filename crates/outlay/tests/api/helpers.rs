use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use outlay::config::ServeSettings;
use outlay::server::{Server, start_with_clock};
use outlay_engine::{EngineConfig, ManualClock};
use outlay_worker::webhooks::WebhookWorkerConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generate one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Backend::Postgres).await } )* }
    };
}

/// Run SQL directly against the database, behind Outlay's back (to simulate tampering).
pub async fn raw_sql(database_url: &str, sql: &str) {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).expect("open sqlite");
        conn.execute_batch(sql).expect("raw sql");
    } else {
        let (client, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client.batch_execute(sql).await.expect("raw sql");
    }
}

/// One whole-number answer of a query (a count), read directly from the database.
pub async fn sql_count(database_url: &str, sql: &str) -> i64 {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).expect("open sqlite");
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    } else {
        let (client, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client.query_one(sql, &[]).await.expect("count").get(0)
    }
}

pub fn postgres_base_url() -> String {
    std::env::var("OUTLAY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The sandbox key ring of a test app's database, generated on first use: `outlay.key` beside
/// the SQLite file, or the database's own sandbox key table on PostgreSQL.
pub async fn sandbox_keys(database_url: &str) -> Arc<outlay_store::crypto::KeyRing> {
    outlay::keys::key_ring(&Default::default(), database_url, true, true).await.expect("sandbox keys")
}

/// A fresh, empty database for one test.
pub async fn fresh_database(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("outlay.db").display()),
        Backend::Postgres => {
            let base = postgres_base_url();
            let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                panic!("PostgreSQL at {base} is needed for the postgres tests ({e}); set OUTLAY_TEST_DATABASE_URL")
            });
            tokio::spawn(conn);
            let name = format!("outlay_test_{}", uuid::Uuid::new_v4().simple());
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
            let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
            format!("{prefix}/{name}")
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub server: Option<Server>,
    pub platform: Credentials,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub account_id: String,
    pub client_id: String,
    pub api_key: String,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, true).await
    }

    /// `sandbox: false` is production mode: no simulation endpoints, no first-start account.
    pub async fn spawn_with(backend: Backend, sandbox: bool) -> Self {
        Self::spawn_full(backend, sandbox, Duration::from_secs(24 * 3600)).await
    }

    /// `settle_after`: the sandbox settler's delay, on the test's manual clock.
    pub async fn spawn_full(backend: Backend, sandbox: bool, settle_after: Duration) -> Self {
        Self::spawn_with_rail(backend, sandbox, settle_after, outlay::config::RailSettings::Sandbox).await
    }

    /// As `spawn_full`, with a chosen rail.
    pub async fn spawn_with_rail(
        backend: Backend,
        sandbox: bool,
        settle_after: Duration,
        rail: outlay::config::RailSettings,
    ) -> Self {
        Self::spawn_limited(backend, sandbox, settle_after, rail, outlay::config::DEFAULT_MAX_IN_FLIGHT).await
    }

    /// As `spawn_with_rail`, serving at most `max_in_flight` API requests at once.
    pub async fn spawn_limited(
        backend: Backend,
        sandbox: bool,
        settle_after: Duration,
        rail: outlay::config::RailSettings,
        max_in_flight: usize,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = fresh_database(backend, &dir).await;
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let settings = ServeSettings {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            sandbox,
            // Most tests settle explicitly through the simulation endpoints.
            settle_after,
            engine: EngineConfig::default(),
            metrics_listen: Some("127.0.0.1:0".parse().expect("addr")),
            // Webhook tests wait for deliveries: look for due ones often.
            webhooks: WebhookWorkerConfig {
                poll_interval: Duration::from_millis(50),
                ..WebhookWorkerConfig::default()
            },
            role: outlay::config::Role::All,
            rail,
            trust_forwarded_for: false,
            max_in_flight,
            sftp: None,
            reports: Default::default(),
            keys: Some(sandbox_keys(&database_url).await),
        };
        let server = start_with_clock(settings, clock.clone()).await.expect("server starts");
        let first = match (&server.first_start, sandbox) {
            (Some(c), true) => Credentials {
                account_id: c.account_id.clone(),
                client_id: c.client_id.clone(),
                api_key: c.api_key.clone(),
            },
            (None, false) => {
                Credentials { account_id: String::new(), client_id: String::new(), api_key: String::new() }
            }
            (first, _) => panic!("sandbox={sandbox} but first-start account {first:?}"),
        };
        Self {
            base: format!("http://{}", server.addr),
            database_url,
            clock,
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            server: Some(server),
            platform: first,
            _dir: dir,
        }
    }

    /// Another node on the same database and the same clock.
    pub async fn spawn_peer(&self, role: outlay::config::Role, settle_after: Duration) -> Server {
        let settings = ServeSettings {
            database_url: self.database_url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            sandbox: true,
            settle_after,
            engine: EngineConfig::default(),
            metrics_listen: None,
            webhooks: WebhookWorkerConfig {
                poll_interval: Duration::from_millis(50),
                ..WebhookWorkerConfig::default()
            },
            role,
            rail: Default::default(),
            trust_forwarded_for: false,
            max_in_flight: outlay_api::DEFAULT_MAX_IN_FLIGHT,
            sftp: None,
            reports: Default::default(),
            keys: Some(sandbox_keys(&self.database_url).await),
        };
        start_with_clock(settings, self.clock.clone()).await.expect("peer starts")
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean shutdown");
        }
    }

    /// Stop the server and drop a PostgreSQL test database (SQLite files go with the tempdir;
    /// databases of failed tests are dropped by `.ci/run`).
    pub async fn finish(mut self) {
        self.stop().await;
        if self.database_url.starts_with("postgres") {
            let name = self.database_url.rsplit('/').next().unwrap_or_default().to_owned();
            if let Ok((client, conn)) = tokio_postgres::connect(&postgres_base_url(), tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            }
        }
    }

    /// Where this app's files live (its sandbox key, and the SQLite database).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Run the real `outlay` binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_outlay"))
            .args(args)
            .args(["--database-url", &self.database_url])
            .env("OUTLAY_LOG", "warn")
            .output()
            .expect("run outlay")
    }

    pub fn create_account(&self, name: &str, parent: Option<&str>) -> Credentials {
        let mut args = vec!["accounts", "create", "--name", name, "--json"];
        if let Some(p) = parent {
            args.extend(["--parent", p]);
        }
        let out = self.cli(&args);
        assert!(out.status.success(), "accounts create failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        Credentials {
            account_id: v["account_id"].as_str().expect("account_id").to_owned(),
            client_id: v["client_id"].as_str().expect("client_id").to_owned(),
            api_key: v["api_key"].as_str().expect("api_key").to_owned(),
        }
    }

    pub fn set_bank_account(&self, account: &str) {
        let out = self.cli(&[
            "accounts",
            "set-bank-account",
            "--account",
            account,
            "--holder",
            "Acme Ltd",
            "--number",
            "000123456789",
            "--country",
            "SG",
        ]);
        assert!(out.status.success(), "set-bank-account: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A new client account with a bank account on file, a token, and `amount` of `currency`
    /// deposited and cleared: the starting point of most tests that move money.
    pub async fn funded_client(&self, name: &str, currency: &str, amount: &str) -> (Credentials, String) {
        let client = self.create_account(name, None);
        self.set_bank_account(&client.account_id);
        let token = self.token(&client).await;
        self.fund(&token, currency, amount).await;
        (client, token)
    }

    /// `outlay ledger verify` must pass after every test that moves money.
    pub fn assert_ledger_verifies(&self) {
        let out = self.cli(&["ledger", "verify"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "ledger verify failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("ledger OK"), "{stdout}");
    }

    /// A second credential of `admin`'s account in `role` (admin, payments, approver, reviewer,
    /// read_only), issued over the API with an admin token.
    pub async fn credential(&self, admin: &Credentials, role: &str) -> Credentials {
        let token = self.token(admin).await;
        let r = self.post("/api/v1/credentials", &token, &json!({ "role": role })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        Credentials {
            account_id: admin.account_id.clone(),
            client_id: r.body["client_id"].as_str().expect("client_id").to_owned(),
            api_key: r.body["api_key"].as_str().expect("api_key").to_owned(),
        }
    }

    pub async fn token(&self, c: &Credentials) -> String {
        let r = self
            .request(
                Method::POST,
                "/api/v1/connect/token",
                None,
                &[("x-client-id", &c.client_id), ("x-api-key", &c.api_key)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["auth_token"].as_str().expect("auth_token").to_owned()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("x-auth-token", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token), &[], Some(body)).await
    }

    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token), &[("x-idempotency-key", key)], Some(body)).await
    }

    /// Deposit and clear funds through the sandbox simulator.
    pub async fn fund(&self, token: &str, currency: &str, amount: &str) -> Value {
        let r = self
            .post(
                "/api/v1/simulation/deposit",
                token,
                &json!({"amount": amount, "currency": currency, "sender_name": "Funding Co"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["deposit_status"], "PENDING");
        let id = r.body["deposit_id"].as_str().expect("deposit_id").to_owned();
        let r = self
            .post(&format!("/api/v1/simulation/deposit/{id}"), token, &json!({"deposit_status": "COMPLETED"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
    }

    pub async fn balance(&self, token: &str, currency: &str) -> Value {
        let r = self.get(&format!("/api/v1/balances/{currency}"), token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
    }
}

/// Every error is UQPAY's envelope.
pub fn assert_envelope(r: &Response, status: StatusCode, kind: &str, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["type"], kind, "{}", r.text);
    assert_eq!(r.body["code"], code, "{}", r.text);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
}

/// `outlay serve` as a separate process, for tests that kill it.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub base: String,
    /// Whether it created (and printed) a first-start account.
    pub created_account: bool,
}

impl ServeProcess {
    pub fn start(database_url: &str) -> Self {
        Self::start_with(
            &["--listen", "127.0.0.1:0", "--database-url", database_url, "--sandbox-settle-after-ms", "86400000"],
            &[],
        )
    }

    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        // Its default data directory (report files, the sandbox key) goes under the system's
        // temporary directory, never into the source tree.
        let cwd = std::env::temp_dir().join(format!("outlay-serve-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&cwd).expect("working directory");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_outlay"))
            .current_dir(&cwd)
            .arg("serve")
            .args(args)
            .envs(envs.iter().copied())
            .env("OUTLAY_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn outlay serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (base, created_account) = loop {
            let line = lines.next().expect("outlay serve printed its address").expect("line");
            if let Some(rest) = line.split("Outlay is running at ").nth(1) {
                break (
                    rest.split_whitespace().next().expect("address").to_owned(),
                    line.contains("account was created"),
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, created_account }
    }

    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        self.child.wait().expect("wait")
    }
}

/// A real HTTP receiver for webhooks on 127.0.0.1: it verifies every request's signature with
/// the secrets it trusts (`outlay_core::webhooks::verify`), records the verified events it
/// accepts, and answers 200 unless told to answer something else.
pub struct WebhookReceiver {
    pub url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ReceiverState {
    secrets: std::sync::Mutex<Vec<String>>,
    /// 0 means 200.
    answer: std::sync::atomic::AtomicU16,
    received: std::sync::Mutex<Vec<ReceivedWebhook>>,
    requests: std::sync::atomic::AtomicUsize,
    bad_signatures: std::sync::atomic::AtomicUsize,
}

/// One verified, accepted delivery.
#[derive(Clone, Debug)]
pub struct ReceivedWebhook {
    pub envelope: Value,
    pub event_id: String,
    pub delivery_id: String,
    pub timestamp: String,
}

impl ReceivedWebhook {
    pub fn event_type(&self) -> &str {
        self.envelope["event_type"].as_str().unwrap_or_default()
    }
}

async fn receive_webhook(
    axum::extract::State(state): axum::extract::State<Arc<ReceiverState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use std::sync::atomic::Ordering;
    state.requests.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (timestamp, signature) = (header("x-wk-timestamp"), header("x-wk-signature"));
    let verified = state
        .secrets
        .lock()
        .expect("secrets")
        .iter()
        .any(|secret| outlay_core::webhooks::verify(secret, &body, &timestamp, &signature));
    // Outlay sends Unix milliseconds.
    let millis = outlay_core::webhooks::parse_timestamp_millis(&timestamp).is_some_and(|ms| ms > 1_000_000_000_000);
    if !verified || !millis {
        state.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    match state.answer.load(Ordering::SeqCst) {
        0 | 200 => {}
        code => return axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
    }
    let envelope: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.lock().expect("received").push(ReceivedWebhook {
        envelope,
        event_id: header("x-wk-event-id"),
        delivery_id: header("x-wk-delivery-id"),
        timestamp,
    });
    axum::http::StatusCode::OK
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        let app = axum::Router::new().route("/hooks", axum::routing::post(receive_webhook)).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state, task }
    }

    /// Verify signatures with this secret from now on (besides any trusted before).
    pub fn trust(&self, secret: &str) {
        self.state.secrets.lock().expect("secrets").push(secret.to_owned());
    }

    /// Verify signatures with this secret only.
    pub fn trust_only(&self, secret: &str) {
        *self.state.secrets.lock().expect("secrets") = vec![secret.to_owned()];
    }

    /// Answer this status to every correctly signed request (200 records it).
    pub fn answer(&self, status: u16) {
        self.state.answer.store(status, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.received.lock().expect("received").clone()
    }

    /// Every request, accepted or not.
    pub fn requests(&self) -> usize {
        self.state.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn bad_signatures(&self) -> usize {
        self.state.bad_signatures.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wait (up to 15 s) until what was received satisfies `done`.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[ReceivedWebhook]) -> bool) -> Vec<ReceivedWebhook> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; received {:?}",
                received.iter().map(ReceivedWebhook::event_type).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Singapore company paid over FAST: the beneficiary most tests pay.
pub fn sg_company() -> Value {
    json!({
        "entity_type": "COMPANY", "company_name": "Lion City Trading Pte Ltd", "payment_method": "LOCAL",
        "bank_details": {"bank_country_code": "SG", "account_currency_code": "SGD",
                         "account_holder": "Lion City Trading Pte Ltd", "account_number": "0123456789",
                         "swift_code": "DBSSSGSG", "clearing_system": "FAST"}
    })
}
