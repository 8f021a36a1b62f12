//! The echo canceller on simulated echo paths: rooms with 150–400 ms reverberation, device
//! round trips of 30–200 ms, echo from 6 dB louder to 6 dB quieter than the near talker,
//! in single talk, in double talk and across a device switch that moves the delay.
//!
//! The goals of issue 19 are 30 dB echo return loss enhancement (ERLE) in single talk
//! after 2 s, 25 dB again within 1 s of a delay jump, and in double talk no 10 ms frame of
//! the near talker more than 10 dB below itself. AEC3 (the `aec3` port, library defaults)
//! meets the first in most rooms up to 250 ms, not at 400 ms; it finds a new delay after
//! about 3.5 s, not 1 s, unless the app restarts it on the device change that moved the
//! delay (then within 1 s); and it ducks the near talker while the far end talks, also on a
//! headset in the first seconds of a call. The tests print every figure and assert what
//! holds today, so a regression fails; the goals stay open in the issue.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use auraspeak_client::voice::echosim::{self, EchoPath, EchoRun};
use auraspeak_client::voice::{EchoCanceller, FRAME_SAMPLES, Pacing, SAMPLE_RATE, WavSource};

fn fixture(name: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    WavSource::open(&path, Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap()
}

const RATE: usize = SAMPLE_RATE as usize;

/// About `seconds` of the two fixtures in turn, with short pauses, as one talker.
fn talk(seconds: usize, start_with_male: bool) -> Vec<f32> {
    let (male, female) = (fixture("speech-en-us-male.wav"), fixture("speech-en-gb-female.wav"));
    let mut out = Vec::new();
    let mut turn = start_with_male;
    while out.len() < seconds * RATE {
        out.extend(if turn { &male } else { &female });
        out.extend(std::iter::repeat_n(0.0, RATE / 5));
        turn = !turn;
    }
    out.truncate(seconds * RATE);
    out
}

/// Mic noise of a decent headset or laptop microphone.
const NOISE_DBFS: f64 = -70.0;

fn single_talk(path: &EchoPath, echo_db: f64) -> EchoRun {
    echosim::run(&mut EchoCanceller::new(true), &talk(10, false), &[], path, echo_db, NOISE_DBFS)
}

#[test]
fn single_talk_echo_is_removed_after_two_seconds() {
    let mut worst = f64::INFINITY;
    let mut all = Vec::new();
    let mut seed = 1;
    for rt60_ms in [150, 250, 400] {
        for delay_ms in [30, 90, 200] {
            for echo_db in [6.0, 0.0, -6.0] {
                seed += 1;
                let path = EchoPath { rt60_ms, delay_ms, jump: None, announced: false, seed };
                let run = single_talk(&path, echo_db);
                let erle = echosim::erle_db(&run, 2 * RATE, run.mic.len());
                println!(
                    "rt60 {rt60_ms} ms, delay {delay_ms} ms, echo {echo_db:+} dB: ERLE {erle:.1} dB"
                );
                worst = worst.min(erle);
                all.push(erle);
            }
        }
    }
    all.sort_by(f64::total_cmp);
    let median = all[all.len() / 2];
    println!("ERLE after 2 s: median {median:.1} dB, worst {worst:.1} dB");
    assert!(median >= 25.0, "median single-talk ERLE {median:.1} dB");
    assert!(worst >= 15.0, "worst single-talk ERLE {worst:.1} dB");
}

#[test]
fn echo_is_removed_again_after_a_delay_jump() {
    let jump_frame = 6 * RATE / FRAME_SAMPLES;
    let jumps = [(40, 150), (200, 60), (90, 110)];
    for (seed, (announced, (from_ms, to_ms))) in
        [false, true].into_iter().flat_map(|a| jumps.map(|j| (a, j))).enumerate()
    {
        let path = EchoPath {
            rt60_ms: 200,
            delay_ms: from_ms,
            jump: Some((jump_frame, to_ms)),
            announced,
            seed: 100 + seed as u64,
        };
        let mut far = talk(14, false);
        far.truncate(14 * RATE);
        let run = echosim::run(&mut EchoCanceller::new(true), &far, &[], &path, 0.0, NOISE_DBFS);
        let start = jump_frame * FRAME_SAMPLES;
        let before = echosim::erle_db(&run, 2 * RATE, start);
        let after_1s = echosim::erle_db(&run, start + RATE, start + 2 * RATE);
        let after_4s = echosim::erle_db(&run, start + 4 * RATE, run.mic.len());
        println!(
            "delay {from_ms} → {to_ms} ms{}: ERLE {before:.1} dB before, {after_1s:.1} dB 1–2 s \
             after, {after_4s:.1} dB from 4 s after",
            if announced { ", canceller restarted" } else { "" }
        );
        assert!(before >= 20.0, "delay {from_ms} ms: ERLE {before:.1} dB before the jump");
        // A jump the app knows of (a device switch) is cancelled again within a second,
        // the goal; one it does not know of only once AEC3 has found the new delay.
        if announced {
            assert!(after_1s >= 25.0, "restarted: ERLE {after_1s:.1} dB 1–2 s after the jump");
        }
        assert!(
            after_4s >= 25.0,
            "delay {from_ms} → {to_ms} ms: ERLE {after_4s:.1} dB after the jump"
        );
    }
}

#[test]
fn double_talk_lets_the_near_talker_through() {
    for (seed, (rt60_ms, delay_ms, echo_db)) in
        [(250, 90, 0.0), (400, 200, 6.0), (150, 30, -6.0)].into_iter().enumerate()
    {
        let path =
            EchoPath { rt60_ms, delay_ms, jump: None, announced: false, seed: 200 + seed as u64 };
        let far = talk(10, false);
        // The near talker starts after 3 s of far-end speech (the canceller has converged)
        // and talks over it from then on.
        let mut near = vec![0.0; 3 * RATE];
        near.extend(talk(7, true));
        let on =
            echosim::run(&mut EchoCanceller::new(true), &far, &near, &path, echo_db, NOISE_DBFS);
        let drops = echosim::near_end_drops_db(&on, 3 * RATE, -40.0);
        let worst = drops.first().copied().unwrap_or(0.0);
        let chopped = drops.iter().filter(|d| **d > 10.0).count();
        // How much echo is left next to the near talker: the output minus the near talker,
        // against the echo the microphone had.
        let residual: Vec<f32> = on.out.iter().zip(&on.near).map(|(o, n)| o - n).collect();
        let echo_level = echosim::active_level_dbfs(&on.echo[3 * RATE..], -60.0);
        let residual_level = echosim::active_level_dbfs(&residual[3 * RATE..], -90.0);
        println!(
            "rt60 {rt60_ms} ms, delay {delay_ms} ms, echo {echo_db:+} dB: {} near-end frames, {chopped} more than 10 dB down, worst {worst:.1} dB, \
             echo {echo_level:.1} dBFS → echo and distortion {residual_level:.1} dBFS",
            drops.len()
        );
        assert!(drops.len() > 200, "the near talker talks in {} frames", drops.len());
        // Today's floor, far from the goal (no frame): every frame ducked would be a canceller
        // that has turned into a half-duplex switch.
        assert!(
            chopped * 100 <= drops.len() * 85,
            "{chopped} of {} near-end frames ducked",
            drops.len()
        );
        // Where the echo is as loud as the talker or louder, less of it is left; where it is
        // quieter, the ducking costs more than the echo did (see the module docs).
        if echo_db >= 0.0 {
            assert!(
                residual_level < echo_level - 2.0,
                "echo {echo_level:.1} dBFS, left {residual_level:.1} dBFS"
            );
        }
    }
}

#[test]
fn without_echo_the_canceller_leaves_the_microphone_alone() {
    // A headset: the far end plays, none of it reaches the microphone. AEC3 assumes an echo
    // until it has seen none for a while, so the first 20 s of double talk are not judged.
    let path = EchoPath { rt60_ms: 250, delay_ms: 90, jump: None, announced: false, seed: 300 };
    let far = talk(40, false);
    let near = talk(40, true);
    let run = echosim::run(&mut EchoCanceller::new(true), &far, &near, &path, -200.0, NOISE_DBFS);
    let early = echosim::near_end_drops_db(&run, 0, -40.0);
    let late = echosim::near_end_drops_db(&run, 20 * RATE, -40.0);
    let ducked = |drops: &[f64]| drops.iter().filter(|d| **d > 3.0).count();
    println!(
        "headset: {} of {} near-end frames ducked by more than 3 dB over 40 s, {} of {} after 20 s",
        ducked(&early),
        early.len(),
        ducked(&late),
        late.len()
    );
    assert!(
        ducked(&late) * 10 <= late.len(),
        "{} of {} frames ducked after 20 s",
        ducked(&late),
        late.len()
    );
}
