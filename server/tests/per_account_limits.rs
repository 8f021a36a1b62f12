//! Limits on what one signed-in account can do, on both backends: bursts of messages,
//! reactions, writes and moderation get 429 + Retry-After while other accounts carry on;
//! guessing the current password through a password change counts as failed logins;
//! gateway logins are limited per account and per address, and an account holds a
//! bounded number of gateway sessions. The default limits leave a person's pace alone.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, ServerFrame, close};
use gateway_client::{Gw, Next};
use harness::{Backend, PASSWORD, TestServer, access, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    message_bursts_are_refused_per_account_and_channel,
    reactions_writes_and_moderation_have_their_own_budgets,
    password_change_guesses_count_as_failed_logins,
    identify_is_limited_per_account_and_per_address,
    sessions_per_account_are_capped,
);

const SOON: Duration = Duration::from_secs(5);

struct Room {
    owner: String,
    member: String,
    server: String,
    channel: String,
}

async fn room(s: &TestServer) -> Room {
    let owner = access(&s.register("owner").await);
    let member = access(&s.register("member").await);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Busy"})).await;
    let server = detail["server"]["id"].as_str().expect("id").to_owned();
    let channel = detail["channels"][0]["id"].as_str().expect("channel").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{server}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code");
    let (status, _) = s.post(&format!("/api/v1/invites/{code}"), Some(&member), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    Room { owner, member, server, channel }
}

/// Limits on, with the defaults of `config/default.toml`.
async fn limited(backend: &Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.rate_limit.enabled = true).await
}

async fn say(s: &TestServer, token: &str, channel: &str) -> reqwest::Response {
    s.http
        .post(s.url(&format!("/api/v1/channels/{channel}/messages")))
        .bearer_auth(token)
        .json(&json!({"content": "hello"}))
        .send()
        .await
        .expect("send")
}

/// A 429 with the rate-limit code and a Retry-After of a few seconds at most.
async fn assert_limited(resp: reqwest::Response, max_wait: u64) {
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=max_wait).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
}

async fn message_bursts_are_refused_per_account_and_channel(backend: Backend) {
    let s = limited(&backend).await;
    let r = room(&s).await;
    // Five at once are fine (a person pasting a few lines), the sixth is refused.
    for _ in 0..5 {
        assert_eq!(say(&s, &r.owner, &r.channel).await.status(), StatusCode::CREATED);
    }
    assert_limited(say(&s, &r.owner, &r.channel).await, 2).await;
    // Another account in the same channel is unaffected...
    assert_eq!(say(&s, &r.member, &r.channel).await.status(), StatusCode::CREATED);
    // ...and so is the same account in another channel.
    let (status, other) = s
        .post(
            &format!("/api/v1/servers/{}/channels", r.server),
            Some(&r.owner),
            json!({"name": "other", "kind": "text"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other = other["id"].as_str().expect("id");
    assert_eq!(say(&s, &r.owner, other).await.status(), StatusCode::CREATED);
    // One message a second is a pace nobody types at for long; it is never refused.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(say(&s, &r.owner, &r.channel).await.status(), StatusCode::CREATED);
    }
    s.stop().await;
}

async fn reactions_writes_and_moderation_have_their_own_budgets(backend: Backend) {
    let s = limited(&backend).await;
    let r = room(&s).await;
    let (_, message) = s
        .post(
            &format!("/api/v1/channels/{}/messages", r.channel),
            Some(&r.owner),
            json!({"content": "react"}),
        )
        .await;
    let message = message["id"].as_str().expect("id").to_owned();
    let react = |token: String| {
        let url = s.url(&format!(
            "/api/v1/channels/{}/messages/{message}/reactions/%F0%9F%91%8D/@me",
            r.channel
        ));
        let http = s.http.clone();
        async move { http.put(url).bearer_auth(token).send().await.expect("react") }
    };
    // Reactions: a burst of 20, then one every second.
    for _ in 0..20 {
        assert_eq!(react(r.member.clone()).await.status(), StatusCode::NO_CONTENT);
    }
    assert_limited(react(r.member.clone()).await, 2).await;
    assert_eq!(react(r.owner.clone()).await.status(), StatusCode::NO_CONTENT, "others unaffected");

    // Writes (here: invites): a burst of 30 (two went into setting up the server), then
    // two a second. Reactions did not use them.
    let mut created = 0;
    let mut refused = None;
    for _ in 0..45 {
        let resp = s
            .http
            .post(s.url(&format!("/api/v1/servers/{}/invites", r.server)))
            .bearer_auth(&r.owner)
            .json(&json!({}))
            .send()
            .await
            .expect("invite");
        if resp.status() == StatusCode::CREATED {
            created += 1;
        } else {
            refused = Some(resp);
            break;
        }
    }
    assert_limited(refused.expect("a burst of invites is refused"), 1).await;
    assert!((25..=35).contains(&created), "{created} invites before the limit");

    // Moderation has a budget of its own (10 at once): the owner, out of writes, can still
    // ban, and a burst of bans is refused.
    let target = s.register("target").await;
    let target = target["user"]["id"].as_str().expect("id").to_owned();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let (status, _) = s
            .send(
                Method::PUT,
                &format!("/api/v1/servers/{}/bans/{target}", r.server),
                Some(&r.owner),
                Some(json!({})),
            )
            .await;
        statuses.push(status);
    }
    assert!(statuses[..10].iter().all(|st| *st != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    s.stop().await;
}

async fn password_change_guesses_count_as_failed_logins(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.login_failures_per_hour = 3;
    })
    .await;
    let token = access(&s.register("victim").await);
    let guess = |password: &str| {
        s.post(
            "/api/v1/users/@me/password",
            Some(&token),
            json!({"current_password": password, "new_password": "brand-new-passphrase-9"}),
        )
    };
    for n in 0..3 {
        let got = guess(&format!("guess-number-{n}")).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The stolen token's holder is out of guesses; so is anyone guessing at the login.
    assert_error(&guess("guess-number-3").await, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_error(&guess(PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_error(
        &s.login("victim", "guess-number-4").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    s.stop().await;
}

/// Identifies and returns how the gateway answered: READY, or the close code.
async fn try_identify(s: &TestServer, token: &str) -> Result<Gw, Option<u16>> {
    let mut gw = Gw::connect(&s.base).await;
    gw.send(&ClientFrame::Identify { token: token.to_owned(), presence: None }).await;
    match gw.next_control(SOON).await {
        Next::Frame(ServerFrame::Ready(_)) => Ok(gw),
        Next::Closed(code) => Err(code),
        other => panic!("expected ready or close, got {other:?}"),
    }
}

async fn identify_is_limited_per_account_and_per_address(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.identify_burst = 3;
        c.rate_limit.identify_ip_burst = 5;
    })
    .await;
    let busy = access(&s.register("busy").await);
    let calm = access(&s.register("calm").await);
    for _ in 0..3 {
        try_identify(&s, &busy).await.expect("within the account's burst");
    }
    assert_eq!(try_identify(&s, &busy).await.err(), Some(Some(close::RATE_LIMITED)));
    // Another account from the same address still gets in, until the address's budget
    // (5, of which 4 are spent) is gone too.
    try_identify(&s, &calm).await.expect("another account is unaffected");
    assert_eq!(try_identify(&s, &calm).await.err(), Some(Some(close::RATE_LIMITED)));
    s.stop().await;
}

async fn sessions_per_account_are_capped(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.gateway.max_sessions_per_user = 2).await;
    let token = access(&s.register("hoarder").await);
    let other = access(&s.register("other").await);
    let first = try_identify(&s, &token).await.expect("first");
    let mut second = try_identify(&s, &token).await.expect("second");
    assert_eq!(try_identify(&s, &token).await.err(), Some(Some(close::TOO_MANY_SESSIONS)));
    let _other = try_identify(&s, &other).await.expect("other accounts unaffected");
    // A session left waiting for a resume makes room: its client has identified afresh.
    first.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _third = try_identify(&s, &token).await.expect("replaces the disconnected one");
    second.send(&ClientFrame::Heartbeat { seq: 0 }).await;
    assert!(
        matches!(second.next_control(SOON).await, Next::Frame(ServerFrame::HeartbeatAck { .. })),
        "connected sessions are never the ones ended"
    );
    s.stop().await;
}
