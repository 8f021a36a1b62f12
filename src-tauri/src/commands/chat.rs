//! Messages: cached and fetched history, sending (with the outbox's nonce), editing,
//! deleting, reactions, read state and typing.

use auraspeak_shared::v1::messages::{HistoryQuery, Message, SendMessageRequest};
use auraspeak_shared::{ChannelId, MessageId, ServerId};
use tauri::{AppHandle, State};

use super::parse_id;
use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// The server pages history at most this many messages at a time.
const MAX_PAGE: u32 = 100;

fn channel(raw: &str) -> CommandResult<ChannelId> {
    parse_id(raw, "channel")
}

fn message(raw: &str) -> CommandResult<MessageId> {
    parse_id(raw, "message")
}

/// What the local cache holds for the channel, oldest first: painted before the network
/// answers.
#[tauri::command]
#[specta::specta]
pub fn cached_messages(
    state: State<'_, AppState>,
    channel_id: String,
) -> CommandResult<Vec<Message>> {
    Ok(state.store().cached_messages(channel(&channel_id)?)?)
}

/// A page of history before `before` (or the newest), oldest first.
#[tauri::command]
#[specta::specta]
pub async fn history(
    state: State<'_, AppState>,
    channel_id: String,
    before: Option<String>,
    limit: u32,
) -> CommandResult<Vec<Message>> {
    let query = HistoryQuery {
        before: before.as_deref().map(message).transpose()?,
        limit: Some(limit.clamp(1, MAX_PAGE)),
        ..HistoryQuery::default()
    };
    let mut messages = state.api().await?.history(channel(&channel_id)?, &query).await?;
    messages.sort_by_key(|m| m.id);
    if query.before.is_none() {
        state.store().cache_messages(&messages)?;
    }
    Ok(messages)
}

#[tauri::command]
#[specta::specta]
pub async fn send_message(
    state: State<'_, AppState>,
    channel_id: String,
    content: String,
    reply_to: Option<String>,
    nonce: String,
) -> CommandResult<Message> {
    let request = SendMessageRequest {
        content,
        reply_to: reply_to.as_deref().map(message).transpose()?,
        nonce: Some(nonce),
    };
    let sent = state.api().await?.send_message(channel(&channel_id)?, &request).await?;
    state.store().cache_messages(std::slice::from_ref(&sent))?;
    Ok(sent)
}

#[tauri::command]
#[specta::specta]
pub async fn edit_message(
    state: State<'_, AppState>,
    channel_id: String,
    message_id: String,
    content: String,
) -> CommandResult<Message> {
    let api = state.api().await?;
    Ok(api.edit_message(channel(&channel_id)?, message(&message_id)?, &content).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_message(
    state: State<'_, AppState>,
    channel_id: String,
    message_id: String,
) -> CommandResult<()> {
    Ok(state.api().await?.delete_message(channel(&channel_id)?, message(&message_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_reaction(
    state: State<'_, AppState>,
    channel_id: String,
    message_id: String,
    emoji: String,
) -> CommandResult<()> {
    let api = state.api().await?;
    Ok(api.react(channel(&channel_id)?, message(&message_id)?, &emoji, true).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_reaction(
    state: State<'_, AppState>,
    channel_id: String,
    message_id: String,
    emoji: String,
) -> CommandResult<()> {
    let api = state.api().await?;
    Ok(api.react(channel(&channel_id)?, message(&message_id)?, &emoji, false).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn ack(
    state: State<'_, AppState>,
    channel_id: String,
    message_id: String,
) -> CommandResult<()> {
    Ok(state.api().await?.ack(channel(&channel_id)?, message(&message_id)?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn start_typing(state: State<'_, AppState>, channel_id: String) -> CommandResult<()> {
    Ok(state.api().await?.typing(channel(&channel_id)?).await?)
}

/// Raises a desktop notification for a message that mentions the user, unless
/// notifications are off or the window has focus; returns whether one was shown.
#[tauri::command]
#[specta::specta]
pub async fn notify_mention(
    app: AppHandle,
    server_id: String,
    channel_id: String,
    title: String,
    body: String,
) -> CommandResult<bool> {
    let server: ServerId = parse_id(&server_id, "server")?;
    let channel: ChannelId = parse_id(&channel_id, "channel")?;
    crate::notify::mention(&app, server, channel, &title, &body)
        .await
        .map_err(|e| CommandError::new("notification_failed", e.to_string()))
}
