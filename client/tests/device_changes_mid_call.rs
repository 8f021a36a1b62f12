//! Devices that vanish mid-call and come back, and a system default that changes: the
//! stream is rebuilt each time without ending the call, the app hears of it as events, and
//! audio keeps flowing. The "headset" is a null sink loaded for the test (its monitor is the
//! microphone, the sink itself the speaker) and unloaded under the running stream, as
//! unplugging a USB headset removes its PulseAudio source and sink.
//!
//! Needs the headless PulseAudio of `scripts/pulse-headless.sh` (see support/pulse.rs).

#![allow(clippy::unwrap_used)]

#[path = "support/pulse.rs"]
mod pulse;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use auraspeak_client::voice::compare::energy_db;
use auraspeak_client::voice::device::{
    AudioIo, AudioIoConfig, DeviceChoice, DeviceEvent, Direction, FramePort,
};
use pulse::{Pulse, Recorder, pactl};

/// The tests change the server's devices and default source, which the other test would
/// see: they take turns.
static SERVER: Mutex<()> = Mutex::new(());

/// A null sink standing in for a headset; unloaded on drop so a failed test leaves no
/// device behind for the next one.
struct Headset {
    name: String,
    module: Option<String>,
}

impl Headset {
    fn plug(name: &str) -> Self {
        let mut headset = Self { name: name.to_owned(), module: None };
        headset.replug();
        headset
    }

    fn replug(&mut self) {
        let sink = format!("sink_name={}", self.name);
        let props = "sink_properties=device.description=Test-Headset";
        self.module = Some(pactl(&["load-module", "module-null-sink", &sink, props, "rate=48000"]));
    }

    fn unplug(&mut self) {
        if let Some(module) = self.module.take() {
            pactl(&["unload-module", &module]);
        }
    }

    fn source(&self) -> String {
        format!("{}.monitor", self.name)
    }
}

impl Drop for Headset {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            let _ = std::process::Command::new("pactl").args(["unload-module", &module]).status();
        }
    }
}

/// Waits for the first event that `want` accepts, keeping the ones before it.
fn wait_for(
    io: &AudioIo,
    seen: &mut Vec<DeviceEvent>,
    timeout: Duration,
    what: &str,
    want: impl Fn(&DeviceEvent) -> bool,
) -> DeviceEvent {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(event) = io.wait_event(left) {
            if want(&event) {
                return event;
            }
            seen.push(event);
        }
    }
    panic!("no {what} within {timeout:?}; events so far: {seen:#?}");
}

/// Frames captured in the next `span`: a live stream delivers one per 10 ms.
fn frames_within(port: &FramePort, span: Duration) -> usize {
    while port.recv(Duration::ZERO).is_some() {}
    let deadline = Instant::now() + span;
    let mut n = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if port.recv(left).is_some() {
            n += 1;
        }
    }
    n
}

fn is_input(event: &DeviceEvent) -> bool {
    matches!(
        event,
        DeviceEvent::Opened { direction: Direction::Input, .. }
            | DeviceEvent::Lost { direction: Direction::Input, .. }
            | DeviceEvent::Switched { direction: Direction::Input, .. }
    )
}

#[test]
fn capture_moves_to_the_default_when_its_device_vanishes_and_back_when_it_returns() {
    let Some(pulse) = Pulse::from_env() else { return };
    let _turn = SERVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut headset = Headset::plug(&format!("auraspeak_headset_{}", std::process::id()));
    let (io, port) = AudioIo::start(AudioIoConfig {
        input: Some(DeviceChoice::Id(headset.source())),
        output: None,
        ..AudioIoConfig::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    let timeout = Duration::from_secs(3);
    wait_for(
        &io,
        &mut seen,
        timeout,
        "capture on the headset",
        |e| matches!(e, DeviceEvent::Opened { info, .. } if info.device.id == headset.source()),
    );
    let before = frames_within(&port, Duration::from_millis(500));
    assert!(before >= 40, "{before} frames in 500 ms before the unplug");

    let unplugged = Instant::now();
    headset.unplug();
    wait_for(
        &io,
        &mut seen,
        timeout,
        "Lost",
        |e| matches!(e, DeviceEvent::Lost { direction: Direction::Input, device, .. } if device.id == headset.source()),
    );
    let lost_after = unplugged.elapsed();
    let switched = wait_for(&io, &mut seen, timeout, "Switched to the default", |e| {
        matches!(e, DeviceEvent::Switched { direction: Direction::Input, .. })
    });
    let recovered_after = unplugged.elapsed();
    let DeviceEvent::Switched { from, to, fallback, .. } = switched else { unreachable!() };
    assert_eq!(from.id, headset.source());
    assert_eq!(to.id, pulse.mic_source(), "the default microphone stands in");
    assert!(fallback, "the default stands in for the absent choice");
    let during = frames_within(&port, Duration::from_millis(500));
    assert!(during >= 40, "{during} frames in 500 ms on the default");

    let replugged = Instant::now();
    headset.replug();
    let back = wait_for(&io, &mut seen, timeout, "Switched back to the headset", |e| {
        matches!(e, DeviceEvent::Switched { direction: Direction::Input, .. })
    });
    let back_after = replugged.elapsed();
    let DeviceEvent::Switched { to, fallback, .. } = back else { unreachable!() };
    assert_eq!(to.id, headset.source());
    assert!(!fallback);
    let after = frames_within(&port, Duration::from_millis(500));
    assert!(after >= 40, "{after} frames in 500 ms back on the headset");
    // The list changes were reported too (the app's device menu follows them).
    seen.extend(std::iter::from_fn(|| io.poll_event()));
    assert!(seen.iter().any(|e| matches!(e, DeviceEvent::ListChanged(_))), "{seen:#?}");

    eprintln!(
        "unplug -> Lost {lost_after:?}, -> capturing on the default {recovered_after:?}; \
         replug -> back {back_after:?}; frames per 500 ms: {before}/{during}/{after}"
    );
    eprintln!("stats: {:?}", io.stats());
    eprintln!("input events: {:#?}", seen.iter().filter(|e| is_input(e)).collect::<Vec<_>>());
}

#[test]
fn capture_follows_the_system_default_when_it_changes() {
    let Some(pulse) = Pulse::from_env() else { return };
    let _turn = SERVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let headset = Headset::plug(&format!("auraspeak_default_{}", std::process::id()));
    let (io, port) = AudioIo::start(AudioIoConfig {
        input: Some(DeviceChoice::SystemDefault),
        output: None,
        ..AudioIoConfig::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    let timeout = Duration::from_secs(3);
    wait_for(
        &io,
        &mut seen,
        timeout,
        "capture on the default",
        |e| matches!(e, DeviceEvent::Opened { info, .. } if info.device.id == pulse.mic_source()),
    );

    pactl(&["set-default-source", &headset.source()]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let moved = wait_for(&io, &mut seen, timeout, "Switched to the new default", |e| {
            matches!(e, DeviceEvent::Switched { .. })
        });
        let DeviceEvent::Switched { from, to, fallback, .. } = moved else { unreachable!() };
        assert_eq!(
            (from.id.as_str(), to.id.as_str()),
            (pulse.mic_source().as_str(), headset.source().as_str())
        );
        assert!(!fallback, "following the default is the choice itself, not a fallback");
        let frames = frames_within(&port, Duration::from_millis(500));
        assert!(frames >= 40, "{frames} frames in 500 ms on the new default");
    }));
    // Restored whatever happened: the other device tests expect the virtual microphone.
    pactl(&["set-default-source", &pulse.mic_source()]);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    // And back again when the default returns.
    wait_for(
        &io,
        &mut seen,
        timeout,
        "Switched back",
        |e| matches!(e, DeviceEvent::Switched { to, .. } if to.id == pulse.mic_source()),
    );
}

#[test]
fn playback_moves_to_the_default_speaker_when_its_device_vanishes() {
    let Some(pulse) = Pulse::from_env() else { return };
    let _turn = SERVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut headset = Headset::plug(&format!("auraspeak_speaker_{}", std::process::id()));
    let (io, port) = AudioIo::start(AudioIoConfig {
        input: None,
        output: Some(DeviceChoice::Id(headset.name.clone())),
        ..AudioIoConfig::default()
    })
    .unwrap();
    let mut seen = Vec::new();
    let timeout = Duration::from_secs(3);
    wait_for(
        &io,
        &mut seen,
        timeout,
        "playback on the headset",
        |e| matches!(e, DeviceEvent::Opened { info, .. } if info.device.id == headset.name),
    );
    // The engine plays a tone throughout, 10 ms at a time.
    let tone: Vec<f32> = (0..480)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 500.0 * i as f32 / 48_000.0).sin())
        .collect();
    let frame: auraspeak_client::voice::Frame = tone.try_into().unwrap();
    let play_for = |span: Duration| {
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < span {
            port.play(frame);
            n += 1;
            if let Some(wait) =
                (start + Duration::from_millis(10) * n).checked_duration_since(Instant::now())
            {
                std::thread::sleep(wait);
            }
        }
    };
    play_for(Duration::from_millis(300));

    headset.unplug();
    wait_for(
        &io,
        &mut seen,
        timeout,
        "Lost",
        |e| matches!(e, DeviceEvent::Lost { direction: Direction::Output, device, .. } if device.id == headset.name),
    );
    let switched = wait_for(&io, &mut seen, timeout, "Switched to the default speaker", |e| {
        matches!(e, DeviceEvent::Switched { direction: Direction::Output, .. })
    });
    let DeviceEvent::Switched { to, fallback, .. } = switched else { unreachable!() };
    assert_eq!(to.id, pulse.out_sink);
    assert!(fallback);
    // The tone is heard on the default speaker now.
    let recorder = Recorder::start(&pulse.out_monitor());
    play_for(Duration::from_millis(800));
    let heard = recorder.stop();
    let tail = &heard[heard.len().saturating_sub(19_200)..];
    let level = energy_db(tail);
    eprintln!("tone on the default speaker at {level:.1} dBFS; stats: {:?}", io.stats());
    // A 0.3 sine is about -13.5 dBFS; silence would be far below -60.
    assert!(level > -20.0, "{level:.1} dBFS");
}
