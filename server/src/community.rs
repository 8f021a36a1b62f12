//! The community service: servers, roles, members, channels, invites, moderation and
//! messages. Handlers in `api/` call in here; this checks permissions with the one pure
//! calculator from `shared` and talks to the [`Store`].
//!
//! Visibility rule: whoever may not know that a server or channel exists (a non-member,
//! someone without VIEW_CHANNEL) gets exactly the same `not_found` as for one that does
//! not exist. A member who can see a thing but lacks the permission to change it gets
//! `forbidden`.

use std::sync::Arc;

use auraspeak_shared::permissions::{
    ChannelKind as PermKind, ChannelOverwrites, MemberContext, Overwrite, OverwriteTarget,
    permissions_in, server_permissions,
};
use auraspeak_shared::v1::channels::ChannelPermissions;
use auraspeak_shared::v1::servers::AuditAction;
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::{Audience, Envelope, EventBus};
use crate::ids::{IdGenerator, unix_ms_now};
use crate::rate_limit::KeyedLimiter;
use crate::store::Store;
use crate::store::community::{ChannelRow, NewAudit, OverwriteRow, RoleRow, ServerRow};

mod channels;
mod convert;
mod invites;
mod members;
mod messages;
mod roles;
mod servers;

pub use convert::*;

pub struct Community {
    store: Arc<dyn Store>,
    ids: Arc<IdGenerator>,
    events: Arc<dyn EventBus>,
    /// Typing notices per (user, channel).
    typing_limiter: KeyedLimiter<(i64, i64)>,
}

/// What one member may do in one server, loaded once per request.
#[derive(Debug, Clone)]
pub struct Access {
    pub server: ServerRow,
    pub user_id: i64,
    pub is_owner: bool,
    pub everyone: Permissions,
    /// The member's roles besides @everyone: (id, permissions, position).
    pub roles: Vec<(i64, Permissions, i64)>,
    /// Server-wide effective permissions.
    pub permissions: Permissions,
}

impl Access {
    fn context<'a>(&self, roles: &'a [(u64, Permissions)]) -> MemberContext<'a> {
        MemberContext {
            user_id: self.user_id as u64,
            is_owner: self.is_owner,
            everyone_role_id: self.server.id as u64,
            everyone: self.everyone,
            roles,
        }
    }

    fn role_pairs(&self) -> Vec<(u64, Permissions)> {
        self.roles.iter().map(|(id, p, _)| (*id as u64, *p)).collect()
    }

    /// Owner and administrators outrank every role.
    pub fn outranks_everything(&self) -> bool {
        self.is_owner || self.permissions.contains(Permissions::ADMINISTRATOR)
    }

    /// The position of the member's highest role (0 = only @everyone).
    pub fn top_position(&self) -> i64 {
        self.roles.iter().map(|(_, _, pos)| *pos).max().unwrap_or(0)
    }

    pub fn require(&self, needed: Permissions) -> Result<(), ApiError> {
        if self.permissions.contains(needed) { Ok(()) } else { Err(forbidden()) }
    }

    /// Effective permissions in a channel, given all of the server's overwrites: the
    /// channel's own, or its category's while it is synced.
    pub fn in_channel(&self, channel: &ChannelRow, overwrites: &[OverwriteRow]) -> Permissions {
        let kind = match channel.kind.as_str() {
            "voice" => PermKind::Voice,
            "category" => PermKind::Category,
            _ => PermKind::Text,
        };
        let own = overwrites_of(channel.id, overwrites);
        let category = channel.parent_id.map(|parent| overwrites_of(parent, overwrites));
        let set = ChannelOverwrites { own: &own, category: category.as_deref() };
        let pairs = self.role_pairs();
        permissions_in(&self.context(&pairs), kind, set)
    }

    /// Effective permissions in every channel of the server the member can see.
    pub fn in_channels(
        &self,
        channels: &[ChannelRow],
        overwrites: &[OverwriteRow],
    ) -> Result<Vec<ChannelPermissions>, ApiError> {
        let mut out = Vec::with_capacity(channels.len());
        for channel in channels {
            let permissions = self.in_channel(channel, overwrites);
            if permissions.contains(Permissions::VIEW_CHANNEL) {
                out.push(ChannelPermissions { channel_id: sf(channel.id)?.into(), permissions });
            }
        }
        Ok(out)
    }

    /// Whether this member may act on `target`'s roles, voice or membership: never on the
    /// owner, and only below their own highest role unless they outrank every role.
    pub fn outranks(&self, target: &Access) -> bool {
        if target.is_owner {
            return false;
        }
        self.outranks_everything()
            || (target.top_position() < self.top_position()
                && !target.permissions.contains(Permissions::ADMINISTRATOR))
    }
}

/// The overwrites stored for one channel, for the calculator.
fn overwrites_of(channel_id: i64, rows: &[OverwriteRow]) -> Vec<Overwrite> {
    rows.iter()
        .filter(|o| o.channel_id == channel_id)
        .map(|o| Overwrite {
            target: if o.target_kind == "member" {
                OverwriteTarget::Member(o.target_id as u64)
            } else {
                OverwriteTarget::Role(o.target_id as u64)
            },
            allow: Permissions(o.allow_bits as u64),
            deny: Permissions(o.deny_bits as u64),
        })
        .collect()
}

pub fn not_found(what: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("unknown {what}"))
}

pub fn forbidden() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "you lack the permission for this")
}

impl Community {
    pub fn new(store: Arc<dyn Store>, ids: Arc<IdGenerator>, events: Arc<dyn EventBus>) -> Self {
        // Clients repeat "typing" about every 8 s; allow a little more than that.
        let typing_limiter = KeyedLimiter::new(3, 1, std::time::Duration::from_secs(4));
        Self { store, ids, events, typing_limiter }
    }

    /// Publishes after the change is committed, so subscribers never see an event for
    /// something a re-read would not find.
    fn publish(&self, audience: Audience, event: Event, invalidates: Option<i64>) {
        self.events.publish(Envelope::new(audience, event, invalidates));
    }

    /// Publishes to the members who can see the channel.
    fn to_viewers(&self, channel: &ChannelRow, event: Event) {
        let audience = Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
        self.publish(audience, event, None);
    }

    /// A change to the channel itself: sessions re-judge visibility first, so those who
    /// can see it after the change are the ones told.
    fn channel_changed(&self, channel: &ChannelRow, event: Event) {
        let audience = Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
        self.publish(audience, event, Some(channel.server_id));
    }

    /// What `user_id` may do in a server: server-wide, and in each channel they can see.
    /// `None` when that cannot be known now (not a member, or the database failed).
    pub async fn permissions_snapshot(
        &self,
        server_id: i64,
        user_id: i64,
    ) -> Option<(Permissions, Vec<ChannelPermissions>)> {
        let sid = Snowflake::from_i64(server_id)?;
        let access = self.access(sid, user_id).await.ok()?;
        let channels = self.store.channels(server_id).await.ok()?;
        let overwrites = self.store.overwrites(server_id).await.ok()?;
        let in_channels = access.in_channels(&channels, &overwrites).ok()?;
        Some((access.permissions, in_channels))
    }

    fn next_id(&self) -> i64 {
        self.ids.next().as_i64()
    }

    fn audit(
        &self,
        access: &Access,
        action: AuditAction,
        target: Option<i64>,
        reason: Option<String>,
    ) -> NewAudit {
        NewAudit {
            id: self.next_id(),
            server_id: access.server.id,
            actor_id: access.user_id,
            action,
            target_id: target,
            reason,
            now: unix_ms_now(),
        }
    }

    /// Records what a moderator did to `target`'s voice in `server_id`, after the voice
    /// service applied it: one audit entry per change (mute, deafen, move).
    pub async fn audit_voice_moderation(
        &self,
        server_id: Snowflake,
        actor: i64,
        target: i64,
        req: &ModerateVoiceRequest,
    ) -> Result<(), ApiError> {
        let mut changes = Vec::new();
        if let Some(mute) = req.mute {
            let action =
                if mute { AuditAction::MemberVoiceMute } else { AuditAction::MemberVoiceUnmute };
            changes.push((action, None));
        }
        if let Some(deaf) = req.deaf {
            let action = if deaf {
                AuditAction::MemberVoiceDeafen
            } else {
                AuditAction::MemberVoiceUndeafen
            };
            changes.push((action, None));
        }
        if let Some(channel) = req.channel_id {
            changes.push((AuditAction::MemberVoiceMove, Some(channel.as_i64().to_string())));
        }
        for (action, reason) in changes {
            let entry = NewAudit {
                id: self.next_id(),
                server_id: server_id.as_i64(),
                actor_id: actor,
                action,
                target_id: Some(target),
                reason,
                now: unix_ms_now(),
            };
            self.store.add_audit(&entry).await?;
        }
        Ok(())
    }

    /// Loads the caller's membership; `not_found` if the server does not exist or the
    /// caller is not a member (the two are indistinguishable on purpose).
    pub async fn access(&self, server_id: Snowflake, user_id: i64) -> Result<Access, ApiError> {
        let sid = server_id.as_i64();
        let server = self.store.server(sid).await?.ok_or_else(|| not_found("server"))?;
        if self.store.member(sid, user_id).await?.is_none() {
            return Err(not_found("server"));
        }
        let roles = self.store.roles(sid).await?;
        let mine = self.store.member_roles(sid, &[user_id]).await?;
        Ok(build_access(server, user_id, &roles, mine.iter().map(|r| r.role_id)))
    }

    /// Loads a channel the caller can see, with its effective permissions; `not_found`
    /// for channels that do not exist or that the caller cannot view.
    pub async fn channel_access(
        &self,
        channel_id: Snowflake,
        user_id: i64,
    ) -> Result<(ChannelRow, Access, Permissions), ApiError> {
        let channel =
            self.store.channel(channel_id.as_i64()).await?.ok_or_else(|| not_found("channel"))?;
        let Some(server_id) = Snowflake::from_i64(channel.server_id) else {
            return Err(ApiError::internal());
        };
        let access = self.access(server_id, user_id).await.map_err(|_| not_found("channel"))?;
        let overwrites = self.store.overwrites(channel.server_id).await?;
        let perms = access.in_channel(&channel, &overwrites);
        if !perms.contains(Permissions::VIEW_CHANNEL) {
            return Err(not_found("channel"));
        }
        Ok((channel, access, perms))
    }
}

fn build_access(
    server: ServerRow,
    user_id: i64,
    all_roles: &[RoleRow],
    mine: impl Iterator<Item = i64>,
) -> Access {
    let everyone = all_roles
        .iter()
        .find(|r| r.id == server.id)
        .map_or(Permissions::NONE, |r| Permissions(r.permissions as u64));
    let mine: Vec<i64> = mine.collect();
    let roles: Vec<(i64, Permissions, i64)> = all_roles
        .iter()
        .filter(|r| r.id != server.id && mine.contains(&r.id))
        .map(|r| (r.id, Permissions(r.permissions as u64), r.position))
        .collect();
    let is_owner = server.owner_id == user_id;
    let mut access =
        Access { server, user_id, is_owner, everyone, roles, permissions: Permissions::NONE };
    let pairs = access.role_pairs();
    access.permissions = server_permissions(&access.context(&pairs));
    access
}
