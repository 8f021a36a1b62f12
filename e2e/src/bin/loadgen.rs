//! `auraspeak-loadgen`: load on a running AuraSpeak server's voice relay, from a process of
//! its own. It fills R voice channels with M participants each, S of whom talk at once;
//! every participant is a real WebRTC client (ICE, DTLS, SRTP through str0m) sending
//! pre-encoded Opus at 50 packets per second. With `--server-pid` it reads that process's
//! CPU time and memory from /proc, so the figures are the server's alone.
//!
//! The server must allow the registrations (rate limits off) and keep gateway sessions
//! alive without heartbeats for the run; `cargo bench -p auraspeak-e2e --bench relay_load`
//! starts one so and runs this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use auraspeak_client::api::ApiClient;
use auraspeak_client::call::{self, CallOptions, Connection};
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_client::media::LinkOutput;
use auraspeak_client::voice::{EncodedPacket, EncoderConfig, Pacing, VoiceEncoder, WavSource};
use auraspeak_shared::ChannelId;
use auraspeak_shared::v1::auth::RegisterRequest;
use auraspeak_shared::v1::channels::{ChannelKind, CreateChannelRequest};
use clap::Parser;

const PASSWORD: &str = "correct-horse-battery-42";
/// Receive slots a participant asks for (the client's default).
const SLOTS: usize = 4;

#[derive(Parser)]
#[command(about = "Voice relay load: R rooms × M participants, S speaking")]
struct Args {
    /// The server's HTTP address.
    #[arg(long)]
    server: String,
    /// The server's process, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    #[arg(long, default_value_t = 50)]
    members: usize,
    #[arg(long, default_value_t = 3)]
    speakers: usize,
    /// Length of the measured window, after two seconds of warm-up.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Speech replayed by every speaker (pre-encoded once).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../client/tests/fixtures/speech-en-us-male.wav"))]
    speech: String,
    /// Fail unless at least this share of the planned downstream packets arrived.
    #[arg(long, default_value_t = 0.0)]
    min_delivery: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.speakers > args.members || args.rooms == 0 || args.members < 2 {
        bail!("need at least 1 room of 2 members, and no more speakers than members");
    }
    // The clients' side: one thread is plenty for the transport, and leaves the other
    // core of a 2-core machine to the server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("runtime")?;
    runtime.block_on(run(args))
}

/// utime + stime of a process, in clock ticks.
fn process_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (in parentheses, may hold spaces): utime and stime
    // are fields 14 and 15 of stat, 12 and 13 after the name and state.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Pre-encodes the speech once: senders replay it, so the clients spend their CPU on the
/// transport, not on Opus.
fn opus_packets(path: &str) -> anyhow::Result<Vec<EncodedPacket>> {
    let samples = WavSource::open(path, Pacing::AsFastAsPossible)
        .with_context(|| format!("open {path}"))?
        .read_to_end()?;
    let mut encoder = VoiceEncoder::new(EncoderConfig::default())?;
    let mut packets = Vec::new();
    for chunk in samples.chunks_exact(480) {
        let frame: [f32; 480] = chunk.try_into()?;
        if let Some(p) = encoder.push_frame(&frame)? {
            packets.push(p);
        }
    }
    if packets.is_empty() {
        bail!("{path} holds no speech");
    }
    Ok(packets)
}

struct Participant {
    connection: Connection,
    speaking: bool,
}

/// One participant: present (answering the relay's keep-alives) from joining until the
/// run starts, then a packet every 20 ms while speaking; counts what arrives. Joining 200
/// takes longer than ICE consent lasts, so those who joined first must not go silent.
async fn drive(
    mut p: Participant,
    packets: Arc<Vec<EncodedPacket>>,
    phase: Duration,
    mut run: tokio::sync::watch::Receiver<Option<Instant>>,
) -> Received {
    let mut buf = vec![0u8; 2048];
    let mut delivered = 0u64;
    let is_packet = |o: &LinkOutput| matches!(o, LinkOutput::Packet { .. });
    let until = loop {
        if let Some(until) = *run.borrow_and_update() {
            break until;
        }
        let wait = Instant::now() + Duration::from_millis(50);
        tokio::select! {
            _ = run.changed() => {}
            produced = p.connection.step(&mut buf, wait) => {
                delivered += produced.iter().filter(|o| is_packet(o)).count() as u64;
            }
        }
    };
    let mut received = 0u64;
    let mut next_send = Instant::now() + phase;
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
            if is_packet(&output) {
                received += 1;
                delivered += 1;
            }
        }
    }
    Received { in_window: received, delivered, srtp: p.connection.srtp_received() }
}

/// What one participant received.
#[derive(Debug, Default, Clone, Copy)]
struct Received {
    /// Packets delivered from the start of the warm-up.
    in_window: u64,
    /// Packets delivered in all, and SRTP media datagrams that arrived in all: the
    /// difference is what the client could not authenticate and decrypt.
    delivered: u64,
    srtp: u64,
}

/// Where in the 20 ms packet cycle participant `n` sends: spread evenly (golden-ratio
/// steps), as independent people's microphones are. Speakers who all sent at the same
/// instant would let the relay serve a listener several packets per pass, which real
/// calls do not offer, and flatter its cost per packet.
fn send_phase(n: usize) -> Duration {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    Duration::from_secs_f64((n as f64 * GOLDEN).fract() * 0.020)
}

async fn register(base: &str, name: &str) -> anyhow::Result<ApiClient> {
    let api = ApiClient::new(base)?;
    api.register(&RegisterRequest {
        username: name.into(),
        email: format!("{name}@example.com"),
        password: PASSWORD.into(),
        display_name: None,
        device_name: None,
        invite: None,
    })
    .await
    .with_context(|| format!("register {name}"))?;
    Ok(api)
}

async fn metrics(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(http.get(format!("{base}/metrics")).send().await?.error_for_status()?.text().await?)
}

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
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

async fn run(args: Args) -> anyhow::Result<()> {
    let base = args.server.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    // Names unique per run, so a server can take several runs.
    let run_id = std::process::id();
    let owner = register(&base, &format!("load{run_id}")).await?;
    let guild = owner.create_server("Load", None).await?;
    let mut rooms: Vec<ChannelId> = guild
        .channels
        .iter()
        .filter(|c| c.kind == ChannelKind::Voice)
        .map(|c| c.id)
        .take(args.rooms)
        .collect();
    while rooms.len() < args.rooms {
        let request = CreateChannelRequest {
            name: format!("Room {}", rooms.len() + 1),
            kind: ChannelKind::Voice,
            topic: None,
            parent_id: None,
            position: None,
            bitrate_kbps: None,
            user_limit: None,
        };
        rooms.push(owner.create_channel(guild.server.id, &request).await?.id);
    }
    let invite = owner.create_invite(guild.server.id, &Default::default()).await?;

    let packets = Arc::new(opus_packets(&args.speech)?);
    let (start, run_signal) = tokio::sync::watch::channel(None);
    let rss_before = args.server_pid.map(rss_bytes);
    let mut tasks = tokio::task::JoinSet::new();
    let join_started = Instant::now();
    for (r, room) in rooms.iter().enumerate() {
        for m in 0..args.members {
            let api = register(&base, &format!("l{run_id}r{r}m{m}")).await?;
            api.join_invite(&invite.code).await?;
            let (gateway, mut events) =
                gateway::connect(api.gateway_url(), api.clone(), SessionConfig::default());
            loop {
                match events.next().await {
                    Some(GatewayEvent::Ready { .. }) => break,
                    Some(_) => {}
                    None => bail!("the gateway closed before READY"),
                }
            }
            let connection =
                call::connect(&gateway, &mut events, &CallOptions::new(*room))
                    .await
                    .with_context(|| format!("voice connect of participant {m} in room {r}"))?;
            // The gateway and its events stay alive for the whole run.
            std::mem::forget((gateway, events));
            let participant = Participant { connection, speaking: m < args.speakers };
            let phase = send_phase(tasks.len());
            tasks.spawn(drive(participant, packets.clone(), phase, run_signal.clone()));
        }
    }
    let joined_in = join_started.elapsed();
    let rss_after = args.server_pid.map(rss_bytes);
    let count = tasks.len();

    let warmup = Duration::from_secs(2);
    let window = Duration::from_secs(args.seconds.max(1));
    start.send_replace(Some(Instant::now() + warmup + window));
    tokio::time::sleep(warmup).await;
    let cpu_start = args.server_pid.map(process_cpu_ticks);
    let sent_start = counter(&metrics(&http, &base).await?, "auraspeak_voice_packets_sent_total");
    let measured_from = Instant::now();
    // On stderr, for tools that profile the server during the window (perf).
    eprintln!("measuring for {} s", window.as_secs());
    let (mut received, mut delivered, mut srtp) = (0, 0, 0);
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap_or_default();
        received += r.in_window;
        delivered += r.delivered;
        srtp += r.srtp;
    }
    let cpu_end = args.server_pid.map(process_cpu_ticks);
    let text = metrics(&http, &base).await?;
    let sent_end = counter(&text, "auraspeak_voice_packets_sent_total");
    let measured = measured_from.elapsed();

    let streams_per_room = (args.members - args.speakers) * args.speakers.min(SLOTS)
        + args.speakers * (args.speakers - 1).min(SLOTS);
    let streams = streams_per_room * args.rooms;
    // Judged by what was really forwarded in the window (datagrams sent ÷ 50 per second
    // per stream), not by the plan: if the clients cannot keep up, fewer streams flow.
    let forwarded = ((sent_end - sent_start) / measured.as_secs_f64() / 50.0).max(1.0);
    println!(
        "relay load: {} rooms × {} participants, {} speaking per room → {streams} downstream streams",
        args.rooms, args.members, args.speakers
    );
    println!("  all {count} joined in {joined_in:.2?}");
    println!("  {forwarded:.0} streams' worth of datagrams forwarded per second in the window");
    if let (Some(start), Some(end)) = (cpu_start, cpu_end) {
        let ticks_per_sec = 100.0; // USER_HZ on Linux
        let cpu = end.saturating_sub(start) as f64 / ticks_per_sec / measured.as_secs_f64();
        let per_stream = cpu / forwarded;
        let per_core = if per_stream > 0.0 { 0.5 / per_stream } else { f64::INFINITY };
        println!(
            "  server CPU {:.1} % of one core → {:.2} µs CPU per stream per second \
             ({:.4} % of a core each); ≈ {per_core:.0} downstream streams per core at 50 % load",
            cpu * 100.0,
            per_stream * 1e6,
            per_stream * 100.0
        );
    }
    let p50 = histogram_quantile(&text, "auraspeak_voice_forward_delay_seconds", 0.50);
    let p99 = histogram_quantile(&text, "auraspeak_voice_forward_delay_seconds", 0.99);
    println!(
        "  forwarding delay inside the relay: p50 ≤ {:.3} ms, p99 ≤ {:.3} ms (histogram bucket bounds)",
        p50 * 1000.0,
        p99 * 1000.0
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "  server memory: {:.2} MB per participant (resident growth while they joined)",
            after.saturating_sub(before) as f64 / count.max(1) as f64 / 1e6
        );
    }
    // Counted from the start of the warm-up, when every speaker starts sending.
    let expected = streams as f64 * 50.0 * (measured + warmup).as_secs_f64();
    let delivery = received as f64 / expected.max(1.0);
    println!(
        "  packets received by clients: {received} (≈ {:.0} % of {expected:.0} expected)",
        delivery * 100.0
    );
    println!(
        "  relay datagrams: {} in, {} out, {} dropped",
        counter(&text, "auraspeak_voice_packets_received_total"),
        sent_end,
        counter(&text, "auraspeak_voice_packets_dropped_total")
    );
    // Arrived but not delivered: SRTP authentication failures (or packets on a stream the
    // client does not know, which the relay never sends).
    let undecrypted = srtp.saturating_sub(delivered);
    println!("  SRTP packets not decrypted by clients: {undecrypted} of {srtp}");
    if received == 0 || delivery < args.min_delivery {
        bail!("too little audio was forwarded ({:.0} % delivered)", delivery * 100.0);
    }
    if undecrypted > 0 {
        bail!("{undecrypted} SRTP packets did not decrypt");
    }
    Ok(())
}
