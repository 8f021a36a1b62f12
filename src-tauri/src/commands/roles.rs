//! Server administration beyond moderation: roles, member roles, channel settings and
//! channel permission overwrites. The server enforces who may do what.

use auraspeak_shared::v1::channels::{
    Channel, OverwriteKind, SetOverwriteRequest, UpdateChannelRequest,
};
use auraspeak_shared::v1::servers::{CreateRoleRequest, Role, RolePosition, UpdateRoleRequest};
use auraspeak_shared::{ChannelId, RoleId, ServerId, Snowflake, UserId};
use tauri::State;

use super::parse_id;
use crate::error::CommandResult;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn create_role(
    state: State<'_, AppState>,
    server_id: String,
    request: CreateRoleRequest,
) -> CommandResult<Role> {
    let server: ServerId = parse_id(&server_id, "server")?;
    Ok(state.api().await?.create_role(server, &request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_role(
    state: State<'_, AppState>,
    server_id: String,
    role_id: String,
    request: UpdateRoleRequest,
) -> CommandResult<Role> {
    let server: ServerId = parse_id(&server_id, "server")?;
    let role: RoleId = parse_id(&role_id, "role")?;
    Ok(state.api().await?.update_role(server, role, &request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn reorder_roles(
    state: State<'_, AppState>,
    server_id: String,
    positions: Vec<RolePosition>,
) -> CommandResult<Vec<Role>> {
    let server: ServerId = parse_id(&server_id, "server")?;
    Ok(state.api().await?.reorder_roles(server, &positions).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_role(
    state: State<'_, AppState>,
    server_id: String,
    role_id: String,
) -> CommandResult<()> {
    let server: ServerId = parse_id(&server_id, "server")?;
    let role: RoleId = parse_id(&role_id, "role")?;
    Ok(state.api().await?.delete_role(server, role).await?)
}

/// Gives (`granted`) or takes a role from a member.
#[tauri::command]
#[specta::specta]
pub async fn set_member_role(
    state: State<'_, AppState>,
    server_id: String,
    user_id: String,
    role_id: String,
    granted: bool,
) -> CommandResult<()> {
    let server: ServerId = parse_id(&server_id, "server")?;
    let user: UserId = parse_id(&user_id, "user")?;
    let role: RoleId = parse_id(&role_id, "role")?;
    Ok(state.api().await?.set_member_role(server, user, role, granted).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_channel(
    state: State<'_, AppState>,
    channel_id: String,
    request: UpdateChannelRequest,
) -> CommandResult<Channel> {
    let channel: ChannelId = parse_id(&channel_id, "channel")?;
    Ok(state.api().await?.update_channel(channel, &request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_overwrite(
    state: State<'_, AppState>,
    channel_id: String,
    kind: OverwriteKind,
    target_id: String,
    request: SetOverwriteRequest,
) -> CommandResult<Channel> {
    let channel: ChannelId = parse_id(&channel_id, "channel")?;
    let target: Snowflake = parse_id(&target_id, "role or user")?;
    Ok(state.api().await?.set_overwrite(channel, kind, target, &request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_overwrite(
    state: State<'_, AppState>,
    channel_id: String,
    kind: OverwriteKind,
    target_id: String,
) -> CommandResult<()> {
    let channel: ChannelId = parse_id(&channel_id, "channel")?;
    let target: Snowflake = parse_id(&target_id, "role or user")?;
    Ok(state.api().await?.delete_overwrite(channel, kind, target).await?)
}
