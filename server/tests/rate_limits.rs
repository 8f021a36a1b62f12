//! Rate limits on the account routes trigger with 429 + Retry-After and recover; failed
//! logins are limited per account and address, so a guesser elsewhere cannot lock the
//! owner out, and per account over all addresses, which still admits the owner's own.

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Backend, PASSWORD, TestServer, assert_error};
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(
    per_ip_limit_triggers_and_recovers,
    failed_logins_are_limited_per_account,
    forwarded_addresses_count_only_from_trusted_proxies,
    every_forwarded_line_is_read_and_the_proxy_line_wins,
    ipv6_clients_share_a_bucket_per_64,
    username_and_email_share_one_failure_allowance,
    failed_logins_elsewhere_do_not_lock_the_owner_out,
    a_spent_account_allowance_still_admits_known_addresses,
);

async fn per_ip_limit_triggers_and_recovers(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 3;
        // One request per second refills, so recovery takes a second, not a minute.
        c.rate_limit.auth_per_minute = 60;
    })
    .await;
    let attempt =
        || s.post("/api/v1/auth/login", None, json!({"login": "nobody", "password": PASSWORD}));
    for _ in 0..3 {
        assert_error(&attempt().await, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let resp = s
        .http
        .post(s.url("/api/v1/auth/register"))
        .json(&json!({"username": "late", "email": "late@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // Authenticated and health routes are not throttled by the account-route limit.
    assert_eq!(s.get("/healthz", None).await.0, StatusCode::OK);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_error(&attempt().await, StatusCode::UNAUTHORIZED, "invalid_credentials");
    s.stop().await;
}

async fn failed_logins_are_limited_per_account(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 1000;
        c.rate_limit.auth_per_minute = 60_000;
        c.rate_limit.login_failures_per_hour = 3;
    })
    .await;
    s.register("target").await;
    s.register("bystander").await;
    for _ in 0..3 {
        assert_error(
            &s.login("target", "guess-guess-1").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    // Now even the right password is refused for this account from this address, for
    // about 20 minutes (one failure's worth of the hourly allowance)...
    let (status, body) = s.login("TARGET", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // ...while other accounts are unaffected.
    assert_eq!(s.login("bystander", PASSWORD).await.0, StatusCode::OK);
    s.stop().await;
}

async fn attempt_from(s: &TestServer, forwarded: &str) -> StatusCode {
    s.http
        .post(s.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"login": "nobody", "password": PASSWORD}))
        .send()
        .await
        .expect("send")
        .status()
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    // Behind a trusted proxy (here: loopback), each forwarded client has its own bucket.
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 2;
        c.rate_limit.auth_per_minute = 1;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    assert_eq!(attempt_from(&s, "198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(attempt_from(&s, "198.51.100.2").await, StatusCode::UNAUTHORIZED, "another client");
    let auth = s.register_from("proxied", "203.0.113.5").await;
    let (_, sessions) = s.get("/api/v1/auth/sessions", Some(&harness::access(&auth))).await;
    assert_eq!(sessions["sessions"][0]["ip"], "203.0.113.5", "sessions show the real client");
    s.stop().await;

    // Without trusting the peer, the header is ignored: one bucket for all claims.
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 2;
        c.rate_limit.auth_per_minute = 1;
    })
    .await;
    assert_eq!(attempt_from(&s, "198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "198.51.100.2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "198.51.100.3").await, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

async fn attempt_through(s: &TestServer, lines: &[&str]) -> StatusCode {
    let mut req = s.http.post(s.url("/api/v1/auth/login"));
    for line in lines {
        // reqwest appends: each call is a header line of its own.
        req = req.header("x-forwarded-for", *line);
    }
    req.json(&json!({"login": "nobody", "password": PASSWORD})).send().await.expect("send").status()
}

async fn every_forwarded_line_is_read_and_the_proxy_line_wins(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 2;
        c.rate_limit.auth_per_minute = 1;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    // The client sends a made-up line of its own each time; the proxy appends a line
    // with the address it really saw. Only the latter may pick the bucket.
    for (claim, expected) in [
        ("1.1.1.1", StatusCode::UNAUTHORIZED),
        ("2.2.2.2", StatusCode::UNAUTHORIZED),
        ("3.3.3.3", StatusCode::TOO_MANY_REQUESTS),
    ] {
        assert_eq!(attempt_through(&s, &[claim, "198.51.100.1"]).await, expected, "{claim}");
    }
    assert_eq!(
        attempt_through(&s, &["198.51.100.1", "198.51.100.2"]).await,
        StatusCode::UNAUTHORIZED,
        "the proxy's client has a bucket of its own"
    );
    s.stop().await;
}

async fn ipv6_clients_share_a_bucket_per_64(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 2;
        c.rate_limit.auth_per_minute = 1;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    // A /64 is one subscriber, whatever address in it they pick.
    assert_eq!(attempt_from(&s, "2001:db8:5:6::1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "2001:db8:5:6:aaaa::2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt_from(&s, "2001:db8:5:6:ffff::3").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(attempt_from(&s, "2001:db8:5:7::1").await, StatusCode::UNAUTHORIZED, "next /64");
    s.stop().await;
}

async fn username_and_email_share_one_failure_allowance(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 1000;
        c.rate_limit.auth_per_minute = 60_000;
        c.rate_limit.login_failures_per_hour = 3;
    })
    .await;
    s.register("shared").await;
    for login in ["shared", "shared", "Shared@Example.com"] {
        assert_error(
            &s.login(login, "guess-guess-1").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    // Two guesses by name and one by email used the account's whole allowance.
    let (status, body) = s.login("shared", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, body) = s.login("shared@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    s.stop().await;
}

/// A login through the trusted proxy on loopback, for a client at `from`.
async fn login_from(s: &TestServer, login: &str, password: &str, from: &str) -> StatusCode {
    s.http
        .post(s.url("/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("send")
        .status()
}

async fn failed_logins_elsewhere_do_not_lock_the_owner_out(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 1000;
        c.rate_limit.auth_per_minute = 60_000;
        c.rate_limit.login_failures_per_hour = 3;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    s.register_from("victim", "198.51.100.7").await;
    for _ in 0..3 {
        let status = login_from(&s, "victim", "guess-guess-1", "203.0.113.9").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The guesser's address is held back, even with the right password...
    assert_eq!(
        login_from(&s, "victim", PASSWORD, "203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...while the owner logs in from home and from a new place alike.
    assert_eq!(login_from(&s, "victim", PASSWORD, "198.51.100.7").await, StatusCode::OK);
    assert_eq!(login_from(&s, "victim", PASSWORD, "192.0.2.44").await, StatusCode::OK);
    s.stop().await;
}

async fn a_spent_account_allowance_still_admits_known_addresses(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.auth_burst = 1000;
        c.rate_limit.auth_per_minute = 60_000;
        c.rate_limit.login_failures_per_hour = 3;
        c.rate_limit.login_failures_per_hour_per_account = 6;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    // The owner holds a session from home (registering signs in).
    s.register_from("victim", "198.51.100.7").await;
    // Guessers at three addresses, two tries each, spend the account's six.
    for n in 1..=3 {
        for _ in 0..2 {
            let status = login_from(&s, "victim", "guess-guess-1", &format!("203.0.113.{n}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    // Now a new address is refused, right password or not...
    assert_eq!(
        login_from(&s, "victim", PASSWORD, "192.0.2.44").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but the owner's home address, where it has a session, still gets in.
    assert_eq!(login_from(&s, "victim", PASSWORD, "198.51.100.7").await, StatusCode::OK);
    s.stop().await;
}
