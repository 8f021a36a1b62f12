//! A one-way call in simulated time, for tests and measurements: a capture pipeline sends
//! datagrams through the seeded network emulator to a remote speaker in a mixer, and the
//! receiver's loss reports flow back to the sender's encoder once per interval, as a real
//! call's receiver reports would. Ten seconds of speech run in well under a second.

use std::time::{Duration, Instant};

use super::capture::{CaptureConfig, CapturePipeline};
use super::jitter::{JitterConfig, JitterStats};
use super::mixer::Mixer;
use super::netsim::{NetworkConfig, NetworkEmulator, NetworkStats};
use super::receive::RemoteSpeaker;
use super::redundancy::LossEstimator;
use super::{FRAME_DURATION, FRAME_SAMPLES, Frame};
use crate::error::Result;

/// How a simulated call is set up.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// The sender's capture chain, including its encoder and redundancy mode.
    pub capture: CaptureConfig,
    /// The receiver's jitter buffer.
    pub jitter: JitterConfig,
    /// The link from sender to receiver.
    pub network: NetworkConfig,
    /// Seed of the network's randomness.
    pub seed: u64,
    /// How often the receiver reports its loss to the sender; `None` leaves the encoder's
    /// expected loss as configured.
    pub loss_reports: Option<Duration>,
    /// Extra time simulated after the input ends, so the buffers drain.
    pub tail: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            capture: CaptureConfig::default(),
            jitter: JitterConfig::default(),
            network: NetworkConfig::default(),
            seed: 1,
            // About what RTCP receiver reports give a real call.
            loss_reports: Some(Duration::from_secs(1)),
            tail: Duration::from_millis(500),
        }
    }
}

/// What a simulated call produced.
#[derive(Debug, Clone)]
pub struct CallRun {
    /// The mixer's output, 10 ms per step, as long as the input plus the tail.
    pub output: Vec<f32>,
    /// The receiver's jitter buffer at the end.
    pub jitter: JitterStats,
    /// What the network did.
    pub network: NetworkStats,
    /// Datagrams sent and their total bytes (headers of our format included, IP/UDP not).
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// The deepest redundancy the encoder used.
    pub max_redundancy_depth: usize,
    /// The loss the receiver last reported, in percent.
    pub last_reported_loss: u8,
}

impl CallRun {
    /// Average bitrate sent over the whole run, in kb/s.
    pub fn kbps(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let seconds = (self.output.len() as f64 / f64::from(super::SAMPLE_RATE)).max(1e-3);
        #[allow(clippy::cast_precision_loss)]
        let bits = self.bytes_sent as f64 * 8.0;
        bits / seconds / 1000.0
    }
}

/// Plays `input` (internal format) through the call and returns what the receiver heard.
pub fn run_call(input: &[f32], config: &CallConfig) -> Result<CallRun> {
    let t0 = Instant::now();
    let mut pipeline = CapturePipeline::new(config.capture.clone())?;
    let mut net: NetworkEmulator<Vec<u8>> =
        NetworkEmulator::new(config.network.clone(), config.seed);
    let mut mixer: Mixer<u32> = Mixer::new();
    mixer.insert_speaker(1, RemoteSpeaker::new(config.jitter.clone())?);
    let mut estimator = LossEstimator::new();
    let tail_frames = usize::try_from(config.tail.as_millis() / 10).unwrap_or(0);
    let frames = input.len().div_ceil(FRAME_SAMPLES) + tail_frames;
    let report_every = config
        .loss_reports
        .map(|d| usize::try_from(d.as_millis() / 10).unwrap_or(usize::MAX).max(1));
    let mut run = CallRun {
        output: Vec::with_capacity(frames * FRAME_SAMPLES),
        jitter: JitterStats::default(),
        network: NetworkStats::default(),
        packets_sent: 0,
        bytes_sent: 0,
        max_redundancy_depth: 0,
        last_reported_loss: config.capture.encoder.expected_loss_percent,
    };
    for i in 0..frames {
        let now = t0 + FRAME_DURATION * u32::try_from(i).unwrap_or(u32::MAX);
        let mut frame: Frame = [0.0; FRAME_SAMPLES];
        for (slot, s) in frame.iter_mut().zip(input.iter().skip(i * FRAME_SAMPLES)) {
            *slot = *s;
        }
        let out = pipeline.process(now, &mut frame)?;
        for packet in out.packets {
            run.max_redundancy_depth = run.max_redundancy_depth.max(packet.redundant.len());
            let bytes = packet.to_bytes();
            run.packets_sent += 1;
            run.bytes_sent += bytes.len() as u64;
            net.send(now, bytes);
        }
        let mut played: Frame = [0.0; FRAME_SAMPLES];
        if let Some(speaker) = mixer.speaker_mut(&1) {
            while let Some((at, datagram)) = net.poll_delivery(now) {
                speaker.handle_datagram(at, &datagram);
            }
            if report_every.is_some_and(|every| i > 0 && i % every == 0) {
                run.last_reported_loss = estimator.handle_stats(speaker.jitter_stats());
                pipeline.encoder_mut().set_expected_loss(run.last_reported_loss)?;
            }
        }
        mixer.poll_frame(now, &mut played);
        run.output.extend_from_slice(&played);
    }
    if let Some(speaker) = mixer.speaker_mut(&1) {
        run.jitter = speaker.jitter_stats().clone();
    }
    run.network = net.stats().clone();
    Ok(run)
}
