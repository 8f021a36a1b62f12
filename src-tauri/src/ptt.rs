//! The global push-to-talk key. On Windows, macOS and X11 the global-shortcut plugin
//! reports press and release even while a game has focus. A Wayland session gives no
//! program the keyboard globally: there the XDG GlobalShortcuts portal asks the desktop to
//! bind the key for us; where the desktop lacks the portal the UI says so.

use tauri::AppHandle;
use tauri_plugin_global_shortcut::{GlobalShortcutExt as _, ShortcutState};
use tauri_specta::Event as _;

use crate::events::ShortcutUnavailable;
use crate::state::AppState;

/// Registers `shortcut` (e.g. "Ctrl+Shift+M") as the push-to-talk key, replacing the
/// previous one. Failures are reported to the UI, never fatal.
pub(crate) fn register(app: &AppHandle, shortcut: &str) {
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::warn!("could not release the old push-to-talk key: {e}");
    }
    if is_wayland_session() {
        #[cfg(target_os = "linux")]
        {
            portal::bind(app, shortcut);
            return;
        }
    }
    let result = shortcuts.on_shortcut(shortcut, |app, _shortcut, event| {
        use tauri::Manager as _;
        let pressed = event.state == ShortcutState::Pressed;
        app.state::<AppState>().voice.push_to_talk(app, pressed);
    });
    if let Err(e) = result {
        tracing::warn!(%shortcut, "push-to-talk key not registered: {e}");
        let _ = ShortcutUnavailable { reason: format!("{shortcut}: {e}") }.emit(app);
    }
}

/// A Wayland session where our window is a native Wayland client: X11 key grabs would see
/// nothing while another application has focus.
fn is_wayland_session() -> bool {
    cfg!(target_os = "linux")
        && std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
        && std::env::var("GDK_BACKEND").map_or(true, |backend| !backend.starts_with("x11"))
}

#[cfg(target_os = "linux")]
mod portal {
    use std::sync::Mutex;

    use tauri::{AppHandle, Manager as _};
    use tauri_specta::Event as _;

    use crate::events::ShortcutUnavailable;
    use crate::state::AppState;

    /// The session of the key bound last: a new key ends the old session (its bus
    /// connection closes with the task), so only one binding is ever live.
    static CURRENT: Mutex<Option<tauri::async_runtime::JoinHandle<()>>> = Mutex::new(None);

    pub(super) fn bind(app: &AppHandle, shortcut: &str) {
        let app = app.clone();
        let shortcut = shortcut.to_owned();
        let task = tauri::async_runtime::spawn(async move {
            let reason = crate::ptt_portal::bind(&shortcut, |pressed| {
                app.state::<AppState>().voice.push_to_talk(&app, pressed);
            })
            .await;
            tracing::warn!("GlobalShortcuts portal: {reason}");
            let _ = ShortcutUnavailable {
                reason: format!(
                    "{shortcut}: the desktop's global shortcuts portal did not bind it \
                     ({reason}); push-to-talk works only while AuraSpeak has focus"
                ),
            }
            .emit(&app);
        });
        let mut current = CURRENT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = current.replace(task) {
            old.abort();
        }
    }
}
