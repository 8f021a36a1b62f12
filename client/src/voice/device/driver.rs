//! The device driver: a supervisor thread that owns the cpal host and streams and keeps
//! them on the right devices while the call goes on.
//!
//! cpal streams are not `Send` on every host, so they are created, rebuilt and dropped on
//! this one thread. The engine side only sees channels: captured frames come out of
//! [`AudioIo::captured`], frames to play go in through [`AudioIo::play`], both persisting
//! across rebuilds, so a device change is a gap of a few frames, not the end of the call.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::policy::{BufferPolicy, BufferPolicyConfig, BufferRequest};
use super::select::{DeviceChoice, DeviceFollower, FollowerDecision};
pub use super::stream::StreamInfo;
use super::stream::{Counters, OpenStream, PlaybackQueue, open_input, open_output};
use super::{AudioHost, DeviceInfo, DeviceList, Direction};
use crate::error::{Error, Result};
use crate::voice::Frame;

/// Settings of [`AudioIo`].
#[derive(Debug, Clone)]
pub struct AudioIoConfig {
    /// The capture device, or `None` for no capture stream.
    pub input: Option<DeviceChoice>,
    /// The playback device, or `None` for no playback stream.
    pub output: Option<DeviceChoice>,
    /// Buffer sizes to try, and when to move to a larger one. Playback starts at 10 ms
    /// too: 5 ms periods saved 10 ms of mouth-to-ear but underran on a loaded machine,
    /// and each step up the ladder rebuilds the stream, an audible gap.
    pub buffer: BufferPolicyConfig,
    /// How often the device list and the defaults are checked for changes.
    pub poll_interval: Duration,
    /// Captured frames held for the engine before new ones are dropped (overruns).
    pub capture_queue_frames: usize,
    /// Frames held for the device before the oldest are dropped: the bound on latency the
    /// playback side can add when the engine runs ahead of the device clock.
    pub playback_queue_frames: usize,
}

impl Default for AudioIoConfig {
    fn default() -> Self {
        Self {
            input: Some(DeviceChoice::SystemDefault),
            output: Some(DeviceChoice::SystemDefault),
            buffer: BufferPolicyConfig::default(),
            // Fast enough that a replugged headset is back before anyone has repeated a
            // word; cheap enough (a few PulseAudio round trips) to run throughout a call.
            poll_interval: Duration::from_millis(250),
            // Half a second: the engine thread may stall briefly without losing speech.
            capture_queue_frames: 50,
            // 100 ms: more would be heard as delay.
            playback_queue_frames: 10,
        }
    }
}

/// Something the app may want to show or log.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceEvent {
    /// A stream was (re)built and runs with these settings.
    Opened { direction: Direction, info: StreamInfo },
    /// The stream's device went away (unplugged, module unloaded, server gone).
    Lost { direction: Direction, device: DeviceInfo, reason: String },
    /// The stream moved to another device: after a loss, when the chosen device returned,
    /// or when the system default changed. `fallback` is true when `to` is the default
    /// standing in for an absent chosen device.
    Switched { direction: Direction, from: DeviceInfo, to: DeviceInfo, fallback: bool },
    /// Underruns or a refusal moved the stream to a larger buffer.
    BufferGrown { direction: Direction, request: BufferRequest },
    /// A device could not be opened; it is retried at a later poll.
    OpenFailed { direction: Direction, device: DeviceInfo, reason: String },
    /// Devices were added or removed, or a default changed.
    ListChanged(DeviceList),
}

/// Counters and current settings, for a statistics panel and for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceStats {
    /// Frames handed to the engine.
    pub captured_frames: u64,
    /// Capture xruns on the device side (reported by the host or seen as lost time): what
    /// moves the capture buffer up the ladder.
    pub capture_overruns: u64,
    /// Captured frames lost because the engine did not take them in time.
    pub capture_dropped: u64,
    /// Frames taken from the playback queue by the device.
    pub played_frames: u64,
    /// Playback xruns on the device side (reported by the host or seen as lost time): what
    /// moves the playback buffer up the ladder.
    pub playback_underruns: u64,
    /// Times the device asked for audio and the engine had not delivered enough.
    pub playback_starved: u64,
    /// Frames dropped because the playback queue was full or held standing delay.
    pub playback_overruns: u64,
    /// Streams built after the first one of each direction.
    pub rebuilds: u64,
    /// The running capture stream.
    pub input: Option<StreamInfo>,
    /// The running playback stream.
    pub output: Option<StreamInfo>,
}

enum Control {
    Stop,
    SetChoice(Direction, DeviceChoice),
    /// A stream's error callback fired; `generation` tells a late error of an old stream
    /// from one of the current stream.
    StreamError {
        direction: Direction,
        generation: u64,
        error: cpal::Error,
    },
}

/// The engine's end of the devices: captured frames out, frames to play in. It is `Send`
/// and `Sync` (a call shares one port between its capture and playback sides)
/// and belongs on the engine thread; the [`AudioIo`] it came from stays with the app.
pub struct FramePort {
    // Behind a mutex only to make the port `Sync`; there is one reader, so it is never
    // contended.
    captured: Mutex<Receiver<Frame>>,
    playback: Arc<PlaybackQueue>,
    counters: Arc<Counters>,
}

impl FramePort {
    /// The next captured frame, waiting up to `timeout`: frames come in order across
    /// device changes, and a lost device delivers nothing until it is replaced, hence the
    /// timeout. `None` on timeout or once the [`AudioIo`] is gone.
    pub fn recv(&self, timeout: Duration) -> Option<Frame> {
        let captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        captured.recv_timeout(timeout).ok()
    }

    /// Resolves when a captured frame may be waiting (at once if one arrived since the
    /// last call); [`FramePort::recv`] with a zero timeout then takes it.
    pub async fn frame_ready(&self) {
        self.counters.frame_ready.notified().await;
    }

    /// Queues a frame for playback. Returns false if an older frame had to be dropped
    /// because the device is behind.
    pub fn play(&self, frame: Frame) -> bool {
        let fitted = self.playback.push(frame);
        if !fitted {
            self.counters.playback_overruns.fetch_add(1, Ordering::Relaxed);
        }
        fitted
    }

    /// Frames waiting for the playback device.
    pub fn playback_queued(&self) -> usize {
        self.playback.len()
    }
}

impl std::fmt::Debug for FramePort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramePort").field("playback_queued", &self.playback_queued()).finish()
    }
}

/// Capture and playback on real devices, kept alive across device changes: the app's end
/// (events, device choice, statistics). Dropping it stops both streams.
pub struct AudioIo {
    events: Receiver<DeviceEvent>,
    control: Sender<Control>,
    counters: Arc<Counters>,
    shared: Arc<Mutex<DeviceStats>>,
    thread: Option<JoinHandle<()>>,
}

impl AudioIo {
    /// Connects to the audio host and starts the streams on the chosen devices. Fails only
    /// when there is no audio host at all; a device that cannot be opened is reported as
    /// [`DeviceEvent::OpenFailed`] and retried, so a call can start before the headset is
    /// plugged in.
    pub fn start(config: AudioIoConfig) -> Result<(Self, FramePort)> {
        let (frames_tx, captured) = mpsc::sync_channel(config.capture_queue_frames.max(1));
        let playback = Arc::new(PlaybackQueue::new(config.playback_queue_frames));
        let (events_tx, events) = mpsc::channel();
        let (control, control_rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Mutex::new(DeviceStats::default()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let supervisor = Supervisor {
            host: None,
            config: config.clone(),
            inputs: config.input.map(|c| Side::new(Direction::Input, c, &config.buffer)),
            outputs: config.output.map(|c| Side::new(Direction::Output, c, &config.buffer)),
            frames_tx,
            playback: playback.clone(),
            events: events_tx,
            control: control.clone(),
            counters: counters.clone(),
            shared: shared.clone(),
            last_list: None,
            seen_xruns: [0, 0],
            generation: 0,
        };
        let thread = std::thread::Builder::new()
            .name("audio-devices".into())
            .spawn(move || supervisor.run(control_rx, ready_tx))
            .map_err(|e| Error::AudioHost { reason: format!("cannot start device thread: {e}") })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::AudioHost { reason: "device thread ended during start".into() });
            }
        }
        let port =
            FramePort { captured: Mutex::new(captured), playback, counters: counters.clone() };
        Ok((Self { events, control, counters, shared, thread: Some(thread) }, port))
    }

    /// The next event, if any.
    pub fn poll_event(&self) -> Option<DeviceEvent> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event.
    pub fn wait_event(&self, timeout: Duration) -> Option<DeviceEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Moves a stream to another device (or starts following the default).
    pub fn set_device(&self, direction: Direction, choice: DeviceChoice) {
        let _ = self.control.send(Control::SetChoice(direction, choice));
    }

    /// Counters and the settings the streams run with.
    pub fn stats(&self) -> DeviceStats {
        let mut stats = self.shared.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let c = &self.counters;
        stats.captured_frames = c.captured_frames.load(Ordering::Relaxed);
        stats.capture_overruns = c.capture_overruns.load(Ordering::Relaxed);
        stats.capture_dropped = c.capture_dropped.load(Ordering::Relaxed);
        stats.played_frames = c.played_frames.load(Ordering::Relaxed);
        stats.playback_underruns = c.playback_underruns.load(Ordering::Relaxed);
        stats.playback_starved = c.playback_starved.load(Ordering::Relaxed);
        stats.playback_overruns = c.playback_overruns.load(Ordering::Relaxed);
        stats
    }
}

impl Drop for AudioIo {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for AudioIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioIo").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// One direction's stream and the decisions about it.
struct Side {
    direction: Direction,
    follower: DeviceFollower,
    policy: BufferPolicy,
    stream: Option<OpenStream>,
    /// Each direction's streams get their own connection to the host: cpal's PulseAudio
    /// client runs every stream of a connection on one reactor thread, and a capture
    /// stream's bursts (a monitor source delivers its backlog at once) starved the
    /// playback stream sharing it. Dropped after a failed open, so a restarted sound
    /// server is reconnected to.
    host: Option<AudioHost>,
    generation: u64,
    /// The device the last stream ran on, even after it was lost: a `Switched` event
    /// names where the stream came from.
    last_device: Option<DeviceInfo>,
    opened_once: bool,
}

impl Side {
    fn new(direction: Direction, choice: DeviceChoice, buffer: &BufferPolicyConfig) -> Self {
        Self {
            direction,
            follower: DeviceFollower::new(direction, choice),
            policy: BufferPolicy::new(buffer.clone()),
            stream: None,
            host: None,
            generation: 0,
            last_device: None,
            opened_once: false,
        }
    }
}

struct Supervisor {
    host: Option<AudioHost>,
    config: AudioIoConfig,
    inputs: Option<Side>,
    outputs: Option<Side>,
    frames_tx: SyncSender<Frame>,
    playback: Arc<PlaybackQueue>,
    events: Sender<DeviceEvent>,
    control: Sender<Control>,
    counters: Arc<Counters>,
    shared: Arc<Mutex<DeviceStats>>,
    last_list: Option<DeviceList>,
    /// Xruns already fed to each side's buffer policy: [input, output].
    seen_xruns: [u64; 2],
    generation: u64,
}

impl Supervisor {
    fn run(mut self, control: Receiver<Control>, ready: Sender<Result<()>>) {
        match AudioHost::new() {
            Ok(host) => self.host = Some(host),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
        self.poll(Instant::now());
        let _ = ready.send(Ok(()));
        loop {
            match control.recv_timeout(self.config.poll_interval) {
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Control::SetChoice(direction, choice)) => {
                    if let Some(side) = self.side_mut(direction) {
                        side.follower.set_choice(choice);
                    }
                    self.poll(Instant::now());
                }
                Ok(Control::StreamError { direction, generation, error }) => {
                    self.handle_stream_error(direction, generation, &error);
                    self.poll(Instant::now());
                }
                Err(RecvTimeoutError::Timeout) => self.poll(Instant::now()),
            }
        }
        // Streams drop here, on the thread that built them.
        for side in [&mut self.inputs, &mut self.outputs].into_iter().flatten() {
            side.stream = None;
        }
    }

    fn side_mut(&mut self, direction: Direction) -> Option<&mut Side> {
        match direction {
            Direction::Input => self.inputs.as_mut(),
            Direction::Output => self.outputs.as_mut(),
        }
    }

    fn emit(&self, event: DeviceEvent) {
        let _ = self.events.send(event);
    }

    fn handle_stream_error(&mut self, direction: Direction, generation: u64, error: &cpal::Error) {
        use cpal::ErrorKind;
        match error.kind() {
            // Glitches and reroutes the host already handled: the stream is still good.
            ErrorKind::Xrun => {
                let counter = match direction {
                    Direction::Input => &self.counters.capture_overruns,
                    Direction::Output => &self.counters.playback_underruns,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
            ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => return,
            _ => {}
        }
        let Some(side) = self.side_mut(direction) else { return };
        if side.generation != generation || side.stream.is_none() {
            return;
        }
        side.stream = None;
        if let Some(device) = side.follower.handle_stream_lost() {
            self.emit(DeviceEvent::Lost { direction, device, reason: error.to_string() });
        }
        self.publish();
    }

    /// Checks the devices and applies the followers' and policies' decisions.
    fn poll(&mut self, now: Instant) {
        if self.host.is_none() {
            self.host = AudioHost::new().ok();
        }
        let list = match self.host.as_ref().map(AudioHost::list) {
            Some(Ok(list)) => list,
            // A failed listing (the sound server restarting) is treated as an empty list:
            // streams on devices that are really gone are closed, and rebuilt when the list
            // returns; the connection is made anew at the next poll.
            _ => {
                self.host = None;
                DeviceList::default()
            }
        };
        if self.last_list.as_ref() != Some(&list) {
            if self.last_list.is_some() {
                self.emit(DeviceEvent::ListChanged(list.clone()));
            }
            self.last_list = Some(list.clone());
        }
        for direction in [Direction::Input, Direction::Output] {
            self.poll_side(now, direction, &list);
        }
        self.publish();
    }

    fn poll_side(&mut self, now: Instant, direction: Direction, list: &DeviceList) {
        let mut events = Vec::new();
        let Some(mut side) = (match direction {
            Direction::Input => self.inputs.take(),
            Direction::Output => self.outputs.take(),
        }) else {
            return;
        };
        // A device missing from the list is lost even if its stream has not said so: some
        // hosts keep a dead stream quiet, and PulseAudio may silently move it elsewhere.
        if let Some(current) = side.follower.current()
            && !list.devices(direction).iter().any(|d| d.id == current.id)
        {
            side.stream = None;
            if let Some(device) = side.follower.handle_stream_lost() {
                events.push(DeviceEvent::Lost {
                    direction,
                    device,
                    reason: "no longer in the device list".into(),
                });
            }
        }
        match side.follower.handle_list(now, list) {
            FollowerDecision::Keep => self.check_xruns(now, &mut side, &mut events),
            FollowerDecision::Open { device, fallback } => {
                self.open(now, &mut side, device, fallback, &mut events);
            }
            FollowerDecision::Close => {
                side.stream = None;
                side.follower.handle_closed();
            }
        }
        match direction {
            Direction::Input => self.inputs = Some(side),
            Direction::Output => self.outputs = Some(side),
        }
        for event in events {
            self.emit(event);
        }
    }

    /// Feeds new xruns to the buffer policy; rebuilds with a larger buffer if it says so.
    fn check_xruns(&mut self, now: Instant, side: &mut Side, events: &mut Vec<DeviceEvent>) {
        let (index, total) = match side.direction {
            Direction::Input => (0, self.counters.capture_overruns.load(Ordering::Relaxed)),
            Direction::Output => (1, self.counters.playback_underruns.load(Ordering::Relaxed)),
        };
        let new = total.saturating_sub(self.seen_xruns[index]);
        self.seen_xruns[index] = total;
        if side.stream.is_none() {
            return;
        }
        let mut grow = None;
        // Capped: a flood of xruns only needs to cross the threshold, not be replayed.
        for _ in 0..new.min(64) {
            if let Some(request) = side.policy.handle_xrun(now) {
                grow = Some(request);
            }
        }
        if let (Some(request), Some(device)) = (grow, side.follower.current().cloned()) {
            events.push(DeviceEvent::BufferGrown { direction: side.direction, request });
            side.stream = None;
            self.open(now, side, device, false, events);
        }
    }

    /// Builds a stream on `device`, climbing the buffer ladder while the device refuses.
    fn open(
        &mut self,
        now: Instant,
        side: &mut Side,
        device: DeviceInfo,
        fallback: bool,
        events: &mut Vec<DeviceEvent>,
    ) {
        let direction = side.direction;
        // The old stream goes first: some hosts allow one stream per device.
        side.stream = None;
        let found = match &side.host {
            Some(host) => host.find(direction, &device.id),
            None => AudioHost::new().and_then(|host| {
                let found = host.find(direction, &device.id);
                side.host = Some(host);
                found
            }),
        };
        let cpal_device = match found {
            Ok(Some(d)) => d,
            Ok(None) => {
                side.follower.handle_open_failed(now, &device);
                events.push(DeviceEvent::OpenFailed {
                    direction,
                    device,
                    reason: "not found".into(),
                });
                return;
            }
            Err(e) => {
                side.host = None;
                side.follower.handle_open_failed(now, &device);
                events.push(DeviceEvent::OpenFailed { direction, device, reason: e.to_string() });
                return;
            }
        };
        self.generation += 1;
        side.generation = self.generation;
        let mut request = side.policy.current();
        loop {
            let control = self.control.clone();
            let generation = side.generation;
            let on_error = move |error| {
                let _ = control.send(Control::StreamError { direction, generation, error });
            };
            let result = match direction {
                Direction::Input => open_input(
                    &cpal_device,
                    &device,
                    request,
                    self.frames_tx.clone(),
                    self.counters.clone(),
                    on_error,
                ),
                Direction::Output => open_output(
                    &cpal_device,
                    &device,
                    request,
                    self.playback.clone(),
                    self.counters.clone(),
                    on_error,
                ),
            };
            match result {
                Ok(stream) => {
                    let info = stream.info.clone();
                    side.stream = Some(stream);
                    side.follower.handle_opened(device.clone());
                    if side.opened_once {
                        self.shared.lock().unwrap_or_else(PoisonError::into_inner).rebuilds += 1;
                    }
                    side.opened_once = true;
                    if let Some(from) = side.last_device.replace(device.clone())
                        && from.id != device.id
                    {
                        events.push(DeviceEvent::Switched {
                            direction,
                            from,
                            to: device,
                            fallback,
                        });
                    }
                    events.push(DeviceEvent::Opened { direction, info });
                    return;
                }
                Err(e) => match is_refusal(&e).then(|| side.policy.handle_refused()).flatten() {
                    Some(larger) => {
                        request = larger;
                        events.push(DeviceEvent::BufferGrown { direction, request });
                    }
                    None => {
                        side.host = None;
                        side.follower.handle_open_failed(now, &device);
                        events.push(DeviceEvent::OpenFailed {
                            direction,
                            device,
                            reason: e.to_string(),
                        });
                        return;
                    }
                },
            }
        }
    }

    fn publish(&self) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.input = self.inputs.as_ref().and_then(|s| s.stream.as_ref()).map(|s| s.info.clone());
        shared.output =
            self.outputs.as_ref().and_then(|s| s.stream.as_ref()).map(|s| s.info.clone());
    }
}

/// Whether building failed because of the configuration (worth a larger buffer) rather
/// than because the device is gone or busy (not helped by one).
fn is_refusal(error: &Error) -> bool {
    matches!(error, Error::Device { source, .. }
        if matches!(source.kind(), cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::InvalidInput))
}
