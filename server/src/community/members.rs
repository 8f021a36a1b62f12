//! Members: listing, nicknames, role assignment, kicks and bans, with the role hierarchy:
//! nobody acts on a member whose highest role is at or above their own, and nobody acts
//! on the owner. Owner and ADMINISTRATOR stand above every role.

use auraspeak_shared::v1::servers::{
    AuditAction, Ban, Member, MemberList, ModerationRequest, UpdateMemberRequest,
};
use auraspeak_shared::{Permissions, Snowflake, UserId};

use super::{
    Access, Community, Fields, NICKNAME_MAX, REASON_MAX, ban_api, forbidden, member_api, not_found,
};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;

const MAX_PAGE: u32 = 1000;

impl Community {
    /// Tells the server's members (and the member, as `server_delete`) that someone left.
    pub(super) fn member_removed(&self, server_id: i64, user_id: i64) -> Result<(), ApiError> {
        let event = Event::MemberRemove {
            server_id: super::sf(server_id)?.into(),
            user_id: super::sf(user_id)?.into(),
        };
        self.publish(Audience::Server(server_id), event, Some(server_id));
        Ok(())
    }

    /// Publishes a member's current state after a change to it.
    pub(super) async fn member_changed(
        &self,
        server_id: i64,
        user_id: i64,
        roles_changed: bool,
    ) -> Result<(), ApiError> {
        let Some(row) = self.store.member(server_id, user_id).await? else { return Ok(()) };
        let roles = self.store.member_roles(server_id, &[user_id]).await?;
        let member = member_api(&row, roles.iter().map(|r| r.role_id).collect())?;
        let event = Event::MemberUpdate { server_id: super::sf(server_id)?.into(), member };
        self.publish(Audience::Server(server_id), event, roles_changed.then_some(server_id));
        Ok(())
    }

    pub async fn members(
        &self,
        server_id: Snowflake,
        user_id: i64,
        after: Option<Snowflake>,
        limit: Option<u32>,
    ) -> Result<MemberList, ApiError> {
        let access = self.access(server_id, user_id).await?;
        let limit = limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let rows = self
            .store
            .members(access.server.id, after.map_or(0, Snowflake::as_i64), i64::from(limit))
            .await?;
        let ids: Vec<i64> = rows.iter().map(|m| m.user_id).collect();
        let roles = self.store.member_roles(access.server.id, &ids).await?;
        let members = rows
            .iter()
            .map(|m| {
                let mine = roles.iter().filter(|r| r.user_id == m.user_id).map(|r| r.role_id);
                member_api(m, mine.collect())
            })
            .collect::<Result<Vec<Member>, _>>()?;
        let next_after =
            (members.len() == limit as usize).then(|| members.last().map(|m| m.user_id)).flatten();
        Ok(MemberList { members, next_after })
    }

    /// Checks that `actor` may moderate `target` and returns the target's access.
    async fn outranks(&self, actor: &Access, target: i64) -> Result<Access, ApiError> {
        let server_id = Snowflake::from_i64(actor.server.id).ok_or_else(ApiError::internal)?;
        let target = self.access(server_id, target).await.map_err(|_| not_found("member"))?;
        if target.user_id == actor.user_id || !actor.outranks(&target) {
            return Err(forbidden());
        }
        Ok(target)
    }

    pub async fn update_member(
        &self,
        server_id: Snowflake,
        user_id: i64,
        target: Snowflake,
        req: UpdateMemberRequest,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        let target = target.as_i64();
        let Some(nickname) = req.nickname else { return Ok(()) };
        if target == user_id {
            access.require(Permissions::CHANGE_NICKNAME)?;
        } else {
            access.require(Permissions::MANAGE_NICKNAMES)?;
            self.outranks(&access, target).await?;
        }
        let mut fields = Fields::default();
        let nickname = fields.optional_text("nickname", Some(&nickname), NICKNAME_MAX);
        fields.finish()?;
        if !self.store.set_nickname(access.server.id, target, nickname.as_deref()).await? {
            return Err(not_found("member"));
        }
        self.member_changed(access.server.id, target, false).await
    }

    pub async fn kick(
        &self,
        server_id: Snowflake,
        user_id: i64,
        target: Snowflake,
        req: ModerationRequest,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::KICK_MEMBERS)?;
        let reason = reason(req)?;
        let target = self.outranks(&access, target.as_i64()).await?;
        let audit = self.audit(&access, AuditAction::MemberKick, Some(target.user_id), reason);
        if !self.store.remove_member(access.server.id, target.user_id, Some(&audit)).await? {
            return Err(not_found("member"));
        }
        self.member_removed(access.server.id, target.user_id)
    }

    /// Bans a member or any other account (so a troublemaker cannot join later either).
    pub async fn ban(
        &self,
        server_id: Snowflake,
        user_id: i64,
        target: Snowflake,
        req: ModerationRequest,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::BAN_MEMBERS)?;
        let reason = reason(req)?;
        let was_member = self.store.member(access.server.id, target.as_i64()).await?.is_some();
        if was_member {
            self.outranks(&access, target.as_i64()).await?;
        } else if self.store.user_by_id(UserId(target)).await?.is_none() {
            return Err(not_found("user"));
        }
        let target = target.as_i64();
        let audit = self.audit(&access, AuditAction::MemberBan, Some(target), reason.clone());
        self.store.ban(access.server.id, target, reason.as_deref(), &audit).await?;
        if was_member {
            self.member_removed(access.server.id, target)?;
        }
        Ok(())
    }

    pub async fn unban(
        &self,
        server_id: Snowflake,
        user_id: i64,
        target: Snowflake,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::BAN_MEMBERS)?;
        let audit = self.audit(&access, AuditAction::MemberUnban, Some(target.as_i64()), None);
        if !self.store.unban(access.server.id, target.as_i64(), &audit).await? {
            return Err(not_found("ban"));
        }
        Ok(())
    }

    pub async fn bans(&self, server_id: Snowflake, user_id: i64) -> Result<Vec<Ban>, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::BAN_MEMBERS)?;
        self.store.bans(access.server.id).await?.iter().map(ban_api).collect()
    }

    pub async fn set_member_role(
        &self,
        server_id: Snowflake,
        user_id: i64,
        target: Snowflake,
        role_id: Snowflake,
        add: bool,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        // Below one's highest role and holding every permission the role carries (so a
        // lower role with ADMINISTRATOR, made later, is out of reach), as for editing it.
        let role = self.manageable_role(&access, role_id).await?;
        if role.id == access.server.id {
            return Err(not_found("role"));
        }
        let target = target.as_i64();
        if target == user_id {
            // Taking a role for oneself needs nothing more: it grants only what one holds.
            if self.store.member(access.server.id, target).await?.is_none() {
                return Err(not_found("member"));
            }
        } else {
            // Like kicks: nobody changes the roles of the owner or of someone at or above
            // their own highest role.
            self.outranks(&access, target).await?;
        }
        let action = if add { AuditAction::MemberRoleAdd } else { AuditAction::MemberRoleRemove };
        let audit = self.audit(&access, action, Some(target), None);
        let changed = if add {
            self.store.add_member_role(access.server.id, target, role.id, &audit).await?
        } else {
            self.store.remove_member_role(access.server.id, target, role.id, &audit).await?
        };
        if changed {
            self.member_changed(access.server.id, target, true).await?;
        }
        Ok(())
    }
}

fn reason(req: ModerationRequest) -> Result<Option<String>, ApiError> {
    let mut fields = Fields::default();
    let reason = fields.optional_text("reason", req.reason.as_deref(), REASON_MAX);
    fields.finish()?;
    Ok(reason)
}

/// What the voice service needs from the member rules: its moderation follows the same
/// hierarchy (security review L6), and server mute and deafen are stored per member (M1).
impl Community {
    /// Checks that `actor` may act on `target` under the role hierarchy (see the module
    /// docs) and returns the target's access; not a member is `not_found`.
    pub async fn check_outranks(&self, actor: &Access, target: i64) -> Result<Access, ApiError> {
        self.outranks(actor, target).await
    }

    /// The stored server mute and deafen of `user_id` in `server_id`: (mute, deaf).
    pub async fn voice_moderation(
        &self,
        server_id: i64,
        user_id: i64,
    ) -> Result<(bool, bool), ApiError> {
        Ok(self.store.voice_moderation(server_id, user_id).await?)
    }

    /// Stores server mute and/or deafen (`None` keeps the current value).
    pub async fn set_voice_moderation(
        &self,
        server_id: i64,
        user_id: i64,
        mute: Option<bool>,
        deaf: Option<bool>,
    ) -> Result<(), ApiError> {
        Ok(self.store.set_voice_moderation(server_id, user_id, mute, deaf).await?)
    }
}
