//! A private D-Bus session for the desktop app test, with the desktop services the app
//! talks to: a Secret Service keyring (gnome-keyring, unlocked with a throwaway password)
//! and a notification daemon (dunst, drawing on the test's X server).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::desktop::Display;

/// What the session needs, for `desktop::tools`.
pub const TOOLS: [&str; 5] =
    ["dbus-daemon", "gnome-keyring-daemon", "dunst", "dunstctl", "secret-tool"];

pub struct SessionBus {
    address: String,
    home: PathBuf,
    children: Vec<Child>,
}

impl SessionBus {
    pub async fn start(display: &Display, home: &Path) -> Self {
        let runtime = home.join("runtime");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::create_dir_all(home.join("data")).expect("data dir");
        set_private(&runtime);
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", runtime.join("bus").display()))
            .stdout(Stdio::piped())
            // What it starts on demand (GTK asks for the settings portal, say) logs here.
            .stderr(std::fs::File::create(home.join("bus.log")).expect("bus log"))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn dbus-daemon");
        let mut lines = BufReader::new(bus.stdout.take().expect("stdout")).lines();
        let address = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("dbus-daemon prints its address")
            .expect("read address")
            .expect("an address line");
        let mut session = Self { address, home: home.to_owned(), children: vec![bus] };

        // `--unlock` reads the login keyring's password from stdin and creates that
        // keyring (unlocked) on first use, so no prompt ever appears.
        let mut keyring = session
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gnome-keyring-daemon");
        let mut stdin = keyring.stdin.take().expect("stdin");
        stdin.write_all(b"e2e-keyring-password").await.expect("keyring password");
        drop(stdin);
        session.children.push(keyring);
        let dunst = session
            .command("dunst")
            .env("DISPLAY", display.name())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dunst");
        session.children.push(dunst);
        // What apps ask the notification daemon, for the test to read back (dunst only
        // remembers notifications that expired, not clicked ones).
        let log = std::fs::File::create(session.notify_log()).expect("notify log");
        let monitor = session
            .command("dbus-monitor")
            .args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dbus-monitor");
        session.children.push(monitor);
        session.wait_for_name("org.freedesktop.secrets").await;
        session.wait_for_name("org.freedesktop.Notifications").await;
        session
    }

    /// `DBUS_SESSION_BUS_ADDRESS` for processes that should use this session.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn notify_log(&self) -> PathBuf {
        self.home.join("notify-calls.log")
    }

    /// Every `Notify` call made on this bus so far, as dbus-monitor prints them.
    pub fn notify_calls(&self) -> String {
        std::fs::read_to_string(self.notify_log()).unwrap_or_default()
    }

    /// A command on this session bus, with the session's private data directory.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_RUNTIME_DIR", self.home.join("runtime"))
            .kill_on_drop(true);
        command
    }

    pub async fn output(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program).args(args).output().await.expect("run on the session bus");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn wait_for_name(&self, name: &str) {
        for _ in 0..100 {
            let out = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"))
                .output()
                .await
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} did not appear on the session bus");
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.start_kill();
        }
    }
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 0700");
}
