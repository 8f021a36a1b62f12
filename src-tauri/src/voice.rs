//! The voice side of the shell: one call at a time (or a microphone test), run by the
//! client crate's call driver on the real audio devices, with its status turned into UI
//! events and push-to-talk, mute and per-user volume passed in as call controls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use auraspeak_client::call::{self, AudioInput, AudioOutput, CallControl, CallOptions, CallStatus};
use auraspeak_client::gateway::{GatewayEvent, GatewayEvents, GatewayHandle};
use auraspeak_client::voice::device::{
    AudioIo, AudioIoConfig, DeviceChoice, DeviceEvent, Direction, FramePort,
};
use auraspeak_client::voice::{CaptureConfig, CapturePipeline, FRAME_SAMPLES, Level};
use auraspeak_shared::v1::gateway::Event;
use auraspeak_shared::{ChannelId, ServerId, UserId};
use tauri::AppHandle;
use tauri::async_runtime::JoinHandle;
use tauri_specta::Event as _;
use tokio::sync::{mpsc, watch};

use crate::error::{CommandError, CommandResult};
use crate::events::{DevicesChanged, InputLevel, PushToTalk, VoiceConnectionState, VoiceStatus};
use crate::settings::{InputMode, VoiceSettings};

/// Voice events waiting for the call driver; it drains them every 10 ms.
const FORWARD_CAPACITY: usize = 256;
/// The UI gets the full status (ping, loss) this often; levels go out at 10 Hz.
const STATUS_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct VoiceController {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    call: Option<ActiveCall>,
    mic_test: Option<Arc<AtomicBool>>,
    /// The mic test runs inside the call (see `mic_test`).
    hearing_myself: bool,
    /// Volume (0–200 %) and local mute per participant, kept across calls like Discord.
    preferences: HashMap<UserId, (u16, bool)>,
    self_mute: bool,
    self_deaf: bool,
    input_mode: Option<InputMode>,
    /// What the UI was last told about the connection, repeated with mute changes.
    last_state: VoiceConnectionState,
}

struct ActiveCall {
    channel_id: ChannelId,
    server_id: Option<ServerId>,
    controls: mpsc::Sender<CallControl>,
    events: mpsc::Sender<GatewayEvent>,
    devices: mpsc::UnboundedSender<(Direction, DeviceChoice)>,
    task: JoinHandle<()>,
}

impl VoiceController {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands the running call the gateway events it acts on (signaling answers, refusals,
    /// slot assignments, our own voice state, the gateway's sessions and their end: a new
    /// session makes the call join again) and notes which server our voice state is on.
    /// Chat traffic never reaches the call.
    pub fn forward(&self, app: &AppHandle, event: &GatewayEvent) {
        let for_call = matches!(
            event,
            GatewayEvent::VoiceReady { .. }
                | GatewayEvent::VoiceAnswer { .. }
                | GatewayEvent::ServerError { .. }
                | GatewayEvent::Closed { .. }
                | GatewayEvent::Ready { .. }
                | GatewayEvent::Resumed { .. }
                | GatewayEvent::Disconnected { .. }
                | GatewayEvent::InvalidSession
                | GatewayEvent::Dispatch {
                    event: Event::VoiceSlot { .. } | Event::VoiceStateUpdate { .. },
                    ..
                }
        );
        if !for_call {
            return;
        }
        let mut inner = self.inner();
        let Some(call) = inner.call.as_mut() else { return };
        if call.events.try_send(event.clone()).is_err() {
            tracing::warn!("voice call is not keeping up with gateway events");
        }
        if let GatewayEvent::Dispatch { event: Event::VoiceStateUpdate { state }, .. } = event
            && state.channel_id == Some(call.channel_id)
            && call.server_id.is_none()
        {
            call.server_id = Some(state.server_id);
            let status = inner.status(inner.last_state, None);
            drop(inner);
            let _ = status.emit(app);
        }
    }

    /// Joins `channel`, leaving any call first. Returns once the call task runs; the
    /// connection state follows as `VoiceStatus` events.
    pub async fn join(
        &self,
        app: &AppHandle,
        gateway: GatewayHandle,
        me: UserId,
        channel: ChannelId,
        settings: VoiceSettings,
    ) -> CommandResult<()> {
        self.leave(app).await;
        self.stop_mic_test();
        let io_config = AudioIoConfig {
            input: Some(choice(&settings.input_device)),
            output: Some(choice(&settings.output_device)),
            ..AudioIoConfig::default()
        };
        let (io, port) = AudioIo::start(io_config)?;
        let port = Arc::new(port);

        let (events_tx, mut events) = GatewayEvents::forwarded(FORWARD_CAPACITY);
        let (controls, controls_rx) = mpsc::channel(64);
        let (devices_tx, devices_rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(CallStatus::default());
        let (self_mute, self_deaf, preferences) = {
            let mut inner = self.inner();
            inner.input_mode = Some(settings.input_mode);
            (inner.self_mute, inner.self_deaf, inner.preferences.clone())
        };
        for (user, (volume, muted)) in preferences {
            let _ = controls.try_send(CallControl::UserVolume(user, volume));
            let _ = controls.try_send(CallControl::UserMuted(user, muted));
        }
        let mut options = CallOptions::new(channel);
        options.me = Some(me);
        options.capture = settings.capture_config();
        options.self_mute = self_mute;
        options.self_deaf = self_deaf;
        options.status = Some(status_tx);

        let app_for_task = app.clone();
        let task = tauri::async_runtime::spawn(async move {
            let app = app_for_task;
            let watcher =
                tauri::async_runtime::spawn(watch_call(app.clone(), io, status_rx, devices_rx));
            let input = AudioInput::Device(port.clone());
            let output = AudioOutput::Device(port);
            let result =
                call::run(&gateway, &mut events, options, input, output, controls_rx).await;
            watcher.abort();
            let ended = match result {
                Ok(report) if report.ended == "left" => None,
                Ok(report) => Some(report.ended),
                Err(e) => Some(e.to_string()),
            };
            use tauri::Manager as _;
            let state = app.state::<crate::state::AppState>();
            let status = {
                let mut inner = state.voice.inner();
                // Only if no newer call has replaced this one meanwhile.
                if inner.call.as_ref().is_some_and(|c| c.channel_id == channel) {
                    inner.call = None;
                }
                inner.status(VoiceConnectionState::Idle, ended)
            };
            let _ = status.emit(&app);
            state.voice.sync_push_to_talk(&app);
        });
        let status = {
            let mut inner = self.inner();
            inner.call = Some(ActiveCall {
                channel_id: channel,
                server_id: None,
                controls,
                events: events_tx,
                devices: devices_tx,
                task,
            });
            inner.last_state = VoiceConnectionState::Connecting;
            inner.status(VoiceConnectionState::Connecting, None)
        };
        let _ = status.emit(app);
        self.sync_push_to_talk(app);
        Ok(())
    }

    /// Tells the global keys whether they are in use: only in a call (push-to-talk: in
    /// push-to-talk mode) are they listened to (or, where the platform can only grab,
    /// taken). Never called with the lock held: letting go of a held key reports here.
    pub fn sync_push_to_talk(&self, app: &AppHandle) {
        let (in_call, push_to_talk_mode) = {
            let inner = self.inner();
            (inner.call.is_some(), inner.input_mode == Some(InputMode::PushToTalk))
        };
        crate::ptt::set_active(app, in_call, push_to_talk_mode);
    }

    /// The push-to-mute key went down or up: nothing is sent while it is held.
    pub fn push_to_mute(&self, held: bool) {
        self.inner().control(CallControl::HoldMute(held));
    }

    /// The toggle-mute key was pressed.
    pub fn toggle_mute(&self, app: &AppHandle) {
        let muted = self.inner().self_mute;
        self.set_self_mute(app, !muted);
    }

    /// Leaves the call, if any, and waits (briefly) until it has told the server.
    pub async fn leave(&self, app: &AppHandle) {
        let call = self.inner().call.take();
        let Some(call) = call else { return };
        let _ = call.controls.send(CallControl::Leave).await;
        let mut task = call.task;
        if tokio::time::timeout(Duration::from_secs(2), &mut task).await.is_err() {
            task.abort();
        }
        let status = self.inner().status(VoiceConnectionState::Idle, None);
        let _ = status.emit(app);
        self.sync_push_to_talk(app);
    }

    pub fn set_self_mute(&self, app: &AppHandle, muted: bool) {
        self.update_self(app, |inner| {
            inner.self_mute = muted;
            CallControl::Mute(muted)
        });
    }

    pub fn set_self_deaf(&self, app: &AppHandle, deafened: bool) {
        self.update_self(app, |inner| {
            inner.self_deaf = deafened;
            CallControl::Deafen(deafened)
        });
    }

    /// Changes our own mute or deafen, tells the call, and shows the new state at once.
    fn update_self(&self, app: &AppHandle, change: impl FnOnce(&mut Inner) -> CallControl) {
        let mut inner = self.inner();
        let control = change(&mut inner);
        inner.control(control);
        let status = inner.status(inner.last_state, None);
        drop(inner);
        let _ = status.emit(app);
    }

    pub fn self_mute_deaf(&self) -> (bool, bool) {
        let inner = self.inner();
        (inner.self_mute, inner.self_deaf)
    }

    /// The global push-to-talk key changed. In voice-activity mode the key does nothing
    /// to transmission (as in Discord), but the UI still sees it.
    pub fn push_to_talk(&self, app: &AppHandle, pressed: bool) {
        let inner = self.inner();
        if inner.input_mode == Some(InputMode::PushToTalk) {
            inner.control(CallControl::PushToTalk(pressed));
        }
        drop(inner);
        let _ = PushToTalk { pressed }.emit(app);
    }

    pub fn set_user_volume(&self, user: UserId, percent: u16) {
        let mut inner = self.inner();
        let percent = percent.min(200);
        inner.preferences.entry(user).or_insert((100, false)).0 = percent;
        inner.control(CallControl::UserVolume(user, percent));
    }

    /// Another user's volume and mute as set here (100 % and unmuted if never set).
    pub fn preference(&self, user: UserId) -> (u16, bool) {
        self.inner().preferences.get(&user).copied().unwrap_or((100, false))
    }

    /// Every volume and mute set for other users.
    pub fn preferences(&self) -> Vec<(UserId, (u16, bool))> {
        self.inner().preferences.iter().map(|(u, p)| (*u, *p)).collect()
    }

    /// The remembered volumes and mutes of the account just logged in to, replacing the
    /// last account's (a running call gets them at once).
    pub fn set_preferences(&self, preferences: HashMap<UserId, (u16, bool)>) {
        let mut inner = self.inner();
        for (user, (volume, muted)) in &preferences {
            inner.control(CallControl::UserVolume(*user, *volume));
            inner.control(CallControl::UserMuted(*user, *muted));
        }
        inner.preferences = preferences;
    }

    pub fn set_user_muted(&self, user: UserId, muted: bool) {
        let mut inner = self.inner();
        inner.preferences.entry(user).or_insert((100, false)).1 = muted;
        inner.control(CallControl::UserMuted(user, muted));
    }

    /// Applies changed settings to a running call without leaving it.
    pub fn apply_settings(&self, previous: &VoiceSettings, settings: &VoiceSettings) {
        let mut inner = self.inner();
        inner.input_mode = Some(settings.input_mode);
        inner.control(CallControl::EchoCancellation(settings.echo_cancellation));
        inner.control(CallControl::NoiseSuppression(settings.noise_suppression));
        inner.control(CallControl::StrongSuppression(settings.strong_suppression));
        inner.control(CallControl::Gate(settings.gate_mode()));
        inner.control(CallControl::InputGainDb(settings.input_gain_db));
        if let Some(call) = &inner.call {
            if previous.input_device != settings.input_device {
                let _ = call.devices.send((Direction::Input, choice(&settings.input_device)));
            }
            if previous.output_device != settings.output_device {
                let _ = call.devices.send((Direction::Output, choice(&settings.output_device)));
            }
        }
    }

    /// Starts or stops the microphone test: the processed microphone signal played back
    /// while the gate is open, so people hear what the others would. In a call the call's
    /// own capture chain does it (the device is the call's, and that is the chain the
    /// others hear).
    pub fn mic_test(
        &self,
        app: &AppHandle,
        enabled: bool,
        settings: VoiceSettings,
    ) -> CommandResult<()> {
        self.stop_mic_test();
        {
            let mut inner = self.inner();
            if inner.call.is_some() || !enabled {
                inner.hearing_myself = enabled && inner.call.is_some();
                inner.control(CallControl::HearMyself(inner.hearing_myself));
                return Ok(());
            }
        }
        let io_config = AudioIoConfig {
            input: Some(choice(&settings.input_device)),
            output: Some(choice(&settings.output_device)),
            ..AudioIoConfig::default()
        };
        let (io, port) = AudioIo::start(io_config)?;
        // The test plays nothing but the microphone itself, so the canceller would have no
        // far end to cancel: it would only add its 9 ms and a thread.
        let capture = CaptureConfig { echo_cancellation: false, ..settings.capture_config() };
        let pipeline = CapturePipeline::new(capture)?;
        let running = Arc::new(AtomicBool::new(true));
        self.inner().mic_test = Some(running.clone());
        let app = app.clone();
        std::thread::Builder::new()
            .name("mic-test".into())
            .spawn(move || mic_test_loop(app, io, port, pipeline, running))
            .map_err(CommandError::internal)?;
        Ok(())
    }

    fn stop_mic_test(&self) {
        let mut inner = self.inner();
        if let Some(running) = inner.mic_test.take() {
            running.store(false, Ordering::Relaxed);
        }
        if std::mem::take(&mut inner.hearing_myself) {
            inner.control(CallControl::HearMyself(false));
        }
    }
}

impl Inner {
    fn control(&self, control: CallControl) {
        if let Some(call) = &self.call {
            // A full queue means the call is stuck; a dropped volume change is harmless.
            let _ = call.controls.try_send(control);
        }
    }

    fn status(&self, state: VoiceConnectionState, ended_reason: Option<String>) -> VoiceStatus {
        VoiceStatus {
            channel_id: self.call.as_ref().map(|c| c.channel_id),
            server_id: self.call.as_ref().and_then(|c| c.server_id),
            state: if self.call.is_some() { state } else { VoiceConnectionState::Idle },
            self_mute: self.self_mute,
            self_deaf: self.self_deaf,
            transmitting: false,
            ping_ms: None,
            loss_percent: None,
            ended_reason,
            loss_up_percent: None,
            jitter_ms: None,
        }
    }
}

fn choice(device: &Option<String>) -> DeviceChoice {
    device.as_ref().map_or(DeviceChoice::SystemDefault, |id| DeviceChoice::Id(id.clone()))
}

/// Turns the call's status into UI events and keeps the audio devices alive for the
/// call's length (device changes from settings are applied here).
async fn watch_call(
    app: AppHandle,
    io: AudioIo,
    mut status: watch::Receiver<CallStatus>,
    mut devices: mpsc::UnboundedReceiver<(Direction, DeviceChoice)>,
) {
    use tauri::Manager as _;
    let mut last_full = tokio::time::Instant::now() - STATUS_EVERY;
    let mut last_state = None;
    loop {
        tokio::select! {
            changed = status.changed() => if changed.is_err() { break },
            Some((direction, choice)) = devices.recv() => io.set_device(direction, choice),
        }
        if report_device_events(&app, &io) {
            app.state::<crate::state::AppState>()
                .voice
                .inner()
                .control(CallControl::EchoPathChanged);
        }
        let current = status.borrow_and_update().clone();
        emit_level(
            &app,
            current.level,
            current.voice_probability,
            current.transmitting,
            current.digital_silence,
        );
        let state = if current.connected {
            VoiceConnectionState::Connected
        } else {
            VoiceConnectionState::Reconnecting
        };
        let now = tokio::time::Instant::now();
        if last_state != Some(state) || now.duration_since(last_full) >= STATUS_EVERY {
            last_full = now;
            last_state = Some(state);
            let state_handle = app.state::<crate::state::AppState>();
            let mut status = {
                let mut inner = state_handle.voice.inner();
                inner.last_state = state;
                inner.status(state, None)
            };
            status.transmitting = current.transmitting;
            status.ping_ms = current.link.rtt_ms;
            status.loss_percent = current.link.downstream_loss.map(|l| l * 100.0);
            status.loss_up_percent = current.link.upstream_loss.map(|l| l * 100.0);
            status.jitter_ms = current.link.jitter_ms;
            let _ = status.emit(&app);
        }
    }
}

fn mic_test_loop(
    app: AppHandle,
    io: AudioIo,
    port: FramePort,
    mut pipeline: CapturePipeline,
    running: Arc<AtomicBool>,
) {
    let started = std::time::Instant::now();
    let mut frames = 0u64;
    while running.load(Ordering::Relaxed) {
        let Some(mut frame) = port.recv(Duration::from_millis(50)) else { continue };
        let now = started + Duration::from_millis(frames * 10);
        frames += 1;
        let output = match pipeline.process(now, &mut frame) {
            Ok(output) => output,
            Err(e) => {
                tracing::warn!("mic test: {e}");
                break;
            }
        };
        port.play(if output.transmitting { frame } else { [0.0; FRAME_SAMPLES] });
        if frames.is_multiple_of(10) {
            emit_level(
                &app,
                output.level,
                output.voice_probability,
                output.transmitting,
                output.digital_silence,
            );
        }
        report_device_events(&app, &io);
    }
}

/// Logs what the device layer saw and tells the UI when its device lists are stale.
/// Returns whether a stream was rebuilt, moved or given a larger buffer: each changes the
/// delay from speaker to microphone that the echo canceller has learnt.
fn report_device_events(app: &AppHandle, io: &AudioIo) -> bool {
    let mut echo_path_changed = false;
    while let Some(event) = io.poll_event() {
        match &event {
            DeviceEvent::ListChanged(_) => {
                let _ = DevicesChanged {}.emit(app);
            }
            DeviceEvent::Opened { .. }
            | DeviceEvent::Switched { .. }
            | DeviceEvent::BufferGrown { .. } => echo_path_changed = true,
            DeviceEvent::Lost { .. } | DeviceEvent::OpenFailed { .. } => {}
        }
        tracing::info!(?event, "audio device");
    }
    echo_path_changed
}

fn emit_level(
    app: &AppHandle,
    level: Level,
    voice_probability: f32,
    transmitting: bool,
    silent_input: bool,
) {
    let _ = InputLevel {
        rms_dbfs: level.rms_dbfs,
        peak_dbfs: level.peak_dbfs,
        voice_probability,
        transmitting,
        silent_input,
    }
    .emit(app);
}
