//! Voice moderation over real HTTP and gateway sessions on both backends: server mute and
//! deafen belong to the member in that server and outlast voice sessions (security review
//! M1), moderators act only on members ranked below them (L6), and a move into a hidden
//! channel tells the old channel's viewers only that the member left (L7).

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/members.rs"]
mod members;

use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, Event, ServerFrame};
use auraspeak_shared::v1::voice::VoiceState;
use auraspeak_shared::{ChannelId, Snowflake};
use gateway_client::{Gw, Next};
use harness::{Backend, TestServer};
use members::{User, join, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    server_mute_and_deafen_outlast_rejoins_and_devices,
    moderators_can_mute_members_before_they_join,
    voice_moderation_follows_the_role_hierarchy,
    a_move_into_a_hidden_channel_does_not_reveal_it,
    server_mute_and_deafen_are_in_the_audit_log,
);

const VIEW: u64 = 1 << 0;
const MUTE_MEMBERS: u64 = 1 << 14;
const MOVE_MEMBERS: u64 = 1 << 16;
const WAIT: Duration = Duration::from_secs(5);

/// A server owned by `owner` with `members` joined by invite; its id and voice channel.
async fn community(s: &TestServer, owner: &User, members: &[&User]) -> (String, ChannelId) {
    let (status, detail) =
        s.post("/api/v1/servers", Some(&owner.token), json!({"name": "Voice"})).await;
    assert_eq!(status, StatusCode::CREATED, "{detail}");
    let sid = detail["server"]["id"].as_str().expect("id").to_owned();
    let voice = detail["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["kind"] == "voice")
        .and_then(|c| c["id"].as_str())
        .expect("a voice channel");
    for who in members {
        join(s, owner, &sid, who).await;
    }
    (sid, channel(voice))
}

fn channel(id: &str) -> ChannelId {
    ChannelId(id.parse::<Snowflake>().expect("snowflake"))
}

async fn connect(s: &TestServer, who: &User) -> Gw {
    let mut gw = Gw::connect(&s.base).await;
    gw.identify(&who.token).await;
    gw
}

/// Joins voice and returns the state the member's own session is told on arrival (which
/// may come before or after `voice_ready`).
async fn join_and_state(gw: &mut Gw, channel_id: ChannelId, who: &User) -> VoiceState {
    gw.send(&ClientFrame::VoiceJoin { channel_id, self_mute: false, self_deaf: false }).await;
    let (mut ready, mut state) = (false, None);
    while !ready || state.is_none() {
        match gw.next(WAIT).await {
            Next::Frame(ServerFrame::VoiceReady { .. }) => ready = true,
            Next::Frame(ServerFrame::Error { code, message }) => {
                panic!("voice join refused: {code:?} {message}")
            }
            Next::Frame(ServerFrame::Dispatch { seq, event }) => {
                gw.last_seq = Some(seq);
                if let Event::VoiceStateUpdate { state: s } = event
                    && s.user_id.to_string() == who.id
                    && s.channel_id == Some(channel_id)
                {
                    state = Some(s);
                }
            }
            Next::Frame(_) => continue,
            other => panic!("expected voice_ready, got {other:?}"),
        }
    }
    state.expect("seen")
}

/// The next voice state of `user_id` this session is told about.
async fn state_of(gw: &mut Gw, user_id: &str) -> VoiceState {
    loop {
        match gw.event(WAIT).await {
            Some((_, Event::VoiceStateUpdate { state }))
                if state.user_id.to_string() == user_id =>
            {
                return state;
            }
            Some(_) => continue,
            None => panic!("no voice state for {user_id}"),
        }
    }
}

async fn moderate(s: &TestServer, by: &User, sid: &str, target: &User, body: Value) -> StatusCode {
    let path = format!("/api/v1/servers/{sid}/voice/{}", target.id);
    let (status, body) = s.send(Method::PATCH, &path, Some(&by.token), Some(body)).await;
    assert!(status.is_success() || body["error"]["code"].is_string(), "{status} {body}");
    status
}

async fn server_mute_and_deafen_outlast_rejoins_and_devices(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, troll) = (user(&s, "owner").await, user(&s, "troll").await);
    let (sid, voice) = community(&s, &owner, &[&troll]).await;
    let mut phone = connect(&s, &troll).await;
    assert!(!join_and_state(&mut phone, voice, &troll).await.mute);
    assert_eq!(
        moderate(&s, &owner, &sid, &troll, json!({"mute": true, "deaf": true})).await,
        StatusCode::NO_CONTENT
    );
    let state = state_of(&mut phone, &troll.id).await;
    assert!(state.mute && state.deaf, "{state:?}");

    // Leave and come back: still muted and deafened.
    phone.send(&ClientFrame::VoiceLeave {}).await;
    let left = state_of(&mut phone, &troll.id).await;
    assert_eq!(left.channel_id, None);
    let back = join_and_state(&mut phone, voice, &troll).await;
    assert!(back.mute && back.deaf, "rejoined unmuted: {back:?}");

    // Another device (a second gateway session) takes over voice: still muted.
    let mut laptop = connect(&s, &troll).await;
    let other = join_and_state(&mut laptop, voice, &troll).await;
    assert!(other.mute && other.deaf, "other device unmuted: {other:?}");

    // Lifting one of them lasts too.
    assert_eq!(
        moderate(&s, &owner, &sid, &troll, json!({"mute": false})).await,
        StatusCode::NO_CONTENT
    );
    let lifted = state_of(&mut laptop, &troll.id).await;
    assert!(!lifted.mute && lifted.deaf, "{lifted:?}");
    laptop.send(&ClientFrame::VoiceLeave {}).await;
    assert_eq!(state_of(&mut laptop, &troll.id).await.channel_id, None);
    let again = join_and_state(&mut laptop, voice, &troll).await;
    assert!(!again.mute && again.deaf, "{again:?}");
    s.stop().await;
}

async fn moderators_can_mute_members_before_they_join(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, quiet, stranger) =
        (user(&s, "owner").await, user(&s, "quiet").await, user(&s, "stranger").await);
    let (sid, voice) = community(&s, &owner, &[&quiet]).await;
    assert_eq!(
        moderate(&s, &owner, &sid, &quiet, json!({"mute": true})).await,
        StatusCode::NO_CONTENT,
        "a member who is not in voice can be muted ahead"
    );
    // Someone who is not a member cannot be.
    assert_eq!(
        moderate(&s, &owner, &sid, &stranger, json!({"mute": true})).await,
        StatusCode::NOT_FOUND
    );
    // Nor can a member be moved while not in voice.
    let path = format!("/api/v1/servers/{sid}/voice/{}", quiet.id);
    let moved = s
        .send(Method::PATCH, &path, Some(&owner.token), Some(json!({"channel_id": voice.0})))
        .await;
    assert_eq!(moved.1["error"]["code"], "not_in_voice", "{}", moved.1);
    let mut gw = connect(&s, &quiet).await;
    let state = join_and_state(&mut gw, voice, &quiet).await;
    assert!(state.mute && !state.deaf, "pre-mute not applied: {state:?}");
    s.stop().await;
}

async fn role(s: &TestServer, owner: &User, sid: &str, name: &str, perms: u64) -> String {
    let (status, role) = s
        .post(
            &format!("/api/v1/servers/{sid}/roles"),
            Some(&owner.token),
            json!({"name": name, "permissions": perms.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    role["id"].as_str().expect("id").to_owned()
}

async fn grant(s: &TestServer, owner: &User, sid: &str, to: &User, role: &str) {
    let path = format!("/api/v1/servers/{sid}/members/{}/roles/{role}", to.id);
    let (status, body) = s.send(Method::PUT, &path, Some(&owner.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn voice_moderation_follows_the_role_hierarchy(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, mod_a, mod_b, member) = (
        user(&s, "owner").await,
        user(&s, "moda").await,
        user(&s, "modb").await,
        user(&s, "member").await,
    );
    let (sid, voice) = community(&s, &owner, &[&mod_a, &mod_b, &member]).await;
    let mods = role(&s, &owner, &sid, "Mods", MUTE_MEMBERS | MOVE_MEMBERS).await;
    grant(&s, &owner, &sid, &mod_a, &mods).await;
    grant(&s, &owner, &sid, &mod_b, &mods).await;
    let mut sessions = Vec::new();
    for who in [&owner, &mod_b, &member] {
        let mut gw = connect(&s, who).await;
        join_and_state(&mut gw, voice, who).await;
        sessions.push(gw);
    }
    let mute = json!({"mute": true});
    // The owner, and a moderator of the same rank, are out of reach; so is oneself.
    assert_eq!(moderate(&s, &mod_a, &sid, &owner, mute.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(moderate(&s, &mod_a, &sid, &mod_b, mute.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(moderate(&s, &mod_a, &sid, &mod_a, mute.clone()).await, StatusCode::FORBIDDEN);
    // Ahead of a join too.
    assert_eq!(moderate(&s, &mod_b, &sid, &mod_a, mute.clone()).await, StatusCode::FORBIDDEN);
    // Below them: allowed.
    assert_eq!(moderate(&s, &mod_a, &sid, &member, mute.clone()).await, StatusCode::NO_CONTENT);
    // The owner stands above every role.
    assert_eq!(moderate(&s, &owner, &sid, &mod_b, mute).await, StatusCode::NO_CONTENT);
    s.stop().await;
}

async fn a_move_into_a_hidden_channel_does_not_reveal_it(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, moved, watcher) =
        (user(&s, "owner").await, user(&s, "moved").await, user(&s, "watcher").await);
    let (sid, lobby) = community(&s, &owner, &[&moved, &watcher]).await;
    let (status, hidden) = s
        .post(
            &format!("/api/v1/servers/{sid}/channels"),
            Some(&owner.token),
            json!({"name": "Staff", "kind": "voice"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hidden}");
    let hidden_id = hidden["id"].as_str().expect("id").to_owned();
    // Hidden from @everyone except the member who is moved there.
    let deny = json!({"allow": "0", "deny": VIEW.to_string()});
    let path = format!("/api/v1/channels/{hidden_id}/overwrites/role/{sid}");
    let (status, body) = s.send(Method::PUT, &path, Some(&owner.token), Some(deny)).await;
    assert!(status.is_success(), "{body}");
    let allow = json!({"allow": VIEW.to_string(), "deny": "0"});
    let path = format!("/api/v1/channels/{hidden_id}/overwrites/member/{}", moved.id);
    let (status, body) = s.send(Method::PUT, &path, Some(&owner.token), Some(allow)).await;
    assert!(status.is_success(), "{body}");

    let mut moved_gw = connect(&s, &moved).await;
    join_and_state(&mut moved_gw, lobby, &moved).await;
    let mut watcher_gw = connect(&s, &watcher).await;
    join_and_state(&mut watcher_gw, lobby, &watcher).await;
    let body = json!({"channel_id": hidden_id});
    assert_eq!(moderate(&s, &owner, &sid, &moved, body).await, StatusCode::NO_CONTENT);
    let seen = state_of(&mut watcher_gw, &moved.id).await;
    assert_eq!(seen.channel_id, None, "the hidden channel leaked to the lobby: {seen:?}");
    // And nothing else about the member follows.
    while let Some((_, event)) = watcher_gw.event(Duration::from_millis(500)).await {
        if let Event::VoiceStateUpdate { state } = event {
            assert_ne!(state.channel_id.map(|c| c.to_string()), Some(hidden_id.clone()));
        }
    }
    // The moved member's own session learns where they are, and is never told that
    // they left (the client would take that for being removed from voice).
    let own = state_of(&mut moved_gw, &moved.id).await;
    assert_eq!(own.channel_id.map(|c| c.to_string()), Some(hidden_id));
    s.stop().await;
}

async fn server_mute_and_deafen_are_in_the_audit_log(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, loud) = (user(&s, "owner").await, user(&s, "loud").await);
    let (sid, _voice) = community(&s, &owner, &[&loud]).await;
    assert_eq!(
        moderate(&s, &owner, &sid, &loud, json!({"mute": true})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        moderate(&s, &owner, &sid, &loud, json!({"mute": false, "deaf": true})).await,
        StatusCode::NO_CONTENT
    );
    let (status, log) =
        s.get(&format!("/api/v1/servers/{sid}/audit-log"), Some(&owner.token)).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries: Vec<(&str, &str, &str)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("member_voice_")))
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default();
            (field("action"), field("actor_id"), field("target_id"))
        })
        .collect();
    let (o, l) = (owner.id.as_str(), loud.id.as_str());
    assert_eq!(
        entries,
        vec![
            ("member_voice_deafen", o, l),
            ("member_voice_unmute", o, l),
            ("member_voice_mute", o, l),
        ],
        "newest first"
    );
    s.stop().await;
}
