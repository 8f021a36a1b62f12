//! A private Wayland desktop for the desktop app test: KWin (Plasma 5.27's compositor) with
//! its headless virtual backend on a private session bus. KWin runs KGlobalAccel, the
//! global shortcut service; xdg-desktop-portal and its KDE backend start on the bus when
//! the app asks for the GlobalShortcuts portal. Keys go in through KWin's fake-input
//! protocol, which feeds them to KWin's input stack as a keyboard would: what the
//! compositor does with them (shortcut or focused window) is KWin's own decision.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::desktop::{Screen, find_on_path};
use crate::harness;

const PORTAL: &str = "/usr/libexec/xdg-desktop-portal";
const PORTAL_KDE: &str = "/usr/lib/x86_64-linux-gnu/libexec/xdg-desktop-portal-kde";
/// WebKitGTK's demo browser: a second Wayland window to take the focus, as a game would.
pub const OTHER_WINDOW: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/// Linux input event codes, as a keyboard sends them.
pub const KEY_LEFTCTRL: u32 = 29;
pub const KEY_LEFTSHIFT: u32 = 42;
pub const KEY_M: u32 = 50;

/// WebKitWebDriver when this machine can run the Wayland test; `None` (skipped) on a
/// developer machine without the packages, a failure under CI=true.
pub fn tools() -> Option<PathBuf> {
    let on_path = ["WebKitWebDriver", "kwin_wayland", "dbus-daemon"].map(find_on_path);
    let files = [PORTAL, PORTAL_KDE, OTHER_WINDOW].map(|f| Path::new(f).is_file());
    if on_path.iter().all(Option::is_some) && files.iter().all(|f| *f) {
        let [driver, ..] = on_path;
        return driver;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but KWin, the XDG portal (KDE backend), MiniBrowser or WebKitWebDriver is \
         missing (see scripts/install-deps.sh)"
    );
    eprintln!("KWin/xdg-desktop-portal-kde/WebKitWebDriver not found: Wayland test not run");
    None
}

pub struct Kwin {
    home: PathBuf,
    socket: String,
    bus: String,
    children: Vec<Child>,
}

impl Kwin {
    pub async fn start(home: &Path) -> Self {
        for dir in ["runtime", "config", "data", "cache"] {
            std::fs::create_dir_all(home.join(dir)).expect("kwin dirs");
        }
        set_private(&home.join("runtime"));
        let socket = format!("wayland-auraspeak-{}", harness::unique());
        let mut kwin = Self { home: home.to_owned(), socket, bus: String::new(), children: vec![] };

        // Services the bus starts on demand (the portal and its KDE backend) inherit the
        // daemon's environment: they must find this compositor, not the developer's.
        let mut daemon = kwin
            .command("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", home.join("runtime/bus").display()))
            .stdout(Stdio::piped())
            // The services it starts (the portal and its backend) log here too.
            .stderr(std::fs::File::create(home.join("bus.log")).expect("bus log"))
            .spawn()
            .expect("spawn dbus-daemon");
        let mut lines = BufReader::new(daemon.stdout.take().expect("stdout")).lines();
        kwin.bus = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("dbus-daemon prints its address")
            .expect("read address")
            .expect("an address line");
        kwin.children.push(daemon);

        // Debian gives kwin_wayland a file capability (to raise its own limits), which a
        // container without that capability refuses to exec; a copy carries none.
        let binary = home.join("kwin_wayland");
        let installed = find_on_path("kwin_wayland").expect("kwin_wayland");
        std::fs::copy(installed, &binary).expect("copy kwin_wayland");
        let log = std::fs::File::create(home.join("kwin.log")).expect("kwin log");
        let compositor = kwin
            .command(binary.to_str().expect("utf-8 path"))
            .args(["--virtual", "--width", "1280", "--height", "800", "--no-lockscreen"])
            .args(["--socket", &kwin.socket])
            // Lets the test's own client use fake input without a desktop file that
            // whitelists it; nothing else in this session is restricted.
            .env("KWIN_WAYLAND_NO_PERMISSION_CHECKS", "1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn kwin_wayland");
        kwin.children.push(compositor);

        let socket_path = kwin.socket_path();
        for _ in 0..200 {
            if socket_path.exists() && kwin.has_name("org.kde.kglobalaccel").await {
                return kwin;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(home.join("kwin.log")).unwrap_or_default();
        panic!("KWin did not come up (socket and org.kde.kglobalaccel); its log:\n{log}");
    }

    fn socket_path(&self) -> PathBuf {
        self.home.join("runtime").join(&self.socket)
    }

    /// The session's environment: bus, compositor, a KDE desktop for the portal's choice.
    pub fn session_env(&self) -> Vec<(&'static str, String)> {
        let dir = |d: &str| self.home.join(d).to_string_lossy().into_owned();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
            ("XDG_RUNTIME_DIR", dir("runtime")),
            ("XDG_CONFIG_HOME", dir("config")),
            ("XDG_DATA_HOME", dir("data")),
            ("XDG_CACHE_HOME", dir("cache")),
            ("WAYLAND_DISPLAY", self.socket.clone()),
            ("XDG_CURRENT_DESKTOP", "KDE".into()),
            ("XDG_SESSION_TYPE", "wayland".into()),
            ("QT_QPA_PLATFORM", "wayland".into()),
            ("GDK_BACKEND", "wayland".into()),
        ]
    }

    /// A program in this session (and in no X server).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env_remove("DISPLAY").envs(self.session_env()).kill_on_drop(true);
        command
    }

    async fn has_name(&self, name: &str) -> bool {
        let out = self
            .command("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus"])
            .args(["/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner"])
            .arg(format!("string:{name}"))
            .output()
            .await;
        out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }

    /// A keyboard for the compositor (KWin's fake-input protocol).
    pub fn keyboard(&self) -> FakeKeyboard {
        FakeKeyboard::connect(&self.socket_path()).expect("fake-input keyboard")
    }

    /// The compositor's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("kwin.log")).unwrap_or_default()
    }
}

impl Screen for Kwin {
    fn env(&self) -> Vec<(&'static str, String)> {
        self.session_env()
    }
}

impl Drop for Kwin {
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

/// A minimal Wayland client speaking the wire protocol directly: enough to bind
/// `org_kde_kwin_fake_input` and send key events (a whole Wayland client library for two
/// requests would be the larger thing to trust).
pub struct FakeKeyboard {
    stream: UnixStream,
    buffer: Vec<u8>,
    next_id: u32,
    fake_input: u32,
}

/// wl_display is object 1 on every connection.
const DISPLAY: u32 = 1;

impl FakeKeyboard {
    fn connect(socket: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut keyboard = Self { stream, buffer: Vec::new(), next_id: 2, fake_input: 0 };
        let registry = keyboard.new_id();
        keyboard.send(DISPLAY, 1, &registry.to_le_bytes())?; // wl_display.get_registry
        let mut global = None;
        for (object, opcode, body) in keyboard.roundtrip()? {
            // wl_registry.global(name: uint, interface: string, version: uint)
            if object == registry && opcode == 0 {
                let name = u32_at(&body, 0);
                let (interface, after) = string_at(&body, 4);
                if interface == "org_kde_kwin_fake_input" {
                    global = Some((name, u32_at(&body, after)));
                }
            }
        }
        let Some((name, version)) = global else {
            return Err(std::io::Error::other("the compositor offers no org_kde_kwin_fake_input"));
        };
        // keyboard_key arrived in version 4.
        if version < 4 {
            return Err(std::io::Error::other(format!("fake_input v{version} has no keys")));
        }
        keyboard.fake_input = keyboard.new_id();
        let mut bind = name.to_le_bytes().to_vec();
        bind.extend(wire_string("org_kde_kwin_fake_input"));
        bind.extend(4u32.to_le_bytes());
        bind.extend(keyboard.fake_input.to_le_bytes());
        keyboard.send(registry, 0, &bind)?; // wl_registry.bind
        let mut auth = wire_string("AuraSpeak e2e");
        auth.extend(wire_string("push-to-talk test"));
        keyboard.send(keyboard.fake_input, 0, &auth)?; // authenticate
        keyboard.roundtrip()?;
        Ok(keyboard)
    }

    /// Presses (or releases) `keys` in order, and waits until the compositor has them.
    pub fn keys(&mut self, keys: &[u32], pressed: bool) -> std::io::Result<()> {
        for key in keys {
            let mut body = key.to_le_bytes().to_vec();
            body.extend(u32::from(pressed).to_le_bytes());
            self.send(self.fake_input, 10, &body)?; // keyboard_key(button, state)
        }
        self.roundtrip().map(drop)
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn send(&mut self, object: u32, opcode: u16, body: &[u8]) -> std::io::Result<()> {
        let size = u16::try_from(8 + body.len()).map_err(std::io::Error::other)?;
        let mut message = object.to_le_bytes().to_vec();
        message.extend(opcode.to_le_bytes());
        message.extend(size.to_le_bytes());
        message.extend(body);
        self.stream.write_all(&message)
    }

    /// wl_display.sync, then every event up to its callback's `done`.
    fn roundtrip(&mut self) -> std::io::Result<Vec<(u32, u16, Vec<u8>)>> {
        let callback = self.new_id();
        self.send(DISPLAY, 0, &callback.to_le_bytes())?;
        let mut events = Vec::new();
        loop {
            while self.buffer.len() < 8 || self.buffer.len() < usize::from(self.frame_size()) {
                let mut chunk = [0u8; 4096];
                let n = self.stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(std::io::Error::other("the compositor closed the connection"));
                }
                self.buffer.extend_from_slice(&chunk[..n]);
            }
            let size = usize::from(self.frame_size()).max(8);
            let frame: Vec<u8> = self.buffer.drain(..size).collect();
            let object = u32_at(&frame, 0);
            let opcode = u16::from_le_bytes([frame[4], frame[5]]);
            let body = frame[8..].to_vec();
            // wl_display.error(object, code, message): a protocol error ends the client.
            if object == DISPLAY && opcode == 0 {
                let (message, _) = string_at(&body, 8);
                return Err(std::io::Error::other(format!("Wayland protocol error: {message}")));
            }
            if object == callback {
                return Ok(events);
            }
            events.push((object, opcode, body));
        }
    }

    fn frame_size(&self) -> u16 {
        u16::from_le_bytes([self.buffer[6], self.buffer[7]])
    }
}

fn u32_at(body: &[u8], at: usize) -> u32 {
    body.get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A wire string at `at` (length with its NUL, bytes, padding to 4) and the offset after it.
fn string_at(body: &[u8], at: usize) -> (String, usize) {
    let len = u32_at(body, at) as usize;
    let start = at + 4;
    let text = body.get(start..start + len.saturating_sub(1)).unwrap_or_default();
    (String::from_utf8_lossy(text).into_owned(), start + len.div_ceil(4) * 4)
}

fn wire_string(text: &str) -> Vec<u8> {
    let mut out = u32::try_from(text.len() + 1).unwrap_or(u32::MAX).to_le_bytes().to_vec();
    out.extend(text.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}
