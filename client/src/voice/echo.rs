//! Acoustic echo cancellation: WebRTC's AEC3, through the `aec3` crate (a Rust port).
//!
//! A player on laptop speakers feeds everyone else's voices back into their own
//! microphone. The canceller gets both signals: the microphone (near end) and every frame
//! handed to the output device (far end, [`EchoCanceller::handle_far_end`], called when the
//! frame goes to the device, so the device's own buffering is part of the echo path it
//! measures). AEC3 estimates the delay between the two itself (a matched-filter delay
//! estimator over up to about half a second), adapts a linear filter to the room, and
//! suppresses what the filter leaves. A delay change it is not told of takes it about
//! 3.5 s to find; the desktop app restarts it on the device changes it sees instead
//! ([`EchoCanceller::restart`]).
//!
//! What it costs: 9 ms of latency, and in double talk it ducks the near talker while the
//! far end talks, on a headset too until it has heard for a while that there is no echo
//! (`client/tests/echo_cancellation.rs` prints the figures; WebRTC's C++ AEC3 does the
//! same on the same signals, `scripts/echo-quality.py --reference`). So the call runs it
//! only with a device for both input and output, and users can switch it off.
//!
//! Why this port and not the C++ library through `webrtc-audio-processing` 2.x
//! (`bundled`): that crate builds the library with meson and ninja and needs abseil
//! 20240722 or newer; Debian 12 ships 20220623, so meson fetches abseil from GitHub at
//! build time, which a build machine without general internet access cannot do, and
//! Debian's own `libwebrtc-audio-processing` is 0.3, which predates AEC3. The port needs
//! no C++ toolchain and adds no crate to the tree (its rustfft, num-complex,
//! crossbeam-channel and log are already here). It cancels 3–13 dB less than the C++
//! original in the longest rooms tested and ducks no more; its CPU is in `voice_bench`.

use aec3::api::config::EchoCanceller3Config;
use aec3::api::control::EchoControl;
use aec3::audio_processing::aec3::echo_canceller3::EchoCanceller3;
use aec3::audio_processing::audio_buffer::AudioBuffer;
use aec3::audio_processing::stream_config::StreamConfig;

use std::sync::mpsc;

use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// What the canceller reports about the echo path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoMetrics {
    /// How much quieter the echo is than what was played (ERL), in dB.
    pub return_loss_db: f64,
    /// How much the canceller took off the echo, in dB (ERLE), as AEC3 estimates it.
    pub return_loss_enhancement_db: f64,
    /// The far-end-to-microphone delay AEC3 currently works with, in ms.
    pub delay_ms: i32,
}

/// AEC3 with the buffers it works on.
struct Aec {
    aec3: EchoCanceller3,
    render: AudioBuffer,
    capture: AudioBuffer,
    stream: StreamConfig,
}

impl Aec {
    fn new() -> Self {
        let rate = SAMPLE_RATE as usize;
        let buffer = || AudioBuffer::from_sample_rates(rate, 1, rate, 1, rate);
        Self {
            // The library's defaults: in `echo_cancellation.rs` neither the HMM transparent
            // mode, a longer linear filter (25 blocks), a longer reverb model nor a lower
            // initial echo-path gain did better over the rooms tested.
            aec3: EchoCanceller3::new(EchoCanceller3Config::default(), SAMPLE_RATE as i32, 1, 1),
            render: buffer(),
            capture: buffer(),
            stream: StreamConfig::new(rate, 1, false),
        }
    }

    fn analyze_render(&mut self, frame: &Frame) {
        self.render.copy_from(&[&frame[..]], &self.stream);
        // AEC3 works on the 0–8, 8–16 and 16–24 kHz bands of a 48 kHz signal.
        self.render.split_into_frequency_bands();
        self.aec3.analyze_render(&mut self.render);
    }

    fn process_capture(&mut self, frame: &mut Frame) {
        self.capture.copy_from(&[&frame[..]], &self.stream);
        self.aec3.analyze_capture(&mut self.capture);
        self.capture.split_into_frequency_bands();
        self.aec3.process_capture(&mut self.capture, false);
        self.capture.merge_frequency_bands();
        let mut out: [&mut [f32]; 1] = [&mut frame[..]];
        self.capture.copy_to_stream(&self.stream, &mut out);
    }

    fn metrics(&self) -> EchoMetrics {
        let m = self.aec3.metrics();
        EchoMetrics {
            return_loss_db: m.echo_return_loss,
            return_loss_enhancement_db: m.echo_return_loss_enhancement,
            delay_ms: m.delay_ms,
        }
    }
}

/// One microphone frame with the far-end frames played since the last one: the thread is
/// woken once per microphone frame, never for a played frame alone.
struct Job {
    far_end: Vec<Frame>,
    near: Frame,
}

/// Far-end frames kept while no microphone frame comes (a stalled capture device): AEC3
/// copes with render and capture running unevenly, not with an unbounded backlog.
const MAX_PENDING_FAR_END: usize = 50;

/// Metrics are read every this many frames: the UI shows them at most ten times a second.
const METRICS_EVERY: u32 = 10;

/// AEC3 on a thread of its own. The port keeps its block processor behind a trait object
/// without a `Send` bound, so it cannot move with the capture pipeline between the call's
/// tasks, and this workspace forbids `unsafe` to assert otherwise. The thread builds it
/// and keeps it; the pipeline hands it each microphone frame with the far-end frames
/// played since the last and waits for the result (the `voice_bench` figures include the
/// hand-over).
struct AecThread {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<(Frame, Vec<Frame>, Option<EchoMetrics>)>,
    far_end: Vec<Frame>,
    metrics: Option<EchoMetrics>,
}

impl AecThread {
    fn start() -> Option<Self> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("aec3".into()).spawn(move || {
            let mut aec = Aec::new();
            let mut frames = 0u32;
            // Ends when the pipeline drops its sender or stops listening.
            while let Ok(Job { mut far_end, mut near }) = job_rx.recv() {
                for frame in &far_end {
                    aec.analyze_render(frame);
                }
                aec.process_capture(&mut near);
                frames = frames.wrapping_add(1);
                let metrics = frames.is_multiple_of(METRICS_EVERY).then(|| aec.metrics());
                // The emptied vector goes back to be filled again: no allocation per frame.
                far_end.clear();
                if done_tx.send((near, far_end, metrics)).is_err() {
                    break;
                }
            }
        });
        match spawned {
            Ok(_) => Some(Self { jobs, done, far_end: Vec::new(), metrics: None }),
            Err(e) => {
                tracing::warn!("echo cancellation unavailable, no thread for it: {e}");
                None
            }
        }
    }

    fn render(&mut self, frame: &Frame) {
        if self.far_end.len() == MAX_PENDING_FAR_END {
            self.far_end.remove(0);
        }
        self.far_end.push(*frame);
    }

    /// False once the thread is gone (it panicked): the caller then passes audio through.
    fn capture(&mut self, frame: &mut Frame) -> bool {
        let far_end = std::mem::take(&mut self.far_end);
        if self.jobs.send(Job { far_end, near: *frame }).is_err() {
            return false;
        }
        match self.done.recv() {
            Ok((processed, spare, metrics)) => {
                *frame = processed;
                self.far_end = spare;
                if metrics.is_some() {
                    self.metrics = metrics;
                }
                true
            }
            Err(_) => false,
        }
    }
}

/// The echo-cancellation stage of the capture chain. On by default; switched off it passes
/// the microphone through and holds no canceller state, and switched on again it starts
/// afresh (AEC3 converges within a second or two of far-end speech).
pub struct EchoCanceller {
    aec: Option<AecThread>,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller").field("enabled", &self.is_enabled()).finish()
    }
}

impl Default for EchoCanceller {
    fn default() -> Self {
        Self::new(true)
    }
}

impl EchoCanceller {
    /// A canceller, on or off.
    pub fn new(enabled: bool) -> Self {
        Self { aec: if enabled { AecThread::start() } else { None } }
    }

    /// Switches cancellation on or off.
    pub fn set_enabled(&mut self, enabled: bool) {
        match (enabled, self.aec.is_some()) {
            (true, false) => self.aec = AecThread::start(),
            (false, true) => self.aec = None,
            _ => {}
        }
    }

    /// Starts adapting afresh: the echo path has changed in a way the device layer knows
    /// of (another device, a larger buffer). AEC3 would find the new delay itself, but only
    /// after about 3.5 s of echo; a fresh canceller suppresses from the start.
    pub fn restart(&mut self) {
        if self.aec.is_some() {
            self.aec = AecThread::start();
        }
    }

    /// Whether cancellation is on.
    pub fn is_enabled(&self) -> bool {
        self.aec.is_some()
    }

    /// Records a frame at the moment it is handed to the output device.
    pub fn handle_far_end(&mut self, frame: &Frame) {
        if let Some(aec) = self.aec.as_mut() {
            aec.render(frame);
        }
    }

    /// How much later the microphone's sound leaves the canceller while it is on, in
    /// samples at 48 kHz: AEC3 works in 4 ms blocks at 16 kHz per band, and the band split
    /// and framing hold back 430 samples, 9.0 ms. It is part of the mouth-to-ear latency
    /// of every call with cancellation on.
    pub const LATENCY_SAMPLES: usize = 430;

    /// Removes the echo of the far end from a microphone frame, in place.
    pub fn process(&mut self, near: &mut Frame) {
        if let Some(aec) = self.aec.as_mut()
            && !aec.capture(near)
        {
            tracing::error!("echo canceller stopped; passing the microphone through");
            self.aec = None;
        }
    }

    /// AEC3's own view of the echo path, while cancellation is on.
    pub fn metrics(&self) -> Option<EchoMetrics> {
        self.aec.as_ref().and_then(|aec| aec.metrics)
    }
}

const _: () = assert!(FRAME_SAMPLES * 100 == SAMPLE_RATE as usize, "AEC3 takes 10 ms frames");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_passes_through_and_on_again_starts_afresh() {
        let mut aec = EchoCanceller::new(false);
        let mut near = [0.25; FRAME_SAMPLES];
        aec.handle_far_end(&[0.1; FRAME_SAMPLES]);
        aec.process(&mut near);
        assert_eq!(near, [0.25; FRAME_SAMPLES]);
        assert!(aec.metrics().is_none());

        aec.set_enabled(true);
        assert!(aec.is_enabled());
        for _ in 0..(METRICS_EVERY * 2) {
            aec.handle_far_end(&[0.0; FRAME_SAMPLES]);
            let mut near = [0.0; FRAME_SAMPLES];
            aec.process(&mut near);
            assert!(near.iter().all(|s| s.is_finite()));
        }
        assert!(aec.metrics().is_some());
        // The pipeline moves between the call's tasks.
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&aec);
    }

    #[test]
    fn the_microphone_comes_out_latency_samples_later() {
        for position in [0, 100, 479] {
            let mut aec = EchoCanceller::new(true);
            let mut out = Vec::new();
            for index in 0..40 {
                let mut frame = [0.0; FRAME_SAMPLES];
                if index == 20 {
                    frame[position] = 0.5;
                }
                aec.handle_far_end(&[0.0; FRAME_SAMPLES]);
                aec.process(&mut frame);
                out.extend_from_slice(&frame);
            }
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map(|(i, _)| i);
            assert_eq!(peak, Some(20 * FRAME_SAMPLES + position + EchoCanceller::LATENCY_SAMPLES));
        }
    }
}
