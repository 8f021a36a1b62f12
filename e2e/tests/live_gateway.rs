//! The gateway client against the real server: live messages, resume after a dropped
//! connection with nothing lost, and a fresh session plus REST re-sync when the server
//! can no longer resume. Connections are dropped by a TCP proxy in between, as a
//! network failure would.

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/proxy.rs"]
mod proxy;

use std::time::Duration;

use auraspeak_client::api::ApiClient;
use auraspeak_client::follow::ChannelFollower;
use auraspeak_client::gateway::{self, GatewayEvent, GatewayEvents, SessionConfig};
use auraspeak_shared::ChannelId;
use auraspeak_shared::v1::gateway::{ClientFrame, Event, PresenceStatus};
use auraspeak_shared::v1::messages::{Message, SendMessageRequest};
use harness::{Backend, TestServer};
use proxy::Proxy;

backend_tests!(
    a_sent_message_arrives_live,
    resume_after_a_dropped_connection_delivers_what_was_missed,
    invalid_session_starts_over_and_resyncs_over_rest,
    a_revoked_session_closes_the_gateway_for_good,
);

const WAIT: Duration = Duration::from_secs(10);

/// Quick reconnects, so the tests do not wait out production backoff.
fn fast() -> SessionConfig {
    SessionConfig {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..SessionConfig::default()
    }
}

async fn say(api: &ApiClient, channel: ChannelId, text: &str) -> Message {
    let request = SendMessageRequest { content: text.into(), reply_to: None, nonce: None };
    api.send_message(channel, &request).await.expect("send")
}

async fn next_event(events: &mut GatewayEvents) -> GatewayEvent {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("a gateway event in time")
        .expect("the gateway is still running")
}

/// Feeds events to the follower until it has produced `n` messages; returns them and
/// every event seen on the way.
async fn follow(
    follower: &mut ChannelFollower,
    events: &mut GatewayEvents,
    n: usize,
) -> (Vec<String>, Vec<GatewayEvent>) {
    let (mut texts, mut seen) = (Vec::new(), Vec::new());
    while texts.len() < n {
        let event = next_event(events).await;
        for m in follower.handle_event(&event).await.expect("follow") {
            texts.push(m.content);
        }
        seen.push(event);
    }
    (texts, seen)
}

async fn wait_for(events: &mut GatewayEvents, what: &str, pred: impl Fn(&GatewayEvent) -> bool) {
    loop {
        let event = next_event(events).await;
        if pred(&event) {
            return;
        }
        assert!(!matches!(event, GatewayEvent::Closed { .. }), "closed waiting for {what}");
    }
}

async fn a_sent_message_arrives_live(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let (handle, mut events) = gateway::connect(c.member.gateway_url(), c.member.clone(), fast());
    let GatewayEvent::Ready { ready, resync } = next_event(&mut events).await else {
        panic!("expected ready first");
    };
    assert!(!resync);
    assert_eq!(ready.user.id, c.member_auth.user.id);
    assert!(ready.servers.iter().any(|d| d.server.id == c.server));

    let mut follower = ChannelFollower::new(c.member.clone(), c.general);
    let sent = say(&c.owner, c.general, "hello live").await;
    let (texts, _) = follow(&mut follower, &mut events, 1).await;
    assert_eq!(texts, ["hello live"]);

    // Other layers (voice signaling later) send their own frames over the same socket.
    handle.send(ClientFrame::SetPresence { status: PresenceStatus::Idle }).await.expect("send");
    let (owner_handle, mut owner_events) =
        gateway::connect(c.owner.gateway_url(), c.owner.clone(), fast());
    wait_for(&mut owner_events, "ready", |e| matches!(e, GatewayEvent::Ready { .. })).await;
    // History is not repeated as live: the follower has shown `sent` already.
    assert_eq!(follower.recent(5).await.expect("recent").len(), 0);
    assert_eq!(
        follower
            .handle_event(&GatewayEvent::Dispatch {
                seq: 0,
                event: Event::MessageCreate { message: sent },
            })
            .await
            .expect("dup")
            .len(),
        0
    );
    owner_handle.close().await;
    handle.close().await;
    assert!(
        tokio::time::timeout(WAIT, async { while events.next().await.is_some() {} }).await.is_ok(),
        "the event stream ends after close"
    );
    assert!(handle.send(ClientFrame::Heartbeat { seq: 0 }).await.is_err());
    s.stop().await;
}

async fn resume_after_a_dropped_connection_delivers_what_was_missed(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let proxy = Proxy::start(s.addr()).await;
    let member = ApiClient::new(&proxy.url()).expect("url");
    member.set_credentials(c.member.credentials());
    let (handle, mut events) = gateway::connect(member.gateway_url(), member.clone(), fast());
    wait_for(&mut events, "ready", |e| matches!(e, GatewayEvent::Ready { .. })).await;
    let mut follower = ChannelFollower::new(member.clone(), c.general);
    say(&c.owner, c.general, "before").await;
    assert_eq!(follow(&mut follower, &mut events, 1).await.0, ["before"]);

    proxy.cut_and_block();
    wait_for(&mut events, "the drop", |e| matches!(e, GatewayEvent::Disconnected { .. })).await;
    for i in 0..5 {
        say(&c.owner, c.general, &format!("missed {i}")).await;
    }
    proxy.reopen();
    let (texts, seen) = follow(&mut follower, &mut events, 5).await;
    assert_eq!(texts, (0..5).map(|i| format!("missed {i}")).collect::<Vec<_>>());
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, GatewayEvent::Ready { .. } | GatewayEvent::InvalidSession)),
        "resumed, not a new session: {seen:?}"
    );
    wait_for(
        &mut events,
        "resumed",
        |e| matches!(e, GatewayEvent::Resumed { replayed } if *replayed >= 5),
    )
    .await;
    // And live again afterwards.
    say(&c.owner, c.general, "after").await;
    assert_eq!(follow(&mut follower, &mut events, 1).await.0, ["after"]);
    handle.close().await;
    s.stop().await;
}

async fn invalid_session_starts_over_and_resyncs_over_rest(backend: Backend) {
    // A replay buffer too small for what will be missed.
    let s = TestServer::start_with(&backend, |c| c.gateway.resume_buffer_events = 8).await;
    let c = community::setup(&s.base).await;
    let proxy = Proxy::start(s.addr()).await;
    let member = ApiClient::new(&proxy.url()).expect("url");
    member.set_credentials(c.member.credentials());
    let (handle, mut events) = gateway::connect(member.gateway_url(), member.clone(), fast());
    wait_for(&mut events, "ready", |e| matches!(e, GatewayEvent::Ready { .. })).await;
    let mut follower = ChannelFollower::new(member.clone(), c.general);
    // A second follower that looked at the (empty) channel and then saw nothing live.
    let mut quiet = ChannelFollower::new(c.member.clone(), c.general);
    assert!(quiet.recent(0).await.expect("baseline").is_empty());
    say(&c.owner, c.general, "seen").await;
    assert_eq!(follow(&mut follower, &mut events, 1).await.0, ["seen"]);

    proxy.cut_and_block();
    wait_for(&mut events, "the drop", |e| matches!(e, GatewayEvent::Disconnected { .. })).await;
    // More than one history page (100) of them, so the re-sync has to page.
    for i in 0..120 {
        say(&c.owner, c.general, &format!("missed {i:03}")).await;
    }
    proxy.reopen();
    let (texts, seen) = follow(&mut follower, &mut events, 120).await;
    assert_eq!(texts, (0..120).map(|i| format!("missed {i:03}")).collect::<Vec<_>>());
    let invalid = seen.iter().position(|e| matches!(e, GatewayEvent::InvalidSession));
    let ready = seen.iter().position(|e| matches!(e, GatewayEvent::Ready { resync: true, .. }));
    assert!(
        matches!((invalid, ready), (Some(i), Some(r)) if i < r),
        "invalid_session, then a new ready asking for a re-sync: {seen:?}"
    );
    // Catching up from a channel that was empty means from its beginning.
    let all: Vec<String> =
        quiet.catch_up().await.expect("catch up").into_iter().map(|m| m.content).collect();
    assert_eq!(all.len(), 121);
    assert_eq!((all[0].as_str(), all[120].as_str()), ("seen", "missed 119"));
    say(&c.owner, c.general, "live again").await;
    assert_eq!(follow(&mut follower, &mut events, 1).await.0, ["live again"]);
    handle.close().await;
    s.stop().await;
}

async fn a_revoked_session_closes_the_gateway_for_good(backend: Backend) {
    // The server notices a logout at the session's next heartbeat; make that soon.
    let s = TestServer::start_with(&backend, |c| c.gateway.heartbeat_interval_ms = 300).await;
    let c = community::setup(&s.base).await;
    let (_handle, mut events) = gateway::connect(c.member.gateway_url(), c.member.clone(), fast());
    wait_for(&mut events, "ready", |e| matches!(e, GatewayEvent::Ready { .. })).await;
    // The same session logged out from elsewhere (another copy of its tokens).
    let elsewhere = ApiClient::new(&s.base).expect("url");
    elsewhere.set_credentials(c.member.credentials());
    elsewhere.logout().await.expect("logout");
    let mut seen = Vec::new();
    loop {
        let event = next_event(&mut events).await;
        if let GatewayEvent::Closed { code, .. } = event {
            assert_eq!(code, auraspeak_shared::v1::gateway::close::AUTHENTICATION_FAILED);
            break;
        }
        seen.push(event);
        assert!(seen.len() < 20, "reconnects instead of giving up: {seen:?}");
    }
    assert!(seen.contains(&GatewayEvent::InvalidSession), "{seen:?}");
    assert_eq!(
        tokio::time::timeout(WAIT, events.next()).await.expect("stream ends"),
        None,
        "nothing after closed"
    );
    s.stop().await;
}
