//! Audio devices through cpal: listing, choosing, and running a capture and a playback
//! stream that survive devices coming and going.
//!
//! The layer is a driver around small pure types, in the spirit of the rest of the engine:
//! - [`DeviceChoice`] resolves "this id", "this name" or "the system default" against a
//!   device list (`select`);
//! - [`DeviceFollower`] decides, from list snapshots and stream errors with `now` as an
//!   input, when a stream must be (re)built and onto which device (`select`);
//! - [`BufferPolicy`] picks the buffer to ask for: 10 ms first, larger after a refusal or
//!   repeated underruns (`policy`);
//! - the edge converters turn a device's interleaved samples at its own rate into 480-sample
//!   internal frames and back (`stream`);
//! - [`AudioIo`] (with its engine-side [`FramePort`]) is the driver: a supervisor thread that owns the cpal host and streams,
//!   polls the device list, applies those decisions and reports [`DeviceEvent`]s (`driver`).
//!
//! cpal has no device-change notification on Linux, so changes are found by polling the
//! list and the default devices (a few PulseAudio round trips every 250 ms). A stream's
//! error callback is the fast path for a device that vanished.
//!
//! Input from devices never panics the app: every call into cpal that might (building a
//! stream without a sound server is known to) runs under `catch_unwind` and becomes an
//! [`Error::AudioHost`].

mod driver;
mod policy;
mod select;
mod standing;
mod stream;

pub use driver::{AudioIo, AudioIoConfig, DeviceEvent, DeviceStats, FramePort, StreamInfo};
pub use policy::{BufferPolicy, BufferPolicyConfig, BufferRequest, PaceCheck};
pub use select::{DeviceChoice, DeviceFollower, FollowerDecision};

use std::panic::{AssertUnwindSafe, catch_unwind};

use cpal::traits::{DeviceTrait as _, HostTrait as _};

use crate::error::{Error, Result};

/// Which way audio flows through a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A microphone or other capture source.
    Input,
    /// A speaker or other playback sink.
    Output,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Input => "input",
            Self::Output => "output",
        })
    }
}

/// One device as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceInfo {
    /// Stable across restarts and re-plugging: the host's own device name (a PulseAudio
    /// sink or source name, an ALSA PCM name), which is what settings should store.
    pub id: String,
    /// For people: PulseAudio's description, e.g. "Built-in Audio Analog Stereo".
    pub name: String,
    /// Capture or playback.
    pub direction: Direction,
}

/// A snapshot of the devices and which ones are the system defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    /// Capture devices, in the host's order.
    pub inputs: Vec<DeviceInfo>,
    /// Playback devices, in the host's order.
    pub outputs: Vec<DeviceInfo>,
    /// Id of the system's default capture device, if it has one.
    pub default_input: Option<String>,
    /// Id of the system's default playback device, if it has one.
    pub default_output: Option<String>,
}

impl DeviceList {
    /// The devices of one direction.
    pub fn devices(&self, direction: Direction) -> &[DeviceInfo] {
        match direction {
            Direction::Input => &self.inputs,
            Direction::Output => &self.outputs,
        }
    }

    /// The default device's id for one direction.
    pub fn default_id(&self, direction: Direction) -> Option<&str> {
        match direction {
            Direction::Input => self.default_input.as_deref(),
            Direction::Output => self.default_output.as_deref(),
        }
    }
}

/// Runs a call into cpal, turning a panic into an error: some hosts panic instead of
/// failing when no sound server is running, and a missing sound server is user input.
pub(crate) fn guard<T>(operation: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(Error::AudioHost { reason: format!("{operation} panicked: {detail}") })
        }
    }
}

/// The audio host the app talks to: cpal's native PulseAudio client when a server is
/// reachable (it names devices like every desktop mixer does and also serves PipeWire's
/// pulse socket), else the platform default (ALSA on Linux).
pub struct AudioHost {
    host: cpal::Host,
}

impl AudioHost {
    /// Connects to the best available host.
    pub fn new() -> Result<Self> {
        guard("opening the audio host", || {
            if cpal::available_hosts().contains(&cpal::HostId::PulseAudio)
                && let Ok(host) = cpal::host_from_id(cpal::HostId::PulseAudio)
            {
                return Ok(Self { host });
            }
            Ok(Self { host: cpal::default_host() })
        })
    }

    /// The host's name, e.g. "PulseAudio" or "ALSA".
    pub fn name(&self) -> &'static str {
        self.host.id().name()
    }

    /// Lists the devices a user would pick from, with their ids and names, and the current
    /// defaults: on ALSA (no sound server reachable), without the plugin pseudo-devices
    /// (rate converters, JACK, OSS emulation, up- and downmixers) that no one speaks into.
    pub fn list(&self) -> Result<DeviceList> {
        let mut list = self.list_all()?;
        if self.host.id() == cpal::HostId::Alsa {
            list.inputs.retain(|d| !is_alsa_plugin(&d.id));
            list.outputs.retain(|d| !is_alsa_plugin(&d.id));
        }
        Ok(list)
    }

    /// Every device the host knows, plugins included.
    pub fn list_all(&self) -> Result<DeviceList> {
        guard("listing audio devices", || {
            let devices = self
                .host
                .devices()
                .map_err(|source| Error::Device { device: "(list)".into(), source })?;
            let mut list = DeviceList::default();
            for device in devices {
                // A device that cannot describe itself cannot be opened either; skip it
                // rather than fail the whole list.
                let Some(info_in) = describe(&device, Direction::Input) else { continue };
                if device.supports_input() {
                    list.inputs.push(info_in.clone());
                }
                if device.supports_output() {
                    list.outputs.push(DeviceInfo { direction: Direction::Output, ..info_in });
                }
            }
            list.default_input = self
                .host
                .default_input_device()
                .and_then(|d| d.id().ok())
                .map(|id| id.id().to_owned());
            list.default_output = self
                .host
                .default_output_device()
                .and_then(|d| d.id().ok())
                .map(|id| id.id().to_owned());
            Ok(list)
        })
    }

    /// The cpal device with this id and direction, if it is present now.
    pub(crate) fn find(&self, direction: Direction, id: &str) -> Result<Option<cpal::Device>> {
        guard("finding an audio device", || {
            let devices = self
                .host
                .devices()
                .map_err(|source| Error::Device { device: id.to_owned(), source })?;
            Ok(devices.into_iter().find(|d| {
                let wanted = match direction {
                    Direction::Input => d.supports_input(),
                    Direction::Output => d.supports_output(),
                };
                wanted && d.id().is_ok_and(|d| d.id() == id)
            }))
        })
    }
}

impl std::fmt::Debug for AudioHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioHost").field("host", &self.name()).finish()
    }
}

/// ALSA PCMs that are plugins layered on other devices or services rather than a sound
/// card: what `aplay -L` lists beside the cards on a Debian desktop.
fn is_alsa_plugin(id: &str) -> bool {
    const PLUGINS: [&str; 13] = [
        "null",
        "lavrate",
        "samplerate",
        "speexrate",
        "jack",
        "oss",
        "pulse",
        "pipewire",
        "speex",
        "upmix",
        "vdownmix",
        "a52",
        "usbstream",
    ];
    let base = id.split(':').next().unwrap_or(id);
    PLUGINS.contains(&base)
}

fn describe(device: &cpal::Device, direction: Direction) -> Option<DeviceInfo> {
    let id = device.id().ok()?.id().to_owned();
    let name = device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| id.clone());
    Some(DeviceInfo { id, name, direction })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsa_plugins_are_told_from_sound_cards() {
        for plugin in ["null", "lavrate", "speexrate", "jack", "oss", "upmix", "vdownmix", "pulse"]
        {
            assert!(is_alsa_plugin(plugin), "{plugin}");
        }
        for card in ["default", "sysdefault:CARD=PCH", "hw:CARD=PCH,DEV=0", "front:CARD=USB,DEV=0"]
        {
            assert!(!is_alsa_plugin(card), "{card}");
        }
    }

    #[test]
    fn a_panic_inside_the_host_becomes_an_error() {
        // The panic message shows in the test output; silencing it would mean swapping the
        // process-wide panic hook under the other tests.
        let result: Result<()> = guard("building a stream", || panic!("no card 0"));
        let Err(Error::AudioHost { reason }) = result else { panic!("{result:?}") };
        assert_eq!(reason, "building a stream panicked: no card 0");
        assert_eq!(guard("listing", || Ok(7)).unwrap(), 7);
    }
}
