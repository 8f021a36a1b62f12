//! Issue #7: push-to-talk on Wayland, where no program may read the keyboard while another
//! has focus. The real desktop app runs as a native Wayland client of KWin (headless), on
//! a private session bus, against the real server. It binds its push-to-talk key through
//! the XDG GlobalShortcuts portal (xdg-desktop-portal with the KDE backend, started by the
//! bus on demand); KWin's KGlobalAccel owns the binding. With another window focused (as
//! a game would be), the key pressed on KWin's keyboard starts transmission and its
//! release stops it. Screenshots go to `$AURASPEAK_SCREENSHOTS`.

#[path = "support/community.rs"]
mod community;
#[path = "support/desktop.rs"]
mod desktop;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/wayland.rs"]
mod wayland;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use desktop::{DesktopApp, attribute_script, screenshot_dir, set_input, wait_voice_connected};
use harness::{Backend, PASSWORD, TestServer, sibling_binary};
use serde_json::json;
use wayland::{KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_M, Kwin, OTHER_WINDOW};
use webdriver::Session;

const SHORT: Duration = Duration::from_secs(15);
const LONG: Duration = Duration::from_secs(45);
const PTT_KEY: [u32; 3] = [KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_M];

async fn transmitting(app: &Session) -> bool {
    let script = attribute_script("[data-testid=transmit-indicator]", "data-active");
    app.execute(&format!("return {script};"), json!([])).await == json!("true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_talk_works_on_wayland_through_the_global_shortcuts_portal() {
    let Some(driver_bin) = wayland::tools() else { return };
    let app_bin = sibling_binary("auraspeak-desktop", "AURASPEAK_DESKTOP_BIN");
    let server = TestServer::start(&Backend::Sqlite).await;
    let home = std::env::temp_dir().join(format!(
        "auraspeak-wayland-e2e-{}-{}",
        std::process::id(),
        harness::unique()
    ));
    let kwin = Kwin::start(&home).await;

    // The account and its server exist already; the app logs in through its form.
    let (owner, _) = community::register(&server.base, "wl").await;
    let guild = owner.create_server("Wayland Guild", None).await.expect("server");
    let voice =
        guild.channels.iter().find(|c| c.name == "General").expect("the default voice channel").id;
    let desktop = DesktopApp::start(&driver_bin, &app_bin, &kwin, &home, &[]).await;
    let app = &desktop.session;
    // The app has no X server to fall back to: it drew its login page on Wayland.
    set_input(app, "input[name=server]", &server.base).await;
    set_input(app, "input[name=login]", "wl").await;
    set_input(app, "input[name=password]", PASSWORD).await;
    app.click_on("button[type=submit]", SHORT).await;
    app.wait("[data-testid=app-shell]", LONG).await;

    // The key was bound through the portal when the app started; push-to-talk mode makes
    // it the way to talk. Then join voice.
    app.click_on("[data-testid=open-settings]", SHORT).await;
    app.click_on("[data-testid=settings-tab-voice]", SHORT).await;
    app.click_on("input[name=input-mode][value=push_to_talk]", SHORT).await;
    app.click_on("[data-testid=close-settings]", SHORT).await;
    app.click_on(&format!("[data-testid=server-{}]", guild.server.id), SHORT).await;
    app.click_on(&format!("[data-testid=channel-{voice}]"), SHORT).await;
    wait_voice_connected(app).await;
    assert!(!transmitting(app).await, "silent before the key");
    let problem =
        "return document.querySelector('[data-testid=shortcut-unavailable]')?.textContent ?? null;";
    assert_eq!(app.execute(problem, json!([])).await, json!(null), "the app reports a problem");

    // Another window takes the focus: the app's document loses it.
    let _other = kwin
        .command(OTHER_WINDOW)
        .arg("about:blank")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the other window");
    app.wait_script("another window has the focus", "return !document.hasFocus();", LONG).await;

    // The key on the compositor's keyboard. The portal binds asynchronously after the
    // input mode changed; until it has, a press does nothing, so presses are repeated
    // (released in between) for a few seconds before the test gives up.
    let mut keyboard = kwin.keyboard();
    let mut started = false;
    for _ in 0..20 {
        keyboard.keys(&PTT_KEY, true).expect("press");
        for _ in 0..10 {
            if transmitting(app).await {
                started = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if started {
            break;
        }
        keyboard.keys(&[KEY_M, KEY_LEFTSHIFT, KEY_LEFTCTRL], false).expect("release");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(started, "the push-to-talk key did not start transmission; KWin:\n{}", kwin.log());
    assert_eq!(
        app.execute("return document.hasFocus();", json!([])).await,
        json!(false),
        "the app must not have had the focus while the key was down"
    );
    keyboard.keys(&[KEY_M, KEY_LEFTSHIFT, KEY_LEFTCTRL], false).expect("release");
    app.wait_script(
        "transmission stops after the key (and the release tail)",
        &format!(
            "return ({}) === 'false';",
            attribute_script("[data-testid=transmit-indicator]", "data-active")
        ),
        SHORT,
    )
    .await;

    // A second press and release: the binding stays.
    keyboard.keys(&PTT_KEY, true).expect("press");
    app.wait_script(
        "transmission starts again on the next press",
        &format!(
            "return ({}) === 'true';",
            attribute_script("[data-testid=transmit-indicator]", "data-active")
        ),
        SHORT,
    )
    .await;
    // Last, and allowed to fail: the window is covered by MiniBrowser, and a screenshot
    // waits for a paint KWin may hold back (it timed out once in six runs here), and then the
    // WebDriver session answers nothing more. Everything above is what the test proves.
    let screenshot = app.try_screenshot(Duration::from_secs(10)).await;
    keyboard.keys(&[KEY_M, KEY_LEFTSHIFT, KEY_LEFTCTRL], false).expect("release");
    match screenshot {
        Some(png) => {
            let path = screenshot_dir().join("wayland-01-push-to-talk-held.png");
            std::fs::write(&path, png).expect("write screenshot");
            eprintln!("screenshot: {}", path.display());
            app.click_on("[data-testid=voice-leave]", SHORT).await;
        }
        None => eprintln!("no screenshot: the covered window did not paint within 10 s"),
    }
    desktop.stop().await;
    server.stop().await;
    drop(kwin);
    let _ = std::fs::remove_dir_all(&home);
}
