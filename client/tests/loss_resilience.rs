//! Speech through a lossy simulated call, with and without redundancy: the receiver's loss
//! reports size the sender's redundancy, the jitter buffer plays the copies, and the result
//! is both counted (losses recovered bit-exactly, fewer left to concealment) and heard
//! (closer to the input than with in-band FEC and concealment alone).

// Helpers outside #[test] functions are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use auraspeak_client::voice::compare::{Comparison, energy_db};
use auraspeak_client::voice::netsim::NetworkConfig;
use auraspeak_client::voice::simcall::{CallConfig, CallRun, run_call};
use auraspeak_client::voice::{
    CaptureConfig, EncoderConfig, JitterStats, Pacing, RedundancyMode, WavSource,
};

fn fixture(name: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    WavSource::open(&path, Pacing::AsFastAsPossible).unwrap().read_to_end().unwrap()
}

fn call(input: &[f32], network: NetworkConfig, redundancy: RedundancyMode) -> CallRun {
    let config = CallConfig {
        capture: CaptureConfig {
            encoder: EncoderConfig { redundancy, ..Default::default() },
            ..Default::default()
        },
        network,
        seed: 21,
        ..Default::default()
    };
    run_call(input, &config).unwrap()
}

/// Correlation segment by segment (each 250 ms of input with its own best lag), averaged
/// over the segments that hold speech. The jitter buffer changes its delay during a call
/// (it waits longer once copies are coming), which a single global alignment would count
/// as damage although a listener hears no difference.
fn segmental_correlation(input: &[f32], output: &[f32]) -> f64 {
    const SEGMENT: usize = 12_000;
    const MAX_LAG: usize = 9_600;
    let mut sum = 0.0;
    let mut count = 0;
    for start in (0..input.len().saturating_sub(SEGMENT)).step_by(SEGMENT) {
        let reference = &input[start..start + SEGMENT];
        if energy_db(reference) < -40.0 {
            continue;
        }
        let end = (start + SEGMENT + MAX_LAG).min(output.len());
        let c = Comparison::new(reference, &output[start.min(end)..end], MAX_LAG);
        sum += c.correlation;
        count += 1;
    }
    sum / f64::from(count.max(1))
}

#[test]
fn redundancy_recovers_losses_that_fec_leaves_to_concealment() {
    // Both fixtures twice (11 s), so there are enough packets for the loss rates to mean
    // something.
    let mut input = fixture("speech-en-gb-female.wav");
    input.extend(fixture("speech-en-us-male.wav"));
    input.extend_from_within(..);
    let random =
        |loss| NetworkConfig { loss, jitter: Duration::from_millis(5), ..Default::default() };
    // Gilbert–Elliott: 10 % of packets lost, in bursts of two on average.
    let bursty = NetworkConfig { burst_start: 0.0556, burst_end: 0.5, ..Default::default() };
    for (name, network) in
        [("random 10 %", random(0.10)), ("random 20 %", random(0.20)), ("bursty 10 %", bursty)]
    {
        let without = call(&input, network.clone(), RedundancyMode::Off);
        let with = call(&input, network, RedundancyMode::Auto);
        let (sw, sr) = (
            segmental_correlation(&input, &without.output),
            segmental_correlation(&input, &with.output),
        );
        println!("{name} without: segmental correlation {sw:.3}, {:?}", without.jitter);
        println!("{name} with: segmental correlation {sr:.3}, {:?}", with.jitter);
        println!("{name}: {:.0} kb/s without, {:.0} kb/s with", without.kbps(), with.kbps());

        assert_eq!(without.jitter.recovered_redundant, 0);
        assert_eq!(without.max_redundancy_depth, 0);
        // The reports switched copies on and kept them coming: one at 6-14 % (so 10 % loss
        // stays under twice the clean bitrate), two where losses of two in a row are common.
        assert!(with.last_reported_loss >= 6, "{name}: {}", with.last_reported_loss);
        let depth = auraspeak_shared::red::copies_for_loss(with.last_reported_loss);
        assert!(with.max_redundancy_depth >= depth, "{name}: {}", with.max_redundancy_depth);
        if name == "random 20 %" {
            assert_eq!(with.max_redundancy_depth, 2, "{name}");
        }
        // Most losses came back bit-exactly, and fewer were left to concealment.
        let unrecovered = |j: &JitterStats| j.lost - j.recovered_fec - j.recovered_redundant;
        let j = &with.jitter;
        // (Losses in the first second, before the first report, only have FEC.)
        assert!(j.recovered_redundant * 10 >= j.lost * 6, "{name}: {j:?}");
        assert!((j.recovered_redundant + j.recovered_fec) * 10 >= j.lost * 8, "{name}: {j:?}");
        // One copy recovers what FEC recovers (both ride in the next packet), at full
        // quality instead of FEC's lower bitrate; two copies also bridge pairs of losses.
        if with.max_redundancy_depth >= 2 {
            assert!(unrecovered(j) < unrecovered(&without.jitter), "{name}: {j:?}");
        } else {
            assert!(unrecovered(j) <= unrecovered(&without.jitter), "{name}: {j:?}");
        }
        // And it sounds closer to the input.
        assert!(sr > sw, "{name}: {sr:.3} vs {sw:.3}");
    }
}

#[test]
fn clean_network_sheds_redundancy() {
    let input = fixture("speech-en-us-male.wav");
    let network = NetworkConfig::default();
    let run = call(&input, network, RedundancyMode::Auto);
    let off = call(&input, NetworkConfig::default(), RedundancyMode::Off);
    println!("clean: {:.1} kb/s with Auto, {:.1} kb/s Off", run.kbps(), off.kbps());
    assert_eq!(run.last_reported_loss, 0);
    assert_eq!(run.jitter.lost, 0);
    // A call starts without copies, and on a clean link never adds any.
    assert_eq!(run.max_redundancy_depth, 0);
    assert!(run.kbps() < off.kbps() * 1.05, "{} vs {}", run.kbps(), off.kbps());
    assert!(Comparison::new(&input, &run.output, 9600).sounds_alike());
}
