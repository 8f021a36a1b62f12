//! The routes the desktop app needs beyond the CLI's: account settings and sessions,
//! message editing and reactions, read state, typing, and community administration.

use auraspeak_shared::v1::auth::{ChangePasswordRequest, SessionInfo, SessionList};
use auraspeak_shared::v1::channels::{Channel, CreateChannelRequest};
use auraspeak_shared::v1::messages::{AckRequest, EditMessageRequest, Message};
use auraspeak_shared::v1::servers::{AuditEntry, AuditLog, Ban, Invite, ModerationRequest};
use auraspeak_shared::v1::users::{CurrentUser, UpdateProfileRequest};
use auraspeak_shared::{ChannelId, MessageId, ServerId, SessionId, UserId};
use reqwest::Method;

use super::{ApiClient, Body};
use crate::error::{Error, Result};

impl ApiClient {
    pub async fn update_profile(&self, request: &UpdateProfileRequest) -> Result<CurrentUser> {
        self.authed(Method::PATCH, "/api/v1/users/@me", Body::Json(request)).await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let request = ChangePasswordRequest {
            current_password: current.to_owned(),
            new_password: new.to_owned(),
        };
        self.authed(Method::POST, "/api/v1/users/@me/password", Body::Json(&request)).await
    }

    /// The account's logged-in sessions (devices), this one included.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let list: SessionList =
            self.authed(Method::GET, "/api/v1/auth/sessions", Body::<()>::None).await?;
        Ok(list.sessions)
    }

    pub async fn revoke_session(&self, session: SessionId) -> Result<()> {
        let path = format!("/api/v1/auth/sessions/{session}");
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }

    pub async fn leave_server(&self, server: ServerId) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/leave");
        self.authed(Method::POST, &path, Body::<()>::None).await
    }

    pub async fn create_channel(
        &self,
        server: ServerId,
        request: &CreateChannelRequest,
    ) -> Result<Channel> {
        let path = format!("/api/v1/servers/{server}/channels");
        self.authed(Method::POST, &path, Body::Json(request)).await
    }

    pub async fn delete_channel(&self, channel: ChannelId) -> Result<()> {
        let path = format!("/api/v1/channels/{channel}");
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }

    pub async fn edit_message(
        &self,
        channel: ChannelId,
        message: MessageId,
        content: &str,
    ) -> Result<Message> {
        let path = format!("/api/v1/channels/{channel}/messages/{message}");
        let request = EditMessageRequest { content: content.to_owned() };
        self.authed(Method::PATCH, &path, Body::Json(&request)).await
    }

    pub async fn delete_message(&self, channel: ChannelId, message: MessageId) -> Result<()> {
        let path = format!("/api/v1/channels/{channel}/messages/{message}");
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }

    /// Adds (`add`) or removes our reaction `emoji` on a message.
    pub async fn react(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<()> {
        if emoji.is_empty() {
            return Err(Error::InvalidInput("an empty reaction".into()));
        }
        let path = format!(
            "/api/v1/channels/{channel}/messages/{message}/reactions/{}/@me",
            percent_encode_segment(emoji)
        );
        let method = if add { Method::PUT } else { Method::DELETE };
        self.authed(method, &path, Body::<()>::None).await
    }

    /// Marks the channel read up to `message`.
    pub async fn ack(&self, channel: ChannelId, message: MessageId) -> Result<()> {
        let path = format!("/api/v1/channels/{channel}/ack");
        self.authed(Method::POST, &path, Body::Json(&AckRequest { message_id: message })).await
    }

    /// Tells the channel we are typing (lasts about 10 s on the others' screens).
    pub async fn typing(&self, channel: ChannelId) -> Result<()> {
        let path = format!("/api/v1/channels/{channel}/typing");
        self.authed(Method::POST, &path, Body::<()>::None).await
    }

    pub async fn kick_member(
        &self,
        server: ServerId,
        user: UserId,
        reason: Option<&str>,
    ) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/members/{user}/kick");
        let request = ModerationRequest { reason: reason.map(str::to_owned) };
        self.authed(Method::POST, &path, Body::Json(&request)).await
    }

    pub async fn ban_member(
        &self,
        server: ServerId,
        user: UserId,
        reason: Option<&str>,
    ) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/bans/{user}");
        let request = ModerationRequest { reason: reason.map(str::to_owned) };
        self.authed(Method::PUT, &path, Body::Json(&request)).await
    }

    pub async fn unban_member(&self, server: ServerId, user: UserId) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/bans/{user}");
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }

    pub async fn bans(&self, server: ServerId) -> Result<Vec<Ban>> {
        let path = format!("/api/v1/servers/{server}/bans");
        self.authed(Method::GET, &path, Body::<()>::None).await
    }

    pub async fn invites(&self, server: ServerId) -> Result<Vec<Invite>> {
        let path = format!("/api/v1/servers/{server}/invites");
        self.authed(Method::GET, &path, Body::<()>::None).await
    }

    pub async fn audit_log(&self, server: ServerId) -> Result<Vec<AuditEntry>> {
        let path = format!("/api/v1/servers/{server}/audit-log");
        let log: AuditLog = self.authed(Method::GET, &path, Body::<()>::None).await?;
        Ok(log.entries)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an emoji (or a
/// slash or `?` typed into a reaction) stays one path segment.
fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_encode_segment;

    #[test]
    fn reactions_stay_one_path_segment() {
        assert_eq!(percent_encode_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(percent_encode_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(percent_encode_segment("ok_-.~"), "ok_-.~");
    }
}
