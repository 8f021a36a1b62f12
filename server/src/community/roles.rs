//! Roles: create, edit, delete and reorder, below one's own highest role. Nobody can
//! hand out a permission they do not hold themselves.

use auraspeak_shared::v1::servers::{
    AuditAction, CreateRoleRequest, Role, RolePosition, UpdateRoleRequest,
};
use auraspeak_shared::{Permissions, Snowflake};

use super::{Access, Community, Fields, ROLE_NAME_MAX, forbidden, not_found, role_api};
use auraspeak_shared::v1::gateway::Event;

use crate::api::error::ApiError;
use crate::events::Audience;
use crate::store::community::RoleRow;

const MAX_COLOR: i64 = 0xFF_FFFF;

impl Community {
    fn check_grant(access: &Access, permissions: Permissions) -> Result<(), ApiError> {
        if access.outranks_everything() || access.permissions.contains(permissions.known()) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    pub async fn create_role(
        &self,
        server_id: Snowflake,
        user_id: i64,
        req: CreateRoleRequest,
    ) -> Result<Role, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::MANAGE_ROLES)?;
        let mut fields = Fields::default();
        let name = fields.text("name", &req.name, 1, ROLE_NAME_MAX);
        fields.range("color", req.color, 0, MAX_COLOR);
        fields.finish()?;
        Self::check_grant(&access, req.permissions)?;
        let id = self.next_id();
        let row = RoleRow {
            id,
            server_id: access.server.id,
            name,
            permissions: req.permissions.known().0 as i64,
            position: 0,
            color: req.color,
        };
        let audit = self.audit(&access, AuditAction::RoleCreate, Some(id), None);
        let role = role_api(&self.store.create_role(&row, &audit).await?)?;
        let sid = access.server.id;
        self.publish(
            Audience::Server(sid),
            Event::RoleCreate { server_id: server_id.into(), role: role.clone() },
            Some(sid),
        );
        // Every other role above @everyone (position 0) moved up one to make room: say so,
        // so every client keeps the same order.
        for moved in self.store.roles(sid).await? {
            if moved.id != id && moved.position > 0 {
                let event =
                    Event::RoleUpdate { server_id: server_id.into(), role: role_api(&moved)? };
                self.publish(Audience::Server(sid), event, Some(sid));
            }
        }
        Ok(role)
    }

    /// Loads a role the caller may manage (edit, move, delete, assign): below their
    /// highest role and carrying no permission they lack, unless they are the owner or an
    /// administrator. @everyone is editable by anyone with MANAGE_ROLES who holds its
    /// permissions.
    pub(super) async fn manageable_role(
        &self,
        access: &Access,
        role_id: Snowflake,
    ) -> Result<RoleRow, ApiError> {
        access.require(Permissions::MANAGE_ROLES)?;
        let role = self
            .store
            .role(access.server.id, role_id.as_i64())
            .await?
            .ok_or_else(|| not_found("role"))?;
        if !access.outranks_everything()
            && role.id != access.server.id
            && role.position >= access.top_position()
        {
            return Err(forbidden());
        }
        Self::check_grant(access, Permissions(role.permissions as u64))?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        server_id: Snowflake,
        user_id: i64,
        role_id: Snowflake,
        req: UpdateRoleRequest,
    ) -> Result<Role, ApiError> {
        let access = self.access(server_id, user_id).await?;
        let mut role = self.manageable_role(&access, role_id).await?;
        let mut fields = Fields::default();
        if let Some(name) = &req.name {
            role.name = fields.text("name", name, 1, ROLE_NAME_MAX);
        }
        if let Some(color) = req.color {
            fields.range("color", color, 0, MAX_COLOR);
            role.color = color;
        }
        fields.finish()?;
        if role.id == access.server.id && req.name.is_some() {
            return Err(forbidden());
        }
        if let Some(permissions) = req.permissions {
            Self::check_grant(&access, permissions)?;
            role.permissions = permissions.known().0 as i64;
        }
        let audit = self.audit(&access, AuditAction::RoleUpdate, Some(role.id), None);
        let row = self.store.update_role(&role, &audit).await?.ok_or_else(|| not_found("role"))?;
        let role = role_api(&row)?;
        let sid = access.server.id;
        self.publish(
            Audience::Server(sid),
            Event::RoleUpdate { server_id: server_id.into(), role: role.clone() },
            Some(sid),
        );
        Ok(role)
    }

    pub async fn delete_role(
        &self,
        server_id: Snowflake,
        user_id: i64,
        role_id: Snowflake,
    ) -> Result<(), ApiError> {
        let access = self.access(server_id, user_id).await?;
        let role = self.manageable_role(&access, role_id).await?;
        if role.id == access.server.id {
            return Err(forbidden());
        }
        let audit = self.audit(&access, AuditAction::RoleDelete, Some(role.id), None);
        if !self.store.delete_role(access.server.id, role.id, &audit).await? {
            return Err(not_found("role"));
        }
        let sid = access.server.id;
        let event =
            Event::RoleDelete { server_id: server_id.into(), role_id: super::sf(role.id)?.into() };
        self.publish(Audience::Server(sid), event, Some(sid));
        Ok(())
    }

    /// Moves roles; every role moved and every target position must be below the caller.
    pub async fn reorder_roles(
        &self,
        server_id: Snowflake,
        user_id: i64,
        positions: Vec<RolePosition>,
    ) -> Result<Vec<Role>, ApiError> {
        let access = self.access(server_id, user_id).await?;
        access.require(Permissions::MANAGE_ROLES)?;
        let mut fields = Fields::default();
        if positions.is_empty() || positions.len() > 250 {
            fields.fail("positions", "must list 1 to 250 roles");
        }
        for p in &positions {
            fields.range("position", p.position, 1, 10_000);
        }
        fields.finish()?;
        let mut moves = Vec::with_capacity(positions.len());
        for p in positions {
            let role = self.manageable_role(&access, p.id.0).await?;
            if role.id == access.server.id {
                return Err(forbidden());
            }
            if !access.outranks_everything() && p.position >= access.top_position() {
                return Err(forbidden());
            }
            moves.push((role.id, p.position));
        }
        let audit = self.audit(&access, AuditAction::RoleUpdate, None, None);
        self.store.set_role_positions(access.server.id, &moves, &audit).await?;
        let roles: Vec<Role> = self
            .store
            .roles(access.server.id)
            .await?
            .iter()
            .map(role_api)
            .collect::<Result<_, _>>()?;
        let sid = access.server.id;
        for role in roles.iter().filter(|r| moves.iter().any(|(id, _)| *id == r.id.as_i64())) {
            let event = Event::RoleUpdate { server_id: server_id.into(), role: role.clone() };
            self.publish(Audience::Server(sid), event, Some(sid));
        }
        Ok(roles)
    }
}
