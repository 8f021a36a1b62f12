//! Driving the desktop app in a private X server (or a Wayland compositor, `wayland.rs`):
//! the tools it needs, the X server, the app started through WebKitWebDriver, and form
//! input the way React sees it.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};

use crate::harness;
use crate::webdriver::{Session, WebDriver};

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| path.is_file())
    })
}

/// The tools this test needs (with `extra` ones of its own); `None` (skipped) on a
/// developer machine without them, a failure under CI=true so CI cannot silently skip the
/// app test.
pub fn tools(extra: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let found = ["Xvfb", "WebKitWebDriver", "xdotool", "xlogo"].map(find_on_path);
    let others: Vec<_> = extra.iter().map(|name| find_on_path(name)).collect();
    if found.iter().chain(&others).all(Option::is_some) {
        let [xvfb, driver, ..] = found;
        return xvfb.zip(driver);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but Xvfb, WebKitWebDriver, xdotool, xlogo or one of {extra:?} is missing \
         (see scripts/install-deps.sh)"
    );
    eprintln!(
        "Xvfb/WebKitWebDriver/xdotool/xlogo or one of {extra:?} not found: desktop app test not run"
    );
    None
}

/// Where the app draws: the environment that points it at a display server.
pub trait Screen {
    fn env(&self) -> Vec<(&'static str, String)>;
}

/// A private X server on a free display number.
pub struct Display {
    number: u32,
    xvfb: Child,
}

impl Display {
    pub async fn start(xvfb: &Path) -> Self {
        for _ in 0..100 {
            let number = 100 + harness::unique() % 400 + std::process::id() % 100;
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            if socket.exists() {
                continue;
            }
            let child = Command::new(xvfb)
                .args([&format!(":{number}"), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn Xvfb");
            for _ in 0..100 {
                if socket.exists() {
                    return Self { number, xvfb: child };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("no Xvfb display could be started");
    }

    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    pub async fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", self.name())
            .output()
            .await
            .expect("run xdotool");
        assert!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The whole screen (both windows), for the record.
    pub async fn screenshot(&self, path: &Path) {
        let _ = Command::new("import")
            .args(["-window", "root"])
            .arg(path)
            .env("DISPLAY", self.name())
            .status()
            .await;
    }
}

impl Screen for Display {
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("DISPLAY", self.name())]
    }
}

impl Drop for Display {
    /// SIGTERM first: Xvfb then removes its socket and lock file. Killed outright it leaves
    /// them behind, and after a few hundred runs on one machine `start` found every display
    /// number it tried taken.
    fn drop(&mut self) {
        if let Some(pid) = self.xvfb.id() {
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
            for _ in 0..20 {
                if matches!(self.xvfb.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.xvfb.start_kill();
    }
}

/// The app started by WebKitWebDriver on `screen`, with its config, data and caches in
/// `home`, plus `env` (a private session bus, say). The voice engine uses whatever
/// PulseAudio `PULSE_SERVER` names.
pub struct DesktopApp {
    pub session: Session,
    driver: Child,
    /// From spawning the app until its first page answered.
    pub launched: std::time::Instant,
}

impl DesktopApp {
    pub async fn start(
        driver_bin: &Path,
        app_bin: &Path,
        screen: &dyn Screen,
        home: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let port = 20_000 + (harness::unique() % 20_000) as u16;
        let driver = Command::new(driver_bin)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .envs(screen.env())
            .envs(env.iter().copied())
            .arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("LANG", "en_US.UTF-8")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn WebKitWebDriver");
        let webdriver = WebDriver::new(port);
        webdriver.wait_ready(Duration::from_secs(15)).await;
        let launched = std::time::Instant::now();
        let session = webdriver.start(app_bin, &[]).await;
        Self { session, driver, launched }
    }

    pub async fn stop(mut self) {
        self.session.close().await;
        let _ = self.driver.start_kill();
    }
}

/// Where screenshots go: `$AURASPEAK_SCREENSHOTS`, else a folder in the temp dir.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("AURASPEAK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("auraspeak-screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Saves the app window as `<name>.png` in [`screenshot_dir`].
pub async fn save_screenshot(session: &Session, name: &str) {
    let png = session.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "{name}: the window screenshot is not a PNG");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Waits until the voice panel says the call is connected.
pub async fn wait_voice_connected(app: &Session) {
    let state = attribute_script("[data-testid=voice-panel]", "data-state");
    app.wait_script(
        "voice connects",
        &format!("return ({state}) === 'connected';"),
        Duration::from_secs(45),
    )
    .await;
}

/// Reads a selector's attribute through the page (React re-renders replace elements, so
/// element references go stale; a script always sees the current one).
pub fn attribute_script(css: &str, attribute: &str) -> String {
    format!(
        "(document.querySelector({css})?.getAttribute({attribute}) ?? null)",
        css = json!(css),
        attribute = json!(attribute)
    )
}

/// Replaces an input's value as a user would (select all, type), so React sees it.
pub async fn set_input(app: &Session, css: &str, value: &str) {
    let element = app.wait(css, Duration::from_secs(15)).await;
    app.click(&element).await;
    // Ctrl+A then the text: W3C key codes (U+E009 is Control).
    app.send_keys(&element, "\u{E009}a\u{E000}").await;
    app.send_keys(&element, value).await;
}
