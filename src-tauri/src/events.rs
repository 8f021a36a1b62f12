//! Events from the shell to the UI. Each is a struct so the generated bindings give the
//! UI a typed `events.<name>.listen`.

use auraspeak_shared::v1::gateway::{Event, Ready};
use auraspeak_shared::{ChannelId, ServerId};
use serde::{Deserialize, Serialize};

/// One gateway dispatch (message, channel, member, presence, voice state, …).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct ServerEvent {
    pub event: Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Live,
    Reconnecting,
    Offline,
}

/// The realtime connection's state; `ready` is the full snapshot each time a new gateway
/// session starts (after login, or after a resume was refused).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct ConnectionChanged {
    pub state: ConnectionState,
    pub ready: Option<Box<Ready>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum VoiceConnectionState {
    #[default]
    Idle,
    Connecting,
    Connected,
    Reconnecting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct VoiceStatus {
    pub channel_id: Option<ChannelId>,
    pub server_id: Option<ServerId>,
    pub state: VoiceConnectionState,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub transmitting: bool,
    pub ping_ms: Option<f32>,
    /// Loss of what reaches us, in percent.
    pub loss_percent: Option<f32>,
    /// Why the last call ended when it was not our choice (kicked, network), else null.
    pub ended_reason: Option<String>,
    /// Loss of what we send, on its way to the relay, in percent (the relay's reports).
    pub loss_up_percent: Option<f32>,
    /// Variation of the packets' arrival times, in milliseconds.
    pub jitter_ms: Option<f32>,
}

/// The processed microphone level, about ten times a second in a call or a mic test.
#[derive(
    Debug, Clone, Copy, PartialEq, Serialize, Deserialize, specta::Type, tauri_specta::Event,
)]
pub struct InputLevel {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
    pub voice_probability: f32,
    pub transmitting: bool,
    /// The microphone delivers exact zeros (muted in hardware, unplugged, or blocked by
    /// the system): the UI warns when this lasts.
    pub silent_input: bool,
}

/// The global push-to-talk key went down or up (whatever window had focus).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event,
)]
pub struct PushToTalk {
    pub pressed: bool,
}

/// Audio devices appeared or disappeared: the device lists are stale.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event,
)]
pub struct DevicesChanged {}

/// The push-to-talk shortcut could not be registered (taken by another program, or a
/// Wayland desktop without the GlobalShortcuts portal).
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event,
)]
pub struct ShortcutUnavailable {
    pub reason: String,
}

/// An `auraspeak://` invite link was opened while the app runs (see `deep_link.rs`).
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, tauri_specta::Event,
)]
pub struct InviteLinkOpened {
    pub link: String,
}

/// The user clicked a mention notification: the UI opens that channel.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenChannel {
    pub server_id: ServerId,
    pub channel_id: ChannelId,
}
