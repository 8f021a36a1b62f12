//! Tests of the redundancy format and policy, and of the jitter buffer using copies, in
//! simulated time over the seeded network emulator.

use std::time::{Duration, Instant};

use super::*;
use crate::voice::codec::{EncoderConfig, VoiceEncoder};
use crate::voice::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::voice::netsim::{NetworkConfig, NetworkEmulator, SplitMix64};
use crate::voice::packet::{EncodedPacket, RedundantFrame};
use crate::voice::{FRAME_SAMPLES, Frame};

fn packet_with_copies() -> EncodedPacket {
    let mut p = EncodedPacket::new(7, 100_000, vec![9; 80]);
    p.redundant = vec![
        RedundantFrame { sequence: 5, timestamp: 98_080, payload: vec![5; 60] },
        RedundantFrame { sequence: 6, timestamp: 99_040, payload: vec![6; 70] },
    ];
    p
}

#[test]
fn datagram_round_trips_and_wraps() {
    let p = packet_with_copies();
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), 7 + 2 * 5 + 60 + 70 + 80);
    assert_eq!(EncodedPacket::from_bytes(&bytes).unwrap(), p);

    let mut wrapped = EncodedPacket::new(1, 500, vec![1, 2]);
    wrapped.redundant =
        vec![RedundantFrame { sequence: 65_535, timestamp: u32::MAX - 459, payload: vec![3] }];
    assert_eq!(EncodedPacket::from_bytes(&wrapped.to_bytes()).unwrap(), wrapped);

    let plain = EncodedPacket::new(0, 0, vec![0xfc]);
    assert_eq!(plain.to_bytes().len(), 8);
    assert_eq!(EncodedPacket::from_bytes(&plain.to_bytes()).unwrap(), plain);
}

#[test]
fn inexpressible_copies_are_left_out() {
    let mut p = EncodedPacket::new(10, 100_000, vec![1]);
    p.redundant = vec![
        // From the future, the same packet, too old for the offset fields, empty.
        RedundantFrame { sequence: 11, timestamp: 100_960, payload: vec![1] },
        RedundantFrame { sequence: 10, timestamp: 100_000, payload: vec![1] },
        RedundantFrame { sequence: 9, timestamp: 10, payload: vec![1] },
        RedundantFrame { sequence: 8, timestamp: 98_080, payload: vec![] },
        RedundantFrame { sequence: 9, timestamp: 99_040, payload: vec![4] },
    ];
    let back = EncodedPacket::from_bytes(&p.to_bytes()).unwrap();
    assert_eq!(back.redundant.len(), 1);
    assert_eq!(back.redundant[0].sequence, 9);
}

#[test]
fn garbage_datagrams_are_errors_not_panics() {
    let good = packet_with_copies().to_bytes();
    for cut in 0..good.len() {
        // Every truncation either fails or parses to something smaller and bounded.
        if let Ok(p) = EncodedPacket::from_bytes(&good[..cut]) {
            assert!(p.payload.len() < 80);
        }
    }
    let mut rng = SplitMix64::new(11);
    for _ in 0..20_000 {
        let len = (rng.next_u64() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if let Some(first) = bytes.first_mut() {
            // Keep the version valid half the time, so parsing gets past the first byte.
            if rng.chance(0.5) {
                *first = 0x10 | (*first & 0x0f);
            }
        }
        if let Ok(p) = EncodedPacket::from_bytes(&bytes) {
            assert!(p.redundant.len() <= 3);
            assert!(!p.payload.is_empty() && p.payload.len() <= 1275);
        }
    }
    for bad in [&[][..], &[0x10; 6], &[0x20, 0, 0, 0, 0, 0, 0, 1], &[0x14, 0, 0, 0, 0, 0, 0, 1]] {
        assert!(EncodedPacket::from_bytes(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn depth_follows_reported_loss() {
    assert_eq!(
        [0, 1, 5, 6, 10, 14, 15, 20, 100].map(depth_for_loss),
        [0, 0, 0, 1, 1, 1, MAX_REDUNDANCY, MAX_REDUNDANCY, MAX_REDUNDANCY]
    );
    assert_eq!(RedundancyMode::Off.depth(50), 0);
    assert_eq!(RedundancyMode::Fixed(9).depth(0), MAX_REDUNDANCY);

    let tone = |i: usize| -> Frame {
        std::array::from_fn(|n| {
            let t = (i * FRAME_SAMPLES + n) as f32 / 48_000.0;
            0.3 * (2.0 * std::f32::consts::PI * 250.0 * t).sin()
        })
    };
    let mut enc = VoiceEncoder::new(EncoderConfig {
        dtx: false,
        expected_loss_percent: 0,
        ..Default::default()
    })
    .unwrap();
    let mut packets = Vec::new();
    for i in 0..40 {
        match i {
            10 => enc.set_expected_loss(7).unwrap(),
            20 => enc.set_expected_loss(15).unwrap(),
            _ => {}
        }
        if let Some(p) = enc.push_frame(&tone(i)).unwrap() {
            packets.push(p);
        }
    }
    let depths: Vec<usize> = packets.iter().map(|p| p.redundant.len()).collect();
    assert_eq!(depths, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    // Copies are the earlier packets, unchanged.
    let last = &packets[19];
    assert_eq!(last.redundant[0].payload, packets[17].payload);
    assert_eq!(last.redundant[1].payload, packets[18].payload);
    assert_eq!(last.redundant[1].timestamp, packets[18].timestamp);

    // After a pause, old packets are not carried into the new talk spurt.
    for _ in 0..30 {
        enc.skip_frame().unwrap();
    }
    let p = enc.push_frame(&tone(0)).unwrap().or(enc.push_frame(&tone(1)).unwrap()).unwrap();
    assert!(p.redundant.is_empty());
}

#[test]
fn loss_estimate_rises_fast_and_decays_slowly() {
    let mut est = LossEstimator::new();
    let stats = |received, lost| JitterStats { received, lost, ..Default::default() };
    assert_eq!(est.handle_stats(&stats(50, 0)), 0);
    assert_eq!(est.handle_stats(&stats(90, 10)), 20);
    // Silence: no packets, no change.
    assert_eq!(est.handle_stats(&stats(90, 10)), 20);
    let after_clean = est.handle_stats(&stats(140, 10));
    assert!((10..20).contains(&after_clean), "{after_clean}");
    for k in 0..30 {
        est.handle_stats(&stats(190 + 50 * k, 10));
    }
    assert_eq!(est.loss_percent(), 0);
}

/// What one simulated stream through a jitter buffer came to.
#[derive(Debug, Default)]
struct Outcome {
    played: Vec<u16>,
    redundant: u64,
    fec: u64,
    concealed: u64,
    lost: u64,
    dropped: u64,
}

/// 20 s of 20 ms packets whose payload names their sequence number, carrying `depth`
/// earlier packets, through `network` into a jitter buffer polled every 10 ms.
fn stream(network: NetworkConfig, depth: usize, seed: u64) -> Outcome {
    let t0 = Instant::now();
    let mut net: NetworkEmulator<EncodedPacket> = NetworkEmulator::new(network, seed);
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut history = RedundancyHistory::default();
    let mut out = Outcome::default();
    let mut buffered = 0usize;
    for tick in 0u32..2_100 {
        let now = t0 + Duration::from_millis(10) * tick;
        if tick % 2 == 0 && tick < 2_000 {
            let seq = (tick / 2) as u16;
            let mut p = EncodedPacket::new(seq, u32::from(seq) * 960, seq.to_be_bytes().to_vec());
            history.attach(&mut p, depth);
            net.send(now, p);
        }
        while let Some((at, mut p)) = net.poll_delivery(now) {
            let (copies, carrier) = (std::mem::take(&mut p.redundant), p.sequence);
            jb.handle_packet(at, p, 960);
            for c in copies {
                jb.handle_redundant(at, carrier, c, 960);
            }
        }
        while buffered < 480 {
            match jb.poll_playout(now) {
                Playout::Packet { sequence, payload, samples } => {
                    // A copy plays exactly the original's bytes.
                    assert_eq!(payload, sequence.to_be_bytes());
                    out.played.push(sequence);
                    buffered += samples;
                }
                Playout::Fec { sequence, samples, .. } => {
                    out.played.push(sequence);
                    buffered += samples;
                }
                Playout::Conceal { samples } => buffered += samples,
                Playout::Silence => buffered += 480,
            }
        }
        buffered -= 480;
    }
    let s = jb.stats();
    (out.redundant, out.fec, out.concealed, out.lost) =
        (s.recovered_redundant, s.recovered_fec, s.concealed, s.lost);
    out.dropped = net.stats().dropped;
    out
}

#[test]
fn jitter_buffer_prefers_copies_then_fec_then_concealment() {
    let random =
        NetworkConfig { loss: 0.2, jitter: Duration::from_millis(10), ..Default::default() };
    // Gilbert–Elliott: 10 % of packets lost, in bursts of two on average.
    let bursty = NetworkConfig { burst_start: 0.0556, burst_end: 0.5, ..Default::default() };
    // (name, network, share of losses two copies must recover, share of packets played)
    for (name, network, recovered, played) in
        [("random 20 %", random, 0.95, 0.99), ("bursty 10 %", bursty, 0.65, 0.96)]
    {
        let without = stream(network.clone(), 0, 4);
        let one = stream(network.clone(), 1, 4);
        let two = stream(network, 2, 4);
        for (depth, o) in [(0, &without), (1, &one), (2, &two)] {
            let counts = (o.dropped, o.lost, o.redundant, o.fec, o.concealed);
            println!("{name}, depth {depth}: (dropped, lost, copy, fec, concealed) {counts:?}");
            // No packet plays twice and none plays out of order.
            assert!(o.played.windows(2).all(|w| w[0] < w[1]), "{name} depth {depth}");
            // Every network loss was seen as a loss (the same seed drops the same packets).
            assert!(o.lost + 2 >= o.dropped, "{name} depth {depth}: {counts:?}");
        }
        assert_eq!(without.redundant, 0);
        // One copy stands in, bit-exact, wherever FEC alone had to use its coarse copy.
        assert!(one.redundant >= without.fec, "{name}: {one:?}");
        assert!(one.concealed <= without.concealed, "{name}: {one:?} vs {without:?}");
        // Two copies also bridge losses of two in a row, which FEC cannot.
        assert!(two.concealed < without.concealed, "{name}: {two:?} vs {without:?}");
        let share = two.redundant as f64 / two.lost as f64;
        assert!(share >= recovered, "{name}: {share:.2} of losses recovered");
        let share = two.played.len() as f64 / 1000.0;
        assert!(share >= played, "{name}: {share:.3} played");
    }
}

#[test]
fn copies_of_played_packets_and_garbage_copies_are_ignored() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    // A copy before any primary: nothing to anchor it, ignored.
    let copy = RedundantFrame { sequence: 0, timestamp: 0, payload: vec![1] };
    jb.handle_redundant(t0, 1, copy, 960);
    assert_eq!(jb.buffered_packets(), 0);
    let mut history = RedundancyHistory::default();
    let mut rng = SplitMix64::new(8);
    for i in 0u32..200 {
        let now = t0 + Duration::from_millis(20) * i;
        let mut p = EncodedPacket::new(i as u16, i * 960, vec![1]);
        history.attach(&mut p, 2);
        let (copies, carrier) = (std::mem::take(&mut p.redundant), p.sequence);
        jb.handle_packet(now, p, 960);
        for c in copies {
            jb.handle_redundant(now, carrier, c, 960);
        }
        // Absurd copies: random counters and lengths.
        let junk = RedundantFrame {
            sequence: rng.next_u64() as u16,
            timestamp: rng.next_u64() as u32,
            payload: vec![0; (rng.next_u64() % 2) as usize],
        };
        let samples = [0, 960, 1_000_000][(rng.next_u64() % 3) as usize];
        jb.handle_redundant(now, rng.next_u64() as u16, junk, samples);
        jb.poll_playout(now + Duration::from_millis(5));
        jb.poll_playout(now + Duration::from_millis(15));
    }
    let s = jb.stats();
    assert_eq!((s.duplicates, s.late), (0, 0), "{s:?}");
    assert!(s.received == 200 && s.recovered_redundant <= 5, "{s:?}");
    assert!(jb.buffered_packets() <= 5, "{}", jb.buffered_packets());
}

/// Two copies per packet on a steady network: the target allows one packet for them, and a
/// second only once two packets in a row were lost.
#[test]
fn second_copies_are_waited_for_only_after_losses_in_a_row() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut history = RedundancyHistory::default();
    let packet = Duration::from_millis(20);
    let mut targets = Vec::new();
    for i in 0u32..300 {
        let now = t0 + packet * i;
        let mut p = EncodedPacket::new(i as u16, i * 960, vec![1]);
        history.attach(&mut p, 2);
        // Packet 100 alone is lost, then 200 and 201 together.
        if ![100, 200, 201].contains(&i) {
            let (copies, carrier) = (std::mem::take(&mut p.redundant), p.sequence);
            jb.handle_packet(now, p, 960);
            for c in copies {
                jb.handle_redundant(now, carrier, c, 960);
            }
        }
        jb.poll_playout(now + Duration::from_millis(5));
        jb.poll_playout(now + Duration::from_millis(15));
        targets.push(jb.stats().target_delay);
    }
    // The floor (half a packet) plus one packet and the half packet of playout wobble.
    let one_copy = |t: Duration| t >= packet * 3 / 2 && t < packet * 5 / 2;
    // Copies seen (and a single loss recovered): one packet waited for.
    assert!(one_copy(targets[50]), "{:?}", targets[50]);
    assert!(one_copy(targets[150]), "{:?}", targets[150]);
    // Two in a row: the deepest copies are waited for too.
    assert!(targets[250] >= packet * 5 / 2, "{:?}", targets[250]);
    let s = jb.stats();
    assert_eq!(s.lost, 3, "{s:?}");
}
