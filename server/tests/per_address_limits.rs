//! Limits per client address on what signed-in accounts do, on both backends: many
//! accounts at one address (an IPv4 address, or an IPv6 /64, as a trusted proxy reports
//! it) share one budget for messages, writes, reactions, moderation, typing and password
//! changes, answered with 429 `rate_limited` + Retry-After, and a number of gateway
//! sessions, while the same accounts at another address carry on.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, ServerFrame, close};
use gateway_client::{Gw, Next};
use harness::{Backend, PASSWORD, TestServer, access};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    accounts_at_one_address_share_its_message_budget,
    ipv6_addresses_share_a_message_budget_per_64,
    writes_reactions_moderation_and_typing_are_limited_per_address,
    password_changes_are_limited_per_address,
    gateway_sessions_are_capped_per_address,
);

const HOME: &str = "203.0.113.5";
const ELSEWHERE: &str = "198.51.100.7";

/// Limits on, clients behind a trusted proxy on loopback, and `adjust` for the budgets
/// under test.
async fn behind_proxy(
    backend: &Backend,
    adjust: impl FnOnce(&mut auraspeak_server::Config),
) -> TestServer {
    TestServer::start_with(backend, |c| {
        c.rate_limit.enabled = true;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
        adjust(c);
    })
    .await
}

struct Room {
    owner: String,
    members: Vec<String>,
    server: String,
    channel: String,
}

/// An owner and `members` other accounts, all in one server with one text channel.
async fn room(s: &TestServer, members: usize) -> Room {
    let owner = access(&s.register("owner").await);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Shared"})).await;
    let server = detail["server"]["id"].as_str().expect("id").to_owned();
    let channel = detail["channels"][0]["id"].as_str().expect("channel").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{server}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code").to_owned();
    let mut tokens = Vec::new();
    for n in 0..members {
        let token = access(&s.register(&format!("member{n}")).await);
        let (status, body) =
            s.post(&format!("/api/v1/invites/{code}"), Some(&token), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push(token);
    }
    Room { owner, members: tokens, server, channel }
}

/// A request as `token` from `from`, as the proxy reports it.
async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    from: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req =
        s.http.request(method, s.url(path)).bearer_auth(token).header("x-forwarded-for", from);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

async fn say(s: &TestServer, token: &str, channel: &str, from: &str) -> reqwest::Response {
    let path = format!("/api/v1/channels/{channel}/messages");
    call(s, Method::POST, &path, token, from, Some(json!({"content": "hi"}))).await
}

/// A 429 for the address (not the account): code, Retry-After and the message saying so.
async fn assert_address_limited(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("address"), "{message}");
}

async fn accounts_at_one_address_share_its_message_budget(backend: Backend) {
    let s = behind_proxy(&backend, |c| {
        c.rate_limit.message_ip_burst = 4;
        c.rate_limit.messages_per_minute_per_ip = 1;
    })
    .await;
    let r = room(&s, 2).await;
    // Three accounts at one address, each well within its own 5 per 5 s...
    for token in [&r.owner, &r.members[0], &r.members[0], &r.members[1]] {
        assert_eq!(say(&s, token, &r.channel, HOME).await.status(), StatusCode::CREATED);
    }
    // ...together spend the address's 4, whoever sends the next one.
    assert_address_limited(say(&s, &r.members[1], &r.channel, HOME).await).await;
    assert_address_limited(say(&s, &r.owner, &r.channel, HOME).await).await;
    // The same account from another address is not held back.
    assert_eq!(say(&s, &r.members[1], &r.channel, ELSEWHERE).await.status(), StatusCode::CREATED);
    s.stop().await;
}

async fn ipv6_addresses_share_a_message_budget_per_64(backend: Backend) {
    let s = behind_proxy(&backend, |c| {
        c.rate_limit.message_ip_burst = 2;
        c.rate_limit.messages_per_minute_per_ip = 1;
    })
    .await;
    let r = room(&s, 1).await;
    let c = &r.channel;
    assert_eq!(say(&s, &r.owner, c, "2001:db8:7:1::1").await.status(), StatusCode::CREATED);
    assert_eq!(say(&s, &r.members[0], c, "2001:db8:7:1::2").await.status(), StatusCode::CREATED);
    // Any address of the same /64 is the same machine to the limiter...
    assert_address_limited(say(&s, &r.owner, c, "2001:db8:7:1:ffff::9").await).await;
    // ...and the next /64 is another.
    assert_eq!(say(&s, &r.owner, c, "2001:db8:7:2::1").await.status(), StatusCode::CREATED);
    s.stop().await;
}

async fn writes_reactions_moderation_and_typing_are_limited_per_address(backend: Backend) {
    let s = behind_proxy(&backend, |c| {
        c.rate_limit.write_ip_burst = 3;
        c.rate_limit.writes_per_minute_per_ip = 1;
        c.rate_limit.reaction_ip_burst = 2;
        c.rate_limit.reactions_per_minute_per_ip = 1;
        c.rate_limit.moderation_ip_burst = 1;
        c.rate_limit.moderations_per_minute_per_ip = 1;
        c.rate_limit.typing_ip_burst = 2;
        c.rate_limit.typings_per_minute_per_ip = 1;
    })
    .await;
    let r = room(&s, 1).await;
    let (owner, member) = (r.owner.as_str(), r.members[0].as_str());

    // Writes: the owner's invites and the member's profile edits share the address's 3.
    let invites = format!("/api/v1/servers/{}/invites", r.server);
    let invite = || call(&s, Method::POST, &invites, owner, HOME, Some(json!({})));
    let rename = |name: &str| {
        call(
            &s,
            Method::PATCH,
            "/api/v1/users/@me",
            member,
            HOME,
            Some(json!({"display_name": name})),
        )
    };
    assert_eq!(invite().await.status(), StatusCode::CREATED);
    assert_eq!(invite().await.status(), StatusCode::CREATED);
    assert_eq!(rename("Member One").await.status(), StatusCode::OK);
    assert_address_limited(rename("Member Two").await).await;
    assert_eq!(
        call(&s, Method::POST, &invites, owner, ELSEWHERE, Some(json!({}))).await.status(),
        StatusCode::CREATED
    );

    // Reactions: two at this address, whoever adds them.
    let message = say(&s, owner, &r.channel, ELSEWHERE).await.json::<Value>().await.expect("json");
    let message = message["id"].as_str().expect("id").to_owned();
    let react = |emoji: &str, token: &str, from: &str| {
        let path =
            format!("/api/v1/channels/{}/messages/{message}/reactions/{emoji}/@me", r.channel);
        let (s, token, from) = (&s, token.to_owned(), from.to_owned());
        async move { call(s, Method::PUT, &path, &token, &from, None).await }
    };
    const THUMBS_UP: &str = "%F0%9F%91%8D";
    const PARTY: &str = "%F0%9F%8E%89";
    assert_eq!(react(THUMBS_UP, owner, HOME).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(react(THUMBS_UP, member, HOME).await.status(), StatusCode::NO_CONTENT);
    assert_address_limited(react(PARTY, member, HOME).await).await;
    assert_eq!(react(PARTY, member, ELSEWHERE).await.status(), StatusCode::NO_CONTENT);

    // Typing notices: two at this address (each account is within its own per-channel pace).
    let typing = format!("/api/v1/channels/{}/typing", r.channel);
    assert_eq!(
        call(&s, Method::POST, &typing, owner, HOME, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&s, Method::POST, &typing, member, HOME, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_address_limited(call(&s, Method::POST, &typing, owner, HOME, None).await).await;

    // Moderation: one ban at this address, though the owner's own budget holds ten.
    let target = s.register("target").await;
    let target = target["user"]["id"].as_str().expect("id").to_owned();
    let ban = format!("/api/v1/servers/{}/bans/{target}", r.server);
    let status = call(&s, Method::PUT, &ban, owner, HOME, Some(json!({}))).await.status();
    assert!(status.is_success(), "{status}");
    assert_address_limited(call(&s, Method::PUT, &ban, owner, HOME, Some(json!({}))).await).await;
    s.stop().await;
}

async fn change_password(s: &TestServer, token: &str, from: &str) -> reqwest::Response {
    let body = json!({"current_password": PASSWORD, "new_password": "another-long-passphrase-7"});
    call(s, Method::POST, "/api/v1/users/@me/password", token, from, Some(body)).await
}

async fn password_changes_are_limited_per_address(backend: Backend) {
    let s = behind_proxy(&backend, |c| c.rate_limit.password_changes_per_hour_per_ip = 2).await;
    let mut tokens = Vec::new();
    for name in ["first", "second", "third"] {
        tokens.push(access(&s.register(name).await));
    }
    // Each change runs argon2: one address gets two, over all its accounts.
    assert!(change_password(&s, &tokens[0], HOME).await.status().is_success());
    assert!(change_password(&s, &tokens[1], HOME).await.status().is_success());
    assert_address_limited(change_password(&s, &tokens[2], HOME).await).await;
    assert!(change_password(&s, &tokens[2], ELSEWHERE).await.status().is_success());
    s.stop().await;
}

/// Identifies from `from`: READY, or the close code.
async fn identify_from(s: &TestServer, token: &str, from: &str) -> Result<Gw, Option<u16>> {
    let mut gw = Gw::connect_from(&s.base, Some(from)).await;
    gw.send(&ClientFrame::Identify { token: token.to_owned(), presence: None }).await;
    match gw.next_control(Duration::from_secs(5)).await {
        Next::Frame(ServerFrame::Ready(_)) => Ok(gw),
        Next::Closed(code) => Err(code),
        other => panic!("expected ready or close, got {other:?}"),
    }
}

async fn gateway_sessions_are_capped_per_address(backend: Backend) {
    let s = behind_proxy(&backend, |c| c.rate_limit.sessions_per_ip = 2).await;
    let mut tokens = Vec::new();
    for name in ["first", "second", "third"] {
        tokens.push(access(&s.register(name).await));
    }
    let first = identify_from(&s, &tokens[0], HOME).await.expect("first at this address");
    let _second = identify_from(&s, &tokens[1], HOME).await.expect("second at this address");
    // A third account at the same address is refused, though it holds no session itself...
    assert_eq!(
        identify_from(&s, &tokens[2], HOME).await.err(),
        Some(Some(close::TOO_MANY_SESSIONS))
    );
    // ...and gets in from elsewhere.
    let _elsewhere = identify_from(&s, &tokens[2], ELSEWHERE).await.expect("another address");
    // A session left waiting for a resume at the address makes room.
    first.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _third = identify_from(&s, &tokens[2], HOME).await.expect("replaces the detached one");
    s.stop().await;
}
