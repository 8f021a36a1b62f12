//! Voice sessions under moderation and at scale, against the real server and relay: a
//! kick, a ban or a lost CONNECT permission ends the member's voice session within a
//! second; a moderator's move switches channels without a new login; fifty clients that
//! join at the same moment all connect.

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/online.rs"]
mod online;

use std::time::{Duration, Instant};

use auraspeak_client::api::ApiClient;
use auraspeak_client::call::{self, CallOptions, Connection};
use auraspeak_client::gateway::{GatewayEvent, GatewayEvents, GatewayHandle};
use auraspeak_shared::v1::channels::{ChannelKind, SetOverwriteRequest};
use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{ChannelId, Permissions, ServerId, UserId};
use harness::{Backend, TestServer};
use serde_json::json;

backend_tests!(
    kick_ban_and_lost_connect_end_voice_within_a_second,
    a_moderator_moves_a_member_without_a_new_login,
);

/// Fifty WebRTC sessions at once tests the relay, not storage: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_join_one_channel_at_once() {
    fifty_join(Backend::Sqlite).await;
}

struct Member {
    api: ApiClient,
    gateway: GatewayHandle,
    events: GatewayEvents,
    id: UserId,
}

async fn online(api: ApiClient) -> Member {
    let (gateway, events, id) = online::online(&api).await;
    Member { api, gateway, events, id }
}

async fn rest(api: &ApiClient, method: reqwest::Method, path: String, body: serde_json::Value) {
    let token = api.access_token().await.expect("token");
    let status = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", api.base_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
        .status();
    assert!(status.is_success(), "{method} {path}: {status}");
}

async fn voice_channels(api: &ApiClient, server: ServerId) -> Vec<ChannelId> {
    let detail = api.server(server).await.expect("detail");
    detail.channels.iter().filter(|c| c.kind == ChannelKind::Voice).map(|c| c.id).collect()
}

async fn join(m: &mut Member, channel: ChannelId) -> Connection {
    let options = CallOptions::new(channel);
    call::connect(&m.gateway, &mut m.events, &options).await.expect("voice connects")
}

/// Waits for the voice state of `user`; returns its channel and when it arrived.
async fn voice_state_of(events: &mut GatewayEvents, user: UserId) -> (Option<ChannelId>, Instant) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("a voice state in time")
            .expect("gateway running");
        if let GatewayEvent::Dispatch { event: Event::VoiceStateUpdate { state }, .. } = event
            && state.user_id == user
        {
            return (state.channel_id, Instant::now());
        }
    }
}

/// Acts (through `act`) on a member who is in voice and measures until their own session
/// is told the voice session is over.
async fn ends_within_a_second(
    member: &mut Member,
    channel: ChannelId,
    act: impl Future<Output = ()>,
) {
    // (Connecting consumes the member's own join state from the event stream.)
    let connection = join(member, channel).await;
    let started = Instant::now();
    act.await;
    // The member's own join state may still be on its way; the end is what counts.
    let (mut left, mut at) = voice_state_of(&mut member.events, member.id).await;
    while left == Some(channel) {
        (left, at) = voice_state_of(&mut member.events, member.id).await;
    }
    assert_eq!(left, None, "the member's voice session ended");
    let took = at.duration_since(started);
    eprintln!("voice ended {took:?} after the moderation request was sent");
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(connection);
}

async fn kick_ban_and_lost_connect_end_voice_within_a_second(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let voice = voice_channels(&c.owner, c.server).await[0];
    let sid = c.server;

    let mut member = online(c.member.clone()).await;
    let uid = member.id;
    let owner = c.owner.clone();
    let kick = rest(
        &owner,
        reqwest::Method::POST,
        format!("/api/v1/servers/{sid}/members/{uid}/kick"),
        json!({}),
    );
    ends_within_a_second(&mut member, voice, kick).await;

    // Back in through a new invite, then banned.
    let invite = c.owner.create_invite(sid, &Default::default()).await.expect("invite");
    member.api.join_invite(&invite.code).await.expect("rejoin");
    let ban =
        rest(&owner, reqwest::Method::PUT, format!("/api/v1/servers/{sid}/bans/{uid}"), json!({}));
    ends_within_a_second(&mut member, voice, ban).await;

    // Someone else loses CONNECT on the channel through an overwrite on @everyone.
    let (carol_api, _) = community::register(&s.base, "carol").await;
    let invite = c.owner.create_invite(sid, &Default::default()).await.expect("invite");
    carol_api.join_invite(&invite.code).await.expect("join");
    let mut carol = online(carol_api).await;
    let deny = SetOverwriteRequest { allow: Permissions::NONE, deny: Permissions::CONNECT };
    let body = serde_json::to_value(&deny).expect("json");
    let lose = rest(
        &owner,
        reqwest::Method::PUT,
        format!("/api/v1/channels/{voice}/overwrites/role/{sid}"),
        body,
    );
    ends_within_a_second(&mut carol, voice, lose).await;
    // And cannot join again.
    let err = call::connect(&carol.gateway, &mut carol.events, &CallOptions::new(voice))
        .await
        .err()
        .expect("refused: connecting was not possible");
    assert_eq!(err.code(), Some(auraspeak_shared::ErrorCode::Forbidden), "{err}");
    s.stop().await;
}

async fn a_moderator_moves_a_member_without_a_new_login(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let sid = c.server;
    rest(
        &c.owner,
        reqwest::Method::POST,
        format!("/api/v1/servers/{sid}/channels"),
        json!({"name": "Raid", "kind": "voice"}),
    )
    .await;
    let channels = voice_channels(&c.owner, sid).await;
    let (lobby, raid) = (channels[0], channels[1]);
    let mut member = online(c.member.clone()).await;
    let mut connection = join(&mut member, lobby).await;
    let req = ModerateVoiceRequest { channel_id: Some(raid), ..Default::default() };
    c.owner.moderate_voice(sid, member.id, &req).await.expect("move");
    let mut now_in = voice_state_of(&mut member.events, member.id).await.0;
    while now_in == Some(lobby) {
        // The join state may arrive after the media link is up.
        now_in = voice_state_of(&mut member.events, member.id).await.0;
    }
    assert_eq!(now_in, Some(raid));
    // Same media session, still up: no renegotiation, no new login.
    connection.idle(Duration::from_millis(500)).await;
    assert!(connection.is_connected(), "the media link survived the move");
    // A plain member may not move anyone.
    let back = ModerateVoiceRequest { channel_id: Some(lobby), ..Default::default() };
    let err = member.api.moderate_voice(sid, member.id, &back).await.expect_err("refused");
    assert_eq!(err.code(), Some(auraspeak_shared::ErrorCode::Forbidden), "{err}");
    connection.leave(&member.gateway).await;
    s.stop().await;
}

async fn fifty_join(backend: Backend) {
    const CLIENTS: usize = 50;
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let voice = voice_channels(&c.owner, c.server).await[0];
    let invite = c.owner.create_invite(c.server, &Default::default()).await.expect("invite");
    let mut members = Vec::new();
    for i in 0..CLIENTS {
        let (api, _) = community::register(&s.base, &format!("gamer{i}")).await;
        api.join_invite(&invite.code).await.expect("join");
        members.push(online(api).await);
    }
    let started = Instant::now();
    let mut joins = tokio::task::JoinSet::new();
    for mut m in members {
        joins.spawn(async move {
            let options = CallOptions::new(voice);
            let result = call::connect(&m.gateway, &mut m.events, &options).await;
            (m, result)
        });
    }
    let mut connected = Vec::new();
    let mut slowest = Duration::ZERO;
    while let Some(joined) = joins.join_next().await {
        let (m, result) = joined.expect("task");
        let connection = result.unwrap_or_else(|e| panic!("a client failed to connect: {e}"));
        slowest = slowest.max(connection.connect_time);
        connected.push((m, connection));
    }
    let all = started.elapsed();
    eprintln!("{CLIENTS} clients joined at once: all connected after {all:?}, slowest {slowest:?}");
    assert_eq!(connected.len(), CLIENTS);
    assert!(all < Duration::from_secs(10), "{all:?}");
    for (m, connection) in connected {
        connection.leave(&m.gateway).await;
    }
    s.stop().await;
}
