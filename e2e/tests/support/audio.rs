//! Judging what came out of a call against what went in.
#![allow(dead_code, unreachable_pub)]

/// Median correlation of 0.5 s pieces of `reference` (skipping near-silent ones), each
/// aligned within ±60 ms of `lag`.
pub fn piecewise_correlation(reference: &[f32], output: &[f32], lag: usize) -> f64 {
    let piece = auraspeak_client::voice::SAMPLE_RATE as usize / 2;
    let slack = auraspeak_client::voice::SAMPLE_RATE as usize * 60 / 1000;
    let mut scores: Vec<f64> = reference
        .chunks_exact(piece)
        .enumerate()
        .filter(|(_, chunk)| auraspeak_client::voice::compare::energy_db(chunk) > -40.0)
        .map(|(i, chunk)| {
            let start = (i * piece + lag).saturating_sub(slack);
            let window =
                output.get(start..(start + piece + 2 * slack).min(output.len())).unwrap_or(&[]);
            auraspeak_client::voice::compare::Comparison::new(chunk, window, 2 * slack).correlation
        })
        .collect();
    scores.sort_by(f64::total_cmp);
    scores.get(scores.len() / 2).copied().unwrap_or(0.0)
}
