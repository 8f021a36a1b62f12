//! The real `auraspeak` binary against the real server: login, send, tail, saved
//! session and token rotation, and the exit codes scripts rely on.

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use auraspeak_shared::Permissions;
use auraspeak_shared::v1::channels::SetOverwriteRequest;
use auraspeak_shared::v1::messages::{HistoryQuery, Message, SendMessageRequest};
use harness::{Backend, PASSWORD, TestServer};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

backend_tests!(login_send_and_tail, register_and_json_output, errors_have_exit_codes_and_messages);

/// The binary named by `AURASPEAK_BIN`, else the one next to this test executable
/// (`target/<profile>/auraspeak`), which `cargo test --workspace` builds for the client
/// crate's own tests. (Worktrees sharing one target directory overwrite each other's
/// copy there; point `AURASPEAK_BIN` at your own build then.)
fn binary() -> PathBuf {
    harness::sibling_binary("auraspeak", "AURASPEAK_BIN")
}

struct Cli {
    profile: PathBuf,
}

impl Cli {
    fn new(name: &str) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "auraspeak-e2e-cli-{name}-{}-{}",
            std::process::id(),
            harness::unique()
        ));
        Self { profile }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .arg("--profile-dir")
            .arg(&self.profile)
            .args(args)
            .env_remove("AURASPEAK_PASSWORD")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(Duration::from_secs(30), self.command(args).output())
            .await
            .expect("auraspeak finishes")
            .expect("auraspeak runs")
    }

    async fn login(&self, base: &str, user: &str, password: &str) -> Output {
        let mut command = self.command(&["login", "--server", base, "--user", user]);
        command.env("AURASPEAK_PASSWORD", password);
        command.output().await.expect("auraspeak runs")
    }

    fn session_file(&self) -> PathBuf {
        self.profile.join("session.json")
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32, stderr_has: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stdout: {} stderr: {stderr}", text(&out.stdout));
    assert!(stderr.contains(stderr_has), "stderr lacks {stderr_has:?}: {stderr}");
}

async fn login_send_and_tail(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let cli = Cli::new("happy");

    let mut login =
        cli.command(&["login", "--server", &s.base, "--user", "member", "--password-stdin"]);
    let mut child = login.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write password");
    drop(stdin);
    let out = child.wait_with_output().await.expect("login");
    assert_exit(&out, 0, "");
    assert_eq!(text(&out.stdout).trim(), format!("Logged in to {} as member.", s.base));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(cli.session_file()).expect("saved").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the session file holds a refresh token");
    }

    let out = cli.run(&["servers"]).await;
    assert_exit(&out, 0, "");
    assert!(text(&out.stdout).contains("Raid Night  (2 members)"), "{}", text(&out.stdout));
    let out = cli.run(&["channels", "raid night"]).await;
    assert!(text(&out.stdout).contains("#general"), "{}", text(&out.stdout));

    let out = cli.run(&["send", "general", "hello from the cli"]).await;
    assert_exit(&out, 0, "");
    assert!(text(&out.stdout).starts_with("sent "), "{}", text(&out.stdout));
    let out = cli.run(&["--json", "send", "Raid Night/#general", "second"]).await;
    let sent: Message = serde_json::from_slice(&out.stdout).expect("one JSON message");
    assert_eq!((sent.channel_id, sent.content.as_str()), (c.general, "second"));
    let history = c.owner.history(c.general, &HistoryQuery::default()).await.expect("history");
    let contents: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["second", "hello from the cli"]);

    // tail: history first, then one live message, then it exits by itself.
    let mut tail = cli.command(&["tail", "general", "--count", "1", "--history", "5"]);
    let mut child = tail.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn tail");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let following = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(line)) = stderr.next_line().await {
            if line.starts_with("Following #general") {
                return true;
            }
        }
        false
    });
    assert!(following.await.expect("tail starts following in time"), "tail said it follows");
    let member_id = c.member.me().await.expect("me").id;
    let request = SendMessageRequest {
        content: format!("live one for <@{member_id}>"),
        reply_to: None,
        nonce: None,
    };
    c.owner.send_message(c.general, &request).await.expect("owner posts");
    let out = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("tail --count 1 exits after one live message")
        .expect("tail output");
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].ends_with("] member: hello from the cli"), "{lines:?}");
    assert!(lines[1].ends_with("] member: second"), "{lines:?}");
    assert!(lines[2].ends_with("] owner: live one for @member"), "mentions by name: {lines:?}");

    // A refresh rotates the refresh token, and the saved session keeps up with it.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cli.session_file()).expect("read")).expect("json");
    let mut stale = saved.clone();
    stale["credentials"]["access_expires_at_ms"] = 0.into();
    std::fs::write(cli.session_file(), serde_json::to_vec(&stale).expect("json")).expect("write");
    assert_exit(&cli.run(&["servers"]).await, 0, "");
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cli.session_file()).expect("read")).expect("json");
    assert_ne!(after["credentials"]["refresh_token"], saved["credentials"]["refresh_token"]);
    // The rotated session keeps working in the next run.
    assert_exit(&cli.run(&["servers"]).await, 0, "");
    s.stop().await;
}

async fn errors_have_exit_codes_and_messages(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let cli = Cli::new("errors");

    let out = cli.login(&s.base, "member", "not-the-password").await;
    assert_exit(&out, 3, "invalid_credentials");
    assert!(!cli.session_file().exists(), "nothing saved after a failed login");

    assert_exit(&cli.login(&s.base, "member", PASSWORD).await, 0, "");
    assert_exit(&cli.run(&["send", "no-such-channel", "x"]).await, 4, "no channel");
    assert_exit(&cli.run(&["channels", "No Such Server"]).await, 4, "no server");
    assert_exit(&cli.run(&["tail", "no-such-channel"]).await, 4, "no channel");

    // @everyone may no longer post in #general.
    let owner_token = c.owner.access_token().await.expect("token");
    let deny =
        SetOverwriteRequest { allow: Permissions::default(), deny: Permissions::SEND_MESSAGES };
    let url = format!("{}/api/v1/channels/{}/overwrites/role/{}", s.base, c.general, c.server);
    let resp = reqwest::Client::new()
        .put(url)
        .bearer_auth(owner_token)
        .json(&deny)
        .send()
        .await
        .expect("set overwrite");
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_exit(&cli.run(&["send", "general", "x"]).await, 5, "forbidden");

    assert_exit(&cli.run(&["logout"]).await, 0, "");
    assert!(!cli.session_file().exists());
    assert_exit(&cli.run(&["servers"]).await, 3, "not logged in");
    s.stop().await;
}

async fn register_and_json_output(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let cli = Cli::new("register");
    let mut register = cli.command(&[
        "--json",
        "register",
        "--server",
        &s.base,
        "--username",
        "newbie",
        "--email",
        "newbie@example.com",
        "--password-stdin",
    ]);
    let mut child = register.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write password");
    drop(stdin);
    let out = child.wait_with_output().await.expect("register");
    assert_exit(&out, 0, "");
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["user"]["username"], "newbie");
    assert_eq!(shown["server"], s.base.as_str());

    // A newcomer sees no servers until joining one; JSON output is an empty list.
    let out = cli.run(&["--json", "servers"]).await;
    assert_exit(&out, 0, "");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON"),
        serde_json::json!([])
    );
    let invite = c.owner.create_invite(c.server, &Default::default()).await.expect("invite");
    // An invite link for another server is refused with the reason, and nothing joined.
    let out =
        cli.run(&["join", &format!("https://elsewhere.example/invite/{}", invite.code)]).await;
    assert_exit(&out, 1, "elsewhere.example");
    // The link as the invite page shows it.
    let out = cli.run(&["join", &format!("{}/invite/{}", s.base, invite.code)]).await;
    assert_exit(&out, 0, "");
    assert_eq!(text(&out.stdout).trim(), "Joined Raid Night (3 members).");
    let out = cli.run(&["--json", "channels", &c.server.to_string()]).await;
    assert_exit(&out, 0, "");
    let channels: Vec<auraspeak_shared::v1::channels::Channel> =
        serde_json::from_slice(&out.stdout).expect("JSON channels");
    assert!(channels.iter().any(|ch| ch.id == c.general), "{channels:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_self_signed_server_through_the_binary() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| c.tls.self_signed = true).await;
    let pin = s.running().tls_fingerprint().expect("TLS is on").to_owned();
    let base = format!("https://127.0.0.1:{}", s.addr().port());
    let cli = Cli::new("pinned");
    let mut register = cli.command(&[
        "register",
        "--server",
        &base,
        "--username",
        "ann",
        "--email",
        "ann@example.com",
        "--certificate-fingerprint",
        &pin,
    ]);
    register.env("AURASPEAK_PASSWORD", PASSWORD);
    assert_exit(&register.output().await.expect("register"), 0, "");
    // The pin is saved with the session and used by later commands.
    assert_exit(&cli.run(&["servers"]).await, 0, "No servers yet.");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cli.session_file()).expect("read")).expect("json");
    assert_eq!(saved["certificate_sha256"], pin.as_str());

    // Without the pin the same server is refused as unreachable, naming the certificate.
    let unpinned = Cli::new("unpinned");
    let out = unpinned.login(&base, "ann", PASSWORD).await;
    assert_exit(&out, 6, "certificate");
    s.stop().await;
}
