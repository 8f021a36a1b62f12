//! Push-to-talk on Wayland through the XDG GlobalShortcuts portal: the desktop owns the
//! keyboard, binds the key for us and tells us when it goes down and up, whichever window
//! has focus.
//!
//! Spoken to over zbus directly rather than through a portal library, because KDE Plasma
//! 5.27 (Debian 12, Ubuntu 22.04–23.10) takes the shortcuts from `CreateSession`'s options
//! and ignores `BindShortcuts`' list; the libraries only send the standard call. Both are
//! sent here, so Plasma 5.27, Plasma 6 and GNOME bind the same key.

use std::collections::HashMap;

use futures_util::StreamExt as _;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};

/// The one shortcut we ask for.
const ID: &str = "push-to-talk";
const DESCRIPTION: &str = "Push to talk";

#[zbus::proxy(
    interface = "org.freedesktop.portal.GlobalShortcuts",
    default_service = "org.freedesktop.portal.Desktop",
    default_path = "/org/freedesktop/portal/desktop",
    gen_blocking = false
)]
trait GlobalShortcuts {
    fn create_session(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<OwnedObjectPath>;

    fn bind_shortcuts(
        &self,
        session_handle: &ObjectPath<'_>,
        shortcuts: &[(&str, HashMap<&str, Value<'_>>)],
        parent_window: &str,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<OwnedObjectPath>;

    #[zbus(signal)]
    fn activated(
        &self,
        session_handle: ObjectPath<'_>,
        shortcut_id: &str,
        timestamp: u64,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    fn deactivated(
        &self,
        session_handle: ObjectPath<'_>,
        shortcut_id: &str,
        timestamp: u64,
        options: HashMap<&str, Value<'_>>,
    ) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.freedesktop.portal.Request",
    default_service = "org.freedesktop.portal.Desktop",
    gen_blocking = false
)]
trait Request {
    #[zbus(signal)]
    fn response(&self, response: u32, results: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
}

/// Binds `shortcut` (our "Ctrl+Shift+M" form) and calls `on_change(pressed)` on every press
/// and release. Returns only with the reason it stopped (no portal, refused, bus gone);
/// dropping the future closes its bus connection, which ends the portal session.
pub(crate) async fn bind(shortcut: &str, mut on_change: impl FnMut(bool)) -> zbus::Error {
    match run(shortcut, &mut on_change).await {
        Ok(()) => gone(),
        Err(e) => e,
    }
}

fn gone() -> zbus::Error {
    zbus::Error::Failure("the portal went away".into())
}

async fn run(shortcut: &str, on_change: &mut impl FnMut(bool)) -> zbus::Result<()> {
    let connection = zbus::Connection::session().await?;
    let portal = GlobalShortcutsProxy::new(&connection).await?;
    let trigger = xdg_trigger(shortcut);
    let shortcuts = [(ID, shortcut_details(&trigger))];
    // One component per key on desktops that remember bindings by session token (Plasma
    // 5.27): the same key finds its binding again, a new key is not shadowed by the old.
    let session_token = format!("auraspeak_{}", token_safe(&trigger));

    let mut options = HashMap::new();
    options.insert("session_handle_token", Value::from(session_token.as_str()));
    options.insert("shortcuts", Value::from(shortcuts.to_vec()));
    let bound =
        request(&connection, "auraspeak_create", options, |options| portal.create_session(options))
            .await?;
    let session = session_path(&connection, &session_token)?;

    // Subscribed before binding, so a press right after binding is not missed.
    let mut activated = portal.receive_activated().await?;
    let mut deactivated = portal.receive_deactivated().await?;
    // Plasma 5.27 binds in CreateSession and answers with what it bound; its BindShortcuts
    // would only open System Settings, at every start of the app.
    if !bound.iter().any(|id| id == ID) {
        request(&connection, "auraspeak_bind", HashMap::new(), |options| {
            portal.bind_shortcuts(&session, &shortcuts, "", options)
        })
        .await?;
    }
    tracing::info!(%trigger, "push-to-talk bound through the GlobalShortcuts portal");

    loop {
        let (signal, pressed) = tokio::select! {
            Some(signal) = activated.next() => (signal.args().map(|a| (a.session_handle.to_owned(), a.shortcut_id.to_owned())), true),
            Some(signal) = deactivated.next() => (signal.args().map(|a| (a.session_handle.to_owned(), a.shortcut_id.to_owned())), false),
            else => return Ok(()),
        };
        // Another app's session on the same portal, or a malformed signal: not ours.
        if let Ok((handle, id)) = signal
            && handle == session.as_ref()
            && id == ID
        {
            on_change(pressed);
        }
    }
}

fn shortcut_details(trigger: &str) -> HashMap<&'static str, Value<'static>> {
    HashMap::from([
        ("description", Value::from(DESCRIPTION)),
        ("preferred_trigger", Value::from(trigger.to_owned())),
    ])
}

/// Makes a portal call that answers through a Request object and waits for its Response;
/// returns the ids of the shortcuts the response lists as bound, if it lists any. The
/// Response signal is subscribed before the call, at the path the portal will use, so a
/// fast answer cannot slip past.
async fn request<'a, F, Fut>(
    connection: &zbus::Connection,
    token: &str,
    mut options: HashMap<&'a str, Value<'a>>,
    call: F,
) -> zbus::Result<Vec<String>>
where
    F: FnOnce(HashMap<&'a str, Value<'a>>) -> Fut,
    Fut: Future<Output = zbus::Result<OwnedObjectPath>>,
{
    let path = format!("/org/freedesktop/portal/desktop/request/{}/{token}", sender(connection)?);
    let request = RequestProxy::builder(connection).path(path)?.build().await?;
    let mut responses = request.receive_response().await?;
    options.insert("handle_token", Value::from(token.to_owned()));
    call(options).await?;
    let response = responses.next().await.ok_or_else(gone)?;
    let args = response.args()?;
    match args.response {
        0 => Ok(listed_shortcuts(&args.results)),
        1 => Err(zbus::Error::Failure("the desktop's shortcut dialog was dismissed".into())),
        code => Err(zbus::Error::Failure(format!("the desktop refused the shortcut ({code})"))),
    }
}

/// The ids in a response's `shortcuts` (an array of (id, properties) structures).
fn listed_shortcuts(results: &HashMap<&str, Value<'_>>) -> Vec<String> {
    let Some(Value::Array(shortcuts)) = results.get("shortcuts") else { return Vec::new() };
    shortcuts
        .iter()
        .filter_map(|shortcut| match shortcut {
            Value::Structure(s) => match s.fields().first() {
                Some(Value::Str(id)) => Some(id.as_str().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn session_path(connection: &zbus::Connection, token: &str) -> zbus::Result<ObjectPath<'static>> {
    let path = format!("/org/freedesktop/portal/desktop/session/{}/{token}", sender(connection)?);
    Ok(ObjectPath::try_from(path)?)
}

/// Our unique bus name as portal object paths spell it: ":1.42" → "1_42".
fn sender(connection: &zbus::Connection) -> zbus::Result<String> {
    let name = connection.unique_name().ok_or_else(gone)?;
    Ok(name.trim_start_matches(':').replace('.', "_"))
}

/// A session token may hold only letters, digits and underscores.
fn token_safe(trigger: &str) -> String {
    trigger.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Our shortcut string ("Ctrl+Shift+M", from the UI's keybind capture) in the XDG
/// shortcuts format the portal takes: upper-case modifiers and an XKB keysym name.
pub(crate) fn xdg_trigger(shortcut: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in shortcut.split('+').map(str::trim).filter(|p| !p.is_empty()) {
        let modifier = match part.to_ascii_lowercase().as_str() {
            "ctrl" | "control" | "commandorcontrol" | "cmdorctrl" => Some("CTRL"),
            "shift" => Some("SHIFT"),
            "alt" | "option" => Some("ALT"),
            "super" | "meta" | "cmd" | "command" | "logo" => Some("LOGO"),
            _ => None,
        };
        parts.push(modifier.map_or_else(|| keysym(part), str::to_owned));
    }
    parts.join("+")
}

/// The XKB keysym for a key name of the UI's keybind capture (KeyboardEvent.code with the
/// "Key"/"Digit"/"Arrow" prefixes dropped, "Num" for the keypad).
fn keysym(key: &str) -> String {
    let named = match key {
        "Space" => "space",
        "Backquote" => "grave",
        "Minus" => "minus",
        "Equal" => "equal",
        "BracketLeft" => "bracketleft",
        "BracketRight" => "bracketright",
        "Backslash" | "IntlBackslash" => "backslash",
        "Semicolon" => "semicolon",
        "Quote" => "apostrophe",
        "Comma" => "comma",
        "Period" => "period",
        "Slash" => "slash",
        "CapsLock" => "Caps_Lock",
        "ScrollLock" => "Scroll_Lock",
        "NumLock" => "Num_Lock",
        "PageUp" => "Prior",
        "PageDown" => "Next",
        "Enter" => "Return",
        "Backspace" => "BackSpace",
        "PrintScreen" => "Print",
        "NumpadAdd" => "KP_Add",
        "NumpadSubtract" => "KP_Subtract",
        "NumpadMultiply" => "KP_Multiply",
        "NumpadDivide" => "KP_Divide",
        "NumpadDecimal" => "KP_Decimal",
        "NumpadEnter" => "KP_Enter",
        _ => "",
    };
    if !named.is_empty() {
        return named.to_owned();
    }
    if let Some(digit) = key.strip_prefix("Num").filter(|d| d.len() == 1) {
        return format!("KP_{digit}");
    }
    // Letters are lower-case keysyms; F-keys, digits, arrows, Home, End, Insert, Delete,
    // Escape, Tab and Pause are already spelled as their keysyms.
    if key.len() == 1 {
        return key.to_ascii_lowercase();
    }
    key.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_shortcuts_become_xdg_triggers() {
        assert_eq!(xdg_trigger("Ctrl+Shift+M"), "CTRL+SHIFT+m");
        assert_eq!(xdg_trigger("Alt+F1"), "ALT+F1");
        assert_eq!(xdg_trigger("Super+Space"), "LOGO+space");
        assert_eq!(xdg_trigger("Ctrl+Num5"), "CTRL+KP_5");
        assert_eq!(xdg_trigger("Backquote"), "grave");
        assert_eq!(xdg_trigger("Shift+PageDown"), "SHIFT+Next");
        assert_eq!(xdg_trigger("CapsLock"), "Caps_Lock");
        assert_eq!(xdg_trigger("7"), "7");
        assert_eq!(token_safe("CTRL+SHIFT+m"), "CTRL_SHIFT_m");
    }

    #[test]
    fn bound_shortcuts_are_read_from_a_response() {
        let shortcuts = vec![(ID, shortcut_details("CTRL+SHIFT+m"))];
        let results = HashMap::from([("shortcuts", Value::from(shortcuts))]);
        assert_eq!(listed_shortcuts(&results), vec![ID.to_owned()]);
        // The standard CreateSession answer lists none: BindShortcuts follows.
        let standard = HashMap::from([("session_handle", Value::from("/x"))]);
        assert!(listed_shortcuts(&standard).is_empty());
    }
}
