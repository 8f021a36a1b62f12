//! `/api/v1/servers/{id}/voice/{user_id}`: moderators acting on members in voice.

use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use auraspeak_shared::{ErrorBody, ErrorCode, Snowflake};
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

/// Server-mute (MUTE_MEMBERS), server-deafen (DEAFEN_MEMBERS) or move (MOVE_MEMBERS in
/// both channels) a member who is in voice.
#[utoipa::path(patch, path = "/api/v1/servers/{server_id}/voice/{user_id}", tag = "voice", security(("bearer" = [])),
    params(("server_id" = String, Path), ("user_id" = String, Path)), request_body = ModerateVoiceRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The member is not in voice", body = ErrorBody)))]
pub async fn moderate_voice(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((server_id, user_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<ModerateVoiceRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Moderate, &auth)?;
    let voice =
        state.gateway.voice.get().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "voice is disabled on this server")
        })?;
    let audited = req.clone();
    voice.moderate(server_id, auth.user_id.as_i64(), user_id, req).await?;
    state
        .community
        .audit_voice_moderation(server_id, auth.user_id.as_i64(), user_id.as_i64(), &audited)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
