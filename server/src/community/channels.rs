//! Channels and their permission overwrites.

use auraspeak_shared::v1::channels::{
    Channel, ChannelKind, CreateChannelRequest, DEFAULT_BITRATE_KBPS, MAX_BITRATE_KBPS,
    MAX_USER_LIMIT, MIN_BITRATE_KBPS, OverwriteKind, SetOverwriteRequest, UpdateChannelRequest,
};
use auraspeak_shared::v1::servers::AuditAction;
use auraspeak_shared::{Permissions, Snowflake};

use super::{
    Access, CHANNEL_NAME_MAX, Community, Fields, TOPIC_MAX, channel_api, forbidden, not_found,
};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;
use crate::store::community::{ChannelRow, ChannelUpdate, NewChannel, OverwriteRow, OwnOverwrites};

impl Community {
    /// A category in the same server, for `parent_id`.
    async fn check_parent(
        &self,
        access: &Access,
        parent: i64,
        fields: &mut Fields,
    ) -> Result<(), ApiError> {
        match self.store.channel(parent).await? {
            Some(c) if c.server_id == access.server.id && c.kind == "category" => {}
            _ => fields.fail("parent_id", "must be a category of this server"),
        }
        Ok(())
    }

    /// Overwrites are edited with MANAGE_ROLES, for @everyone, roles below one's highest
    /// and members one outranks (or oneself), as role edits and moderation are.
    async fn check_overwrite_target(
        &self,
        access: &Access,
        kind: OverwriteKind,
        target_id: i64,
    ) -> Result<(), ApiError> {
        match kind {
            OverwriteKind::Role => {
                let role = self
                    .store
                    .role(access.server.id, target_id)
                    .await?
                    .ok_or_else(|| not_found("role"))?;
                if access.outranks_everything() {
                    return Ok(());
                }
                access.require(Permissions::MANAGE_ROLES)?;
                if role.id != access.server.id && role.position >= access.top_position() {
                    return Err(forbidden());
                }
            }
            OverwriteKind::Member => {
                if !access.outranks_everything() {
                    access.require(Permissions::MANAGE_ROLES)?;
                }
                let sid = Snowflake::from_i64(access.server.id).ok_or_else(ApiError::internal)?;
                let target = self.access(sid, target_id).await.map_err(|_| not_found("member"))?;
                if target_id != access.user_id && !access.outranks(&target) {
                    return Err(forbidden());
                }
            }
        }
        Ok(())
    }

    pub async fn create_channel(
        &self,
        server_id: Snowflake,
        user_id: i64,
        req: CreateChannelRequest,
    ) -> Result<Channel, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::MANAGE_CHANNELS)?;
        let mut fields = Fields::default();
        let name = fields.text("name", &req.name, 1, CHANNEL_NAME_MAX);
        let topic = fields.optional_text("topic", req.topic.as_deref(), TOPIC_MAX);
        let voice = req.kind == ChannelKind::Voice;
        let bitrate = voice.then(|| req.bitrate_kbps.unwrap_or(DEFAULT_BITRATE_KBPS));
        let user_limit = voice.then(|| req.user_limit.unwrap_or(0));
        if let Some(b) = bitrate {
            fields.range("bitrate_kbps", b, MIN_BITRATE_KBPS, MAX_BITRATE_KBPS);
        }
        if let Some(l) = user_limit {
            fields.range("user_limit", l, 0, MAX_USER_LIMIT);
        }
        if let Some(p) = req.position {
            fields.range("position", p, 0, 10_000);
        }
        let parent = req.parent_id.map(|p| p.as_i64());
        if let Some(parent) = parent {
            if req.kind == ChannelKind::Category {
                fields.fail("parent_id", "categories cannot be nested");
            } else {
                self.check_parent(&access, parent, &mut fields).await?;
            }
        }
        fields.finish()?;
        let id = self.next_id();
        let new = NewChannel {
            id,
            server_id: access.server.id,
            kind: req.kind.as_str(),
            name,
            topic,
            position: req.position,
            parent_id: parent,
            bitrate,
            user_limit,
        };
        let audit = self.audit(&access, AuditAction::ChannelCreate, Some(id), None);
        let row = self.store.create_channel(&new, &audit).await?;
        let channel = channel_api(&row, &[])?;
        self.channel_changed(&row, Event::ChannelCreate { channel: channel.clone() });
        Ok(channel)
    }

    /// Loads a channel the caller can see and manage.
    async fn managed_channel(
        &self,
        channel_id: Snowflake,
        user_id: i64,
    ) -> Result<(ChannelRow, Access), ApiError> {
        let (channel, access, perms) = self.channel_access(channel_id, user_id).await?;
        if !perms.contains(Permissions::MANAGE_CHANNELS) && !access.outranks_everything() {
            return Err(forbidden());
        }
        Ok((channel, access))
    }

    pub async fn update_channel(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        req: UpdateChannelRequest,
    ) -> Result<Channel, ApiError> {
        let (channel, access) = self.managed_channel(channel_id, user_id).await?;
        let voice = channel.kind == "voice";
        let mut fields = Fields::default();
        let mut update = ChannelUpdate {
            name: channel.name.clone(),
            topic: channel.topic.clone(),
            position: channel.position,
            parent_id: channel.parent_id,
            bitrate: channel.bitrate,
            user_limit: channel.user_limit,
            overwrites: OwnOverwrites::Keep,
        };
        if let Some(name) = &req.name {
            update.name = fields.text("name", name, 1, CHANNEL_NAME_MAX);
        }
        if let Some(topic) = &req.topic {
            update.topic = fields.optional_text("topic", Some(topic), TOPIC_MAX);
        }
        if let Some(p) = req.position {
            fields.range("position", p, 0, 10_000);
            update.position = p;
        }
        if let Some(parent) = req.parent_id {
            if parent.get() == 0 {
                update.parent_id = None;
            } else if channel.kind == "category" || parent.as_i64() == channel.id {
                fields.fail("parent_id", "categories cannot be nested");
            } else {
                self.check_parent(&access, parent.as_i64(), &mut fields).await?;
                update.parent_id = Some(parent.as_i64());
            }
        }
        match (voice, req.bitrate_kbps, req.user_limit) {
            (false, None, None) => {}
            (false, _, _) => {
                fields.fail("bitrate_kbps", "only voice channels have a bitrate or user limit")
            }
            (true, bitrate, limit) => {
                if let Some(b) = bitrate {
                    fields.range("bitrate_kbps", b, MIN_BITRATE_KBPS, MAX_BITRATE_KBPS);
                    update.bitrate = Some(b);
                }
                if let Some(l) = limit {
                    fields.range("user_limit", l, 0, MAX_USER_LIMIT);
                    update.user_limit = Some(l);
                }
            }
        }
        if req.sync_permissions == Some(true) && update.parent_id.is_none() {
            fields.fail("sync_permissions", "only a channel in a category can sync");
        }
        fields.finish()?;
        let all_overwrites = self.store.overwrites(access.server.id).await?;
        let synced = channel.parent_id.is_some()
            && !all_overwrites.iter().any(|o| o.channel_id == channel.id);
        if req.sync_permissions == Some(true) {
            // Dropping overwrites changes every bit they hold: only for those who could
            // have removed each of them.
            if !access.outranks_everything() {
                access.require(Permissions::MANAGE_ROLES)?;
                let dropped = all_overwrites
                    .iter()
                    .filter(|o| o.channel_id == channel.id)
                    .fold(Permissions::NONE, |p, o| {
                        p | Permissions((o.allow_bits | o.deny_bits) as u64)
                    });
                if !access.permissions.contains(dropped.known()) {
                    return Err(forbidden());
                }
            }
            update.overwrites = OwnOverwrites::Clear;
        } else if synced && update.parent_id != channel.parent_id {
            // A synced channel leaving its category keeps what applied to it.
            if let Some(old_parent) = channel.parent_id {
                update.overwrites = OwnOverwrites::CopyFrom(old_parent);
            }
        }
        let audit = self.audit(&access, AuditAction::ChannelUpdate, Some(channel.id), None);
        let row = self
            .store
            .update_channel(channel.id, &update, &audit)
            .await?
            .ok_or_else(|| not_found("channel"))?;
        let overwrites = self.store.overwrites(access.server.id).await?;
        let updated = channel_api(&row, &overwrites)?;
        self.channel_changed(&row, Event::ChannelUpdate { channel: updated.clone() });
        Ok(updated)
    }

    pub async fn delete_channel(
        &self,
        channel_id: Snowflake,
        user_id: i64,
    ) -> Result<(), ApiError> {
        let (channel, access) = self.managed_channel(channel_id, user_id).await?;
        let audit = self.audit(&access, AuditAction::ChannelDelete, Some(channel.id), None);
        if !self.store.delete_channel(channel.id, &audit).await? {
            return Err(not_found("channel"));
        }
        let event = Event::ChannelDelete {
            server_id: super::sf(channel.server_id)?.into(),
            channel_id: channel_id.into(),
        };
        // Only those who could see it learn that it is gone (its ID stays private); each
        // session judges that from what it knew before this change.
        let audience = Audience::Channel { server_id: channel.server_id, channel_id: channel.id };
        self.publish(audience, event, Some(channel.server_id));
        Ok(())
    }

    /// Sets the overwrite for a role or member. Like roles, nobody can allow or deny a
    /// permission they do not hold.
    pub async fn set_overwrite(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        kind: OverwriteKind,
        target: Snowflake,
        req: SetOverwriteRequest,
    ) -> Result<Channel, ApiError> {
        let (channel, access) = self.managed_channel(channel_id, user_id).await?;
        let target_id = target.as_i64();
        self.check_overwrite_target(&access, kind, target_id).await?;
        let all = self.store.overwrites(access.server.id).await?;
        // The first overwrite of a synced channel starts from its category's, so that a
        // change to one entry does not drop the category's others (a private category's
        // @everyone deny above all).
        let synced = channel.parent_id.is_some() && !all.iter().any(|o| o.channel_id == channel.id);
        let copy_from = channel.parent_id.filter(|_| synced);
        if !access.outranks_everything() {
            // Changing a bit (either way) needs holding it: both the bits asked for and
            // those of the entry it replaces (the category's, for a synced channel).
            let source = copy_from.unwrap_or(channel.id);
            let old = all
                .iter()
                .find(|o| {
                    o.channel_id == source
                        && o.target_kind == kind.as_str()
                        && o.target_id == target_id
                })
                .map_or(Permissions::NONE, |o| Permissions((o.allow_bits | o.deny_bits) as u64));
            if !access.permissions.contains((req.allow | req.deny | old).known()) {
                return Err(forbidden());
            }
        }
        let row = OverwriteRow {
            channel_id: channel.id,
            target_kind: kind.as_str().to_owned(),
            target_id,
            allow_bits: req.allow.known().0 as i64,
            deny_bits: (req.deny.known() & !req.allow.known()).0 as i64,
        };
        let audit = self.audit(&access, AuditAction::OverwriteUpdate, Some(channel.id), None);
        self.store.set_overwrite(&row, copy_from, &audit).await?;
        self.overwrites_changed(&channel).await
    }

    pub async fn delete_overwrite(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        kind: OverwriteKind,
        target: Snowflake,
    ) -> Result<(), ApiError> {
        let (channel, access) = self.managed_channel(channel_id, user_id).await?;
        let target_id = target.as_i64();
        self.check_overwrite_target(&access, kind, target_id).await?;
        if !access.outranks_everything() {
            let all = self.store.overwrites(access.server.id).await?;
            let old = all
                .iter()
                .find(|o| {
                    o.channel_id == channel.id
                        && o.target_kind == kind.as_str()
                        && o.target_id == target_id
                })
                .ok_or_else(|| not_found("overwrite"))?;
            if !access.permissions.contains(Permissions((old.allow_bits | old.deny_bits) as u64)) {
                return Err(forbidden());
            }
        }
        let audit = self.audit(&access, AuditAction::OverwriteDelete, Some(channel.id), None);
        if !self.store.delete_overwrite(channel.id, kind.as_str(), target.as_i64(), &audit).await? {
            return Err(not_found("overwrite"));
        }
        self.overwrites_changed(&channel).await?;
        Ok(())
    }

    /// Announces a channel whose overwrites changed, and for a category every channel
    /// synced to it: those may have become visible to someone who never saw them.
    async fn overwrites_changed(&self, channel: &ChannelRow) -> Result<Channel, ApiError> {
        let overwrites = self.store.overwrites(channel.server_id).await?;
        if channel.kind == "category" {
            for child in self.store.channels(channel.server_id).await? {
                if child.parent_id == Some(channel.id)
                    && !overwrites.iter().any(|o| o.channel_id == child.id)
                {
                    let event = Event::ChannelUpdate { channel: channel_api(&child, &overwrites)? };
                    self.channel_changed(&child, event);
                }
            }
        }
        let updated = channel_api(channel, &overwrites)?;
        self.channel_changed(channel, Event::ChannelUpdate { channel: updated.clone() });
        Ok(updated)
    }
}
