//! The TURN credentials a voice join hands out work with a real coturn run beside the
//! server (`use-auth-secret`, the TURN REST API scheme): coturn's own test client allocates
//! a relay with them and echoes data through it; a tampered credential is refused.
//!
//! Needs coturn (`turnserver`, `turnutils_uclient`, `turnutils_peer`), which
//! `scripts/test.sh` installs. Without it the test passes with a note on a developer
//! machine and fails under `CI=true`. Credentials, not storage: SQLite only.

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;

use std::process::Stdio;
use std::time::Duration;

use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::gateway::ClientFrame;
use harness::{Backend, TestServer};
use tokio::process::{Child, Command};

const SECRET: &str = "e2e-turn-shared-secret";

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free UDP port on loopback (bound, read, released).
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("port").port()
}

fn spawn(command: &mut Command) -> Child {
    command.stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true).spawn().expect("spawn")
}

/// Runs coturn's client through the relay to the echo peer; returns what it printed.
async fn allocate_and_echo(turn: u16, peer: u16, user: &str, password: &str) -> String {
    let out = Command::new("turnutils_uclient")
        .args(["-n", "5", "-m", "1", "-l", "100", "-u", user, "-w", password])
        .args(["-e", "127.0.0.1", "-r", &peer.to_string(), "-p", &turn.to_string(), "127.0.0.1"])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("turnutils_uclient finishes")
        .expect("turnutils_uclient runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_from_a_voice_join_work_with_coturn() {
    if !(have("turnserver") && have("turnutils_uclient") && have("turnutils_peer")) {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but coturn is not installed: the TURN test cannot run"
        );
        eprintln!("coturn not installed: TURN test not run (see scripts/test.sh)");
        return;
    }
    let (turn_port, peer_port) = (free_udp_port(), free_udp_port());
    let relay_min = 40_000 + (std::process::id() % 2_000) as u16 * 10;
    let _turn = spawn(Command::new("turnserver").args([
        "-n",
        "--listening-ip=127.0.0.1",
        &format!("--listening-port={turn_port}"),
        "--use-auth-secret",
        &format!("--static-auth-secret={SECRET}"),
        "--realm=e2e.auraspeak.test",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        &format!("--min-port={relay_min}"),
        &format!("--max-port={}", relay_min + 9),
    ]));
    let _peer = spawn(Command::new("turnutils_peer").args([
        "-L",
        "127.0.0.1",
        "-p",
        &peer_port.to_string(),
    ]));

    let s = TestServer::start_with(&Backend::Sqlite, |config| {
        config.voice.turn_urls = vec![format!("turn:127.0.0.1:{turn_port}?transport=udp")];
        config.voice.turn_secret = SECRET.into();
        config.voice.turn_ttl_secs = 600;
    })
    .await;
    let c = community::setup(&s.base).await;
    let voice = c
        .member
        .server(c.server)
        .await
        .expect("detail")
        .channels
        .iter()
        .find(|ch| ch.kind == ChannelKind::Voice)
        .expect("voice channel")
        .id;
    let (handle, mut events) =
        gateway::connect(c.member.gateway_url(), c.member.clone(), SessionConfig::default());
    let mut ice = None;
    while ice.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event in time")
            .expect("gateway running");
        match event {
            GatewayEvent::Ready { .. } => handle
                .send(ClientFrame::VoiceJoin {
                    channel_id: voice,
                    self_mute: false,
                    self_deaf: false,
                })
                .await
                .expect("join sent"),
            GatewayEvent::VoiceReady { ice_servers, .. } => ice = Some(ice_servers),
            _ => {}
        }
    }
    let ice = ice.expect("voice_ready");
    let server = ice.first().expect("a TURN server is offered");
    assert_eq!(server.urls, vec![format!("turn:127.0.0.1:{turn_port}?transport=udp")]);
    let user = server.username.clone().expect("username");
    let password = server.credential.clone().expect("credential");
    let (expiry, user_id) = user.split_once(':').expect("<expiry>:<user id>");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expiry: u64 = expiry.parse().expect("expiry in Unix seconds");
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "valid for turn_ttl_secs: {expiry} vs {now}"
    );
    assert_eq!(user_id, c.member_auth.user.id.to_string());

    // coturn may take a moment to open its port.
    let mut output = String::new();
    for _ in 0..20 {
        output = allocate_and_echo(turn_port, peer_port, &user, &password).await;
        if output.contains("Total lost packets 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!output.contains("Cannot complete Allocation"), "{output}");
    assert!(output.contains("Total lost packets 0"), "data went through the relay: {output}");

    let mut forged = password.clone();
    forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
    let refused = allocate_and_echo(turn_port, peer_port, &user, &forged).await;
    assert!(
        refused.contains("Cannot complete Allocation"),
        "a wrong credential is refused: {refused}"
    );
    handle.close().await;
    s.stop().await;
}
