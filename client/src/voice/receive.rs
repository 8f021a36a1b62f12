//! The receive chain of one remote speaker: jitter buffer, Opus decoding with FEC and
//! concealment, per-user volume and local mute, and the speaking indicator.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::codec::VoiceDecoder;
use super::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use super::meter::{Level, LevelMeter};
use super::packet::EncodedPacket;
use super::{FRAME_SAMPLES, Frame};
use crate::error::Result;

/// Decides from decoded levels whether someone is speaking, for the UI's ring around their
/// avatar. A hold time keeps the ring from flickering between words.
#[derive(Debug, Clone)]
pub struct SpeakingDetector {
    threshold_dbfs: f32,
    hold: Duration,
    last_loud: Option<Instant>,
}

impl SpeakingDetector {
    /// Speaking while frames exceed `threshold_dbfs` RMS, and for `hold` after.
    pub fn new(threshold_dbfs: f32, hold: Duration) -> Self {
        Self { threshold_dbfs, hold, last_loud: None }
    }

    /// Feeds the level of a frame played at `now`; returns whether the speaker is speaking.
    pub fn process(&mut self, now: Instant, level: Level) -> bool {
        if level.rms_dbfs >= self.threshold_dbfs {
            self.last_loud = Some(now);
        }
        self.is_speaking(now)
    }

    /// Whether the speaker counts as speaking at `now`.
    pub fn is_speaking(&self, now: Instant) -> bool {
        self.last_loud.is_some_and(|t| now.saturating_duration_since(t) < self.hold)
    }
}

impl Default for SpeakingDetector {
    fn default() -> Self {
        // Below typical speech (-30 to -15 dBFS) and well above decoded silence or comfort
        // noise; 250 ms spans the gaps between words.
        Self::new(-45.0, Duration::from_millis(250))
    }
}

/// Below this RMS a frame is a pause or a stop consonant: 20 dB under levelled speech, so a
/// concealment frame inserted after it, or a packet skipped, goes unheard. Measured speech
/// through a call has such a frame at least every 0.9 s, usually every 0.2 s.
const QUIET_DBFS: f32 = -40.0;

/// Most volume a user can give someone: 200 %.
pub const MAX_VOLUME_PERCENT: u16 = 200;

/// One remote speaker. Call [`RemoteSpeaker::handle_packet`] as packets arrive and
/// [`RemoteSpeaker::poll_frame`] once per 10 ms of playback.
pub struct RemoteSpeaker {
    jitter: JitterBuffer,
    decoder: VoiceDecoder,
    pcm: VecDeque<f32>,
    scratch: Vec<f32>,
    volume: f32,
    muted: bool,
    meter: LevelMeter,
    speaking: SpeakingDetector,
    last_poll: Option<Instant>,
    invalid_packets: u64,
    decode_errors: u64,
}

impl RemoteSpeaker {
    /// A speaker with an empty jitter buffer, at 100 % volume, not muted.
    pub fn new(config: JitterConfig) -> Result<Self> {
        Ok(Self {
            jitter: JitterBuffer::new(config),
            decoder: VoiceDecoder::new()?,
            pcm: VecDeque::with_capacity(2 * super::codec::MAX_PACKET_SAMPLES),
            scratch: Vec::with_capacity(super::codec::MAX_PACKET_SAMPLES),
            volume: 1.0,
            muted: false,
            meter: LevelMeter::new(),
            speaking: SpeakingDetector::default(),
            last_poll: None,
            invalid_packets: 0,
            decode_errors: 0,
        })
    }

    /// Takes a packet that arrived at `now`. Packets that are not valid Opus are counted and
    /// dropped here, before they can disturb the jitter buffer; so are invalid redundant
    /// copies, without costing the primary.
    pub fn handle_packet(&mut self, now: Instant, mut packet: EncodedPacket) {
        let copies = std::mem::take(&mut packet.redundant);
        let carrier = packet.sequence;
        match VoiceDecoder::packet_samples(&packet.payload) {
            Ok(samples) => self.jitter.handle_packet(now, packet, samples),
            Err(_) => {
                self.invalid_packets += 1;
                return;
            }
        }
        for copy in copies {
            match VoiceDecoder::packet_samples(&copy.payload) {
                Ok(samples) => self.jitter.handle_redundant(now, carrier, copy, samples),
                Err(_) => self.invalid_packets += 1,
            }
        }
    }

    /// Takes a datagram in the engine's packet format (see `redundancy`) that arrived at
    /// `now`; malformed ones are counted with the invalid packets.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        match EncodedPacket::from_bytes(bytes) {
            Ok(packet) => self.handle_packet(now, packet),
            Err(_) => self.invalid_packets += 1,
        }
    }

    /// Produces the next 10 ms of this speaker's audio at `now`, after volume and mute.
    pub fn poll_frame(&mut self, now: Instant, out: &mut Frame) {
        // A handful of answers always fills a frame (each gives ≥ 480 samples except FEC or
        // packets of < 10 ms); the bound only guards against a logic error looping forever.
        // The last 10 ms handed out decide whether a frame inserted or skipped now would be
        // heard; the meter measured them before volume and mute.
        self.jitter.set_quiet(self.meter.level().rms_dbfs < QUIET_DBFS);
        for _ in 0..16 {
            if self.pcm.len() >= FRAME_SAMPLES {
                break;
            }
            self.scratch.clear();
            match self.jitter.poll_playout(now) {
                Playout::Packet { payload, samples, .. } => {
                    if self.decoder.decode(&payload, &mut self.scratch).is_err() {
                        self.decode_errors += 1;
                        self.conceal(samples);
                    }
                }
                Playout::Fec { payload, samples, .. } => {
                    if self.decoder.decode_fec(&payload, samples, &mut self.scratch).is_err() {
                        self.decode_errors += 1;
                        self.conceal(samples);
                    }
                }
                Playout::Conceal { samples } => self.conceal(samples),
                Playout::Silence => self.scratch.resize(FRAME_SAMPLES, 0.0),
            }
            self.pcm.extend(self.scratch.iter());
        }
        for s in out.iter_mut() {
            *s = self.pcm.pop_front().unwrap_or(0.0);
        }
        let level = self.meter.process(out);
        self.speaking.process(now, level);
        self.last_poll = Some(now);
        let gain = if self.muted { 0.0 } else { self.volume };
        if gain != 1.0 {
            for s in out.iter_mut() {
                *s *= gain;
            }
        }
    }

    fn conceal(&mut self, samples: usize) {
        self.scratch.clear();
        if self.decoder.conceal(samples, &mut self.scratch).is_err() {
            self.scratch.clear();
            self.scratch.resize(samples.max(1), 0.0);
        }
    }

    /// Sets this speaker's volume, 0–200 % (clamped).
    pub fn set_volume_percent(&mut self, percent: u16) {
        self.volume = f32::from(percent.min(MAX_VOLUME_PERCENT)) / 100.0;
    }

    /// Mutes this speaker for the local user only. Decoding goes on, so unmuting is
    /// seamless and the speaking indicator keeps working.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether this speaker is locally muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Whether the speaker is speaking, as of the last frame polled.
    pub fn is_speaking(&self) -> bool {
        self.last_poll.is_some_and(|t| self.speaking.is_speaking(t))
    }

    /// Level of the last decoded frame, before volume and mute.
    pub fn level(&self) -> Level {
        self.meter.level()
    }

    /// Jitter buffer statistics.
    pub fn jitter_stats(&self) -> &JitterStats {
        self.jitter.stats()
    }

    /// Packets dropped as not valid Opus, and packets that failed to decode.
    pub fn bad_packets(&self) -> (u64, u64) {
        (self.invalid_packets, self.decode_errors)
    }
}

impl std::fmt::Debug for RemoteSpeaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSpeaker")
            .field("volume", &self.volume)
            .field("muted", &self.muted)
            .field("jitter", self.jitter.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::codec::{EncoderConfig, VoiceEncoder};

    fn tone_frame(index: usize, amplitude: f32) -> Frame {
        let mut f = [0.0; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (index * FRAME_SAMPLES + i) as f32 / 48_000.0;
            *s = amplitude * (2.0 * std::f32::consts::PI * 300.0 * t).sin();
        }
        f
    }

    /// Sends `frames` of a tone through encoder and speaker, returning the output frames.
    fn run(speaker: &mut RemoteSpeaker, frames: usize) -> Vec<Frame> {
        let t0 = Instant::now();
        let mut enc = VoiceEncoder::new(EncoderConfig::default()).unwrap();
        let mut out = Vec::new();
        for i in 0..frames {
            let now = t0 + Duration::from_millis(10) * i as u32;
            if let Some(p) = enc.push_frame(&tone_frame(i, 0.3)).unwrap() {
                speaker.handle_packet(now, p);
            }
            let mut frame = [0.0; FRAME_SAMPLES];
            speaker.poll_frame(now, &mut frame);
            out.push(frame);
        }
        out
    }

    fn rms(frames: &[Frame]) -> f32 {
        let n = frames.len() * FRAME_SAMPLES;
        (frames.iter().flatten().map(|s| s * s).sum::<f32>() / n as f32).sqrt()
    }

    #[test]
    fn volume_mute_and_speaking_indicator() {
        let mut normal = RemoteSpeaker::new(JitterConfig::default()).unwrap();
        let reference = rms(&run(&mut normal, 100)[50..]);
        assert!(reference > 0.1, "{reference}");
        assert!(normal.is_speaking());

        let mut loud = RemoteSpeaker::new(JitterConfig::default()).unwrap();
        loud.set_volume_percent(500); // clamped to 200 %
        let doubled = rms(&run(&mut loud, 100)[50..]);
        assert!((doubled / reference - 2.0).abs() < 0.05, "{doubled} vs {reference}");

        let mut muted = RemoteSpeaker::new(JitterConfig::default()).unwrap();
        muted.set_muted(true);
        assert_eq!(rms(&run(&mut muted, 100)), 0.0);
        // Muted locally, but still shown as speaking.
        assert!(muted.is_speaking());
        assert!(muted.level().rms_dbfs > -20.0);
    }

    #[test]
    fn packet_duration_change_mid_stream_plays_without_gaps() {
        let t0 = Instant::now();
        // Without redundancy: the buffer waits for copies as many packets deep as they
        // reach, so with them the wait changes with the packet duration too, and the
        // buffer adapts to it by a skip or an insertion, which this test would count.
        let mut enc = VoiceEncoder::new(EncoderConfig {
            dtx: false,
            redundancy: crate::voice::RedundancyMode::Off,
            ..Default::default()
        })
        .unwrap();
        let mut speaker = RemoteSpeaker::new(JitterConfig::default()).unwrap();
        let mut out = Vec::new();
        for i in 0..300 {
            if i == 100 {
                enc.set_frame_duration(crate::voice::OpusFrameDuration::Ms10);
            }
            if i == 200 {
                enc.set_frame_duration(crate::voice::OpusFrameDuration::Ms20);
            }
            let now = t0 + Duration::from_millis(10) * i as u32;
            if let Some(p) = enc.push_frame(&tone_frame(i, 0.3)).unwrap() {
                speaker.handle_packet(now, p);
            }
            let mut frame = [0.0; FRAME_SAMPLES];
            speaker.poll_frame(now, &mut frame);
            out.push(frame);
        }
        let stats = speaker.jitter_stats();
        assert_eq!((stats.lost, stats.late), (0, 0), "{stats:?}");
        // Going to 10 ms packets lowers the one-packet floor of the target delay, and the
        // buffer may skip one packet to shed the delay it no longer needs.
        assert!(stats.skipped <= 1, "{stats:?}");
        // After the start, every frame carries the tone: no silent or concealed holes.
        for (i, frame) in out.iter().enumerate().skip(5) {
            assert!(rms(std::slice::from_ref(frame)) > 0.1, "frame {i} is a gap: {stats:?}");
        }
    }

    #[test]
    fn garbage_packets_are_counted_not_played() {
        let mut speaker = RemoteSpeaker::new(JitterConfig::default()).unwrap();
        let now = Instant::now();
        for payload in [vec![], vec![0xff], vec![0xff; 3], vec![0x0b; 2000]] {
            speaker.handle_packet(now, EncodedPacket::new(1, 0, payload));
        }
        // Datagrams that are not our format, and a valid one whose copy is not Opus.
        for datagram in [&[][..], &[0x10, 0, 1], &[0xff; 40], &[0x13, 0, 1, 0, 0, 0, 0, 9]] {
            speaker.handle_datagram(now, datagram);
        }
        let mut with_bad_copy = EncodedPacket::new(2, 960, vec![0xff]);
        with_bad_copy.redundant =
            vec![crate::voice::RedundantFrame { sequence: 1, timestamp: 0, payload: vec![0xff] }];
        speaker.handle_datagram(now, &with_bad_copy.to_bytes());
        let mut frame = [1.0; FRAME_SAMPLES];
        speaker.poll_frame(now, &mut frame);
        assert!(frame.iter().all(|s| s.is_finite()));
        assert!(speaker.bad_packets().0 >= 7, "{:?}", speaker.bad_packets());
        assert!(!speaker.is_speaking());
    }
}
