//! `/metrics` after real traffic shows the series operators need with sensible values,
//! and the shipped Grafana dashboard and Prometheus alerts reference only metrics the
//! server actually exports, so they cannot drift apart.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::collections::HashSet;
use std::time::Duration;

use gateway_client::Gw;
use harness::{Backend, TestServer, access};
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(metrics_reflect_traffic_and_dashboards_match);

/// Sample lines as (name with labels, value).
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(samples: &[(String, f64)], prefix: &str) -> Option<f64> {
    samples.iter().find(|(n, _)| n.starts_with(prefix)).map(|(_, v)| *v)
}

/// Metric names referenced by a dashboard or rule file.
fn referenced(text: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut rest = text;
    while let Some(pos) = rest.find("auraspeak_") {
        let tail = &rest[pos..];
        let len =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..len].to_owned());
        rest = &tail[len..];
    }
    names
}

async fn metrics_reflect_traffic_and_dashboards_match(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("metered").await;
    let token = access(&auth);
    let (_, detail) = s.post("/api/v1/servers", Some(&token), json!({"name": "Metered"})).await;
    let channel = detail["channels"][0]["id"].as_str().expect("channel").to_owned();
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&token).await;
    s.post(&format!("/api/v1/channels/{channel}/messages"), Some(&token), json!({"content": "hi"}))
        .await;
    gw.event(Duration::from_secs(5)).await.expect("event delivered");
    gw.cut();
    s.get("/api/v1/no-such-route", None).await;

    // Give the server a moment to notice the dropped connection.
    let mut text = String::new();
    for _ in 0..50 {
        let resp = reqwest::get(s.url("/metrics")).await.expect("scrape");
        assert_eq!(resp.status(), StatusCode::OK);
        text = resp.text().await.expect("body");
        if value(&samples(&text), "auraspeak_gateway_connections") == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = samples(&text);
    let register = r#"auraspeak_http_request_duration_seconds_count{method="POST",route="/api/v1/auth/register",status="201"}"#;
    assert_eq!(value(&all, register), Some(1.0), "{text}");
    let route_template = r#"route="/api/v1/channels/{channel_id}/messages",status="201""#;
    assert!(
        all.iter().any(|(n, _)| n.contains(route_template)),
        "routes are templates, not raw paths"
    );
    assert!(
        value(
            &all,
            r#"auraspeak_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}"#
        ) >= Some(1.0)
    );
    assert_eq!(
        value(&all, "auraspeak_gateway_connections"),
        Some(0.0),
        "the cut connection is gone"
    );
    assert!(value(&all, "auraspeak_gateway_dispatched_events_total") >= Some(1.0));
    assert!(value(&all, "auraspeak_gateway_disconnects_total") >= Some(1.0));
    assert_eq!(value(&all, "auraspeak_db_up"), Some(1.0));
    assert!(value(&all, "auraspeak_db_ping_duration_seconds_count") >= Some(1.0));
    assert!(all.iter().any(|(n, _)| n.starts_with("auraspeak_db_pool_connections{")));
    // Per-operation database latency: exactly the calls the traffic above made, each with a
    // plausible duration, and every observation inside the finite buckets or +Inf.
    let db = "auraspeak_db_query_duration_seconds";
    for (op, calls) in [("create_user", 1.0), ("create_server", 1.0), ("create_message", 1.0)] {
        let count = value(&all, &format!("{db}_count{{op=\"{op}\"}}"));
        assert_eq!(count, Some(calls), "{op}: {text}");
        let sum = value(&all, &format!("{db}_sum{{op=\"{op}\"}}")).expect("sum");
        assert!(sum > 0.0 && sum < 2.0, "{op} took {sum} s");
        let inf = value(&all, &format!("{db}_bucket{{le=\"+Inf\",op=\"{op}\"}}"))
            .or_else(|| value(&all, &format!("{db}_bucket{{op=\"{op}\",le=\"+Inf\"}}")));
        assert_eq!(inf, Some(calls), "{op}: +Inf bucket holds every call");
    }
    // Reads that every authenticated request and the gateway make show up too.
    assert!(value(&all, &format!("{db}_count{{op=\"session\"}}")) >= Some(1.0), "{text}");
    let ops = all.iter().filter(|(n, _)| n.starts_with(&format!("{db}_count{{"))).count();
    assert!(ops >= 5, "only {ops} operations measured");
    assert!(value(&all, "auraspeak_process_resident_memory_bytes") > Some(1e6));
    assert!(value(&all, "auraspeak_process_open_fds") > Some(3.0));
    assert!(value(&all, "auraspeak_process_cpu_seconds_total") > Some(0.0));

    // Every metric a dashboard panel or an alert uses must be one the server exports.
    let exported: HashSet<String> =
        all.iter().map(|(n, _)| n.split('{').next().unwrap_or_default().to_owned()).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../installers");
    for file in ["grafana/dashboards/auraspeak-overview.json", "prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root.join(file)).expect("installer file");
        let used = referenced(&text);
        assert!(used.len() >= 5, "{file} references too little: {used:?}");
        for name in used {
            assert!(exported.contains(&name), "{file} uses {name}, which /metrics does not export");
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/dashboards/auraspeak-overview.json"))
            .expect("read"),
    )
    .expect("the dashboard is valid JSON");
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() >= 10));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_live_on_their_own_address() {
    let s =
        TestServer::start_with(&Backend::Sqlite, |c| c.metrics.listen = "127.0.0.1:0".into()).await;
    assert_eq!(
        s.get("/metrics", None).await.0,
        StatusCode::NOT_FOUND,
        "not on the public listener"
    );
    let addr = s.running().metrics_addr().expect("separate metrics listener");
    let resp = reqwest::get(format!("http://{addr}/metrics")).await.expect("scrape");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.expect("body").contains("auraspeak_db_up"));
    s.stop().await;
}

/// `/metrics` is not public by default (review L13): on the main listener only loopback
/// clients get it, not through a reverse proxy and not as forwarded clients; with
/// `metrics.token` set, only scrapes that carry it, from anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_public_by_default() {
    let scrape = |s: &TestServer, forwarded: Option<&str>, token: Option<&str>| {
        let mut req = s.http.get(s.url("/metrics"));
        if let Some(from) = forwarded {
            req = req.header("x-forwarded-for", from);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        async move {
            let resp = req.send().await.expect("scrape");
            let status = resp.status();
            let body = resp.text().await.expect("body");
            (status, body)
        }
    };
    let s = TestServer::start(&Backend::Sqlite).await;
    let (status, body) = scrape(&s, None, None).await;
    assert_eq!(status, StatusCode::OK, "loopback scrapes work");
    assert!(body.contains("auraspeak_db_up"));
    // A local reverse proxy (not listed as trusted) relays someone from the internet.
    assert_eq!(scrape(&s, Some("203.0.113.9"), None).await.0, StatusCode::NOT_FOUND);
    s.stop().await;

    // Behind a trusted proxy, the forwarded client is who asks.
    let s = TestServer::start_with(&Backend::Sqlite, |c| {
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    assert_eq!(scrape(&s, Some("203.0.113.9"), None).await.0, StatusCode::NOT_FOUND);
    s.stop().await;

    let s = TestServer::start_with(&Backend::Sqlite, |c| {
        c.metrics.token = "scrape-secret-1234".into();
    })
    .await;
    let (status, body) = scrape(&s, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("missing_token"), "{body}");
    let (status, body) = scrape(&s, None, Some("scrape-secret-1235")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("invalid_token"), "{body}");
    let (status, body) = scrape(&s, Some("203.0.113.9"), Some("scrape-secret-1234")).await;
    assert_eq!(status, StatusCode::OK, "with the token, from anywhere");
    assert!(body.contains("auraspeak_db_up"));
    s.stop().await;
}

/// The HTTP latency series, without their values.
async fn http_series(s: &TestServer) -> HashSet<String> {
    let text = reqwest::get(s.url("/metrics")).await.expect("scrape").text().await.expect("body");
    samples(&text)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("auraspeak_http_request_duration_seconds"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_http_methods_create_no_new_series() {
    let s = TestServer::start(&Backend::Sqlite).await;
    let send = |method: String, path: &'static str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid token");
        s.http.request(method, s.url(path)).send()
    };
    // One odd request of each kind and a scrape of `/metrics` itself settle the series
    // that legitimately exist.
    for path in ["/api/v1/auth/login", "/no-such-route", "/metrics"] {
        send("PROBE".into(), path).await.expect("answered");
    }
    http_series(&s).await;
    let before = http_series(&s).await;
    for i in 0..40 {
        let method = format!("X{}{i}", "A".repeat(200));
        for path in ["/api/v1/auth/login", "/no-such-route", "/metrics"] {
            send(method.clone(), path).await.expect("answered");
        }
    }
    let after = http_series(&s).await;
    assert_eq!(after, before, "new series appeared: {:?}", after.difference(&before));
    assert!(before.iter().any(|n| n.contains(r#"method="other""#)), "{before:?}");
    assert!(!after.iter().any(|n| n.contains("PROBE") || n.contains("XAAA")));
    s.stop().await;
}
