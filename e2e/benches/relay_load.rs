//! Load on the voice relay, three processes apart: the `auraspeak-server` binary on the
//! embedded database, and the `auraspeak-loadgen` binary filling R rooms of M participants
//! with S speakers each (real WebRTC clients sending pre-encoded Opus). The load generator
//! reads the server's CPU time and memory from /proc, so the figures are the server's.
//!
//! `cargo bench -p auraspeak-e2e --bench relay_load` runs the full plan against the release
//! server (build it first: `cargo build --release -p auraspeak-server`, as
//! `scripts/bench.sh relay_load` does); without `--bench` (as `cargo test --all-targets`
//! runs it) a small smoke plan against the debug server. `RELAY_LOAD=rooms,members,speakers`
//! overrides the plan.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("port")
}

/// The server binary of the same build profile as the load generator.
fn server_binary(loadgen: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("AURASPEAK_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let path = loadgen.with_file_name("auraspeak-server");
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build [--release] -p auraspeak-server)",
        path.display()
    );
    path
}

/// Kills the server however the bench ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (mut rooms, mut members, mut speakers, seconds) =
        if full { (4, 50, 3, 20) } else { (1, 4, 1, 2) };
    if let Ok(custom) = std::env::var("RELAY_LOAD") {
        let n: Vec<usize> = custom.split(',').filter_map(|v| v.trim().parse().ok()).collect();
        if let [r, m, s] = n[..] {
            (rooms, members, speakers) = (r, m, s);
        }
    }
    let loadgen = PathBuf::from(env!("CARGO_BIN_EXE_auraspeak-loadgen"));
    let server_bin = server_binary(&loadgen);
    let dir = std::env::temp_dir().join(format!("auraspeak-relay-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let server = Server(
        Command::new(&server_bin)
            .env("AURASPEAK_DATA_DIR", &dir)
            .env("AURASPEAK_HTTP__LISTEN", &http)
            .env("AURASPEAK_VOICE__UDP_LISTEN", format!("127.0.0.1:{}", free_udp_port()))
            .env("AURASPEAK_RATE_LIMIT__ENABLED", "false")
            // The load generator's gateways do not heartbeat while it measures.
            .env("AURASPEAK_GATEWAY__HEARTBEAT_INTERVAL_MS", "600000")
            .env("AURASPEAK_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start auraspeak-server"),
    );
    let base = format!("http://{http}");
    let started = Instant::now();
    while std::net::TcpStream::connect(&http).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new(&loadgen)
        .args(["--server", &base, "--server-pid", &server.0.id().to_string()])
        .args(["--rooms", &rooms.to_string(), "--members", &members.to_string()])
        .args(["--speakers", &speakers.to_string(), "--seconds", &seconds.to_string()])
        // The smoke run checks that audio flows at all; the full run reports what it gets.
        .args(["--min-delivery", if full { "0" } else { "0.5" }])
        .status()
        .expect("run auraspeak-loadgen");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "auraspeak-loadgen failed");
}
