//! WebKitGTK settings that only work from the environment, before WebKit starts.
//!
//! Accelerated compositing makes the web process hold GL buffers (software GL under
//! Xvfb or without a GPU driver): about 80 MiB more in a window like ours, which draws
//! text, lists and a few icons and needs none of it. The DMA-BUF renderer costs another
//! 5 MiB. Both are turned off unless the user set them; `AURASPEAK_WEBKIT_DEFAULTS=1`
//! keeps WebKit's own defaults.
//!
//! JavaScriptCore's JIT is off too (`JSC_useJIT=0`): scripts run in its LLInt interpreter.
//! In `desktop_footprint` (the `desktop` build profile, medians of 3 launches, 2–3 runs
//! each) the app held 7–8 MiB less in a call (private 147–148 → 140–141 MiB for the whole
//! app) than with only the optimizing tiers off, and switching again to a channel of 50
//! messages took 81–96 instead of 48–59 ms, still under the 100 ms users
//! notice. Our scripts are a UI's: rendering a list, reacting to events; nothing runs long
//! enough for compiled code to pay for the memory it takes. No JIT also means no writable
//! executable pages in the process that renders messages from strangers.
//!
//! Setting variables in a running process is `unsafe` (other threads may read the
//! environment), so the process replaces itself once with the variables set: the same
//! PID and arguments, before any thread or window exists.

use std::ffi::OsStr;

const MARKER: &str = "AURASPEAK_WEBKIT_ENV";
const KEEP_DEFAULTS: &str = "AURASPEAK_WEBKIT_DEFAULTS";
const SETTINGS: [(&str, &str); 3] = [
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("JSC_useJIT", "0"),
];

/// The variables to add to an environment read through `get`; empty when nothing is to
/// change (already applied, opted out, or everything set by the user).
fn missing(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<(&'static str, &'static str)> {
    if get(MARKER).is_some() || get(KEEP_DEFAULTS).is_some_and(|v| v == OsStr::new("1")) {
        return Vec::new();
    }
    SETTINGS.into_iter().filter(|(name, _)| get(name).is_none()).collect()
}

/// Re-executes the app with [`missing`] set; returns only if nothing was missing or the
/// exec failed (then WebKit runs with its defaults, which works, only heavier).
pub fn apply() {
    use std::os::unix::process::CommandExt as _;
    let add = missing(|name| std::env::var_os(name));
    if add.is_empty() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command.args(args).env(MARKER, "1").envs(add);
    let error = command.exec();
    eprintln!("auraspeak-desktop: could not apply the WebKit settings ({error}); using defaults");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, OsString)> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), OsString::from(v))).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn adds_what_the_user_did_not_set_once() {
        assert_eq!(missing(env(&[])), SETTINGS.to_vec());
        assert_eq!(
            missing(env(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")])),
            vec![("WEBKIT_DISABLE_DMABUF_RENDERER", "1"), ("JSC_useJIT", "0")],
            "the user's own choice stays"
        );
        assert!(missing(env(&[(MARKER, "1")])).is_empty(), "no second exec");
        assert!(missing(env(&[(KEEP_DEFAULTS, "1")])).is_empty());
    }
}
