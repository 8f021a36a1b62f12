//! Load on the voice relay: R rooms of M participants, S of whom talk at once, every
//! participant a real WebRTC client (ICE, DTLS, SRTP through str0m) sending pre-encoded
//! Opus at 50 packets per second. Prints the relay's CPU per forwarded downstream stream,
//! the streams one core could carry at 50 % load, the p99 forwarding delay inside the
//! relay, and memory per participant.
//!
//! The server runs in this process on a thread of its own (a current-thread runtime), so
//! its CPU time is that thread's, read from /proc, apart from the clients'. Memory per
//! participant is the process's growth per participant and includes the client side: an
//! upper bound for the server's share.
//!
//! `cargo bench -p auraspeak-e2e --bench relay_load` runs the full plan (release build);
//! without `--bench` (as `cargo test --all-targets` runs it) a small smoke plan.

use std::time::{Duration, Instant};

use auraspeak_client::api::ApiClient;
use auraspeak_client::call::{self, CallOptions, Connection};
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_client::media::LinkOutput;
use auraspeak_client::voice::{EncodedPacket, EncoderConfig, Pacing, VoiceEncoder, WavSource};
use auraspeak_shared::v1::auth::RegisterRequest;
use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::{ChannelId, ServerId};

struct Plan {
    rooms: usize,
    members: usize,
    speakers: usize,
    measure: Duration,
}

const FULL: Plan = Plan { rooms: 4, members: 50, speakers: 3, measure: Duration::from_secs(20) };
const SMOKE: Plan = Plan { rooms: 1, members: 4, speakers: 1, measure: Duration::from_secs(2) };

/// Reads utime + stime (clock ticks) of the calling thread.
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the name and state.
    field(11) + field(12)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Pre-encodes the speech fixture once: senders replay it, so the clients spend their CPU
/// on the transport, not on Opus.
fn opus_packets() -> Vec<EncodedPacket> {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../client/tests/fixtures/speech-en-us-male.wav");
    let frames = WavSource::open(path, Pacing::AsFastAsPossible).expect("fixture");
    let samples = frames.read_to_end().expect("read");
    let mut encoder = VoiceEncoder::new(EncoderConfig::default()).expect("encoder");
    let mut packets = Vec::new();
    for chunk in samples.chunks_exact(480) {
        let frame: [f32; 480] = chunk.try_into().expect("480 samples");
        if let Some(p) = encoder.push_frame(&frame).expect("encode") {
            packets.push(p);
        }
    }
    packets
}

/// Runs the server on a thread of its own; returns its address and a way to read that
/// thread's CPU time.
fn start_server(
    dir: &std::path::Path,
) -> (String, tokio::sync::mpsc::Sender<std::sync::mpsc::Sender<u64>>) {
    let mut config =
        auraspeak_server::config::Config { data_dir: dir.to_path_buf(), ..Default::default() };
    config.http.listen = "127.0.0.1:0".parse().expect("address");
    config.voice.udp_listen = "127.0.0.1:0".parse().expect("address");
    config.rate_limit.enabled = false;
    config.gateway.heartbeat_interval_ms = 600_000;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (cpu_tx, mut cpu_rx) = tokio::sync::mpsc::channel::<std::sync::mpsc::Sender<u64>>(4);
    std::thread::Builder::new()
        .name("relay-under-test".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let server = auraspeak_server::start(config).await.expect("server starts");
                addr_tx.send(format!("http://{}", server.addr())).expect("report address");
                while let Some(reply) = cpu_rx.recv().await {
                    let _ = reply.send(thread_cpu_ticks());
                }
                let _ = server.shutdown().await;
            });
        })
        .expect("server thread");
    (addr_rx.recv().expect("server address"), cpu_tx)
}

async fn server_cpu(cpu: &tokio::sync::mpsc::Sender<std::sync::mpsc::Sender<u64>>) -> u64 {
    let (tx, rx) = std::sync::mpsc::channel();
    cpu.send(tx).await.expect("server running");
    tokio::task::spawn_blocking(move || rx.recv().expect("cpu reading")).await.expect("join")
}

struct Participant {
    connection: Connection,
    speaking: bool,
}

/// Runs one participant: sends a packet every 20 ms when speaking, counts what arrives.
async fn drive(
    mut p: Participant,
    packets: std::sync::Arc<Vec<EncodedPacket>>,
    until: Instant,
) -> u64 {
    let mut buf = vec![0u8; 2048];
    let mut received = 0u64;
    let mut next_send = Instant::now();
    let mut i = 0usize;
    while Instant::now() < until {
        if p.speaking && Instant::now() >= next_send {
            if let Some(recorded) = packets.get(i % packets.len()) {
                // The recording loops, its numbering must not: a sequence number or
                // timestamp going back would be dropped as a stale duplicate.
                let packet = EncodedPacket {
                    sequence: i as u16,
                    timestamp: (i as u32).wrapping_mul(960),
                    payload: recorded.payload.clone(),
                    redundant: Vec::new(),
                };
                p.connection.send_packet(Instant::now(), &packet, -20.0, true);
            }
            i += 1;
            next_send += Duration::from_millis(20);
        }
        let wake = if p.speaking { next_send } else { Instant::now() + Duration::from_millis(50) };
        for output in p.connection.step(&mut buf, wake.min(until)).await {
            if matches!(output, LinkOutput::Packet { .. }) {
                received += 1;
            }
        }
    }
    received
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mut plan = if full { FULL } else { SMOKE };
    // RELAY_LOAD=rooms,members,speakers overrides the plan (for exploring).
    if let Ok(custom) = std::env::var("RELAY_LOAD") {
        let n: Vec<usize> = custom.split(',').filter_map(|v| v.trim().parse().ok()).collect();
        if let [rooms, members, speakers] = n[..] {
            plan = Plan { rooms, members, speakers, measure: plan.measure };
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(plan));
}

async fn run(plan: Plan) {
    let dir = std::env::temp_dir().join(format!("auraspeak-relay-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data dir");
    let (base, cpu) = start_server(&dir);
    let owner = ApiClient::new(&base).expect("url");
    register(&owner, "owner").await;
    let detail = owner.create_server("Load", None).await.expect("server");
    let server: ServerId = detail.server.id;
    let token = owner.access_token().await.expect("token");
    let http = reqwest::Client::new();
    for r in 1..plan.rooms {
        let url = format!("{base}/api/v1/servers/{server}/channels");
        let body = serde_json::json!({"name": format!("Room {r}"), "kind": "voice"});
        http.post(url).bearer_auth(&token).json(&body).send().await.expect("channel");
    }
    let rooms: Vec<ChannelId> = owner
        .server(server)
        .await
        .expect("detail")
        .channels
        .iter()
        .filter(|c| c.kind == ChannelKind::Voice)
        .map(|c| c.id)
        .collect();
    let invite = owner.create_invite(server, &Default::default()).await.expect("invite");

    let rss_before = rss_bytes();
    let mut participants = Vec::new();
    let join_started = Instant::now();
    for (r, room) in rooms.iter().enumerate().take(plan.rooms) {
        for m in 0..plan.members {
            let api = ApiClient::new(&base).expect("url");
            register(&api, &format!("p{r}x{m}")).await;
            api.join_invite(&invite.code).await.expect("join");
            let (gateway, mut events) =
                gateway::connect(api.gateway_url(), api.clone(), SessionConfig::default());
            while let Some(event) = events.next().await {
                if matches!(event, GatewayEvent::Ready { .. }) {
                    break;
                }
            }
            let connection = call::connect(&gateway, &mut events, &CallOptions::new(*room))
                .await
                .expect("voice connects");
            // The gateway and its events stay alive for the whole run.
            std::mem::forget((gateway, events));
            participants.push(Participant { connection, speaking: m < plan.speakers });
        }
    }
    let joined_in = join_started.elapsed();
    let rss_after = rss_bytes();
    let count = participants.len();

    // Warm up (speaker selection, jitter of the first packets), then measure.
    let packets = std::sync::Arc::new(opus_packets());
    let warmup = Duration::from_secs(2);
    let until = Instant::now() + warmup + plan.measure;
    let mut tasks = tokio::task::JoinSet::new();
    for p in participants {
        tasks.spawn(drive(p, packets.clone(), until));
    }
    tokio::time::sleep(warmup).await;
    let cpu_start = server_cpu(&cpu).await;
    let sent_start = sent_packets(&http, &base).await;
    let measured_from = Instant::now();
    let mut received = 0;
    while let Some(r) = tasks.join_next().await {
        received += r.unwrap_or(0);
    }
    let cpu_end = server_cpu(&cpu).await;
    let sent_end = sent_packets(&http, &base).await;
    let window = measured_from.elapsed();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu_fraction =
        (cpu_end.saturating_sub(cpu_start)) as f64 / ticks_per_sec / window.as_secs_f64();
    let slots = 4usize;
    // Every listener hears min(speakers, slots) others; a speaker hears the others.
    let streams_per_room = (plan.members - plan.speakers) * plan.speakers.min(slots)
        + plan.speakers * (plan.speakers - 1).min(slots);
    let streams = streams_per_room * plan.rooms;
    // Judged by what was really forwarded in the window (datagrams sent ÷ 50 per second
    // per stream), not by the plan: if the clients in this process cannot keep up, fewer
    // streams flow than planned.
    let forwarded_streams = ((sent_end - sent_start) / window.as_secs_f64() / 50.0).max(1.0);
    let cpu_per_stream = cpu_fraction / forwarded_streams;
    let per_core_at_half = if cpu_per_stream > 0.0 { 0.5 / cpu_per_stream } else { f64::INFINITY };
    let p99 = histogram_quantile(&metrics, "auraspeak_voice_forward_delay_seconds", 0.99);
    let p50 = histogram_quantile(&metrics, "auraspeak_voice_forward_delay_seconds", 0.50);
    println!(
        "relay load: {} rooms × {} participants, {} speaking per room → {streams} downstream streams",
        plan.rooms, plan.members, plan.speakers
    );
    println!("  all {count} joined in {joined_in:.2?}");
    println!(
        "  {forwarded_streams:.0} streams' worth of datagrams forwarded per second in the window\n  \
         relay CPU {:.1} % of one core → {:.2} µs CPU per stream per second ({:.4} % of a core each); \
         ≈ {per_core_at_half:.0} downstream streams per core at 50 % load",
        cpu_fraction * 100.0,
        cpu_per_stream * 1e6,
        cpu_per_stream * 100.0
    );
    println!(
        "  forwarding delay inside the relay: p50 ≤ {:.3} ms, p99 ≤ {:.3} ms (histogram bucket bounds)",
        p50 * 1000.0,
        p99 * 1000.0
    );
    println!(
        "  memory: {:.2} MB per participant (process growth incl. the client side: an upper bound)",
        rss_after.saturating_sub(rss_before) as f64 / count.max(1) as f64 / 1e6
    );
    // Counted from the start of the warm-up, when every speaker starts sending.
    let expected = streams as f64 * 50.0 * (window + warmup).as_secs_f64();
    println!(
        "  packets received by clients: {received} (≈ {:.0} % of {expected:.0} expected in the window)",
        received as f64 / expected.max(1.0) * 100.0
    );
    let counter = |name: &str| counter(&metrics, name);
    println!(
        "  relay datagrams: {} in, {} out, {} dropped",
        counter("auraspeak_voice_packets_received_total"),
        counter("auraspeak_voice_packets_sent_total"),
        counter("auraspeak_voice_packets_dropped_total")
    );
    assert!(received > 0, "no audio was forwarded");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn register(api: &ApiClient, name: &str) {
    api.register(&RegisterRequest {
        username: name.into(),
        email: format!("{name}@example.com"),
        password: "correct-horse-battery-42".into(),
        display_name: None,
        device_name: None,
    })
    .await
    .expect("register");
}

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

async fn sent_packets(http: &reqwest::Client, base: &str) -> f64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    counter(&text, "auraspeak_voice_packets_sent_total")
}

/// The upper bound of the bucket holding quantile `q` of a Prometheus histogram.
fn histogram_quantile(text: &str, name: &str, q: f64) -> f64 {
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            let count: f64 = l.split_whitespace().last()?.parse().ok()?;
            Some((le, count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    buckets.iter().find(|(_, c)| *c >= total * q).map_or(f64::NAN, |(le, _)| *le)
}
