//! Every route in the OpenAPI document (generated from the router, so it lists every
//! route there is) is tried with every kind of caller that must be refused: no token, an
//! expired token, a forged token, someone from another server, a banned and a just-kicked
//! member, and a plain member where the route needs a permission. Refusals must carry no
//! data, and "forbidden to see" must look exactly like "does not exist". A route missing
//! from the table below fails the test, so new routes cannot skip the matrix.

#[path = "support/harness.rs"]
mod harness;

use harness::{Backend, JWT_SECRET, TestServer, access};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(every_route_refuses_the_wrong_callers);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// No account needed.
    Public,
    /// Needs a session, not tied to one server.
    Account,
    /// Inside a server; members may use it.
    MemberMay,
    /// Inside a server; needs a permission a plain member lacks.
    NeedsPermission,
}

/// (method, path, kind, body)
fn table() -> Vec<(&'static str, &'static str, Kind, Option<Value>)> {
    use Kind::*;
    vec![
        ("post", "/api/v1/auth/register", Public, None),
        ("post", "/api/v1/auth/login", Public, None),
        ("post", "/api/v1/auth/refresh", Public, None),
        ("get", "/healthz", Public, None),
        ("get", "/readyz", Public, None),
        ("get", "/api/v1/openapi.json", Public, None),
        ("get", "/metrics", Public, None),
        ("get", "/api/v1/invites/{code}", Public, None),
        // Authenticates in-band with `identify`; covered by tests/gateway.rs.
        ("get", "/api/v1/gateway", Public, None),
        ("post", "/api/v1/auth/logout", Account, None),
        ("get", "/api/v1/auth/sessions", Account, None),
        ("delete", "/api/v1/auth/sessions/{session_id}", Account, None),
        ("get", "/api/v1/users/@me", Account, None),
        ("patch", "/api/v1/users/@me", Account, Some(json!({}))),
        (
            "post",
            "/api/v1/users/@me/password",
            Account,
            Some(json!({"current_password": "x", "new_password": "y"})),
        ),
        ("post", "/api/v1/servers", Account, Some(json!({"name": "New"}))),
        ("get", "/api/v1/servers", Account, None),
        ("post", "/api/v1/invites/{code}", Account, None),
        ("get", "/api/v1/servers/{server_id}", MemberMay, None),
        ("patch", "/api/v1/servers/{server_id}", NeedsPermission, Some(json!({"name": "Renamed"}))),
        ("delete", "/api/v1/servers/{server_id}", NeedsPermission, None),
        ("post", "/api/v1/servers/{server_id}/leave", MemberMay, None),
        (
            "post",
            "/api/v1/servers/{server_id}/transfer",
            NeedsPermission,
            Some(json!({"user_id": "{owner_id}"})),
        ),
        ("get", "/api/v1/servers/{server_id}/audit-log", NeedsPermission, None),
        ("post", "/api/v1/servers/{server_id}/invites", MemberMay, Some(json!({}))),
        ("get", "/api/v1/servers/{server_id}/invites", NeedsPermission, None),
        ("post", "/api/v1/servers/{server_id}/roles", NeedsPermission, Some(json!({"name": "r"}))),
        (
            "patch",
            "/api/v1/servers/{server_id}/roles",
            NeedsPermission,
            Some(json!([{"id": "{role_id}", "position": 1}])),
        ),
        (
            "patch",
            "/api/v1/servers/{server_id}/roles/{role_id}",
            NeedsPermission,
            Some(json!({"name": "r2"})),
        ),
        ("delete", "/api/v1/servers/{server_id}/roles/{role_id}", NeedsPermission, None),
        ("get", "/api/v1/servers/{server_id}/members", MemberMay, None),
        (
            "patch",
            "/api/v1/servers/{server_id}/members/{user_id}",
            NeedsPermission,
            Some(json!({"nickname": "nick"})),
        ),
        (
            "post",
            "/api/v1/servers/{server_id}/members/{user_id}/kick",
            NeedsPermission,
            Some(json!({})),
        ),
        (
            "patch",
            "/api/v1/servers/{server_id}/voice/{user_id}",
            NeedsPermission,
            Some(json!({"mute": true})),
        ),
        (
            "put",
            "/api/v1/servers/{server_id}/members/{user_id}/roles/{role_id}",
            NeedsPermission,
            None,
        ),
        (
            "delete",
            "/api/v1/servers/{server_id}/members/{user_id}/roles/{role_id}",
            NeedsPermission,
            None,
        ),
        ("get", "/api/v1/servers/{server_id}/bans", NeedsPermission, None),
        ("put", "/api/v1/servers/{server_id}/bans/{user_id}", NeedsPermission, Some(json!({}))),
        ("delete", "/api/v1/servers/{server_id}/bans/{user_id}", NeedsPermission, None),
        (
            "post",
            "/api/v1/servers/{server_id}/channels",
            NeedsPermission,
            Some(json!({"name": "c", "kind": "text"})),
        ),
        ("patch", "/api/v1/channels/{channel_id}", NeedsPermission, Some(json!({"name": "c2"}))),
        ("delete", "/api/v1/channels/{channel_id}", NeedsPermission, None),
        (
            "put",
            "/api/v1/channels/{channel_id}/overwrites/{kind}/{target_id}",
            NeedsPermission,
            Some(json!({})),
        ),
        (
            "delete",
            "/api/v1/channels/{channel_id}/overwrites/{kind}/{target_id}",
            NeedsPermission,
            None,
        ),
        (
            "post",
            "/api/v1/channels/{channel_id}/messages",
            MemberMay,
            Some(json!({"content": "hi"})),
        ),
        ("get", "/api/v1/channels/{channel_id}/messages", MemberMay, None),
        (
            "patch",
            "/api/v1/channels/{channel_id}/messages/{message_id}",
            NeedsPermission,
            Some(json!({"content": "x"})),
        ),
        ("delete", "/api/v1/channels/{channel_id}/messages/{message_id}", NeedsPermission, None),
        ("delete", "/api/v1/invites/{code}", NeedsPermission, None),
        (
            "put",
            "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            MemberMay,
            None,
        ),
        (
            "delete",
            "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            MemberMay,
            None,
        ),
        (
            "get",
            "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
            MemberMay,
            None,
        ),
        (
            "post",
            "/api/v1/channels/{channel_id}/ack",
            MemberMay,
            Some(json!({"message_id": "{message_id}"})),
        ),
        ("post", "/api/v1/channels/{channel_id}/typing", MemberMay, None),
    ]
}

struct World {
    vars: Vec<(&'static str, String)>,
}

impl World {
    fn fill(&self, text: &str) -> String {
        self.vars.iter().fold(text.to_owned(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
    }

    fn fill_json(&self, body: &Value) -> Value {
        serde_json::from_str(&self.fill(&body.to_string())).expect("filled body is JSON")
    }

    /// The same world with the scoping IDs pointing at nothing.
    fn nonexistent(&self) -> Self {
        let vars = self
            .vars
            .iter()
            .map(|(k, v)| match *k {
                "server_id" | "channel_id" => (*k, "4242424242".to_owned()),
                "code" => (*k, "ZZZZZZZZZZ".to_owned()),
                _ => (*k, v.clone()),
            })
            .collect();
        Self { vars }
    }
}

fn expired_token(genuine: &str) -> String {
    use base64::Engine as _;
    let payload = genuine.split('.').nth(1).expect("payload");
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"),
    )
    .expect("json");
    claims["exp"] = json!(1_000_000_000);
    claims["iat"] = json!(999_999_000);
    let key = jsonwebtoken::EncodingKey::from_secret(&JWT_SECRET);
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("encode")
}

async fn call(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    s.send(method, path, token, body).await
}

#[track_caller]
fn assert_refused(got: &(StatusCode, Value), status: StatusCode, code: &str, what: &str) {
    assert_eq!(got.0, status, "{what}: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{what}: {}", got.1);
    let keys: Vec<&String> = got.1.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, vec!["error"], "{what}: a refusal carries no data: {}", got.1);
}

async fn every_route_refuses_the_wrong_callers(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let owner_auth = s.register("owner").await;
    let owner = access(&owner_auth);
    let member = access(&s.register("member").await);
    let outsider = access(&s.register("outsider").await);
    let banned_auth = s.register("banned").await;
    let kicked_auth = s.register("kicked").await;

    let (_, detail) = s.post("/api/v1/servers", Some(&owner), json!({"name": "Fortress"})).await;
    let sid = detail["server"]["id"].as_str().expect("sid").to_owned();
    let cid = detail["channels"][0]["id"].as_str().expect("cid").to_owned();
    s.post("/api/v1/servers", Some(&outsider), json!({"name": "Elsewhere"})).await;
    let (_, role) = s
        .post(&format!("/api/v1/servers/{sid}/roles"), Some(&owner), json!({"name": "Mods"}))
        .await;
    let rid = role["id"].as_str().expect("rid").to_owned();
    let (_, invite) =
        s.post(&format!("/api/v1/servers/{sid}/invites"), Some(&owner), json!({})).await;
    let code = invite["code"].as_str().expect("code").to_owned();
    for token in [&member, &access(&banned_auth), &access(&kicked_auth)] {
        assert_eq!(
            s.post(&format!("/api/v1/invites/{code}"), Some(token), json!({})).await.0,
            StatusCode::OK
        );
    }
    let banned_id = banned_auth["user"]["id"].as_str().expect("id");
    let kicked_id = kicked_auth["user"]["id"].as_str().expect("id");
    s.send(
        Method::PUT,
        &format!("/api/v1/servers/{sid}/bans/{banned_id}"),
        Some(&owner),
        Some(json!({})),
    )
    .await;
    s.post(&format!("/api/v1/servers/{sid}/members/{kicked_id}/kick"), Some(&owner), json!({}))
        .await;
    let (_, message) = s
        .post(
            &format!("/api/v1/channels/{cid}/messages"),
            Some(&owner),
            json!({"content": "owner's words"}),
        )
        .await;

    let owner_id = owner_auth["user"]["id"].as_str().expect("id").to_owned();
    let world = World {
        vars: vec![
            ("server_id", sid.clone()),
            ("channel_id", cid.clone()),
            ("role_id", rid.clone()),
            ("user_id", owner_id.clone()),
            ("owner_id", owner_id),
            ("message_id", message["id"].as_str().expect("mid").to_owned()),
            ("session_id", owner_auth["tokens"]["session_id"].as_str().expect("sid").to_owned()),
            ("code", code.clone()),
            ("kind", "role".to_owned()),
            ("emoji", "%F0%9F%91%8D".to_owned()),
            ("target_id", rid),
        ],
    };
    let nowhere = world.nonexistent();

    // The table covers exactly the routes the server has.
    let (_, doc) = s.get("/api/v1/openapi.json", None).await;
    let mut served: Vec<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, item)| {
            item.as_object().expect("item").keys().map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let mut covered: Vec<(String, String)> =
        table().iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    served.sort();
    covered.sort();
    assert_eq!(served, covered, "the authorization table must list every route, and only those");

    let forged = format!("{}x", access(&owner_auth));
    let expired = expired_token(&member);
    let mut checked = 0;
    for (method, template, kind, body) in table() {
        let path = world.fill(template);
        let body = body.as_ref().map(|b| world.fill_json(b));
        let what = format!("{method} {template}");
        if kind == Kind::Public {
            continue;
        }
        assert_refused(
            &call(&s, method, &path, None, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "missing_token",
            &what,
        );
        assert_refused(
            &call(&s, method, &path, Some(&expired), body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "token_expired",
            &what,
        );
        assert_refused(
            &call(&s, method, &path, Some(&forged), body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            &what,
        );
        checked += 3;
        if kind == Kind::Account {
            continue;
        }
        // Non-members of every kind see exactly what a missing server or channel shows.
        let missing_path = nowhere.fill(template);
        let missing = call(&s, method, &missing_path, Some(&outsider), body.clone()).await;
        assert_refused(&missing, StatusCode::NOT_FOUND, "not_found", &what);
        for (who, token) in [
            ("outsider", &outsider),
            ("banned", &access(&banned_auth)),
            ("kicked", &access(&kicked_auth)),
        ] {
            let got = call(&s, method, &path, Some(token), body.clone()).await;
            assert_refused(&got, StatusCode::NOT_FOUND, "not_found", &format!("{what} as {who}"));
            assert_eq!(
                got.1,
                missing.1.clone().tap_request_id(&got.1),
                "{what} as {who}: same as missing"
            );
            checked += 1;
        }
        if kind == Kind::NeedsPermission {
            let got = call(&s, method, &path, Some(&member), body.clone()).await;
            assert_refused(
                &got,
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("{what} as plain member"),
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
    // Nothing was changed by all those refusals.
    let (_, after) = s.get(&format!("/api/v1/servers/{sid}"), Some(&owner)).await;
    assert_eq!(after["server"]["name"], "Fortress");
    assert_eq!(after["server"]["member_count"], 2);
    s.stop().await;
}

trait TapRequestId {
    /// Copies the request id from `other`, the only field allowed to differ.
    fn tap_request_id(self, other: &Value) -> Value;
}

impl TapRequestId for Value {
    fn tap_request_id(mut self, other: &Value) -> Value {
        self["error"]["request_id"] = other["error"]["request_id"].clone();
        self
    }
}
