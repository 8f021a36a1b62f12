//! The global voice keys, heard only while they are in use: push-to-talk in a call with
//! push-to-talk selected, push-to-mute and toggle-mute in any call. Elsewhere (chat, no
//! call) a key is nobody's business but the application that has focus.
//!
//! - X11: XInput2 raw events (`ptt/x11.rs`), which listen without grabbing, so a key that
//!   also types (V, T, Caps Lock) still types everywhere, and mouse side buttons work.
//! - Wayland: no program sees the keyboard globally; the XDG GlobalShortcuts portal asks
//!   the desktop to bind the key for us; where the desktop lacks the portal the UI says so.
//! - Windows and macOS (and X11 without XInput 2.1): the global-shortcut plugin, which
//!   registers a system hotkey and so takes the key from other applications; it is
//!   registered only while the key is in use, never for good.

mod chord;
#[cfg(target_os = "linux")]
mod x11;

use std::sync::{Mutex, MutexGuard, PoisonError};

use tauri::AppHandle;
use tauri_plugin_global_shortcut::{GlobalShortcutExt as _, ShortcutState};
use tauri_specta::Event as _;

use crate::events::ShortcutUnavailable;
use crate::state::AppState;

/// The global keys a call listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Held: transmit (push-to-talk mode only).
    PushToTalk,
    /// Held: send nothing, in any mode.
    PushToMute,
    /// Pressed: self-mute on or off.
    ToggleMute,
}

const KEYS: [Key; 3] = [Key::PushToTalk, Key::PushToMute, Key::ToggleMute];

struct State {
    /// The binding of each of `KEYS`, in that order (empty: not bound).
    bindings: [String; 3],
    in_call: bool,
    push_to_talk_mode: bool,
    #[cfg(target_os = "linux")]
    x11: Option<x11::Listener>,
    /// Why the X11 listener could not start (tried once per run).
    #[cfg(target_os = "linux")]
    x11_failed: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    bindings: [String::new(), String::new(), String::new()],
    in_call: false,
    push_to_talk_mode: false,
    #[cfg(target_os = "linux")]
    x11: None,
    #[cfg(target_os = "linux")]
    x11_failed: None,
});

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// The keys to listen to now, with their bindings.
    fn active(&self) -> Vec<(Key, &str)> {
        KEYS.iter()
            .zip(&self.bindings)
            .filter(|(key, binding)| {
                !binding.is_empty()
                    && self.in_call
                    && (**key != Key::PushToTalk || self.push_to_talk_mode)
            })
            .map(|(key, binding)| (*key, binding.as_str()))
            .collect()
    }
}

/// What a key does, in the voice controller.
fn dispatch(app: &AppHandle, key: Key, held: bool) {
    use tauri::Manager as _;
    let voice = &app.state::<AppState>().voice;
    match key {
        Key::PushToTalk => voice.push_to_talk(app, held),
        Key::PushToMute => voice.push_to_mute(held),
        Key::ToggleMute if held => voice.toggle_mute(app),
        Key::ToggleMute => {}
    }
}

/// The keys changed (or the app started). Must not be called with the voice controller's
/// lock held: letting go of a held key reports a release to it.
pub(crate) fn set_bindings(
    app: &AppHandle,
    push_to_talk: &str,
    push_to_mute: &str,
    toggle_mute: &str,
) {
    let mut state = state();
    let bindings = [push_to_talk.to_owned(), push_to_mute.to_owned(), toggle_mute.to_owned()];
    if state.bindings == bindings {
        return;
    }
    #[cfg(target_os = "linux")]
    if is_wayland_session() {
        // The portal binds push-to-talk only; the desktop owns the binding.
        if state.bindings[0] != bindings[0] {
            portal::bind(app, push_to_talk);
        }
        state.bindings = bindings;
        return;
    }
    state.bindings = bindings;
    apply(app, &mut state);
}

/// A call started or ended, or the input mode changed. Same lock rule as [`set_bindings`].
pub(crate) fn set_active(app: &AppHandle, in_call: bool, push_to_talk_mode: bool) {
    let mut state = state();
    let changed = (state.in_call, state.push_to_talk_mode) != (in_call, push_to_talk_mode);
    state.in_call = in_call;
    state.push_to_talk_mode = push_to_talk_mode;
    if changed && !is_wayland_session() {
        apply(app, &mut state);
    }
}

fn apply(app: &AppHandle, state: &mut State) {
    #[cfg(target_os = "linux")]
    if listen_on_x11(app, state) {
        return;
    }
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::warn!("could not release the old keys: {e}");
    }
    for (key, binding) in state.active() {
        let result = shortcuts.on_shortcut(binding, move |app, _shortcut, event| {
            dispatch(app, key, event.state == ShortcutState::Pressed);
        });
        if let Err(e) = result {
            unavailable(app, binding, &e.to_string());
        }
    }
}

/// Listens through XInput2; false where X11 cannot (the caller falls back to the plugin).
#[cfg(target_os = "linux")]
fn listen_on_x11(app: &AppHandle, state: &mut State) -> bool {
    let active: Vec<(Key, String)> =
        state.active().into_iter().map(|(key, binding)| (key, binding.to_owned())).collect();
    if state.x11.is_none() && state.x11_failed.is_none() && !active.is_empty() {
        let for_events = app.clone();
        match x11::Listener::start(Box::new(move |key, held| dispatch(&for_events, key, held))) {
            Ok(listener) => state.x11 = Some(listener),
            Err(e) => {
                tracing::warn!("global keys fall back to a key grab: {e}");
                state.x11_failed = Some(e);
            }
        }
    }
    let Some(listener) = &state.x11 else { return state.x11_failed.is_none() };
    let mut chords = Vec::new();
    for (key, binding) in active {
        match chord::Chord::parse(&binding) {
            Some(chord) => chords.push((key, chord)),
            None => unavailable(app, &binding, "not a key AuraSpeak knows"),
        }
    }
    if let Err(e) = listener.listen(chords) {
        unavailable(app, "", &e);
    }
    true
}

fn unavailable(app: &AppHandle, binding: &str, reason: &str) {
    tracing::warn!(%binding, "global key not registered: {reason}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(in_call: bool, push_to_talk_mode: bool, bindings: [&str; 3]) -> State {
        State {
            bindings: bindings.map(str::to_owned),
            in_call,
            push_to_talk_mode,
            #[cfg(target_os = "linux")]
            x11: None,
            #[cfg(target_os = "linux")]
            x11_failed: None,
        }
    }

    #[test]
    fn keys_are_heard_only_in_a_call_and_push_to_talk_only_in_its_mode() {
        let all = ["V", "Mouse4", "F8"];
        assert!(state(false, true, all).active().is_empty(), "no call: no key is anyone's");
        assert_eq!(
            state(true, false, all).active(),
            vec![(Key::PushToMute, "Mouse4"), (Key::ToggleMute, "F8")],
            "voice activity: push-to-talk stays free to type"
        );
        assert_eq!(state(true, true, all).active().len(), 3);
        assert_eq!(
            state(true, true, ["V", "", ""]).active(),
            vec![(Key::PushToTalk, "V")],
            "unbound keys"
        );
    }
}
