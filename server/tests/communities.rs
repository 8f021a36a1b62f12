//! Communities over real HTTP on both backends: servers, invites, roles and the
//! hierarchy, channel overwrites, moderation and the audit log.

#[path = "support/harness.rs"]
mod harness;
#[path = "support/members.rs"]
mod members;

use std::time::Duration;

use harness::{Backend, TestServer, assert_error};
use members::{User, join, put_ow, set_role, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    server_lifecycle_and_visibility,
    invites_expire_run_out_and_respect_bans,
    role_hierarchy_limits_moderators,
    overwrites_hide_and_silence_channels,
    browsers_get_pages_for_the_address_and_invite_links,
);

const KICK: u64 = 1 << 10;
const BAN: u64 = 1 << 11;
const VIEW: u64 = 1 << 0;
const SEND: u64 = 1 << 1;
const MANAGE_MESSAGES: u64 = 1 << 3;
const MANAGE_ROLES: u64 = 1 << 7;

async fn create_server(s: &TestServer, owner: &User, name: &str) -> Value {
    let (status, detail) =
        s.post("/api/v1/servers", Some(&owner.token), json!({"name": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{detail}");
    detail
}

async fn create_role(
    s: &TestServer,
    owner: &User,
    server_id: &str,
    name: &str,
    perms: u64,
) -> String {
    let (status, role) = s
        .post(
            &format!("/api/v1/servers/{server_id}/roles"),
            Some(&owner.token),
            json!({"name": name, "permissions": perms.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    role["id"].as_str().expect("id").to_owned()
}

async fn kick(s: &TestServer, sid: &str, by: &User, target: &User) -> (StatusCode, Value) {
    let path = format!("/api/v1/servers/{sid}/members/{}/kick", target.id);
    s.post(&path, Some(&by.token), json!({"reason": "rules"})).await
}

async fn post(s: &TestServer, cid: &str, who: &User, text: &str) -> (StatusCode, Value) {
    s.post(&format!("/api/v1/channels/{cid}/messages"), Some(&who.token), json!({"content": text}))
        .await
}

async fn server_lifecycle_and_visibility(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (alice, bob, eve) = (user(&s, "alice").await, user(&s, "bob").await, user(&s, "eve").await);
    let detail = create_server(&s, &alice, "  Raid Night  ").await;
    let sid = detail["server"]["id"].as_str().expect("id").to_owned();
    assert_eq!(detail["server"]["name"], "Raid Night");
    assert_eq!(detail["server"]["owner_id"], alice.id.as_str());
    assert_eq!(detail["server"]["member_count"], 1);
    let kinds: Vec<(&str, &str)> = detail["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| (c["kind"].as_str().unwrap_or(""), c["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kinds, vec![("text", "general"), ("voice", "General")]);
    assert_eq!(detail["channels"][1]["bitrate_kbps"], 64);
    assert_eq!(detail["roles"][0]["name"], "@everyone");
    assert_eq!(detail["roles"][0]["id"], sid.as_str(), "@everyone shares the server's id");

    // Outsiders cannot tell the server exists.
    let missing = s.get("/api/v1/servers/123456789", Some(&eve.token)).await;
    let hidden = s.get(&format!("/api/v1/servers/{sid}"), Some(&eve.token)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(missing.1["error"]["message"], hidden.1["error"]["message"]);

    join(&s, &alice, &sid, &bob).await;
    let (_, mine) = s.get("/api/v1/servers", Some(&bob.token)).await;
    assert_eq!(mine[0]["id"], sid.as_str());
    assert_eq!(mine[0]["member_count"], 2);
    let server_path = format!("/api/v1/servers/{sid}");
    assert_error(
        &s.send(Method::PATCH, &server_path, Some(&bob.token), Some(json!({"name": "Mine now"})))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, renamed) = s
        .send(
            Method::PATCH,
            &server_path,
            Some(&alice.token),
            Some(json!({"name": "Raid Night II", "description": "Tuesdays"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["description"], "Tuesdays");
    assert_error(
        &s.send(Method::PATCH, &server_path, Some(&alice.token), Some(json!({"name": "x"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let leave_owner =
        s.post(&format!("/api/v1/servers/{sid}/leave"), Some(&alice.token), json!({})).await;
    assert_error(&leave_owner, StatusCode::FORBIDDEN, "forbidden");
    let del =
        s.send(Method::DELETE, &format!("/api/v1/servers/{sid}"), Some(&bob.token), None).await;
    assert_error(&del, StatusCode::FORBIDDEN, "forbidden");

    let (status, moved) = s
        .post(
            &format!("/api/v1/servers/{sid}/transfer"),
            Some(&alice.token),
            json!({"user_id": bob.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["owner_id"], bob.id.as_str());
    let (status, _) =
        s.post(&format!("/api/v1/servers/{sid}/leave"), Some(&alice.token), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}"), Some(&alice.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, _) =
        s.send(Method::DELETE, &format!("/api/v1/servers/{sid}"), Some(&bob.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}"), Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}

async fn invites_expire_run_out_and_respect_bans(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, a, b, troll) = (
        user(&s, "owner").await,
        user(&s, "ann").await,
        user(&s, "ben").await,
        user(&s, "troll").await,
    );
    let sid =
        create_server(&s, &owner, "Guild").await["server"]["id"].as_str().expect("id").to_owned();
    let invites = format!("/api/v1/servers/{sid}/invites");

    let (_, once) = s.post(&invites, Some(&owner.token), json!({"max_uses": 1})).await;
    let code = once["code"].as_str().expect("code").to_owned();
    let (status, preview) = s.get(&format!("/api/v1/invites/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "previews need no account");
    assert_eq!(
        (preview["server_name"].as_str(), preview["member_count"].as_i64()),
        (Some("Guild"), Some(1))
    );
    assert_eq!(
        s.post(&format!("/api/v1/invites/{code}"), Some(&a.token), json!({})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.post(&format!("/api/v1/invites/{code}"), Some(&a.token), json!({})).await.0,
        StatusCode::OK,
        "already a member: idempotent"
    );
    assert_error(
        &s.post(&format!("/api/v1/invites/{code}"), Some(&b.token), json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get(&format!("/api/v1/invites/{code}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let (_, short) = s.post(&invites, Some(&owner.token), json!({"max_age_secs": 1})).await;
    let short_code = short["code"].as_str().expect("code").to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(
        &s.post(&format!("/api/v1/invites/{short_code}"), Some(&b.token), json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for bad in [
        json!({"max_age_secs": -1}),
        json!({"max_uses": 1_000_000}),
        json!({"max_age_secs": "soon"}),
    ] {
        assert!(s.post(&invites, Some(&owner.token), bad).await.0.is_client_error());
    }
    assert_error(
        &s.post("/api/v1/invites/not-a-code!", Some(&b.token), json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // A ban removes the member and keeps them out until lifted.
    join(&s, &owner, &sid, &troll).await;
    let (status, _) = s
        .send(
            Method::PUT,
            &format!("/api/v1/servers/{sid}/bans/{}", troll.id),
            Some(&owner.token),
            Some(json!({"reason": "spam"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}"), Some(&troll.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (_, open) = s.post(&invites, Some(&owner.token), json!({})).await;
    let open_code = open["code"].as_str().expect("code").to_owned();
    assert_error(
        &s.post(&format!("/api/v1/invites/{open_code}"), Some(&troll.token), json!({})).await,
        StatusCode::FORBIDDEN,
        "banned",
    );
    let (_, bans) = s.get(&format!("/api/v1/servers/{sid}/bans"), Some(&owner.token)).await;
    assert_eq!(
        (bans[0]["username"].as_str(), bans[0]["reason"].as_str()),
        (Some("troll"), Some("spam"))
    );
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}/bans"), Some(&a.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, _) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/servers/{sid}/bans/{}", troll.id),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.post(&format!("/api/v1/invites/{open_code}"), Some(&troll.token), json!({})).await.0,
        StatusCode::OK
    );

    let (status, log) =
        s.get(&format!("/api/v1/servers/{sid}/audit-log"), Some(&owner.token)).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    // Four invites made (one by `join`; the refused requests are not), a ban, its lifting.
    assert_eq!(
        actions,
        vec![
            "member_unban",
            "invite_create",
            "member_ban",
            "invite_create",
            "invite_create",
            "invite_create"
        ],
        "newest first"
    );
    let ban = &log["entries"][2];
    assert_eq!(ban["reason"], "spam");
    assert_eq!(ban["actor_id"], owner.id.as_str());
    // Names for the reader, also of someone no longer a member.
    assert_eq!(
        (ban["actor_name"].as_str(), ban["target_user_name"].as_str()),
        (Some("owner"), Some("troll"))
    );
    assert_eq!(log["entries"][1]["reason"], open_code.as_str(), "the invite's code");
    assert_eq!(log["entries"][1]["target_user_name"], serde_json::Value::Null);
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}/audit-log"), Some(&a.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    s.stop().await;
}

async fn role_hierarchy_limits_moderators(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let owner = user(&s, "owner").await;
    let (modr, peer, pleb) =
        (user(&s, "modr").await, user(&s, "peer").await, user(&s, "pleb").await);
    let sid =
        create_server(&s, &owner, "Clan").await["server"]["id"].as_str().expect("id").to_owned();
    for u in [&modr, &peer, &pleb] {
        join(&s, &owner, &sid, u).await;
    }
    // New roles go just above @everyone, so the later one ends up lower.
    let moderator =
        create_role(&s, &owner, &sid, "Moderator", KICK | MANAGE_ROLES | MANAGE_MESSAGES).await;
    let helper = create_role(&s, &owner, &sid, "Helper", 0).await;
    assert_eq!(set_role(&s, &owner, &sid, &modr, &moderator, true).await, StatusCode::NO_CONTENT);
    assert_eq!(set_role(&s, &owner, &sid, &peer, &moderator, true).await, StatusCode::NO_CONTENT);

    // Below: fine. Equal or above, or the owner: refused.
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &helper, true).await, StatusCode::NO_CONTENT);
    assert_eq!(set_role(&s, &modr, &sid, &pleb, &moderator, true).await, StatusCode::FORBIDDEN);
    assert_error(&kick(&s, &sid, &modr, &peer).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&kick(&s, &sid, &modr, &owner).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&kick(&s, &sid, &pleb, &modr).await, StatusCode::FORBIDDEN, "forbidden");
    // Nobody hands out what they do not have.
    let escalate = s
        .post(
            &format!("/api/v1/servers/{sid}/roles"),
            Some(&modr.token),
            json!({"name": "Boss", "permissions": BAN.to_string()}),
        )
        .await;
    assert_error(&escalate, StatusCode::FORBIDDEN, "forbidden");
    let rename_mod = s
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{sid}/roles/{moderator}"),
            Some(&modr.token),
            Some(json!({"name": "Gods"})),
        )
        .await;
    assert_error(&rename_mod, StatusCode::FORBIDDEN, "forbidden");
    // A role a moderator creates lands below their own, so they can still manage it.
    let own = create_role(&s, &modr, &sid, "Raiders", 0).await;
    let (status, _) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/servers/{sid}/roles/{own}"),
            Some(&modr.token),
            Some(json!({"name": "Raid Team"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the creator edits the new role");
    let (_, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&owner.token)).await;
    let position = |id: &str| {
        detail["roles"].as_array().expect("roles").iter().find(|r| r["id"] == id).expect("role")
            ["position"]
            .as_i64()
    };
    assert_eq!(position(&own), Some(1), "just above @everyone");
    assert!(position(&moderator) > position(&helper), "earlier roles moved up, order kept");

    let (status, _) = kick(&s, &sid, &modr, &pleb).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get(&format!("/api/v1/servers/{sid}"), Some(&pleb.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (_, members) =
        s.get(&format!("/api/v1/servers/{sid}/members?limit=2"), Some(&owner.token)).await;
    assert_eq!(members["members"].as_array().map(Vec::len), Some(2));
    let next = members["next_after"].as_str().expect("more pages").to_owned();
    let (_, rest) = s
        .get(&format!("/api/v1/servers/{sid}/members?limit=2&after={next}"), Some(&owner.token))
        .await;
    assert_eq!(rest["members"].as_array().map(Vec::len), Some(1), "3 members left after the kick");
    let bad = s.get(&format!("/api/v1/servers/{sid}/members?limit=lots"), Some(&owner.token)).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_parameter");

    // Deleting a role takes it from everyone who had it.
    let (status, _) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/servers/{sid}/roles/{moderator}"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&kick(&s, &sid, &modr, &peer).await, StatusCode::FORBIDDEN, "forbidden");
    let everyone = s
        .send(
            Method::DELETE,
            &format!("/api/v1/servers/{sid}/roles/{sid}"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_error(&everyone, StatusCode::FORBIDDEN, "forbidden");
    s.stop().await;
}

async fn overwrites_hide_and_silence_channels(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (owner, bob) = (user(&s, "owner").await, user(&s, "bob").await);
    let sid =
        create_server(&s, &owner, "Base").await["server"]["id"].as_str().expect("id").to_owned();
    join(&s, &owner, &sid, &bob).await;
    let staff_role = create_role(&s, &owner, &sid, "Staff", 0).await;
    let (status, staff) = s
        .post(
            &format!("/api/v1/servers/{sid}/channels"),
            Some(&owner.token),
            json!({"name": "staff", "kind": "text", "topic": "mods only"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{staff}");
    let cid = staff["id"].as_str().expect("id").to_owned();
    assert_eq!(put_ow(&s, &cid, &owner, "role", &sid, 0, VIEW).await.0, StatusCode::OK);
    assert_eq!(put_ow(&s, &cid, &owner, "role", &staff_role, VIEW, 0).await.0, StatusCode::OK);

    let visible = |detail: &Value| -> Vec<String> {
        detail["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (_, bob_view) = s.get(&format!("/api/v1/servers/{sid}"), Some(&bob.token)).await;
    assert!(!visible(&bob_view).contains(&"staff".to_owned()), "{bob_view}");
    assert_error(&post(&s, &cid, &bob, "hi").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &s.get(&format!("/api/v1/channels/{cid}/messages"), Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    assert_eq!(set_role(&s, &owner, &sid, &bob, &staff_role, true).await, StatusCode::NO_CONTENT);
    let (_, bob_view) = s.get(&format!("/api/v1/servers/{sid}"), Some(&bob.token)).await;
    assert!(visible(&bob_view).contains(&"staff".to_owned()));
    assert_eq!(post(&s, &cid, &bob, "hello staff").await.0, StatusCode::CREATED);

    // A member-level deny beats the role's allow: read-only for bob.
    assert_eq!(put_ow(&s, &cid, &owner, "member", &bob.id, 0, SEND).await.0, StatusCode::OK);
    assert_error(&post(&s, &cid, &bob, "can I talk?").await, StatusCode::FORBIDDEN, "forbidden");
    let (status, history) =
        s.get(&format!("/api/v1/channels/{cid}/messages"), Some(&bob.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["messages"][0]["content"], "hello staff");
    let (status, _) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/channels/{cid}/overwrites/member/{}", bob.id),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(post(&s, &cid, &bob, "thanks").await.0, StatusCode::CREATED);

    // Bob cannot manage the channel or its overwrites.
    let edit = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{cid}"),
            Some(&bob.token),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_error(&edit, StatusCode::FORBIDDEN, "forbidden");
    let (status, renamed) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{cid}"),
            Some(&owner.token),
            Some(json!({"name": "staff-room", "topic": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["topic"].is_null()), (Some("staff-room"), true));
    assert_eq!(renamed["overwrites"].as_array().map(Vec::len), Some(2));
    let voice_only = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/{cid}"),
            Some(&owner.token),
            Some(json!({"bitrate_kbps": 96})),
        )
        .await;
    assert_error(&voice_only, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let bad_voice = s
        .post(
            &format!("/api/v1/servers/{sid}/channels"),
            Some(&owner.token),
            json!({"name": "Loud", "kind": "voice", "bitrate_kbps": 600}),
        )
        .await;
    assert_error(&bad_voice, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, _) =
        s.send(Method::DELETE, &format!("/api/v1/channels/{cid}"), Some(&owner.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&post(&s, &cid, &owner, "anyone?").await, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

/// GET with a browser's headers; the body as text.
async fn browse(
    s: &TestServer,
    path: &str,
    language: &str,
) -> (StatusCode, String, String, String) {
    let response = reqwest::Client::new()
        .get(s.url(path))
        .header("accept", "text/html,application/xhtml+xml")
        .header("accept-language", language)
        .send()
        .await
        .expect("request");
    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let (content_type, csp) = (header("content-type"), header("content-security-policy"));
    let status = response.status();
    (status, content_type, csp, response.text().await.expect("body"))
}

async fn browsers_get_pages_for_the_address_and_invite_links(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let owner = user(&s, "owner").await;

    // The bare address says what it is and how to connect, instead of a JSON 404.
    let (status, content_type, csp, body) = browse(&s, "/", "en-US,en;q=0.9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(body.contains("This is an AuraSpeak server"), "{body}");
    assert!(body.contains(&s.base), "the address to enter: {body}");

    // A community whose name tries to be markup.
    let name = "<b>Raid & Co</b>";
    let sid =
        create_server(&s, &owner, name).await["server"]["id"].as_str().expect("id").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{sid}/invites"), Some(&owner.token), json!({})).await;
    let code = invite["code"].as_str().expect("code").to_owned();
    let (status, _, _, body) = browse(&s, &format!("/invite/{code}"), "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("&lt;b&gt;Raid &amp; Co&lt;/b&gt;"), "escaped name: {body}");
    assert!(!body.contains(name), "the name never as markup");
    assert!(body.contains("1 member"), "{body}");
    let link = format!("{}/invite/{code}", s.base);
    assert!(body.contains(&link), "the link to paste: {body}");
    assert!(body.contains("auraspeak://invite?server="), "the app link: {body}");

    // German for a German browser.
    let (_, _, _, body) = browse(&s, &format!("/invite/{code}"), "de-DE,de;q=0.9").await;
    assert!(body.contains("Du wurdest eingeladen zu") && body.contains("lang=\"de\""), "{body}");

    // A revoked or made-up code: a page that says so, with a 404 for crawlers.
    for bad in ["doesnotexist", "%3Cscript%3E"] {
        let (status, content_type, _, body) = browse(&s, &format!("/invite/{bad}"), "en").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert!(content_type.starts_with("text/html"), "{bad}: {content_type}");
        assert!(body.contains("This invite is not valid"), "{bad}: {body}");
        assert!(!body.contains("<script>"), "{bad}: {body}");
    }
    // The API itself still answers in coded JSON.
    assert_error(
        &s.get("/api/v1/invites/doesnotexist", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}
