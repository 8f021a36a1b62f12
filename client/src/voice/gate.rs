//! The transmit gate: decides, frame by frame, whether the microphone is sent.
//!
//! A pure state machine with time as input, so it is tested in simulated time. The driver
//! calls [`TransmitGate::handle_push_to_talk`] when the push-to-talk key changes (from the
//! global shortcut, any thread, forwarded in order) and [`TransmitGate::handle_frame`] once
//! per captured frame; it then drains [`TransmitGate::poll_event`] for the UI and the
//! encoder (an `Closed` event ends a talk spurt).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::meter::Level;

/// Voice-activity settings. Two thresholds each for probability and level give hysteresis:
/// opening needs clear evidence, staying open needs less, so a talker is not chopped at the
/// soft ends of words.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Suppressor voice probability needed to open.
    pub open_probability: f32,
    /// Voice probability below which the hangover starts.
    pub close_probability: f32,
    /// RMS level needed to open; keeps distant voices (a TV, a room mate) out.
    pub open_level_dbfs: f32,
    /// RMS level below which the hangover starts.
    pub close_level_dbfs: f32,
    /// How long the gate stays open after the last voiced frame. ~200 ms bridges the pauses
    /// between words without sending much room noise after the last one.
    pub hangover: Duration,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            open_probability: 0.6,
            close_probability: 0.3,
            open_level_dbfs: -50.0,
            close_level_dbfs: -56.0,
            hangover: Duration::from_millis(200),
        }
    }
}

/// How the gate decides.
#[derive(Debug, Clone, PartialEq)]
pub enum GateMode {
    /// Open while voice is detected, plus the hangover.
    VoiceActivity(VadConfig),
    /// Open while the key is held, plus `release_tail` after release, so the last syllable
    /// is not cut by releasing the key a little early.
    PushToTalk { release_tail: Duration },
    /// Always open (continuous transmission).
    Continuous,
}

impl Default for GateMode {
    fn default() -> Self {
        GateMode::VoiceActivity(VadConfig::default())
    }
}

/// Changes of the gate's state, for the UI ("you are transmitting") and the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateEvent {
    /// The gate opened: a talk spurt starts.
    Opened,
    /// The gate closed: the talk spurt ended.
    Closed,
}

/// The transmit gate state machine. See the module docs for the call order.
#[derive(Debug, Clone)]
pub struct TransmitGate {
    mode: GateMode,
    open: bool,
    last_voice: Option<Instant>,
    ptt_pressed: bool,
    ptt_released_at: Option<Instant>,
    events: VecDeque<GateEvent>,
}

impl TransmitGate {
    /// A closed gate in the given mode.
    pub fn new(mode: GateMode) -> Self {
        Self {
            mode,
            open: false,
            last_voice: None,
            ptt_pressed: false,
            ptt_released_at: None,
            events: VecDeque::new(),
        }
    }

    /// Switches mode. The gate closes and decides afresh from the next input.
    pub fn set_mode(&mut self, mode: GateMode) {
        self.mode = mode;
        self.last_voice = None;
        self.ptt_released_at = None;
        self.set_open(false);
    }

    /// The current mode.
    pub fn mode(&self) -> &GateMode {
        &self.mode
    }

    /// Whether frames are being transmitted.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The push-to-talk key was pressed (`true`) or released (`false`) at `now`. Repeated
    /// presses (key auto-repeat) are harmless. Ignored outside push-to-talk mode.
    pub fn handle_push_to_talk(&mut self, now: Instant, pressed: bool) {
        if pressed == self.ptt_pressed {
            return;
        }
        self.ptt_pressed = pressed;
        if !matches!(self.mode, GateMode::PushToTalk { .. }) {
            return;
        }
        if pressed {
            self.ptt_released_at = None;
            self.set_open(true);
        } else {
            self.ptt_released_at = Some(now);
        }
    }

    /// Feeds the analysis of one captured frame taken at `now` and returns whether that
    /// frame is to be transmitted.
    pub fn handle_frame(&mut self, now: Instant, voice_probability: f32, level: Level) -> bool {
        match &self.mode {
            GateMode::Continuous => self.set_open(true),
            GateMode::PushToTalk { release_tail } => {
                if let Some(released) = self.ptt_released_at {
                    if now.saturating_duration_since(released) >= *release_tail {
                        self.ptt_released_at = None;
                        self.set_open(false);
                    }
                } else if self.ptt_pressed {
                    self.set_open(true);
                }
            }
            GateMode::VoiceActivity(vad) => {
                let voiced = if self.open {
                    voice_probability >= vad.close_probability
                        && level.rms_dbfs >= vad.close_level_dbfs
                } else {
                    voice_probability >= vad.open_probability
                        && level.rms_dbfs >= vad.open_level_dbfs
                };
                if voiced {
                    self.last_voice = Some(now);
                    self.set_open(true);
                } else if self.open {
                    let hangover = vad.hangover;
                    let expired = self
                        .last_voice
                        .is_none_or(|t| now.saturating_duration_since(t) >= hangover);
                    if expired {
                        self.set_open(false);
                    }
                }
            }
        }
        self.open
    }

    /// The next state change, oldest first; `None` when all have been taken.
    pub fn poll_event(&mut self) -> Option<GateEvent> {
        self.events.pop_front()
    }

    fn set_open(&mut self, open: bool) {
        if open != self.open {
            self.open = open;
            // Bounded: events are only created on transitions, and a driver that never polls
            // should not grow memory for a day-long call.
            if self.events.len() >= 64 {
                self.events.pop_front();
            }
            self.events.push_back(if open { GateEvent::Opened } else { GateEvent::Closed });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(10);

    fn loud() -> Level {
        Level { rms_dbfs: -25.0, peak_dbfs: -10.0 }
    }

    fn quiet() -> Level {
        Level { rms_dbfs: -70.0, peak_dbfs: -60.0 }
    }

    /// Runs frames of (probability, level) from `t0`, returning which were transmitted.
    fn run(gate: &mut TransmitGate, t0: Instant, frames: &[(f32, Level)]) -> Vec<bool> {
        frames
            .iter()
            .enumerate()
            .map(|(i, (p, l))| gate.handle_frame(t0 + FRAME * i as u32, *p, *l))
            .collect()
    }

    #[test]
    fn vad_opens_on_voice_and_closes_after_hangover() {
        let t0 = Instant::now();
        let mut gate = TransmitGate::new(GateMode::default());
        let mut frames = vec![(0.1, quiet()); 10];
        frames.extend(vec![(0.9, loud()); 30]);
        frames.extend(vec![(0.05, quiet()); 40]);
        let sent = run(&mut gate, t0, &frames);
        assert!(sent[..10].iter().all(|s| !s));
        assert!(sent[10..40].iter().all(|s| *s));
        // Last voiced frame at index 39; 200 ms hangover keeps frames 40..59 open.
        assert!(sent[40..59].iter().all(|s| *s), "{:?}", &sent[40..60]);
        assert!(sent[59..].iter().all(|s| !s));
        assert_eq!(gate.poll_event(), Some(GateEvent::Opened));
        assert_eq!(gate.poll_event(), Some(GateEvent::Closed));
        assert_eq!(gate.poll_event(), None);
    }

    #[test]
    fn vad_hysteresis_and_level_condition() {
        let t0 = Instant::now();
        let mut gate = TransmitGate::new(GateMode::default());
        // Probable voice but far too quiet (a distant TV): stays closed.
        assert!(!run(&mut gate, t0, &[(0.95, quiet()); 20]).iter().any(|s| *s));
        // Middling probability cannot open the gate...
        assert!(!run(&mut gate, t0, &[(0.45, loud()); 20]).iter().any(|s| *s));
        // ...but keeps it open once open, with no hangover expiring over 2 s.
        gate.handle_frame(t0, 0.9, loud());
        let mut frames = vec![(0.45, loud()); 200];
        frames[0] = (0.9, loud());
        assert!(run(&mut gate, t0, &frames).iter().all(|s| *s));
    }

    #[test]
    fn push_to_talk_with_release_tail() {
        let t0 = Instant::now();
        let tail = Duration::from_millis(100);
        let mut gate = TransmitGate::new(GateMode::PushToTalk { release_tail: tail });
        // Voice alone never opens push-to-talk.
        assert!(!gate.handle_frame(t0, 1.0, loud()));
        gate.handle_push_to_talk(t0 + FRAME, true);
        assert!(gate.is_open());
        gate.handle_push_to_talk(t0 + FRAME * 2, true); // auto-repeat
        assert!(gate.handle_frame(t0 + FRAME * 2, 0.0, quiet()));
        gate.handle_push_to_talk(t0 + FRAME * 3, false);
        // Open through the tail: frames at 30..120 ms (release + 0..90 ms)...
        for i in 3..13 {
            assert!(gate.handle_frame(t0 + FRAME * i, 0.0, quiet()), "frame {i}");
        }
        // ...closed from release + 100 ms.
        assert!(!gate.handle_frame(t0 + FRAME * 13, 0.0, quiet()));
        // A press during the tail cancels the close.
        gate.handle_push_to_talk(t0 + FRAME * 20, true);
        gate.handle_push_to_talk(t0 + FRAME * 21, false);
        gate.handle_push_to_talk(t0 + FRAME * 25, true);
        assert!(gate.handle_frame(t0 + FRAME * 40, 0.0, quiet()));
        let events: Vec<_> = std::iter::from_fn(|| gate.poll_event()).collect();
        assert_eq!(events, [GateEvent::Opened, GateEvent::Closed, GateEvent::Opened]);
    }

    #[test]
    fn mode_switch_closes_and_continuous_is_open() {
        let t0 = Instant::now();
        let mut gate = TransmitGate::new(GateMode::Continuous);
        assert!(gate.handle_frame(t0, 0.0, Level::SILENT));
        gate.set_mode(GateMode::PushToTalk { release_tail: Duration::ZERO });
        assert!(!gate.is_open());
        assert!(!gate.handle_frame(t0 + FRAME, 0.0, Level::SILENT));
    }
}
