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

/// The body as freedesktop daemons read it: markup (`body-markup`, which GNOME, KDE,
/// dunst, mako and xfce4-notifyd all render), so a message saying `<a href=…>` or
/// `<img src=…>` would show a link or make the daemon fetch an image (review L11).
/// Escaped after the cut, so the cut counts what the user sees and splits no entity.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
pub(crate) fn body_text(body: &str) -> String {
    let text = excerpt(body);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// The summary (author and channel names) is plain text in the specification, and GNOME
/// escapes it itself, so entities would show as `&lt;`; but dunst renders it as markup.
/// Angle brackets become look-alike quotes, which no daemon can read as a tag.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
pub(crate) fn summary_text(title: &str) -> String {
    title.replace('<', "\u{2039}").replace('>', "\u{203A}")
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
    // Only freedesktop daemons read markup; Windows and macOS show the text as given.
    #[cfg(all(unix, not(target_os = "macos")))]
    let (summary, body) = (summary_text(title), body_text(body));
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let (summary, body) = (title.to_owned(), excerpt(body));
    let mut notification = notify_rust::Notification::new();
    notification.appname("AuraSpeak").summary(&summary).body(&body);
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
    fn markup_in_a_message_reaches_the_daemon_as_text() {
        let body = r#"<b>admin</b> & <a href="https://evil.example">log in</a><img src="http://x/p.png"/>"#;
        assert_eq!(
            body_text(body),
            "&lt;b&gt;admin&lt;/b&gt; &amp; &lt;a href=\"https://evil.example\"&gt;log in&lt;/a&gt;\
             &lt;img src=\"http://x/p.png\"/&gt;"
        );
        // An entity the sender typed stays visible as typed, not decoded by the daemon.
        assert_eq!(body_text("&lt;3"), "&amp;lt;3");
        assert_eq!(body_text("plain text, é 👍"), "plain text, é 👍");
        // The cut counts characters as written, then escapes: no entity is split.
        let long = "<".repeat(MAX_BODY_CHARS + 5);
        let escaped = body_text(&long);
        assert_eq!(escaped, format!("{}…", "&lt;".repeat(MAX_BODY_CHARS)));
    }

    #[test]
    fn names_in_the_summary_cannot_form_tags() {
        let summary = summary_text("<i>Mod</i> & co in #general");
        assert!(!summary.contains('<') && !summary.contains('>'), "{summary}");
        assert_eq!(summary, "\u{2039}i\u{203A}Mod\u{2039}/i\u{203A} & co in #general");
        assert_eq!(summary_text("Ann in #general"), "Ann in #general");
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
