//! Accounts, memberships, roles and overwrites over real HTTP, for the community tests.
//! Include next to `harness.rs` (it uses `crate::harness`).
#![allow(dead_code, unreachable_pub)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestServer, access};

pub struct User {
    pub token: String,
    pub id: String,
}

pub async fn user(s: &TestServer, name: &str) -> User {
    let auth = s.register(name).await;
    User { token: access(&auth), id: auth["user"]["id"].as_str().expect("id").to_owned() }
}

/// Creates an invite as `owner` and joins `who` through it.
pub async fn join(s: &TestServer, owner: &User, server_id: &str, who: &User) {
    let (_, invite) = s
        .post(&format!("/api/v1/servers/{server_id}/invites"), Some(&owner.token), json!({}))
        .await;
    let code = invite["code"].as_str().expect("code");
    let (status, body) =
        s.post(&format!("/api/v1/invites/{code}"), Some(&who.token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Gives (`add`) or takes a role, as `by`.
pub async fn set_role(
    s: &TestServer,
    by: &User,
    server_id: &str,
    to: &User,
    role: &str,
    add: bool,
) -> StatusCode {
    let method = if add { Method::PUT } else { Method::DELETE };
    let path = format!("/api/v1/servers/{server_id}/members/{}/roles/{role}", to.id);
    s.send(method, &path, Some(&by.token), None).await.0
}

/// Sets a channel overwrite for a role or member, as `by`.
pub async fn put_ow(
    s: &TestServer,
    cid: &str,
    by: &User,
    kind: &str,
    target: &str,
    allow: u64,
    deny: u64,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/channels/{cid}/overwrites/{kind}/{target}");
    let body = json!({"allow": allow.to_string(), "deny": deny.to_string()});
    s.send(Method::PUT, &path, Some(&by.token), Some(body)).await
}
