//! Ending a login ends its gateway sessions and their voice at once, whatever the client
//! does: the clients here never send a heartbeat (the server would otherwise only notice
//! at the next one, or 45 s later), and some are disconnected and sitting in the resume
//! window. Logout, remote revoke, password change and the administrator's ban-user (from
//! another process) are covered, and so are kicks and server bans for voice.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auraspeak_shared::v1::gateway::{ClientFrame, Event, ServerFrame, close};
use auraspeak_shared::{ChannelId, Snowflake};
use gateway_client::{Gw, Next};
use harness::{Backend, PASSWORD, TestDb, TestServer, access};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    logout_revoke_and_password_change_close_silent_clients_at_once,
    revoked_session_in_resume_window_loses_voice_and_cannot_resume,
    kick_and_server_ban_end_voice_at_once,
    losing_connect_or_view_ends_voice_at_once,
    admin_ban_from_another_process_closes_sessions_within_a_second,
);

/// What "at once" means here: the issue asks for 1 s; the server acts on the event bus,
/// so this is mostly the test's own round trips.
const AT_ONCE: Duration = Duration::from_secs(1);
const SOON: Duration = Duration::from_secs(5);

/// The session is told it is over and closed with "session revoked", within `AT_ONCE`
/// of `since`, without having sent anything.
async fn assert_revoked(gw: &mut Gw, since: Instant, what: &str) {
    let deadline = since + AT_ONCE;
    let left = |now: Instant| deadline.saturating_duration_since(now);
    assert_eq!(
        gw.next_control(left(Instant::now())).await,
        Next::Frame(ServerFrame::InvalidSession { resumable: false }),
        "{what}: invalid_session within {AT_ONCE:?}"
    );
    assert_eq!(
        gw.next_control(left(Instant::now())).await,
        Next::Closed(Some(close::SESSION_REVOKED)),
        "{what}: closed within {AT_ONCE:?}"
    );
    eprintln!("{what}: closed {:?} after the change", since.elapsed());
}

/// A second login of the same account, on another device.
async fn second_login(s: &TestServer, username: &str) -> Value {
    let (status, body) = s.login(username, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn logout_revoke_and_password_change_close_silent_clients_at_once(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let first = s.register("alice").await;

    // Logout.
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&access(&first)).await;
    let t = Instant::now();
    s.send(Method::POST, "/api/v1/auth/logout", Some(&access(&first)), None).await;
    assert_revoked(&mut gw, t, "logout").await;

    // Revoking a session from another device.
    let phone = second_login(&s, "alice").await;
    let laptop = second_login(&s, "alice").await;
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&access(&phone)).await;
    let mut untouched = Gw::connect(&s.base).await;
    untouched.identify(&access(&laptop)).await;
    let sid = phone["tokens"]["session_id"].as_str().expect("session id").to_owned();
    let t = Instant::now();
    let (status, _) = s
        .send(Method::DELETE, &format!("/api/v1/auth/sessions/{sid}"), Some(&access(&laptop)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_revoked(&mut gw, t, "remote revoke").await;

    // A password change ends every other device's session but keeps the caller's.
    let mut other = Gw::connect(&s.base).await;
    other.identify(&access(&second_login(&s, "alice").await)).await;
    let t = Instant::now();
    let (status, body) = s
        .post(
            "/api/v1/users/@me/password",
            Some(&access(&laptop)),
            json!({"current_password": PASSWORD, "new_password": "another-long-passphrase-7"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_revoked(&mut other, t, "password change").await;
    untouched.send(&ClientFrame::Heartbeat { seq: 0 }).await;
    assert!(
        matches!(untouched.next_control(SOON).await, Next::Frame(ServerFrame::HeartbeatAck { .. })),
        "the session that changed the password stays"
    );
    s.stop().await;
}

struct Voice {
    owner: String,
    server: String,
    voice: String,
}

/// An owner with a server that has a voice channel, and `member` invited into it.
async fn voice_setup(s: &TestServer, member: &str) -> Voice {
    let owner = access(&s.register("owner").await);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Hall"})).await;
    let server = detail["server"]["id"].as_str().expect("id").to_owned();
    let (status, channel) = s
        .post(
            &format!("/api/v1/servers/{server}/channels"),
            Some(&owner),
            json!({"name": "Talk", "kind": "voice"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let voice = channel["id"].as_str().expect("channel id").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{server}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code");
    let (status, _) = s.post(&format!("/api/v1/invites/{code}"), Some(member), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    Voice { owner, server, voice }
}

async fn join_voice(gw: &mut Gw, channel: &str) {
    let id: Snowflake = channel.parse().expect("snowflake");
    gw.send(&ClientFrame::VoiceJoin {
        channel_id: ChannelId(id),
        self_mute: false,
        self_deaf: false,
    })
    .await;
    match gw.next_control(SOON).await {
        Next::Frame(ServerFrame::VoiceReady { .. }) => {}
        other => panic!("expected voice_ready, got {other:?}"),
    }
}

/// Waits (up to `within` from `since`) for the watcher to see `user` leave voice.
async fn sees_voice_left(watcher: &mut Gw, user: &str, since: Instant, within: Duration) -> bool {
    loop {
        let left = (since + within).saturating_duration_since(Instant::now());
        match watcher.any_event(left).await {
            Some((_, Event::VoiceStateUpdate { state }))
                if state.user_id.to_string() == user && state.channel_id.is_none() =>
            {
                eprintln!("voice ended {:?} after the change", since.elapsed());
                return true;
            }
            Some(_) => continue,
            None => return false,
        }
    }
}

/// Waits for the watcher to see `user` in voice.
async fn sees_voice_joined(watcher: &mut Gw, user: &str) {
    while let Some((_, event)) = watcher.any_event(SOON).await {
        if let Event::VoiceStateUpdate { state } = event
            && state.user_id.to_string() == user
            && state.channel_id.is_some()
        {
            return;
        }
    }
    panic!("{user} never showed up in voice");
}

async fn revoked_session_in_resume_window_loses_voice_and_cannot_resume(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let phone = s.register("bob").await;
    let bob = phone["user"]["id"].as_str().expect("id").to_owned();
    let v = voice_setup(&s, &access(&phone)).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&v.owner).await;

    let mut gw = Gw::connect(&s.base).await;
    let ready = gw.identify(&access(&phone)).await;
    join_voice(&mut gw, &v.voice).await;
    sees_voice_joined(&mut watcher, &bob).await;
    // The phone drops off the network: its session waits for a resume, voice and all.
    gw.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let laptop = second_login(&s, "bob").await;
    let sid = phone["tokens"]["session_id"].as_str().expect("session id").to_owned();
    let t = Instant::now();
    let (status, _) = s
        .send(Method::DELETE, &format!("/api/v1/auth/sessions/{sid}"), Some(&access(&laptop)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        sees_voice_left(&mut watcher, &bob, t, AT_ONCE).await,
        "voice ended within {AT_ONCE:?}"
    );

    // Nothing can pick the session up again: not with the revoked login's token...
    let mut again = Gw::connect(&s.base).await;
    again
        .send(&ClientFrame::Resume {
            token: access(&phone),
            session_id: ready.session_id.clone(),
            seq: ready.seq,
        })
        .await;
    assert_eq!(again.next_control(SOON).await, Next::Closed(Some(close::AUTHENTICATION_FAILED)));
    // ...nor with a live login of the same account.
    let mut again = Gw::connect(&s.base).await;
    again
        .send(&ClientFrame::Resume {
            token: access(&laptop),
            session_id: ready.session_id,
            seq: ready.seq,
        })
        .await;
    assert_eq!(
        again.next_control(SOON).await,
        Next::Frame(ServerFrame::InvalidSession { resumable: false })
    );
    s.stop().await;
}

async fn kick_and_server_ban_end_voice_at_once(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("carol").await;
    let carol = auth["user"]["id"].as_str().expect("id").to_owned();
    let v = voice_setup(&s, &access(&auth)).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&v.owner).await;

    for action in ["kick", "ban"] {
        if action == "ban" {
            // Back in after the kick.
            let (_, invite) = s
                .post(&format!("/api/v1/servers/{}/invites", v.server), Some(&v.owner), json!({}))
                .await;
            let code = invite["code"].as_str().expect("code");
            let (status, _) =
                s.post(&format!("/api/v1/invites/{code}"), Some(&access(&auth)), json!({})).await;
            assert_eq!(status, StatusCode::OK);
        }
        let mut gw = Gw::connect(&s.base).await;
        gw.identify(&access(&auth)).await;
        join_voice(&mut gw, &v.voice).await;
        sees_voice_joined(&mut watcher, &carol).await;
        let t = Instant::now();
        let (method, path) = if action == "kick" {
            (Method::POST, format!("/api/v1/servers/{}/members/{carol}/kick", v.server))
        } else {
            (Method::PUT, format!("/api/v1/servers/{}/bans/{carol}", v.server))
        };
        let (status, body) = s.send(method, &path, Some(&v.owner), Some(json!({}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{action}: {body}");
        assert!(
            sees_voice_left(&mut watcher, &carol, t, AT_ONCE).await,
            "{action} ends voice within {AT_ONCE:?}"
        );
    }
    s.stop().await;
}

async fn losing_connect_or_view_ends_voice_at_once(backend: Backend) {
    const VIEW: u64 = 1 << 0;
    const CONNECT: u64 = 1 << 12;
    let s = TestServer::start(&backend).await;
    let auth = s.register("erin").await;
    let erin = auth["user"]["id"].as_str().expect("id").to_owned();
    let v = voice_setup(&s, &access(&auth)).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&v.owner).await;
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&access(&auth)).await;
    let overwrite = format!("/api/v1/channels/{}/overwrites/member/{erin}", v.voice);
    for (what, deny) in [("CONNECT", CONNECT), ("VIEW_CHANNEL", VIEW)] {
        join_voice(&mut gw, &v.voice).await;
        sees_voice_joined(&mut watcher, &erin).await;
        let t = Instant::now();
        let (status, body) = s
            .send(
                Method::PUT,
                &overwrite,
                Some(&v.owner),
                Some(json!({"allow": "0", "deny": deny.to_string()})),
            )
            .await;
        assert!(status.is_success(), "{what}: {status} {body}");
        assert!(
            sees_voice_left(&mut watcher, &erin, t, AT_ONCE).await,
            "losing {what} ends voice within {AT_ONCE:?}"
        );
        let (status, _) = s.send(Method::DELETE, &overwrite, Some(&v.owner), None).await;
        assert!(status.is_success());
    }
    s.stop().await;
}

async fn admin_ban_from_another_process_closes_sessions_within_a_second(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let server = auraspeak_server::start(db.config()).await.expect("server starts");
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let auth: Value = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": "dave", "email": "dave@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let mut gw = Gw::connect(&base).await;
    gw.identify(&access(&auth)).await;

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
    cmd.args(["admin", "ban-user", "--user", "dave"]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().expect("stdin").write_all(b"").expect("stdin");
    let out = child.wait_with_output().expect("finishes");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The command has committed; this server learns of it from the database.
    assert_revoked(&mut gw, Instant::now(), "admin ban-user").await;
    server.shutdown().await.expect("clean shutdown");
    db.drop_now().await;
}
