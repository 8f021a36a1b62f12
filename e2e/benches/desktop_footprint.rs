//! Footprint of the desktop app: time until the first screen answers, resident memory of
//! the whole app (the Rust process plus WebKit's web and network processes) when idle in
//! a server and when in a voice call, and the sizes of what users download. Prints the
//! median of several launches; quote ratios, not single figures (the machines are noisy).
//!
//! `cargo bench -p auraspeak-e2e --bench desktop_footprint` measures the app as it is
//! shipped, built with the `desktop` profile (`target/desktop/auraspeak-desktop`, or
//! `AURASPEAK_DESKTOP_BIN`); build it first with
//! `ui/node_modules/.bin/tauri build --bundles deb -- --profile desktop`.
//! `AURASPEAK_FOOTPRINT_SMAPS=DIR` saves each process's memory map in a call there. Needs
//! Xvfb and WebKitWebDriver (see scripts/install-deps.sh) and a PulseAudio for the call
//! (`scripts/pulse-headless.sh`).
//! Run as a test (`cargo test --all-targets`) it only says how to run it.

#[path = "../tests/support/community.rs"]
mod community;
#[path = "../tests/support/desktop.rs"]
mod desktop;
#[path = "../tests/support/harness.rs"]
mod harness;
#[path = "../tests/support/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use auraspeak_client::api::ApiClient;
use auraspeak_shared::ChannelId;
use auraspeak_shared::v1::channels::{ChannelKind, CreateChannelRequest};
use auraspeak_shared::v1::messages::SendMessageRequest;
use desktop::{DesktopApp, Display, attribute_script, set_input, tools};
use harness::{Backend, PASSWORD, TestServer};
use serde_json::json;

const LAUNCHES: usize = 3;
const WAIT: Duration = Duration::from_secs(45);
/// Memory is read after it settles this long in each state.
const SETTLE: Duration = Duration::from_secs(5);
/// Messages in each of the two channels the UI switches between (more than one page).
const HISTORY: usize = 60;
/// A page of history, as the UI loads it (`HISTORY_PAGE` in ui/src/state/AppProvider.tsx).
const PAGE: usize = 50;
/// Switches between the two channels per launch.
const SWITCHES: usize = 6;

/// A text channel holding [`HISTORY`] messages with the markdown the UI renders
/// (emphasis, code, links, mentions); the newest ends with "`name` #last".
async fn channel_with_history(
    owner: &ApiClient,
    server: auraspeak_shared::ServerId,
    name: &str,
    owner_id: &str,
) -> ChannelId {
    let request = CreateChannelRequest {
        name: name.into(),
        kind: ChannelKind::Text,
        topic: None,
        parent_id: None,
        position: None,
        bitrate_kbps: None,
        user_limit: None,
    };
    let channel = owner.create_channel(server, &request).await.expect("channel").id;
    for i in 0..HISTORY {
        let content = if i + 1 == HISTORY {
            format!("{name} #last")
        } else {
            format!(
                "**{name}** message {i}: `code {i}` and *emphasis*, see https://example.com/{i} \
                 <@{owner_id}> ~~old~~ and a longer tail of ordinary words to wrap the line"
            )
        };
        let message = SendMessageRequest { content, reply_to: None, nonce: None };
        owner.send_message(channel, &message).await.expect("message");
    }
    channel
}

/// Clicks a channel and measures, with the page's own clock, until its newest page of
/// messages is in the document and painted: the work the JavaScript engine does when
/// someone switches channels (a fetch the first time, rendering every time).
async fn switch_ms(app: &webdriver::Session, channel: ChannelId, name: &str) -> f64 {
    let script = r#"
        const [selector, marker, count, done] = arguments;
        const start = performance.now();
        document.querySelector(selector).click();
        const check = () => {
            const messages = document.querySelectorAll("[data-testid=message]");
            const newest = messages[messages.length - 1];
            const label = newest ? newest.getAttribute("aria-label") || "" : "";
            if (messages.length >= count && label.endsWith(marker)) {
                requestAnimationFrame(() => setTimeout(() => done(performance.now() - start), 0));
            } else {
                setTimeout(check, 2);
            }
        };
        check();
    "#;
    let selector = format!("[data-testid=channel-{channel}]");
    let value = app.execute_async(script, json!([selector, format!("{name} #last"), PAGE])).await;
    value.as_f64().unwrap_or_else(|| panic!("switch to {name} not measured: {value}"))
}

/// The app as the installer ships it: `AURASPEAK_DESKTOP_BIN`, else the `desktop` profile's
/// build beside this bench's `release` folder.
fn shipped_binary() -> Option<PathBuf> {
    let bin = match std::env::var_os("AURASPEAK_DESKTOP_BIN").filter(|v| !v.is_empty()) {
        Some(bin) => PathBuf::from(bin),
        None => std::env::current_exe()
            .ok()?
            .ancestors()
            .nth(3)? // target/release/deps/<bench>
            .join("desktop")
            .join(format!("auraspeak-desktop{}", std::env::consts::EXE_SUFFIX)),
    };
    if bin.is_file() {
        return Some(bin);
    }
    println!(
        "desktop_footprint: {} not found; build it with \
         `ui/node_modules/.bin/tauri build --bundles deb -- --profile desktop`",
        bin.display()
    );
    None
}

/// WebKitGTK's own browser, which comes with the library.
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/// WebKitGTK alone: MiniBrowser on an empty page with the settings the app applies
/// (src-tauri/src/webkit_env.rs), measured like the app. No app on WebKitGTK goes below it;
/// the rest of the app's figure is ours.
async fn webkit_alone(display: &Display, home: &Path) -> Option<Memory> {
    let bin = Path::new(MINIBROWSER);
    if !bin.is_file() {
        return None;
    }
    let mut child = tokio::process::Command::new(bin)
        .arg("about:blank")
        .env_remove("WAYLAND_DISPLAY")
        .env("DISPLAY", display.name())
        .envs([
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
            ("JSC_useJIT", "0"),
        ])
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    // The browser, its network process and its web process.
    let deadline = std::time::Instant::now() + WAIT;
    while process_tree(bin).len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(SETTLE).await;
    let memory = memory_mib(bin);
    let _ = child.kill().await;
    Some(memory)
}

/// The app process and every process below it (WebKit's helpers).
fn process_tree(app_bin: &Path) -> Vec<u32> {
    let mut procs = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return procs };
    let mut parent_of = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        parent_of.push((pid, ppid));
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let exe = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if exe == app_bin.as_os_str().as_encoded_bytes() {
            procs.push(pid);
        }
    }
    let mut i = 0;
    while i < procs.len() {
        let parent = procs[i];
        for (pid, ppid) in &parent_of {
            if *ppid == parent && !procs.contains(pid) {
                procs.push(*pid);
            }
        }
        i += 1;
    }
    procs
}

/// Memory of the whole process tree, in MiB.
#[derive(Clone)]
struct Memory {
    /// What a task manager shows per process, summed (shared libraries counted again in
    /// each process).
    rss: f64,
    /// Shared pages split fairly between the processes using them: the figure that adds
    /// up. Under Xvfb nothing else uses GTK, WebKit or Mesa, so their pages count fully.
    pss: f64,
    /// Pages only the app holds (USS), code pages of libraries only it maps included:
    /// what quitting it gives back.
    private: f64,
    /// Anonymous memory only (heaps, stacks, JIT code, relocated pages), without any
    /// file-backed page: what GNOME System Monitor's "Memory" column shows.
    anon: f64,
    /// PSS and private memory per process, by process name, to see where it goes.
    by_process: Vec<(String, f64, f64)>,
}

fn memory_mib(app_bin: &Path) -> Memory {
    let field = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (mut rss, mut pss, mut private, mut anon) = (0.0, 0.0, 0.0, 0.0);
    let mut by_process = Vec::new();
    for pid in process_tree(app_bin) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let (p, own) = (
            field(&rollup, "Pss:"),
            field(&rollup, "Private_Clean:") + field(&rollup, "Private_Dirty:"),
        );
        rss += field(&status, "VmRSS:");
        anon += field(&status, "RssAnon:");
        pss += p;
        private += own;
        by_process.push((name.trim().to_owned(), p / 1024.0, own / 1024.0));
    }
    by_process.sort_by(|a, b| a.0.cmp(&b.0));
    Memory {
        rss: rss / 1024.0,
        pss: pss / 1024.0,
        private: private / 1024.0,
        anon: anon / 1024.0,
        by_process,
    }
}

/// Copies each process's `smaps` (memory per mapping) into `dir`, to see which library or
/// heap the memory in a call is.
fn save_smaps(app_bin: &Path, dir: &Path) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("smaps not saved to {}: {e}", dir.display());
        return;
    }
    for pid in process_tree(app_bin) {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let to = dir.join(format!("{}-{pid}.smaps", name.trim()));
        if let Err(e) = std::fs::copy(format!("/proc/{pid}/smaps"), &to) {
            eprintln!("smaps of {pid} not saved: {e}");
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn file_mib(path: &Path) -> Option<f64> {
    std::fs::metadata(path).ok().map(|m| m.len() as f64 / 1_048_576.0)
}

fn dir_kib(path: &Path) -> f64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_kib(&p) * 1024.0
                    } else {
                        file_mib(&p).unwrap_or(0.0) * 1_048_576.0
                    }
                })
                .sum::<f64>()
                / 1024.0
        })
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "desktop_footprint: run with `cargo bench -p auraspeak-e2e --bench desktop_footprint`"
        );
        return;
    }
    let Some((xvfb, driver_bin)) = tools(&[]) else { return };
    let Some(app_bin) = shipped_binary() else { return };
    let server = TestServer::start(&Backend::Sqlite).await;
    let (owner, auth) = community::register(&server.base, "bench").await;
    let detail = owner.create_server("Footprint", None).await.expect("server");
    let voice = detail.channels.iter().find(|c| c.name == "General").expect("voice channel").id;
    let owner_id = auth.user.id.to_string();
    let history = [
        (channel_with_history(&owner, detail.server.id, "history-a", &owner_id).await, "history-a"),
        (channel_with_history(&owner, detail.server.id, "history-b", &owner_id).await, "history-b"),
    ];
    let display = Display::start(&xvfb).await;

    let (mut interactive, mut idle, mut call) = (Vec::new(), Vec::new(), Vec::new());
    let (mut first_open, mut reopen) = (Vec::new(), Vec::new());
    let mut alone = Vec::new();
    for launch in 0..LAUNCHES {
        let home =
            std::env::temp_dir().join(format!("auraspeak-footprint-{}-webkit", std::process::id()));
        alone.extend(webkit_alone(&display, &home).await);
        let _ = std::fs::remove_dir_all(&home);
        let home = std::env::temp_dir()
            .join(format!("auraspeak-footprint-{}-{launch}", std::process::id()));
        let desktop = DesktopApp::start(&driver_bin, &app_bin, &display, &home, &[]).await;
        let app = &desktop.session;
        app.wait("input[name=password]", WAIT).await;
        interactive.push(desktop.launched.elapsed().as_secs_f64() * 1000.0);

        set_input(app, "input[name=server]", &server.base).await;
        set_input(app, "input[name=login]", "bench").await;
        set_input(app, "input[name=password]", PASSWORD).await;
        app.click_on("button[type=submit]", WAIT).await;
        app.wait("[data-testid=app-shell]", WAIT).await;
        app.click_on(&format!("[data-testid=server-{}]", detail.server.id), WAIT).await;
        tokio::time::sleep(SETTLE).await;
        idle.push(memory_mib(&app_bin));

        app.click_on(&format!("[data-testid=channel-{voice}]"), WAIT).await;
        let state = attribute_script("[data-testid=voice-panel]", "data-state");
        app.wait_script("voice connects", &format!("return ({state}) === 'connected';"), WAIT)
            .await;
        tokio::time::sleep(SETTLE).await;
        call.push(memory_mib(&app_bin));
        if let Some(dir) = std::env::var_os("AURASPEAK_FOOTPRINT_SMAPS") {
            save_smaps(&app_bin, &Path::new(&dir).join(format!("launch{launch}")));
        }

        for i in 0..SWITCHES {
            let (channel, name) = history[i % 2];
            let ms = switch_ms(app, channel, name).await;
            if i < 2 { first_open.push(ms) } else { reopen.push(ms) }
        }
        desktop.stop().await;
        let _ = std::fs::remove_dir_all(&home);
    }

    let show = |v: &[Memory]| {
        let of = |f: &dyn Fn(&Memory) -> f64| median(v.iter().map(f).collect());
        let mut text = format!(
            "RSS {:.0} MiB, PSS {:.0} MiB, private {:.0} MiB, anonymous {:.0} MiB",
            of(&|m| m.rss),
            of(&|m| m.pss),
            of(&|m| m.private),
            of(&|m| m.anon)
        );
        let names: Vec<String> = v
            .first()
            .map(|m| m.by_process.iter().map(|p| p.0.clone()).collect())
            .unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            let at = |m: &Memory, f: fn(&(String, f64, f64)) -> f64| {
                m.by_process.get(i).map_or(f64::NAN, f)
            };
            text.push_str(&format!(
                "\n      {name}: PSS {:.0}, private {:.0}",
                of(&|m| at(m, |p| p.1)),
                of(&|m| at(m, |p| p.2))
            ));
        }
        text
    };
    println!("desktop_footprint ({LAUNCHES} launches, medians; {})", app_bin.display());
    println!("  time to interactive (launch to login form): {:.0} ms", median(interactive));
    println!("  memory idle in a server: {}", show(&idle));
    println!("  memory in a voice call:  {}", show(&call));
    if alone.is_empty() {
        println!("  WebKitGTK alone: not measured ({MINIBROWSER} missing)");
    } else {
        println!("  WebKitGTK alone (MiniBrowser, empty page, same settings): {}", show(&alone));
    }
    println!(
        "  channel switch to {PAGE} messages: first open {:.0} ms, again {:.0} ms",
        median(first_open),
        median(reopen)
    );
    let bin_dir = app_bin.parent().map(Path::to_path_buf).unwrap_or_default();
    println!("  app binary: {:.1} MiB", file_mib(&app_bin).unwrap_or(f64::NAN));
    let deb = std::fs::read_dir(bin_dir.join("bundle/deb")).ok().and_then(|d| {
        d.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "deb"))
    });
    match deb.as_deref().and_then(file_mib) {
        Some(size) => println!("  .deb installer: {size:.1} MiB"),
        None => {
            println!("  .deb installer: not built (tauri build --bundles deb -- --profile desktop)")
        }
    }
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    println!("  UI assets (embedded): {:.0} KiB", dir_kib(&ui));
    server.stop().await;
}
