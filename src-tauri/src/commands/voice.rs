//! Voice: join and leave, mute and deafen, devices, per-user volume, moderation, mic test.

use auraspeak_client::voice::device::{AudioHost, Direction};
use auraspeak_shared::v1::voice::ModerateVoiceRequest;
use serde::Serialize;
use tauri::{AppHandle, State};

use super::parse_id;
use crate::error::{CommandError, CommandResult};
use crate::settings;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AudioDevice {
    /// Stable across restarts: what settings store.
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AudioDevices {
    pub inputs: Vec<AudioDevice>,
    pub outputs: Vec<AudioDevice>,
}

#[tauri::command]
#[specta::specta]
pub async fn voice_join(
    app: AppHandle,
    state: State<'_, AppState>,
    channel_id: String,
) -> CommandResult<()> {
    let channel = parse_id(&channel_id, "channel")?;
    let (gateway, user) = state.gateway().await?;
    let voice_settings = settings::load_voice(&state.store());
    state.voice.join(&app, gateway, user.id, channel, voice_settings).await
}

#[tauri::command]
#[specta::specta]
pub async fn voice_leave(app: AppHandle, state: State<'_, AppState>) -> CommandResult<()> {
    state.voice.leave(&app).await;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub fn voice_set_self_mute(
    app: AppHandle,
    state: State<'_, AppState>,
    muted: bool,
) -> CommandResult<()> {
    state.voice.set_self_mute(&app, muted);
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub fn voice_set_self_deaf(
    app: AppHandle,
    state: State<'_, AppState>,
    deafened: bool,
) -> CommandResult<()> {
    state.voice.set_self_deaf(&app, deafened);
    Ok(())
}

/// The audio devices now present. Listing talks to the sound server, so it runs off the
/// async threads.
#[tauri::command]
#[specta::specta]
pub async fn voice_devices() -> CommandResult<AudioDevices> {
    tauri::async_runtime::spawn_blocking(|| {
        let list = AudioHost::new()?.list()?;
        let devices = |direction| {
            let default = list.default_id(direction);
            list.devices(direction)
                .iter()
                .map(|d| AudioDevice {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    is_default: Some(d.id.as_str()) == default,
                })
                .collect()
        };
        Ok(AudioDevices { inputs: devices(Direction::Input), outputs: devices(Direction::Output) })
    })
    .await
    .map_err(CommandError::internal)?
}

#[tauri::command]
#[specta::specta]
pub fn voice_set_user_volume(
    state: State<'_, AppState>,
    user_id: String,
    percent: u16,
) -> CommandResult<()> {
    let user = parse_id(&user_id, "user")?;
    state.voice.set_user_volume(user, percent);
    state.remember_user_preference(user)
}

#[tauri::command]
#[specta::specta]
pub fn voice_set_user_muted(
    state: State<'_, AppState>,
    user_id: String,
    muted: bool,
) -> CommandResult<()> {
    let user = parse_id(&user_id, "user")?;
    state.voice.set_user_muted(user, muted);
    state.remember_user_preference(user)
}

/// Another user's volume and mute as remembered for this account.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct UserPreferenceInfo {
    pub user_id: String,
    pub volume_percent: u16,
    pub muted: bool,
}

/// The volumes and mutes set for other users, so the participant menus start where the
/// user left them.
#[tauri::command]
#[specta::specta]
pub fn voice_user_preferences(state: State<'_, AppState>) -> Vec<UserPreferenceInfo> {
    state
        .voice
        .preferences()
        .into_iter()
        .map(|(user, (volume_percent, muted))| UserPreferenceInfo {
            user_id: user.to_string(),
            volume_percent,
            muted,
        })
        .collect()
}

/// Server mute, server deafen or move (moderators); the server checks the permission.
#[tauri::command]
#[specta::specta]
pub async fn moderate_voice(
    state: State<'_, AppState>,
    server_id: String,
    user_id: String,
    mute: Option<bool>,
    deaf: Option<bool>,
    channel_id: Option<String>,
) -> CommandResult<()> {
    let request = ModerateVoiceRequest {
        mute,
        deaf,
        channel_id: channel_id.as_deref().map(|c| parse_id(c, "channel")).transpose()?,
    };
    let api = state.api().await?;
    Ok(api
        .moderate_voice(parse_id(&server_id, "server")?, parse_id(&user_id, "user")?, &request)
        .await?)
}

#[tauri::command]
#[specta::specta]
pub fn mic_test(app: AppHandle, state: State<'_, AppState>, enabled: bool) -> CommandResult<()> {
    let voice_settings = settings::load_voice(&state.store());
    state.voice.mic_test(&app, enabled, voice_settings)
}
