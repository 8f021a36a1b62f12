//! The real server on port 0 with a fresh database: a new SQLite file, or a new
//! PostgreSQL database on the cluster named by `AURASPEAK_TEST_PG_URL` (the approach of
//! `server/tests/support/harness.rs`, reduced to what these tests need).
//!
//! Each behaviour is written once as `async fn name(backend: Backend)` and listed in
//! `backend_tests!`, which emits one test per backend. Without `AURASPEAK_TEST_PG_URL`
//! the PostgreSQL variants say so and pass on a developer machine, but fail under
//! `CI=true`, so CI cannot silently skip a backend.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use auraspeak_server::{Config, RunningServer};
use sqlx::Connection as _;

pub const PASSWORD: &str = "correct-horse-battery-42";
/// base64 of 32 bytes of 0x07; [`JWT_SECRET`] lets a test mint tokens the server accepts.
pub const JWT_SECRET_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const JWT_SECRET: [u8; 32] = [7u8; 32];

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
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

/// A number no other call in this process returns, for unique names.
pub fn unique() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

struct TestDb {
    url: String,
    admin_url: Option<String>,
    name: String,
    dir: PathBuf,
}

impl TestDb {
    async fn create(backend: &Backend) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("auraspeak_e2e{}_{}_{}", std::process::id(), n, nanos % 1_000_000);
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

    async fn drop_now(self) {
        if let Some(admin_url) = &self.admin_url
            && let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok();
            admin.close().await.ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }

    fn config(&self) -> Config {
        let mut config = Config { data_dir: self.dir.clone(), ..Config::default() };
        config.database.url = self.url.clone();
        config.http.listen = "127.0.0.1:0".parse().expect("valid address");
        // A free media port per server: tests run in parallel.
        config.voice.udp_listen = "127.0.0.1:0".parse().expect("valid address");
        config.rate_limit.enabled = false;
        config.auth.jwt_secret = JWT_SECRET_B64.into();
        config.http.shutdown_grace_secs = 5;
        config
    }
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>`
    pub base: String,
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
        Self { base: format!("http://{}", server.addr()), server: Some(server), db: Some(db) }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running().addr()
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("running")
    }

    /// The voice relay's UDP port.
    pub fn voice_addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").voice_addr().expect("voice enabled")
    }

    /// Stops the server and starts it again on the same database and ports, as an admin's
    /// restart or upgrade does; clients have to find their way back by themselves.
    pub async fn restart(&mut self) {
        let server = self.server.take().expect("running");
        let http = server.addr();
        let voice = server.voice_addr();
        server.shutdown().await.expect("clean shutdown");
        let mut config = self.db.as_ref().expect("database").config();
        config.http.listen = http;
        if let Some(voice) = voice {
            config.voice.udp_listen = voice;
        }
        self.server = Some(auraspeak_server::start(config).await.expect("server restarts"));
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        if let Some(db) = self.db.take() {
            db.drop_now().await;
        }
    }
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

/// A binary of the workspace: the one `env` names, else the one next to this test's
/// executable (`target/<profile>/`), where `scripts/test.sh` builds them all first.
pub fn sibling_binary(name: &str, env: &str) -> PathBuf {
    if let Some(bin) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "{env}={} is not a file", bin.display());
        return bin;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: build with `cargo build --workspace --bins` or set {env}",
        bin.display()
    );
    bin
}
