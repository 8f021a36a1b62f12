//! The edge between a device and the engine: one cpal stream per direction, with its
//! samples converted once to or from the internal format (48 kHz mono `f32` frames).
//!
//! Both converters run inside cpal's real-time callback, so they allocate only while
//! warming up (buffers grow to the device's period once) and never block for long: the
//! capture side hands frames over with `try_send`, the playback side takes them from a
//! short mutex-guarded queue whose holders only push or pop one frame.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait as _, StreamTrait as _};
use cpal::{Data, SampleFormat, StreamConfig};

use super::policy::{BufferRequest, PaceCheck};
use super::standing::StandingDelay;

/// A shortfall against real time that counts as an xrun: two 10 ms periods, above the
/// scheduling jitter of a loaded machine, below a gap a listener notices.
const PACE_TOLERANCE: Duration = Duration::from_millis(20);
use super::{DeviceInfo, Direction, guard};
use crate::error::{Error, Result};
use crate::voice::resample::{StreamResampler, downmix, upmix};
use crate::voice::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// How long cpal may take to create a stream before we call the device unavailable: a hung
/// sound server must not hang the call.
const BUILD_TIMEOUT: Duration = Duration::from_secs(3);

/// Queued playback frames, after the device took its fill, above which the queue is cut
/// back to [`TRIM_TO_FRAMES`]: capture and playback callbacks interleave with a frame or
/// two of slack, so four left over (40 ms) means delay has built up.
const TRIM_ABOVE_FRAMES: usize = 4;
const TRIM_TO_FRAMES: usize = 1;

/// Counters shared between the callbacks and the driver.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) captured_frames: AtomicU64,
    /// Device-side capture xruns: reported by the host, or seen by the pace check. These,
    /// and not the engine's delays, are what a larger device buffer helps against.
    pub(super) capture_overruns: AtomicU64,
    /// Captured frames dropped because the engine did not take them in time.
    pub(super) capture_dropped: AtomicU64,
    pub(super) played_frames: AtomicU64,
    /// Device-side playback xruns: reported by the host, or seen by the pace check.
    pub(super) playback_underruns: AtomicU64,
    /// Playback callbacks that found the queue short while playing (the engine was late)
    /// and played silence in its place.
    pub(super) playback_starved: AtomicU64,
    /// Frames dropped because the playback queue was full or held standing delay.
    pub(super) playback_overruns: AtomicU64,
    /// Woken for each captured frame, so the engine encodes and sends it at once instead
    /// of at its next 10 ms tick (on average 5 ms of mouth-to-ear saved).
    pub(super) frame_ready: tokio::sync::Notify,
}

/// Frames from the engine waiting for the playback callback. Bounded: when the engine
/// runs ahead of the device (clock drift, a stalled device), the oldest frames are dropped
/// so latency cannot grow without limit.
#[derive(Debug)]
pub(super) struct PlaybackQueue {
    frames: Mutex<VecDeque<Frame>>,
    capacity: usize,
}

impl PlaybackQueue {
    pub(super) fn new(capacity: usize) -> Self {
        Self { frames: Mutex::new(VecDeque::with_capacity(capacity)), capacity: capacity.max(1) }
    }

    /// Queues a frame; returns false if an older one had to be dropped for it.
    pub(super) fn push(&self, frame: Frame) -> bool {
        let mut frames = self.frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let dropped = frames.len() >= self.capacity;
        if dropped {
            frames.pop_front();
        }
        frames.push_back(frame);
        !dropped
    }

    fn pop(&self) -> Option<Frame> {
        self.frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front()
    }

    /// Drops the oldest frames down to `keep`; returns how many were dropped.
    fn trim_to(&self, keep: usize) -> usize {
        let mut frames = self.frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let excess = frames.len().saturating_sub(keep);
        frames.drain(..excess);
        excess
    }

    pub(super) fn len(&self) -> usize {
        self.frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Device samples → internal frames: downmix, resample, cut into 480-sample frames.
struct CaptureEdge {
    channels: usize,
    resampler: StreamResampler,
    /// Resampler start-up samples still to discard: they are filter delay, not input.
    skip: usize,
    scratch: Vec<f32>,
    mono: Vec<f32>,
    resampled: Vec<f32>,
    frame: Frame,
    filled: usize,
    tx: SyncSender<Frame>,
    /// Server-side overruns (data the host dropped because we read too late) show only as
    /// a stream that delivers less than real time.
    pace: PaceCheck,
    counters: Arc<Counters>,
}

impl CaptureEdge {
    fn handle_data(&mut self, data: &Data) {
        if self.pace.handle_callback(Instant::now(), data.len() / self.channels) {
            self.counters.capture_overruns.fetch_add(1, Ordering::Relaxed);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        if to_f32(data, &mut scratch) {
            self.handle_interleaved(&scratch);
        }
        self.scratch = scratch;
    }

    fn handle_interleaved(&mut self, samples: &[f32]) {
        self.mono.clear();
        downmix(samples, self.channels, &mut self.mono);
        self.resampled.clear();
        self.resampler.process(&self.mono, &mut self.resampled);
        let skip = self.skip.min(self.resampled.len());
        self.skip -= skip;
        for &s in &self.resampled[skip..] {
            self.frame[self.filled] = s;
            self.filled += 1;
            if self.filled == FRAME_SAMPLES {
                self.filled = 0;
                match self.tx.try_send(self.frame) {
                    Ok(()) => {
                        self.counters.captured_frames.fetch_add(1, Ordering::Relaxed);
                        self.counters.frame_ready.notify_one();
                    }
                    // The engine is behind: dropping is better than blocking the device.
                    Err(TrySendError::Full(_)) => {
                        self.counters.capture_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    // The app has stopped listening; the driver tears the stream down soon.
                    Err(TrySendError::Disconnected(_)) => {}
                }
            }
        }
    }
}

/// Internal frames → device samples: resample, upmix, fill the device's buffer.
struct PlaybackEdge {
    channels: usize,
    resampler: StreamResampler,
    queue: Arc<PlaybackQueue>,
    /// Mono samples at the device rate, ready to play.
    ready: VecDeque<f32>,
    resampled: Vec<f32>,
    mono: Vec<f32>,
    scratch: Vec<f32>,
    /// Whether audio has been flowing: silence before the first frame is not an underrun.
    playing: bool,
    /// Server-side underruns (we answered a request too late) show only as a stream that
    /// asks for less than real time.
    pace: PaceCheck,
    standing: StandingDelay,
    counters: Arc<Counters>,
}

impl PlaybackEdge {
    fn handle_buffer(&mut self, data: &mut Data) {
        if self.pace.handle_callback(Instant::now(), data.len() / self.channels) {
            self.counters.playback_underruns.fetch_add(1, Ordering::Relaxed);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(data.len(), 0.0);
        self.fill_interleaved(&mut scratch);
        from_f32(&scratch, data);
        self.scratch = scratch;
    }

    /// Fills `out` (interleaved, device rate) from the queue, silence where it runs short.
    fn fill_interleaved(&mut self, out: &mut [f32]) {
        let wanted = out.len() / self.channels;
        let now = Instant::now();
        while self.ready.len() < wanted {
            let Some(frame) = self.queue.pop() else { break };
            if !self.queue.is_empty() && self.standing.drop_instead_of_playing(now, &frame) {
                self.counters.playback_overruns.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.counters.played_frames.fetch_add(1, Ordering::Relaxed);
            self.resampled.clear();
            self.resampler.process(&frame, &mut self.resampled);
            self.ready.extend(&self.resampled);
            self.playing = true;
        }
        // Frames still queued after the device took its fill are standing latency: the
        // engine got ahead while the device stalled, and capture and playback run at the
        // same pace, so it would never drain by itself.
        if self.queue.len() > TRIM_ABOVE_FRAMES {
            let dropped = self.queue.trim_to(TRIM_TO_FRAMES);
            self.counters.playback_overruns.fetch_add(dropped as u64, Ordering::Relaxed);
            self.standing.reset();
        }
        self.standing.handle_callback(now, self.queue.len());
        let available = self.ready.len().min(wanted);
        if available < wanted && self.playing {
            self.counters.playback_starved.fetch_add(1, Ordering::Relaxed);
            self.playing = false;
        }
        self.mono.clear();
        self.mono.extend(self.ready.drain(..available));
        self.mono.resize(wanted, 0.0);
        upmix(&self.mono, self.channels, out);
    }
}

/// Converts a device buffer to `f32`; false for a sample format we did not ask for.
fn to_f32(data: &Data, out: &mut Vec<f32>) -> bool {
    if let Some(s) = data.as_slice::<f32>() {
        out.extend_from_slice(s);
    } else if let Some(s) = data.as_slice::<i16>() {
        out.extend(s.iter().map(|&v| f32::from(v) / 32_768.0));
    } else if let Some(s) = data.as_slice::<i32>() {
        #[allow(clippy::cast_precision_loss)]
        out.extend(s.iter().map(|&v| v as f32 / 2_147_483_648.0));
    } else {
        return false;
    }
    true
}

fn from_f32(samples: &[f32], data: &mut Data) {
    if let Some(d) = data.as_slice_mut::<f32>() {
        d.iter_mut().zip(samples).for_each(|(d, &s)| *d = s.clamp(-1.0, 1.0));
    } else if let Some(d) = data.as_slice_mut::<i16>() {
        #[allow(clippy::cast_possible_truncation)]
        d.iter_mut().zip(samples).for_each(|(d, &s)| *d = (s.clamp(-1.0, 1.0) * 32_767.0) as i16);
    } else if let Some(d) = data.as_slice_mut::<i32>() {
        #[allow(clippy::cast_possible_truncation)]
        d.iter_mut()
            .zip(samples)
            .for_each(|(d, &s)| *d = (f64::from(s.clamp(-1.0, 1.0)) * 2_147_483_647.0) as i32);
    }
}

/// What a stream actually runs with, as opposed to what was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// The device it runs on.
    pub device: DeviceInfo,
    /// The device-side sample rate (48 kHz means no resampling).
    pub sample_rate: u32,
    /// The device-side channel count (downmixed or upmixed at the edge).
    pub channels: u16,
    /// The device-side sample format, e.g. "f32".
    pub sample_format: String,
    /// The buffer that was asked for.
    pub requested: BufferRequest,
    /// The period the host reports it granted, in device frames, if it says.
    pub buffer_frames: Option<u32>,
}

/// A running stream and what it runs with.
pub(super) struct OpenStream {
    /// Held only to keep the stream running; dropping it stops the stream.
    _stream: cpal::Stream,
    pub(super) info: StreamInfo,
}

/// The sample format, channels and rate to open a device with: its own channel layout
/// (converted at the edge), 48 kHz when the device offers it (PulseAudio always does) so
/// nothing is resampled twice, and `f32` when offered, else 16 or 32-bit integers.
fn choose_config(
    device: &cpal::Device,
    direction: Direction,
) -> std::result::Result<(SampleFormat, u16, u32), cpal::Error> {
    let default = match direction {
        Direction::Input => device.default_input_config()?,
        Direction::Output => device.default_output_config()?,
    };
    let channels = default.channels();
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match direction {
        Direction::Input => device.supported_input_configs()?.collect(),
        Direction::Output => device.supported_output_configs()?.collect(),
    };
    let offers = |format: SampleFormat, rate: u32| {
        ranges.iter().any(|r| {
            r.channels() == channels && r.sample_format() == format && r.contains_rate(rate)
        })
    };
    let rate = if [SampleFormat::F32, SampleFormat::I16, SampleFormat::I32, default.sample_format()]
        .iter()
        .any(|&f| offers(f, SAMPLE_RATE))
    {
        SAMPLE_RATE
    } else {
        default.sample_rate()
    };
    let format = [SampleFormat::F32, SampleFormat::I16, SampleFormat::I32]
        .into_iter()
        .find(|&f| offers(f, rate))
        .unwrap_or(default.sample_format());
    Ok((format, channels, rate))
}

fn device_error(device: &DeviceInfo, source: cpal::Error) -> Error {
    Error::Device { device: device.id.clone(), source }
}

/// Builds and starts a capture stream on `device` that sends frames to `tx`.
pub(super) fn open_input(
    device: &cpal::Device,
    info: &DeviceInfo,
    request: BufferRequest,
    tx: SyncSender<Frame>,
    counters: Arc<Counters>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<OpenStream> {
    guard("opening a capture stream", || {
        let (format, channels, rate) =
            choose_config(device, Direction::Input).map_err(|e| device_error(info, e))?;
        check_format(format, info)?;
        let resampler = StreamResampler::new(rate, SAMPLE_RATE)?;
        let mut edge = CaptureEdge {
            channels: usize::from(channels),
            skip: resampler.output_delay(),
            resampler,
            scratch: Vec::new(),
            mono: Vec::new(),
            resampled: Vec::new(),
            frame: [0.0; FRAME_SAMPLES],
            filled: 0,
            tx,
            pace: PaceCheck::new(rate, PACE_TOLERANCE),
            counters,
        };
        let config =
            StreamConfig { channels, sample_rate: rate, buffer_size: request.to_cpal(rate) };
        let stream = device
            .build_input_stream_raw(
                config,
                format,
                move |data, _| edge.handle_data(data),
                on_error,
                Some(BUILD_TIMEOUT),
            )
            .map_err(|e| device_error(info, e))?;
        start(stream, info, request, format, channels, rate)
    })
}

/// Builds and starts a playback stream on `device` that plays frames from `queue`.
pub(super) fn open_output(
    device: &cpal::Device,
    info: &DeviceInfo,
    request: BufferRequest,
    queue: Arc<PlaybackQueue>,
    counters: Arc<Counters>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<OpenStream> {
    guard("opening a playback stream", || {
        let (format, channels, rate) =
            choose_config(device, Direction::Output).map_err(|e| device_error(info, e))?;
        check_format(format, info)?;
        let mut edge = PlaybackEdge {
            channels: usize::from(channels).max(1),
            resampler: StreamResampler::new(SAMPLE_RATE, rate)?,
            queue,
            ready: VecDeque::new(),
            resampled: Vec::new(),
            mono: Vec::new(),
            scratch: Vec::new(),
            playing: false,
            pace: PaceCheck::new(rate, PACE_TOLERANCE),
            standing: StandingDelay::new(),
            counters,
        };
        let config =
            StreamConfig { channels, sample_rate: rate, buffer_size: request.to_cpal(rate) };
        let stream = device
            .build_output_stream_raw(
                config,
                format,
                move |data, _| edge.handle_buffer(data),
                on_error,
                Some(BUILD_TIMEOUT),
            )
            .map_err(|e| device_error(info, e))?;
        start(stream, info, request, format, channels, rate)
    })
}

fn check_format(format: SampleFormat, info: &DeviceInfo) -> Result<()> {
    if matches!(format, SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32) {
        Ok(())
    } else {
        Err(Error::UnsupportedDevice {
            device: info.id.clone(),
            reason: format!("offers only {format} samples"),
        })
    }
}

fn start(
    stream: cpal::Stream,
    info: &DeviceInfo,
    requested: BufferRequest,
    format: SampleFormat,
    channels: u16,
    sample_rate: u32,
) -> Result<OpenStream> {
    stream.play().map_err(|e| device_error(info, e))?;
    let buffer_frames = stream.buffer_size().ok();
    Ok(OpenStream {
        _stream: stream,
        info: StreamInfo {
            device: info.clone(),
            sample_rate,
            channels,
            sample_format: format.to_string(),
            requested,
            buffer_frames,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 Hz → 4 kHz sweep: unlike a steady tone, it aligns at one lag only.
    fn sweep(rate: u32, seconds: f32) -> Vec<f32> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (rate as f32 * seconds) as usize;
        let rate = rate as f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate;
                0.5 * (2.0 * std::f32::consts::PI * (200.0 * t + 1900.0 * t * t)).sin()
            })
            .collect()
    }

    fn capture_edge(
        rate: u32,
        channels: usize,
        queue: usize,
    ) -> (CaptureEdge, std::sync::mpsc::Receiver<Frame>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue);
        let resampler = StreamResampler::new(rate, SAMPLE_RATE).unwrap();
        let edge = CaptureEdge {
            channels,
            skip: resampler.output_delay(),
            resampler,
            scratch: Vec::new(),
            mono: Vec::new(),
            resampled: Vec::new(),
            frame: [0.0; FRAME_SAMPLES],
            filled: 0,
            tx,
            pace: PaceCheck::new(rate, PACE_TOLERANCE),
            counters: Arc::new(Counters::default()),
        };
        (edge, rx)
    }

    #[test]
    fn capture_edge_turns_44k1_stereo_into_48k_frames() {
        let (mut edge, rx) = capture_edge(44_100, 2, 1000);
        let stereo: Vec<f32> = sweep(44_100, 1.0).iter().flat_map(|&s| [s, s]).collect();
        // Odd-sized periods, as a device delivers them.
        for chunk in stereo.chunks(2 * 441 + 6) {
            edge.handle_interleaved(chunk);
        }
        let frames: Vec<Frame> = rx.try_iter().collect();
        // One second in; all but the resampler's buffered chunk comes out as whole frames.
        assert!((97..=100).contains(&frames.len()), "{}", frames.len());
        assert_eq!(edge.counters.captured_frames.load(Ordering::Relaxed), frames.len() as u64);
        let out: Vec<f32> = frames.iter().flatten().copied().collect();
        let c = crate::voice::compare::Comparison::new(&sweep(SAMPLE_RATE, 0.9), &out, 2000);
        assert!(c.correlation > 0.98 && c.lag < 100, "{c:?}");
    }

    #[test]
    fn capture_edge_counts_frames_the_engine_did_not_take() {
        let (mut edge, rx) = capture_edge(SAMPLE_RATE, 1, 2);
        edge.handle_interleaved(&[0.1; 5 * FRAME_SAMPLES]);
        assert_eq!(rx.try_iter().count(), 2);
        assert_eq!(edge.counters.capture_dropped.load(Ordering::Relaxed), 3);
        assert_eq!(edge.counters.capture_overruns.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn playback_edge_upmixes_resamples_and_counts_underruns_only_once_playing() {
        let queue = Arc::new(PlaybackQueue::new(100));
        let counters = Arc::new(Counters::default());
        let mut edge = PlaybackEdge {
            channels: 2,
            resampler: StreamResampler::new(SAMPLE_RATE, 44_100).unwrap(),
            queue: queue.clone(),
            ready: VecDeque::new(),
            resampled: Vec::new(),
            mono: Vec::new(),
            scratch: Vec::new(),
            playing: false,
            pace: PaceCheck::new(44_100, PACE_TOLERANCE),
            standing: StandingDelay::new(),
            counters: counters.clone(),
        };
        let mut out = vec![1.0; 2 * 441];
        // Nothing queued yet: silence, but no underrun, since nothing has played.
        edge.fill_interleaved(&mut out);
        assert!(out.iter().all(|&s| s == 0.0));
        assert_eq!(counters.playback_starved.load(Ordering::Relaxed), 0);

        // The engine delivers a frame per 10 ms, as the device asks for 10 ms.
        let input = sweep(SAMPLE_RATE, 0.5);
        let mut frames = input.chunks_exact(FRAME_SAMPLES);
        let mut played = Vec::new();
        for _ in 0..60 {
            if let Some(chunk) = frames.next() {
                assert!(queue.push(chunk.try_into().unwrap()));
            }
            edge.fill_interleaved(&mut out);
            assert!(out.chunks_exact(2).all(|f| f[0] == f[1]), "both channels carry the voice");
            played.extend(out.iter().step_by(2));
        }
        assert_eq!(counters.played_frames.load(Ordering::Relaxed), 50);
        // 0.6 s asked for, 0.5 s given: one underrun when the queue ran dry, not ten.
        assert_eq!(counters.playback_starved.load(Ordering::Relaxed), 1);
        let c = crate::voice::compare::Comparison::new(&sweep(44_100, 0.4), &played, 2000);
        assert!(c.correlation > 0.99, "{c:?}");
    }

    #[test]
    fn playback_edge_cuts_standing_delay() {
        let queue = Arc::new(PlaybackQueue::new(100));
        let counters = Arc::new(Counters::default());
        let mut edge = PlaybackEdge {
            channels: 1,
            resampler: StreamResampler::new(SAMPLE_RATE, SAMPLE_RATE).unwrap(),
            queue: queue.clone(),
            ready: VecDeque::new(),
            resampled: Vec::new(),
            mono: Vec::new(),
            scratch: Vec::new(),
            playing: false,
            pace: PaceCheck::new(SAMPLE_RATE, PACE_TOLERANCE),
            standing: StandingDelay::new(),
            counters: counters.clone(),
        };
        // The device stalled while the engine queued 20 frames; one 10 ms callback plays
        // the oldest and drops all but the newest of the rest.
        for i in 0..20u8 {
            queue.push([f32::from(i) / 100.0; FRAME_SAMPLES]);
        }
        let mut out = vec![0.0; FRAME_SAMPLES];
        edge.fill_interleaved(&mut out);
        assert_eq!(out[0], 0.0);
        assert_eq!(queue.len(), TRIM_TO_FRAMES);
        assert_eq!(counters.playback_overruns.load(Ordering::Relaxed), 18);
        edge.fill_interleaved(&mut out);
        assert!((out[0] - 0.19).abs() < 1e-6, "{}", out[0]);
    }

    #[test]
    fn playback_queue_drops_the_oldest_when_the_engine_runs_ahead() {
        let q = PlaybackQueue::new(2);
        assert!(q.push([0.1; FRAME_SAMPLES]));
        assert!(q.push([0.2; FRAME_SAMPLES]));
        assert!(!q.push([0.3; FRAME_SAMPLES]));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().unwrap()[0], 0.2);
    }
}
