//! Gateway fan-out: N WebSocket clients in one channel, messages posted over REST.
//!
//! Reports delivery latency (post sent → each client has the event; p50/p99), sustained
//! deliveries per second, and the server's resident memory per idle identified
//! connection. The server runs as its own process (the real binary), so its RSS is
//! measured alone; clients share the machine's cores with it, which makes latency and
//! throughput figures conservative on a 2-core box.
//!
//! `cargo bench --bench gateway_fanout` runs N = 1000 (raise the open-file limit first:
//! `ulimit -n 8192`; scripts/bench.sh does). Without `--bench` (as in `cargo test
//! --all-targets`) a small smoke run checks that it still works.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Plan {
    clients: usize,
    paced_messages: usize,
    pace: Duration,
    burst_messages: usize,
    cap: Duration,
}

const FULL: Plan = Plan {
    clients: 1000,
    paced_messages: 100,
    pace: Duration::from_millis(50),
    burst_messages: 200,
    cap: Duration::from_secs(120),
};
const SMOKE: Plan = Plan {
    clients: 20,
    paced_messages: 5,
    pace: Duration::from_millis(20),
    burst_messages: 10,
    cap: Duration::from_secs(60),
};

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The server binary in its own process, stopped on drop.
struct ServerProcess {
    child: Child,
    base: String,
    data_dir: std::path::PathBuf,
}

impl ServerProcess {
    fn start(database_url: &str) -> anyhow::Result<Self> {
        let data_dir = std::env::temp_dir().join(format!(
            "auraspeak-fanout-{}-{}",
            std::process::id(),
            now_micros()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_auraspeak-server"))
            .args([
                "--data-dir",
                &data_dir.to_string_lossy(),
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
            ])
            .env("AURASPEAK_DATABASE__URL", database_url)
            .env("AURASPEAK_VOICE__UDP_LISTEN", "127.0.0.1:0")
            .env("AURASPEAK_RATE_LIMIT__ENABLED", "false")
            .env("AURASPEAK_GATEWAY__HEARTBEAT_INTERVAL_MS", "600000")
            // Every client is the same listener account: one per connection, not a cap.
            .env("AURASPEAK_GATEWAY__MAX_SESSIONS_PER_USER", "100000")
            .env("AURASPEAK_DATABASE__MAX_CONNECTIONS", "32")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting auraspeak-server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).context("reading the address")?;
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .context("no address printed")?
            .to_owned();
        Ok(Self { child, base, data_dir })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS missing")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

async fn register(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<String> {
    let body = json!({"username": name, "email": format!("{name}@example.com"), "password": "fan-out-bench-passphrase"});
    let resp = http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await?;
    ensure!(resp.status().as_u16() == 201, "register: {}", resp.status());
    let v: Value = resp.json().await?;
    v["tokens"]["access_token"].as_str().map(str::to_owned).context("token")
}

/// One client: identify, then count message events and record their latency.
async fn client(
    url: String,
    token: String,
    ready: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
    deadline: Instant,
) -> anyhow::Result<(Vec<u64>, Vec<u64>)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let identify = json!({"op": "identify", "d": {"token": token}}).to_string();
    ws.send(Message::text(identify)).await?;
    let (mut paced, mut burst) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let frame = match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
            Err(_) => continue,
            // The server went away (the bench stops it): hand in what was measured.
            Ok(None | Some(Err(_))) => break,
            Ok(Some(Ok(frame))) => frame,
        };
        let Message::Text(text) = frame else { continue };
        if text.starts_with(r#"{"op":"ready""#) {
            ready.fetch_add(1, Ordering::Relaxed);
        } else if let Some(pos) = text.find("\"content\":\"") {
            // String search instead of a JSON parse: the clients share the server's cores
            // and should cost it as little as possible. "t=" marks paced, "b=" burst posts.
            let rest = &text[pos + 11..];
            let digits: String = rest.chars().skip(2).take_while(char::is_ascii_digit).collect();
            if let Ok(sent) = digits.parse::<u64>() {
                let latency = now_micros().saturating_sub(sent);
                if rest.starts_with("b=") {
                    burst.push(latency)
                } else {
                    paced.push(latency)
                }
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok((paced, burst))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx] as f64 / 1000.0
}

async fn run(backend: &str, database_url: &str, plan: &Plan) -> anyhow::Result<()> {
    let server = ServerProcess::start(database_url)?;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let owner = register(&http, &base, "owner").await?;
    let listener = register(&http, &base, "listener").await?;
    let detail: Value = http
        .post(format!("{base}/api/v1/servers"))
        .bearer_auth(&owner)
        .json(&json!({"name": "Fanout"}))
        .send()
        .await?
        .json()
        .await?;
    let server_id = detail["server"]["id"].as_str().context("server id")?.to_owned();
    let channel = detail["channels"][0]["id"].as_str().context("channel id")?.to_owned();
    let invite: Value = http
        .post(format!("{base}/api/v1/servers/{server_id}/invites"))
        .bearer_auth(&owner)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let code = invite["code"].as_str().context("code")?;
    http.post(format!("{base}/api/v1/invites/{code}")).bearer_auth(&listener).send().await?;

    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = server.rss_kib()?;
    let ready = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + plan.cap * 3;
    let ws_url = format!("{}/api/v1/gateway", base.replacen("http://", "ws://", 1));
    let mut tasks = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        tasks.push(tokio::spawn(client(
            ws_url.clone(),
            listener.clone(),
            ready.clone(),
            delivered.clone(),
            deadline,
        )));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let started = Instant::now();
    while ready.load(Ordering::Relaxed) < plan.clients as u64 {
        if started.elapsed() > plan.cap {
            bail!("only {} of {} clients ready", ready.load(Ordering::Relaxed), plan.clients);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.rss_kib()?;
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / plan.clients as f64;
    println!(
        "[{backend}] clients ready                 {} in {:.2} s",
        plan.clients,
        started.elapsed().as_secs_f64()
    );
    println!(
        "[{backend}] server RSS per idle connection {per_conn:.1} KiB  ({rss_before} → {rss_after} KiB)"
    );

    let post_url = format!("{base}/api/v1/channels/{channel}/messages");
    let post = |http: reqwest::Client, url: String, token: String, mark: &'static str| async move {
        let resp = http
            .post(url)
            .bearer_auth(token)
            .json(&json!({"content": format!("{mark}={}", now_micros())}))
            .send()
            .await?;
        ensure!(resp.status().as_u16() == 201, "post: {}", resp.status());
        anyhow::Ok(())
    };
    // Paced phase: latency at a steady rate.
    for _ in 0..plan.paced_messages {
        post(http.clone(), post_url.clone(), owner.clone(), "t").await?;
        tokio::time::sleep(plan.pace).await;
    }
    let expected = (plan.clients * plan.paced_messages) as u64;
    let wait_for = |target: u64| {
        let delivered = delivered.clone();
        async move {
            let t = Instant::now();
            while delivered.load(Ordering::Relaxed) < target && t.elapsed() < plan.cap {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            delivered.load(Ordering::Relaxed)
        }
    };
    let got = wait_for(expected).await;
    ensure!(got == expected, "paced phase delivered {got} of {expected}");

    // Burst phase: as fast as four posters go.
    let burst_start = Instant::now();
    let mut posters = Vec::new();
    for p in 0..4 {
        let (http, url, token) = (http.clone(), post_url.clone(), owner.clone());
        let n = plan.burst_messages / 4 + usize::from(p < plan.burst_messages % 4);
        posters.push(tokio::spawn(async move {
            for _ in 0..n {
                post(http.clone(), url.clone(), token.clone(), "b").await?;
            }
            anyhow::Ok(())
        }));
    }
    for p in posters {
        p.await??;
    }
    let total = expected + (plan.clients * plan.burst_messages) as u64;
    let got = wait_for(total).await;
    let burst_secs = burst_start.elapsed().as_secs_f64();
    ensure!(got == total, "burst delivered {got} of {total}");
    let burst_deliveries = (plan.clients * plan.burst_messages) as f64;
    println!(
        "[{backend}] burst deliveries/s            {:.0}  ({} messages × {} clients in {burst_secs:.2} s)",
        burst_deliveries / burst_secs,
        plan.burst_messages,
        plan.clients
    );

    drop(server);
    let (mut paced, mut burst) = (Vec::new(), Vec::new());
    for t in tasks {
        if let Ok(Ok((mut p, mut b))) = t.await {
            paced.append(&mut p);
            burst.append(&mut b);
        }
    }
    paced.sort_unstable();
    burst.sort_unstable();
    let rate = 1000 / plan.pace.as_millis().max(1);
    println!(
        "[{backend}] latency at {rate} msg/s p50 / p99   {:.2} / {:.2} ms  ({} deliveries)",
        percentile(&paced, 0.50),
        percentile(&paced, 0.99),
        paced.len()
    );
    println!(
        "[{backend}] latency in the burst p50 / p99 {:.2} / {:.2} ms  ({} deliveries)",
        percentile(&burst, 0.50),
        percentile(&burst, 0.99),
        burst.len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plan = if std::env::args().any(|a| a == "--bench") { &FULL } else { &SMOKE };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("== gateway_fanout: clients={}, cores={cores} ==", plan.clients);
    run("sqlite", "", plan).await?;
    if let Ok(admin) = std::env::var("AURASPEAK_TEST_PG_URL") {
        use sqlx::Connection as _;
        let name = format!("auraspeak_fanout_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b));
        let outcome = run("postgres", &url, plan).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut conn)
            .await?;
        outcome?;
    }
    Ok(())
}
