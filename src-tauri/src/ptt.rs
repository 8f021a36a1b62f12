//! The global push-to-talk key, heard only while it is in use: in a call with
//! push-to-talk selected. Elsewhere (chat, voice activity, no call) the key is nobody's
//! business but the application that has focus.
//!
//! - X11: XInput2 raw events (`ptt/x11.rs`), which listen without grabbing, so a key that
//!   also types (V, T, Caps Lock) still types everywhere, and mouse side buttons work.
//! - Wayland: no program sees the keyboard globally; the XDG GlobalShortcuts portal asks
//!   the desktop to bind the key for us; where the desktop lacks the portal the UI says so.
//! - Windows and macOS (and X11 without XInput 2.1): the global-shortcut plugin, which
//!   registers a system hotkey and so takes the key from other applications; it is
//!   registered only while push-to-talk is in use, never for good.

mod chord;
#[cfg(target_os = "linux")]
mod x11;

use std::sync::{Mutex, MutexGuard, PoisonError};

use tauri::AppHandle;
use tauri_plugin_global_shortcut::{GlobalShortcutExt as _, ShortcutState};
use tauri_specta::Event as _;

use crate::events::ShortcutUnavailable;
use crate::state::AppState;

struct State {
    binding: String,
    active: bool,
    #[cfg(target_os = "linux")]
    x11: Option<x11::Listener>,
    /// Why the X11 listener could not start (tried once per run).
    #[cfg(target_os = "linux")]
    x11_failed: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    binding: String::new(),
    active: false,
    #[cfg(target_os = "linux")]
    x11: None,
    #[cfg(target_os = "linux")]
    x11_failed: None,
});

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The push-to-talk key changed (or the app started). Must not be called with the voice
/// controller's lock held: letting go of a held key reports a release to it.
pub(crate) fn set_binding(app: &AppHandle, shortcut: &str) {
    let mut state = state();
    state.binding = shortcut.to_owned();
    if is_wayland_session() {
        #[cfg(target_os = "linux")]
        portal::bind(app, shortcut);
        return;
    }
    apply(app, &mut state);
}

/// Push-to-talk came into use (a call in push-to-talk mode) or went out of it. Same lock
/// rule as [`set_binding`].
pub(crate) fn set_active(app: &AppHandle, active: bool) {
    let mut state = state();
    if state.active == active || is_wayland_session() {
        state.active = active;
        return;
    }
    state.active = active;
    apply(app, &mut state);
}

fn apply(app: &AppHandle, state: &mut State) {
    #[cfg(target_os = "linux")]
    if listen_on_x11(app, state) {
        return;
    }
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::warn!("could not release the old push-to-talk key: {e}");
    }
    if !state.active || state.binding.is_empty() {
        return;
    }
    let result = shortcuts.on_shortcut(state.binding.as_str(), |app, _shortcut, event| {
        use tauri::Manager as _;
        let pressed = event.state == ShortcutState::Pressed;
        app.state::<AppState>().voice.push_to_talk(app, pressed);
    });
    if let Err(e) = result {
        unavailable(app, &state.binding, &e.to_string());
    }
}

/// Listens through XInput2; false where X11 cannot (the caller falls back to the plugin).
#[cfg(target_os = "linux")]
fn listen_on_x11(app: &AppHandle, state: &mut State) -> bool {
    if state.x11.is_none() && state.x11_failed.is_none() && state.active {
        let for_events = app.clone();
        let started = x11::Listener::start(Box::new(move |pressed| {
            use tauri::Manager as _;
            for_events.state::<AppState>().voice.push_to_talk(&for_events, pressed);
        }));
        match started {
            Ok(listener) => state.x11 = Some(listener),
            Err(e) => {
                tracing::warn!("push-to-talk falls back to a key grab: {e}");
                state.x11_failed = Some(e);
            }
        }
    }
    let Some(listener) = &state.x11 else { return state.x11_failed.is_none() };
    let chord = if state.active { chord::Chord::parse(&state.binding) } else { None };
    if state.active && chord.is_none() && !state.binding.is_empty() {
        unavailable(app, &state.binding, "not a key AuraSpeak knows");
    }
    if let Err(e) = listener.listen(chord) {
        unavailable(app, &state.binding, &e);
    }
    true
}

fn unavailable(app: &AppHandle, binding: &str, reason: &str) {
    tracing::warn!(%binding, "push-to-talk key not registered: {reason}");
    let _ = ShortcutUnavailable { reason: format!("{binding}: {reason}") }.emit(app);
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
