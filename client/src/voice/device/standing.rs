//! Standing delay in the playback queue: frames that are always waiting, callback after
//! callback, add their 10 ms to everything the user hears and never drain by themselves
//! (engine and device run at the same pace). One builds up whenever the device starves
//! and the engine then delivers two frames at once; on a loaded machine that happens a
//! few times a minute, and before this every such frame stayed until four had piled up.
//!
//! The tracker watches the fewest frames left queued after each device callback over a
//! window. If even the emptiest moment of the window still held a frame, that frame is
//! standing: one is dropped, preferably a quiet one (a gap in silence is inaudible, a
//! missing 10 ms of a vowel clicks), and after [`QUIET_WAIT`] any one. Jitter the engine's
//! timer shows against the device's clock leaves the minimum at zero, so it is never cut.

use std::time::{Duration, Instant};

use crate::voice::Frame;

/// How long the queue must never run empty before a frame counts as standing: long enough
/// that a tick arriving a little late or early within it shows as an empty moment.
const WINDOW: Duration = Duration::from_millis(500);
/// How long a standing frame may wait for a quiet one to drop in its place.
const QUIET_WAIT: Duration = Duration::from_secs(2);
/// Peak below which a frame counts as quiet: −50 dBFS, under room noise after suppression.
const QUIET_PEAK: f32 = 0.003_16;

#[derive(Debug)]
pub(super) struct StandingDelay {
    window_start: Option<Instant>,
    /// Fewest frames left queued after a callback in the current window.
    fewest: usize,
    /// Since when a frame is known to be standing and waits to be dropped.
    pending: Option<Instant>,
}

impl StandingDelay {
    pub(super) fn new() -> Self {
        Self { window_start: None, fewest: usize::MAX, pending: None }
    }

    /// After a device callback took its fill, with `left` frames still queued.
    pub(super) fn handle_callback(&mut self, now: Instant, left: usize) {
        let start = *self.window_start.get_or_insert(now);
        self.fewest = self.fewest.min(left);
        if now.duration_since(start) < WINDOW {
            return;
        }
        if self.fewest >= 1 && self.pending.is_none() {
            self.pending = Some(now);
        }
        self.window_start = Some(now);
        self.fewest = usize::MAX;
    }

    /// Whether to drop `frame`, the next one about to be played, to take back a standing
    /// frame. Once true, the next window starts afresh.
    pub(super) fn drop_instead_of_playing(&mut self, now: Instant, frame: &Frame) -> bool {
        let Some(since) = self.pending else { return false };
        let quiet = frame.iter().all(|s| s.abs() < QUIET_PEAK);
        if !quiet && now.duration_since(since) < QUIET_WAIT {
            return false;
        }
        self.pending = None;
        self.window_start = Some(now);
        self.fewest = usize::MAX;
        true
    }

    /// Forgets what it saw: the queue was emptied or cut back some other way.
    pub(super) fn reset(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::FRAME_SAMPLES;

    const TICK: Duration = Duration::from_millis(10);

    #[test]
    fn a_frame_always_waiting_is_dropped_at_the_first_quiet_moment() {
        let mut s = StandingDelay::new();
        let t0 = Instant::now();
        let loud = [0.3; FRAME_SAMPLES];
        let quiet = [0.0005; FRAME_SAMPLES];
        let mut t = t0;
        for _ in 0..=50 {
            assert!(!s.drop_instead_of_playing(t, &loud));
            s.handle_callback(t, 1);
            t += TICK;
        }
        // Standing now: speech is still played whole...
        assert!(!s.drop_instead_of_playing(t, &loud));
        // ...and the first quiet frame goes.
        assert!(s.drop_instead_of_playing(t + TICK, &quiet));
        assert!(!s.drop_instead_of_playing(t + 2 * TICK, &quiet), "one frame, not more");
    }

    #[test]
    fn without_a_quiet_moment_a_standing_frame_still_goes_in_the_end() {
        let mut s = StandingDelay::new();
        let loud = [0.3; FRAME_SAMPLES];
        let mut t = Instant::now();
        for _ in 0..=50 {
            s.handle_callback(t, 2);
            t += TICK;
        }
        assert!(!s.drop_instead_of_playing(t, &loud));
        assert!(s.drop_instead_of_playing(t + QUIET_WAIT, &loud));
    }

    #[test]
    fn a_queue_that_empties_now_and_then_is_left_alone() {
        let mut s = StandingDelay::new();
        let quiet = [0.0; FRAME_SAMPLES];
        let mut t = Instant::now();
        // The engine's tick wobbles against the device: usually one frame left, sometimes
        // none. That is jitter the queue absorbs, not delay to cut.
        for i in 0..500 {
            s.handle_callback(t, usize::from(i % 7 != 0));
            assert!(!s.drop_instead_of_playing(t, &quiet));
            t += TICK;
        }
    }
}
