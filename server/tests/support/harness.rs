//! Test harness: the real server on port 0 with a fresh database (a new SQLite file, or a
//! new PostgreSQL database on the cluster named by `AURASPEAK_TEST_PG_URL`), driven by a
//! real HTTP client.
//!
//! Every behaviour test is written once as `async fn name(backend: Backend)` and listed
//! in `backend_tests!`, which emits one `#[tokio::test]` per backend. Without
//! `AURASPEAK_TEST_PG_URL` the PostgreSQL variants say so and pass on a developer machine,
//! but fail under `CI=true`, so CI cannot silently skip a backend.
#![allow(dead_code, unreachable_pub, clippy::field_reassign_with_default)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use auraspeak_server::{Config, RunningServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;

pub const PASSWORD: &str = "correct-horse-battery-42";
/// base64 of 32 bytes of 0x07: tests forge tokens with it to probe validation.
pub const JWT_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const JWT_SECRET: [u8; 32] = [7u8; 32];

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
    /// The PostgreSQL backend if a test cluster is configured. Under CI its absence is a
    /// failure, because then half the suite would not have run.
    pub fn postgres() -> Option<Self> {
        match std::env::var("AURASPEAK_TEST_PG_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres { admin_url: url }),
            _ => {
                assert!(
                    std::env::var("CI").map_or(true, |v| v != "true"),
                    "CI=true but AURASPEAK_TEST_PG_URL is not set: PostgreSQL tests cannot run"
                );
                eprintln!(
                    "AURASPEAK_TEST_PG_URL not set: PostgreSQL variant not run (see scripts/test.sh)"
                );
                None
            }
        }
    }
}

/// A fresh, empty database for one test, removed again by [`TestDb::drop_now`].
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    pub dir: PathBuf,
}

impl TestDb {
    pub async fn create(backend: &Backend) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("auraspeak_t{}_{}_{}", std::process::id(), n, rand_suffix());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("temp dir");
        match backend {
            Backend::Sqlite => Self { url: String::new(), admin_url: None, name, dir },
            Backend::Postgres { admin_url } => {
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .expect("connect to test PostgreSQL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = match admin_url.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("AURASPEAK_TEST_PG_URL must end in /<database>"),
                };
                Self { url, admin_url: Some(admin_url.clone()), name, dir }
            }
        }
    }

    pub async fn drop_now(self) {
        if let Some(admin_url) = &self.admin_url
            && let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok();
            admin.close().await.ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }

    /// A configuration pointing at this database, with limits off unless a test wants them.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.data_dir = self.dir.clone();
        config.database.url = self.url.clone();
        config.http.listen = "127.0.0.1:0".parse().expect("valid address");
        config.voice.udp_listen = "127.0.0.1:0".parse().expect("valid address");
        config.rate_limit.enabled = false;
        config.auth.jwt_secret = JWT_SECRET_B64.into();
        config.http.shutdown_grace_secs = 5;
        config
    }
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos % 1_000_000
}

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    server: Option<RunningServer>,
    db: Option<TestDb>,
}

impl TestServer {
    pub async fn start(backend: &Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: &Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create(backend).await;
        let mut config = db.config();
        adjust(&mut config);
        let server = auraspeak_server::start(config).await.expect("server starts");
        Self {
            base: format!("http://{}", server.addr()),
            http: reqwest::Client::new(),
            server: Some(server),
            db: Some(db),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's data directory (database, keys, generated certificates).
    pub fn data_dir(&self) -> PathBuf {
        self.db.as_ref().map(|d| d.dir.clone()).unwrap_or_default()
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("running")
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        if let Some(db) = self.db.take() {
            db.drop_now().await;
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("response body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("non-JSON response {status}: {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, value)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// Registers `username` with [`PASSWORD`] and returns the whole response.
    pub async fn register(&self, username: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({
                    "username": username,
                    "email": format!("{}@example.com", username.to_lowercase()),
                    "password": PASSWORD,
                    "device_name": "test rig",
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        body
    }

    /// Registers through a proxy that reports `forwarded_for` as the client.
    pub async fn register_from(&self, username: &str, forwarded_for: &str) -> Value {
        let resp = self
            .http
            .post(self.url("/api/v1/auth/register"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({
                "username": username,
                "email": format!("{}@example.com", username.to_lowercase()),
                "password": PASSWORD,
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.expect("json")
    }

    pub async fn login(&self, login: &str, password: &str) -> (StatusCode, Value) {
        self.post("/api/v1/auth/login", None, json!({"login": login, "password": password})).await
    }
}

/// The access token of an auth response.
pub fn access(auth: &Value) -> String {
    auth["tokens"]["access_token"].as_str().expect("access token").to_owned()
}

pub fn refresh_token(auth: &Value) -> String {
    auth["tokens"]["refresh_token"].as_str().expect("refresh token").to_owned()
}

/// Asserts an error response: status and stable code.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "body: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "body: {}", got.1);
    assert!(got.1["error"]["message"].is_string(), "body: {}", got.1);
}

#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::harness::Backend::postgres() {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}
