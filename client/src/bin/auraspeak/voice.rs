//! `auraspeak voice join`: a voice call from the command line, with a device or a WAV file
//! on either side, push-to-talk and mute controls read from standard input, and the
//! connection's figures printed at the end.

use std::io::BufRead as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use auraspeak_client::api::ApiClient;
use auraspeak_client::call::{self, AudioInput, AudioOutput, CallControl, CallOptions};
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_client::resolve;
use auraspeak_client::voice::device::{AudioHost, AudioIo, AudioIoConfig, DeviceChoice, Direction};
use auraspeak_client::voice::{
    CaptureConfig, GateMode, OpusFrameDuration, Pacing, RedundancyMode, WavSink, WavSource,
};
use auraspeak_shared::v1::channels::ChannelKind;
use serde_json::json;
use tokio::sync::mpsc;

use crate::output::Output;

/// What `voice join` was asked to do.
pub(crate) struct JoinArgs {
    pub(crate) channel: String,
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) ptt: bool,
    pub(crate) duration: Option<u64>,
    pub(crate) mute: bool,
    pub(crate) deaf: bool,
    pub(crate) sound: SoundArgs,
}

/// How the call sounds: what `voice join` lets a user (or a measurement) choose.
pub(crate) struct SoundArgs {
    pub(crate) frame_ms: u8,
    pub(crate) bitrate: Option<u32>,
    pub(crate) suppression: String,
    pub(crate) echo_cancellation: bool,
    pub(crate) gate: String,
    pub(crate) redundancy: String,
}

impl SoundArgs {
    fn apply(&self, capture: &mut CaptureConfig) -> Result<()> {
        capture.encoder.frame_duration = match self.frame_ms {
            10 => OpusFrameDuration::Ms10,
            20 => OpusFrameDuration::Ms20,
            other => bail!("--frame-ms must be 10 or 20, not {other}"),
        };
        if let Some(kbps) = self.bitrate {
            capture.encoder.bitrate_bps = kbps * 1000;
        }
        (capture.noise_suppression, capture.strong_suppression) = match self.suppression.as_str() {
            "off" => (false, false),
            "standard" => (true, false),
            _ => (true, true),
        };
        capture.echo_cancellation = self.echo_cancellation;
        if self.gate == "continuous" {
            capture.gate = GateMode::Continuous;
        }
        capture.encoder.redundancy = match self.redundancy.as_str() {
            "off" => RedundancyMode::Off,
            "1" => RedundancyMode::Fixed(1),
            "2" => RedundancyMode::Fixed(2),
            _ => RedundancyMode::Auto,
        };
        Ok(())
    }
}

/// How long after releasing push-to-talk the gate stays open, so the last syllable is
/// not clipped (Discord and TeamSpeak use a similar tail).
const PTT_RELEASE_TAIL: Duration = Duration::from_millis(200);

enum End {
    Wav(std::path::PathBuf),
    Device(DeviceChoice),
    Nothing,
}

/// `file.wav`, `none`, `default` or a device id or name.
fn parse_end(spec: &str, direction: Direction, host: Option<&AudioHost>) -> Result<End> {
    if spec.eq_ignore_ascii_case("none") {
        return Ok(End::Nothing);
    }
    if spec.to_ascii_lowercase().ends_with(".wav") {
        return Ok(End::Wav(spec.into()));
    }
    if spec.eq_ignore_ascii_case("default") {
        return Ok(End::Device(DeviceChoice::SystemDefault));
    }
    let Some(host) = host else { bail!("no audio host for {direction} device {spec:?}") };
    let list = host.list()?;
    let known = list.devices(direction);
    if known.iter().any(|d| d.id == spec) {
        return Ok(End::Device(DeviceChoice::Id(spec.to_owned())));
    }
    if known.iter().any(|d| d.name == spec) {
        return Ok(End::Device(DeviceChoice::Name(spec.to_owned())));
    }
    let names: Vec<String> = known.iter().map(|d| format!("{} ({})", d.name, d.id)).collect();
    bail!("no {direction} device {spec:?}; available: {}", names.join(", "))
}

/// Lines on stdin become call controls: `press`/`release` (push-to-talk), `mute`,
/// `unmute`, `deafen`, `undeafen`, `leave`. End of input leaves the call only when no
/// duration was given.
fn read_controls(tx: mpsc::Sender<CallControl>, leave_at_eof: bool) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let control = match line.trim().to_ascii_lowercase().as_str() {
                "press" | "down" => CallControl::PushToTalk(true),
                "release" | "up" => CallControl::PushToTalk(false),
                "mute" => CallControl::Mute(true),
                "unmute" => CallControl::Mute(false),
                "deafen" => CallControl::Deafen(true),
                "undeafen" => CallControl::Deafen(false),
                "leave" | "quit" => CallControl::Leave,
                "" => continue,
                other => {
                    eprintln!(
                        "auraspeak: unknown control {other:?} (press, release, mute, unmute, deafen, undeafen, leave)"
                    );
                    continue;
                }
            };
            if tx.blocking_send(control).is_err() {
                return;
            }
        }
        if leave_at_eof {
            let _ = tx.blocking_send(CallControl::Leave);
        }
    });
}

pub(crate) async fn join(api: &ApiClient, args: JoinArgs, out: &Output) -> Result<()> {
    let (detail, channel) = resolve::find_channel(api, &args.channel, ChannelKind::Voice).await?;
    let wants_device =
        |s: &str| !s.eq_ignore_ascii_case("none") && !s.to_ascii_lowercase().ends_with(".wav");
    let host = if wants_device(&args.input) || wants_device(&args.output) {
        Some(AudioHost::new().context("opening the audio system")?)
    } else {
        None
    };
    let input_end = parse_end(&args.input, Direction::Input, host.as_ref())?;
    let output_end = parse_end(&args.output, Direction::Output, host.as_ref())?;
    let mut io_config = AudioIoConfig { input: None, output: None, ..AudioIoConfig::default() };
    if let End::Device(choice) = &input_end {
        io_config.input = Some(choice.clone());
    }
    if let End::Device(choice) = &output_end {
        io_config.output = Some(choice.clone());
    }
    // One device driver for both directions; it stays alive for the whole call.
    let devices = if io_config.input.is_some() || io_config.output.is_some() {
        let (io, port) = AudioIo::start(io_config).context("starting the audio devices")?;
        Some((io, Arc::new(port)))
    } else {
        None
    };
    let port = devices.as_ref().map(|(_, port)| port.clone());
    let input = match input_end {
        End::Wav(path) => AudioInput::Wav(Box::new(open_wav(&path)?)),
        End::Device(_) => AudioInput::Device(port.clone().context("device port")?),
        End::Nothing => AudioInput::Silence,
    };
    let output = match output_end {
        End::Wav(path) => AudioOutput::Wav(
            WavSink::create(&path).with_context(|| format!("creating {}", path.display()))?,
        ),
        End::Device(_) => AudioOutput::Device(port.context("device port")?),
        End::Nothing => AudioOutput::Discard,
    };

    let me = api.me().await?.id;
    let (handle, mut events) = gateway::connect_api(api, SessionConfig::default());
    match events.next().await {
        Some(GatewayEvent::Ready { .. }) => {}
        Some(GatewayEvent::Closed { code, reason }) => {
            return Err(auraspeak_client::Error::GatewayClosed { code, reason }.into());
        }
        other => bail!("the gateway did not become ready: {other:?}"),
    }
    let mut options = CallOptions::new(channel.id);
    options.me = Some(me);
    options.self_mute = args.mute;
    options.self_deaf = args.deaf;
    options.duration = args.duration.map(Duration::from_secs);
    args.sound.apply(&mut options.capture)?;
    if args.ptt {
        options.capture.gate = GateMode::PushToTalk { release_tail: PTT_RELEASE_TAIL };
    }
    let (controls_tx, controls) = mpsc::channel(16);
    read_controls(controls_tx, args.duration.is_none() && args.ptt);
    out.status(&format!("Joining voice channel {} on {}…", channel.name, detail.server.name));
    let report = call::run(&handle, &mut events, options, input, output, controls).await;
    handle.close().await;
    drop(devices);
    let report = report?;
    let figures = CallFigures::of(&report);
    let link = report.link;
    if out.json {
        out.json_line(&json!({
            "channel": channel.id,
            "connect_ms": report.connect_time.as_millis(),
            "packets_sent": report.packets_sent,
            "packets_received": report.packets_received,
            "rtt_ms": link.rtt_ms,
            "upstream_loss": figures.upstream_loss,
            "downstream_loss": figures.downstream_loss,
            "upstream_loss_recent": link.upstream_loss,
            "downstream_loss_recent": link.downstream_loss,
            "jitter_ms": link.jitter_ms,
            "bytes_sent": link.bytes_sent,
            "bytes_received": link.bytes_received,
            "lost": figures.lost,
            "recovered_fec": figures.recovered_fec,
            "recovered_copies": figures.recovered_copies,
            "concealed": figures.concealed,
            "late": figures.late,
            "skipped": figures.skipped,
            "inserted": figures.inserted,
            "resyncs": figures.resyncs,
            "heard": report.heard,
            "ended": report.ended,
            "echo": report.echo.map(|e| json!({
                "delay_ms": e.delay_ms,
                "return_loss_db": e.return_loss_db,
                "return_loss_enhancement_db": e.return_loss_enhancement_db,
            })),
        }))
    } else {
        let ms = |v: Option<f32>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1} ms"));
        let pct =
            |v: Option<f32>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1} %", v * 100.0));
        out.line(&format!(
            "Left voice ({}). Connected in {} ms; sent {} packets, received {}; \
             round trip {}, loss up {} / down {}, jitter {}; lost {} packets on the way here, \
             {} recovered by FEC and {} from copies, {} concealed; {} kB sent, {} kB received.",
            report.ended,
            report.connect_time.as_millis(),
            report.packets_sent,
            report.packets_received,
            ms(link.rtt_ms),
            pct(figures.upstream_loss),
            pct(figures.downstream_loss),
            ms(link.jitter_ms),
            figures.lost,
            figures.recovered_fec,
            figures.recovered_copies,
            figures.concealed,
            link.bytes_sent / 1000,
            link.bytes_received / 1000,
        ))?;
        if let Some(echo) = report.echo {
            out.line(&format!(
                "Echo cancellation: echo path {} ms, {:.0} dB of echo removed.",
                echo.delay_ms, echo.return_loss_enhancement_db
            ))?;
        }
        Ok(())
    }
}

/// The whole call's loss and repair, from the relay's reports of what reached it and our
/// jitter buffers' counts of what reached us. "n/a" only where no packet flowed that way.
struct CallFigures {
    upstream_loss: Option<f32>,
    downstream_loss: Option<f32>,
    lost: u64,
    recovered_fec: u64,
    recovered_copies: u64,
    concealed: u64,
    /// What the jitter buffers did to the timing: packets too late to play, packets
    /// skipped and concealments inserted to move the delay, restarts.
    late: u64,
    skipped: u64,
    inserted: u64,
    resyncs: u64,
}

impl CallFigures {
    fn of(report: &call::CallReport) -> Self {
        let link = &report.link;
        let sum = |f: fn(&auraspeak_client::voice::JitterStats) -> u64| {
            report.jitter.iter().map(f).sum::<u64>()
        };
        let (received, lost) = (sum(|j| j.received), sum(|j| j.lost));
        #[allow(clippy::cast_precision_loss)]
        let fraction = |part: u64, whole: u64| (whole > 0).then(|| part as f32 / whole as f32);
        Self {
            // The relay's reports count what it missed of what we sent; before the first
            // report, the most recent figure (if any) stands in.
            upstream_loss: fraction(link.upstream_lost, link.packets_sent).or(link.upstream_loss),
            downstream_loss: fraction(lost, received + lost),
            lost,
            recovered_fec: sum(|j| j.recovered_fec),
            recovered_copies: sum(|j| j.recovered_redundant),
            concealed: sum(|j| j.concealed),
            late: sum(|j| j.late),
            skipped: sum(|j| j.skipped),
            inserted: sum(|j| j.inserted),
            resyncs: sum(|j| j.resyncs),
        }
    }
}

pub(crate) fn devices(out: &Output, all: bool) -> Result<()> {
    let host = AudioHost::new().context("opening the audio system")?;
    let list = if all { host.list_all()? } else { host.list()? };
    let mut rows = Vec::new();
    for direction in [Direction::Input, Direction::Output] {
        let default = list.default_id(direction).map(str::to_owned);
        for d in list.devices(direction) {
            rows.push(json!({
                "direction": direction.to_string(),
                "id": d.id,
                "name": d.name,
                "default": default.as_deref() == Some(d.id.as_str()),
            }));
        }
    }
    if out.json {
        return out.json_line(&rows);
    }
    out.line(&format!("Audio host: {}", host.name()))?;
    for row in rows {
        let star = if row["default"] == true { " (default)" } else { "" };
        out.line(&format!(
            "{:<6} {}  [{}]{star}",
            row["direction"].as_str().unwrap_or_default(),
            row["name"].as_str().unwrap_or_default(),
            row["id"].as_str().unwrap_or_default()
        ))?;
    }
    Ok(())
}

fn open_wav(path: &Path) -> Result<WavSource> {
    // The call's 10 ms clock paces the file: reading as fast as possible here is right.
    WavSource::open(path, Pacing::AsFastAsPossible)
        .with_context(|| format!("opening {}", path.display()))
}
