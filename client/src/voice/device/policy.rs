//! Which buffer size to ask a device for, and when to give up on a small one.
//!
//! Small buffers are latency: at 10 ms a spoken word reaches the far end a frame after it
//! was said. But some devices refuse 10 ms, and on a loaded machine a 10 ms playback buffer
//! runs dry. So the policy starts at the target and climbs a ladder of larger buffers, one
//! step per refusal or per burst of underruns, ending with whatever the host picks itself.
//! It never climbs back down during a call: a device that underran once under load will do
//! it again, and a changing latency is worse for the echo canceller than a larger one.

use std::time::{Duration, Instant};

/// What to ask the device for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferRequest {
    /// A fixed period of this long (converted to frames at the device's rate).
    Fixed(Duration),
    /// Whatever the host chooses (cpal's `BufferSize::Default`): the last resort.
    HostDefault,
}

impl BufferRequest {
    /// The cpal buffer size at a device rate.
    pub fn to_cpal(self, sample_rate: u32) -> cpal::BufferSize {
        match self {
            Self::Fixed(period) => {
                let frames = u128::from(sample_rate) * period.as_micros() / 1_000_000;
                cpal::BufferSize::Fixed(u32::try_from(frames).unwrap_or(u32::MAX).max(1))
            }
            Self::HostDefault => cpal::BufferSize::Default,
        }
    }
}

/// Settings of the [`BufferPolicy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferPolicyConfig {
    /// Fixed periods to try, smallest first; [`BufferRequest::HostDefault`] follows them.
    pub ladder: Vec<Duration>,
    /// This many underruns (or overruns) within `window` move one step up the ladder.
    pub xruns_to_grow: u32,
    /// The window in which xruns are counted.
    pub window: Duration,
}

impl Default for BufferPolicyConfig {
    fn default() -> Self {
        Self {
            // 10 ms is one internal frame; each step doubles, up to 80 ms, beyond which a
            // conversation starts to feel like a walkie-talkie anyway.
            ladder: vec![
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(40),
                Duration::from_millis(80),
            ],
            // A single glitch is an accident (a page fault, a scheduler hiccup); three in two
            // seconds is a stutter anyone hears, and means the buffer is too small for this
            // machine as it is loaded now.
            xruns_to_grow: 3,
            window: Duration::from_secs(2),
        }
    }
}

/// The buffer fallback policy for one stream. Call [`handle_refused`](Self::handle_refused)
/// when building a stream with [`current`](Self::current) fails, and
/// [`handle_xrun`](Self::handle_xrun) for each underrun or overrun of a running stream;
/// when either returns a request, rebuild the stream with it.
#[derive(Debug, Clone)]
pub struct BufferPolicy {
    config: BufferPolicyConfig,
    /// Index into the ladder; `ladder.len()` means [`BufferRequest::HostDefault`].
    step: usize,
    window_start: Option<Instant>,
    xruns_in_window: u32,
}

impl BufferPolicy {
    /// A policy at the bottom of its ladder.
    pub fn new(config: BufferPolicyConfig) -> Self {
        Self { config, step: 0, window_start: None, xruns_in_window: 0 }
    }

    /// The buffer to ask for now.
    pub fn current(&self) -> BufferRequest {
        self.config
            .ladder
            .get(self.step)
            .map_or(BufferRequest::HostDefault, |&d| BufferRequest::Fixed(d))
    }

    /// The device refused [`current`](Self::current). Returns the next request to try, or
    /// `None` when even the host's own choice was refused.
    pub fn handle_refused(&mut self) -> Option<BufferRequest> {
        self.grow()
    }

    /// One underrun or overrun at `now`. Returns a larger request when there have been
    /// too many within the window, `None` while the current buffer is still acceptable.
    pub fn handle_xrun(&mut self, now: Instant) -> Option<BufferRequest> {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < self.config.window => {
                self.xruns_in_window += 1;
            }
            _ => {
                self.window_start = Some(now);
                self.xruns_in_window = 1;
            }
        }
        if self.xruns_in_window >= self.config.xruns_to_grow {
            // At the top there is nothing larger to ask for; keep the stream as it is.
            if self.step >= self.config.ladder.len() {
                return None;
            }
            return self.grow();
        }
        None
    }

    fn grow(&mut self) -> Option<BufferRequest> {
        if self.step >= self.config.ladder.len() {
            return None;
        }
        self.step += 1;
        self.window_start = None;
        self.xruns_in_window = 0;
        Some(self.current())
    }
}

impl Default for BufferPolicy {
    fn default() -> Self {
        Self::new(BufferPolicyConfig::default())
    }
}

/// Notices a device stream that moved less audio than the time that passed: the sign of
/// an xrun the host does not report. PulseAudio, for one, answers a late write by letting
/// the stream underrun on the server, and cpal never hears of it; the time is simply lost,
/// so the stream asks for (or delivers) less than real time.
///
/// Feed it every callback with [`handle_callback`](Self::handle_callback); it compares the
/// frames moved since an anchor with the frames the elapsed time calls for. The anchor
/// moves every few seconds so the drift between a sound card's clock and the system clock
/// (up to ~100 ppm) never adds up to a false alarm.
#[derive(Debug, Clone)]
pub struct PaceCheck {
    rate: u32,
    anchor: Option<Instant>,
    /// Frames moved since the anchor, including the anchor callback's.
    frames: u64,
    tolerance: Duration,
    reanchor_after: Duration,
    /// Callbacks still to ignore before anchoring.
    skip: u32,
}

impl PaceCheck {
    /// A check for a stream at `rate` frames per second. `tolerance` is the shortfall
    /// that counts as an xrun: more than the jitter of the host's scheduling, less than
    /// a gap a listener would notice.
    pub fn new(rate: u32, tolerance: Duration) -> Self {
        // The first callback comes when the stream is created, before it is started (cpal
        // creates PulseAudio streams corked); anchoring there would count the start-up
        // delay as lost time.
        Self {
            rate,
            anchor: None,
            frames: 0,
            tolerance,
            reanchor_after: Duration::from_secs(5),
            skip: 1,
        }
    }

    /// A callback at `now` that moved `frames` frames. Returns true when the stream has
    /// fallen behind real time by more than the tolerance since the anchor (then the
    /// anchor moves to now, so one gap counts once).
    pub fn handle_callback(&mut self, now: Instant, frames: usize) -> bool {
        let frames = frames as u64;
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        let Some(anchor) = self.anchor else {
            self.anchor = Some(now);
            self.frames = frames;
            return false;
        };
        self.frames += frames;
        let elapsed = now.saturating_duration_since(anchor);
        let expected = u64::try_from(elapsed.as_micros() * u128::from(self.rate) / 1_000_000)
            .unwrap_or(u64::MAX);
        let tolerance =
            u64::try_from(self.tolerance.as_micros() * u128::from(self.rate) / 1_000_000)
                .unwrap_or(u64::MAX);
        let behind = expected > self.frames.saturating_add(tolerance);
        if behind || elapsed >= self.reanchor_after {
            self.anchor = Some(now);
            self.frames = frames;
        }
        behind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn refusals_climb_the_ladder_to_the_host_default_then_give_up() {
        let mut p = BufferPolicy::default();
        assert_eq!(p.current(), BufferRequest::Fixed(10 * MS));
        assert_eq!(p.handle_refused(), Some(BufferRequest::Fixed(20 * MS)));
        assert_eq!(p.handle_refused(), Some(BufferRequest::Fixed(40 * MS)));
        assert_eq!(p.handle_refused(), Some(BufferRequest::Fixed(80 * MS)));
        assert_eq!(p.handle_refused(), Some(BufferRequest::HostDefault));
        assert_eq!(p.handle_refused(), None);
        assert_eq!(p.current(), BufferRequest::HostDefault);
    }

    #[test]
    fn a_burst_of_underruns_grows_the_buffer_but_scattered_ones_do_not() {
        let t0 = Instant::now();
        let mut p =
            BufferPolicy::new(BufferPolicyConfig { xruns_to_grow: 5, ..Default::default() });
        // One underrun every 500 ms: four per 2 s window at most, never five.
        for i in 0..20 {
            assert_eq!(p.handle_xrun(t0 + 500 * MS * i), None, "underrun {i}");
        }
        assert_eq!(p.current(), BufferRequest::Fixed(10 * MS));

        // Five within 40 ms: too small for this machine.
        let t1 = t0 + Duration::from_secs(60);
        for i in 0..4 {
            assert_eq!(p.handle_xrun(t1 + 10 * MS * i), None);
        }
        assert_eq!(p.handle_xrun(t1 + 40 * MS), Some(BufferRequest::Fixed(20 * MS)));
        // The count restarts after a step, so the new buffer gets its own chance.
        for i in 0..4 {
            assert_eq!(p.handle_xrun(t1 + 50 * MS + MS * i), None);
        }
    }

    #[test]
    fn at_the_top_underruns_change_nothing() {
        let t0 = Instant::now();
        let mut p = BufferPolicy::new(BufferPolicyConfig {
            ladder: vec![10 * MS],
            xruns_to_grow: 2,
            window: Duration::from_secs(1),
        });
        p.handle_xrun(t0);
        assert_eq!(p.handle_xrun(t0 + MS), Some(BufferRequest::HostDefault));
        for i in 0..10 {
            assert_eq!(p.handle_xrun(t0 + MS * (2 + i)), None);
        }
    }

    #[test]
    fn pace_check_counts_lost_time_once_and_ignores_jitter_and_drift() {
        let mut t = Instant::now();
        let mut pace = PaceCheck::new(48_000, 20 * MS);
        // Created at t, started 100 ms later: the wait before the start is not lost time.
        assert!(!pace.handle_callback(t, 960));
        t += 100 * MS;
        // 10 ms periods with 4 ms of scheduling jitter on every other one: on pace.
        for i in 0..500u32 {
            let jitter = if i % 2 == 0 { 4 * MS } else { Duration::ZERO };
            assert!(!pace.handle_callback(t + jitter, 480), "callback {i}");
            t += 10 * MS;
        }
        // A sound card 100 ppm slow for a minute: 6 ms behind in all, never an alarm.
        for i in 0..6000u32 {
            assert!(!pace.handle_callback(t, 480), "drift {i}");
            t += Duration::from_micros(10_001);
        }
        // The host skipped 50 ms: one alarm, then on pace again from there.
        t += 50 * MS;
        assert!(pace.handle_callback(t, 480));
        for i in 1..100u32 {
            assert!(!pace.handle_callback(t + 10 * MS * i, 480), "after the gap {i}");
        }
        t += Duration::from_secs(1);
        // A stream that moves only half of real time is behind again and again.
        let alarms = (0..200u32).filter(|&i| pace.handle_callback(t + 20 * MS * i, 480)).count();
        assert!(alarms >= 40, "{alarms}");
    }

    #[test]
    fn requests_convert_to_frames_at_the_device_rate() {
        assert_eq!(BufferRequest::Fixed(10 * MS).to_cpal(48_000), cpal::BufferSize::Fixed(480));
        assert_eq!(BufferRequest::Fixed(10 * MS).to_cpal(44_100), cpal::BufferSize::Fixed(441));
        assert_eq!(BufferRequest::HostDefault.to_cpal(48_000), cpal::BufferSize::Default);
    }
}
