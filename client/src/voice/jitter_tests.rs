//! Jitter buffer tests in simulated time: a sender, a seeded network emulator and a playback
//! clock pulling 10 ms frames, as the receive chain does.

use std::time::{Duration, Instant};

use super::*;
use crate::voice::netsim::{NetworkConfig, NetworkEmulator, NetworkStats, SplitMix64};

const TICK: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
struct Run {
    /// Unwrapped sequence numbers in the order they were played (Packet or Fec).
    played: Vec<u64>,
    /// Delay from sending to playing, per played packet (seconds), with its play time.
    latency: Vec<(f64, f64)>,
    concealed_frames: u64,
    silent_ticks: u64,
    stats: JitterStats,
    net: NetworkStats,
    max_reported_delay: Duration,
}

struct Sim {
    network: NetworkConfig,
    seed: u64,
    seconds: f64,
    packet_samples: usize,
    /// Sender clock rate error: +0.001 = sender 0.1 % fast.
    skew: f64,
    first_sequence: u16,
    first_timestamp: u32,
}

impl Default for Sim {
    fn default() -> Self {
        Self {
            network: NetworkConfig::default(),
            seed: 1,
            seconds: 10.0,
            packet_samples: 960,
            skew: 0.0,
            first_sequence: 0,
            first_timestamp: 0,
        }
    }
}

impl Sim {
    fn run(&self) -> Run {
        let t0 = Instant::now();
        let mut net: NetworkEmulator<(u64, EncodedPacket)> =
            NetworkEmulator::new(self.network.clone(), self.seed);
        // A plain sender: no copies, at the start or later.
        let mut jb =
            JitterBuffer::new(JitterConfig { copies_at_start: false, ..Default::default() });
        let packet_s = self.packet_samples as f64 / 48_000.0;
        let packets = (self.seconds / packet_s) as u64;
        let send_at =
            |i: u64| t0 + Duration::from_secs_f64(i as f64 * packet_s / (1.0 + self.skew));
        let mut next_send = 0u64;
        let mut buffered = 0usize;
        let mut run = Run::default();
        // Run two seconds past the last packet so everything drains.
        let ticks = ((self.seconds + 2.0) / 0.01) as u32;
        for k in 0..ticks {
            let now = t0 + TICK * k;
            while next_send < packets && send_at(next_send) <= now {
                let packet = EncodedPacket::new(
                    self.first_sequence.wrapping_add(next_send as u16),
                    self.first_timestamp
                        .wrapping_add((next_send as usize * self.packet_samples) as u32),
                    vec![1, 2, 3],
                );
                net.send(send_at(next_send), (next_send, packet));
                next_send += 1;
            }
            while let Some((at, (_, packet))) = net.poll_delivery(now) {
                jb.handle_packet(at, packet, self.packet_samples);
            }
            while buffered < 480 {
                match jb.poll_playout(now) {
                    Playout::Packet { sequence, samples, .. }
                    | Playout::Fec { sequence, samples, .. } => {
                        // Sequence numbers are unwrapped relative to the first one sent.
                        let i = u64::from(sequence.wrapping_sub(self.first_sequence));
                        run.played.push(i);
                        let sent = send_at(i).duration_since(t0).as_secs_f64();
                        let played = now.duration_since(t0).as_secs_f64();
                        run.latency.push((played, played - sent));
                        buffered += samples;
                    }
                    Playout::Conceal { samples } => {
                        run.concealed_frames += 1;
                        buffered += samples;
                    }
                    Playout::Silence => {
                        run.silent_ticks += 1;
                        buffered += 480;
                    }
                }
            }
            buffered -= 480;
            run.max_reported_delay = run.max_reported_delay.max(jb.stats().current_delay);
        }
        run.stats = jb.stats().clone();
        run.net = net.stats().clone();
        run
    }
}

fn assert_no_repeats(run: &Run) {
    for pair in run.played.windows(2) {
        assert!(pair[1] > pair[0], "played out of order or twice: {pair:?}");
    }
}

fn max_latency_after(run: &Run, from_s: f64) -> f64 {
    run.latency.iter().filter(|(t, _)| *t >= from_s).map(|(_, l)| *l).fold(0.0, f64::max)
}

#[test]
fn clean_network_plays_everything_once_at_minimum_delay() {
    let run = Sim::default().run();
    assert_no_repeats(&run);
    assert_eq!(run.played, (0..500).collect::<Vec<_>>());
    assert_eq!(run.stats.lost, 0);
    // Only the leading and trailing silence: no gaps inside the stream, and the few
    // concealments are the end of the stream being taken for a loss.
    assert!(run.concealed_frames <= 5, "{}", run.concealed_frames);
    // 30 ms network + half a 20 ms packet of buffer + up to one 10 ms tick.
    let worst = max_latency_after(&run, 0.0);
    assert!(worst <= 0.051, "latency {worst}");
    assert_eq!(run.stats.target_delay, Duration::from_millis(10));
}

#[test]
fn jitter_reordering_and_duplicates() {
    let run = Sim {
        network: NetworkConfig {
            jitter: Duration::from_millis(40),
            reorder: 0.05,
            reorder_delay: Duration::from_millis(25),
            duplicate: 0.05,
            ..Default::default()
        },
        seed: 42,
        ..Default::default()
    }
    .run();
    assert_no_repeats(&run);
    assert_eq!(run.stats.duplicates, run.net.duplicated, "{:?}", run.stats);
    // Almost every packet is played: the target delay covers the jitter.
    assert!(run.played.len() >= 490, "{} played, {:?}", run.played.len(), run.stats);
    // The target settles near the jitter spread (40 ms + reordering), within the maximum.
    let target = run.stats.target_delay;
    assert!(
        target >= Duration::from_millis(35) && target <= Duration::from_millis(80),
        "{target:?}"
    );
    // Delay bounded: network 30 + 65 worst case + target + a packet.
    let worst = max_latency_after(&run, 2.0);
    assert!(worst < 0.2, "latency {worst}");
}

#[test]
fn random_loss_statistics_match_injected() {
    let run = Sim {
        network: NetworkConfig {
            loss: 0.1,
            jitter: Duration::from_millis(10),
            ..Default::default()
        },
        seed: 7,
        seconds: 20.0,
        ..Default::default()
    }
    .run();
    assert_no_repeats(&run);
    let dropped = run.net.dropped as i64;
    let lost_not_late = run.stats.lost as i64 - run.stats.late as i64;
    // Drops at the very end of the stream are not seen as losses (no later packet).
    assert!((dropped - lost_not_late).abs() <= 2, "net {:?} jb {:?}", run.net, run.stats);
    assert!(dropped > 50, "{dropped}");
    // Most losses with a following packet are recovered through FEC.
    assert!(run.stats.recovered_fec as f64 >= 0.7 * dropped as f64, "{:?}", run.stats);
}

#[test]
fn bursty_loss_conceals_then_resumes() {
    let run = Sim {
        network: NetworkConfig { burst_start: 0.02, burst_end: 0.25, ..Default::default() },
        seed: 11,
        seconds: 20.0,
        ..Default::default()
    }
    .run();
    assert_no_repeats(&run);
    assert!(run.net.dropped > 20);
    let lost_not_late = run.stats.lost as i64 - run.stats.late as i64;
    assert!(
        (run.net.dropped as i64 - lost_not_late).abs() <= 4,
        "net {:?} jb {:?}",
        run.net,
        run.stats
    );
    let accounted =
        run.played.len() as u64 + run.stats.lost - run.stats.recovered_fec + run.stats.skipped;
    assert_eq!(accounted, 1000, "{:?} {:?}", run.stats, run.net);
    assert!(max_latency_after(&run, 1.0) < 0.12);
}

fn drift_run(skew: f64) -> Run {
    Sim {
        network: NetworkConfig { jitter: Duration::from_millis(5), ..Default::default() },
        seed: 5,
        seconds: 60.0,
        skew,
        ..Default::default()
    }
    .run()
}

#[test]
fn fast_sender_clock_does_not_grow_delay() {
    let run = drift_run(0.001);
    assert_no_repeats(&run);
    // 60 s at +0.1 % is 60 ms too much audio: a few packets must have been skipped...
    assert!(run.stats.skipped >= 2, "{:?}", run.stats);
    // ...and the delay at the end is no larger than early on.
    let early = max_latency_after(&run, 2.0);
    let late = max_latency_after(&run, 55.0);
    assert!(late <= early + 0.005 && late < 0.1, "early {early} late {late}");
}

#[test]
fn slow_sender_clock_does_not_starve() {
    let run = drift_run(-0.001);
    assert_no_repeats(&run);
    // The missing 60 ms is made up by concealment, either inserted before a packet that
    // is early or played where the next one is not there yet; none is lost.
    assert!(run.stats.inserted + run.stats.concealed >= 2, "{:?}", run.stats);
    assert_eq!(run.stats.lost, 0);
    let late = max_latency_after(&run, 55.0);
    assert!(late < 0.1, "late {late}");
    // Concealment for drift is a handful of frames over a minute, not constant underruns.
    assert!(run.concealed_frames < 10, "{}", run.concealed_frames);
}

#[test]
fn ten_ms_packets_and_wrapping_counters() {
    let run = Sim {
        packet_samples: 480,
        first_sequence: 65_000,
        first_timestamp: u32::MAX - 100_000,
        network: NetworkConfig { jitter: Duration::from_millis(8), ..Default::default() },
        ..Default::default()
    }
    .run();
    assert_no_repeats(&run);
    assert_eq!(run.played.len(), 1000);
    assert!(run.stats.target_delay >= Duration::from_millis(10));
    assert!(max_latency_after(&run, 1.0) < 0.07);
}

#[test]
fn absurd_input_never_panics_and_playback_recovers() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut rng = SplitMix64::new(99);
    let mut played = 0;
    for i in 0u32..1000 {
        let now = t0 + TICK * (2 * i);
        jb.handle_packet(now, EncodedPacket::new(i as u16, i * 960, vec![1]), 960);
        if i % 10 == 5 {
            // Garbage: random counters, zero or absurd lengths, empty payloads.
            let garbage = EncodedPacket::new(
                rng.next_u64() as u16,
                rng.next_u64() as u32,
                vec![0; (rng.next_u64() % 3) as usize],
            );
            let samples = [0, 960, 1_000_000][(rng.next_u64() % 3) as usize];
            jb.handle_packet(now, garbage, samples);
        }
        for tick in 0..2 {
            if (tick == 0 || i % 2 == 0)
                && let Playout::Packet { .. } = jb.poll_playout(now + TICK * tick)
            {
                played += 1;
            }
        }
    }
    assert!(played > 700, "played {played} {:?}", jb.stats());
    // Time going backwards is tolerated too.
    let _ = jb.poll_playout(t0);
    jb.handle_packet(t0, EncodedPacket::new(3, 0, vec![1]), 960);
}

#[test]
fn sender_restart_resyncs() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut sequence = 0u16;
    let mut played = Vec::new();
    for i in 0u32..400 {
        let now = t0 + Duration::from_millis(20) * i;
        if i == 200 {
            // The sender restarts with fresh random counters.
            sequence = 40_000;
        }
        let timestamp = if i < 200 { i * 960 } else { 7_000_000 + i * 960 };
        jb.handle_packet(now, EncodedPacket::new(sequence, timestamp, vec![1]), 960);
        sequence = sequence.wrapping_add(1);
        if let Playout::Packet { sequence, .. } = jb.poll_playout(now + Duration::from_millis(5)) {
            played.push(sequence);
        }
    }
    assert!(jb.stats().resyncs >= 1);
    assert!(played.iter().filter(|s| **s >= 40_000).count() > 180, "{:?}", jb.stats());
}

#[test]
fn memory_stays_bounded_without_polls() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig::default());
    for i in 0u32..5_000 {
        let packet = EncodedPacket::new(i as u16, i * 960, vec![1]);
        jb.handle_packet(t0 + Duration::from_millis(20) * i, packet, 960);
    }
    assert!(jb.buffered_packets() <= 300, "{}", jb.buffered_packets());
    // Playback then resumes from what is left, newest audio first in line.
    let now = t0 + Duration::from_millis(20) * 5_000;
    assert!(matches!(jb.poll_playout(now), Playout::Packet { .. }));
}

/// Plays a stream of 20 ms packets that arrive when sent (packets in `lost` never arrive,
/// none at all in `pause`, in seconds), pulling 10 ms frames as the receive chain does and
/// telling the buffer each frame whether it was quiet (`quiet(t)`). Returns the delay from
/// sending to playing, with the play time, of every packet played.
fn play_stream(
    config: JitterConfig,
    seconds: f64,
    lost: &[u64],
    pause: Option<(f64, f64)>,
    quiet: impl Fn(f64) -> bool,
) -> (Vec<(f64, f64)>, JitterStats) {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(config);
    let mut latency = Vec::new();
    let mut buffered = 0usize;
    let mut next = 0u64;
    // A pause uses no sequence numbers, only time (as a sender in a pause sends nothing).
    let mut sequence = 0u16;
    let mut sent_at = std::collections::HashMap::new();
    let paused = |t: f64| pause.is_some_and(|(from, to)| t >= from && t < to);
    for k in 0..((seconds + 1.0) / 0.01) as u32 {
        let now = t0 + TICK * k;
        let now_s = f64::from(k) * 0.01;
        while (next as f64) * 0.02 <= now_s && (next as f64) * 0.02 < seconds {
            let sent = next as f64 * 0.02;
            if !paused(sent) {
                if !lost.contains(&next) {
                    let packet = EncodedPacket::new(sequence, (next * 960) as u32, vec![1]);
                    jb.handle_packet(now, packet, 960);
                }
                sent_at.insert(sequence, sent);
                sequence = sequence.wrapping_add(1);
            }
            next += 1;
        }
        jb.set_quiet(quiet(now_s));
        while buffered < 480 {
            match jb.poll_playout(now) {
                Playout::Packet { sequence, samples, .. }
                | Playout::Fec { sequence, samples, .. } => {
                    latency.push((now_s, now_s - sent_at.get(&sequence).copied().unwrap_or(0.0)));
                    buffered += samples;
                }
                Playout::Conceal { samples } => buffered += samples,
                Playout::Silence => buffered += 480,
            }
        }
        buffered -= 480;
    }
    (latency, jb.stats().clone())
}

fn delay_between(latency: &[(f64, f64)], from: f64, to: f64) -> (f64, f64) {
    let within = latency.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, l)| *l);
    within.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)))
}

#[test]
fn a_longer_delay_waits_for_a_quiet_moment() {
    let plain = JitterConfig { copies_at_start: false, ..Default::default() };
    // A loss at 1 s makes the buffer wait a packet and a half longer for FEC from then on.
    // The talker is loud until 1.6 s and quiet for a moment then.
    let (latency, stats) =
        play_stream(plain.clone(), 4.0, &[50], None, |t| (1.6..1.65).contains(&t));
    let (_, before) = delay_between(&latency, 0.5, 1.58);
    let (after, _) = delay_between(&latency, 1.8, 3.5);
    assert!(before < 0.025, "the delay grew in mid-word: {before}");
    assert!(after >= 0.029, "the delay did not grow in the quiet moment: {after}");
    assert!(stats.inserted >= 1, "{stats:?}");
    // A talker who never pauses gets it after `max_grow_wait`.
    let (latency, _) = play_stream(plain, 4.0, &[50], None, |_| false);
    let (_, before) = delay_between(&latency, 0.5, 1.9);
    let (after, _) = delay_between(&latency, 2.2, 3.5);
    assert!(before < 0.025 && after >= 0.029, "{before} {after}");
}

#[test]
fn copies_expected_at_the_start_are_waited_for_until_the_first_pause() {
    // No copies ever come and nothing is lost: the first talk spurt waits for them, the
    // next plays at the floor again (the change falls into the pause, where it is free).
    let (latency, stats) =
        play_stream(JitterConfig::default(), 6.0, &[], Some((3.0, 3.5)), |_| false);
    let (first, _) = delay_between(&latency, 0.1, 2.9);
    let (_, second) = delay_between(&latency, 3.7, 5.9);
    assert!(first >= 0.035, "first spurt {first}");
    assert!(second <= 0.021, "second spurt {second}");
    assert_eq!((stats.skipped, stats.inserted), (0, 0), "{stats:?}");
    // A sender known to send none: the floor from the first packet.
    let plain = JitterConfig { copies_at_start: false, ..Default::default() };
    let (latency, _) = play_stream(plain, 2.0, &[], None, |_| false);
    assert!(delay_between(&latency, 0.0, 1.9).1 <= 0.021);
}
