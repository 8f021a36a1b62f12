//! Load figures for the auth paths, against a real server started in-process on port 0.
//!
//! Two questions: how many logins per second argon2id allows, and whether the rest of the
//! server stays fast meanwhile (hashing runs on blocking threads behind a semaphore, so a
//! login storm should not stall cheap requests). Then the latency of an authenticated
//! `GET /api/v1/users/@me` under 64 concurrent clients. SQLite always; PostgreSQL too when
//! `AURASPEAK_TEST_PG_URL` names an admin URL, in a scratch database dropped at the end.
//!
//! `cargo bench` passes `--bench` and gets the full run. Without it (`cargo test
//! --all-targets`) a tiny smoke run checks that the bench still works, in seconds.
//! Clients and server share one tokio runtime and the same cores, so the figures are a
//! lower bound on what a dedicated server machine would do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use auraspeak_shared::v1::auth::{AuthResponse, LoginRequest, RegisterRequest};
use sqlx::Connection;

const USERNAME: &str = "bench_user";
const PASSWORD: &str = "a-long-unusual-passphrase-42";

/// How much load to apply; every loop is bounded by a count and by `time_cap`.
#[derive(Clone, Copy)]
struct Plan {
    name: &'static str,
    logins: usize,
    login_workers: usize,
    /// Pause between probes during the storm, so the probe samples latency without
    /// adding a load of its own.
    probe_interval: Duration,
    max_probes: usize,
    clients: usize,
    requests_per_client: usize,
    warmup_per_client: usize,
    time_cap: Duration,
}

const FULL: Plan = Plan {
    name: "full",
    logins: 400,
    login_workers: 8,
    probe_interval: Duration::from_millis(5),
    max_probes: 100_000,
    clients: 64,
    requests_per_client: 200,
    warmup_per_client: 10,
    time_cap: Duration::from_secs(120),
};

const SMOKE: Plan = Plan {
    name: "smoke",
    logins: 4,
    login_workers: 2,
    probe_interval: Duration::from_millis(5),
    max_probes: 1_000,
    clients: 2,
    requests_per_client: 5,
    warmup_per_client: 1,
    time_cap: Duration::from_secs(60),
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full { FULL } else { SMOKE };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    run_backend("sqlite", String::new(), plan, cores).await?;

    if let Ok(admin_url) = std::env::var("AURASPEAK_TEST_PG_URL") {
        let db = ScratchDb::create(&admin_url).await?;
        let outcome = run_backend("postgres", db.url.clone(), plan, cores).await;
        // Drop the database even when the run failed, then report the first error.
        let dropped = db.drop_now().await;
        outcome?;
        dropped?;
    } else {
        println!("(AURASPEAK_TEST_PG_URL not set: PostgreSQL skipped)");
    }
    Ok(())
}

async fn run_backend(
    backend: &str,
    db_url: String,
    plan: Plan,
    cores: usize,
) -> anyhow::Result<()> {
    println!("== auth_load: backend={backend}, cores={cores}, mode={} ==", plan.name);

    let data_dir = std::env::temp_dir().join(format!(
        "auraspeak-bench-{}-{}-{backend}",
        std::process::id(),
        unix_millis()
    ));
    let mut config = auraspeak_server::Config { data_dir: data_dir.clone(), ..Default::default() };
    config.http.listen = "127.0.0.1:0".parse().context("loopback address")?;
    config.voice.udp_listen = "127.0.0.1:0".parse().context("loopback address")?;
    config.rate_limit.enabled = false;
    config.database.url = db_url;
    config.database.max_connections = 32;
    let server = auraspeak_server::start(config).await.context("starting the server")?;
    let base = format!("http://{}", server.addr());

    let outcome = measure(backend, &base, plan).await;
    server.shutdown().await.context("stopping the server")?;
    // Best effort: a leftover temp dir is harmless and must not hide the real outcome.
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

async fn measure(backend: &str, base: &str, plan: Plan) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let register = RegisterRequest {
        username: USERNAME.into(),
        email: "bench@example.com".into(),
        password: PASSWORD.into(),
        display_name: None,
        device_name: None,
        invite: None,
    };
    let res = http.post(format!("{base}/api/v1/auth/register")).json(&register).send().await?;
    ensure!(res.status() == reqwest::StatusCode::CREATED, "register answered {}", res.status());
    let token = res.json::<AuthResponse>().await?.tokens.access_token;
    let me =
        Arc::new(MeRequest { http: http.clone(), url: format!("{base}/api/v1/users/@me"), token });

    // Login storm, with a probe of @me running alongside.
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(probe_me(me.clone(), stop.clone(), plan));
    let storm = login_storm(&http, base, plan).await;
    stop.store(true, Ordering::Relaxed);
    let probes = probe.await.context("probe task panicked")?;
    let (login_times, storm_wall) = storm?;
    let probes = probes?;
    ensure!(
        login_times.len() == plan.logins,
        "only {} of {} logins within the time cap",
        login_times.len(),
        plan.logins
    );
    let tag = format!("{:<10}", format!("[{backend}]"));
    println!(
        "{tag} login throughput            {:>9.1} logins/s  ({} logins, {} workers, {:.2} s)",
        login_times.len() as f64 / storm_wall.as_secs_f64(),
        login_times.len(),
        plan.login_workers,
        storm_wall.as_secs_f64()
    );
    print_latency(&tag, "login", login_times);
    ensure!(!probes.is_empty(), "no @me probe completed during the login storm");
    print_latency(&tag, "@me during logins", probes);

    // Warm-up fills the connection pools on both sides before anything is timed.
    concurrent_me(me.clone(), plan.clients, plan.warmup_per_client, plan.time_cap).await?;
    let start = Instant::now();
    let times = concurrent_me(me, plan.clients, plan.requests_per_client, plan.time_cap).await?;
    let wall = start.elapsed();
    let expected = plan.clients * plan.requests_per_client;
    ensure!(
        plan.name != SMOKE.name || times.len() == expected,
        "smoke: {} of {expected} requests",
        times.len()
    );
    if times.len() < expected {
        println!("{tag} note: time cap hit, {} of {expected} requests done", times.len());
    }
    ensure!(!times.is_empty(), "no @me request completed under load");
    println!(
        "{tag} @me x{} throughput           {:>9.1} req/s  ({} requests, {:.2} s)",
        plan.clients,
        times.len() as f64 / wall.as_secs_f64(),
        times.len(),
        wall.as_secs_f64()
    );
    print_latency(&tag, &format!("@me x{}", plan.clients), times);
    Ok(())
}

struct MeRequest {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl MeRequest {
    async fn timed(&self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let res = self.http.get(&self.url).bearer_auth(&self.token).send().await?;
        let status = res.status();
        // Reading the body is part of the request: a client is not done before that.
        res.bytes().await?;
        let took = start.elapsed();
        ensure!(status == reqwest::StatusCode::OK, "GET @me answered {status}");
        Ok(took)
    }
}

/// `plan.logins` logins shared out among `plan.login_workers` workers through a counter.
async fn login_storm(
    http: &reqwest::Client,
    base: &str,
    plan: Plan,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + plan.time_cap;
    let url = format!("{base}/api/v1/auth/login");
    let start = Instant::now();
    let mut workers = Vec::with_capacity(plan.login_workers);
    for _ in 0..plan.login_workers {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let body = LoginRequest {
                login: USERNAME.into(),
                password: PASSWORD.into(),
                device_name: None,
            };
            let mut times = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < plan.logins && Instant::now() < deadline {
                let t = Instant::now();
                let res = http.post(&url).json(&body).send().await?;
                let status = res.status();
                res.bytes().await?;
                ensure!(status == reqwest::StatusCode::OK, "login answered {status}");
                times.push(t.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut all = Vec::with_capacity(plan.logins);
    for worker in workers {
        all.extend(worker.await.context("login worker panicked")??);
    }
    Ok((all, start.elapsed()))
}

/// Samples @me until the storm ends (`stop`), or the count or time bound is reached.
async fn probe_me(
    me: Arc<MeRequest>,
    stop: Arc<AtomicBool>,
    plan: Plan,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + plan.time_cap;
    let mut times = Vec::new();
    // At least one sample, even if a short storm ends before this task first runs.
    loop {
        times.push(me.timed().await?);
        if stop.load(Ordering::Relaxed)
            || times.len() >= plan.max_probes
            || Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(plan.probe_interval).await;
    }
    Ok(times)
}

/// `clients` closed loops of `per_client` requests each, sharing one connection pool.
async fn concurrent_me(
    me: Arc<MeRequest>,
    clients: usize,
    per_client: usize,
    cap: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + cap;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let me = me.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_client);
            while times.len() < per_client && Instant::now() < deadline {
                times.push(me.timed().await?);
            }
            anyhow::Ok(times)
        }));
    }
    let mut all = Vec::with_capacity(clients * per_client);
    for task in tasks {
        all.extend(task.await.context("client task panicked")??);
    }
    Ok(all)
}

fn print_latency(tag: &str, what: &str, mut times: Vec<Duration>) {
    if times.is_empty() {
        return;
    }
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    for (stat, value) in
        [("p50", percentile(&times, 50.0)), ("p99", percentile(&times, 99.0)), ("mean", mean)]
    {
        let label = format!("{what} {stat}");
        println!("{tag} {label:<28} {:>9.3} ms  (n={})", value.as_secs_f64() * 1e3, times.len());
    }
}

/// Nearest-rank percentile of an ascending, non-empty slice.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn unix_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

/// A throwaway PostgreSQL database, so the bench never touches data it did not create.
struct ScratchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDb {
    async fn create(admin_url: &str) -> anyhow::Result<Self> {
        // Built from digits and a fixed prefix only, so it needs no quoting.
        let name = format!("auraspeak_bench_{}_{}", std::process::id(), unix_millis());
        let (before_query, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let Some((server, _admin_db)) = before_query.rsplit_once('/') else {
            bail!(
                "AURASPEAK_TEST_PG_URL has no database path: expected postgres://user@host:port/db"
            );
        };
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("connecting to AURASPEAK_TEST_PG_URL")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let url = format!("{server}/{name}{query}");
        Ok(Self { admin_url: admin_url.to_owned(), name, url })
    }

    async fn drop_now(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        // FORCE: a pool connection the server has not closed yet must not keep it alive.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }
}
