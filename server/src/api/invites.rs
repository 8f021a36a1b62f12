//! `/api/v1/invites/{code}`: preview (no account needed), accept, revoke.

use auraspeak_shared::ErrorBody;
use auraspeak_shared::v1::servers::{InvitePreview, Server};
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

/// What an invite leads to: server name and member count. No account needed.
#[utoipa::path(get, path = "/api/v1/invites/{code}", tag = "invites",
    params(("code" = String, Path)),
    responses((status = 200, body = InvitePreview), (status = 404, description = "Unknown, expired or used up", body = ErrorBody)))]
pub async fn preview_invite(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<ApiJson<InvitePreview>, ApiError> {
    Ok(ApiJson(state.community.preview_invite(&code).await?))
}

/// Join the server an invite leads to.
#[utoipa::path(post, path = "/api/v1/invites/{code}", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Server), (status = 403, description = "banned", body = ErrorBody),
        (status = 404, description = "Unknown, expired or used up", body = ErrorBody)))]
pub async fn accept_invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(code): ApiPath<String>,
) -> Result<ApiJson<Server>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.accept_invite(&code, auth.user_id.as_i64()).await?))
}

/// Revoke an invite (its creator, or MANAGE_SERVER).
#[utoipa::path(delete, path = "/api/v1/invites/{code}", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(code): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_invite(&code, auth.user_id.as_i64()).await?;
    Ok(StatusCode::NO_CONTENT)
}
