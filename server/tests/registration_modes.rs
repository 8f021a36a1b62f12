//! `auth.registration` decides who may create an account: anyone ("open"), only holders of
//! a valid invite code ("invite", and they join that server), or nobody ("closed"). The
//! same database is served under each setting in turn.

#[path = "support/harness.rs"]
mod harness;

use auraspeak_server::config::Registration;
use harness::{Backend, PASSWORD, TestDb, access, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

backend_tests!(registration_follows_the_configured_door);

struct Served {
    server: auraspeak_server::RunningServer,
    base: String,
    http: reqwest::Client,
}

impl Served {
    async fn start(db: &TestDb, registration: Registration) -> Self {
        let mut config = db.config();
        config.auth.registration = registration;
        let server = auraspeak_server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr());
        Self { server, base, http: reqwest::Client::new() }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, name: &str, invite: Option<&str>) -> (StatusCode, Value) {
        let mut body =
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
        if let Some(code) = invite {
            body["invite"] = json!(code);
        }
        self.post("/api/v1/auth/register", None, body).await
    }

    async fn servers_of(&self, token: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}/api/v1/servers", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.expect("json")
    }

    async fn stop(self) {
        self.server.shutdown().await.expect("clean shutdown");
    }
}

async fn registration_follows_the_configured_door(backend: Backend) {
    let db = TestDb::create(&backend).await;

    // Open: anyone; an invite given must be valid, and the newcomer joins its server.
    let s = Served::start(&db, Registration::Open).await;
    let (status, owner) = s.register("owner", None).await;
    assert_eq!(status, StatusCode::CREATED, "{owner}");
    let owner_token = access(&owner);
    let (_, detail) = s.post("/api/v1/servers", Some(&owner_token), json!({"name": "Club"})).await;
    let sid = detail["server"]["id"].as_str().expect("server id").to_owned();
    let invite = |max_uses: u32| {
        let path = format!("/api/v1/servers/{sid}/invites");
        let body = json!({"max_uses": max_uses});
        let (s, token) = (&s, owner_token.clone());
        async move {
            let (status, invite) = s.post(&path, Some(&token), body).await;
            assert_eq!(status, StatusCode::CREATED, "{invite}");
            invite["code"].as_str().expect("code").to_owned()
        }
    };
    let many = invite(10).await;
    let once = invite(1).await;
    assert_error(
        &s.register("bogus", Some("NoSuchCode1")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, guest) = s.register("guest", Some(&many)).await;
    assert_eq!(status, StatusCode::CREATED, "{guest}");
    assert!(s.servers_of(&access(&guest)).await.to_string().contains(&sid), "guest joined");
    s.stop().await;

    // Invite: nothing without a valid code, which also lets the newcomer in.
    let s = Served::start(&db, Registration::Invite).await;
    assert_error(&s.register("nocode", None).await, StatusCode::FORBIDDEN, "invite_required");
    assert_error(&s.register("nocode", Some("  ")).await, StatusCode::FORBIDDEN, "invite_required");
    assert_error(
        &s.register("badcode", Some("NoSuchCode1")).await,
        StatusCode::FORBIDDEN,
        "invite_required",
    );
    let (status, invited) = s.register("invited", Some(&once)).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    assert!(s.servers_of(&access(&invited)).await.to_string().contains(&sid), "invited joined");
    // The single-use invite is spent: it admits nobody else.
    assert_error(
        &s.register("second", Some(&once)).await,
        StatusCode::FORBIDDEN,
        "invite_required",
    );
    s.stop().await;

    // Closed: nobody, even with a valid code; existing accounts still log in.
    let s = Served::start(&db, Registration::Closed).await;
    assert_error(
        &s.register("late", Some(&many)).await,
        StatusCode::FORBIDDEN,
        "registration_closed",
    );
    assert_error(&s.register("later", None).await, StatusCode::FORBIDDEN, "registration_closed");
    let (status, _) =
        s.post("/api/v1/auth/login", None, json!({"login": "guest", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
    db.drop_now().await;
}
