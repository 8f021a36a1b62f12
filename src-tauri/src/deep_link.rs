//! `auraspeak://invite?server=…&code=…` links, as the server's invite page offers them
//! ("Open in AuraSpeak"). The desktop entry the packages install names the app the handler
//! of the `auraspeak` scheme (`Exec=auraspeak-desktop %u`), so a click starts the app with
//! the link as its argument; when the app already runs, the single-instance plugin hands
//! the second start's arguments to the first. Either way the UI gets the link and opens
//! the join dialog with it (the client checks the link names the server logged in to).

use std::sync::{Mutex, PoisonError};

use tauri::AppHandle;
use tauri_specta::Event as _;

use crate::events::InviteLinkOpened;

const SCHEME: &str = "auraspeak://";

/// Links the UI has not collected yet: those the app was started with.
static PENDING: Mutex<Option<String>> = Mutex::new(None);

/// The first `auraspeak://` argument, if any (desktop environments pass it as `%u`).
pub(crate) fn link_in(args: &[String]) -> Option<String> {
    args.iter()
        .skip(1)
        .map(|a| a.trim())
        .find(|a| {
            a.len() <= 2048 && a.get(..SCHEME.len()).is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
        })
        .map(str::to_owned)
}

/// At start: keeps the link for the UI, which asks once it is up.
pub(crate) fn remember_start_link(args: &[String]) {
    if let Some(link) = link_in(args) {
        *PENDING.lock().unwrap_or_else(PoisonError::into_inner) = Some(link);
    }
}

/// A second start while running: the running UI is told at once.
pub(crate) fn forward(app: &AppHandle, args: &[String]) {
    if let Some(link) = link_in(args) {
        let _ = InviteLinkOpened { link }.emit(app);
    }
}

/// The link the app was started with, once.
#[tauri::command]
#[specta::specta]
pub(crate) fn take_invite_link() -> Option<String> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_link_is_found_among_the_arguments() {
        let link = "auraspeak://invite?server=https%3A%2F%2Fchat.example.org&code=hTKzmak";
        assert_eq!(link_in(&args(&["auraspeak-desktop", link])).as_deref(), Some(link));
        assert_eq!(
            link_in(&args(&["auraspeak-desktop", "--minimized", link])).as_deref(),
            Some(link)
        );
        assert_eq!(link_in(&args(&["auraspeak-desktop"])), None);
        // The program's own path is never taken for a link, nor other schemes.
        assert_eq!(link_in(&args(&["auraspeak://x", "https://chat.example.org/invite/x"])), None);
        assert_eq!(
            link_in(&args(&["a", &format!("{SCHEME}{}", "x".repeat(5000))])),
            None,
            "bounded"
        );
    }
}
