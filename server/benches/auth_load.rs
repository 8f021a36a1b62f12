//! Load figures for the auth and chat paths, against a real server started in-process on
//! port 0.
//!
//! Three questions: how many logins per second argon2id allows, and whether the rest of
//! the server stays fast meanwhile (hashing runs on blocking threads behind a semaphore, so
//! a login storm should not stall cheap requests); the latency of an authenticated
//! `GET /api/v1/users/@me` under 64 concurrent clients; and the latency of sending a
//! message, for one person posting briskly and for a crowd of people doing so at once.
//!
//! Every run is made twice, alternately: with the rate limits of `config/default.toml`
//! (`limits=default`) and with every limit set so high that nothing is ever refused
//! (`limits=lifted`), so the figures show what the per-account and per-address limits cost
//! a normal user. The simulated people come through a trusted proxy (127.0.0.1) with an
//! `X-Forwarded-For` address each, as behind a reverse proxy, so the per-address limits see
//! one address per person; the login storm, too, is many people logging in at once. Each
//! mode runs `AUTH_LOAD_RUNS` times (3 with `--bench`) on a fresh server, and the medians
//! over the runs are printed at the end. `AUTH_LOAD_MODES=default` (or `lifted`) runs one
//! mode only.
//!
//! SQLite always; PostgreSQL too when `AURASPEAK_TEST_PG_URL` names an admin URL, in a
//! scratch database dropped at the end.
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
use serde_json::{Value, json};
use sqlx::Connection;

const USERNAME: &str = "bench_user";
const PASSWORD: &str = "a-long-unusual-passphrase-42";

/// How much load to apply; every loop is bounded by a count and by `time_cap`.
#[derive(Clone, Copy)]
struct Plan {
    name: &'static str,
    runs: usize,
    logins: usize,
    login_workers: usize,
    /// Pause between probes during the storm, so the probe samples latency without
    /// adding a load of its own.
    probe_interval: Duration,
    max_probes: usize,
    clients: usize,
    requests_per_client: usize,
    warmup_per_client: usize,
    /// Messages the lone sender posts.
    solo_messages: usize,
    /// How many people post at once in the crowd phase, and how many messages each.
    crowd: usize,
    crowd_messages: usize,
    time_cap: Duration,
}

const FULL: Plan = Plan {
    name: "full",
    runs: 3,
    logins: 400,
    login_workers: 8,
    probe_interval: Duration::from_millis(5),
    max_probes: 100_000,
    clients: 64,
    requests_per_client: 200,
    warmup_per_client: 10,
    solo_messages: 24,
    crowd: 32,
    crowd_messages: 9,
    time_cap: Duration::from_secs(120),
};

const SMOKE: Plan = Plan {
    name: "smoke",
    runs: 1,
    logins: 4,
    login_workers: 2,
    probe_interval: Duration::from_millis(5),
    max_probes: 1_000,
    clients: 2,
    requests_per_client: 5,
    warmup_per_client: 1,
    solo_messages: 3,
    crowd: 2,
    crowd_messages: 3,
    time_cap: Duration::from_secs(60),
};

/// A brisk person: three lines a quarter second apart, then a pause to read and type.
/// That is 3 messages in 3.25 s, under the default 5 per 5 s per channel, so a person at
/// this pace is never refused, but close enough to the limit that its buckets are busy.
const BURST: usize = 3;
const WITHIN_BURST: Duration = Duration::from_millis(250);
const BETWEEN_BURSTS: Duration = Duration::from_millis(2750);

/// Whether the server runs with the shipped limits or with limits nobody reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Limits {
    Default,
    Lifted,
}

impl Limits {
    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Lifted => "lifted",
        }
    }

    fn apply(self, config: &mut auraspeak_server::Config) {
        // The simulated people each come with their own address from a reverse proxy.
        config.http.trusted_proxies = vec!["127.0.0.1".into()];
        config.rate_limit.enabled = true;
        if self == Self::Lifted {
            let r = &mut config.rate_limit;
            for n in [
                &mut r.auth_per_minute,
                &mut r.auth_burst,
                &mut r.login_failures_per_hour,
                &mut r.login_failures_per_hour_per_account,
                &mut r.password_changes_per_hour,
                &mut r.password_changes_per_hour_per_ip,
                &mut r.messages_per_channel_5s,
                &mut r.reaction_burst,
                &mut r.reactions_per_minute,
                &mut r.write_burst,
                &mut r.writes_per_minute,
                &mut r.moderation_burst,
                &mut r.moderations_per_minute,
                &mut r.identify_burst,
                &mut r.identifies_per_minute,
                &mut r.identify_ip_burst,
                &mut r.identifies_per_minute_per_ip,
                &mut r.sessions_per_ip,
                &mut r.message_ip_burst,
                &mut r.messages_per_minute_per_ip,
                &mut r.reaction_ip_burst,
                &mut r.reactions_per_minute_per_ip,
                &mut r.write_ip_burst,
                &mut r.writes_per_minute_per_ip,
                &mut r.moderation_ip_burst,
                &mut r.moderations_per_minute_per_ip,
                &mut r.typing_ip_burst,
                &mut r.typings_per_minute_per_ip,
            ] {
                *n = 1_000_000_000;
            }
        }
    }
}

/// One run's figures, in the order they were measured: (what, value, unit).
type Figures = Vec<(String, f64, &'static str)>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let mut plan = if full { FULL } else { SMOKE };
    if let Ok(runs) = std::env::var("AUTH_LOAD_RUNS") {
        plan.runs = runs.parse().context("AUTH_LOAD_RUNS must be a number")?;
    }
    let modes = match std::env::var("AUTH_LOAD_MODES").as_deref() {
        Err(_) | Ok("") => vec![Limits::Default, Limits::Lifted],
        Ok(list) => list
            .split(',')
            .map(|m| match m.trim() {
                "default" => Ok(Limits::Default),
                "lifted" => Ok(Limits::Lifted),
                other => bail!("AUTH_LOAD_MODES: unknown mode {other:?} (default, lifted)"),
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    run_backend("sqlite", None, plan, &modes, cores).await?;

    if let Ok(admin_url) = std::env::var("AURASPEAK_TEST_PG_URL") {
        run_backend("postgres", Some(&admin_url), plan, &modes, cores).await?;
    } else {
        println!("(AURASPEAK_TEST_PG_URL not set: PostgreSQL skipped)");
    }
    Ok(())
}

/// Every run of every mode on `backend`, modes alternating, then the medians.
async fn run_backend(
    backend: &str,
    pg_admin: Option<&str>,
    plan: Plan,
    modes: &[Limits],
    cores: usize,
) -> anyhow::Result<()> {
    let mut all: Vec<(Limits, Figures)> = Vec::new();
    for run in 1..=plan.runs {
        for &mode in modes {
            println!(
                "== auth_load: backend={backend}, limits={}, run {run}/{}, cores={cores}, mode={} ==",
                mode.name(),
                plan.runs,
                plan.name
            );
            let figures = match pg_admin {
                None => run_once(backend, String::new(), plan, mode).await?,
                Some(admin_url) => {
                    let db = ScratchDb::create(admin_url).await?;
                    let outcome = run_once(backend, db.url.clone(), plan, mode).await;
                    // Drop the database even when the run failed, then report the first error.
                    let dropped = db.drop_now().await;
                    let figures = outcome?;
                    dropped?;
                    figures
                }
            };
            all.push((mode, figures));
        }
    }
    if plan.runs > 1 {
        for &mode in modes {
            let runs: Vec<&Figures> =
                all.iter().filter(|(m, _)| *m == mode).map(|(_, f)| f).collect();
            println!(
                "== auth_load medians of {} runs: backend={backend}, limits={} ==",
                runs.len(),
                mode.name()
            );
            for (i, (label, _, unit)) in runs[0].iter().enumerate() {
                let mut values: Vec<f64> =
                    runs.iter().filter_map(|f| f.get(i).map(|(_, v, _)| *v)).collect();
                values.sort_by(f64::total_cmp);
                let median = values[values.len() / 2];
                println!("[{backend}/{}] {label:<34} {median:>10.3} {unit}", mode.name());
            }
        }
    }
    Ok(())
}

async fn run_once(
    backend: &str,
    db_url: String,
    plan: Plan,
    limits: Limits,
) -> anyhow::Result<Figures> {
    let data_dir = std::env::temp_dir().join(format!(
        "auraspeak-bench-{}-{}-{backend}",
        std::process::id(),
        unix_millis()
    ));
    let mut config = auraspeak_server::Config { data_dir: data_dir.clone(), ..Default::default() };
    config.http.listen = "127.0.0.1:0".parse().context("loopback address")?;
    config.voice.udp_listen = "127.0.0.1:0".parse().context("loopback address")?;
    limits.apply(&mut config);
    config.database.url = db_url;
    config.database.max_connections = 32;
    let server = auraspeak_server::start(config).await.context("starting the server")?;
    let base = format!("http://{}", server.addr());

    let tag = format!("[{backend}/{}]", limits.name());
    let mut figures = Figures::new();
    let outcome = measure(&tag, &base, plan, &mut figures).await;
    server.shutdown().await.context("stopping the server")?;
    // Best effort: a leftover temp dir is harmless and must not hide the real outcome.
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome.map(|()| figures)
}

/// The address person `n` of a `group` comes from, as the trusted proxy reports it.
fn address(group: u8, n: usize) -> String {
    format!("10.{group}.{}.{}", (n / 250) % 250, n % 250 + 1)
}

async fn measure(tag: &str, base: &str, plan: Plan, figures: &mut Figures) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let token = register(&http, base, USERNAME, &address(0, 0)).await?;
    let me = Arc::new(MeRequest {
        http: http.clone(),
        url: format!("{base}/api/v1/users/@me"),
        token: token.clone(),
    });

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
    let rate = login_times.len() as f64 / storm_wall.as_secs_f64();
    println!(
        "{tag} login throughput            {rate:>9.1} logins/s  ({} logins, {} workers, {:.2} s)",
        login_times.len(),
        plan.login_workers,
        storm_wall.as_secs_f64()
    );
    figures.push(("login throughput".into(), rate, "logins/s"));
    record_latency(tag, "login", login_times, figures);
    ensure!(!probes.is_empty(), "no @me probe completed during the login storm");
    record_latency(tag, "@me during logins", probes, figures);

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
    let rate = times.len() as f64 / wall.as_secs_f64();
    println!(
        "{tag} @me x{} throughput           {rate:>9.1} req/s  ({} requests, {:.2} s)",
        plan.clients,
        times.len(),
        wall.as_secs_f64()
    );
    figures.push((format!("@me x{} throughput", plan.clients), rate, "req/s"));
    record_latency(tag, &format!("@me x{}", plan.clients), times, figures);

    send_messages(tag, &http, base, &token, plan, figures).await
}

/// The message phases: one person posting briskly alone, then a crowd of people each
/// posting at the same pace at once, all in one channel of one server.
async fn send_messages(
    tag: &str,
    http: &reqwest::Client,
    base: &str,
    owner: &str,
    plan: Plan,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let from = address(0, 0);
    let detail =
        call(http, base, "/api/v1/servers", owner, &from, json!({"name": "Bench"})).await?;
    let server = detail["server"]["id"].as_str().context("server id")?.to_owned();
    let channel = detail["channels"][0]["id"].as_str().context("channel id")?.to_owned();
    let invite =
        call(http, base, &format!("/api/v1/servers/{server}/invites"), owner, &from, json!({}))
            .await?;
    let code = invite["code"].as_str().context("invite code")?.to_owned();
    let mut crowd = Vec::with_capacity(plan.crowd);
    for n in 0..plan.crowd {
        let from = address(2, n);
        let token = register(http, base, &format!("bench_crowd_{n}"), &from).await?;
        call(http, base, &format!("/api/v1/invites/{code}"), &token, &from, json!({})).await?;
        crowd.push(Sender { token, from });
    }
    let url = format!("{base}/api/v1/channels/{channel}/messages");

    let solo = Sender { token: owner.to_owned(), from };
    let times = solo.post_briskly(http, &url, plan.solo_messages, Duration::ZERO).await?;
    record_latency(tag, "send x1", times, figures);

    // Starts spread over one burst period, as people do not all press Enter together.
    let period = WITHIN_BURST * (BURST as u32 - 1) + BETWEEN_BURSTS;
    let mut tasks = Vec::with_capacity(crowd.len());
    for (n, sender) in crowd.into_iter().enumerate() {
        let (http, url) = (http.clone(), url.clone());
        let offset = period.mul_f64(n as f64 / plan.crowd as f64);
        let count = plan.crowd_messages;
        tasks.push(tokio::spawn(
            async move { sender.post_briskly(&http, &url, count, offset).await },
        ));
    }
    let mut times = Vec::with_capacity(plan.crowd * plan.crowd_messages);
    for task in tasks {
        times.extend(task.await.context("sender task panicked")??);
    }
    record_latency(tag, &format!("send x{}", plan.crowd), times, figures);
    Ok(())
}

/// A signed-in person and the address the proxy reports for them.
struct Sender {
    token: String,
    from: String,
}

impl Sender {
    /// Posts `count` messages at the brisk pace after `offset`; the time of each request.
    /// A refusal fails the bench: this pace must never meet a limit.
    async fn post_briskly(
        &self,
        http: &reqwest::Client,
        url: &str,
        count: usize,
        offset: Duration,
    ) -> anyhow::Result<Vec<Duration>> {
        tokio::time::sleep(offset).await;
        let mut times = Vec::with_capacity(count);
        for n in 0..count {
            if n > 0 {
                tokio::time::sleep(if n % BURST == 0 { BETWEEN_BURSTS } else { WITHIN_BURST })
                    .await;
            }
            let t = Instant::now();
            let res = http
                .post(url)
                .bearer_auth(&self.token)
                .header("x-forwarded-for", &self.from)
                .json(&json!({"content": format!("line {n}, typed by hand")}))
                .send()
                .await?;
            let status = res.status();
            res.bytes().await?;
            times.push(t.elapsed());
            ensure!(status == reqwest::StatusCode::CREATED, "message send answered {status}");
        }
        Ok(times)
    }
}

async fn register(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    from: &str,
) -> anyhow::Result<String> {
    let body = RegisterRequest {
        username: username.into(),
        email: format!("{username}@example.com"),
        password: PASSWORD.into(),
        display_name: None,
        device_name: None,
        invite: None,
    };
    let res = http
        .post(format!("{base}/api/v1/auth/register"))
        .header("x-forwarded-for", from)
        .json(&body)
        .send()
        .await?;
    ensure!(res.status() == reqwest::StatusCode::CREATED, "register answered {}", res.status());
    Ok(res.json::<AuthResponse>().await?.tokens.access_token)
}

/// An authenticated POST whose answer must be a success with a JSON body.
async fn call(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    from: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let res = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("x-forwarded-for", from)
        .json(&body)
        .send()
        .await?;
    let status = res.status();
    let text = res.text().await?;
    ensure!(status.is_success(), "POST {path} answered {status}: {text}");
    Ok(serde_json::from_str(&text)?)
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
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= plan.logins || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                // Many people logging in at once, each from an address of their own.
                let res = http
                    .post(&url)
                    .header("x-forwarded-for", address(1, n))
                    .json(&body)
                    .send()
                    .await?;
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

/// Prints p50, p99 and the mean of `times`, and adds them to `figures`.
fn record_latency(tag: &str, what: &str, mut times: Vec<Duration>, figures: &mut Figures) {
    if times.is_empty() {
        return;
    }
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    for (stat, value) in
        [("p50", percentile(&times, 50.0)), ("p99", percentile(&times, 99.0)), ("mean", mean)]
    {
        let label = format!("{what} {stat}");
        let ms = value.as_secs_f64() * 1e3;
        println!("{tag} {label:<28} {ms:>9.3} ms  (n={})", times.len());
        figures.push((label, ms, "ms"));
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
