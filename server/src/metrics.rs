//! Prometheus metrics at `/metrics`: HTTP latency by route and status, gateway
//! connections, sessions and events, database reachability, probe latency and latency per
//! operation, connection pool use, and process CPU, memory and open files.
//!
//! One [`Metrics`] value is created at start-up and passed around (no global registry),
//! so tests can run several servers in one process.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::Store;

/// Request latencies from 1 ms to ~16 s: API calls are milliseconds, logins ~100 ms,
/// and anything near the request timeout should still land in a bucket.
const HTTP_BUCKETS: [f64; 14] =
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 16.0];
const DB_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// One of a closed set (see [`method_label`]): the method is chosen by the client, and
    /// hyper accepts any token as an extension method, so the raw text would let anyone
    /// create a new series per request.
    pub method: &'static str,
    /// The route template (`/api/v1/channels/{channel_id}/messages`), never the raw path,
    /// so IDs do not explode the number of series.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// WebSocket close code, or 0 when the client vanished without one.
    pub code: u16,
}

/// Why the relay dropped a datagram: a fixed set chosen by the code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VoiceDropLabels {
    /// `rate` (over the peer's packet or byte budget), `unconsented` (to an address
    /// that did not answer a consent check), `bad_input` (refused by the session),
    /// `stun_limit`, `address_limit`, `unknown_source`.
    pub reason: &'static str,
}

/// The label of the per-operation database latency: a `Store` method name, so the set of
/// series is fixed by the code, never by input.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DbOpLabels {
    pub op: &'static str,
}

/// Latency of every storage call by operation. Created before [`Metrics`] because the
/// store that records into it is built first (and [`Metrics`] reads pool use from it).
#[derive(Clone, Debug)]
pub struct DbLatency(Family<DbOpLabels, Histogram, Buckets>);

impl DbLatency {
    pub fn new() -> Self {
        Self(Family::new_with_constructor(Buckets(&DB_BUCKETS)))
    }

    pub fn observe(&self, op: &'static str, elapsed: Duration) {
        self.0.get_or_create(&DbOpLabels { op }).observe(elapsed.as_secs_f64());
    }
}

impl Default for DbLatency {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Debug)]
struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// The label for a request method: the standard methods by name, everything else (CONNECT,
/// TRACE and any extension method a client invents) as `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, Buckets>,
    pub gateway_connections: Gauge,
    pub gateway_dispatched: Counter,
    pub gateway_closes: Family<CloseLabels, Counter>,
    pub db_up: Gauge,
    db_ping: Histogram,
    /// Unix time the served certificate expires; renewals move it forward.
    pub tls_not_after: Gauge,
    pub voice_rooms: Gauge,
    pub voice_peers: Gauge,
    pub voice_packets_in: Counter,
    pub voice_bytes_in: Counter,
    pub voice_packets_out: Counter,
    pub voice_bytes_out: Counter,
    pub voice_packets_dropped: Counter,
    /// Datagrams the kernel would not send (socket buffer full, unreachable address).
    pub voice_send_failures: Counter,
    /// Loss fraction (0–1) reported for each peer's upstream, as a histogram over peers.
    pub voice_loss: Histogram,
    pub voice_jitter: Histogram,
    /// Time from a media datagram's arrival to its copies being sent to every listener.
    pub voice_forward_delay: Histogram,
    /// Datagrams the relay dropped, by reason (security review M5, M3, L4, L5).
    pub voice_dropped: Family<VoiceDropLabels, Counter>,
    /// Times the relay task panicked and was started again.
    pub voice_relay_restarts: Counter,
}

/// Forwarding inside the relay, until a frame's last copy is sent: a quarter of a
/// millisecond for a 50-person room under load, 1-2 ms for a 200-listener room (the
/// per-copy work is str0m's timeout handling, SRTP and the send); 1 ms is the p99 goal.
const FORWARD_BUCKETS: [f64; 11] =
    [0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.000_75, 0.001, 0.002, 0.005, 0.01, 0.05];

/// Loss fractions: most links lose nothing, voice degrades past a few per cent.
const LOSS_BUCKETS: [f64; 8] = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5];
/// Jitter in seconds, 1 ms to 200 ms.
const JITTER_BUCKETS: [f64; 8] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

impl Metrics {
    pub fn new(store: Arc<dyn Store>, db_latency: DbLatency) -> Self {
        let mut registry = Registry::with_prefix("auraspeak");
        registry.register(
            "db_query_duration_seconds",
            "Latency of database operations (storage calls, including transactions) by operation",
            db_latency.0,
        );
        let http = Family::new_with_constructor(Buckets(&HTTP_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            http.clone(),
        );
        let gateway_connections = Gauge::default();
        registry.register(
            "gateway_connections",
            "Open gateway WebSocket connections",
            gateway_connections.clone(),
        );
        let gateway_dispatched = Counter::default();
        registry.register(
            "gateway_dispatched_events",
            "Events written to gateway connections",
            gateway_dispatched.clone(),
        );
        let gateway_closes = Family::<CloseLabels, Counter>::default();
        registry.register(
            "gateway_disconnects",
            "Gateway connections ended, by close code (0: dropped without one)",
            gateway_closes.clone(),
        );
        let db_up = Gauge::default();
        registry.register("db_up", "1 if the last database probe succeeded", db_up.clone());
        let db_ping = Histogram::new(DB_BUCKETS.iter().copied());
        registry.register(
            "db_ping_duration_seconds",
            "Round trip of the periodic database probe",
            db_ping.clone(),
        );
        let tls_not_after = Gauge::default();
        registry.register(
            "tls_certificate_expiry_timestamp_seconds",
            "Unix time at which the served TLS certificate expires (0: TLS off)",
            tls_not_after.clone(),
        );
        let voice_rooms = Gauge::default();
        registry.register(
            "voice_rooms",
            "Voice channels with someone in them",
            voice_rooms.clone(),
        );
        let voice_peers = Gauge::default();
        registry.register(
            "voice_participants",
            "WebRTC sessions open in the voice relay",
            voice_peers.clone(),
        );
        let voice_packets_in = Counter::default();
        registry.register(
            "voice_packets_received",
            "Datagrams received on the media port",
            voice_packets_in.clone(),
        );
        let voice_bytes_in = Counter::default();
        registry.register(
            "voice_received_bytes",
            "Bytes received on the media port",
            voice_bytes_in.clone(),
        );
        let voice_packets_out = Counter::default();
        registry.register(
            "voice_packets_sent",
            "Datagrams sent from the media port (media, RTCP, STUN, DTLS)",
            voice_packets_out.clone(),
        );
        let voice_bytes_out = Counter::default();
        registry.register(
            "voice_sent_bytes",
            "Bytes sent from the media port",
            voice_bytes_out.clone(),
        );
        let voice_packets_dropped = Counter::default();
        registry.register(
            "voice_packets_dropped",
            "Datagrams on the media port that no session accepted",
            voice_packets_dropped.clone(),
        );
        let voice_send_failures = Counter::default();
        registry.register(
            "voice_send_failures",
            "Datagrams the media port could not send (socket buffer full, unreachable address)",
            voice_send_failures.clone(),
        );
        let voice_loss = Histogram::new(LOSS_BUCKETS.iter().copied());
        registry.register(
            "voice_loss_ratio",
            "Packet loss per participant from RTCP receiver reports, sampled every 2 s",
            voice_loss.clone(),
        );
        let voice_jitter = Histogram::new(JITTER_BUCKETS.iter().copied());
        registry.register(
            "voice_jitter_seconds",
            "Interarrival jitter per participant from RTCP, sampled every 2 s",
            voice_jitter.clone(),
        );
        let voice_forward_delay = Histogram::new(FORWARD_BUCKETS.iter().copied());
        registry.register(
            "voice_forward_delay_seconds",
            "From a media packet's arrival at the relay until its copies to all listeners are sent",
            voice_forward_delay.clone(),
        );
        let voice_dropped = Family::<VoiceDropLabels, Counter>::default();
        registry.register(
            "voice_dropped_packets",
            "Datagrams the relay dropped, by reason (rate, unconsented, bad_input, stun_limit, \
             address_limit, unknown_source)",
            voice_dropped.clone(),
        );
        let voice_relay_restarts = Counter::default();
        registry.register(
            "voice_relay_restarts",
            "Times the media relay task failed and was restarted (its calls ended)",
            voice_relay_restarts.clone(),
        );
        registry.register_collector(Box::new(PoolCollector { store }));
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            http,
            gateway_connections,
            gateway_dispatched,
            gateway_closes,
            db_up,
            db_ping,
            tls_not_after,
            voice_rooms,
            voice_peers,
            voice_packets_in,
            voice_bytes_in,
            voice_packets_out,
            voice_bytes_out,
            voice_packets_dropped,
            voice_send_failures,
            voice_loss,
            voice_jitter,
            voice_forward_delay,
            voice_dropped,
            voice_relay_restarts,
        }
    }

    /// Counts a datagram the relay dropped.
    pub fn voice_drop(&self, reason: &'static str) {
        self.voice_dropped.get_or_create(&VoiceDropLabels { reason }).inc();
    }

    pub fn observe_http(
        &self,
        method: &axum::http::Method,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = HttpLabels { method: method_label(method), route: route.to_owned(), status };
        self.http.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    pub fn observe_db_probe(&self, result: Result<Duration, ()>) {
        match result {
            Ok(elapsed) => {
                self.db_up.set(1);
                self.db_ping.observe(elapsed.as_secs_f64());
            }
            Err(()) => {
                self.db_up.set(0);
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// Connection pool use, read at scrape time.
struct PoolCollector {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCollector").field("backend", &self.store.backend()).finish()
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let family = Family::<PoolLabels, Gauge>::default();
        for stat in self.store.pool_stats() {
            let busy = stat.size.saturating_sub(stat.idle);
            let set = |state: &'static str, n: u32| {
                family
                    .get_or_create(&PoolLabels {
                        pool: stat.name.to_owned(),
                        state: state.to_owned(),
                    })
                    .set(i64::from(n));
            };
            set("idle", stat.idle);
            set("busy", busy);
        }
        let metric = encoder.encode_descriptor(
            "db_pool_connections",
            "Database connections by pool and state",
            None,
            family.metric_type(),
        )?;
        family.encode(metric)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

/// Pool sizes for metrics.
#[derive(Debug, Clone)]
pub struct PoolStat {
    pub name: &'static str,
    pub size: u32,
    pub idle: u32,
}

/// CPU time, resident memory and open file descriptors from /proc (Linux only; other
/// systems report nothing rather than zeros).
#[derive(Debug)]
struct ProcessCollector;

fn clock_ticks_per_second() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux architecture we ship for.
    100.0
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            let cpu = (ticks(11) + ticks(12)) / clock_ticks_per_second();
            let counter = ConstCounter::new(cpu);
            let m = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time",
                None,
                counter.metric_type(),
            )?;
            counter.encode(m)?;
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let rss_kib = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
            if let Some(kib) = rss_kib {
                let gauge = ConstGauge::new(kib * 1024);
                let m = encoder.encode_descriptor(
                    "process_resident_memory_bytes",
                    "Resident memory",
                    None,
                    gauge.metric_type(),
                )?;
                gauge.encode(m)?;
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            let gauge = ConstGauge::new(dir.count() as i64);
            let m = encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(m)?;
        }
        Ok(())
    }
}

/// Probes the database every `period`, so `db_up` and the probe latency stay current
/// even when no request touches the database.
pub async fn probe_database(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    period: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let started = std::time::Instant::now();
                let outcome = tokio::time::timeout(Duration::from_secs(5), store.ping()).await;
                metrics.observe_db_probe(match outcome {
                    Ok(Ok(())) => Ok(started.elapsed()),
                    _ => Err(()),
                });
            }
            () = stop.cancelled() => break,
        }
    }
}
