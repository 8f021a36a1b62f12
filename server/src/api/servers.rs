//! `/api/v1/servers/*`: servers, roles, invites of a server and the audit log.

use auraspeak_shared::v1::servers::{
    AuditLog, CreateInviteRequest, CreateRoleRequest, CreateServerRequest, Invite, Role,
    RolePosition, Server, ServerDetail, TransferOwnershipRequest, UpdateRoleRequest,
    UpdateServerRequest,
};
use auraspeak_shared::{ErrorBody, Snowflake};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

fn uid(auth: &Auth) -> i64 {
    auth.user_id.as_i64()
}

/// Create a server; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", security(("bearer" = [])),
    request_body = CreateServerRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 201, body = ServerDetail), (status = 422, body = ErrorBody)))]
pub async fn create_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateServerRequest>,
) -> Result<(StatusCode, ApiJson<ServerDetail>), ApiError> {
    limited(&state, Action::Write, &auth)?;
    let detail = state.community.create_server(uid(&auth), req).await?;
    Ok((StatusCode::CREATED, ApiJson(detail)))
}

/// The servers the caller is a member of.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", security(("bearer" = [])),
    responses((status = 200, body = Vec<Server>)))]
pub async fn my_servers(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<ApiJson<Vec<Server>>, ApiError> {
    Ok(ApiJson(state.community.my_servers(uid(&auth)).await?))
}

/// A server with the channels the caller can see, its roles and the caller's membership.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path)),
    responses((status = 200, body = ServerDetail), (status = 404, body = ErrorBody)))]
pub async fn get_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
) -> Result<ApiJson<ServerDetail>, ApiError> {
    Ok(ApiJson(state.community.server_detail(server_id, uid(&auth)).await?))
}

/// Rename the server or change its description (MANAGE_SERVER).
#[utoipa::path(patch, path = "/api/v1/servers/{server_id}", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = UpdateServerRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Server), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<UpdateServerRequest>,
) -> Result<ApiJson<Server>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.update_server(server_id, uid(&auth), req).await?))
}

/// Delete the server and everything in it (owner only).
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_server(server_id, uid(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a server (not possible for its owner).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/leave", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn leave_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.leave_server(server_id, uid(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hand the server to another member (owner only).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/transfer", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = TransferOwnershipRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Server), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn transfer_server(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<TransferOwnershipRequest>,
) -> Result<ApiJson<Server>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.transfer_ownership(server_id, uid(&auth), req).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries older than this entry ID.
    pub before: Option<Snowflake>,
    /// 1–100, default 50.
    pub limit: Option<u32>,
}

/// Moderation and configuration history, newest first (VIEW_AUDIT_LOG).
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/audit-log", tag = "servers", security(("bearer" = [])),
    params(("server_id" = String, Path), AuditQuery),
    responses((status = 200, body = AuditLog), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<ApiJson<AuditLog>, ApiError> {
    Ok(ApiJson(state.community.audit_log(server_id, uid(&auth), q.before, q.limit).await?))
}

/// Create an invite (CREATE_INVITE).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/invites", tag = "invites", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = CreateInviteRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 201, body = Invite), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<CreateInviteRequest>,
) -> Result<(StatusCode, ApiJson<Invite>), ApiError> {
    limited(&state, Action::Write, &auth)?;
    let invite = state.community.create_invite(server_id, uid(&auth), req).await?;
    Ok((StatusCode::CREATED, ApiJson(invite)))
}

/// The server's invites (MANAGE_SERVER).
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/invites", tag = "invites", security(("bearer" = [])),
    params(("server_id" = String, Path)),
    responses((status = 200, body = Vec<Invite>), (status = 403, body = ErrorBody)))]
pub async fn list_invites(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
) -> Result<ApiJson<Vec<Invite>>, ApiError> {
    Ok(ApiJson(state.community.invites(server_id, uid(&auth)).await?))
}

/// Create a role (MANAGE_ROLES); it is placed above the existing roles.
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/roles", tag = "roles", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = CreateRoleRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 201, body = Role), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, ApiJson<Role>), ApiError> {
    limited(&state, Action::Write, &auth)?;
    let role = state.community.create_role(server_id, uid(&auth), req).await?;
    Ok((StatusCode::CREATED, ApiJson(role)))
}

/// Move roles (MANAGE_ROLES, below one's own highest role).
#[utoipa::path(patch, path = "/api/v1/servers/{server_id}/roles", tag = "roles", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = Vec<RolePosition>,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Vec<Role>), (status = 403, body = ErrorBody)))]
pub async fn reorder_roles(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<Vec<RolePosition>>,
) -> Result<ApiJson<Vec<Role>>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.reorder_roles(server_id, uid(&auth), req).await?))
}

/// Edit a role (MANAGE_ROLES, below one's own highest role).
#[utoipa::path(patch, path = "/api/v1/servers/{server_id}/roles/{role_id}", tag = "roles", security(("bearer" = [])),
    params(("server_id" = String, Path), ("role_id" = String, Path)), request_body = UpdateRoleRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Role), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, role_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<UpdateRoleRequest>,
) -> Result<ApiJson<Role>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.update_role(server_id, uid(&auth), role_id, req).await?))
}

/// Delete a role (MANAGE_ROLES, below one's own highest role).
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}/roles/{role_id}", tag = "roles", security(("bearer" = [])),
    params(("server_id" = String, Path), ("role_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, role_id)): ApiPath<(Snowflake, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_role(server_id, uid(&auth), role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
