//! A server with two members, set up through the client library itself.
#![allow(dead_code, unreachable_pub)]

use auraspeak_client::api::ApiClient;
use auraspeak_shared::v1::auth::{AuthResponse, RegisterRequest};
use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::servers::CreateInviteRequest;
use auraspeak_shared::{ChannelId, ServerId};

use crate::harness::PASSWORD;

pub struct Community {
    pub owner: ApiClient,
    pub member: ApiClient,
    pub member_auth: AuthResponse,
    pub server: ServerId,
    pub server_name: String,
    /// The `general` text channel every new server has.
    pub general: ChannelId,
}

/// Registers `username` on the server at `base` and returns its logged-in client.
pub async fn register(base: &str, username: &str) -> (ApiClient, AuthResponse) {
    let api = ApiClient::new(base).expect("server URL");
    let auth = api
        .register(&RegisterRequest {
            username: username.into(),
            email: format!("{username}@example.com"),
            password: PASSWORD.into(),
            display_name: None,
            device_name: Some("e2e".into()),
            invite: None,
        })
        .await
        .expect("register");
    (api, auth)
}

/// `owner` creates "Raid Night"; `member` joins it through an invite.
pub async fn setup(base: &str) -> Community {
    let (owner, _) = register(base, "owner").await;
    let (member, member_auth) = register(base, "member").await;
    let detail = owner.create_server("Raid Night", None).await.expect("create server");
    let general = detail
        .channels
        .iter()
        .find(|c| c.kind == ChannelKind::Text && c.name == "general")
        .expect("a new server has #general")
        .id;
    let invite = owner
        .create_invite(detail.server.id, &CreateInviteRequest::default())
        .await
        .expect("invite");
    member.join_invite(&invite.code).await.expect("join");
    Community {
        owner,
        member,
        member_auth,
        server: detail.server.id,
        server_name: detail.server.name,
        general,
    }
}
