//! The server as an operator sees it: probes, the OpenAPI document, graceful shutdown
//! with requests in flight, and the real binary's flags, config layers and SIGTERM.

#[path = "support/harness.rs"]
mod harness;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Backend, PASSWORD, TestDb, TestServer};
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(probes_and_openapi, shutdown_finishes_in_flight_requests);

async fn probes_and_openapi(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (status, health) = s.get("/healthz", None).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, ready) = s.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    let expected_db = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres { .. } => "postgres",
    };
    assert_eq!(ready["database"], expected_db);

    let resp = s.http.get(s.url("/healthz")).send().await.expect("send");
    assert!(resp.headers().get("x-request-id").is_some(), "every response carries a request id");
    // A client cannot choose the id our logs file its request under.
    let chosen = "attacker-chosen-id";
    let resp = s.http.get(s.url("/no-such-route")).header("x-request-id", chosen).send().await;
    let resp = resp.expect("send");
    let id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(id.as_deref().is_some_and(|id| id != chosen && id.parse::<i64>().is_ok()), "{id:?}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["request_id"].as_str(), id.as_deref(), "the error names our id");

    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let expected = [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/sessions", "get"),
        ("/api/v1/auth/sessions/{session_id}", "delete"),
        ("/api/v1/users/@me", "get"),
        ("/api/v1/users/@me", "patch"),
        ("/api/v1/users/@me/password", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/openapi.json", "get"),
    ];
    // The document is generated from the router itself; every operation it lists must be
    // described, tagged and answer with something documented.
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} untagged"
            );
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} undocumented"
            );
        }
    }
    for (path, method) in expected {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from OpenAPI");
    }
    for schema in ["RegisterRequest", "AuthResponse", "ErrorBody", "ErrorCode", "SessionList"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    assert!(
        doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().is_some_and(|a| a.len() > 10)
    );
    s.stop().await;
}

async fn shutdown_finishes_in_flight_requests(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.register("henry").await;
    // Logins take tens of milliseconds of argon2: several are in flight when the
    // shutdown starts, and every one of them must still be answered.
    let mut logins = Vec::new();
    for _ in 0..6 {
        let http = s.http.clone();
        let url = s.url("/api/v1/auth/login");
        logins.push(tokio::spawn(async move {
            http.post(url)
                .json(&json!({"login": "henry", "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let base = s.base.clone();
    s.stop().await;
    for login in logins {
        assert_eq!(login.await.expect("task").expect("answered, not cut off"), StatusCode::OK);
    }
    // And the listener is closed afterwards.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_lost_postgres() {
    let Some(backend) = Backend::postgres() else { return };
    let db = TestDb::create(&backend).await;
    let mut config = db.config();
    config.database.max_connections = 2;
    let server = auraspeak_server::start(config).await.expect("starts");
    let url = format!("http://{}/readyz", server.addr());
    assert_eq!(reqwest::get(&url).await.expect("send").status(), StatusCode::OK);
    let Backend::Postgres { admin_url } = &backend else { unreachable!() };
    let name = db.url.rsplit('/').next().expect("db name").to_owned();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await.expect("admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .expect("drop");
    let resp = reqwest::get(&url).await.expect("send");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable");
    server.shutdown().await.expect("stops");
    db.drop_now().await;
}

/// `sslmode=require` is honoured (review L13, PostgreSQL TLS): the server either speaks TLS
/// to the database or refuses to start because the database offers none. Built without a
/// TLS driver it refused every such URL, so remote databases could only be reached in
/// plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_urls_can_require_tls() {
    let Some(backend) = Backend::postgres() else { return };
    let db = TestDb::create(&backend).await;
    let mut config = db.config();
    config.database.url = format!("{}?sslmode=require", db.url);
    match auraspeak_server::start(config).await {
        Ok(server) => {
            server.shutdown().await.expect("stops");
        }
        Err(e) => {
            let text = format!("{e:?} {e}");
            assert!(!text.contains("without TLS support"), "no TLS driver: {text}");
            assert!(text.contains("TLS"), "refused for another reason: {text}");
        }
    }
    db.drop_now().await;
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auraspeak-server"));
    // Keep the developer's or CI's own AURASPEAK_* settings out of these runs.
    for (k, _) in std::env::vars() {
        if k.starts_with("AURASPEAK_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn cli_help_and_config_commands() {
    let help = binary().arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for flag in
        ["--config", "--data-dir", "--listen", "--database-url", "--log-level", "print-config"]
    {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
    let defaults = binary().arg("default-config").output().expect("runs");
    assert_eq!(String::from_utf8_lossy(&defaults.stdout), auraspeak_server::config::DEFAULT_TOML);

    let shown = binary()
        .args(["print-config", "--listen", "0.0.0.0:9999"])
        .env("AURASPEAK_DATABASE__URL", "postgres://app:hunter2@db.internal/aura")
        .env("AURASPEAK_AUTH__JWT_SECRET", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert!(text.contains("listen = \"0.0.0.0:9999\""), "{text}");
    assert!(text.contains("postgres://app:***@db.internal/aura"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("c2VjcmV0"), "secrets leaked:\n{text}");

    let bad =
        binary().args(["print-config"]).env("AURASPEAK_NODE_ID", "many").output().expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("AURASPEAK_NODE_ID"));
}

#[test]
fn binary_serves_and_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("auraspeak-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = binary()
        .args(["--data-dir", dir.to_str().expect("utf-8 path"), "--listen", "127.0.0.1:0"])
        .env("AURASPEAK_LOG__FORMAT", "json")
        .env("AURASPEAK_VOICE__UDP_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().expect("prints a line").expect("utf-8");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let health = blocking_status(&format!("http://{addr}/readyz"));
    assert_eq!(health, 200, "serves on the printed address");
    assert!(dir.join("auraspeak.db").exists(), "embedded database in the data dir");
    assert!(dir.join("jwt-secret").exists(), "signing key in the data dir");

    let started = Instant::now();
    let kill =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Polls a URL from synchronous code until it answers (the binary needs a moment to
/// bind); returns the status, or 0 if it never answered.
fn blocking_status(url: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        for _ in 0..50 {
            if let Ok(resp) = reqwest::get(url).await {
                return resp.status().as_u16();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        0
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_per_data_directory() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let first = auraspeak_server::start(db.config()).await.expect("first server starts");
    let second = auraspeak_server::start(db.config()).await;
    let err = second.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("in use"), "a second server on the same data dir must refuse: {err:?}");
    first.shutdown().await.expect("stops");
    // Once the first is gone, the directory is free again.
    let again = auraspeak_server::start(db.config()).await.expect("starts after the first stopped");
    again.shutdown().await.expect("stops");
    db.drop_now().await;
}
