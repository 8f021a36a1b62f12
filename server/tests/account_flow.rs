//! The account lifecycle over real HTTP, on both storage backends: register, profile,
//! login by name or email, sessions, logout, refresh rotation and reuse detection,
//! password change, and the "exactly one of 50" registration race.

#[path = "support/harness.rs"]
mod harness;

use harness::{Backend, PASSWORD, TestServer, access, assert_error, refresh_token};
use reqwest::{Method, StatusCode};
use serde_json::json;

backend_tests!(
    full_account_flow,
    refresh_rotates_and_reuse_revokes_the_family,
    password_change_revokes_other_sessions,
    concurrent_registrations_of_one_name,
    unknown_user_and_wrong_password_look_alike,
    registration_rules,
);

async fn full_account_flow(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let first = s.register("Ann_01").await;
    let token = access(&first);
    assert!(first["user"]["id"].is_string(), "IDs travel as strings: {first}");
    assert_eq!(first["tokens"]["token_type"], "Bearer");
    assert_eq!(first["tokens"]["expires_in"], 900);

    let (status, me) = s.get("/api/v1/users/@me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "Ann_01");
    assert_eq!(me["email"], "ann_01@example.com");
    assert_eq!(me["display_name"], serde_json::Value::Null);

    // Profile update, then clearing it with an empty string.
    let (status, me) = s
        .send(
            Method::PATCH,
            "/api/v1/users/@me",
            Some(&token),
            Some(json!({"display_name": "  Annie  "})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Annie");
    let (_, me) = s
        .send(Method::PATCH, "/api/v1/users/@me", Some(&token), Some(json!({"display_name": ""})))
        .await;
    assert_eq!(me["display_name"], serde_json::Value::Null);

    // Login by username in another case, and by email in another case.
    let (status, by_name) = s.login("ANN_01", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{by_name}");
    let (status, by_email) = s.login("Ann_01@Example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{by_email}");
    assert_eq!(by_name["user"]["id"], first["user"]["id"]);

    let (status, list) = s.get("/api/v1/auth/sessions", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let sessions = list["sessions"].as_array().expect("array");
    assert_eq!(sessions.len(), 3, "{list}");
    let current: Vec<_> = sessions.iter().filter(|x| x["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], first["tokens"]["session_id"]);
    assert_eq!(current[0]["device_name"], "test rig");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    assert!(current[0]["last_used_at"].as_i64() >= current[0]["created_at"].as_i64());

    // Revoking another device takes effect on that device's very next request.
    let victim = by_name["tokens"]["session_id"].as_str().expect("id");
    let (status, _) = s
        .send(Method::DELETE, &format!("/api/v1/auth/sessions/{victim}"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get("/api/v1/users/@me", Some(&access(&by_name))).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    );
    let again = s
        .send(Method::DELETE, &format!("/api/v1/auth/sessions/{victim}"), Some(&token), None)
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");

    // Nobody can revoke someone else's session.
    let bob = s.register("bob").await;
    let ann_email_session = by_email["tokens"]["session_id"].as_str().expect("id");
    let foreign = s
        .send(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{ann_email_session}"),
            Some(&access(&bob)),
            None,
        )
        .await;
    assert_error(&foreign, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(s.get("/api/v1/users/@me", Some(&access(&by_email))).await.0, StatusCode::OK);

    // Logout ends this session: its access and refresh tokens stop working at once.
    let (status, _) = s.send(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get("/api/v1/users/@me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    );
    let refreshed =
        s.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh_token(&first)})).await;
    assert_error(&refreshed, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    s.stop().await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let auth = s.register("carol").await;
    let r0 = refresh_token(&auth);

    let (status, t1) = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": r0})).await;
    assert_eq!(status, StatusCode::OK, "{t1}");
    let r1 = t1["refresh_token"].as_str().expect("rotated").to_owned();
    let a1 = t1["access_token"].as_str().expect("access").to_owned();
    assert_ne!(r1, r0, "refresh tokens rotate on every use");
    assert_eq!(t1["session_id"], auth["tokens"]["session_id"], "same session");
    assert_eq!(s.get("/api/v1/users/@me", Some(&a1)).await.0, StatusCode::OK);

    let (status, t2) = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": r1})).await;
    assert_eq!(status, StatusCode::OK);
    let r2 = t2["refresh_token"].as_str().expect("rotated").to_owned();
    let a2 = t2["access_token"].as_str().expect("access").to_owned();

    // A thief replays r0: the whole family dies, including the legitimate r2 and a2.
    let replay = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": r0})).await;
    assert_error(&replay, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    let legit = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": r2})).await;
    assert_error(&legit, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    assert_error(
        &s.get("/api/v1/users/@me", Some(&a2)).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    );
    assert_error(
        &s.get("/api/v1/users/@me", Some(&access(&auth))).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    );

    // Other sessions of the same user are other families and live on.
    let (status, other) = s.login("carol", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get("/api/v1/users/@me", Some(&access(&other))).await.0, StatusCode::OK);

    for junk in ["", "nope", &"x".repeat(500)] {
        let r = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": junk})).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    }
    s.stop().await;
}

async fn password_change_revokes_other_sessions(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let a = s.register("dave").await;
    let (_, b) = s.login("dave", PASSWORD).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let wrong = s
        .post(
            "/api/v1/users/@me/password",
            Some(&access(&a)),
            change("not-my-password", "a-new-passphrase-7"),
        )
        .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let weak = s
        .post("/api/v1/users/@me/password", Some(&access(&a)), change(PASSWORD, "password123"))
        .await;
    assert_error(&weak, StatusCode::UNPROCESSABLE_ENTITY, "weak_password");
    let short =
        s.post("/api/v1/users/@me/password", Some(&access(&a)), change(PASSWORD, "short")).await;
    assert_error(&short, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(short.1["error"]["fields"][0]["field"], "new_password");
    // Failed attempts changed nothing.
    assert_eq!(s.get("/api/v1/users/@me", Some(&access(&b))).await.0, StatusCode::OK);

    let (status, _) = s
        .post(
            "/api/v1/users/@me/password",
            Some(&access(&a)),
            change(PASSWORD, "a-new-passphrase-7"),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/api/v1/users/@me", Some(&access(&a))).await.0,
        StatusCode::OK,
        "this session stays"
    );
    assert_error(
        &s.get("/api/v1/users/@me", Some(&access(&b))).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    );
    let b_refresh =
        s.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh_token(&b)})).await;
    assert_error(&b_refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    assert_error(&s.login("dave", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(s.login("dave", "a-new-passphrase-7").await.0, StatusCode::OK);
    s.stop().await;
}

async fn concurrent_registrations_of_one_name(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let http = s.http.clone();
        let url = s.url("/api/v1/auth/register");
        // Same name in varying case, distinct emails: only the username can collide.
        let name = if i % 2 == 0 { "Racer" } else { "rAcEr" };
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .json(&json!({"username": name, "email": format!("racer{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.expect("json");
            (status, body)
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            StatusCode::CREATED => created.push(body),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "username_taken"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created.len(), 1);
    // A duplicate email, in another case, is its own conflict.
    let email = created[0]["user"]["email"].as_str().expect("email").to_uppercase();
    let dup = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "other", "email": email, "password": PASSWORD}),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "email_taken");
    s.stop().await;
}

async fn unknown_user_and_wrong_password_look_alike(backend: Backend) {
    let s = TestServer::start(&backend).await;
    s.register("erin").await;
    // Control characters (a NUL byte, which PostgreSQL text cannot hold) are refused
    // up front rather than reaching the database.
    let nul = s.login("erin\u{0}", PASSWORD).await;
    assert_error(&nul, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let unknown = s.login("nobody_here", PASSWORD).await;
    let wrong = s.login("erin", "wrong-password-1").await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(unknown.1["error"]["message"], wrong.1["error"]["message"]);

    // Both paths must run argon2: without the dummy hash an unknown account answers
    // ~100x faster. Medians of several tries, with a loose bound for noisy machines.
    let mut times = (Vec::new(), Vec::new());
    for i in 0..7 {
        let t = std::time::Instant::now();
        s.login(&format!("ghost{i}"), PASSWORD).await;
        times.0.push(t.elapsed());
        let t = std::time::Instant::now();
        s.login("erin", "wrong-password-1").await;
        times.1.push(t.elapsed());
    }
    times.0.sort();
    times.1.sort();
    let (ghost, real) = (times.0[3].as_secs_f64(), times.1[3].as_secs_f64());
    assert!(ghost > real * 0.3, "unknown user answered too fast: {ghost:.4}s vs {real:.4}s");
    s.stop().await;
}

async fn registration_rules(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let try_register = |username: &str, email: &str, password: &str| json!({"username": username, "email": email, "password": password});
    let cases = [
        (try_register("a", "a@example.com", PASSWORD), "username"),
        (try_register(&"x".repeat(33), "x@example.com", PASSWORD), "username"),
        (try_register("white space", "w@example.com", PASSWORD), "username"),
        (try_register("valid", "not-an-email", PASSWORD), "email"),
        (try_register("valid", "v@example.com", "short"), "password"),
        (try_register("valid", "v@example.com", &"p".repeat(129)), "password"),
    ];
    for (body, field) in cases {
        let got = s.post("/api/v1/auth/register", None, body).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(got.1["error"]["fields"][0]["field"], field, "{}", got.1);
    }
    for weak in ["password1", "Qwerty123", "iloveyou", "validname"] {
        let got = s
            .post("/api/v1/auth/register", None, try_register("validname", "v@example.com", weak))
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "weak_password");
    }
    // Nothing was half-created by the refusals.
    let ok = s
        .post("/api/v1/auth/register", None, try_register("validname", "v@example.com", PASSWORD))
        .await;
    assert_eq!(ok.0, StatusCode::CREATED, "{}", ok.1);
    s.stop().await;
}
