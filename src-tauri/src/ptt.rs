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
            tauri::async_runtime::spawn(portal::bind(app.clone(), shortcut.to_owned()));
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
    use ashpd::desktop::global_shortcuts::{GlobalShortcuts, NewShortcut};
    use futures_util::StreamExt as _;
    use tauri::{AppHandle, Manager as _};
    use tauri_specta::Event as _;

    use crate::events::ShortcutUnavailable;
    use crate::state::AppState;

    const ID: &str = "push-to-talk";

    pub(super) async fn bind(app: AppHandle, shortcut: String) {
        if let Err(e) = run(&app, &shortcut).await {
            tracing::warn!("GlobalShortcuts portal: {e}");
            let _ = ShortcutUnavailable {
                reason: format!(
                    "this Wayland desktop offers no global shortcuts portal ({e}); \
                     push-to-talk works only while AuraSpeak has focus"
                ),
            }
            .emit(&app);
        }
    }

    async fn run(app: &AppHandle, shortcut: &str) -> ashpd::Result<()> {
        let portal = GlobalShortcuts::new().await?;
        let session = portal.create_session(Default::default()).await?;
        let trigger = shortcut.to_ascii_uppercase();
        let request = NewShortcut::new(ID, "Push to talk").preferred_trigger(trigger.as_str());
        portal.bind_shortcuts(&session, &[request], None, Default::default()).await?.response()?;
        let mut activated = portal.receive_activated().await?;
        let mut deactivated = portal.receive_deactivated().await?;
        loop {
            let pressed = tokio::select! {
                Some(event) = activated.next() => (event.shortcut_id() == ID).then_some(true),
                Some(event) = deactivated.next() => (event.shortcut_id() == ID).then_some(false),
                else => return Ok(()),
            };
            if let Some(pressed) = pressed {
                app.state::<AppState>().voice.push_to_talk(app, pressed);
            }
        }
    }
}
