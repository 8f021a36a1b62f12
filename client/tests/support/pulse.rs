//! The headless PulseAudio that `scripts/pulse-headless.sh` starts: its sink names, and
//! the pulseaudio-utils tools the device tests use to feed the virtual microphone and to
//! record the virtual speaker.
//!
//! Without `AURASPEAK_TEST_PULSE` a device test says so and passes on a developer machine,
//! but fails under `CI=true`, so CI cannot silently skip the real devices.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

pub struct Pulse {
    /// The speaker: what the engine plays lands here; record `<out>.monitor`.
    pub out_sink: String,
    /// The microphone's feed: play into it, capture `<mic>.monitor`.
    pub mic_sink: String,
}

impl Pulse {
    pub fn from_env() -> Option<Self> {
        if std::env::var("AURASPEAK_TEST_PULSE").map_or(true, |v| v.is_empty()) {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but AURASPEAK_TEST_PULSE is not set: the device tests cannot run \
                 (scripts/test.sh starts scripts/pulse-headless.sh)"
            );
            eprintln!(
                "AURASPEAK_TEST_PULSE not set: device test not run \
                 (eval \"$(scripts/pulse-headless.sh start DIR)\" first)"
            );
            return None;
        }
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Some(Self {
            out_sink: var("AURASPEAK_TEST_PULSE_OUT", "auraspeak_out"),
            mic_sink: var("AURASPEAK_TEST_PULSE_MIC", "auraspeak_mic"),
        })
    }

    pub fn mic_source(&self) -> String {
        format!("{}.monitor", self.mic_sink)
    }

    pub fn out_monitor(&self) -> String {
        format!("{}.monitor", self.out_sink)
    }
}

/// Runs `pactl` and returns its output; panics (failing the test) if it fails.
pub fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl").args(args).output().unwrap();
    assert!(out.status.success(), "pactl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Plays a WAV file into a sink in real time. paplay fills its buffer from the file at
/// once, so the buffer's size does not delay the start; 200 ms of it keeps paplay itself
/// from underrunning (and putting gaps into the test signal) on a loaded machine, which
/// its 20 ms setting did.
pub fn play(sink: &str, wav: &Path) -> Child {
    Command::new("paplay").args(["-d", sink, "--latency-msec=200"]).arg(wav).spawn().unwrap()
}

/// Records a source as 48 kHz mono f32 into memory, through `parec` on a pipe (no WAV
/// header to finalise when the recorder is stopped).
pub struct Recorder {
    child: Child,
    samples: Arc<Mutex<Vec<f32>>>,
    reader: Option<JoinHandle<()>>,
    /// When the recorder was started: sample 0 is at about this time.
    pub started: Instant,
}

impl Recorder {
    pub fn start(source: &str) -> Self {
        let mut child = Command::new("parec")
            .args(["-d", source, "--raw", "--format=float32le", "--channels=1", "--rate=48000"])
            // Small fragments: the recording is read while it happens, and nothing stays
            // in parec's buffer when it is stopped.
            .arg("--latency-msec=10")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut stdout = child.stdout.take().unwrap();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = samples.clone();
        let reader = std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                let whole = pending.len() / 4 * 4;
                let mut out = sink.lock().unwrap();
                out.extend(
                    pending[..whole]
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                pending.drain(..whole);
            }
        });
        Self { child, samples, reader: Some(reader), started }
    }

    pub fn len(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    pub fn stop(mut self) -> Vec<f32> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        std::mem::take(&mut *self.samples.lock().unwrap())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
