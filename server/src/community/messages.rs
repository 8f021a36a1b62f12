//! Messages: send (idempotent by nonce), read history, edit, delete.

use auraspeak_shared::limits::validate_emoji;
use auraspeak_shared::mentions::parse_mentions;
use auraspeak_shared::v1::channels::ChannelKind;
use auraspeak_shared::v1::messages::{
    AckRequest, DEFAULT_HISTORY_LIMIT, EditMessageRequest, HistoryQuery, MAX_HISTORY_LIMIT,
    MAX_MESSAGE_CHARS, MAX_NONCE_CHARS, Message, MessageList, ReactionUsers, ReadState,
    SendMessageRequest,
};
use auraspeak_shared::v1::servers::AuditAction;
use auraspeak_shared::v1::servers::ServerDetail;
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{Community, Fields, forbidden, message_api, not_found};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;
use crate::ids::unix_ms_now;
use crate::store::community::{
    ChannelRow, HistoryPage, MentionSet, MessageRow, NewMessage, ReactionAdded,
};

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
            && (nonce.is_empty()
                || nonce.chars().count() > MAX_NONCE_CHARS
                || nonce.chars().any(char::is_control))
        {
            fields.fail("nonce", "must be 1 to 64 characters without control characters");
        }
        if let Some(reply) = req.reply_to
            && !self.message_known_to(&channel, reply.as_i64(), user_id, perms).await?
        {
            fields.fail("reply_to", "must be a message in this channel");
        }
        fields.finish()?;
        let mentions = mention_set(&content, perms);
        let new = NewMessage {
            id: self.next_id(),
            channel_id: channel.id,
            author_id: user_id,
            content,
            reply_to: req.reply_to.map(|r| r.as_i64()),
            nonce: req.nonce,
            mentions,
            now: unix_ms_now(),
        };
        let (row, created) = self.store.create_message(&new).await?;
        let message = self.with_extras(&row, user_id).await?;
        if created {
            self.to_viewers(&channel, Event::MessageCreate { message: message.clone() });
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
        let (Some(lo), Some(hi)) =
            (rows.iter().map(|r| r.id).min(), rows.iter().map(|r| r.id).max())
        else {
            return Ok(MessageList { messages: Vec::new() });
        };
        let mentions = self.store.mentions_between(channel.id, lo, hi).await?;
        let reactions = self.store.reactions_between(channel.id, lo, hi, user_id).await?;
        let messages =
            rows.iter().map(|r| message_api(r, &mentions, &reactions)).collect::<Result<_, _>>()?;
        Ok(MessageList { messages })
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
            .filter(|m| visible_to(m, user_id, perms))
            .ok_or_else(|| not_found("message"))?;
        // Only the author edits, and only while still allowed to post here.
        if existing.author_id != user_id || !perms.contains(Permissions::SEND_MESSAGES) {
            return Err(ApiError::new(ErrorCode::Forbidden, "only the author can edit a message"));
        }
        let mut fields = Fields::default();
        let content = fields.text("content", &req.content, 1, MAX_MESSAGE_CHARS);
        fields.finish()?;
        let mentions = mention_set(&content, perms);
        let row = self
            .store
            .edit_message(channel.id, existing.id, &content, &mentions, unix_ms_now())
            .await?
            .ok_or_else(|| not_found("message"))?;
        let message = self.with_extras(&row, user_id).await?;
        self.to_viewers(&channel, Event::MessageUpdate { message: message.clone() });
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
            .filter(|m| visible_to(m, user_id, perms))
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
        let event =
            Event::MessageDelete { channel_id: channel_id.into(), message_id: message_id.into() };
        self.to_viewers(&channel, event);
        Ok(())
    }

    /// Whether `message_id` names a message in `channel` that the caller may know of.
    async fn message_known_to(
        &self,
        channel: &ChannelRow,
        message_id: i64,
        user_id: i64,
        perms: Permissions,
    ) -> Result<bool, ApiError> {
        let found = self.store.message(channel.id, message_id).await?;
        Ok(found.is_some_and(|m| visible_to(&m, user_id, perms)))
    }

    /// One message with its stored mentions and reactions.
    async fn with_extras(&self, row: &MessageRow, user_id: i64) -> Result<Message, ApiError> {
        let mentions = self.store.mentions_between(row.channel_id, row.id, row.id).await?;
        let reactions =
            self.store.reactions_between(row.channel_id, row.id, row.id, user_id).await?;
        message_api(row, &mentions, &reactions)
    }

    /// A message the caller can see in a channel they can read.
    async fn readable_message(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
    ) -> Result<(ChannelRow, MessageRow, Permissions), ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        if !perms.contains(Permissions::READ_HISTORY) {
            return Err(forbidden());
        }
        let message = self
            .store
            .message(channel.id, message_id.as_i64())
            .await?
            .ok_or_else(|| not_found("message"))?;
        Ok((channel, message, perms))
    }

    pub async fn add_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
        emoji: &str,
    ) -> Result<(), ApiError> {
        let (channel, message, perms) =
            self.readable_message(channel_id, message_id, user_id).await?;
        if !perms.contains(Permissions::ADD_REACTIONS) {
            return Err(forbidden());
        }
        check_emoji(emoji)?;
        let max = i64::try_from(auraspeak_shared::limits::MAX_DISTINCT_REACTIONS).unwrap_or(20);
        let added = self.store.add_reaction(message.id, user_id, emoji, max, unix_ms_now()).await?;
        if added == ReactionAdded::TooManyEmoji {
            return Err(ApiError::new(
                ErrorCode::TooManyReactions,
                format!(
                    "a message can carry at most {} different emoji; add to an existing one",
                    auraspeak_shared::limits::MAX_DISTINCT_REACTIONS
                ),
            ));
        }
        if added == ReactionAdded::Added {
            let (channel_id, message_id, emoji) =
                (channel_id.into(), message_id.into(), emoji.to_owned());
            let user_id = super::sf(user_id)?.into();
            self.to_viewers(
                &channel,
                Event::ReactionAdd { channel_id, message_id, user_id, emoji },
            );
        }
        Ok(())
    }

    pub async fn remove_reaction(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
        emoji: &str,
    ) -> Result<(), ApiError> {
        let (channel, message, _) = self.readable_message(channel_id, message_id, user_id).await?;
        check_emoji(emoji)?;
        if !self.store.remove_reaction(message.id, user_id, emoji).await? {
            return Err(not_found("reaction"));
        }
        let (channel_id, message_id, emoji) =
            (channel_id.into(), message_id.into(), emoji.to_owned());
        let user_id = super::sf(user_id)?.into();
        self.to_viewers(&channel, Event::ReactionRemove { channel_id, message_id, user_id, emoji });
        Ok(())
    }

    pub async fn reaction_users(
        &self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: i64,
        emoji: &str,
    ) -> Result<ReactionUsers, ApiError> {
        let (_, message, _) = self.readable_message(channel_id, message_id, user_id).await?;
        check_emoji(emoji)?;
        let users = self.store.reaction_users(message.id, emoji, 100).await?;
        Ok(ReactionUsers {
            users: users
                .into_iter()
                .map(|u| super::sf(u).map(Into::into))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Marks the channel read up to a message; the user's other devices are told.
    pub async fn ack(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        req: AckRequest,
    ) -> Result<(), ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        if !self.message_known_to(&channel, req.message_id.as_i64(), user_id, perms).await? {
            return Err(not_found("message"));
        }
        let marker = self.store.ack(user_id, channel.id, req.message_id.as_i64()).await?;
        let event = Event::ReadStateUpdate {
            channel_id: channel_id.into(),
            last_read_id: super::sf(marker)?.into(),
        };
        self.publish(Audience::User(user_id), event, None);
        Ok(())
    }

    /// Shows "… is typing" to the channel's viewers. Clients repeat it every few
    /// seconds while typing; more often than the limiter allows is refused.
    pub async fn typing(&self, channel_id: Snowflake, user_id: i64) -> Result<(), ApiError> {
        let (channel, _, perms) = self.channel_access(channel_id, user_id).await?;
        if !perms.contains(Permissions::SEND_MESSAGES) {
            return Err(forbidden());
        }
        self.typing_limiter
            .try_acquire(&(user_id, channel.id), std::time::Instant::now())
            .map_err(ApiError::rate_limited)?;
        let event = Event::TypingStart {
            channel_id: channel_id.into(),
            user_id: super::sf(user_id)?.into(),
        };
        self.to_viewers(&channel, event);
        Ok(())
    }

    /// Unread and mention counts for every text channel in `servers`, for READY.
    pub async fn read_states(
        &self,
        user_id: i64,
        servers: &[ServerDetail],
    ) -> Result<Vec<ReadState>, ApiError> {
        let mut states = Vec::new();
        for detail in servers {
            for channel in detail.channels.iter().filter(|c| c.kind == ChannelKind::Text) {
                let cid = channel.id.as_i64();
                let marker = self.store.read_marker(user_id, cid).await?;
                let (unread, mentions) = self
                    .store
                    .unread_counts(user_id, detail.server.id.as_i64(), cid, marker.unwrap_or(0))
                    .await?;
                states.push(ReadState {
                    channel_id: channel.id,
                    last_read_id: marker.map(super::sf).transpose()?.map(Into::into),
                    unread_count: unread,
                    mention_count: mentions,
                });
            }
        }
        Ok(states)
    }
}

/// Mentions as stored: `@everyone` pings only when the author may mention everyone.
fn mention_set(content: &str, perms: Permissions) -> MentionSet {
    let parsed = parse_mentions(content);
    let to_i64 = |ids: Vec<u64>| ids.into_iter().filter_map(|id| i64::try_from(id).ok()).collect();
    MentionSet {
        users: to_i64(parsed.users),
        roles: to_i64(parsed.roles),
        everyone: parsed.everyone && perms.contains(Permissions::MENTION_EVERYONE),
    }
}

fn check_emoji(emoji: &str) -> Result<(), ApiError> {
    let mut fields = Fields::default();
    if let Err(message) = validate_emoji(emoji) {
        fields.fail("emoji", message);
    }
    fields.finish()
}

/// Without READ_HISTORY the channel's messages are not the caller's to know of, apart from
/// their own: any other ID is answered as if it did not exist, so edits, deletes, replies
/// and read markers cannot be used to find out which message IDs exist.
fn visible_to(message: &MessageRow, user_id: i64, perms: Permissions) -> bool {
    message.author_id == user_id || perms.contains(Permissions::READ_HISTORY)
}
