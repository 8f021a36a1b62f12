//! Opus encoding and decoding in the internal format.
//!
//! The encoder takes 10 ms frames and emits a packet every 10 or 20 ms; packets carry a
//! sequence number (one per packet sent) and a timestamp (48 kHz samples of capture time,
//! advancing also while nothing is sent) so the receiver can tell loss from silence.

use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use super::packet::EncodedPacket;
use super::redundancy::{RedundancyHistory, RedundancyMode};
use super::{FRAME_SAMPLES, Frame, SAMPLE_RATE};
use crate::error::{Error, Result};

/// Audio per Opus packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpusFrameDuration {
    /// 10 ms: lower latency, ~10 % more bitrate for the same quality.
    Ms10,
    /// 20 ms: Opus's sweet spot for speech, the default.
    #[default]
    Ms20,
}

impl OpusFrameDuration {
    /// Internal 10 ms frames per packet.
    pub fn frames(self) -> usize {
        match self {
            OpusFrameDuration::Ms10 => 1,
            OpusFrameDuration::Ms20 => 2,
        }
    }

    /// Samples per packet.
    pub fn samples(self) -> usize {
        self.frames() * FRAME_SAMPLES
    }
}

/// Encoder settings. Bitrate and loss usually come from the channel and the far end's
/// reports and change during a call through the setters on [`VoiceEncoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// Audio per packet.
    pub frame_duration: OpusFrameDuration,
    /// Target bitrate in bits per second, 8 000 to 510 000.
    pub bitrate_bps: u32,
    /// In-band forward error correction: each packet carries a low-bitrate copy of the
    /// previous one, which the receiver uses when that one is lost.
    pub inband_fec: bool,
    /// Expected packet loss, 0–100 %; Opus sizes the FEC to it (0 turns FEC off in effect).
    pub expected_loss_percent: u8,
    /// Discontinuous transmission: in silence, packets are sent only every 400 ms.
    pub dtx: bool,
    /// Encoder complexity, 0 (cheapest) to 10 (best).
    pub complexity: u8,
    /// Earlier packets carried again in each packet, beyond FEC; by default sized from
    /// `expected_loss_percent`.
    pub redundancy: RedundancyMode,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            frame_duration: OpusFrameDuration::Ms20,
            // Transparent for wideband speech; still small next to any game's traffic.
            bitrate_bps: 40_000,
            inband_fec: true,
            expected_loss_percent: 5,
            dtx: true,
            complexity: 10,
            redundancy: RedundancyMode::Auto,
        }
    }
}

/// Bitrates Opus accepts, in bits per second.
pub const BITRATE_RANGE_BPS: std::ops::RangeInclusive<u32> = 8_000..=510_000;

/// The largest packet we produce; Opus never needs more than 1275 bytes per frame.
const MAX_PACKET_BYTES: usize = 1500;

/// Opus encoder with packetisation. Call [`VoiceEncoder::push_frame`] for frames to send and
/// [`VoiceEncoder::skip_frame`] for frames not sent, so timestamps follow capture time.
pub struct VoiceEncoder {
    encoder: Encoder,
    config: EncoderConfig,
    pending: Vec<f32>,
    pending_timestamp: u32,
    next_timestamp: u32,
    next_sequence: u16,
    /// Capture time (samples) after `next_timestamp`'s packet end that the silence which
    /// completed the last packet already stands for: skipped frames use it up before
    /// moving the clock, so that time is not counted twice.
    silence_ahead: u32,
    out: Vec<u8>,
    history: RedundancyHistory,
}

impl VoiceEncoder {
    /// An encoder with the given settings.
    pub fn new(config: EncoderConfig) -> Result<Self> {
        let mut encoder = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)?;
        apply_config(&mut encoder, &config)?;
        Ok(Self {
            encoder,
            pending: Vec::with_capacity(OpusFrameDuration::Ms20.samples()),
            pending_timestamp: 0,
            next_timestamp: 0,
            next_sequence: 0,
            silence_ahead: 0,
            out: vec![0; MAX_PACKET_BYTES],
            history: RedundancyHistory::default(),
            config,
        })
    }

    /// The current settings.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Adds one frame to send. Returns a packet when one is complete; DTX packets that
    /// carry nothing (1–2 bytes) are not returned, which the receiver sees as silence.
    pub fn push_frame(&mut self, frame: &Frame) -> Result<Option<EncodedPacket>> {
        // Sound again within time a silence fill already covered: it goes after that
        // packet (a shift of at most one packet), timestamps must not overlap.
        self.silence_ahead = 0;
        if self.pending.is_empty() {
            self.pending_timestamp = self.next_timestamp;
        }
        self.pending.extend_from_slice(frame);
        self.next_timestamp = self.next_timestamp.wrapping_add(FRAME_SAMPLES as u32);
        if self.pending.len() >= self.config.frame_duration.samples() {
            self.encode_pending()
        } else {
            Ok(None)
        }
    }

    /// Whether a half-filled packet is waiting for its second frame.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Accounts for one frame that is not sent (gate closed). A half-filled packet is
    /// completed with silence and returned, so the end of a talk spurt is not lost.
    pub fn skip_frame(&mut self) -> Result<Option<EncodedPacket>> {
        let packet = self.flush()?;
        let frame = FRAME_SAMPLES as u32;
        if self.silence_ahead >= frame {
            self.silence_ahead -= frame;
        } else {
            self.silence_ahead = 0;
            self.next_timestamp = self.next_timestamp.wrapping_add(frame);
        }
        Ok(packet)
    }

    /// Completes a half-filled packet with silence and encodes it.
    pub fn flush(&mut self) -> Result<Option<EncodedPacket>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let missing = self.config.frame_duration.samples().saturating_sub(self.pending.len());
        self.pending.extend(std::iter::repeat_n(0.0, missing));
        // The silence completes the packet's capture time, standing for frames to come.
        self.next_timestamp = self.next_timestamp.wrapping_add(missing as u32);
        self.silence_ahead = missing as u32;
        self.encode_pending()
    }

    fn encode_pending(&mut self) -> Result<Option<EncodedPacket>> {
        let len = self.encoder.encode_float(&self.pending, &mut self.out);
        self.pending.clear();
        let len = len?;
        if self.config.dtx && len <= 2 {
            return Ok(None);
        }
        let mut packet = EncodedPacket::new(
            self.next_sequence,
            self.pending_timestamp,
            self.out[..len].to_vec(),
        );
        self.history.attach(&mut packet, self.redundancy_depth());
        self.next_sequence = self.next_sequence.wrapping_add(1);
        Ok(Some(packet))
    }

    /// Changes the bitrate (8 000 – 510 000 b/s).
    pub fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        check_bitrate(bps)?;
        self.encoder.set_bitrate(Bitrate::Bits(to_i32(bps)))?;
        self.config.bitrate_bps = bps;
        Ok(())
    }

    /// How many earlier packets each packet currently carries again.
    pub fn redundancy_depth(&self) -> usize {
        self.config.redundancy.depth(self.config.expected_loss_percent)
    }

    /// Changes the redundancy mode; takes effect from the next packet.
    pub fn set_redundancy(&mut self, mode: RedundancyMode) -> Result<()> {
        self.config.redundancy = mode;
        self.encoder.set_packet_loss_perc(opus_loss_percent(&self.config))?;
        Ok(())
    }

    /// Updates the expected loss (from the far end's reports), clamped to 0–100 %. It sizes
    /// both the in-band FEC and, in [`RedundancyMode::Auto`], the redundancy depth.
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<()> {
        let percent = percent.min(100);
        self.config.expected_loss_percent = percent;
        self.encoder.set_packet_loss_perc(opus_loss_percent(&self.config))?;
        Ok(())
    }

    /// Switches in-band FEC.
    pub fn set_inband_fec(&mut self, on: bool) -> Result<()> {
        self.encoder.set_inband_fec(on)?;
        self.config.inband_fec = on;
        Ok(())
    }

    /// Switches DTX.
    pub fn set_dtx(&mut self, on: bool) -> Result<()> {
        self.encoder.set_dtx(on)?;
        self.config.dtx = on;
        Ok(())
    }

    /// Sets the complexity (0–10).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<()> {
        check_complexity(complexity)?;
        self.encoder.set_complexity(i32::from(complexity))?;
        self.config.complexity = complexity;
        Ok(())
    }

    /// Changes the packet duration; a half-filled packet is finished with the old one.
    pub fn set_frame_duration(&mut self, duration: OpusFrameDuration) {
        self.config.frame_duration = duration;
    }
}

impl std::fmt::Debug for VoiceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceEncoder")
            .field("config", &self.config)
            .field("next_sequence", &self.next_sequence)
            .field("next_timestamp", &self.next_timestamp)
            .finish_non_exhaustive()
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn check_bitrate(bps: u32) -> Result<()> {
    if BITRATE_RANGE_BPS.contains(&bps) {
        Ok(())
    } else {
        Err(Error::InvalidVoiceSetting {
            setting: "bitrate",
            reason: format!("{bps} b/s is outside 8000..=510000"),
        })
    }
}

fn check_complexity(complexity: u8) -> Result<()> {
    if complexity <= 10 {
        Ok(())
    } else {
        Err(Error::InvalidVoiceSetting {
            setting: "complexity",
            reason: format!("{complexity} is outside 0..=10"),
        })
    }
}

/// The loss Opus is told to expect: the loss itself. Opus sizes its in-band FEC (a coarse
/// copy of the previous packet inside each packet) and its prediction to this figure. It
/// once got only the loss our redundant copies would leave (`p^(depth+1)`, 0.1 % at 10 %
/// loss with two copies), which turned FEC off exactly when loss was high; but the copies
/// protect only our own leg to the relay, while FEC travels in every packet to every
/// listener, whose own losses the relay's copies may or may not cover. So FEC keeps its
/// full share, and a burst that beats the copies still finds a FEC copy in the next packet.
fn opus_loss_percent(config: &EncoderConfig) -> i32 {
    i32::from(config.expected_loss_percent.min(100))
}

fn apply_config(encoder: &mut Encoder, config: &EncoderConfig) -> Result<()> {
    check_bitrate(config.bitrate_bps)?;
    check_complexity(config.complexity)?;
    encoder.set_bitrate(Bitrate::Bits(to_i32(config.bitrate_bps)))?;
    encoder.set_inband_fec(config.inband_fec)?;
    encoder.set_packet_loss_perc(opus_loss_percent(config))?;
    encoder.set_dtx(config.dtx)?;
    encoder.set_complexity(i32::from(config.complexity))?;
    // We only ever feed speech; the hint spares Opus from guessing at every onset.
    encoder.set_signal(opus::Signal::Voice)?;
    encoder.set_vbr(true)?;
    Ok(())
}

/// The longest audio one Opus packet can hold: 120 ms.
pub const MAX_PACKET_SAMPLES: usize = 5760;

/// Opus decoder producing internal-format samples.
pub struct VoiceDecoder {
    decoder: Decoder,
    buf: Vec<f32>,
}

impl VoiceDecoder {
    /// A fresh decoder.
    pub fn new() -> Result<Self> {
        Ok(Self {
            decoder: Decoder::new(SAMPLE_RATE, Channels::Mono)?,
            buf: vec![0.0; MAX_PACKET_SAMPLES],
        })
    }

    /// The number of samples a packet decodes to, or an error if it is not valid Opus.
    pub fn packet_samples(payload: &[u8]) -> Result<usize> {
        if payload.is_empty() {
            return Err(Error::InvalidVoiceSetting {
                setting: "packet",
                reason: "empty Opus packet".into(),
            });
        }
        let samples = opus::packet::get_nb_samples(payload, SAMPLE_RATE)?;
        if samples == 0 || samples > MAX_PACKET_SAMPLES {
            return Err(Error::InvalidVoiceSetting {
                setting: "packet",
                reason: format!("Opus packet of {samples} samples"),
            });
        }
        Ok(samples)
    }

    /// Decodes a packet, appending its samples to `out`. Returns how many were appended.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<f32>) -> Result<usize> {
        if payload.is_empty() {
            return Err(Error::InvalidVoiceSetting {
                setting: "packet",
                reason: "empty Opus packet".into(),
            });
        }
        let n = self.decoder.decode_float(payload, &mut self.buf, false)?;
        out.extend_from_slice(&self.buf[..n.min(self.buf.len())]);
        Ok(n)
    }

    /// Recovers a lost packet of `samples` samples from the FEC data in the packet after
    /// it, appending to `out`. Falls back to concealment if that packet has no FEC data.
    pub fn decode_fec(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        let samples = samples.clamp(1, MAX_PACKET_SAMPLES);
        let n = self.decoder.decode_float(next_payload, &mut self.buf[..samples], true)?;
        out.extend_from_slice(&self.buf[..n.min(samples)]);
        Ok(n)
    }

    /// Conceals `samples` samples of missing audio (Opus PLC), appending to `out`.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<f32>) -> Result<usize> {
        let samples = samples.clamp(1, MAX_PACKET_SAMPLES);
        let n = self.decoder.decode_float(&[], &mut self.buf[..samples], false)?;
        out.extend_from_slice(&self.buf[..n.min(samples)]);
        Ok(n)
    }
}

impl std::fmt::Debug for VoiceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceDecoder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::netsim::SplitMix64;

    fn voiced_frame(index: usize) -> Frame {
        let mut f = [0.0; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (index * FRAME_SAMPLES + i) as f32 / 48_000.0;
            *s = 0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 660.0 * t).sin();
        }
        f
    }

    #[test]
    fn packets_have_sequence_and_capture_timestamps() {
        let mut enc =
            VoiceEncoder::new(EncoderConfig { dtx: false, ..Default::default() }).unwrap();
        let mut packets = Vec::new();
        for i in 0..10 {
            if let Some(p) = enc.push_frame(&voiced_frame(i)).unwrap() {
                packets.push(p);
            }
        }
        // Gate closes for 5 frames, then reopens.
        for _ in 0..5 {
            assert!(enc.skip_frame().unwrap().is_none());
        }
        for i in 15..19 {
            if let Some(p) = enc.push_frame(&voiced_frame(i)).unwrap() {
                packets.push(p);
            }
        }
        let seqs: Vec<u16> = packets.iter().map(|p| p.sequence).collect();
        let stamps: Vec<u32> = packets.iter().map(|p| p.timestamp).collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(stamps, [0, 960, 1920, 2880, 3840, 7200, 8160]);
        for p in &packets {
            assert_eq!(VoiceDecoder::packet_samples(&p.payload).unwrap(), 960);
        }
    }

    /// A talk spurt that ends on half a 20 ms packet: the silence that completes it stands
    /// for the next frame, which the gate then skips; the clock must count it once.
    #[test]
    fn a_spurt_ending_mid_packet_keeps_capture_time() {
        let mut enc =
            VoiceEncoder::new(EncoderConfig { dtx: false, ..Default::default() }).unwrap();
        assert!(enc.push_frame(&voiced_frame(0)).unwrap().is_none());
        let filled = enc.skip_frame().unwrap().expect("the half packet, completed");
        assert_eq!(filled.timestamp, 0);
        for _ in 2..5 {
            assert!(enc.skip_frame().unwrap().is_none());
        }
        assert!(enc.push_frame(&voiced_frame(5)).unwrap().is_none());
        let next = enc.push_frame(&voiced_frame(6)).unwrap().expect("a packet");
        assert_eq!(next.timestamp, 5 * FRAME_SAMPLES as u32, "frame 5 starts at 5 × 10 ms");
    }

    #[test]
    fn ten_ms_packets_and_flush_on_partial() {
        let mut enc = VoiceEncoder::new(EncoderConfig {
            frame_duration: OpusFrameDuration::Ms10,
            dtx: false,
            ..Default::default()
        })
        .unwrap();
        let p = enc.push_frame(&voiced_frame(0)).unwrap().unwrap();
        assert_eq!(VoiceDecoder::packet_samples(&p.payload).unwrap(), 480);
        enc.set_frame_duration(OpusFrameDuration::Ms20);
        assert!(enc.push_frame(&voiced_frame(1)).unwrap().is_none());
        let p = enc.skip_frame().unwrap().unwrap();
        assert_eq!((p.sequence, p.timestamp), (1, 480));
        assert_eq!(VoiceDecoder::packet_samples(&p.payload).unwrap(), 960);
    }

    #[test]
    fn settings_are_validated() {
        assert!(
            VoiceEncoder::new(EncoderConfig { bitrate_bps: 7_999, ..Default::default() }).is_err()
        );
        assert!(VoiceEncoder::new(EncoderConfig { complexity: 11, ..Default::default() }).is_err());
        let mut enc = VoiceEncoder::new(EncoderConfig::default()).unwrap();
        assert!(enc.set_bitrate(510_001).is_err());
        enc.set_bitrate(8_000).unwrap();
        enc.set_bitrate(510_000).unwrap();
        enc.set_expected_loss(250).unwrap();
        assert_eq!(enc.config().expected_loss_percent, 100);
        enc.set_complexity(0).unwrap();
        enc.set_dtx(false).unwrap();
        enc.set_inband_fec(false).unwrap();
    }

    #[test]
    fn opus_fec_is_sized_to_the_loss_whatever_the_copies() {
        let config = |expected_loss_percent, redundancy| EncoderConfig {
            expected_loss_percent,
            redundancy,
            ..Default::default()
        };
        assert_eq!(opus_loss_percent(&config(5, RedundancyMode::Auto)), 5);
        assert_eq!(opus_loss_percent(&config(20, RedundancyMode::Off)), 20);
        // Copies protect one leg; FEC reaches every listener, so it keeps its full size.
        assert_eq!(opus_loss_percent(&config(20, RedundancyMode::Auto)), 20);
        assert_eq!(opus_loss_percent(&config(40, RedundancyMode::Fixed(1))), 40);
        assert_eq!(opus_loss_percent(&config(200, RedundancyMode::Off)), 100);
        let mut enc = VoiceEncoder::new(EncoderConfig::default()).unwrap();
        enc.set_redundancy(RedundancyMode::Off).unwrap();
        enc.set_expected_loss(30).unwrap();
        assert_eq!(enc.redundancy_depth(), 0);
        enc.set_redundancy(RedundancyMode::Auto).unwrap();
        assert_eq!(enc.redundancy_depth(), 2);
    }

    #[test]
    fn dtx_suppresses_silence() {
        let mut enc = VoiceEncoder::new(EncoderConfig::default()).unwrap();
        let sent = (0..200).filter_map(|_| enc.push_frame(&[0.0; FRAME_SAMPLES]).unwrap()).count();
        // 2 s of silence: ~100 packets without DTX; with DTX only the start and a
        // keep-alive every 400 ms.
        assert!(sent < 20, "{sent}");
    }

    #[test]
    fn fec_recovers_and_garbage_never_panics() {
        let mut enc = VoiceEncoder::new(EncoderConfig {
            expected_loss_percent: 20,
            dtx: false,
            ..Default::default()
        })
        .unwrap();
        let packets: Vec<_> =
            (0..40).filter_map(|i| enc.push_frame(&voiced_frame(i)).unwrap()).collect();
        let mut dec = VoiceDecoder::new().unwrap();
        let mut out = Vec::new();
        for p in &packets[..10] {
            dec.decode(&p.payload, &mut out).unwrap();
        }
        // Packet 10 is lost: recover it from packet 11's FEC, then decode 11 itself.
        assert_eq!(dec.decode_fec(&packets[11].payload, 960, &mut out).unwrap(), 960);
        dec.decode(&packets[11].payload, &mut out).unwrap();
        assert_eq!(dec.conceal(960, &mut out).unwrap(), 960);
        assert_eq!(out.len(), 13 * 960);
        let recovered = &out[10 * 960..11 * 960];
        let energy: f32 = recovered.iter().map(|s| s * s).sum();
        assert!(energy > 1.0, "FEC output should carry the tone, energy {energy}");

        let mut rng = SplitMix64::new(3);
        for len in [0usize, 1, 2, 3, 7, 50, 400, 1500, 4000] {
            let garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = VoiceDecoder::packet_samples(&garbage);
            let _ = dec.decode(&garbage, &mut out);
            let _ = dec.decode_fec(&garbage, 960, &mut out);
        }
        // Truncated real packets.
        for cut in 0..packets[5].payload.len() {
            let _ = dec.decode(&packets[5].payload[..cut], &mut out);
        }
        assert!(out.iter().all(|s| s.is_finite()));
    }
}
