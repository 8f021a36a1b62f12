//! One method per REST route the clients use, grouped as the server's API is.

use auraspeak_shared::v1::auth::{AuthResponse, LoginRequest, RegisterRequest};
use auraspeak_shared::v1::messages::{HistoryQuery, Message, MessageList, SendMessageRequest};
use auraspeak_shared::v1::servers::{
    CreateInviteRequest, CreateServerRequest, Invite, MemberList, Server, ServerDetail,
};
use auraspeak_shared::v1::users::CurrentUser;
use auraspeak_shared::{ChannelId, ErrorCode, ServerId, UserId};
use reqwest::Method;

use super::{ApiClient, Body, Credentials, unix_ms_now};
use crate::error::Result;

impl ApiClient {
    /// Creates an account and logs in; the new session's credentials are stored.
    pub async fn register(&self, request: &RegisterRequest) -> Result<AuthResponse> {
        let response: AuthResponse =
            self.request(Method::POST, "/api/v1/auth/register", Body::Json(request), None).await?;
        self.store_credentials(Some(Credentials::from_tokens(&response.tokens, unix_ms_now())));
        Ok(response)
    }

    /// Logs in with a username or email; the new session's credentials are stored.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        device_name: Option<&str>,
    ) -> Result<AuthResponse> {
        let request = LoginRequest {
            login: login.to_owned(),
            password: password.to_owned(),
            device_name: device_name.map(str::to_owned),
        };
        let response: AuthResponse =
            self.request(Method::POST, "/api/v1/auth/login", Body::Json(&request), None).await?;
        self.store_credentials(Some(Credentials::from_tokens(&response.tokens, unix_ms_now())));
        Ok(response)
    }

    /// Ends the session on the server and forgets it here. A session the server already
    /// considers over counts as logged out.
    pub async fn logout(&self) -> Result<()> {
        let result: Result<()> =
            self.authed(Method::POST, "/api/v1/auth/logout", Body::<()>::None).await;
        match result {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.code(),
                    Some(
                        ErrorCode::SessionRevoked
                            | ErrorCode::InvalidRefreshToken
                            | ErrorCode::RefreshTokenReused
                    )
                ) => {}
            Err(e) => return Err(e),
        }
        self.store_credentials(None);
        Ok(())
    }

    pub async fn me(&self) -> Result<CurrentUser> {
        self.authed(Method::GET, "/api/v1/users/@me", Body::<()>::None).await
    }

    /// The servers the user is a member of.
    pub async fn servers(&self) -> Result<Vec<Server>> {
        self.authed(Method::GET, "/api/v1/servers", Body::<()>::None).await
    }

    /// A server with the channels the user can see.
    pub async fn server(&self, id: ServerId) -> Result<ServerDetail> {
        self.authed(Method::GET, &format!("/api/v1/servers/{id}"), Body::<()>::None).await
    }

    /// One page of a server's members, by user ID (`after` the previous page's
    /// `next_after`).
    pub async fn members(
        &self,
        server: ServerId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<MemberList> {
        let mut path = format!("/api/v1/servers/{server}/members?limit={limit}");
        if let Some(after) = after {
            path = format!("{path}&after={after}");
        }
        self.authed(Method::GET, &path, Body::<()>::None).await
    }

    pub async fn create_server(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<ServerDetail> {
        let request = CreateServerRequest {
            name: name.to_owned(),
            description: description.map(str::to_owned),
        };
        self.authed(Method::POST, "/api/v1/servers", Body::Json(&request)).await
    }

    pub async fn create_invite(
        &self,
        server: ServerId,
        request: &CreateInviteRequest,
    ) -> Result<Invite> {
        self.authed(Method::POST, &format!("/api/v1/servers/{server}/invites"), Body::Json(request))
            .await
    }

    /// Server-mutes, server-deafens or moves a member who is in voice (moderators).
    pub async fn moderate_voice(
        &self,
        server: ServerId,
        user: auraspeak_shared::UserId,
        request: &auraspeak_shared::v1::voice::ModerateVoiceRequest,
    ) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/voice/{user}");
        self.authed(Method::PATCH, &path, Body::Json(request)).await
    }

    /// Joins the server an invite leads to: its code, or a link ending in the code.
    pub async fn join_invite(&self, invite: &str) -> Result<Server> {
        let code = super::invite_code(invite, self.base_url())?;
        self.authed(Method::POST, &format!("/api/v1/invites/{code}"), Body::<()>::None).await
    }

    /// Revokes an invite (its creator, or someone with Manage Server).
    pub async fn delete_invite(&self, code: &str) -> Result<()> {
        let code = super::invite_code(code, self.base_url())?;
        self.authed(Method::DELETE, &format!("/api/v1/invites/{code}"), Body::<()>::None).await
    }

    /// A page of history, newest first, as the server pages it (`before`, `after`,
    /// `around`, `limit`).
    pub async fn history(&self, channel: ChannelId, query: &HistoryQuery) -> Result<Vec<Message>> {
        let mut params = Vec::new();
        for (name, id) in
            [("before", query.before), ("after", query.after), ("around", query.around)]
        {
            if let Some(id) = id {
                params.push(format!("{name}={id}"));
            }
        }
        if let Some(limit) = query.limit {
            params.push(format!("limit={limit}"));
        }
        let mut path = format!("/api/v1/channels/{channel}/messages");
        if !params.is_empty() {
            path = format!("{path}?{}", params.join("&"));
        }
        let list: MessageList = self.authed(Method::GET, &path, Body::<()>::None).await?;
        Ok(list.messages)
    }

    pub async fn send_message(
        &self,
        channel: ChannelId,
        request: &SendMessageRequest,
    ) -> Result<Message> {
        self.authed(
            Method::POST,
            &format!("/api/v1/channels/{channel}/messages"),
            Body::Json(request),
        )
        .await
    }
}
