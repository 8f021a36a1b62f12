//! `/api/v1/channels/*` and channel creation: channels, overwrites and messages.

use auraspeak_shared::v1::channels::{
    Channel, CreateChannelRequest, OverwriteKind, SetOverwriteRequest, UpdateChannelRequest,
};
use auraspeak_shared::v1::messages::{
    AckRequest, EditMessageRequest, HistoryQuery, Message, MessageList, ReactionUsers,
    SendMessageRequest,
};
use auraspeak_shared::{ErrorBody, Snowflake};
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::account_limits::{Action, limited};
use crate::state::AppState;

/// Create a channel (MANAGE_CHANNELS).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/channels", tag = "channels", security(("bearer" = [])),
    params(("server_id" = String, Path)), request_body = CreateChannelRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 201, body = Channel), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_channel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(server_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<CreateChannelRequest>,
) -> Result<(StatusCode, ApiJson<Channel>), ApiError> {
    limited(&state, Action::Write, &auth)?;
    let channel = state.community.create_channel(server_id, auth.user_id.as_i64(), req).await?;
    Ok((StatusCode::CREATED, ApiJson(channel)))
}

/// Edit a channel (MANAGE_CHANNELS in it).
#[utoipa::path(patch, path = "/api/v1/channels/{channel_id}", tag = "channels", security(("bearer" = [])),
    params(("channel_id" = String, Path)), request_body = UpdateChannelRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_channel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<UpdateChannelRequest>,
) -> Result<ApiJson<Channel>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    Ok(ApiJson(state.community.update_channel(channel_id, auth.user_id.as_i64(), req).await?))
}

/// Delete a channel and its messages (MANAGE_CHANNELS in it).
#[utoipa::path(delete, path = "/api/v1/channels/{channel_id}", tag = "channels", security(("bearer" = [])),
    params(("channel_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_channel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_channel(channel_id, auth.user_id.as_i64()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a role's or member's permission overwrite in a channel.
#[utoipa::path(put, path = "/api/v1/channels/{channel_id}/overwrites/{kind}/{target_id}", tag = "channels", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("kind" = OverwriteKind, Path), ("target_id" = String, Path)),
    request_body = SetOverwriteRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Channel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_overwrite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, kind, target)): ApiPath<(Snowflake, OverwriteKind, Snowflake)>,
    ApiJson(req): ApiJson<SetOverwriteRequest>,
) -> Result<ApiJson<Channel>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    let channel =
        state.community.set_overwrite(channel_id, auth.user_id.as_i64(), kind, target, req).await?;
    Ok(ApiJson(channel))
}

/// Remove a permission overwrite.
#[utoipa::path(delete, path = "/api/v1/channels/{channel_id}/overwrites/{kind}/{target_id}", tag = "channels", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("kind" = OverwriteKind, Path), ("target_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_overwrite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, kind, target)): ApiPath<(Snowflake, OverwriteKind, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_overwrite(channel_id, auth.user_id.as_i64(), kind, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Post a message (SEND_MESSAGES). With a `nonce` already used by the caller in this
/// channel, the earlier message comes back (200) instead of a duplicate (201).
#[utoipa::path(post, path = "/api/v1/channels/{channel_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path)), request_body = SendMessageRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 201, body = Message), (status = 200, description = "Nonce replay", body = Message),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> Result<(StatusCode, ApiJson<Message>), ApiError> {
    if let Some(limits) = &state.limits {
        limits.message(&auth, channel_id.as_i64())?;
    }
    let (message, created) =
        state.community.send_message(channel_id, auth.user_id.as_i64(), req).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, ApiJson(message)))
}

/// Message history, newest first (READ_HISTORY).
#[utoipa::path(get, path = "/api/v1/channels/{channel_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), HistoryQuery),
    responses((status = 200, body = MessageList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<ApiJson<MessageList>, ApiError> {
    Ok(ApiJson(state.community.history(channel_id, auth.user_id.as_i64(), query).await?))
}

/// Edit one's own message.
#[utoipa::path(patch, path = "/api/v1/channels/{channel_id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("message_id" = String, Path)), request_body = EditMessageRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn edit_message(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, message_id)): ApiPath<(Snowflake, Snowflake)>,
    ApiJson(req): ApiJson<EditMessageRequest>,
) -> Result<ApiJson<Message>, ApiError> {
    limited(&state, Action::Write, &auth)?;
    let message =
        state.community.edit_message(channel_id, message_id, auth.user_id.as_i64(), req).await?;
    Ok(ApiJson(message))
}

/// Delete one's own message, or anyone's with MANAGE_MESSAGES.
#[utoipa::path(delete, path = "/api/v1/channels/{channel_id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("message_id" = String, Path)),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_message(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, message_id)): ApiPath<(Snowflake, Snowflake)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.delete_message(channel_id, message_id, auth.user_id.as_i64()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// React to a message (ADD_REACTIONS). Reacting twice with one emoji changes nothing.
#[utoipa::path(put, path = "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path, description = "A Unicode emoji, URL-encoded")),
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, message_id, emoji)): ApiPath<(Snowflake, Snowflake, String)>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::React, &auth)?;
    state.community.add_reaction(channel_id, message_id, auth.user_id.as_i64(), &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take back one's own reaction.
#[utoipa::path(delete, path = "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, message_id, emoji)): ApiPath<(Snowflake, Snowflake, String)>,
) -> Result<StatusCode, ApiError> {
    state.community.remove_reaction(channel_id, message_id, auth.user_id.as_i64(), &emoji).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who reacted with an emoji (first 100).
#[utoipa::path(get, path = "/api/v1/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path), ("message_id" = String, Path), ("emoji" = String, Path)),
    responses((status = 200, body = ReactionUsers), (status = 404, body = ErrorBody)))]
pub async fn reaction_users(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((channel_id, message_id, emoji)): ApiPath<(Snowflake, Snowflake, String)>,
) -> Result<ApiJson<ReactionUsers>, ApiError> {
    let users = state
        .community
        .reaction_users(channel_id, message_id, auth.user_id.as_i64(), &emoji)
        .await?;
    Ok(ApiJson(users))
}

/// Mark the channel read up to a message (moves forward only).
#[utoipa::path(post, path = "/api/v1/channels/{channel_id}/ack", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path)), request_body = AckRequest,
    responses(
        (status = 429, description = "rate_limited: too many of these from this account or this address", body = ErrorBody),
        (status = 204), (status = 404, body = ErrorBody)))]
pub async fn ack(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
    ApiJson(req): ApiJson<AckRequest>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Write, &auth)?;
    state.community.ack(channel_id, auth.user_id.as_i64(), req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Show "… is typing" to the channel (SEND_MESSAGES; rate limited).
#[utoipa::path(post, path = "/api/v1/channels/{channel_id}/typing", tag = "messages", security(("bearer" = [])),
    params(("channel_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody),
        (status = 429, description = "rate_limited: too many from this account in this channel, or from this address", body = ErrorBody)))]
pub async fn typing(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(channel_id): ApiPath<Snowflake>,
) -> Result<StatusCode, ApiError> {
    limited(&state, Action::Typing, &auth)?;
    state.community.typing(channel_id, auth.user_id.as_i64()).await?;
    Ok(StatusCode::NO_CONTENT)
}
