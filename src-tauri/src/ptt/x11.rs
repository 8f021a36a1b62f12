//! Listens to the push-to-talk key on X11 without taking it from anyone. XInput2 raw
//! events reach every client that selects them on the root window, whichever window has
//! focus and whatever grabs are active, and selecting them grabs nothing: the key still
//! types into the chat, the game or a terminal. A key grab (what the global-shortcut
//! plugin does) would swallow it everywhere.
//!
//! Raw events are selected only while a key is in use (in a call); otherwise this client
//! hears no key at all.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::Event;
use x11rb::protocol::xinput::{self, ConnectionExt as _, XIEventMask};
use x11rb::rust_connection::RustConnection;

use super::Key;
use super::chord::{Chord, Input};

/// Called with a key and its new state (true: held).
pub(crate) type OnChange = Box<dyn Fn(Key, bool) + Send + Sync>;

type Chords = Arc<Mutex<Vec<(Key, Chord)>>>;

pub(crate) struct Listener {
    conn: Arc<RustConnection>,
    root: u32,
    chords: Chords,
    on_change: Arc<OnChange>,
}

impl Listener {
    /// Connects to the X server and starts the thread that reads its events. Fails where
    /// there is no X server or it lacks XInput 2.2.
    pub(crate) fn start(on_change: OnChange) -> Result<Self, String> {
        let (conn, screen) = x11rb::connect(None).map_err(|e| format!("no X server: {e}"))?;
        let root = conn.setup().roots.get(screen).map(|s| s.root).ok_or("no X screen")?;
        if conn
            .extension_information(xinput::X11_EXTENSION_NAME)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err("the X server has no XInput extension".into());
        }
        // 2.2: raw events are delivered even while another client grabs the keyboard.
        let version = conn
            .xinput_xi_query_version(2, 2)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        if (version.major_version, version.minor_version) < (2, 1) {
            return Err(format!(
                "XInput {}.{} is too old for listening to keys",
                version.major_version, version.minor_version
            ));
        }
        let conn = Arc::new(conn);
        let chords: Chords = Arc::default();
        let on_change = Arc::new(on_change);
        let (reader_conn, reader_chords, reader_change) =
            (conn.clone(), chords.clone(), on_change.clone());
        std::thread::Builder::new()
            .name("ptt-x11".into())
            .spawn(move || read_events(&reader_conn, &reader_chords, &reader_change))
            .map_err(|e| e.to_string())?;
        Ok(Self { conn, root, chords, on_change })
    }

    /// Listens for these keys, or for nothing with none. A key held at the switch counts
    /// as let go, so transmission (or a push-to-mute) never sticks.
    pub(crate) fn listen(&self, chords: Vec<(Key, Chord)>) -> Result<(), String> {
        let listening = !chords.is_empty();
        let were_held: Vec<Key> = {
            let mut current = lock(&self.chords);
            let held = current.iter().filter(|(_, c)| c.is_held()).map(|(k, _)| *k).collect();
            *current = chords;
            held
        };
        for key in were_held {
            (self.on_change)(key, false);
        }
        let mask = if listening {
            vec![
                XIEventMask::RAW_KEY_PRESS
                    | XIEventMask::RAW_KEY_RELEASE
                    | XIEventMask::RAW_BUTTON_PRESS
                    | XIEventMask::RAW_BUTTON_RELEASE,
            ]
        } else {
            Vec::new()
        };
        let masks = [xinput::EventMask { deviceid: xinput::Device::ALL_MASTER.into(), mask }];
        let failed = |e: &dyn std::fmt::Display| format!("XInput event selection failed: {e}");
        let cookie =
            self.conn.xinput_xi_select_events(self.root, &masks).map_err(|e| failed(&e))?;
        cookie.check().map_err(|e| failed(&e))
    }
}

fn lock(chords: &Mutex<Vec<(Key, Chord)>>) -> MutexGuard<'_, Vec<(Key, Chord)>> {
    chords.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_events(conn: &RustConnection, chords: &Mutex<Vec<(Key, Chord)>>, on_change: &OnChange) {
    loop {
        let event = match conn.wait_for_event() {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("push-to-talk: the X connection ended: {e}");
                return;
            }
        };
        let (input, pressed) = match event {
            Event::XinputRawKeyPress(e) => (Input::Key(e.detail.saturating_sub(8)), true),
            Event::XinputRawKeyRelease(e) => (Input::Key(e.detail.saturating_sub(8)), false),
            Event::XinputRawButtonPress(e) => (Input::Button(e.detail), true),
            Event::XinputRawButtonRelease(e) => (Input::Button(e.detail), false),
            _ => continue,
        };
        let changes: Vec<(Key, bool)> = lock(chords)
            .iter_mut()
            .filter_map(|(key, chord)| chord.update(input, pressed).map(|held| (*key, held)))
            .collect();
        for (key, held) in changes {
            on_change(key, held);
        }
    }
}
