//! The capture pipeline: every stage between the microphone and the Opus packet, in order.

use std::time::Instant;

use super::Frame;
use super::codec::{EncodedPacket, EncoderConfig, VoiceEncoder};
use super::denoise::NoiseSuppressor;
use super::echo::EchoCanceller;
use super::filter::{DEFAULT_CUTOFF_HZ, HighPass};
use super::gain::{Agc, AgcConfig, InputGain};
use super::gate::{GateEvent, GateMode, TransmitGate};
use super::meter::{Level, LevelMeter};
use crate::error::Result;

/// Capture settings; most can be changed during a call through the pipeline's setters.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureConfig {
    /// High-pass cut-off in Hz.
    pub high_pass_hz: f32,
    /// Whether RNNoise suppression is applied (its voice probability is always computed).
    pub noise_suppression: bool,
    /// Manual input gain in dB.
    pub input_gain_db: f32,
    /// Whether the AGC runs.
    pub agc: bool,
    /// How the AGC steers, when it runs.
    pub agc_config: AgcConfig,
    /// Voice activity, push-to-talk or continuous.
    pub gate: GateMode,
    /// Opus settings.
    pub encoder: EncoderConfig,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            high_pass_hz: DEFAULT_CUTOFF_HZ,
            noise_suppression: true,
            input_gain_db: 0.0,
            agc: true,
            agc_config: AgcConfig::default(),
            gate: GateMode::default(),
            encoder: EncoderConfig::default(),
        }
    }
}

/// What one captured frame produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOutput {
    /// A packet to send, when one is complete.
    pub packet: Option<EncodedPacket>,
    /// Level after processing, for the input meter.
    pub level: Level,
    /// The suppressor's voice probability.
    pub voice_probability: f32,
    /// Whether this frame is being transmitted.
    pub transmitting: bool,
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
}

impl CapturePipeline {
    /// A pipeline with the given settings.
    pub fn new(config: CaptureConfig) -> Result<Self> {
        Ok(Self {
            high_pass: HighPass::new(config.high_pass_hz),
            echo: EchoCanceller::new(),
            suppressor: NoiseSuppressor::new(config.noise_suppression),
            input_gain: InputGain::new(config.input_gain_db),
            agc: Agc::new(config.agc_config, config.agc),
            meter: LevelMeter::new(),
            gate: TransmitGate::new(config.gate),
            encoder: VoiceEncoder::new(config.encoder)?,
        })
    }

    /// Processes one microphone frame captured at `now`, in place (afterwards it holds what
    /// is sent), and returns the packet to send, if any, with the frame's analysis.
    pub fn process(&mut self, now: Instant, frame: &mut Frame) -> Result<CaptureOutput> {
        self.high_pass.process(frame);
        self.echo.process(frame);
        let voice_probability = self.suppressor.process(frame);
        self.input_gain.process(frame);
        self.agc.process(frame, voice_probability);
        let level = self.meter.process(frame);
        let transmitting = self.gate.handle_frame(now, voice_probability, level);
        let packet = if transmitting {
            self.encoder.push_frame(frame)?
        } else {
            self.encoder.skip_frame()?
        };
        Ok(CaptureOutput { packet, level, voice_probability, transmitting })
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

    /// Switches noise suppression.
    pub fn set_noise_suppression(&mut self, on: bool) {
        self.suppressor.set_enabled(on);
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

    /// The echo canceller, to inspect the far-end reference.
    pub fn echo_canceller(&self) -> &EchoCanceller {
        &self.echo
    }

    /// The AGC's current gain in dB.
    pub fn agc_gain_db(&self) -> f32 {
        self.agc.gain_db()
    }
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
