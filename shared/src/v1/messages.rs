//! Persistent chat messages.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, MessageId, RoleId, UserId};

/// Characters of content after trimming.
pub const MAX_MESSAGE_CHARS: usize = 4000;
pub const MAX_NONCE_CHARS: usize = 64;
pub const MAX_HISTORY_LIMIT: u32 = 100;
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub author_id: UserId,
    pub content: String,
    pub reply_to: Option<MessageId>,
    /// Echoed back so the sender can match the message to its optimistic copy.
    pub nonce: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Users mentioned with `<@id>`.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// Roles mentioned with `<@&id>`.
    #[serde(default)]
    pub mention_roles: Vec<RoleId>,
    /// `@everyone` pinged everyone (only when the author had MENTION_EVERYONE).
    #[serde(default)]
    pub mention_everyone: bool,
    /// Reactions, one entry per emoji.
    #[serde(default)]
    pub reactions: Vec<ReactionCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// Whether the caller is among those who reacted.
    pub me: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionUsers {
    pub users: Vec<UserId>,
}

/// Marks everything up to and including `message_id` as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckRequest {
    pub message_id: MessageId,
}

/// Where a user stands in one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadState {
    pub channel_id: ChannelId,
    pub last_read_id: Option<MessageId>,
    pub unread_count: i64,
    /// Unread messages that mention the user, one of their roles, or everyone.
    pub mention_count: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessageRequest {
    /// 1–4000 characters after trimming.
    pub content: String,
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// Client-chosen, at most 64 characters. Sending the same nonce again returns the
    /// message the first send created instead of a duplicate, even across restarts.
    #[serde(default)]
    pub nonce: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessageRequest {
    pub content: String,
}

/// History page: newest first. At most one of `before`, `after`, `around`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct HistoryQuery {
    #[serde(default)]
    pub before: Option<MessageId>,
    #[serde(default)]
    pub after: Option<MessageId>,
    #[serde(default)]
    pub around: Option<MessageId>,
    /// 1–100, default 50.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageList {
    pub messages: Vec<Message>,
}
