//! Servers (guilds): listing, creating, joining by invite, members and moderation.

use auraspeak_shared::v1::channels::{Channel, CreateChannelRequest};
use auraspeak_shared::v1::servers::{
    AuditEntry, Ban, CreateInviteRequest, Invite, Member, Server, ServerDetail,
};
use auraspeak_shared::{ServerId, UserId};
use tauri::State;

use super::parse_id;
use crate::error::CommandResult;
use crate::state::AppState;

/// Members fetched per page; a server's whole member list is fetched page by page.
const MEMBER_PAGE: u32 = 1000;
/// Enough for the member list of any community we expect; beyond it the list is cut.
const MAX_MEMBERS: usize = 20_000;

fn server(raw: &str) -> CommandResult<ServerId> {
    parse_id(raw, "server")
}

fn user(raw: &str) -> CommandResult<UserId> {
    parse_id(raw, "user")
}

#[tauri::command]
#[specta::specta]
pub async fn list_servers(state: State<'_, AppState>) -> CommandResult<Vec<Server>> {
    Ok(state.api().await?.servers().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn server_detail(
    state: State<'_, AppState>,
    server_id: String,
) -> CommandResult<ServerDetail> {
    Ok(state.api().await?.server(server(&server_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_server(
    state: State<'_, AppState>,
    name: String,
) -> CommandResult<ServerDetail> {
    Ok(state.api().await?.create_server(&name, None).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn join_invite(
    state: State<'_, AppState>,
    code_or_link: String,
) -> CommandResult<Server> {
    Ok(state.api().await?.join_invite(&code_or_link).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_invite(
    state: State<'_, AppState>,
    server_id: String,
    max_uses: Option<i64>,
    max_age_secs: Option<i64>,
) -> CommandResult<Invite> {
    let request = CreateInviteRequest { max_age_secs, max_uses };
    Ok(state.api().await?.create_invite(server(&server_id)?, &request).await?)
}

/// Revokes an invite: its link stops working at once.
#[tauri::command]
#[specta::specta]
pub async fn revoke_invite(state: State<'_, AppState>, code: String) -> CommandResult<()> {
    Ok(state.api().await?.delete_invite(&code).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_invites(
    state: State<'_, AppState>,
    server_id: String,
) -> CommandResult<Vec<Invite>> {
    Ok(state.api().await?.invites(server(&server_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_members(
    state: State<'_, AppState>,
    server_id: String,
) -> CommandResult<Vec<Member>> {
    let api = state.api().await?;
    let id = server(&server_id)?;
    let mut members = Vec::new();
    let mut after = None;
    loop {
        let page = api.members(id, after, MEMBER_PAGE).await?;
        members.extend(page.members);
        match page.next_after {
            Some(next) if members.len() < MAX_MEMBERS => after = Some(next),
            _ => return Ok(members),
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn leave_server(state: State<'_, AppState>, server_id: String) -> CommandResult<()> {
    Ok(state.api().await?.leave_server(server(&server_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_channel(
    state: State<'_, AppState>,
    server_id: String,
    request: CreateChannelRequest,
) -> CommandResult<Channel> {
    Ok(state.api().await?.create_channel(server(&server_id)?, &request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_channel(state: State<'_, AppState>, channel_id: String) -> CommandResult<()> {
    Ok(state.api().await?.delete_channel(parse_id(&channel_id, "channel")?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn kick_member(
    state: State<'_, AppState>,
    server_id: String,
    user_id: String,
    reason: Option<String>,
) -> CommandResult<()> {
    let api = state.api().await?;
    Ok(api.kick_member(server(&server_id)?, user(&user_id)?, reason.as_deref()).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn ban_member(
    state: State<'_, AppState>,
    server_id: String,
    user_id: String,
    reason: Option<String>,
) -> CommandResult<()> {
    let api = state.api().await?;
    Ok(api.ban_member(server(&server_id)?, user(&user_id)?, reason.as_deref()).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn unban_member(
    state: State<'_, AppState>,
    server_id: String,
    user_id: String,
) -> CommandResult<()> {
    Ok(state.api().await?.unban_member(server(&server_id)?, user(&user_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_bans(state: State<'_, AppState>, server_id: String) -> CommandResult<Vec<Ban>> {
    Ok(state.api().await?.bans(server(&server_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn audit_log(
    state: State<'_, AppState>,
    server_id: String,
) -> CommandResult<Vec<AuditEntry>> {
    Ok(state.api().await?.audit_log(server(&server_id)?).await?)
}
