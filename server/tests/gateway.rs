//! The realtime gateway over a real WebSocket, on both backends: READY, live events with
//! visibility rules, lossless resume across forced disconnects, invalid sessions, and the
//! limits that protect the server from misbehaving clients.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;

use std::collections::HashSet;
use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, Event, PresenceStatus, ServerFrame, close};
use gateway_client::{Gw, Next};
use harness::{Backend, TestServer, access};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

backend_tests!(
    ready_and_live_events_respect_visibility,
    kicked_member_gets_server_delete_and_nothing_more,
    resume_after_disconnects_loses_nothing,
    expired_buffer_means_invalid_session_and_resync,
    misbehaving_clients_get_codes_not_crashes,
    reactions_mentions_typing_and_read_state,
    presence_follows_connections_and_choices,
    invisible_user_never_shows_online_on_reconnect_or_resume,
    a_status_said_at_identify_holds_on_a_server_that_never_heard_it,
    slow_reader_is_disconnected_not_buffered,
);

const QUIET: Duration = Duration::from_millis(400);
const SOON: Duration = Duration::from_secs(5);

struct Setup {
    owner: String,
    member: String,
    member_id: String,
    server: String,
    channel: String,
}

async fn setup(s: &TestServer) -> Setup {
    let owner = access(&s.register("owner").await);
    let member_auth = s.register("member").await;
    let member = access(&member_auth);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Live"})).await;
    let server = detail["server"]["id"].as_str().expect("id").to_owned();
    let channel = detail["channels"][0]["id"].as_str().expect("channel").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{server}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code");
    assert_eq!(
        s.post(&format!("/api/v1/invites/{code}"), Some(&member), json!({})).await.0,
        StatusCode::OK
    );
    let member_id = member_auth["user"]["id"].as_str().expect("id").to_owned();
    Setup { owner, member, member_id, server, channel }
}

async fn say(s: &TestServer, token: &str, channel: &str, text: &str) -> String {
    let (status, m) = s
        .post(
            &format!("/api/v1/channels/{channel}/messages"),
            Some(token),
            json!({"content": text}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m["id"].as_str().expect("id").to_owned()
}

fn content(event: &Event) -> Option<&str> {
    match event {
        Event::MessageCreate { message } => Some(message.content.as_str()),
        _ => None,
    }
}

async fn ready_and_live_events_respect_visibility(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut gw = Gw::connect(&s.base).await;
    let ready = gw.identify(&t.member).await;
    assert_eq!(ready.user.username, "member");
    assert_eq!(ready.servers.len(), 1);
    assert_eq!(ready.servers[0].server.id.to_string(), t.server);

    say(&s, &t.owner, &t.channel, "welcome").await;
    let (seq, event) = gw.event(SOON).await.expect("message arrives");
    assert!(seq > ready.seq);
    assert_eq!(content(&event), Some("welcome"));

    // A channel the member cannot see: its creation and its messages never reach them.
    let (_, hidden) = s
        .post(
            &format!("/api/v1/servers/{}/channels", t.server),
            Some(&t.owner),
            json!({"name": "secret", "kind": "text"}),
        )
        .await;
    let hidden_id = hidden["id"].as_str().expect("id").to_owned();
    let (_, ev) = gw.event(SOON).await.expect("channel create (still visible)");
    assert!(matches!(ev, Event::ChannelCreate { .. }), "{ev:?}");
    let path = format!("/api/v1/channels/{hidden_id}/overwrites/role/{}", t.server);
    let (status, _) = s.send(Method::PUT, &path, Some(&t.owner), Some(json!({"deny": "1"}))).await;
    assert_eq!(status, StatusCode::OK);
    say(&s, &t.owner, &hidden_id, "for owners only").await;
    say(&s, &t.owner, &t.channel, "public again").await;
    let mut seen = Vec::new();
    while let Some((_, ev)) = gw.event(QUIET).await {
        seen.push(ev);
    }
    assert!(seen.iter().all(|e| content(e) != Some("for owners only")), "{seen:?}");
    assert!(seen.iter().any(|e| content(e) == Some("public again")), "{seen:?}");

    // Heartbeats are acknowledged with the sequence the client reported.
    gw.send(&ClientFrame::Heartbeat { seq: 3 }).await;
    assert_eq!(gw.next(SOON).await, Next::Frame(ServerFrame::HeartbeatAck { seq: 3 }));
    s.stop().await;
}

async fn kicked_member_gets_server_delete_and_nothing_more(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&t.member).await;
    let (status, _) = s
        .post(
            &format!("/api/v1/servers/{}/members/{}/kick", t.server, t.member_id),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, ev) = gw.event(SOON).await.expect("told");
    assert_eq!(ev, Event::ServerDelete { server_id: t.server.parse().expect("id") });
    say(&s, &t.owner, &t.channel, "after the kick").await;
    s.post(&format!("/api/v1/servers/{}/roles", t.server), Some(&t.owner), json!({"name": "x"}))
        .await;
    assert_eq!(gw.event(QUIET).await, None, "nothing after server_delete");

    // A ban works the same way, and is felt within a second on both paths.
    let banned_auth = s.register("banned").await;
    let banned = harness::access(&banned_auth);
    let banned_id = banned_auth["user"]["id"].as_str().expect("id").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{}/invites", t.server), Some(&t.owner), json!({})).await;
    let code = invite["code"].as_str().expect("code");
    s.post(&format!("/api/v1/invites/{code}"), Some(&banned), json!({})).await;
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&banned).await;
    let started = std::time::Instant::now();
    let path = format!("/api/v1/servers/{}/bans/{banned_id}", t.server);
    let (status, _) =
        s.send(Method::PUT, &path, Some(&t.owner), Some(json!({"reason": "x"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, ev) = gw.event(SOON).await.expect("told");
    assert_eq!(ev, Event::ServerDelete { server_id: t.server.parse().expect("id") });
    let rest = s.get(&format!("/api/v1/channels/{}/messages", t.channel), Some(&banned)).await;
    assert_eq!(rest.0, StatusCode::NOT_FOUND);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    say(&s, &t.owner, &t.channel, "after the ban").await;
    assert_eq!(gw.event(QUIET).await, None, "nothing after server_delete");
    s.stop().await;
}

async fn resume_after_disconnects_loses_nothing(backend: Backend) {
    const MESSAGES: usize = 10_000;
    const CUTS: usize = 100;
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut gw = Gw::connect(&s.base).await;
    let ready = gw.identify(&t.member).await;
    let session = ready.session_id.clone();

    // Two posters, each numbering its own messages, post while the receiver is cut off
    // and resumes again and again.
    let mut posters = Vec::new();
    for poster in 0..2 {
        let (http, url, token) = (
            s.http.clone(),
            s.url(&format!("/api/v1/channels/{}/messages", t.channel)),
            t.owner.clone(),
        );
        posters.push(tokio::spawn(async move {
            for i in 0..MESSAGES / 2 {
                let body = json!({"content": format!("{poster}:{i}")});
                let resp =
                    http.post(&url).bearer_auth(&token).json(&body).send().await.expect("post");
                assert_eq!(resp.status(), StatusCode::CREATED);
            }
        }));
    }
    let mut received: Vec<(u64, String)> = Vec::with_capacity(MESSAGES);
    let mut cuts = 0;
    while received.len() < MESSAGES {
        match gw.event(Duration::from_secs(30)).await {
            Some((seq, event)) => {
                // `event` checks that sequence numbers are consecutive, skipped ones included.
                let _ = seq;
                if let Some(text) = content(&event) {
                    received.push((seq, text.to_owned()));
                }
            }
            None => panic!("stalled after {} messages", received.len()),
        }
        if cuts < CUTS && received.len() >= (cuts + 1) * MESSAGES / (CUTS + 1) {
            let last = gw.last_seq.unwrap_or(ready.seq);
            gw.cut();
            cuts += 1;
            gw = Gw::connect(&s.base).await;
            gw.last_seq = Some(last);
            gw.send(&ClientFrame::Resume {
                token: t.member.clone(),
                session_id: session.clone(),
                seq: last,
            })
            .await;
            // The missed events come first, then RESUMED.
            loop {
                match gw.next(SOON).await {
                    Next::Frame(ServerFrame::Dispatch { seq, event }) => {
                        assert_eq!(Some(seq), gw.last_seq.map(|l| l + 1), "replay in order");
                        gw.last_seq = Some(seq);
                        if let Some(text) = content(&event) {
                            received.push((seq, text.to_owned()));
                        }
                    }
                    Next::Frame(ServerFrame::Resumed { session_id, .. }) => {
                        assert_eq!(session_id, session);
                        break;
                    }
                    other => panic!("resume {cuts} failed: {other:?}"),
                }
            }
        }
    }
    for p in posters {
        p.await.expect("poster");
    }
    assert_eq!(cuts, CUTS);
    let unique: HashSet<&String> = received.iter().map(|(_, c)| c).collect();
    assert_eq!(unique.len(), MESSAGES, "no duplicates");
    for poster in 0..2 {
        let order: Vec<usize> = received
            .iter()
            .filter_map(|(_, c)| c.strip_prefix(&format!("{poster}:")).and_then(|n| n.parse().ok()))
            .collect();
        assert_eq!(
            order,
            (0..MESSAGES / 2).collect::<Vec<_>>(),
            "poster {poster}: nothing lost, order kept"
        );
    }
    assert_eq!(gw.event(QUIET).await, None);
    s.stop().await;
}

async fn expired_buffer_means_invalid_session_and_resync(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.gateway.resume_buffer_events = 8).await;
    let t = setup(&s).await;
    let mut gw = Gw::connect(&s.base).await;
    let ready = gw.identify(&t.member).await;
    gw.cut();
    for i in 0..20 {
        say(&s, &t.owner, &t.channel, &format!("missed {i}")).await;
    }
    let mut gw = Gw::connect(&s.base).await;
    gw.send(&ClientFrame::Resume {
        token: t.member.clone(),
        session_id: ready.session_id.clone(),
        seq: ready.seq,
    })
    .await;
    assert_eq!(gw.next(SOON).await, Next::Frame(ServerFrame::InvalidSession { resumable: false }));
    // A fresh session plus a REST re-sync recovers everything.
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&t.member).await;
    let (_, history) =
        s.get(&format!("/api/v1/channels/{}/messages?limit=100", t.channel), Some(&t.member)).await;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(20));
    // Unknown and foreign sessions are just as invalid.
    let mut other = Gw::connect(&s.base).await;
    other
        .send(&ClientFrame::Resume { token: t.owner.clone(), session_id: ready.session_id, seq: 0 })
        .await;
    assert_eq!(
        other.next(SOON).await,
        Next::Frame(ServerFrame::InvalidSession { resumable: false })
    );
    s.stop().await;
}

async fn misbehaving_clients_get_codes_not_crashes(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| {
        c.gateway.heartbeat_interval_ms = 400;
        c.gateway.frame_burst = 10;
        c.gateway.max_frame_bytes = 1024;
    })
    .await;
    let t = setup(&s).await;

    // Recoverable mistakes: an error frame, and the connection stays usable.
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&t.member).await;
    gw.send_raw(Message::text("{not json")).await;
    assert!(matches!(gw.next_control(SOON).await, Next::Frame(ServerFrame::Error { .. })));
    gw.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert!(matches!(gw.next_control(SOON).await, Next::Frame(ServerFrame::Error { .. })));
    gw.send(&ClientFrame::Heartbeat { seq: 0 }).await;
    assert_eq!(gw.next_control(SOON).await, Next::Frame(ServerFrame::HeartbeatAck { seq: 0 }));
    // Oversized frames close with 1009.
    gw.send_raw(Message::text(format!(
        "{{\"op\":\"heartbeat\",\"d\":{{\"seq\":0}},\"pad\":\"{}\"}}",
        "x".repeat(1500)
    )))
    .await;
    assert_eq!(gw.next_control(SOON).await, Next::Closed(Some(close::TOO_BIG)));

    let mut flood = Gw::connect(&s.base).await;
    flood.identify(&t.member).await;
    let mut closed = None;
    for _ in 0..100 {
        flood.send_raw(Message::text(r#"{"op":"heartbeat","d":{"seq":0}}"#)).await;
    }
    while let Next::Frame(_) = flood.next_control(SOON).await.clone_frame_or(&mut closed) {}
    assert_eq!(closed, Some(Some(close::RATE_LIMITED)));

    let mut early = Gw::connect(&s.base).await;
    early.send(&ClientFrame::Heartbeat { seq: 0 }).await;
    assert_eq!(early.next_control(SOON).await, Next::Closed(Some(close::NOT_AUTHENTICATED)));
    let mut forged = Gw::connect(&s.base).await;
    forged.send(&ClientFrame::Identify { token: "a.b.c".into(), presence: None }).await;
    assert_eq!(forged.next_control(SOON).await, Next::Closed(Some(close::AUTHENTICATION_FAILED)));
    let mut silent = Gw::connect(&s.base).await;
    silent.identify(&t.member).await;
    assert_eq!(
        silent.next_control(Duration::from_secs(3)).await,
        Next::Closed(Some(close::SESSION_TIMEOUT))
    );

    // Browsers from origins that are not configured cannot open the gateway.
    let resp = s
        .http
        .get(s.url("/api/v1/gateway"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A plain GET without the upgrade is a coded 4xx too.
    assert!(
        s.http.get(s.url("/api/v1/gateway")).send().await.expect("send").status().is_client_error()
    );

    // Logging out ends the session at its next heartbeat.
    let mut live = Gw::connect(&s.base).await;
    live.identify(&t.member).await;
    s.send(Method::POST, "/api/v1/auth/logout", Some(&t.member), None).await;
    live.send(&ClientFrame::Heartbeat { seq: 0 }).await;
    assert_eq!(
        live.next_control(SOON).await,
        Next::Frame(ServerFrame::InvalidSession { resumable: false })
    );
    assert_eq!(live.next_control(SOON).await, Next::Closed(Some(close::SESSION_REVOKED)));

    // Shutdown closes with "going away" so clients know to reconnect.
    let mut last = Gw::connect(&s.base).await;
    last.identify(&t.owner).await;
    let stopping = tokio::spawn(s.stop());
    assert_eq!(last.next_control(SOON).await, Next::Closed(Some(close::GOING_AWAY)));
    stopping.await.expect("stopped");
}

trait CloneFrame {
    /// Records a close in `closed` and turns it into a non-frame, to end a drain loop.
    fn clone_frame_or(self, closed: &mut Option<Option<u16>>) -> Next;
}

impl CloneFrame for Next {
    fn clone_frame_or(self, closed: &mut Option<Option<u16>>) -> Next {
        if let Next::Closed(code) = &self {
            *closed = Some(*code);
        }
        self
    }
}

async fn reactions_mentions_typing_and_read_state(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let messages = format!("/api/v1/channels/{}/messages", t.channel);
    say(&s, &t.owner, &t.channel, "one").await;
    let (_, ping) = s
        .post(&messages, Some(&t.owner), json!({"content": format!("<@{}> look", t.member_id)}))
        .await;
    assert_eq!(ping["mentions"][0], t.member_id.as_str());
    let (_, everyone) =
        s.post(&messages, Some(&t.owner), json!({"content": "@everyone raid now"})).await;
    assert_eq!(everyone["mention_everyone"], true, "owners may ping everyone");
    let (_, plain) = s.post(&messages, Some(&t.member), json!({"content": "@everyone hi"})).await;
    assert_eq!(plain["mention_everyone"], false, "members lack MENTION_EVERYONE by default");

    // READY counts what the member has not read: 3 from the owner, 2 of them pinging.
    let mut gw = Gw::connect(&s.base).await;
    let ready = gw.identify(&t.member).await;
    let state = ready
        .read_states
        .iter()
        .find(|r| r.channel_id.to_string() == t.channel)
        .expect("read state");
    assert_eq!((state.unread_count, state.mention_count, state.last_read_id), (3, 2, None));

    let mid = everyone["id"].as_str().expect("id").to_owned();
    let react = format!("{messages}/{mid}/reactions/%F0%9F%91%8D/@me");
    assert_eq!(s.send(Method::PUT, &react, Some(&t.member), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        s.send(Method::PUT, &react, Some(&t.member), None).await.0,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    assert_eq!(s.send(Method::PUT, &react, Some(&t.owner), None).await.0, StatusCode::NO_CONTENT);
    let (_, ev) = gw.event(SOON).await.expect("reaction event");
    assert!(matches!(ev, Event::ReactionAdd { ref emoji, .. } if emoji == "👍"), "{ev:?}");
    let (_, page) = s.get(&format!("{messages}?around={mid}&limit=1"), Some(&t.member)).await;
    assert_eq!(page["messages"][0]["reactions"], json!([{"emoji": "👍", "count": 2, "me": true}]));
    let (_, who) = s.get(&format!("{messages}/{mid}/reactions/%F0%9F%91%8D"), Some(&t.owner)).await;
    assert_eq!(who["users"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        s.send(Method::DELETE, &react, Some(&t.member), None).await.0,
        StatusCode::NO_CONTENT
    );
    let again = s.send(Method::DELETE, &react, Some(&t.member), None).await;
    assert_eq!(again.0, StatusCode::NOT_FOUND);
    let bad = s
        .send(
            Method::PUT,
            &format!("{messages}/{mid}/reactions/%3Asmile%3A/@me"),
            Some(&t.member),
            None,
        )
        .await;
    assert_eq!(
        (bad.0, bad.1["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );

    // Typing reaches the channel, and spamming it is limited.
    let typing = format!("/api/v1/channels/{}/typing", t.channel);
    assert_eq!(s.post(&typing, Some(&t.owner), json!({})).await.0, StatusCode::NO_CONTENT);
    let mut limited = false;
    for _ in 0..5 {
        limited |=
            s.post(&typing, Some(&t.owner), json!({})).await.0 == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited);
    let mut saw_typing = false;
    while let Some((_, ev)) = gw.event(QUIET).await {
        saw_typing |= matches!(ev, Event::TypingStart { .. });
    }
    assert!(saw_typing);

    // Acking on one device moves the marker, tells the other devices, never goes back.
    let ack = format!("/api/v1/channels/{}/ack", t.channel);
    let last = plain["id"].as_str().expect("id").to_owned();
    assert_eq!(
        s.post(&ack, Some(&t.member), json!({"message_id": last})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, ev) = gw.event(SOON).await.expect("read state event");
    assert!(matches!(ev, Event::ReadStateUpdate { .. }), "{ev:?}");
    let first = ping["id"].as_str().expect("id");
    assert_eq!(
        s.post(&ack, Some(&t.member), json!({"message_id": first})).await.0,
        StatusCode::NO_CONTENT
    );
    let mut again = Gw::connect(&s.base).await;
    let ready = again.identify(&t.member).await;
    let state =
        ready.read_states.iter().find(|r| r.channel_id.to_string() == t.channel).expect("state");
    assert_eq!((state.unread_count, state.mention_count), (0, 0));
    assert_eq!(state.last_read_id.map(|id| id.to_string()), Some(last));
    s.stop().await;
}

/// The next presence event, skipping anything else.
async fn next_presence(gw: &mut Gw) -> Option<PresenceStatus> {
    while let Some((_, ev)) = gw.any_event(SOON).await {
        if let Event::PresenceUpdate { status, .. } = ev {
            return Some(status);
        }
    }
    None
}

async fn presence_follows_connections_and_choices(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&t.member).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Online), "own presence");

    let mut owner = Gw::connect(&s.base).await;
    owner.identify(&t.owner).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Online));
    let mut late = Gw::connect(&s.base).await;
    let ready = late.identify(&t.member).await;
    assert!(
        ready
            .presences
            .iter()
            .any(|p| p.status == PresenceStatus::Online && p.user_id.to_string() != t.member_id)
    );

    for (chosen, shown) in [
        (PresenceStatus::Idle, PresenceStatus::Idle),
        (PresenceStatus::Invisible, PresenceStatus::Offline),
        (PresenceStatus::DoNotDisturb, PresenceStatus::DoNotDisturb),
    ] {
        owner.send(&ClientFrame::SetPresence { status: chosen }).await;
        assert_eq!(next_presence(&mut watcher).await, Some(shown));
    }
    owner.cut();
    assert_eq!(
        next_presence(&mut watcher).await,
        Some(PresenceStatus::Offline),
        "last connection gone"
    );
    s.stop().await;
}

async fn invisible_user_never_shows_online_on_reconnect_or_resume(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&t.member).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Online), "own presence");

    let mut owner = Gw::connect(&s.base).await;
    owner.identify(&t.owner).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Online));
    owner.send(&ClientFrame::SetPresence { status: PresenceStatus::Invisible }).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Offline));

    // Logging in again (the client has not repeated its choice yet)...
    owner.cut();
    let mut owner = Gw::connect(&s.base).await;
    let ready = owner.identify(&t.owner).await;
    // ...and resuming after a network blip.
    owner.cut();
    tokio::time::sleep(QUIET).await;
    let mut resumed = Gw::connect(&s.base).await;
    resumed
        .send(&ClientFrame::Resume {
            token: t.owner.clone(),
            session_id: ready.session_id,
            seq: ready.seq,
        })
        .await;
    assert!(
        matches!(resumed.next_control(SOON).await, Next::Frame(ServerFrame::Resumed { .. })),
        "resumed"
    );
    // Nobody saw the owner online meanwhile: not in a fresh READY...
    let mut late = Gw::connect(&s.base).await;
    let ready = late.identify(&t.member).await;
    assert!(
        ready.presences.iter().all(|p| p.user_id.to_string() == t.member_id),
        "{:?}",
        ready.presences
    );
    // ...nor live: the next presence the watcher gets is the owner's next choice (events
    // arrive in order, so an Online announced before it would come first).
    resumed.send(&ClientFrame::SetPresence { status: PresenceStatus::DoNotDisturb }).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::DoNotDisturb));
    s.stop().await;
}

/// After a server restart (or on a server the user never chose a status on) the identify
/// itself carries the choice, so an invisible user does not flash online until the client
/// repeats it.
async fn a_status_said_at_identify_holds_on_a_server_that_never_heard_it(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let t = setup(&s).await;
    let mut watcher = Gw::connect(&s.base).await;
    watcher.identify(&t.member).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Online), "own presence");

    let mut owner = Gw::connect(&s.base).await;
    owner.identify_as(&t.owner, Some(PresenceStatus::Invisible)).await;
    let mut late = Gw::connect(&s.base).await;
    let ready = late.identify(&t.member).await;
    assert!(
        ready.presences.iter().all(|p| p.user_id.to_string() == t.member_id),
        "{:?}",
        ready.presences
    );
    // Events arrive in order: an Online announced at the identify would come first.
    owner.send(&ClientFrame::SetPresence { status: PresenceStatus::Idle }).await;
    assert_eq!(next_presence(&mut watcher).await, Some(PresenceStatus::Idle));
    s.stop().await;
}

async fn slow_reader_is_disconnected_not_buffered(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.gateway.resume_buffer_events = 16).await;
    let t = setup(&s).await;
    let mut slow = Gw::connect(&s.base).await;
    slow.identify(&t.member).await;
    // ~4 MB of events while the client reads nothing: far more than socket buffers hold,
    // so the server must stop writing, and only 16 events may wait for it.
    let big = "x".repeat(4000);
    for _ in 0..1000 {
        let (status, _) = s
            .post(
                &format!("/api/v1/channels/{}/messages", t.channel),
                Some(&t.owner),
                json!({"content": big}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut closed = None;
    for _ in 0..2000 {
        match slow.next(SOON).await {
            Next::Frame(_) => continue,
            Next::Closed(code) => {
                closed = Some(code);
                break;
            }
            Next::Timeout => break,
        }
    }
    assert_eq!(closed, Some(Some(close::SLOW_CONSUMER)), "a reader too far behind is cut off");
    // Its session cannot be resumed past the gap either; other clients were unaffected.
    let mut fresh = Gw::connect(&s.base).await;
    fresh.identify(&t.member).await;
    say(&s, &t.owner, &t.channel, "still fine").await;
    let (_, ev) = fresh.event(SOON).await.expect("delivered");
    assert_eq!(content(&ev), Some("still fine"));
    s.stop().await;
}
