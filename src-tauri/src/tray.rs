//! The tray icon: mute, deafen, show the window and quit, in the app's language.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager as _};

use crate::settings::Language;
use crate::state::AppState;

const TRAY_ID: &str = "main";

fn labels(language: Language) -> [&'static str; 4] {
    match language {
        Language::En => ["Mute", "Deafen", "Show AuraSpeak", "Quit AuraSpeak"],
        Language::De => {
            ["Stummschalten", "Taub schalten", "AuraSpeak anzeigen", "AuraSpeak beenden"]
        }
    }
}

fn menu(app: &AppHandle, language: Language) -> tauri::Result<Menu<tauri::Wry>> {
    let [mute, deafen, show, quit] = labels(language);
    let mute = MenuItem::with_id(app, "mute", mute, true, None::<&str>)?;
    let deafen = MenuItem::with_id(app, "deafen", deafen, true, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", show, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", quit, true, None::<&str>)?;
    Menu::with_items(app, &[&mute, &deafen, &show, &quit])
}

pub(crate) fn create(app: &AppHandle, language: Language) -> tauri::Result<()> {
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("AuraSpeak")
        .menu(&menu(app, language)?)
        .on_menu_event(|app, event| {
            let state = app.state::<AppState>();
            match event.id.as_ref() {
                "mute" => {
                    let (muted, _) = state.voice.self_mute_deaf();
                    state.voice.set_self_mute(app, !muted);
                }
                "deafen" => {
                    let (_, deafened) = state.voice.self_mute_deaf();
                    state.voice.set_self_deaf(app, !deafened);
                }
                "show" => show_main_window(app),
                "quit" => app.exit(0),
                _ => {}
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Rebuilds the menu after a language change.
pub(crate) fn relabel(app: &AppHandle, language: Language) {
    if let Some(tray) = app.tray_by_id(TRAY_ID)
        && let Ok(menu) = menu(app, language)
        && let Err(e) = tray.set_menu(Some(menu))
    {
        tracing::warn!("tray menu: {e}");
    }
}

pub(crate) fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
