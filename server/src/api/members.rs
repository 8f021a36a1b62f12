//! `/api/v1/servers/{id}/members` and `/bans`: membership and moderation.

use auraspeak_shared::v1::servers::{Ban, MemberList, ModerationRequest, UpdateMemberRequest};
use auraspeak_shared::{ErrorBody, Snowflake};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MemberQuery {
    /// Members with a user ID above this one (the previous page's `next_after`).
    pub after: Option<Snowflake>,
    /// 1–1000, default 100.
    pub limit: Option<u32>,
}

/// Members, by user ID, one page at a time.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/members", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), MemberQuery),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiQuery(q): ApiQuery<MemberQuery>,
) -> Result<ApiJson<MemberList>, ApiError> {
    let list = state.community.members(server_id, auth.user_id.as_i64(), q.after, q.limit).await?;
    Ok(ApiJson(list))
}

/// Change a nickname: one's own (CHANGE_NICKNAME) or a lower member's (MANAGE_NICKNAMES).
#[utoipa::path(patch, path = "/api/v1/servers/{server_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path)), request_body = UpdateMemberRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.update_member(server_id, auth.user_id.as_i64(), user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Kick a member (KICK_MEMBERS, only members below one's highest role).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/members/{user_id}/kick", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path)), request_body = ModerationRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn kick_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<ModerationRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Moderate, &auth)?;
    state.community.kick(server_id, auth.user_id.as_i64(), user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a member a role (MANAGE_ROLES, roles below one's highest).
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/members/{user_id}/roles/{role_id}", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id, role_id)): ApiPath<(Snowflake, Snowflake, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state
        .community
        .set_member_role(server_id, auth.user_id.as_i64(), user_id, role_id, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a role from a member (MANAGE_ROLES, roles below one's highest).
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}/members/{user_id}/roles/{role_id}", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id, role_id)): ApiPath<(Snowflake, Snowflake, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state
        .community
        .set_member_role(server_id, auth.user_id.as_i64(), user_id, role_id, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Banned accounts (BAN_MEMBERS).
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/bans", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path)),
    responses((status = 200, body = Vec<Ban>), (status = 403, body = ErrorBody)))]
pub async fn list_bans(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
) -> Result<ApiJson<Vec<Ban>>, ApiError> {
    Ok(ApiJson(state.community.bans(server_id, auth.user_id.as_i64()).await?))
}

/// Ban an account: removes it from the server and keeps it out (BAN_MEMBERS).
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/bans/{user_id}", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path)), request_body = ModerationRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ban_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<ModerationRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Moderate, &auth)?;
    state.community.ban(server_id, auth.user_id.as_i64(), user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a ban (BAN_MEMBERS).
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}/bans/{user_id}", tag = "members", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unban_member(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id)): ApiPath<(Snowflake, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Moderate, &auth)?;
    state.community.unban(server_id, auth.user_id.as_i64(), user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
