//! Calls through the relay over a bad network: the speaker's datagrams pass a seeded
//! impairment in its socket path (the kernel here has no netem) with 5 % and 10 % random
//! loss and up to 30 ms of jitter. The call stays up and the speech stays recognisable.
//! Another voice talks first, so the jitter buffer has learnt the network (as it has a
//! few seconds into any call) when the judged speech starts.
//!
//! With `AURASPEAK_VOICE_QUALITY_OUT=DIR` the recordings and a manifest for
//! `scripts/voice_quality.py` are written there; `scripts/voice-quality.sh relay` does
//! that and prints the PESQ table. Media, not storage, is under test: SQLite only.

#[path = "support/audio.rs"]
mod audio;
#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/online.rs"]
mod online;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use auraspeak_client::call::{self, AudioInput, AudioOutput, CallOptions};
use auraspeak_client::voice::compare::Comparison;
use auraspeak_client::voice::netsim::NetworkConfig;
use auraspeak_client::voice::{Pacing, SAMPLE_RATE, WavSink, WavSource};
use auraspeak_shared::v1::channels::ChannelKind;
use harness::{Backend, TestServer};
use tokio::sync::mpsc;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../client/tests/fixtures/speech-en-gb-female.wav")
}

fn warm_up_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client/tests/fixtures/speech-en-us-male.wav")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_loss_and_jitter() {
    let s = TestServer::start(&Backend::Sqlite).await;
    let c = community::setup(&s.base).await;
    let voice = c
        .owner
        .server(c.server)
        .await
        .expect("detail")
        .channels
        .iter()
        .find(|ch| ch.kind == ChannelKind::Voice)
        .expect("voice channel")
        .id;
    let (sg, mut se, sme) = online::online(&c.member).await;
    let (lg, mut le, lme) = online::online(&c.owner).await;
    let speech = WavSource::open(fixture(), Pacing::AsFastAsPossible)
        .expect("fixture")
        .read_to_end()
        .expect("read");
    let warm_up = WavSource::open(warm_up_fixture(), Pacing::AsFastAsPossible)
        .expect("fixture")
        .read_to_end()
        .expect("read");
    let input_len =
        Duration::from_secs_f64((warm_up.len() + speech.len()) as f64 / f64::from(SAMPLE_RATE));
    let keep = std::env::var_os("AURASPEAK_VOICE_QUALITY_OUT").map(PathBuf::from);
    let out_dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("auraspeak-loss-{}", std::process::id()))
    });
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let input = out_dir.join("relay-input.wav");
    let mut sink = WavSink::create(&input).expect("input");
    sink.write(&warm_up).expect("write");
    sink.write(&speech).expect("write");
    sink.finalize().expect("finalize");
    let mut manifest = String::from(
        "kind\tcase\tvariant\treference\tprocessed\tlost\tfec\tcopies\tunrecovered\tkbps\tlag_ms\n",
    );

    // The clean run is the baseline the impaired ones are judged against.
    for (loss, jitter_ms, seed) in [(0.0, 0, 1u64), (0.05, 30, 5), (0.10, 30, 10)] {
        let case =
            format!("{:.0} % loss, 0-{jitter_ms} ms jitter, through the relay", loss * 100.0);
        let recording = out_dir.join(format!("relay-loss-{:.0}-{jitter_ms}.wav", loss * 100.0));
        let network = NetworkConfig {
            loss,
            base_delay: Duration::from_millis(5),
            jitter: Duration::from_millis(jitter_ms),
            ..NetworkConfig::default()
        };
        let mut listen = CallOptions::new(voice);
        listen.me = Some(lme);
        listen.self_mute = true;
        listen.capture.noise_suppression = false;
        listen.duration = Some(input_len + Duration::from_secs(3));
        let mut talk = CallOptions::new(voice);
        talk.me = Some(sme);
        talk.duration = Some(input_len + Duration::from_millis(800));
        talk.impairment = Some((network, seed));
        let (_k1, c1) = mpsc::channel(1);
        let (_k2, c2) = mpsc::channel(1);
        let listening = call::run(
            &lg,
            &mut le,
            listen,
            AudioInput::Silence,
            AudioOutput::Wav(WavSink::create(&recording).expect("sink")),
            c1,
        );
        let speaking = async {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let source = WavSource::open(&input, Pacing::AsFastAsPossible).expect("input");
            call::run(
                &sg,
                &mut se,
                talk,
                AudioInput::Wav(Box::new(source)),
                AudioOutput::Discard,
                c2,
            )
            .await
        };
        let (heard, spoke) = tokio::join!(listening, speaking);
        let (heard, spoke) = (heard.expect("listener's call"), spoke.expect("speaker's call"));
        assert_eq!(spoke.ended, "duration reached", "the speaker's call stayed up: {spoke:?}");
        assert_eq!(heard.ended, "duration reached", "the listener's call stayed up: {heard:?}");

        let output = WavSource::open(&recording, Pacing::AsFastAsPossible)
            .expect("rec")
            .read_to_end()
            .expect("read");
        let offset =
            spoke.audio_started.expect("spoke").duration_since(heard.audio_started.expect("heard"));
        // The judged speech starts after the warm-up.
        let from = (offset.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize + warm_up.len();
        let tail = output.get(from..).expect("recording covers the speech");
        let cmp = Comparison::new(&speech, tail, SAMPLE_RATE as usize / 2);
        let jitter = heard.jitter.first().cloned().unwrap_or_default();
        let received = heard.packets_received as f64 / spoke.packets_sent.max(1) as f64;
        eprintln!(
            "{case}: correlation {:.3}, latency {:.0} ms, {:.0} % of packets arrived, jitter buffer: \
             lost {} recovered by FEC {} concealed {} late {}, delay {:?}",
            cmp.correlation,
            cmp.lag as f64 / 48.0,
            received * 100.0,
            jitter.lost,
            jitter.recovered_fec,
            jitter.concealed,
            jitter.late,
            jitter.current_delay,
        );
        assert!(received > 1.0 - loss - 0.08, "{received}");
        // The jitter buffer stretches and squeezes time under jitter, which a single global
        // alignment punishes; judge half-second pieces, each aligned on its own.
        let pieces = audio::piecewise_correlation(&speech, tail, cmp.lag);
        eprintln!("{case}: median piecewise correlation {pieces:.3}");
        // Loose on purpose (PESQ, from scripts/voice-quality.sh relay, is the measure):
        // clean calls score ≈ 0.8 here, and a broken stream (gaps not recovered, wrong
        // order, garbage) scores near 0.
        assert!(pieces > 0.4, "{pieces}");
        assert!(cmp.energy_diff_db.abs() < 10.0, "{cmp:?}");
        if jitter.lost >= 3 {
            assert!(jitter.recovered_fec > 0, "losses are seen as gaps and FEC used: {jitter:?}");
        }
        // For PESQ: the recording from where the speech went in (the scorer aligns).
        let trimmed =
            out_dir.join(format!("relay-loss-{:.0}-{jitter_ms}-trimmed.wav", loss * 100.0));
        let mut sink = WavSink::create(&trimmed).expect("trimmed");
        sink.write(tail).expect("write");
        sink.finalize().expect("finalize");
        let unrecovered =
            jitter.lost.saturating_sub(jitter.recovered_fec + jitter.recovered_redundant);
        manifest.push_str(&format!(
            "loss\t{case}\twebrtc\t{}\t{}\t{}\t{}\t{}\t{unrecovered}\t{:.1}\t{:.1}\n",
            fixture().display(),
            trimmed.display(),
            jitter.lost,
            jitter.recovered_fec,
            jitter.recovered_redundant,
            spoke.link.bytes_sent as f64 * 8.0 / 1000.0 / input_len.as_secs_f64().max(0.1),
            cmp.lag as f64 / 48.0,
        ));
    }
    let mut file = std::fs::File::create(out_dir.join("manifest.tsv")).expect("manifest");
    file.write_all(manifest.as_bytes()).expect("write manifest");
    if keep.is_none() {
        std::fs::remove_dir_all(&out_dir).ok();
    }
    sg.close().await;
    lg.close().await;
    s.stop().await;
}
