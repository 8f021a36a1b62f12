//! Access-token validation refuses every forged, stale or misused token with a 401 and a
//! stable code: `alg: none`, other algorithms, other keys, expiry, mistyped claims, other
//! audiences, other token types, and refresh tokens presented as access tokens.

#[path = "support/harness.rs"]
mod harness;

use base64::Engine as _;
use harness::{Backend, JWT_SECRET, TestServer, access, assert_error, refresh_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

backend_tests!(forged_and_misused_tokens_are_refused, authorization_header_shapes);

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .expect("clock after 1970")
}

fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("encode")
}

async fn forged_and_misused_tokens_are_refused(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("mallory").await;
    let genuine = access(&auth);
    // The genuine claims, to modify one at a time.
    let payload = genuine.split('.').nth(1).expect("jwt payload");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"),
    )
    .expect("claims json");
    assert_eq!(
        s.get("/api/v1/users/@me", Some(&sign(Algorithm::HS256, &claims, &JWT_SECRET))).await.0,
        StatusCode::OK,
        "re-signing the genuine claims with the right key and algorithm is accepted (the harness is sound)"
    );

    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = claims.clone();
        c.as_object_mut().expect("object").remove(key);
        c
    };
    let none_token = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", none_token, "invalid_token"),
        ("HS512 with the right key", sign(Algorithm::HS512, &claims, &JWT_SECRET), "invalid_token"),
        ("HS384 with the right key", sign(Algorithm::HS384, &claims, &JWT_SECRET), "invalid_token"),
        ("wrong key", sign(Algorithm::HS256, &claims, &[8u8; 32]), "invalid_token"),
        (
            "expired",
            sign(Algorithm::HS256, &with("exp", json!(now() - 3600)), &JWT_SECRET),
            "token_expired",
        ),
        (
            "exp as a string",
            sign(Algorithm::HS256, &with("exp", json!((now() + 600).to_string())), &JWT_SECRET),
            "invalid_token",
        ),
        ("no exp", sign(Algorithm::HS256, &without("exp"), &JWT_SECRET), "invalid_token"),
        ("no iat", sign(Algorithm::HS256, &without("iat"), &JWT_SECRET), "invalid_token"),
        ("no aud", sign(Algorithm::HS256, &without("aud"), &JWT_SECRET), "invalid_token"),
        (
            "wrong audience",
            sign(Algorithm::HS256, &with("aud", json!("someone-else")), &JWT_SECRET),
            "invalid_token",
        ),
        (
            "refresh type",
            sign(Algorithm::HS256, &with("typ", json!("refresh")), &JWT_SECRET),
            "invalid_token",
        ),
        (
            "sub as number",
            sign(Algorithm::HS256, &with("sub", json!(12345)), &JWT_SECRET),
            "invalid_token",
        ),
        (
            "other user's id",
            sign(Algorithm::HS256, &with("sub", json!("42")), &JWT_SECRET),
            "session_revoked",
        ),
        ("refresh token as access token", refresh_token(&auth), "invalid_token"),
        ("garbage", "a.b.c".into(), "invalid_token"),
        (
            "tampered payload",
            {
                let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
                parts[1] = b64(&with("sub", json!("1")));
                parts.join(".")
            },
            "invalid_token",
        ),
    ];
    for (what, token, code) in cases {
        let got = s.get("/api/v1/users/@me", Some(&token)).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{what}: {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{what}: {}", got.1);
    }
    // After all that, the genuine token still works: refusals changed nothing.
    assert_eq!(s.get("/api/v1/users/@me", Some(&genuine)).await.0, StatusCode::OK);
    s.stop().await;
}

async fn authorization_header_shapes(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("trent").await;
    let url = s.url("/api/v1/users/@me");
    let missing = s.get("/api/v1/users/@me", None).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "missing_token");
    let shapes: Vec<Vec<u8>> = vec![
        format!("Basic {}", access(&auth)).into_bytes(),
        b"Bearer ".to_vec(),
        access(&auth).into_bytes(),
        b"Bearer \xff\xfe".to_vec(),
    ];
    for header in shapes {
        let value = reqwest::header::HeaderValue::from_bytes(&header).expect("valid header bytes");
        let resp = s.http.get(&url).header("authorization", value).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_token", "{header:?}");
    }
    s.stop().await;
}
