//! A simulated echo path for tests of the echo canceller: far-end speech played into a room
//! (a generated impulse response), picked up by the microphone after the device round trip,
//! mixed with the near-end talker and a microphone noise floor. Available to this crate's
//! tests and, with the `test-support` feature, to examples and other crates.
//!
//! The room is exponentially decaying noise, the usual statistical model of late
//! reverberation: its decay time (RT60, the time to fall by 60 dB) and the delay before it
//! are parameters, so tests cover rooms and machines the canceller was not tuned on.

use realfft::RealFftPlanner;

use super::netsim::SplitMix64;
use super::{EchoCanceller, FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// One echo path.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoPath {
    /// Time for the room's reverberation to decay by 60 dB.
    pub rt60_ms: u32,
    /// Device round trip: output buffer, air, input buffer.
    pub delay_ms: u32,
    /// From this frame on the round trip is `delay_after_jump_ms` (a device switch).
    pub jump: Option<(usize, u32)>,
    /// Whether the canceller is told of the jump ([`EchoCanceller::restart`]), as the app
    /// is when it switches devices.
    pub announced: bool,
    /// Seed of the room's impulse response.
    pub seed: u64,
}

/// The signals of one simulated run, sample-aligned, all of equal length.
#[derive(Debug, Clone, Default)]
pub struct EchoRun {
    /// What the speakers played.
    pub far: Vec<f32>,
    /// The echo alone, as it reached the microphone.
    pub echo: Vec<f32>,
    /// The near-end talker alone, as it reached the microphone.
    pub near: Vec<f32>,
    /// What the microphone captured: near + echo + noise.
    pub mic: Vec<f32>,
    /// The canceller's output, moved earlier by its latency to line up with the others.
    pub out: Vec<f32>,
}

/// A room impulse response: unit-energy decaying noise, `rt60_ms` to fall by 60 dB, cut
/// where it has.
pub fn room_impulse_response(rt60_ms: u32, seed: u64) -> Vec<f32> {
    let rate = SAMPLE_RATE as f32;
    let len = (rt60_ms as usize * SAMPLE_RATE as usize / 1000).max(1);
    // Amplitude falls by 60 dB (a factor 1000) over rt60.
    let decay = (1000f32).ln() / (rt60_ms.max(1) as f32 / 1000.0 * rate);
    let mut rng = SplitMix64::new(seed);
    let mut rir: Vec<f32> =
        (0..len).map(|n| rng.next_signed() * (-decay * n as f32).exp()).collect();
    let energy: f32 = rir.iter().map(|s| s * s).sum::<f32>().sqrt().max(f32::EPSILON);
    rir.iter_mut().for_each(|s| *s /= energy);
    rir
}

/// Linear convolution through one large FFT (a 400 ms response over ten seconds is ten
/// billion multiply-adds done directly).
pub fn convolve(signal: &[f32], response: &[f32]) -> Vec<f32> {
    let out_len = signal.len() + response.len() - 1;
    let n = out_len.next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum = |x: &[f32]| {
        let mut input = vec![0.0; n];
        input[..x.len()].copy_from_slice(x);
        let mut out = forward.make_output_vec();
        // Lengths come from the planner itself, so this cannot fail.
        forward.process(&mut input, &mut out).expect("fft lengths");
        out
    };
    let a = spectrum(signal);
    let b = spectrum(response);
    let mut product: Vec<_> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
    let mut out = inverse.make_output_vec();
    inverse.process(&mut product, &mut out).expect("fft lengths");
    out.truncate(out_len);
    let scale = 1.0 / n as f32;
    out.iter_mut().for_each(|s| *s *= scale);
    out
}

/// Root-mean-square level in dBFS over the samples louder than `floor_dbfs` per frame,
/// i.e. the level while someone talks.
pub fn active_level_dbfs(samples: &[f32], floor_dbfs: f64) -> f64 {
    let mut energy = 0.0;
    let mut count = 0usize;
    for frame in samples.chunks(FRAME_SAMPLES) {
        let e = frame.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / frame.len() as f64;
        if 10.0 * e.max(1e-20).log10() > floor_dbfs {
            energy += e * frame.len() as f64;
            count += frame.len();
        }
    }
    10.0 * (energy / count.max(1) as f64).max(1e-20).log10()
}

/// Runs `canceller` over a call: `far` is played, `near` talks, the echo arrives through
/// `path` at `echo_to_near_db` relative to the near talker's level (`near_level_dbfs` when
/// there is no near talker), over a noise floor at `noise_dbfs`.
pub fn run(
    canceller: &mut EchoCanceller,
    far: &[f32],
    near: &[f32],
    path: &EchoPath,
    echo_to_near_db: f64,
    noise_dbfs: f64,
) -> EchoRun {
    let frames = far.len().max(near.len()).div_ceil(FRAME_SAMPLES);
    let len = frames * FRAME_SAMPLES;
    let mut far = far.to_vec();
    far.resize(len, 0.0);
    let mut near = near.to_vec();
    near.resize(len, 0.0);

    let reverberant = convolve(&far, &room_impulse_response(path.rt60_ms, path.seed));
    let near_level = if near.iter().any(|s| *s != 0.0) {
        active_level_dbfs(&near, -50.0)
    } else {
        NOMINAL_TALKER_DBFS
    };
    let wanted = near_level + echo_to_near_db;
    let gain = 10f64.powf((wanted - active_level_dbfs(&reverberant, -60.0)) / 20.0) as f32;
    let delay_at = |frame: usize| match path.jump {
        Some((at, after)) if frame >= at => after,
        _ => path.delay_ms,
    } as usize
        * SAMPLE_RATE as usize
        / 1000;

    let mut rng = SplitMix64::new(path.seed ^ 0x006E_6F69_7365);
    let noise = 10f64.powf(noise_dbfs / 20.0) as f32 * 3f32.sqrt();
    let mut echo = vec![0.0; len];
    let mut mic = vec![0.0; len];
    let mut out = vec![0.0; len];
    for frame in 0..frames {
        let range = frame * FRAME_SAMPLES..(frame + 1) * FRAME_SAMPLES;
        let delay = delay_at(frame);
        if path.announced && path.jump.is_some_and(|(at, _)| at == frame) {
            canceller.restart();
        }
        for n in range.clone() {
            echo[n] = n.checked_sub(delay).map_or(0.0, |i| reverberant[i] * gain);
            mic[n] = near[n] + echo[n] + noise * rng.next_signed();
        }
        let mut played: Frame = [0.0; FRAME_SAMPLES];
        played.copy_from_slice(&far[range.clone()]);
        canceller.handle_far_end(&played);
        let mut captured: Frame = [0.0; FRAME_SAMPLES];
        captured.copy_from_slice(&mic[range.clone()]);
        canceller.process(&mut captured);
        out[range].copy_from_slice(&captured);
    }
    // Aligned with the microphone, so levels compare frame by frame.
    if canceller.is_enabled() {
        out.drain(..EchoCanceller::LATENCY_SAMPLES.min(out.len()));
        out.resize(len, 0.0);
    }
    EchoRun { far, echo, near, mic, out }
}

/// The level a talker is assumed at when a run has none: a typical headset speech level.
pub const NOMINAL_TALKER_DBFS: f64 = -26.0;

/// Echo return loss enhancement in dB over samples `from..to`: how much quieter the
/// canceller's output is than the microphone, counted only in frames where the echo is
/// audible (above -60 dBFS), in single talk.
pub fn erle_db(run: &EchoRun, from: usize, to: usize) -> f64 {
    let (mut mic, mut out) = (0.0f64, 0.0f64);
    let to = to.min(run.mic.len());
    for start in (from..to).step_by(FRAME_SAMPLES) {
        let end = (start + FRAME_SAMPLES).min(to);
        let echo: f64 = run.echo[start..end].iter().map(|s| f64::from(*s).powi(2)).sum();
        if 10.0 * (echo / (end - start) as f64).max(1e-20).log10() > -60.0 {
            mic += run.mic[start..end].iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
            out += run.out[start..end].iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
        }
    }
    10.0 * (mic.max(1e-20) / out.max(1e-20)).log10()
}

/// In double talk: for each frame where the near end talks (above `talk_dbfs`) from
/// `from` on, how far the output's level is below the near end's alone, in dB; the worst
/// frame comes first. A canceller that chops speech shows frames far below.
pub fn near_end_drops_db(run: &EchoRun, from: usize, talk_dbfs: f64) -> Vec<f64> {
    let level = |s: &[f32]| {
        10.0 * (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len() as f64)
            .max(1e-20)
            .log10()
    };
    let mut drops: Vec<f64> = (from..run.near.len())
        .step_by(FRAME_SAMPLES)
        .filter_map(|start| {
            let end = (start + FRAME_SAMPLES).min(run.near.len());
            let near = level(&run.near[start..end]);
            (near > talk_dbfs).then(|| near - level(&run.out[start..end]))
        })
        .collect();
    drops.sort_by(|a, b| b.total_cmp(a));
    drops
}
