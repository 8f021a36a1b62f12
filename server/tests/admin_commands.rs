//! `auraspeak-server admin …` through the real binary, against both backends, with a
//! server running on the same database: accounts, invites, password resets, instance
//! bans, and (embedded database) backup then restore giving back exactly the saved data.

#[path = "support/harness.rs"]
mod harness;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use harness::{Backend, TestDb, access, assert_error};
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(admin_manages_accounts_invites_and_backups);

const BOSS_PASSWORD: &str = "a-strong-admin-passphrase";

fn admin(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auraspeak-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AURASPEAK_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--data-dir").arg(&db.dir);
    if !db.url.is_empty() {
        cmd.args(["--database-url", &db.url]);
    }
    cmd.arg("admin").args(args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("finishes")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> (StatusCode, serde_json::Value) {
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": user, "password": password}))
        .send()
        .await
        .expect("login request");
    let status = resp.status();
    (status, resp.json().await.expect("json"))
}

async fn admin_manages_accounts_invites_and_backups(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let made = admin(
        &db,
        &[
            "create-owner",
            "--username",
            "boss",
            "--email",
            "boss@example.com",
            "--server-name",
            "HQ",
            "--password-stdin",
        ],
        &format!("{BOSS_PASSWORD}\n"),
    );
    assert!(made.status.success(), "{}", text(&made));
    assert!(text(&made).contains("created community HQ"), "{}", text(&made));
    let again =
        admin(&db, &["create-owner", "--username", "BOSS", "--email", "other@example.com"], "");
    assert_eq!(again.status.code(), Some(2), "duplicate name refused: {}", text(&again));
    let bad = admin(&db, &["create-owner", "--username", "x", "--email", "nope"], "");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let server = auraspeak_server::start(db.config()).await.expect("server starts");
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let (status, session) = login(&http, &base, "boss", BOSS_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let token = access(&session);

    let invite = admin(&db, &["create-invite", "--server", "HQ", "--max-uses", "1"], "");
    assert!(invite.status.success(), "{}", text(&invite));
    let code = String::from_utf8_lossy(&invite.stdout).trim().to_owned();
    let preview = http.get(format!("{base}/api/v1/invites/{code}")).send().await.expect("preview");
    assert_eq!(preview.status(), StatusCode::OK);
    let missing = admin(&db, &["create-invite", "--server", "Nowhere"], "");
    assert_eq!(missing.status.code(), Some(2));

    let listed = admin(&db, &["list-users"], "");
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("boss\tboss@example.com"),
        "{}",
        text(&listed)
    );

    let reset = admin(&db, &["reset-password", "--user", "boss@example.com"], "");
    assert!(reset.status.success(), "{}", text(&reset));
    let new_password = String::from_utf8_lossy(&reset.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password: ").map(str::to_owned))
        .expect("generated password printed");
    assert_eq!(login(&http, &base, "boss", BOSS_PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&http, &base, "boss", &new_password).await.0, StatusCode::OK);
    let me =
        http.get(format!("{base}/api/v1/users/@me")).bearer_auth(&token).send().await.expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "old sessions ended by the reset");

    let ban = admin(&db, &["ban-user", "--user", "boss", "--reason", "testing"], "");
    assert!(ban.status.success(), "{}", text(&ban));
    let refused = login(&http, &base, "boss", &new_password).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "account_disabled");
    let wrong = login(&http, &base, "boss", "not-the-password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(admin(&db, &["unban-user", "--user", "boss"], "").status.success());
    assert_eq!(login(&http, &base, "boss", &new_password).await.0, StatusCode::OK);
    assert_eq!(admin(&db, &["ban-user", "--user", "ghost"], "").status.code(), Some(2));

    let backup = db.dir.join("backup.db");
    let made_backup = admin(&db, &["backup", "--out", backup.to_str().expect("utf-8")], "");
    match backend {
        Backend::Postgres { .. } => {
            assert_eq!(made_backup.status.code(), Some(2), "{}", text(&made_backup));
            assert!(text(&made_backup).contains("pg_dump"));
            server.shutdown().await.expect("stops");
        }
        Backend::Sqlite => {
            assert!(made_backup.status.success(), "{}", text(&made_backup));
            // Data written after the backup must be gone after the restore.
            let late = http
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({"username": "latecomer", "email": "late@example.com", "password": BOSS_PASSWORD}))
                .send()
                .await
                .expect("register");
            assert_eq!(late.status(), StatusCode::CREATED);
            let busy = admin(&db, &["restore", "--from", backup.to_str().expect("utf-8")], "");
            assert_eq!(
                busy.status.code(),
                Some(2),
                "refused while the server runs: {}",
                text(&busy)
            );
            server.shutdown().await.expect("stops");
            let restored = admin(&db, &["restore", "--from", backup.to_str().expect("utf-8")], "");
            assert!(restored.status.success(), "{}", text(&restored));
            let server = auraspeak_server::start(db.config()).await.expect("restarts");
            let base = format!("http://{}", server.addr());
            assert_eq!(login(&http, &base, "boss", &new_password).await.0, StatusCode::OK);
            assert_eq!(
                login(&http, &base, "latecomer", BOSS_PASSWORD).await.0,
                StatusCode::UNAUTHORIZED
            );
            let (_, session) = login(&http, &base, "boss", &new_password).await;
            let servers: serde_json::Value = http
                .get(format!("{base}/api/v1/servers"))
                .bearer_auth(access(&session))
                .send()
                .await
                .expect("servers")
                .json()
                .await
                .expect("json");
            assert_eq!(servers[0]["name"], "HQ");
            server.shutdown().await.expect("stops");
            let not_db = db.dir.join("jwt-secret");
            let junk = admin(&db, &["restore", "--from", not_db.to_str().expect("utf-8")], "");
            assert_eq!(junk.status.code(), Some(2), "{}", text(&junk));
        }
    }
    db.drop_now().await;
}
