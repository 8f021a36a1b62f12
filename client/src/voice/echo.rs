//! The echo-cancellation slot of the capture chain.
//!
//! Echo cancellation needs two signals: the microphone (near end) and what the speakers
//! played (far end, the mixer's output). The far end reaches this stage through
//! [`FarEndReference`] so that the canceller arriving in a later issue (WebRTC AEC3) drops
//! in without re-plumbing. Until then the stage passes the microphone through unchanged.

use std::collections::VecDeque;

use super::Frame;

/// How much far-end history is kept: room for the device round trip (output buffer,
/// acoustic path, input buffer), which rarely exceeds a few hundred milliseconds.
pub const FAR_END_HISTORY_FRAMES: usize = 50;

/// Recent frames sent to the speakers, oldest first, bounded to
/// [`FAR_END_HISTORY_FRAMES`] so a stalled capture side cannot grow it without end.
#[derive(Debug, Clone, Default)]
pub struct FarEndReference {
    frames: VecDeque<Frame>,
    total_pushed: u64,
}

impl FarEndReference {
    /// Records a frame that was handed to the output device.
    pub fn push(&mut self, frame: &Frame) {
        if self.frames.len() == FAR_END_HISTORY_FRAMES {
            self.frames.pop_front();
        }
        self.frames.push_back(*frame);
        self.total_pushed += 1;
    }

    /// The frame played `frames_ago` frames before the most recent one (0 = most recent).
    pub fn get(&self, frames_ago: usize) -> Option<&Frame> {
        let len = self.frames.len();
        if frames_ago >= len { None } else { self.frames.get(len - 1 - frames_ago) }
    }

    /// Frames pushed since creation, including those no longer kept.
    pub fn total_pushed(&self) -> u64 {
        self.total_pushed
    }
}

/// Echo canceller stage. Currently a pass-through that owns the far-end reference.
#[derive(Debug, Clone, Default)]
pub struct EchoCanceller {
    far_end: FarEndReference,
}

impl EchoCanceller {
    /// A pass-through canceller with empty far-end history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a frame that was handed to the output device.
    pub fn handle_far_end(&mut self, frame: &Frame) {
        self.far_end.push(frame);
    }

    /// The far-end history a real canceller would adapt against.
    pub fn far_end(&self) -> &FarEndReference {
        &self.far_end
    }

    /// Removes the echo of the far end from a microphone frame. No-op for now.
    pub fn process(&mut self, _near: &mut Frame) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::FRAME_SAMPLES;

    #[test]
    fn far_end_history_is_bounded_and_ordered() {
        let mut aec = EchoCanceller::new();
        for i in 0..(FAR_END_HISTORY_FRAMES + 10) {
            aec.handle_far_end(&[i as f32; FRAME_SAMPLES]);
        }
        let far = aec.far_end();
        assert_eq!(far.total_pushed(), (FAR_END_HISTORY_FRAMES + 10) as u64);
        assert_eq!(far.get(0).map(|f| f[0]), Some((FAR_END_HISTORY_FRAMES + 9) as f32));
        assert_eq!(far.get(FAR_END_HISTORY_FRAMES - 1).map(|f| f[0]), Some(10.0));
        assert!(far.get(FAR_END_HISTORY_FRAMES).is_none());

        let mut near = [0.25; FRAME_SAMPLES];
        aec.process(&mut near);
        assert_eq!(near, [0.25; FRAME_SAMPLES]);
    }
}
