//! Desktop notifications for mentions. The UI decides what mentions the user (it knows
//! their roles and which channel is on screen); the shell decides whether to disturb:
//! only with notifications on and the window not focused, as Discord does.

use auraspeak_shared::v1::gateway::PresenceStatus;
use auraspeak_shared::{ChannelId, ServerId};
use tauri::{AppHandle, Manager as _};
use tauri_specta::Event as _;

use crate::events::OpenChannel;
use crate::state::AppState;

/// Long messages are cut in the bubble; the full text is one click away.
const MAX_BODY_CHARS: usize = 180;

/// Whether a mention should raise a notification now: not with notifications off, not
/// in do-not-disturb, not while the user looks at the app.
pub(crate) fn should_notify(enabled: bool, presence: PresenceStatus, window_focused: bool) -> bool {
    enabled && presence != PresenceStatus::DoNotDisturb && !window_focused
}

pub(crate) fn excerpt(body: &str) -> String {
    let mut chars = body.chars();
    let cut: String = chars.by_ref().take(MAX_BODY_CHARS).collect();
    if chars.next().is_some() { format!("{}…", cut.trim_end()) } else { cut }
}

/// Shows the notification if [`should_notify`] allows; returns whether it did. A click
/// brings the window forward and tells the UI which channel to open.
pub(crate) async fn mention(
    app: &AppHandle,
    server_id: ServerId,
    channel_id: ChannelId,
    title: &str,
    body: &str,
) -> Result<bool, notify_rust::error::Error> {
    let settings = crate::settings::load_app(&app.state::<AppState>().store());
    let focused = app.get_webview_window("main").and_then(|w| w.is_focused().ok()).unwrap_or(false);
    if !should_notify(settings.notifications, settings.presence, focused) {
        return Ok(false);
    }
    let mut notification = notify_rust::Notification::new();
    notification.appname("AuraSpeak").summary(title).body(&excerpt(body));
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        notification
            .icon("auraspeak-desktop")
            .hint(notify_rust::Hint::Category("im.received".into()))
            .action("default", "Open");
        let handle = notification.show_async().await?;
        let app = app.clone();
        // Lives until the daemon closes the notification (expiry, dismissal or click).
        tauri::async_runtime::spawn(async move {
            handle
                .wait_for_action_async(|response| {
                    if matches!(response, notify_rust::NotificationResponse::Default) {
                        crate::tray::show_main_window(&app);
                        let _ = OpenChannel { server_id, channel_id }.emit(&app);
                    }
                })
                .await;
        });
    }
    // Windows toasts and macOS banners open the app when clicked; the channel is not
    // passed on there yet.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    notification.show()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_with_notifications_on_and_the_window_in_the_background() {
        use PresenceStatus::*;
        assert!(should_notify(true, Online, false));
        assert!(should_notify(true, Idle, false));
        assert!(!should_notify(true, Online, true));
        assert!(!should_notify(false, Online, false));
        assert!(!should_notify(true, DoNotDisturb, false), "do not disturb means it");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        assert_eq!(excerpt("hi"), "hi");
        let long = "ä".repeat(MAX_BODY_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), MAX_BODY_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
