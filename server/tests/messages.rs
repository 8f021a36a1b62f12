//! Persistent chat on both backends: history paging, idempotent sends by nonce, edits,
//! deletions by authors and moderators.

#[path = "support/harness.rs"]
mod harness;

use harness::{Backend, TestServer, access, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    history_pages_by_id,
    nonce_makes_sends_idempotent,
    edit_and_delete_rules,
    reactions_are_single_emoji_and_at_most_twenty_kinds,
    message_ids_cannot_be_probed_without_read_history,
);

struct Room {
    owner: String,
    member: String,
    member_id: String,
    channel: String,
    server: String,
}

/// An owner, a plain member and the server's default text channel.
async fn room(s: &TestServer) -> Room {
    let owner = access(&s.register("owner").await);
    let member_auth = s.register("member").await;
    let member = access(&member_auth);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Chatroom"})).await;
    let server = detail["server"]["id"].as_str().expect("id").to_owned();
    let channel = detail["channels"][0]["id"].as_str().expect("channel").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{server}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code");
    s.post(&format!("/api/v1/invites/{code}"), Some(&member), json!({})).await;
    let member_id = member_auth["user"]["id"].as_str().expect("id").to_owned();
    Room { owner, member, member_id, channel, server }
}

async fn send(s: &TestServer, r: &Room, token: &str, body: Value) -> (StatusCode, Value) {
    s.post(&format!("/api/v1/channels/{}/messages", r.channel), Some(token), body).await
}

async fn page(s: &TestServer, path: &str, token: &str, query: String) -> (StatusCode, Value) {
    s.get(&format!("{path}?{query}"), Some(token)).await
}

fn ids(list: &Value) -> Vec<u64> {
    list["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().and_then(|id| id.parse().ok()).expect("numeric id"))
        .collect()
}

async fn history_pages_by_id(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let r = room(&s).await;
    let mut sent = Vec::new();
    for i in 0..25 {
        let (status, m) = send(
            &s,
            &r,
            if i % 2 == 0 { &r.owner } else { &r.member },
            json!({"content": format!("msg {i}")}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        sent.push(m["id"].as_str().and_then(|id| id.parse::<u64>().ok()).expect("id"));
    }
    assert!(sent.windows(2).all(|w| w[0] < w[1]), "IDs strictly increase");
    let path = format!("/api/v1/channels/{}/messages", r.channel);
    let newest: Vec<u64> = sent.iter().rev().copied().collect();

    let (status, latest) = page(&s, &path, &r.member, "limit=10".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&latest), newest[..10]);
    assert_eq!(latest["messages"][0]["content"], "msg 24");
    let (_, before) = page(&s, &path, &r.member, format!("before={}&limit=10", newest[9])).await;
    assert_eq!(ids(&before), newest[10..20]);
    let (_, after) = page(&s, &path, &r.member, format!("after={}&limit=5", sent[2])).await;
    assert_eq!(
        ids(&after),
        vec![sent[7], sent[6], sent[5], sent[4], sent[3]],
        "newest first, right after the anchor"
    );
    let (_, around) = page(&s, &path, &r.member, format!("around={}&limit=4", sent[10])).await;
    assert_eq!(ids(&around), vec![sent[12], sent[11], sent[10], sent[9]]);
    let (_, all) = page(&s, &path, &r.member, String::new()).await;
    assert_eq!(ids(&all).len(), 25, "default limit 50 covers all");

    for bad in ["limit=0", "limit=101", "before=abc", "before=1&after=2", "cursor=1"] {
        let got = page(&s, &path, &r.member, bad.into()).await;
        assert!(
            got.0 == StatusCode::BAD_REQUEST || got.0 == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            got.1
        );
        assert!(got.1["error"]["code"].is_string());
    }
    s.stop().await;
}

async fn nonce_makes_sends_idempotent(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let r = room(&s).await;
    let url = s.url(&format!("/api/v1/channels/{}/messages", r.channel));
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (http, url, token) = (s.http.clone(), url.clone(), r.member.clone());
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"content": "gg", "nonce": "n-1"}))
                .send()
                .await
                .expect("send");
            let status = resp.status();
            (status, resp.json::<Value>().await.expect("json"))
        }));
    }
    let mut statuses = Vec::new();
    let mut message_ids = Vec::new();
    for t in tasks {
        let (status, m) = t.await.expect("task");
        statuses.push(status);
        message_ids.push(m["id"].as_str().expect("id").to_owned());
        assert_eq!(m["nonce"], "n-1");
    }
    message_ids.dedup();
    assert_eq!(message_ids.len(), 1, "all five answers carry the one message's id");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    let (_, history) =
        s.get(&format!("/api/v1/channels/{}/messages", r.channel), Some(&r.member)).await;
    assert_eq!(ids(&history).len(), 1, "exactly one message stored");
    // The same nonce from another author is another message.
    assert_eq!(
        send(&s, &r, &r.owner, json!({"content": "gg", "nonce": "n-1"})).await.0,
        StatusCode::CREATED
    );

    for bad in [
        json!({"content": ""}),
        json!({"content": "   "}),
        json!({"content": "x".repeat(4001)}),
        json!({"content": "ok", "nonce": ""}),
        json!({"content": "ok", "reply_to": "12345"}),
    ] {
        let got = send(&s, &r, &r.member, bad.clone()).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    assert_eq!(
        send(&s, &r, &r.member, json!({"content": "x".repeat(4000)})).await.0,
        StatusCode::CREATED
    );
    let reply_to = history["messages"][0]["id"].as_str().expect("id");
    let (status, reply) =
        send(&s, &r, &r.owner, json!({"content": "replying", "reply_to": reply_to})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reply["reply_to"], reply_to);
    s.stop().await;
}

async fn edit_and_delete_rules(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let r = room(&s).await;
    let (_, mine) = send(&s, &r, &r.member, json!({"content": "tyop"})).await;
    let (_, owners) = send(&s, &r, &r.owner, json!({"content": "rules: be nice"})).await;
    let msg = |m: &Value| {
        format!("/api/v1/channels/{}/messages/{}", r.channel, m["id"].as_str().expect("id"))
    };

    let (status, edited) =
        s.send(Method::PATCH, &msg(&mine), Some(&r.member), Some(json!({"content": "typo"}))).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["content"], "typo");
    assert!(edited["edited_at"].as_i64().is_some());
    let not_author = s
        .send(Method::PATCH, &msg(&mine), Some(&r.owner), Some(json!({"content": "hijacked"})))
        .await;
    assert_error(&not_author, StatusCode::FORBIDDEN, "forbidden");
    let not_mod = s.send(Method::DELETE, &msg(&owners), Some(&r.member), None).await;
    assert_error(&not_mod, StatusCode::FORBIDDEN, "forbidden");

    // The owner moderates: deleting someone else's message is audited.
    assert_eq!(
        s.send(Method::DELETE, &msg(&mine), Some(&r.owner), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.send(Method::DELETE, &msg(&mine), Some(&r.owner), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (_, log) = s.get(&format!("/api/v1/servers/{}/audit-log", r.server), Some(&r.owner)).await;
    assert_eq!(log["entries"][0]["action"], "message_delete");
    assert_eq!(log["entries"][0]["target_id"], r.member_id.as_str());
    // Authors delete their own without an audit entry.
    assert_eq!(
        s.send(Method::DELETE, &msg(&owners), Some(&r.owner), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, log) = s.get(&format!("/api/v1/servers/{}/audit-log", r.server), Some(&r.owner)).await;
    let deletions = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "message_delete")
        .count();
    assert_eq!(deletions, 1, "{log}");
    let wrong_channel = s
        .send(
            Method::PATCH,
            &format!("/api/v1/channels/1/messages/{}", edited["id"].as_str().expect("id")),
            Some(&r.member),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_error(&wrong_channel, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

/// The path segment for an emoji: percent-encoded UTF-8.
fn encoded(emoji: &str) -> String {
    emoji.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn reactions_are_single_emoji_and_at_most_twenty_kinds(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let r = room(&s).await;
    let (_, m) = send(&s, &r, &r.owner, json!({"content": "vote"})).await;
    let base = format!(
        "/api/v1/channels/{}/messages/{}/reactions",
        r.channel,
        m["id"].as_str().expect("id")
    );
    let react = |token: &str, emoji: &str| {
        let path = format!("{base}/{}/@me", encoded(emoji));
        let token = token.to_owned();
        let s = &s;
        async move { s.send(Method::PUT, &path, Some(&token), None).await }
    };
    // One emoji per reaction: a row of them, or half a flag, is refused.
    for bad in ["👍👍", "🇩🇪🇫🇷", "🇩", "👍\u{200D}", ":+1:"] {
        assert_error(
            &react(&r.owner, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
    // Twenty different emoji (U+1F600 onwards), then no more new ones.
    let emoji: Vec<String> =
        (0x1F600..0x1F600 + 21).map(|c| char::from_u32(c).expect("emoji").to_string()).collect();
    for e in &emoji[..20] {
        assert_eq!(react(&r.owner, e).await.0, StatusCode::NO_CONTENT, "{e}");
    }
    assert_error(&react(&r.owner, &emoji[20]).await, StatusCode::FORBIDDEN, "too_many_reactions");
    assert_error(&react(&r.member, &emoji[20]).await, StatusCode::FORBIDDEN, "too_many_reactions");
    // Existing ones can still be added to, and reacting twice changes nothing.
    assert_eq!(react(&r.member, &emoji[3]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(react(&r.owner, &emoji[3]).await.0, StatusCode::NO_CONTENT);
    // Taking the only reaction of one kind back makes room for a new kind.
    let (status, _) = s
        .send(Method::DELETE, &format!("{base}/{}/@me", encoded(&emoji[0])), Some(&r.owner), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(react(&r.member, &emoji[20]).await.0, StatusCode::NO_CONTENT);

    // History carries each message's own reactions, in the order they first appeared.
    let (_, other) = send(&s, &r, &r.member, json!({"content": "other"})).await;
    let other_base = format!(
        "/api/v1/channels/{}/messages/{}/reactions",
        r.channel,
        other["id"].as_str().expect("id")
    );
    let (status, _) = s
        .send(Method::PUT, &format!("{other_base}/{}/@me", encoded("👍")), Some(&r.owner), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) =
        s.get(&format!("/api/v1/channels/{}/messages", r.channel), Some(&r.member)).await;
    let messages = page["messages"].as_array().expect("messages");
    let reactions = |content: &str| -> Vec<(String, u64, bool)> {
        let m = messages.iter().find(|m| m["content"] == content).expect("message");
        m["reactions"]
            .as_array()
            .expect("reactions")
            .iter()
            .map(|r| {
                let emoji = r["emoji"].as_str().expect("emoji").to_owned();
                (emoji, r["count"].as_u64().expect("count"), r["me"].as_bool().expect("me"))
            })
            .collect()
    };
    let vote = reactions("vote");
    assert_eq!(vote.len(), 20, "{vote:?}");
    assert_eq!(vote[0], (emoji[1].clone(), 1, false));
    assert_eq!(vote[2], (emoji[3].clone(), 2, true));
    assert_eq!(vote[19], (emoji[20].clone(), 1, true));
    assert_eq!(reactions("other"), vec![("👍".to_owned(), 1, false)]);
    s.stop().await;
}

/// Without READ_HISTORY, someone else's message and a message that does not exist get the
/// same answer from every path that takes a message ID (review L13: an existence oracle).
async fn message_ids_cannot_be_probed_without_read_history(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let r = room(&s).await;
    let (_, real) = send(&s, &r, &r.owner, json!({"content": "staff only"})).await;
    let real = real["id"].as_str().expect("id").to_owned();
    let (_, own) = send(&s, &r, &r.member, json!({"content": "mine"})).await;
    let own = own["id"].as_str().expect("id").to_owned();
    // Deny READ_HISTORY to @everyone (whose role id is the server's) in this channel.
    let path = format!("/api/v1/channels/{}/overwrites/role/{}", r.channel, r.server);
    let (status, body) =
        s.send(Method::PUT, &path, Some(&r.owner), Some(json!({"allow": "0", "deny": "4"}))).await;
    assert!(status.is_success(), "{body}");
    let missing = "1234567890123";
    let msg = |id: &str| format!("/api/v1/channels/{}/messages/{id}", r.channel);
    let probes = |id: String| {
        let s = &s;
        let r = &r;
        async move {
            let edit = s
                .send(Method::PATCH, &msg(&id), Some(&r.member), Some(json!({"content": "x"})))
                .await;
            let delete = s.send(Method::DELETE, &msg(&id), Some(&r.member), None).await;
            let ack = s
                .post(
                    &format!("/api/v1/channels/{}/ack", r.channel),
                    Some(&r.member),
                    json!({"message_id": id}),
                )
                .await;
            let reply = send(s, r, &r.member, json!({"content": "re", "reply_to": id})).await;
            [edit, delete, ack, reply].map(|(status, body)| (status, body["error"]["code"].clone()))
        }
    };
    assert_eq!(probes(real).await, probes(missing.to_owned()).await);
    // One's own messages stay reachable.
    let (status, _) = send(&s, &r, &r.member, json!({"content": "re", "reply_to": own})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s
        .send(Method::PATCH, &msg(&own), Some(&r.member), Some(json!({"content": "edited"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.stop().await;
}
