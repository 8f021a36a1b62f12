//! Creating, reading, changing and leaving servers; ownership; the audit log.

use auraspeak_shared::v1::channels::DEFAULT_BITRATE_KBPS;
use auraspeak_shared::v1::servers::{
    AuditAction, AuditLog, CreateServerRequest, Server, ServerDetail, TransferOwnershipRequest,
    UpdateServerRequest,
};
use auraspeak_shared::{ErrorCode, Permissions, Snowflake};

use super::{
    Community, DESCRIPTION_MAX, Fields, SERVER_NAME_MAX, audit_api, channel_api, forbidden,
    member_api, not_found, role_api, server_api,
};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;
use crate::ids::unix_ms_now;
use crate::store::community::NewServer;

impl Community {
    pub async fn create_server(
        &self,
        user_id: i64,
        req: CreateServerRequest,
    ) -> Result<ServerDetail, ApiError> {
        let mut fields = Fields::default();
        let name = fields.text("name", &req.name, 2, SERVER_NAME_MAX);
        let description =
            fields.optional_text("description", req.description.as_deref(), DESCRIPTION_MAX);
        fields.finish()?;
        let id = self.next_id();
        // Every new server starts like Discord's: a text channel and a voice channel.
        let new = NewServer {
            id,
            name,
            description,
            owner_id: user_id,
            everyone_permissions: Permissions::DEFAULT_EVERYONE.0 as i64,
            channels: vec![
                (self.next_id(), "text", "general".to_owned()),
                (self.next_id(), "voice", "General".to_owned()),
            ],
            default_bitrate: DEFAULT_BITRATE_KBPS,
            now: unix_ms_now(),
        };
        self.store.create_server(&new).await?;
        tracing::info!(server_id = id, owner = user_id, "server created");
        let server_id = Snowflake::from_i64(id).ok_or_else(ApiError::internal)?;
        let detail = self.server_detail(server_id, user_id).await?;
        // The creator's other sessions learn about the new server too.
        let event = Event::ServerJoin { detail: Box::new(detail.clone()) };
        self.publish(Audience::User(user_id), event, None);
        Ok(detail)
    }

    pub async fn my_servers(&self, user_id: i64) -> Result<Vec<Server>, ApiError> {
        self.store.servers_of_user(user_id).await?.iter().map(server_api).collect()
    }

    /// The server with the channels the caller can see, all roles and the caller's
    /// membership.
    pub async fn server_detail(
        &self,
        server_id: Snowflake,
        user_id: i64,
    ) -> Result<ServerDetail, ApiError> {
        let access = self.access(server_id, user_id).await?;
        let sid = access.server.id;
        let (channels, overwrites, roles, me) = (
            self.store.channels(sid).await?,
            self.store.overwrites(sid).await?,
            self.store.roles(sid).await?,
            self.store.member(sid, user_id).await?.ok_or_else(|| not_found("server"))?,
        );
        let channel_permissions = access.in_channels(&channels, &overwrites)?;
        let visible = channels
            .iter()
            .filter(|c| channel_permissions.iter().any(|p| p.channel_id.as_i64() == c.id))
            .map(|c| channel_api(c, &overwrites))
            .collect::<Result<_, _>>()?;
        let my_roles = access.roles.iter().map(|(id, _, _)| *id).collect();
        Ok(ServerDetail {
            server: server_api(&access.server)?,
            channels: visible,
            roles: roles.iter().map(role_api).collect::<Result<_, _>>()?,
            me: member_api(&me, my_roles)?,
            my_permissions: access.permissions,
            channel_permissions,
        })
    }

    pub async fn update_server(
        &self,
        server_id: Snowflake,
        user_id: i64,
        req: UpdateServerRequest,
    ) -> Result<Server, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::MANAGE_SERVER)?;
        let mut fields = Fields::default();
        let name = match &req.name {
            Some(n) => fields.text("name", n, 2, SERVER_NAME_MAX),
            None => access.server.name.clone(),
        };
        let description = match &req.description {
            Some(d) => fields.optional_text("description", Some(d), DESCRIPTION_MAX),
            None => access.server.description.clone(),
        };
        fields.finish()?;
        let audit = self.audit(&access, AuditAction::ServerUpdate, Some(access.server.id), None);
        let row = self
            .store
            .update_server(access.server.id, &name, description.as_deref(), &audit)
            .await?
            .ok_or_else(|| not_found("server"))?;
        let server = server_api(&row)?;
        self.publish(
            Audience::Server(row.id),
            Event::ServerUpdate { server: server.clone() },
            None,
        );
        Ok(server)
    }

    /// Owner only; removes the server with everything in it.
    pub async fn delete_server(&self, server_id: Snowflake, user_id: i64) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        if !access.is_owner {
            return Err(forbidden());
        }
        self.store.delete_server(access.server.id).await?;
        let sid = access.server.id;
        self.publish(
            Audience::Server(sid),
            Event::ServerDelete { server_id: server_id.into() },
            Some(sid),
        );
        tracing::info!(server_id = access.server.id, "server deleted");
        Ok(())
    }

    pub async fn leave_server(&self, server_id: Snowflake, user_id: i64) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        if access.is_owner {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "the owner cannot leave: transfer ownership or delete the server",
            ));
        }
        if self.store.remove_member(access.server.id, user_id, None).await? {
            self.member_removed(access.server.id, user_id)?;
        }
        Ok(())
    }

    pub async fn transfer_ownership(
        &self,
        server_id: Snowflake,
        user_id: i64,
        req: TransferOwnershipRequest,
    ) -> Result<Server, ApiError> {
        let access = self.access(server_id, user_id).await?;
        if !access.is_owner {
            return Err(forbidden());
        }
        let target = req.user_id.as_i64();
        let audit = self.audit(&access, AuditAction::OwnershipTransfer, Some(target), None);
        if !self.store.transfer_ownership(access.server.id, target, &audit).await? {
            return Err(not_found("member"));
        }
        let row = self.store.server(access.server.id).await?.ok_or_else(|| not_found("server"))?;
        let server = server_api(&row)?;
        self.publish(
            Audience::Server(row.id),
            Event::ServerUpdate { server: server.clone() },
            Some(row.id),
        );
        Ok(server)
    }

    pub async fn audit_log(
        &self,
        server_id: Snowflake,
        user_id: i64,
        before: Option<Snowflake>,
        limit: Option<u32>,
    ) -> Result<AuditLog, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::VIEW_AUDIT_LOG)?;
        let limit = i64::from(limit.unwrap_or(50).clamp(1, 100));
        let before = before.map_or(i64::MAX, Snowflake::as_i64);
        let rows = self.store.audit_log(access.server.id, before, limit).await?;
        Ok(AuditLog { entries: rows.iter().map(audit_api).collect::<Result<_, _>>()? })
    }
}
