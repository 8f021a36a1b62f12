//! Permissions on the paths an attacker tries, over real HTTP and the gateway on both
//! backends: private categories and the channels inside them (REST, voice, live events,
//! moves, deletes), and every way to hand out a permission (assigning roles to others and
//! to oneself, editing roles, channel overwrites) under the role hierarchy.

#[path = "support/gateway_client.rs"]
mod gateway_client;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/members.rs"]
mod members;

use std::time::Duration;

use auraspeak_shared::v1::gateway::{ClientFrame, Event, ServerFrame};
use auraspeak_shared::{ChannelId, Permissions, Snowflake};
use gateway_client::{Gw, Next};
use harness::{Backend, TestServer, assert_error};
use members::{User, join, put_ow, set_role, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    a_private_category_hides_the_channels_inside,
    channels_leaving_a_private_category_stay_private,
    permissions_reach_clients_and_follow_changes,
    deleted_hidden_channels_stay_unknown,
    role_grants_need_the_permissions_they_carry,
    overwrites_follow_the_hierarchy,
    every_grant_path_follows_rank_against_the_reference_model,
);

const VIEW: u64 = 1 << 0;
const SEND: u64 = 1 << 1;
const MANAGE_CHANNELS: u64 = 1 << 6;
const MANAGE_ROLES: u64 = 1 << 7;
const KICK: u64 = 1 << 10;
const BAN: u64 = 1 << 11;
const CONNECT: u64 = 1 << 12;
const MUTE: u64 = 1 << 14;
const ADMINISTRATOR: u64 = 1 << 19;
const MANAGE_NICKNAMES: u64 = 1 << 21;
const WAIT: Duration = Duration::from_secs(5);

/// A server owned by `owner` with `members` joined through an invite.
async fn community(s: &TestServer, owner: &User, members: &[&User]) -> String {
    let (status, detail) =
        s.post("/api/v1/servers", Some(&owner.token), json!({"name": "Guild"})).await;
    assert_eq!(status, StatusCode::CREATED, "{detail}");
    let sid = detail["server"]["id"].as_str().expect("id").to_owned();
    for who in members {
        join(s, owner, &sid, who).await;
    }
    sid
}

async fn channel(
    s: &TestServer,
    by: &User,
    sid: &str,
    name: &str,
    kind: &str,
    parent: Option<&str>,
) -> String {
    let mut body = json!({"name": name, "kind": kind});
    if let Some(parent) = parent {
        body["parent_id"] = json!(parent);
    }
    let (status, created) =
        s.post(&format!("/api/v1/servers/{sid}/channels"), Some(&by.token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

async fn role(s: &TestServer, by: &User, sid: &str, name: &str, perms: u64) -> (StatusCode, Value) {
    s.post(
        &format!("/api/v1/servers/{sid}/roles"),
        Some(&by.token),
        json!({"name": name, "permissions": perms.to_string()}),
    )
    .await
}

async fn new_role(s: &TestServer, by: &User, sid: &str, name: &str, perms: u64) -> String {
    let (status, body) = role(s, by, sid, name, perms).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

async fn visible(s: &TestServer, who: &User, sid: &str) -> Vec<String> {
    let (status, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&who.token)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let listed: Vec<String> = detail["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let with_permissions: Vec<String> = detail["channel_permissions"]
        .as_array()
        .expect("channel_permissions")
        .iter()
        .filter_map(|c| c["channel_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, with_permissions, "every listed channel has its permissions");
    listed
}

async fn read(s: &TestServer, who: &User, cid: &str) -> (StatusCode, Value) {
    s.get(&format!("/api/v1/channels/{cid}/messages"), Some(&who.token)).await
}

async fn post(s: &TestServer, who: &User, cid: &str, text: &str) -> (StatusCode, Value) {
    s.post(&format!("/api/v1/channels/{cid}/messages"), Some(&who.token), json!({"content": text}))
        .await
}

fn channel_id(raw: &str) -> ChannelId {
    ChannelId(Snowflake::from_i64(raw.parse().expect("numeric id")).expect("positive id"))
}

/// The code of the error frame a voice join gets, or `None` if it was accepted.
async fn voice_join_refusal(gw: &mut Gw, cid: &str) -> Option<String> {
    let frame =
        ClientFrame::VoiceJoin { channel_id: channel_id(cid), self_mute: false, self_deaf: false };
    gw.send(&frame).await;
    let reply = gw.next_control(WAIT).await;
    // next_control skipped any dispatches on the way.
    gw.last_seq = None;
    match reply {
        Next::Frame(ServerFrame::Error { code, .. }) => Some(code.as_str().to_owned()),
        Next::Frame(ServerFrame::VoiceReady { .. }) => None,
        other => panic!("expected voice_ready or an error, got {other:?}"),
    }
}

async fn a_private_category_hides_the_channels_inside(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, staffer, pleb) =
        (user(&s, "owner").await, user(&s, "staffer").await, user(&s, "pleb").await);
    let sid = community(&s, &owner, &[&staffer, &pleb]).await;
    let staff = new_role(&s, &owner, &sid, "Staff", 0).await;
    assert_eq!(set_role(&s, &owner, &sid, &staffer, &staff, true).await, StatusCode::NO_CONTENT);
    let category = channel(&s, &owner, &sid, "staff", "category", None).await;
    assert_eq!(
        put_ow(&s, &category, &owner, "role", &sid, 0, VIEW | CONNECT).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put_ow(&s, &category, &owner, "role", &staff, VIEW | CONNECT, 0).await.0,
        StatusCode::OK
    );
    let chat = channel(&s, &owner, &sid, "staff-chat", "text", Some(&category)).await;
    let voice = channel(&s, &owner, &sid, "Staff voice", "voice", Some(&category)).await;
    assert_eq!(post(&s, &owner, &chat, "secret plans").await.0, StatusCode::CREATED);

    // The API says which overwrites apply: the category's.
    let (_, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&owner.token)).await;
    let listed = |id: &str| -> Value {
        detail["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .expect("listed")
    };
    assert_eq!(listed(&chat)["permissions_synced"], true);
    assert_eq!(listed(&chat)["overwrites"], json!([]));
    assert_eq!(listed(&category)["permissions_synced"], false);

    let seen = visible(&s, &pleb, &sid).await;
    for hidden in [&category, &chat, &voice] {
        assert!(!seen.contains(hidden), "a plain member sees {hidden}: {seen:?}");
    }
    assert_error(&read(&s, &pleb, &chat).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&post(&s, &pleb, &chat, "let me in").await, StatusCode::NOT_FOUND, "not_found");
    let seen = visible(&s, &staffer, &sid).await;
    assert!(seen.contains(&chat) && seen.contains(&voice), "{seen:?}");
    assert_eq!(read(&s, &staffer, &chat).await.0, StatusCode::OK);

    // Voice: refused for the member, accepted for staff.
    let mut gw = Gw::connect(&s.url("")).await;
    gw.identify(&pleb.token).await;
    assert_eq!(voice_join_refusal(&mut gw, &voice).await.as_deref(), Some("not_found"));
    let mut staff_gw = Gw::connect(&s.url("")).await;
    staff_gw.identify(&staffer.token).await;
    assert_eq!(voice_join_refusal(&mut staff_gw, &voice).await, None);

    // Live messages in the hidden channel reach staff, never the member.
    assert_eq!(post(&s, &owner, &chat, "more plans").await.0, StatusCode::CREATED);
    let mut staff_saw = false;
    while let Some((_, event)) = staff_gw.event(Duration::from_millis(1500)).await {
        staff_saw |= matches!(event, Event::MessageCreate { ref message } if message.content == "more plans");
    }
    assert!(staff_saw, "staff hears the message");
    while let Some((_, event)) = gw.event(Duration::from_millis(500)).await {
        assert!(
            !matches!(event, Event::MessageCreate { .. } | Event::VoiceStateUpdate { .. }),
            "the member got {event:?}"
        );
    }

    // An overwrite of its own on a synced channel starts from the category's: a member
    // overwrite added there keeps @everyone's deny and the staff's allow.
    assert_eq!(put_ow(&s, &chat, &owner, "member", &pleb.id, SEND, 0).await.0, StatusCode::OK);
    let (_, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&owner.token)).await;
    let chat_now = detail["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["id"] == chat.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(chat_now["permissions_synced"], false);
    assert_eq!(chat_now["overwrites"].as_array().expect("own").len(), 3, "{chat_now}");
    assert!(!visible(&s, &pleb, &sid).await.contains(&chat));
    assert_error(&read(&s, &pleb, &chat).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(post(&s, &staffer, &chat, "still ours").await.0, StatusCode::CREATED);

    // Syncing again drops the channel's own overwrites.
    let (status, synced) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{chat}"),
            Some(&owner.token),
            Some(json!({"sync_permissions": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(synced["permissions_synced"], true);
    assert_eq!(synced["overwrites"], json!([]));
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{category}"),
            Some(&owner.token),
            Some(json!({"sync_permissions": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "sync_permissions");
}

async fn channels_leaving_a_private_category_stay_private(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, pleb) = (user(&s, "owner").await, user(&s, "pleb").await);
    let sid = community(&s, &owner, &[&pleb]).await;
    let category = channel(&s, &owner, &sid, "officers", "category", None).await;
    assert_eq!(put_ow(&s, &category, &owner, "role", &sid, 0, VIEW).await.0, StatusCode::OK);
    let moved = channel(&s, &owner, &sid, "plans", "text", Some(&category)).await;
    let orphan = channel(&s, &owner, &sid, "archive", "text", Some(&category)).await;
    let public = channel(&s, &owner, &sid, "lobby", "text", None).await;

    // Moved out: keeps the overwrites that applied, a copy of the category's.
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{moved}"),
            Some(&owner.token),
            Some(json!({"parent_id": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions_synced"], false);
    assert_eq!(body["overwrites"].as_array().expect("own").len(), 1, "{body}");
    assert_error(&read(&s, &pleb, &moved).await, StatusCode::NOT_FOUND, "not_found");

    // A public channel moved in follows the category (it had nothing of its own).
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{public}"),
            Some(&owner.token),
            Some(json!({"parent_id": category})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions_synced"], true);
    assert_error(&read(&s, &pleb, &public).await, StatusCode::NOT_FOUND, "not_found");

    // Deleting the category leaves its channels with what applied to them.
    let (status, _) = s
        .send(Method::DELETE, &format!("/api/v1/channels/{category}"), Some(&owner.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for cid in [&orphan, &public, &moved] {
        assert_error(&read(&s, &pleb, cid).await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(read(&s, &owner, cid).await.0, StatusCode::OK);
    }
}

async fn permissions_reach_clients_and_follow_changes(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, pleb) = (user(&s, "owner").await, user(&s, "pleb").await);
    let sid = community(&s, &owner, &[&pleb]).await;
    let category = channel(&s, &owner, &sid, "news", "category", None).await;
    let announcements = channel(&s, &owner, &sid, "announcements", "text", Some(&category)).await;

    let mut gw = Gw::connect(&s.url("")).await;
    let ready = gw.identify(&pleb.token).await;
    let detail = ready.servers.iter().find(|d| d.server.id.to_string() == sid).expect("server");
    let perms_in = |list: &[auraspeak_shared::v1::channels::ChannelPermissions], cid: &str| {
        list.iter().find(|p| p.channel_id.to_string() == cid).map(|p| p.permissions)
    };
    let at_ready = perms_in(&detail.channel_permissions, &announcements).expect("listed in READY");
    assert!(at_ready.contains(Permissions::SEND_MESSAGES));

    // Read-only by the category's overwrite: the client hears its new permissions, with
    // the overwrite inherited (the composer reads exactly this).
    assert_eq!(put_ow(&s, &category, &owner, "role", &sid, 0, SEND).await.0, StatusCode::OK);
    let mut update = None;
    while let Some((_, event)) = gw.any_event(WAIT).await {
        if let Event::PermissionsUpdate { server_id, channel_permissions, .. } = event {
            assert_eq!(server_id.to_string(), sid);
            update = Some(channel_permissions);
            break;
        }
    }
    let update = update.expect("a permissions_update after the overwrite");
    let now = perms_in(&update, &announcements).expect("still visible");
    assert!(now.contains(Permissions::VIEW_CHANNEL | Permissions::READ_HISTORY));
    assert!(!now.contains(Permissions::SEND_MESSAGES), "{now:?}");
    assert_error(&post(&s, &pleb, &announcements, "hi").await, StatusCode::FORBIDDEN, "forbidden");

    // Hidden by the category: gone from the next update.
    assert_eq!(put_ow(&s, &category, &owner, "role", &sid, 0, VIEW | SEND).await.0, StatusCode::OK);
    let mut hidden = false;
    while let Some((_, event)) = gw.any_event(WAIT).await {
        if let Event::PermissionsUpdate { channel_permissions, .. } = event {
            hidden = perms_in(&channel_permissions, &announcements).is_none();
            break;
        }
    }
    assert!(hidden, "the channel left the member's permissions");
}

async fn deleted_hidden_channels_stay_unknown(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, pleb) = (user(&s, "owner").await, user(&s, "pleb").await);
    let sid = community(&s, &owner, &[&pleb]).await;
    let secret = channel(&s, &owner, &sid, "secret", "text", None).await;
    assert_eq!(put_ow(&s, &secret, &owner, "role", &sid, 0, VIEW).await.0, StatusCode::OK);
    let open = channel(&s, &owner, &sid, "open", "text", None).await;

    let mut gw = Gw::connect(&s.url("")).await;
    gw.identify(&pleb.token).await;
    for cid in [&secret, &open] {
        let (status, _) = s
            .send(Method::DELETE, &format!("/api/v1/channels/{cid}"), Some(&owner.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    // The secret one was deleted first, so by the time the open one's deletion arrives
    // any leak of the secret one would have too.
    let mut deleted = Vec::new();
    while let Some((_, event)) = gw.event(WAIT).await {
        if let Event::ChannelDelete { channel_id, .. } = event {
            deleted.push(channel_id.to_string());
            if channel_id.to_string() == open {
                break;
            }
        }
    }
    assert_eq!(deleted, vec![open], "only the channel the member could see");
}

async fn role_grants_need_the_permissions_they_carry(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, modr, admin, pleb) = (
        user(&s, "owner").await,
        user(&s, "modr").await,
        user(&s, "admin").await,
        user(&s, "pleb").await,
    );
    let sid = community(&s, &owner, &[&modr, &admin, &pleb]).await;
    let mods = new_role(&s, &owner, &sid, "Mods", KICK | MANAGE_ROLES).await;
    assert_eq!(set_role(&s, &owner, &sid, &modr, &mods, true).await, StatusCode::NO_CONTENT);
    // Created later, so it lands below Mods.
    let admins = new_role(&s, &owner, &sid, "Admin", ADMINISTRATOR).await;
    let banners = new_role(&s, &owner, &sid, "Banhammer", BAN).await;
    let helpers = new_role(&s, &owner, &sid, "Helper", KICK).await;
    assert_eq!(set_role(&s, &owner, &sid, &admin, &admins, true).await, StatusCode::NO_CONTENT);

    // The review's attack, and its variants: to oneself and to an accomplice.
    assert_eq!(set_role(&s, &modr, &sid, &modr, &admins, true).await, StatusCode::FORBIDDEN);
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &admins, true).await, StatusCode::FORBIDDEN);
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &banners, true).await, StatusCode::FORBIDDEN);
    // Nor take it away from those who hold it, nor edit, move or delete it.
    assert_eq!(set_role(&s, &modr, &sid, &admin, &admins, false).await, StatusCode::FORBIDDEN);
    let edit = s
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{sid}/roles/{admins}"),
            Some(&modr.token),
            Some(json!({"name": "Demoted"})),
        )
        .await;
    assert_error(&edit, StatusCode::FORBIDDEN, "forbidden");
    let delete = s
        .send(
            Method::DELETE,
            &format!("/api/v1/servers/{sid}/roles/{admins}"),
            Some(&modr.token),
            None,
        )
        .await;
    assert_error(&delete, StatusCode::FORBIDDEN, "forbidden");
    let reorder = s
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{sid}/roles"),
            Some(&modr.token),
            Some(json!([{"id": banners, "position": 1}])),
        )
        .await;
    assert_error(&reorder, StatusCode::FORBIDDEN, "forbidden");
    // Roles of someone who outranks them (the administrator) are out of reach too, even
    // a role the moderator could hand to others.
    assert_eq!(set_role(&s, &modr, &sid, &admin, &helpers, true).await, StatusCode::FORBIDDEN);
    assert_eq!(set_role(&s, &modr, &sid, &owner, &helpers, true).await, StatusCode::FORBIDDEN);

    // What a moderator holds can be handed down, and taken for oneself.
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &helpers, true).await, StatusCode::NO_CONTENT);
    assert_eq!(set_role(&s, &modr, &sid, &modr, &helpers, true).await, StatusCode::NO_CONTENT);
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &helpers, false).await, StatusCode::NO_CONTENT);

    // The escalated moderator's next step, had the grant worked, fails too.
    let (status, _) = s
        .post(
            &format!("/api/v1/servers/{sid}/members/{}/kick", admin.id),
            Some(&modr.token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&modr.token)).await;
    let mine = Permissions(detail["my_permissions"].as_str().expect("perms").parse().expect("u64"));
    assert!(!mine.contains(Permissions::ADMINISTRATOR) && !mine.contains(Permissions::BAN_MEMBERS));
    // The owner can do all of it.
    assert_eq!(set_role(&s, &owner, &sid, &pleb, &banners, true).await, StatusCode::NO_CONTENT);
}

async fn overwrites_follow_the_hierarchy(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, modr, senior, pleb) = (
        user(&s, "owner").await,
        user(&s, "modr").await,
        user(&s, "senior").await,
        user(&s, "pleb").await,
    );
    let sid = community(&s, &owner, &[&modr, &senior, &pleb]).await;
    let seniors = new_role(&s, &owner, &sid, "Senior", KICK).await;
    let mods = new_role(&s, &owner, &sid, "Mods", MANAGE_ROLES | MANAGE_CHANNELS).await;
    assert_eq!(set_role(&s, &owner, &sid, &modr, &mods, true).await, StatusCode::NO_CONTENT);
    let top = new_role(&s, &owner, &sid, "Top", 0).await;
    let reorder = s
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{sid}/roles"),
            Some(&owner.token),
            Some(json!([{"id": top, "position": 3}, {"id": mods, "position": 2}, {"id": seniors, "position": 1}])),
        )
        .await;
    assert_eq!(reorder.0, StatusCode::OK, "{}", reorder.1);
    assert_eq!(set_role(&s, &owner, &sid, &senior, &top, true).await, StatusCode::NO_CONTENT);
    let room = channel(&s, &owner, &sid, "room", "text", None).await;

    // A role above one's own, or a member who outranks one: refused.
    assert_error(
        &put_ow(&s, &room, &modr, "role", &top, 0, SEND).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &put_ow(&s, &room, &modr, "member", &senior.id, 0, SEND).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &put_ow(&s, &room, &modr, "member", &owner.id, 0, VIEW).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Bits one lacks, allowed or denied: refused (KICK is not the moderator's).
    assert_error(
        &put_ow(&s, &room, &modr, "role", &seniors, KICK, 0).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Below: fine.
    assert_eq!(put_ow(&s, &room, &modr, "member", &pleb.id, 0, SEND).await.0, StatusCode::OK);
    assert_eq!(put_ow(&s, &room, &modr, "role", &sid, 0, SEND).await.0, StatusCode::OK);
    // Removing an overwrite that holds a bit one lacks is a change to that bit.
    assert_eq!(put_ow(&s, &room, &owner, "role", &seniors, 0, KICK).await.0, StatusCode::OK);
    let removed = s
        .send(
            Method::DELETE,
            &format!("/api/v1/channels/{room}/overwrites/role/{seniors}"),
            Some(&modr.token),
            None,
        )
        .await;
    assert_error(&removed, StatusCode::FORBIDDEN, "forbidden");
    let removed = s
        .send(
            Method::DELETE,
            &format!("/api/v1/channels/{room}/overwrites/member/{}", pleb.id),
            Some(&modr.token),
            None,
        )
        .await;
    assert_eq!(removed.0, StatusCode::NO_CONTENT, "{}", removed.1);
}

/// Who acts, or is acted on, in the rank matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rank {
    Owner,
    /// Holds a role with ADMINISTRATOR (the highest role).
    Admin,
    /// A moderator role above `Low`'s, with the same permissions.
    High,
    Low,
    /// Only @everyone.
    Plain,
}

#[derive(Clone, Copy, Debug)]
enum GrantPath {
    AddRole,
    RemoveRole,
    Nickname,
    MemberOverwrite,
    Kick,
    Ban,
}

/// The rules written per case, independently of the server: moderators need the path's
/// permission and must outrank the target (the owner and administrators outrank every
/// role, nobody outranks the owner, and an administrator is outranked only by the owner).
/// On oneself: one's own nickname (CHANGE_NICKNAME, which @everyone has), roles one may
/// manage and overwrites one may edit, never a kick or a ban.
fn reference(actor: Rank, target: Rank, path: GrantPath) -> bool {
    let moderator = actor != Rank::Plain;
    let level = |r: Rank| match r {
        Rank::Owner => 5,
        Rank::Admin => 4,
        Rank::High => 3,
        Rank::Low => 2,
        Rank::Plain => 1,
    };
    if actor == target {
        return match path {
            GrantPath::Nickname => true,
            GrantPath::AddRole | GrantPath::RemoveRole | GrantPath::MemberOverwrite => moderator,
            GrantPath::Kick | GrantPath::Ban => false,
        };
    }
    if !moderator || target == Rank::Owner {
        return false;
    }
    match actor {
        Rank::Owner | Rank::Admin => true,
        _ => level(target) < level(actor),
    }
}

async fn every_grant_path_follows_rank_against_the_reference_model(backend: Backend) {
    let s = TestServer::start_with(&backend, |c| c.rate_limit.enabled = false).await;
    let owner = user(&s, "owner").await;
    let (admin, high, low, plain) = (
        user(&s, "admin").await,
        user(&s, "high").await,
        user(&s, "low").await,
        user(&s, "plain").await,
    );
    let sid = community(&s, &owner, &[&admin, &high, &low, &plain]).await;
    let mods = MANAGE_ROLES | MANAGE_CHANNELS | MANAGE_NICKNAMES | KICK | BAN | MUTE;
    // Created bottom-up (each new role lands at position 1): Tag 1, Low 2, High 3, Admin 4.
    let admins = new_role(&s, &owner, &sid, "Admins", ADMINISTRATOR).await;
    let highs = new_role(&s, &owner, &sid, "High", mods).await;
    let lows = new_role(&s, &owner, &sid, "Low", mods).await;
    let tag = new_role(&s, &owner, &sid, "Tag", 0).await;
    for (who, role) in [(&admin, &admins), (&high, &highs), (&low, &lows)] {
        assert_eq!(set_role(&s, &owner, &sid, who, role, true).await, StatusCode::NO_CONTENT);
    }
    let room = channel(&s, &owner, &sid, "room", "text", None).await;
    let cast = [
        (Rank::Owner, &owner),
        (Rank::Admin, &admin),
        (Rank::High, &high),
        (Rank::Low, &low),
        (Rank::Plain, &plain),
    ];
    let paths = [
        GrantPath::AddRole,
        GrantPath::RemoveRole,
        GrantPath::Nickname,
        GrantPath::MemberOverwrite,
        GrantPath::Kick,
        GrantPath::Ban,
    ];
    let mut cases = 0;
    for (actor_rank, actor) in cast {
        for (target_rank, target) in cast {
            for path in paths {
                let want = reference(actor_rank, target_rank, path);
                if want && matches!(path, GrantPath::Kick | GrantPath::Ban) {
                    // A success would change the cast; refusals are what this proves,
                    // and successful kicks and bans are covered elsewhere.
                    continue;
                }
                if matches!(path, GrantPath::RemoveRole) {
                    // Something to remove, put there by the owner.
                    assert_eq!(
                        set_role(&s, &owner, &sid, target, &tag, true).await.as_u16() / 100,
                        2
                    );
                }
                let status = match path {
                    GrantPath::AddRole => set_role(&s, actor, &sid, target, &tag, true).await,
                    GrantPath::RemoveRole => set_role(&s, actor, &sid, target, &tag, false).await,
                    GrantPath::Nickname => {
                        let path = format!("/api/v1/servers/{sid}/members/{}", target.id);
                        s.send(
                            Method::PATCH,
                            &path,
                            Some(&actor.token),
                            Some(json!({"nickname": "renamed"})),
                        )
                        .await
                        .0
                    }
                    GrantPath::MemberOverwrite => {
                        put_ow(&s, &room, actor, "member", &target.id, 0, SEND).await.0
                    }
                    GrantPath::Kick => {
                        let path = format!("/api/v1/servers/{sid}/members/{}/kick", target.id);
                        s.post(&path, Some(&actor.token), json!({})).await.0
                    }
                    GrantPath::Ban => {
                        let path = format!("/api/v1/servers/{sid}/bans/{}", target.id);
                        s.send(Method::PUT, &path, Some(&actor.token), Some(json!({}))).await.0
                    }
                };
                let allowed = status.is_success();
                assert!(
                    allowed == want && (allowed || status == StatusCode::FORBIDDEN),
                    "{actor_rank:?} -> {target_rank:?} {path:?}: {status}, want allowed={want}"
                );
                // Put the cast back as it was.
                if matches!(path, GrantPath::AddRole) && allowed {
                    assert_eq!(
                        set_role(&s, &owner, &sid, target, &tag, false).await.as_u16() / 100,
                        2
                    );
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 5 * 5 * 4, "{cases} cases");
}
