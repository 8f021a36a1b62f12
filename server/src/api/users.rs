//! `/api/v1/users/@me`: the signed-in user's profile and password.

use auraspeak_shared::ErrorBody;
use auraspeak_shared::v1::auth::ChangePasswordRequest;
use auraspeak_shared::v1::users::{CurrentUser, UpdateProfileRequest};
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::{ApiJson, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/users/@me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = CurrentUser),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub async fn get_me(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<ApiJson<CurrentUser>, ApiError> {
    Ok(ApiJson(state.accounts.me(auth).await?))
}

/// Update the caller's profile.
#[utoipa::path(patch, path = "/api/v1/users/@me", tag = "users", security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = CurrentUser),
        (status = 422, description = "validation_failed", body = ErrorBody),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<UpdateProfileRequest>,
) -> Result<ApiJson<CurrentUser>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.accounts.update_profile(auth, req).await?))
}

/// Change the password. Every other session is logged out; this one stays.
#[utoipa::path(post, path = "/api/v1/users/@me/password", tag = "users", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204, description = "Changed; other sessions revoked"),
        (status = 401, description = "invalid_credentials: the current password is wrong", body = ErrorBody),
        (status = 422, description = "validation_failed or weak_password", body = ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state.accounts.change_password(auth, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
