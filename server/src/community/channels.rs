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
use crate::store::community::{ChannelUpdate, NewChannel, OverwriteRow};

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
    ) -> Result<(crate::store::community::ChannelRow, Access), ApiError> {
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
        fields.finish()?;
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
        self.publish(Audience::Server(channel.server_id), event, Some(channel.server_id));
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
        if !access.outranks_everything() {
            access.require(Permissions::MANAGE_ROLES)?;
            if !access.permissions.contains((req.allow | req.deny).known()) {
                return Err(forbidden());
            }
        }
        let target_id = target.as_i64();
        let target_exists = match kind {
            OverwriteKind::Role => self.store.role(access.server.id, target_id).await?.is_some(),
            OverwriteKind::Member => {
                self.store.member(access.server.id, target_id).await?.is_some()
            }
        };
        if !target_exists {
            return Err(not_found(kind.as_str()));
        }
        let row = OverwriteRow {
            channel_id: channel.id,
            target_kind: kind.as_str().to_owned(),
            target_id,
            allow_bits: req.allow.known().0 as i64,
            deny_bits: (req.deny.known() & !req.allow.known()).0 as i64,
        };
        let audit = self.audit(&access, AuditAction::OverwriteUpdate, Some(channel.id), None);
        self.store.set_overwrite(&row, &audit).await?;
        let overwrites = self.store.overwrites(access.server.id).await?;
        let updated = channel_api(&channel, &overwrites)?;
        self.channel_changed(&channel, Event::ChannelUpdate { channel: updated.clone() });
        Ok(updated)
    }

    pub async fn delete_overwrite(
        &self,
        channel_id: Snowflake,
        user_id: i64,
        kind: OverwriteKind,
        target: Snowflake,
    ) -> Result<(), ApiError> {
        let (channel, access) = self.managed_channel(channel_id, user_id).await?;
        if !access.outranks_everything() {
            access.require(Permissions::MANAGE_ROLES)?;
        }
        let audit = self.audit(&access, AuditAction::OverwriteDelete, Some(channel.id), None);
        if !self.store.delete_overwrite(channel.id, kind.as_str(), target.as_i64(), &audit).await? {
            return Err(not_found("overwrite"));
        }
        let overwrites = self.store.overwrites(access.server.id).await?;
        let updated = channel_api(&channel, &overwrites)?;
        self.channel_changed(&channel, Event::ChannelUpdate { channel: updated });
        Ok(())
    }
}
