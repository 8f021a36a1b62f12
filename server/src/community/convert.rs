//! Rows to wire types, and the input rules shared by the community routes.

use auraspeak_shared::error::FieldError;
use auraspeak_shared::v1::channels::{Channel, ChannelKind, OverwriteKind, PermissionOverwrite};
use auraspeak_shared::v1::messages::{Message, ReactionCount};
use auraspeak_shared::v1::servers::{AuditAction, AuditEntry, Ban, Invite, Member, Role, Server};
use auraspeak_shared::{Permissions, Snowflake};

use crate::api::error::ApiError;
use crate::store::community::{
    AuditRow, BanRow, ChannelRow, InviteRow, MemberRow, MentionRow, MessageRow, OverwriteRow,
    ReactionCountRow, RoleRow, ServerRow,
};

/// A stored ID; a negative one means the database was tampered with.
pub fn sf(raw: i64) -> Result<Snowflake, ApiError> {
    Snowflake::from_i64(raw).ok_or_else(|| {
        tracing::error!(raw, "negative id in database");
        ApiError::internal()
    })
}

pub fn server_api(row: &ServerRow) -> Result<Server, ApiError> {
    Ok(Server {
        id: sf(row.id)?.into(),
        name: row.name.clone(),
        description: row.description.clone(),
        owner_id: sf(row.owner_id)?.into(),
        member_count: row.member_count,
        created_at: row.created_at,
    })
}

pub fn role_api(row: &RoleRow) -> Result<Role, ApiError> {
    Ok(Role {
        id: sf(row.id)?.into(),
        name: row.name.clone(),
        permissions: Permissions(row.permissions as u64),
        position: row.position,
        color: row.color,
    })
}

pub fn member_api(row: &MemberRow, roles: Vec<i64>) -> Result<Member, ApiError> {
    Ok(Member {
        user_id: sf(row.user_id)?.into(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        nickname: row.nickname.clone(),
        roles: roles.into_iter().map(|r| sf(r).map(Into::into)).collect::<Result<_, _>>()?,
        joined_at: row.joined_at,
    })
}

pub fn channel_api(row: &ChannelRow, overwrites: &[OverwriteRow]) -> Result<Channel, ApiError> {
    let kind = ChannelKind::from_name(&row.kind).ok_or_else(|| {
        tracing::error!(kind = row.kind, "unknown channel kind in database");
        ApiError::internal()
    })?;
    let overwrites = overwrites
        .iter()
        .filter(|o| o.channel_id == row.id)
        .map(|o| {
            Ok(PermissionOverwrite {
                kind: if o.target_kind == "member" {
                    OverwriteKind::Member
                } else {
                    OverwriteKind::Role
                },
                target_id: sf(o.target_id)?,
                allow: Permissions(o.allow_bits as u64),
                deny: Permissions(o.deny_bits as u64),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Channel {
        permissions_synced: row.parent_id.is_some() && overwrites.is_empty(),
        id: sf(row.id)?.into(),
        server_id: sf(row.server_id)?.into(),
        kind,
        name: row.name.clone(),
        topic: row.topic.clone(),
        position: row.position,
        parent_id: row.parent_id.map(sf).transpose()?.map(Into::into),
        bitrate_kbps: row.bitrate,
        user_limit: row.user_limit,
        overwrites,
    })
}

pub fn invite_api(row: &InviteRow) -> Result<Invite, ApiError> {
    Ok(Invite {
        code: row.code.clone(),
        server_id: sf(row.server_id)?.into(),
        creator_id: sf(row.creator_id)?.into(),
        uses: row.uses,
        max_uses: row.max_uses,
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
}

pub fn ban_api(row: &BanRow) -> Result<Ban, ApiError> {
    Ok(Ban {
        user_id: sf(row.user_id)?.into(),
        username: row.username.clone(),
        reason: row.reason.clone(),
        moderator_id: sf(row.moderator_id)?.into(),
        created_at: row.created_at,
    })
}

pub fn audit_api(row: &AuditRow) -> Result<AuditEntry, ApiError> {
    Ok(AuditEntry {
        id: sf(row.id)?,
        action: AuditAction::from_name(&row.action).ok_or_else(ApiError::internal)?,
        actor_id: sf(row.actor_id)?.into(),
        target_id: row.target_id.map(sf).transpose()?,
        reason: row.reason.clone(),
        created_at: row.created_at,
        actor_name: row.actor_name.clone(),
        target_user_name: row.target_user_name.clone(),
    })
}

/// The rows of one message in rows sorted by message id (as the page queries return
/// them): two binary searches, so a page costs O(messages × log rows), not a scan of
/// every row per message.
fn rows_of<T>(rows: &[T], message_id: i64, id: impl Fn(&T) -> i64) -> &[T] {
    debug_assert!(rows.windows(2).all(|w| id(&w[0]) <= id(&w[1])), "rows sorted by message");
    let start = rows.partition_point(|r| id(r) < message_id);
    let end = start + rows[start..].partition_point(|r| id(r) == message_id);
    &rows[start..end]
}

/// A message with its mentions and reactions, picked from rows loaded for a whole page
/// and sorted by message id.
pub fn message_api(
    row: &MessageRow,
    mentions: &[MentionRow],
    reactions: &[ReactionCountRow],
) -> Result<Message, ApiError> {
    let mine = rows_of(mentions, row.id, |m| m.message_id).iter();
    let ids = |kind: &str| -> Result<Vec<Snowflake>, ApiError> {
        mine.clone().filter(|m| m.target_kind == kind).map(|m| sf(m.target_id)).collect()
    };
    Ok(Message {
        id: sf(row.id)?.into(),
        channel_id: sf(row.channel_id)?.into(),
        author_id: sf(row.author_id)?.into(),
        content: row.content.clone(),
        reply_to: row.reply_to.map(sf).transpose()?.map(Into::into),
        nonce: row.nonce.clone(),
        created_at: row.created_at,
        edited_at: row.edited_at,
        mentions: ids("user")?.into_iter().map(Into::into).collect(),
        mention_roles: ids("role")?.into_iter().map(Into::into).collect(),
        mention_everyone: row.mention_everyone != 0,
        reactions: rows_of(reactions, row.id, |r| r.message_id)
            .iter()
            .map(|r| ReactionCount { emoji: r.emoji.clone(), count: r.count, me: r.me != 0 })
            .collect(),
    })
}

/// Collects field problems so one response names all of them.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// Trimmed text of `min..=max` characters without control characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let value = value.trim();
        let len = value.chars().count();
        if len < min || len > max {
            self.fail(field, &format!("must be {min} to {max} characters long"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.fail(field, "must not contain control characters");
        }
        value.to_owned()
    }

    /// Optional text where empty means "none".
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        Some(self.text(field, value, 1, max))
    }

    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.fail(field, &format!("must be between {min} and {max}"));
        }
    }

    pub fn fail(&mut self, field: &str, message: &str) {
        self.0.push(FieldError { field: field.to_owned(), message: message.to_owned() });
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}

pub const SERVER_NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 1024;
pub const CHANNEL_NAME_MAX: usize = 100;
pub const TOPIC_MAX: usize = 1024;
pub const ROLE_NAME_MAX: usize = 100;
pub const NICKNAME_MAX: usize = 32;
pub const REASON_MAX: usize = 512;
