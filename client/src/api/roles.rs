//! Roles and channel permissions: what a server owner edits in the administration
//! settings. The server checks MANAGE_ROLES / MANAGE_CHANNELS and role hierarchy; these
//! calls only carry the request.

use auraspeak_shared::v1::channels::{
    Channel, OverwriteKind, SetOverwriteRequest, UpdateChannelRequest,
};
use auraspeak_shared::v1::servers::{CreateRoleRequest, Role, RolePosition, UpdateRoleRequest};
use auraspeak_shared::{ChannelId, RoleId, ServerId, Snowflake, UserId};
use reqwest::Method;

use super::{ApiClient, Body};
use crate::error::Result;

impl ApiClient {
    pub async fn create_role(&self, server: ServerId, request: &CreateRoleRequest) -> Result<Role> {
        let path = format!("/api/v1/servers/{server}/roles");
        self.authed(Method::POST, &path, Body::Json(request)).await
    }

    pub async fn update_role(
        &self,
        server: ServerId,
        role: RoleId,
        request: &UpdateRoleRequest,
    ) -> Result<Role> {
        let path = format!("/api/v1/servers/{server}/roles/{role}");
        self.authed(Method::PATCH, &path, Body::Json(request)).await
    }

    /// Gives each listed role its new position; returns every role in its new order.
    pub async fn reorder_roles(
        &self,
        server: ServerId,
        positions: &[RolePosition],
    ) -> Result<Vec<Role>> {
        let path = format!("/api/v1/servers/{server}/roles");
        self.authed(Method::PATCH, &path, Body::Json(&positions)).await
    }

    pub async fn delete_role(&self, server: ServerId, role: RoleId) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/roles/{role}");
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }

    pub async fn set_member_role(
        &self,
        server: ServerId,
        user: UserId,
        role: RoleId,
        granted: bool,
    ) -> Result<()> {
        let path = format!("/api/v1/servers/{server}/members/{user}/roles/{role}");
        let method = if granted { Method::PUT } else { Method::DELETE };
        self.authed(method, &path, Body::<()>::None).await
    }

    pub async fn update_channel(
        &self,
        channel: ChannelId,
        request: &UpdateChannelRequest,
    ) -> Result<Channel> {
        let path = format!("/api/v1/channels/{channel}");
        self.authed(Method::PATCH, &path, Body::Json(request)).await
    }

    /// Sets (or replaces) the allow and deny bits for one role or member in a channel.
    pub async fn set_overwrite(
        &self,
        channel: ChannelId,
        kind: OverwriteKind,
        target: Snowflake,
        request: &SetOverwriteRequest,
    ) -> Result<Channel> {
        let path = format!("/api/v1/channels/{channel}/overwrites/{}/{target}", kind.as_str());
        self.authed(Method::PUT, &path, Body::Json(request)).await
    }

    pub async fn delete_overwrite(
        &self,
        channel: ChannelId,
        kind: OverwriteKind,
        target: Snowflake,
    ) -> Result<()> {
        let path = format!("/api/v1/channels/{channel}/overwrites/{}/{target}", kind.as_str());
        self.authed(Method::DELETE, &path, Body::<()>::None).await
    }
}
