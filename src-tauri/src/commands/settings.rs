//! App and voice settings.

use tauri::{AppHandle, State};

use auraspeak_shared::v1::gateway::{ClientFrame, PresenceStatus};

use crate::error::{CommandError, CommandResult};
use crate::settings::{self, AppSettings, VoiceSettings};
use crate::state::AppState;
use crate::{ptt, tray};

#[tauri::command]
#[specta::specta]
pub fn app_settings(state: State<'_, AppState>) -> AppSettings {
    settings::load_app(&state.store())
}

#[tauri::command]
#[specta::specta]
pub fn set_app_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: AppSettings,
) -> CommandResult<()> {
    let previous = settings::load_app(&state.store());
    settings::save_app(&state.store(), &settings)?;
    if previous.language != settings.language {
        tray::relabel(&app, settings.language);
    }
    Ok(())
}

/// Sets the status others see (online, idle, do not disturb, invisible), now and for
/// every later session.
#[tauri::command]
#[specta::specta]
pub async fn set_presence(state: State<'_, AppState>, status: PresenceStatus) -> CommandResult<()> {
    if status == PresenceStatus::Offline {
        return Err(CommandError::new("invalid_input", "choose invisible to appear offline"));
    }
    {
        let store = state.store();
        let mut app = settings::load_app(&store);
        app.presence = status;
        settings::save_app(&store, &app)?;
    }
    if let Ok((gateway, _)) = state.gateway().await {
        gateway.send(ClientFrame::SetPresence { status }).await?;
    }
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub fn voice_settings(state: State<'_, AppState>) -> VoiceSettings {
    settings::load_voice(&state.store())
}

/// Stores the settings and applies them at once: to a running call, and the new
/// push-to-talk key to the global shortcut.
#[tauri::command]
#[specta::specta]
pub fn set_voice_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: VoiceSettings,
) -> CommandResult<()> {
    let settings = settings.sanitized();
    let previous = settings::load_voice(&state.store());
    settings::save_voice(&state.store(), &settings)?;
    state.voice.apply_settings(&previous, &settings);
    ptt::set_bindings(
        &app,
        &settings.ptt_shortcut,
        &settings.push_to_mute_shortcut,
        &settings.toggle_mute_shortcut,
    );
    state.voice.sync_push_to_talk(&app);
    Ok(())
}
