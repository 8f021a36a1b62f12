//! With `sentry.dsn` set, an error inside the real server binary reaches a Sentry
//! endpoint (here a local capture server) as an envelope, without personal data.

#[path = "support/harness.rs"]
mod harness;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Backend, PASSWORD, TestDb};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A minimal HTTP endpoint that stores every request body it receives.
async fn capture_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // Read headers, then as much body as Content-Length says.
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            store
                                .lock()
                                .expect("lock")
                                .push(String::from_utf8_lossy(&buf[end + 4..]).to_string());
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://public@{addr}/42"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_errors_reach_sentry_without_personal_data() {
    // An error the server can be driven into from outside: its PostgreSQL database
    // vanishing under it.
    let Some(backend) = Backend::postgres() else { return };
    let db = TestDb::create(&backend).await;
    let (dsn, envelopes) = capture_endpoint().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_auraspeak-server"))
        .args([
            "--data-dir",
            db.dir.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .env("AURASPEAK_SENTRY__DSN", &dsn)
        .env("AURASPEAK_VOICE__UDP_LISTEN", "127.0.0.1:0")
        .env("AURASPEAK_SENTRY__ENVIRONMENT", "test")
        .env("AURASPEAK_DATABASE__MAX_CONNECTIONS", "2")
        .env("AURASPEAK_RATE_LIMIT__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    let base =
        line.split_whitespace().find(|w| w.starts_with("http://")).expect("address").to_owned();
    let http = reqwest::Client::new();
    let email = "private.person@example.com";
    let reg = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": "reported", "email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    let body: serde_json::Value = reg.json().await.expect("json");
    let token = body["tokens"]["access_token"].as_str().expect("token").to_owned();
    // A reused refresh token is logged (a breadcrumb) with the client's address. Each use
    // is a request of its own, so the breadcrumb reaches the worker threads' scopes.
    for _ in 0..4 {
        let login = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"login": "reported", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        let login: serde_json::Value = login.json().await.expect("json");
        let refresh = login["tokens"]["refresh_token"].as_str().expect("refresh").to_owned();
        for _ in 0..2 {
            http.post(format!("{base}/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": refresh}))
                .send()
                .await
                .expect("refresh");
        }
    }

    let Backend::Postgres { admin_url } = &backend else { unreachable!() };
    let name = db.url.rsplit('/').next().expect("name").to_owned();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await.expect("admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .expect("drop");
    let failed = http
        .get(format!("{base}/api/v1/users/@me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert!(failed.status().is_server_error(), "{}", failed.status());

    let started = Instant::now();
    let report = loop {
        let found = envelopes
            .lock()
            .expect("lock")
            .iter()
            .find(|b| b.contains("\"level\":\"error\""))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no error envelope arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(report.contains("\"environment\":\"test\""), "{report}");
    assert!(report.contains("database"), "{report}");
    for private in [email, &token, "127.0.0.1\",\"ip_address"] {
        assert!(!report.contains(private), "personal data {private:?} in {report}");
    }
    // The event itself (the envelope's headers name the DSN's host, which is no client).
    let event = report.lines().find(|l| l.contains("\"level\":\"error\"")).expect("event");
    assert!(!event.contains("127.0.0.1"), "a client address in {event}");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    db.drop_now().await;
}
