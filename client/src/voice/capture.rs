//! The capture pipeline: every stage between the microphone and the Opus packet, in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::codec::{EncoderConfig, OpusFrameDuration, VoiceEncoder};
use super::denoise::NoiseSuppressor;
use super::echo::EchoCanceller;
use super::filter::{DEFAULT_CUTOFF_HZ, HighPass};
use super::gain::{Agc, AgcConfig, InputGain};
use super::gate::{GateEvent, GateMode, TransmitGate};
use super::meter::{Level, LevelMeter};
use super::packet::EncodedPacket;
use super::{FRAME_DURATION, Frame};
use crate::error::Result;

/// Capture settings; most can be changed during a call through the pipeline's setters.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// High-pass cut-off in Hz.
    pub high_pass_hz: f32,
    /// Whether the far end's echo is cancelled ([`EchoCanceller`]). On by default, as in
    /// Discord and browsers: on speakers everyone else would hear themselves; on a headset
    /// it changes nothing audible.
    pub echo_cancellation: bool,
    /// Whether RNNoise suppression is applied (its voice probability is always computed).
    pub noise_suppression: bool,
    /// A second suppression stage ([`NoisePostFilter`](super::NoisePostFilter)) for what
    /// RNNoise keeps because it sounds like speech (other voices in the room), at 20 ms
    /// packets only: it adds 10 ms of delay, which the 10 ms low-latency mode is chosen to
    /// avoid (engine latency 56 ms at 20 ms frames, 36 ms at 10 ms).
    pub strong_suppression: bool,
    /// Manual input gain in dB.
    pub input_gain_db: f32,
    /// Whether the AGC runs.
    pub agc: bool,
    /// How the AGC steers, when it runs.
    pub agc_config: AgcConfig,
    /// Voice activity, push-to-talk or continuous.
    pub gate: GateMode,
    /// Audio held back while the gate is closed and sent first when it opens, so the start
    /// of a word that the gate needed a moment to recognise is not cut. It costs latency
    /// only at the start of a talk spurt (those packets leave together), none afterwards.
    /// Rounded down to whole 10 ms frames, and at most one packet's duration: the receiver's
    /// jitter buffer plays a packet at most about one packet late without skipping it, so
    /// deeper look-back would arrive too late to be heard.
    pub gate_pre_roll: Duration,
    /// Opus settings.
    pub encoder: EncoderConfig,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            high_pass_hz: DEFAULT_CUTOFF_HZ,
            echo_cancellation: true,
            noise_suppression: true,
            strong_suppression: true,
            input_gain_db: 0.0,
            agc: true,
            agc_config: AgcConfig::default(),
            gate: GateMode::default(),
            gate_pre_roll: DEFAULT_PRE_ROLL,
            encoder: EncoderConfig::default(),
        }
    }
}

/// The default look-back of the gate. RNNoise's voice probability needs a frame or two of a
/// word before it is sure. In `scripts/voice-quality.sh diag` (clean link, other settings
/// at their defaults) PESQ was 3.80 without look-back, 4.00 with 10 ms, 4.06 with 20 ms.
pub const DEFAULT_PRE_ROLL: Duration = Duration::from_millis(20);

/// What one captured frame produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOutput {
    /// Packets to send, oldest first: usually none or one; when the gate opens, also those
    /// of the pre-roll.
    pub packets: Vec<EncodedPacket>,
    /// Level after processing, for the input meter.
    pub level: Level,
    /// The suppressor's voice probability.
    pub voice_probability: f32,
    /// Whether this frame is being transmitted.
    pub transmitting: bool,
    /// The microphone delivered exact zeros: no live microphone ever does (its own noise
    /// is never digital silence), a muted, unplugged or blocked one does.
    pub digital_silence: bool,
}

/// The capture chain. Feed it every 10 ms microphone frame with
/// [`CapturePipeline::process`]; give it each frame sent to the speakers with
/// [`CapturePipeline::handle_far_end`] (for echo cancellation) and push-to-talk key changes
/// with [`CapturePipeline::handle_push_to_talk`]; drain [`CapturePipeline::poll_gate_event`].
pub struct CapturePipeline {
    high_pass: HighPass,
    echo: EchoCanceller,
    suppressor: NoiseSuppressor,
    input_gain: InputGain,
    agc: Agc,
    meter: LevelMeter,
    gate: TransmitGate,
    encoder: VoiceEncoder,
    /// Processed frames not sent yet while the gate is closed, newest last.
    pre_roll: VecDeque<Frame>,
    pre_roll_frames: usize,
}

impl CapturePipeline {
    /// A pipeline with the given settings.
    pub fn new(config: CaptureConfig) -> Result<Self> {
        let mut pipeline = Self {
            high_pass: HighPass::new(config.high_pass_hz),
            echo: EchoCanceller::new(config.echo_cancellation),
            suppressor: NoiseSuppressor::new(config.noise_suppression),
            input_gain: InputGain::new(config.input_gain_db),
            agc: Agc::new(config.agc_config, config.agc),
            meter: LevelMeter::new(),
            gate: TransmitGate::new(config.gate),
            encoder: VoiceEncoder::new(config.encoder)?,
            pre_roll_frames: pre_roll_frames(config.gate_pre_roll),
            pre_roll: VecDeque::new(),
        };
        pipeline.set_strong_suppression(config.strong_suppression);
        Ok(pipeline)
    }

    /// Processes one microphone frame captured at `now`, in place (afterwards it holds what
    /// is sent), and returns the packet to send, if any, with the frame's analysis.
    pub fn process(&mut self, now: Instant, frame: &mut Frame) -> Result<CaptureOutput> {
        let digital_silence = frame.iter().all(|s| *s == 0.0);
        self.high_pass.process(frame);
        self.echo.process(frame);
        let voice_probability = self.suppressor.process(frame);
        self.input_gain.process(frame);
        self.agc.process(frame, voice_probability);
        let level = self.meter.process(frame);
        let transmitting = self.gate.handle_frame(now, voice_probability, level);
        let mut packets = Vec::new();
        if transmitting {
            // Opening: the held-back frames go first, in order, with their own timestamps.
            while let Some(held) = self.pre_roll.pop_front() {
                packets.extend(self.encoder.push_frame(&held)?);
            }
            packets.extend(self.encoder.push_frame(frame)?);
        } else if self.encoder.has_pending() {
            // Just closed in the middle of a packet: complete it with this frame (the tail of
            // the hangover) rather than with silence.
            packets.extend(self.encoder.push_frame(frame)?);
        } else {
            self.pre_roll.push_back(*frame);
            // Only voice activity looks back: push-to-talk must not send what was said
            // before the key went down.
            let keep = if matches!(self.gate.mode(), GateMode::VoiceActivity(_)) {
                self.pre_roll_frames.min(self.encoder.config().frame_duration.frames())
            } else {
                0
            };
            while self.pre_roll.len() > keep {
                self.pre_roll.pop_front();
                packets.extend(self.encoder.skip_frame()?);
            }
        }
        Ok(CaptureOutput { packets, level, voice_probability, transmitting, digital_silence })
    }

    /// Changes the gate's look-back (see [`CaptureConfig::gate_pre_roll`]).
    pub fn set_gate_pre_roll(&mut self, pre_roll: Duration) -> Result<()> {
        self.pre_roll_frames = pre_roll_frames(pre_roll);
        while self.pre_roll.len() > self.pre_roll_frames {
            self.pre_roll.pop_front();
            // Nothing is pending while frames are held, so no packet can come out.
            self.encoder.skip_frame()?;
        }
        Ok(())
    }

    /// Records a frame handed to the output device, the echo canceller's reference.
    pub fn handle_far_end(&mut self, frame: &Frame) {
        self.echo.handle_far_end(frame);
    }

    /// The push-to-talk key was pressed or released at `now`.
    pub fn handle_push_to_talk(&mut self, now: Instant, pressed: bool) {
        self.gate.handle_push_to_talk(now, pressed);
    }

    /// The next gate change (talk spurt start or end).
    pub fn poll_gate_event(&mut self) -> Option<GateEvent> {
        self.gate.poll_event()
    }

    /// Switches echo cancellation.
    pub fn set_echo_cancellation(&mut self, on: bool) {
        self.echo.set_enabled(on);
    }

    /// The echo path changed (see [`EchoCanceller::restart`]).
    pub fn restart_echo_cancellation(&mut self) {
        self.echo.restart();
    }

    /// Switches noise suppression.
    pub fn set_noise_suppression(&mut self, on: bool) {
        self.suppressor.set_enabled(on);
    }

    /// Switches the second suppression stage (see [`CaptureConfig::strong_suppression`]);
    /// it only ever runs at 20 ms packets.
    pub fn set_strong_suppression(&mut self, on: bool) {
        let allowed = self.encoder.config().frame_duration == OpusFrameDuration::Ms20;
        self.suppressor.set_post_filter(on && allowed);
    }

    /// Switches the AGC.
    pub fn set_agc(&mut self, on: bool) {
        self.agc.set_enabled(on);
    }

    /// Sets the manual input gain in dB.
    pub fn set_input_gain_db(&mut self, db: f32) {
        self.input_gain.set_db(db);
    }

    /// Changes the gate mode.
    pub fn set_gate_mode(&mut self, mode: GateMode) {
        self.gate.set_mode(mode);
    }

    /// The encoder, to change bitrate, expected loss, FEC, DTX or complexity mid-call.
    pub fn encoder_mut(&mut self) -> &mut VoiceEncoder {
        &mut self.encoder
    }

    /// The echo canceller, to read its metrics.
    pub fn echo_canceller(&self) -> &EchoCanceller {
        &self.echo
    }

    /// The AGC's current gain in dB.
    pub fn agc_gain_db(&self) -> f32 {
        self.agc.gain_db()
    }
}

fn pre_roll_frames(pre_roll: Duration) -> usize {
    usize::try_from(pre_roll.as_millis() / FRAME_DURATION.as_millis()).unwrap_or(usize::MAX).min(50)
}

impl std::fmt::Debug for CapturePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturePipeline")
            .field("suppressor", &self.suppressor)
            .field("gate", &self.gate)
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::{FRAME_SAMPLES, OpusFrameDuration};

    /// Without suppression (which delays the audio by a frame) and AGC, so the level the
    /// gate sees is the input's, frame for frame.
    fn plain() -> CaptureConfig {
        CaptureConfig { noise_suppression: false, agc: false, ..Default::default() }
    }

    fn tone(index: usize, amplitude: f32) -> Frame {
        let mut f = [0.0; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (index * FRAME_SAMPLES + i) as f32 / 48_000.0;
            *s = amplitude * (2.0 * std::f32::consts::PI * 220.0 * t).sin();
        }
        f
    }

    /// Feeds a tone to a push-to-talk pipeline whose key goes down at frame `open_at` and
    /// returns the timestamps of the packets sent.
    fn first_timestamps(config: CaptureConfig, open_at: usize) -> Vec<u32> {
        let mut pipeline = CapturePipeline::new(config).unwrap();
        let t0 = Instant::now();
        let mut stamps = Vec::new();
        for i in 0..open_at + 4 {
            let now = t0 + FRAME_DURATION * i as u32;
            if i == open_at {
                pipeline.handle_push_to_talk(now, true);
            }
            let mut frame = tone(i, 0.3);
            let out = pipeline.process(now, &mut frame).unwrap();
            stamps.extend(out.packets.iter().map(|p| p.timestamp));
        }
        stamps
    }

    #[test]
    fn voice_activity_sends_the_pre_roll_first_and_push_to_talk_does_not() {
        // Voice activity that opens on frame 10: thresholds that only a loud tone passes,
        // and a quiet lead-in.
        let vad = crate::voice::VadConfig {
            open_probability: 0.0,
            close_probability: 0.0,
            open_level_dbfs: -20.0,
            close_level_dbfs: -20.0,
            ..Default::default()
        };
        let mut pipeline = CapturePipeline::new(CaptureConfig {
            gate: GateMode::VoiceActivity(vad),
            gate_pre_roll: Duration::from_millis(20),
            ..plain()
        })
        .unwrap();
        let t0 = Instant::now();
        let mut stamps = Vec::new();
        for i in 0..14 {
            let mut frame = tone(i, if i < 10 { 0.001 } else { 0.3 });
            let out = pipeline.process(t0 + FRAME_DURATION * i as u32, &mut frame).unwrap();
            stamps.extend(out.packets.iter().map(|p| p.timestamp));
        }
        // The first packet starts two frames (the pre-roll) before the opening frame, and
        // the timestamps stay those of capture time.
        let frame = FRAME_SAMPLES as u32;
        assert_eq!(stamps.first(), Some(&(8 * frame)), "{stamps:?}");
        assert!(stamps.windows(2).all(|w| w[1] == w[0] + 2 * frame), "{stamps:?}");

        // Push-to-talk sends nothing from before the key went down.
        let ptt = CaptureConfig {
            gate: GateMode::PushToTalk { release_tail: Duration::ZERO },
            gate_pre_roll: Duration::from_millis(20),
            ..Default::default()
        };
        assert_eq!(first_timestamps(ptt, 10).first(), Some(&(10 * frame)));
    }

    #[test]
    fn strong_suppression_switches_at_20_ms_packets_only() {
        let mut pipeline = CapturePipeline::new(CaptureConfig::default()).unwrap();
        assert!(pipeline.suppressor.has_post_filter(), "on by default at 20 ms");
        pipeline.set_strong_suppression(false);
        assert!(!pipeline.suppressor.has_post_filter());
        pipeline.set_strong_suppression(true);
        assert!(pipeline.suppressor.has_post_filter());
        // At 10 ms packets the extra 10 ms of delay is what the mode exists to avoid.
        let mut low_latency = CapturePipeline::new(CaptureConfig {
            encoder: EncoderConfig {
                frame_duration: OpusFrameDuration::Ms10,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        low_latency.set_strong_suppression(true);
        assert!(!low_latency.suppressor.has_post_filter());
    }

    #[test]
    fn pre_roll_is_at_most_one_packet() {
        let vad = crate::voice::VadConfig {
            open_probability: 0.0,
            close_probability: 0.0,
            open_level_dbfs: -20.0,
            close_level_dbfs: -20.0,
            ..Default::default()
        };
        let mut pipeline = CapturePipeline::new(CaptureConfig {
            gate: GateMode::VoiceActivity(vad),
            gate_pre_roll: Duration::from_millis(100),
            encoder: EncoderConfig {
                frame_duration: OpusFrameDuration::Ms10,
                ..Default::default()
            },
            ..plain()
        })
        .unwrap();
        let t0 = Instant::now();
        let mut first = None;
        for i in 0..14 {
            let mut frame = tone(i, if i < 10 { 0.001 } else { 0.3 });
            let out = pipeline.process(t0 + FRAME_DURATION * i as u32, &mut frame).unwrap();
            if i == 10 {
                assert_eq!(out.packets.len(), 2, "{:?}", out.packets);
            }
            first = first.or(out.packets.first().map(|p| p.timestamp));
        }
        assert_eq!(first, Some(9 * FRAME_SAMPLES as u32));
    }
}
