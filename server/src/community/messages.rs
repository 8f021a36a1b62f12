//! Messages: send (idempotent by nonce), read history, edit, delete.

use auraspeak_shared::v1::messages::{
    DEFAULT_HISTORY_LIMIT, EditMessageRequest, HistoryQuery, MAX_HISTORY_LIMIT, MAX_MESSAGE_CHARS,
    MAX_NONCE_CHARS, Message, MessageList, SendMessageRequest,
};
use auraspeak_shared::v1::servers::AuditAction;
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{Community, Fields, forbidden, message_api, not_found};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;
use crate::ids::unix_ms_now;
use crate::store::community::{HistoryPage, NewMessage};

impl Community {
    /// Returns the message and whether it was created now (false: a retry with a nonce
    /// that an earlier send already used).
    pub async fn send_message(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        req: SendMessageRequest,
    ) -> Result<(Message, bool), ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        if !perms.contains(Permissions::SEND_MESSAGES) {
            return Err(forbidden());
        }
        let mut fields = Fields::default();
        if channel.kind != "text" {
            fields.fail("channel", "is not a text channel");
        }
        let content = fields.text("content", &req.content, 1, MAX_MESSAGE_CHARS);
        if let Some(nonce) = &req.nonce
            && (nonce.is_empty() || nonce.chars().count() > MAX_NONCE_CHARS)
        {
            fields.fail("nonce", "must be 1 to 64 characters long");
        }
        if let Some(reply) = req.reply_to
            && self.store.message(channel.id, reply.as_i64()).await?.is_none()
        {
            fields.fail("reply_to", "must be a message in this channel");
        }
        fields.finish()?;
        let new = NewMessage {
            id: self.next_id(),
            channel_id: channel.id,
            author_id: user_id,
            content,
            reply_to: req.reply_to.map(|r| r.as_i64()),
            nonce: req.nonce,
            now: unix_ms_now(),
        };
        let (row, created) = self.store.create_message(&new).await?;
        let message = message_api(&row)?;
        if created {
            let audience =
                Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
            self.publish(audience, Event::MessageCreate { message: message.clone() }, None);
        }
        Ok((message, created))
    }

    pub async fn history(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        query: HistoryQuery,
    ) -> Result<MessageList, ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        if !perms.contains(Permissions::READ_HISTORY) {
            return Err(forbidden());
        }
        let limit = query.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        let mut fields = Fields::default();
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            fields.fail("limit", "must be between 1 and 100");
        }
        let page = match (query.before, query.after, query.around) {
            (None, None, None) => HistoryPage::Latest,
            (Some(b), None, None) => HistoryPage::Before(b.as_i64()),
            (None, Some(a), None) => HistoryPage::After(a.as_i64()),
            (None, None, Some(a)) => HistoryPage::Around(a.as_i64()),
            _ => {
                fields.fail("before", "give at most one of before, after and around");
                HistoryPage::Latest
            }
        };
        fields.finish()?;
        let rows = self.store.history(channel.id, page, i64::from(limit)).await?;
        Ok(MessageList { messages: rows.iter().map(message_api).collect::<Result<_, _>>()? })
    }

    pub async fn edit_message(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
        req: EditMessageRequest,
    ) -> Result<Message, ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        let existing = self
            .store
            .message(channel.id, message_id.as_i64())
            .await?
            .ok_or_else(|| not_found("message"))?;
        // Only the author edits, and only while still allowed to post here.
        if existing.author_id != user_id || !perms.contains(Permissions::SEND_MESSAGES) {
            return Err(ApiError::new(ErrorCode::Forbidden, "only the author can edit a message"));
        }
        let mut fields = Fields::default();
        let content = fields.text("content", &req.content, 1, MAX_MESSAGE_CHARS);
        fields.finish()?;
        let row = self
            .store
            .edit_message(channel.id, existing.id, &content, unix_ms_now())
            .await?
            .ok_or_else(|| not_found("message"))?;
        let message = message_api(&row)?;
        let audience = Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
        self.publish(audience, Event::MessageUpdate { message: message.clone() }, None);
        Ok(message)
    }

    /// The author may delete their own message; moderators (MANAGE_MESSAGES) anyone's,
    /// which the audit log records.
    pub async fn delete_message(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
    ) -> Result<(), ApiError> {
        let (channel, access, perms) = self.channel_access(channel_id, user_id).await?;
        let existing = self
            .store
            .message(channel.id, message_id.as_i64())
            .await?
            .ok_or_else(|| not_found("message"))?;
        let audit = if existing.author_id == user_id {
            None
        } else if perms.contains(Permissions::MANAGE_MESSAGES) {
            Some(self.audit(&access, AuditAction::MessageDelete, Some(existing.author_id), None))
        } else {
            return Err(forbidden());
        };
        if !self.store.delete_message(channel.id, existing.id, audit.as_ref()).await? {
            return Err(not_found("message"));
        }
        let audience = Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
        let event =
            Event::MessageDelete { channel_id: channel_id.into(), message_id: message_id.into() };
        self.publish(audience, event, None);
        Ok(())
    }
}
