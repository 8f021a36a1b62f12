//! Malformed requests get a 4xx with a stable code: never a 5xx, never a panic, never a
//! half-written row.

#[path = "support/harness.rs"]
mod harness;

use harness::{Backend, PASSWORD, TestServer, access, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

backend_tests!(
    malformed_bodies_get_coded_errors,
    routing_errors_are_coded,
    mutated_bodies_never_break_the_server,
    community_routes_survive_hostile_values,
);

async fn raw(
    s: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    // A connection of its own per request: after refusing an oversized body the server
    // closes the connection, which must not break the next request on a pooled one.
    static UNPOOLED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = UNPOOLED.get_or_init(|| {
        reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client")
    });
    let mut req = client.post(s.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("non-JSON {status}: {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

async fn malformed_bodies_get_coded_errors(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let json_ct = Some("application/json");
    let register = "/api/v1/auth/register";
    // (what, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated",
            json_ct,
            br#"{"username": "a"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        ("not json", json_ct, b"hello".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        ("empty", json_ct, Vec::new(), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "invalid utf-8",
            json_ct,
            b"{\"username\":\"\xff\xfe\",\"email\":\"a@b.co\",\"password\":\"x\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "wrong type",
            json_ct,
            br#"{"username": 5, "email": "a@b.co", "password": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        ("array", json_ct, b"[1,2]".to_vec(), StatusCode::BAD_REQUEST, "invalid_body"),
        (
            "missing field",
            json_ct,
            br#"{"username": "abc"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "unknown field",
            json_ct,
            br#"{"username":"abc","email":"a@b.co","password":"xxxxxxxxxx","is_admin":true}"#
                .to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "no content type",
            None,
            br#"{"username":"abc"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            Some("text/plain"),
            br#"{"username":"abc"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "oversized",
            json_ct,
            format!(r#"{{"username":"{}"}}"#, "a".repeat(200_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let got = raw(&s, register, ct, body).await;
        assert_eq!(got.0, status, "{what}: {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{what}: {}", got.1);
        assert!(got.1["error"]["request_id"].is_string(), "{what}: errors carry the request id");
    }
    // Over-long strings inside the size limit are validation errors, not crashes.
    let long = json!({"username": "x".repeat(10_000), "email": format!("{}@e.co", "y".repeat(10_000)), "password": "z".repeat(10_000), "display_name": "d".repeat(10_000), "device_name": "e".repeat(10_000)});
    let got = s.post(register, None, long).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(got.1["error"]["fields"].as_array().map(Vec::len), Some(5), "{}", got.1);
    let login = s
        .post("/api/v1/auth/login", None, json!({"login": "x".repeat(5000), "password": PASSWORD}))
        .await;
    assert_error(&login, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // None of the refused bodies created an account.
    for name in ["abc", "a"] {
        assert_error(
            &s.login(name, PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    s.stop().await;
}

async fn routing_errors_are_coded(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("grace").await;
    let token = access(&auth);
    assert_error(&s.get("/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &s.send(Method::PUT, "/api/v1/auth/login", None, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    for bad_id in ["abc", "-1", "99999999999999999999999", "1.5"] {
        let got = s
            .send(Method::DELETE, &format!("/api/v1/auth/sessions/{bad_id}"), Some(&token), None)
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_parameter");
    }
    let unknown = s.send(Method::DELETE, "/api/v1/auth/sessions/12345", Some(&token), None).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

/// Byte-level mutations of valid bodies (bounded: 300 requests, fixed seed) must all be
/// answered below 500.
async fn mutated_bodies_never_break_the_server(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let seeds = [
        json!({"username": "fuzz", "email": "fuzz@example.com", "password": PASSWORD}).to_string(),
        json!({"login": "fuzz", "password": PASSWORD, "device_name": "x"}).to_string(),
        json!({"refresh_token": "abcdef"}).to_string(),
    ];
    let paths = ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh"];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64: deterministic, so a failure reproduces.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..300 {
        let k = i % seeds.len();
        let mut body = seeds[k].clone().into_bytes();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() as usize) % body.len().max(1);
            match next() % 4 {
                0 => body[pos] = (next() % 256) as u8,
                1 => {
                    let specials = b"\"{}[]:,\\\x00\xff9";
                    body.insert(pos, specials[(next() as usize) % specials.len()]);
                }
                2 if body.len() > 1 => {
                    body.remove(pos);
                }
                _ => body.truncate(pos),
            }
        }
        let got = raw(&s, paths[k], Some("application/json"), body.clone()).await;
        assert!(
            got.0.as_u16() < 500,
            "{} on {:?}: {}",
            got.0,
            String::from_utf8_lossy(&body),
            got.1
        );
        assert!(got.1["error"]["code"].is_string() || got.0.is_success(), "{}", got.1);
    }
    assert_eq!(s.get("/readyz", None).await.0, StatusCode::OK);
    s.stop().await;
}

/// Every JSON route of communities, channels and messages, with each field replaced in
/// turn by hostile values (wrong types, extremes, control characters, huge strings) and
/// then by random byte damage: all answered below 500, and the server stays consistent.
async fn community_routes_survive_hostile_values(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let owner_auth = s.register("fuzzer").await;
    let token = access(&owner_auth);
    let owner_id = owner_auth["user"]["id"].as_str().expect("id").to_owned();
    let (_, detail) = s.post("/api/v1/servers", Some(&token), json!({"name": "Fuzz"})).await;
    let sid = detail["server"]["id"].as_str().expect("sid").to_owned();
    let cid = detail["channels"][0]["id"].as_str().expect("cid").to_owned();
    let (_, role) =
        s.post(&format!("/api/v1/servers/{sid}/roles"), Some(&token), json!({"name": "r"})).await;
    let rid = role["id"].as_str().expect("rid").to_owned();
    let (_, msg) = s
        .post(&format!("/api/v1/channels/{cid}/messages"), Some(&token), json!({"content": "seed"}))
        .await;
    let mid = msg["id"].as_str().expect("mid").to_owned();
    let routes: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/v1/servers".into(), json!({"name": "n", "description": "d"})),
        (
            Method::PATCH,
            format!("/api/v1/servers/{sid}"),
            json!({"name": "Fuzz", "description": "d"}),
        ),
        (
            Method::POST,
            format!("/api/v1/servers/{sid}/invites"),
            json!({"max_age_secs": 60, "max_uses": 2}),
        ),
        (
            Method::POST,
            format!("/api/v1/servers/{sid}/roles"),
            json!({"name": "x", "permissions": "1", "color": 255}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/servers/{sid}/roles/{rid}"),
            json!({"name": "y", "permissions": "3", "color": 1}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/servers/{sid}/roles"),
            json!([{"id": rid, "position": 1}]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/servers/{sid}/members/{owner_id}"),
            json!({"nickname": "nick"}),
        ),
        (
            Method::POST,
            format!("/api/v1/servers/{sid}/channels"),
            json!({"name": "c", "kind": "voice", "topic": "t", "position": 1, "bitrate_kbps": 64, "user_limit": 5}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/channels/{cid}"),
            json!({"name": "general", "topic": "t", "position": 0}),
        ),
        (
            Method::PUT,
            format!("/api/v1/channels/{cid}/overwrites/role/{rid}"),
            json!({"allow": "1", "deny": "2"}),
        ),
        (
            Method::POST,
            format!("/api/v1/channels/{cid}/messages"),
            json!({"content": "hi", "nonce": "n", "reply_to": mid}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/channels/{cid}/messages/{mid}"),
            json!({"content": "edited"}),
        ),
        (Method::POST, format!("/api/v1/channels/{cid}/ack"), json!({"message_id": mid})),
        (Method::PATCH, "/api/v1/users/@me".into(), json!({"display_name": "F"})),
    ];
    let hostile = [
        Value::Null,
        json!(0),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("x".repeat(5000)),
        json!("\u{0}\u{7}\u{202e}"),
        json!("9999999999999999999999"),
        json!({"nested": true}),
        json!([1, 2]),
        json!(true),
    ];
    let mut sent = 0;
    for (method, path, seed) in &routes {
        let variants: Vec<Value> = match seed {
            Value::Object(fields) => fields
                .keys()
                .flat_map(|k| {
                    hostile.iter().map(move |h| {
                        let mut v = seed.clone();
                        v[k.as_str()] = h.clone();
                        v
                    })
                })
                .collect(),
            other => hostile.iter().map(|h| json!([h])).chain([other.clone()]).collect(),
        };
        for body in variants {
            let got = s.send(method.clone(), path, Some(&token), Some(body.clone())).await;
            assert!(got.0.as_u16() < 500, "{method} {path} with {body}: {} {}", got.0, got.1);
            assert!(got.0.is_success() || got.1["error"]["code"].is_string(), "{}", got.1);
            sent += 1;
        }
    }
    assert!(sent > 300, "{sent}");
    // The server still works and its data is intact.
    let (status, detail) = s.get(&format!("/api/v1/servers/{sid}"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail["server"]["name"].is_string());
    let (status, history) = s.get(&format!("/api/v1/channels/{cid}/messages"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    s.stop().await;
}
