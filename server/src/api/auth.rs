//! `/api/v1/auth/*`: register, login, refresh, logout and the session list.

use auraspeak_shared::SessionId;
use auraspeak_shared::v1::auth::{
    AuthResponse, LoginRequest, RefreshRequest, RegisterRequest, SessionList, Tokens,
};
use auraspeak_shared::{ErrorBody, ErrorCode};
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, ClientIp};
use crate::config::Registration;
use crate::state::AppState;

/// Create an account and log in on this device.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created, session started", body = AuthResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "registration_closed, or invite_required where registration is by invitation", body = ErrorBody),
        (status = 404, description = "not_found: the invite given is unknown or expired", body = ErrorBody),
        (status = 409, description = "username_taken or email_taken", body = ErrorBody),
        (status = 422, description = "validation_failed or weak_password", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, ApiJson<AuthResponse>), ApiError> {
    // Checked before anything else, argon2 included: a closed door costs nothing.
    let invite = admitted_by(&state, req.invite.as_deref()).await?;
    let response = state.accounts.register(req, ip).await?;
    if let Some(code) = invite {
        // Another registration may have used the invite's last use since the check; the
        // account exists by then, so it simply does not join.
        if let Err(e) = state.community.accept_invite(&code, response.user.id.as_i64()).await {
            tracing::info!(error = ?e, "new account could not join through its invite");
        }
    }
    Ok((StatusCode::CREATED, ApiJson(response)))
}

/// Applies `auth.registration`; returns the invite code to join with, if one was given.
async fn admitted_by(state: &AppState, invite: Option<&str>) -> Result<Option<String>, ApiError> {
    let invite = invite.map(str::trim).filter(|c| !c.is_empty());
    match (state.config.auth.registration, invite) {
        (Registration::Closed, _) => Err(ApiError::new(
            ErrorCode::RegistrationClosed,
            "this server does not take new accounts; ask its administrator",
        )),
        (Registration::Invite, None) => Err(invite_required()),
        (Registration::Invite, Some(code)) => match state.community.preview_invite(code).await {
            Ok(_) => Ok(Some(code.to_owned())),
            Err(_) => Err(invite_required()),
        },
        (Registration::Open, None) => Ok(None),
        // Open doors still refuse a bad invite rather than quietly not joining.
        (Registration::Open, Some(code)) => {
            state.community.preview_invite(code).await?;
            Ok(Some(code.to_owned()))
        }
    }
}

fn invite_required() -> ApiError {
    ApiError::new(
        ErrorCode::InviteRequired,
        "this server takes new accounts by invitation: a valid invite code is needed",
    )
}

/// Log in with a username or email address and start a session for this device.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Session started", body = AuthResponse),
        (status = 401, description = "invalid_credentials (same for unknown accounts)", body = ErrorBody),
        (status = 429, description = "rate_limited, per address or per account", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<ApiJson<AuthResponse>, ApiError> {
    Ok(ApiJson(state.accounts.login(req, ip).await?))
}

/// Exchange a refresh token for a new access token and a new refresh token.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the presented refresh token is spent", body = Tokens),
        (status = 401, description = "invalid_refresh_token, or refresh_token_reused (session ended)", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<ApiJson<Tokens>, ApiError> {
    Ok(ApiJson(state.accounts.refresh(req, ip).await?))
}

/// End the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    state.accounts.logout(auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the caller's active sessions (devices), newest first.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = SessionList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<ApiJson<SessionList>, ApiError> {
    Ok(ApiJson(state.accounts.sessions(auth).await?))
}

/// Log a device out remotely. Its next request fails with `session_revoked`.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{session_id}", tag = "auth",
    security(("bearer" = [])),
    params(("session_id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "invalid_parameter", body = ErrorBody),
        (status = 404, description = "No such active session of yours", body = ErrorBody),
    ))]
pub async fn revoke_session(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(session_id): ApiPath<SessionId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_session(auth, session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
