//! Settings the user changes in the app, kept in the local store.

use auraspeak_client::store::LocalStore;
use auraspeak_client::voice::{CaptureConfig, GateMode, VadConfig};
use auraspeak_shared::v1::gateway::PresenceStatus;
use serde::{Deserialize, Serialize};

const APP_KEY: &str = "app";
const VOICE_KEY: &str = "voice";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Dark,
    Light,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    De,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AppSettings {
    pub theme: Theme,
    pub language: Language,
    /// Start hidden in the tray.
    pub start_minimized: bool,
    /// Desktop notifications for mentions while the window is not focused.
    pub notifications: bool,
    /// The status others see; sent again on every new gateway session. Do not disturb
    /// also silences mention notifications.
    #[serde(default = "online")]
    pub presence: PresenceStatus,
}

fn online() -> PresenceStatus {
    PresenceStatus::Online
}

impl Default for AppSettings {
    fn default() -> Self {
        let german = std::env::var("LANG").is_ok_and(|lang| lang.starts_with("de"));
        Self {
            theme: Theme::Dark,
            language: if german { Language::De } else { Language::En },
            start_minimized: false,
            notifications: true,
            presence: PresenceStatus::Online,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum InputMode {
    VoiceActivity,
    PushToTalk,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VoiceSettings {
    /// A device id from `voice_devices`; null follows the system default.
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// Removes the others' voices coming back from our speakers into the microphone.
    /// Settings stored before it existed load with it on, the engine's default.
    #[serde(default = "echo_cancellation_default")]
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
    /// A second suppression stage that also lowers other voices in the room ("Strong" in
    /// the UI); it adds 10 ms of delay. Settings stored before it existed load with it on,
    /// the engine's default.
    #[serde(default = "strong_suppression_default")]
    pub strong_suppression: bool,
    pub input_mode: InputMode,
    /// Level the voice must reach to open the voice-activity gate, in dBFS (-70..0).
    pub vad_threshold_db: f32,
    /// The global push-to-talk key, e.g. "Ctrl+Shift+M".
    pub ptt_shortcut: String,
    /// How long the gate stays open after the key is released.
    pub ptt_release_ms: u32,
    pub input_gain_db: f32,
    /// Held: nothing is sent, whatever the input mode (empty: not bound).
    #[serde(default)]
    pub push_to_mute_shortcut: String,
    /// Pressed: self-mute on or off (empty: not bound).
    #[serde(default)]
    pub toggle_mute_shortcut: String,
}

fn echo_cancellation_default() -> bool {
    CaptureConfig::default().echo_cancellation
}

fn strong_suppression_default() -> bool {
    CaptureConfig::default().strong_suppression
}

impl Default for VoiceSettings {
    fn default() -> Self {
        Self {
            input_device: None,
            output_device: None,
            echo_cancellation: echo_cancellation_default(),
            noise_suppression: true,
            strong_suppression: strong_suppression_default(),
            input_mode: InputMode::VoiceActivity,
            vad_threshold_db: VadConfig::default().open_level_dbfs,
            ptt_shortcut: "Ctrl+Shift+M".to_owned(),
            ptt_release_ms: 200,
            input_gain_db: 0.0,
            push_to_mute_shortcut: String::new(),
            toggle_mute_shortcut: String::new(),
        }
    }
}

impl VoiceSettings {
    /// Clamps values a hand-edited store or an old UI could put out of range.
    pub fn sanitized(mut self) -> Self {
        if !self.vad_threshold_db.is_finite() {
            self.vad_threshold_db = VadConfig::default().open_level_dbfs;
        }
        self.vad_threshold_db = self.vad_threshold_db.clamp(-70.0, 0.0);
        if !self.input_gain_db.is_finite() {
            self.input_gain_db = 0.0;
        }
        self.input_gain_db = self.input_gain_db.clamp(-20.0, 20.0);
        self.ptt_release_ms = self.ptt_release_ms.min(2_000);
        self
    }

    pub fn gate_mode(&self) -> GateMode {
        match self.input_mode {
            InputMode::PushToTalk => GateMode::PushToTalk {
                release_tail: std::time::Duration::from_millis(u64::from(self.ptt_release_ms)),
            },
            InputMode::VoiceActivity => {
                let default = VadConfig::default();
                // The closing level keeps the default's distance below the opening one, so
                // moving the slider keeps the hysteresis.
                let spread = default.open_level_dbfs - default.close_level_dbfs;
                GateMode::VoiceActivity(VadConfig {
                    open_level_dbfs: self.vad_threshold_db,
                    close_level_dbfs: self.vad_threshold_db - spread,
                    ..default
                })
            }
        }
    }

    pub fn capture_config(&self) -> CaptureConfig {
        CaptureConfig {
            echo_cancellation: self.echo_cancellation,
            noise_suppression: self.noise_suppression,
            strong_suppression: self.strong_suppression,
            input_gain_db: self.input_gain_db,
            gate: self.gate_mode(),
            ..CaptureConfig::default()
        }
    }
}

pub fn load_app(store: &LocalStore) -> AppSettings {
    store.setting(APP_KEY).ok().flatten().unwrap_or_default()
}

pub fn save_app(store: &LocalStore, settings: &AppSettings) -> auraspeak_client::Result<()> {
    store.set_setting(APP_KEY, settings)
}

pub fn load_voice(store: &LocalStore) -> VoiceSettings {
    store.setting::<VoiceSettings>(VOICE_KEY).ok().flatten().unwrap_or_default().sanitized()
}

pub fn save_voice(store: &LocalStore, settings: &VoiceSettings) -> auraspeak_client::Result<()> {
    store.set_setting(VOICE_KEY, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sensitivity_slider_moves_both_gate_levels() {
        let settings = VoiceSettings { vad_threshold_db: -40.0, ..VoiceSettings::default() };
        let GateMode::VoiceActivity(vad) = settings.gate_mode() else {
            panic!("voice activity expected")
        };
        assert_eq!(vad.open_level_dbfs, -40.0);
        assert!(vad.close_level_dbfs < -40.0);
    }

    #[test]
    fn out_of_range_settings_are_clamped() {
        let settings = VoiceSettings {
            vad_threshold_db: f32::NAN,
            input_gain_db: 99.0,
            ptt_release_ms: 60_000,
            ..VoiceSettings::default()
        }
        .sanitized();
        assert_eq!(settings.vad_threshold_db, VadConfig::default().open_level_dbfs);
        assert_eq!(settings.input_gain_db, 20.0);
        assert_eq!(settings.ptt_release_ms, 2_000);
    }

    #[test]
    fn settings_survive_the_store() {
        let store = LocalStore::in_memory().expect("store");
        assert_eq!(load_voice(&store), VoiceSettings::default());
        let voice = VoiceSettings {
            input_mode: InputMode::PushToTalk,
            ptt_shortcut: "Alt+V".into(),
            ..VoiceSettings::default()
        };
        save_voice(&store, &voice).expect("save");
        assert_eq!(load_voice(&store), voice);
        let app =
            AppSettings { theme: Theme::Light, language: Language::De, ..AppSettings::default() };
        save_app(&store, &app).expect("save");
        assert_eq!(load_app(&store), app);
    }

    /// Settings saved by a version without a newer field keep everything else.
    #[test]
    fn settings_from_before_strong_suppression_keep_their_values() {
        let store = LocalStore::in_memory().expect("store");
        let mut stored = serde_json::to_value(VoiceSettings {
            noise_suppression: false,
            ptt_shortcut: "Alt+V".into(),
            ..VoiceSettings::default()
        })
        .expect("json");
        for newer in [
            "strong_suppression",
            "push_to_mute_shortcut",
            "toggle_mute_shortcut",
            "echo_cancellation",
        ] {
            stored.as_object_mut().expect("object").remove(newer);
        }
        store.set_setting(VOICE_KEY, &stored).expect("save");
        let loaded = load_voice(&store);
        assert!(!loaded.noise_suppression);
        assert_eq!(loaded.ptt_shortcut, "Alt+V");
        assert!(loaded.strong_suppression, "the engine's default");
        assert!(loaded.echo_cancellation, "the engine's default");
        assert!(loaded.capture_config().echo_cancellation);
        assert_eq!(
            (loaded.push_to_mute_shortcut.as_str(), loaded.toggle_mute_shortcut.as_str()),
            ("", "")
        );
    }
}
