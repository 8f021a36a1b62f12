#!/usr/bin/env python3
"""Voice quality and mouth-to-ear latency on the path users take: two `auraspeak voice join`
processes (release builds) talk through a real `auraspeak-server` on loopback, the relay's
media passing a seeded impairment proxy (the kernel here has no netem). PESQ-WB scores the
listener's recording from the first packet on (no warm-up is exempt).

The proxy sits where a bad access network would: the relay advertises the proxy's address
(`voice.public_addresses`), every client flow gets an upstream socket of its own (as a NAT
gives it) and each direction drops and delays datagrams by its own seeded model:
random loss, Gilbert-Elliott bursts, and uniform jitter (which reorders, as real jitter
does). `up` is client -> relay for every client (so the speaker's media), `down` is
relay -> client (so the listener's).

Modes:
  quality   every case in CASES with each speech file, RUNS times; prints PESQ-WB medians,
            the link figures the CLI reports, and bitrates.
  noise     the engine's noise mixes (pink, babble, keyboard, fan at 5, 15, 25 dB SNR, written
            by `voice_quality OUT noise` into --noise-dir) spoken through the call at
            defaults; each is scored against the clean speech and against plain RNNoise
            (nnnoiseless alone) on the same microphone signal, which is what most voice
            apps send.
  latency   one stereo PulseAudio null sink: the speaker's microphone is its left channel,
            the listener plays into its right, and one recording of its monitor holds both;
            the lag between them by cross-correlation is mouth-to-ear. Needs PulseAudio
            (scripts/pulse-headless.sh starts one).

Usage: voice_relay.py --server BIN --cli BIN --out DIR [--mode quality|noise|latency]
                      [--runs N] [--cases clean,up10,...] [--join-arg=--frame-ms=10]...
                      [--noise-dir DIR]
"""

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import voice_quality as vq  # noqa: E402  (the shared PESQ scoring)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = [ROOT / "client/tests/fixtures/speech-en-gb-female.wav",
            ROOT / "client/tests/fixtures/speech-en-us-male.wav"]
PASSWORD = "correct horse battery staple 42"
CHANNEL = "Relay Lab/General"


class Impairment:
    """One direction's network: loss (random or Gilbert-Elliott) and jitter, seeded."""

    def __init__(self, seed, loss=0.0, burst_start=0.0, burst_end=1.0, jitter_ms=0.0):
        self.rng = random.Random(seed)
        self.loss, self.burst_start, self.burst_end = loss, burst_start, burst_end
        self.jitter_ms = jitter_ms
        self.in_burst = False
        self.sent = self.dropped = 0

    def verdict(self):
        """None to drop, else the delay in seconds."""
        self.sent += 1
        if self.burst_start > 0.0:
            if self.in_burst:
                self.in_burst = self.rng.random() >= self.burst_end
            else:
                self.in_burst = self.rng.random() < self.burst_start
            if self.in_burst:
                self.dropped += 1
                return None
        elif self.rng.random() < self.loss:
            self.dropped += 1
            return None
        return self.rng.uniform(0.0, self.jitter_ms / 1000.0) if self.jitter_ms else 0.0


def case_config(name, seed):
    """(up, down) impairments for a case name such as `up10`, `down20`, `both10`,
    `bursty10` (10 % of packets lost on the way down in bursts of two on average) or
    `jitter40` (0-40 ms both ways)."""
    clean = lambda s: Impairment(s)  # noqa: E731
    if name == "clean":
        return clean(seed), clean(seed + 1)
    for prefix in ("up", "down", "both"):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            p = int(name[len(prefix):]) / 100.0
            up = Impairment(seed, loss=p) if prefix in ("up", "both") else clean(seed)
            down = Impairment(seed + 1, loss=p) if prefix in ("down", "both") else clean(seed + 1)
            return up, down
    if name == "bursty10":
        # On the way down, 10 % of packets in bursts (Gilbert-Elliott: stationary loss
        # start / (start + end), mean burst 1 / end = 2 packets).
        return clean(seed), Impairment(seed + 1, burst_start=0.0556, burst_end=0.5)
    if name.startswith("jitter") and name[6:].isdigit():
        j = float(name[6:])
        return Impairment(seed, jitter_ms=j), Impairment(seed + 1, jitter_ms=j)
    raise SystemExit(f"unknown case {name!r}")


class Proxy:
    """The impairing UDP path between the clients and the relay, on its own event loop."""

    def __init__(self, relay_port):
        self.relay = ("127.0.0.1", relay_port)
        self.loop = asyncio.new_event_loop()
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.front.setblocking(False)
        self.port = self.front.getsockname()[1]
        self.flows = {}
        self.up = Impairment(0)
        self.down = Impairment(1)
        threading.Thread(target=self._run, daemon=True).start()

    def configure(self, up, down):
        def swap():
            self.up, self.down = up, down
            for sock in self.flows.values():
                self.loop.remove_reader(sock.fileno())
                sock.close()
            self.flows.clear()
        self.loop.call_soon_threadsafe(swap)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.add_reader(self.front.fileno(), self._from_client)
        self.loop.run_forever()

    def _later(self, delay, sock, data, addr):
        def send():
            try:
                sock.sendto(data, addr)
            except OSError:
                pass  # a flow closed between cases
        if delay <= 0.0:
            send()
        else:
            self.loop.call_later(delay, send)

    def _from_client(self):
        while True:
            try:
                data, client = self.front.recvfrom(2048)
            except BlockingIOError:
                return
            sock = self.flows.get(client)
            if sock is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                sock.setblocking(False)
                self.flows[client] = sock
                self.loop.add_reader(sock.fileno(), self._from_relay, sock, client)
            delay = self.up.verdict()
            if delay is not None:
                self._later(delay, sock, data, self.relay)

    def _from_relay(self, sock, client):
        while True:
            try:
                data, _ = sock.recvfrom(2048)
            except (BlockingIOError, OSError):
                return
            delay = self.down.verdict()
            if delay is not None:
                self._later(delay, self.front, data, client)


def favoured():
    """Runs a child at a higher CPU priority where we may (root): the measurement is of
    the call, not of a build running beside it on a 2-core machine."""
    try:
        os.nice(-10)
    except OSError:
        pass


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rest(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read()
        return json.loads(text) if text else None


class Server:
    def __init__(self, binary, work, proxy_port_cb):
        self.http = free_port()
        self.udp = free_port(socket.SOCK_DGRAM)
        self.proxy = proxy_port_cb(self.udp)
        config = work / "server.toml"
        config.write_text(
            f'data_dir = "{work / "data"}"\n'
            f'[http]\nlisten = "127.0.0.1:{self.http}"\n'
            f'[voice]\nudp_listen = "127.0.0.1:{self.udp}"\n'
            f'public_addresses = ["127.0.0.1:{self.proxy.port}"]\n'
            '[log]\nlevel = "warn"\n')
        self.log = open(work / "server.log", "w")
        self.proc = subprocess.Popen([binary, "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=favoured)
        self.base = f"http://127.0.0.1:{self.http}"
        for _ in range(200):
            try:
                rest(self.base, "GET", "/healthz")
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"the server did not start; see {work / 'server.log'}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Cli:
    def __init__(self, binary, work, base, user):
        self.binary, self.profile = binary, work / f"profile-{user}"
        out = subprocess.run(self.cmd(["login", "--server", base, "--user", user]),
                             env={**os.environ, "AURASPEAK_PASSWORD": PASSWORD},
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise SystemExit(f"login {user}: {out.stderr}")

    def cmd(self, args):
        return [self.binary, "--profile-dir", str(self.profile)] + args

    def join(self, args, stderr):
        return subprocess.Popen(self.cmd(["--json", "voice", "join", CHANNEL] + args),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                text=True, preexec_fn=favoured)


def setup_community(base):
    tokens = {}
    for user in ("speaker", "listener"):
        auth = rest(base, "POST", "/api/v1/auth/register",
                    {"username": user, "email": f"{user}@example.com", "password": PASSWORD})
        tokens[user] = auth["tokens"]["access_token"]
    detail = rest(base, "POST", "/api/v1/servers", {"name": "Relay Lab"}, tokens["speaker"])
    invite = rest(base, "POST", f"/api/v1/servers/{detail['server']['id']}/invites", {},
                  tokens["speaker"])
    rest(base, "POST", f"/api/v1/invites/{invite['code']}", {}, tokens["listener"])


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {}


def call(speaker, listener, speech, recording, join_args, work, label, listener_args=None):
    """One call: the listener joins, then the speaker plays `speech` and leaves. Returns
    both CLIs' JSON summaries."""
    err = open(work / f"{label}.stderr", "w")
    lst = listener.join(listener_args if listener_args is not None else
                        ["--input", "none", "--output", str(recording)] + join_args, err)
    time.sleep(2.0)  # signaling, ICE and DTLS: the speech must not start into a half-made call
    spk = speaker.join(["--input", str(speech), "--output", "none"] + join_args, err)
    try:
        spk_out, _ = spk.communicate(timeout=120)
        time.sleep(1.5)  # the last packets' way through the jitter buffer
        lst_out, _ = lst.communicate("leave\n", timeout=30)
    finally:
        for p in (spk, lst):
            if p.poll() is None:
                p.kill()
    return last_json(spk_out), last_json(lst_out)


def score(reference, recording):
    ref = vq.load_16k(str(reference))
    rec = vq.load_16k(str(recording))
    if len(rec) < len(ref) // 2:
        return float("nan"), float("nan")
    # The listener records from before the speaker joined (usually 1-3 s, up to 8 s when a
    # join is slow); the talk's two halves look alike, so a search over all of it could
    # lock onto the second. The talk starts with speech, so the lag is searched around the
    # first sound the listener heard.
    lag = lag_around_onset(ref, rec)
    aligned = rec[lag:lag + len(ref)]
    if len(aligned) < len(ref):
        aligned = list(aligned) + [0.0] * (len(ref) - len(aligned))
    import numpy as np
    aligned = np.asarray(aligned, dtype="float64")
    try:
        return vq.pesq(vq.RATE, ref, aligned, "wb"), lag / vq.RATE
    except Exception as e:  # noqa: BLE001  pesq raises on a recording without speech
        print(f"  PESQ failed on {recording}: {e}", file=sys.stderr)
        return float("nan"), lag / vq.RATE


def lag_around_onset(ref, rec):
    import numpy as np
    rec = np.asarray(rec, dtype="float64")
    frame = vq.RATE // 100
    frames = len(rec) // frame
    levels = (rec[:frames * frame].reshape(frames, frame) ** 2).mean(axis=1)
    loud = np.nonzero(levels > 10 ** (-50 / 10))[0]
    onset = int(loud[0]) * frame if len(loud) else 0
    start = max(0, onset - vq.RATE)
    return start + lag_samples(ref, rec[start:], 2 * vq.RATE)


def lag_samples(ref, rec, max_lag):
    import numpy as np
    from scipy.signal import correlate
    xc = correlate(rec, ref, mode="full", method="fft")
    zero = len(ref) - 1
    window = xc[zero:zero + max_lag + 1]
    return int(np.argmax(window)) if len(window) else 0


def fmt(v, spec=".2f"):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def quality(args, work, speaker, listener, proxy):
    cases = args.cases.split(",")
    rows = []
    for case in cases:
        for speech in args.speech:
            for run in range(args.runs):
                seed = 1000 * (run + 1) + cases.index(case)
                up, down = case_config(case, seed)
                proxy.configure(up, down)
                label = f"{case}-{Path(speech).stem}-{run}"
                recording = work / f"{label}.wav"
                s, lsum = call(speaker, listener, speech, recording, args.join_arg, work, label)
                pesq_wb, lag = score(speech, recording)
                secs = max(1e-9, vq_duration(speech))
                row = {
                    "case": case, "speech": Path(speech).stem, "run": run, "pesq": pesq_wb,
                    "lag_s": lag, "up_dropped": up.dropped / max(1, up.sent),
                    "down_dropped": down.dropped / max(1, down.sent),
                    "kbps_up": s.get("bytes_sent", 0) * 8 / 1000 / secs,
                    "speaker": s, "listener": lsum,
                }
                rows.append(row)
                print(f"{label}: PESQ {fmt(pesq_wb)}  (proxy dropped up {row['up_dropped']:.1%}, "
                      f"down {row['down_dropped']:.1%}; speaker sees loss up "
                      f"{fmt(s.get('upstream_loss'), '.3f')} rtt {fmt(s.get('rtt_ms'), '.1f')}; "
                      f"listener sees loss down {fmt(lsum.get('downstream_loss'), '.3f')}; "
                      f"{row['kbps_up']:.1f} kb/s up)", flush=True)
    (work / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    print("\n| link | PESQ-WB median | runs | sender kb/s (median) |")
    print("|---|---|---|---|")
    for case in cases:
        rs = [r for r in rows if r["case"] == case]
        scores = [r["pesq"] for r in rs if not math.isnan(r["pesq"])]
        med = statistics.median(scores) if scores else float("nan")
        kbps = statistics.median([r["kbps_up"] for r in rs])
        print(f"| {case} | {fmt(med)} | {len(scores)}/{len(rs)} | {kbps:.1f} |")


def noise(args, work, speaker, listener, proxy):
    """The engine's noise mixes through a clean call, against plain RNNoise on the same
    microphone signal (scored the same way, so the comparison is like for like)."""
    src = Path(args.noise_dir)
    mixes = sorted(src.glob("noise-*-noisy.wav"))
    if not mixes:
        sys.exit(f"no noise-*-noisy.wav in {src}: run the voice_quality example's noise mode")
    rows = []
    for mix in mixes:
        stem = mix.name[len("noise-"):-len("-noisy.wav")]
        # "{fixture}-{kind}-{snr}dB": the fixture's name has dashes of its own.
        fixture, kind, snr = stem.rsplit("-", 2)
        reference = src / f"noise-{fixture}-ref.wav"
        rnnoise_pesq, _ = score(reference, src / f"noise-{stem}-rnnoise.wav")
        noisy_pesq, _ = score(reference, mix)
        for run in range(args.runs):
            proxy.configure(Impairment(run), Impairment(run + 1))
            label = f"noise-{stem}-{run}"
            recording = work / f"{label}.wav"
            call(speaker, listener, mix, recording, args.join_arg, work, label)
            pesq_wb, _ = score(reference, recording)
            rows.append({"fixture": fixture, "kind": kind, "snr": snr, "run": run,
                         "call": pesq_wb, "rnnoise": rnnoise_pesq, "noisy": noisy_pesq})
            print(f"{label}: call {fmt(pesq_wb)}  plain RNNoise {fmt(rnnoise_pesq)}  "
                  f"unprocessed {fmt(noisy_pesq)}", flush=True)
    (work / "noise-results.json").write_text(json.dumps(rows, indent=1))
    print("\n| noise | SNR | unprocessed | plain RNNoise | through the call | call - RNNoise |")
    print("|---|---|---|---|---|---|")
    gains = []
    for key in sorted({(r["kind"], r["snr"]) for r in rows}, key=lambda k: (k[0], int(k[1][:-2]))):
        rs = [r for r in rows if (r["kind"], r["snr"]) == key]
        med = {f: statistics.median([r[f] for r in rs]) for f in ("noisy", "rnnoise", "call")}
        gains.append(med["call"] - med["rnnoise"])
        print(f"| {key[0]} | {key[1]} | {fmt(med['noisy'])} | {fmt(med['rnnoise'])} | "
              f"{fmt(med['call'])} | {med['call'] - med['rnnoise']:+.2f} |")
    print(f"\nmean gain of the call over plain RNNoise: {statistics.mean(gains):+.2f} "
          f"(medians of {args.runs} run(s) per mix, both fixtures)")


def vq_duration(path):
    import soundfile
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def pactl(*a):
    return subprocess.run(["pactl", *a], check=True, capture_output=True, text=True).stdout


def latency(args, work, speaker, listener, proxy):
    """Mouth-to-ear through PulseAudio: a stereo null sink whose left channel is the
    speaker's microphone and whose right channel the listener plays into."""
    sink = "auraspeak_m2e"
    modules = [pactl("load-module", "module-null-sink", f"sink_name={sink}",
                     "channels=2", "channel_map=front-left,front-right", "rate=48000").strip()]
    # A null sink renders in blocks as long as the lowest latency its streams ask for (2 s
    # with none): a reader asking for 10 ms keeps it rendering in 10 ms steps throughout.
    keeper = subprocess.Popen(["parec", f"--device={sink}.monitor", "--latency-msec=10"],
                              stdout=subprocess.DEVNULL)
    try:
        # The speaker's microphone: the monitor's left channel, as a mono source.
        modules.append(pactl("load-module", "module-remap-source", "source_name=m2e_mouth",
                             f"master={sink}.monitor", "channels=1", "master_channel_map=front-left",
                             "channel_map=mono").strip())
        # The listener's speaker: a mono sink feeding the null sink's right channel.
        modules.append(pactl("load-module", "module-remap-sink", "sink_name=m2e_ear",
                             f"master={sink}", "channels=1", "master_channel_map=front-right",
                             "channel_map=mono").strip())
        # The speaker's own speakers (a headset: nothing of them reaches its microphone).
        # With a device on both sides the speaker's call runs as a desktop user's does,
        # echo canceller included; with `--output none` it would not.
        modules.append(pactl("load-module", "module-null-sink", "sink_name=m2e_headset",
                             "channels=1", "rate=48000").strip())
        results = []
        pesqs = []
        for run in range(args.runs):
            proxy.configure(Impairment(run), Impairment(run + 1))
            label = f"latency-{run}"
            capture = work / f"{label}-monitor.wav"
            err = open(work / f"{label}.stderr", "w")
            lst = listener.join(["--input", "none", "--output", "m2e_ear"] + args.join_arg, err)
            spk = speaker.join(["--input", "m2e_mouth", "--output", "m2e_headset"] + args.join_arg,
                               err)
            time.sleep(3.0)
            rec = subprocess.Popen(["parecord", f"--device={sink}.monitor", "--channels=2",
                                    "--rate=48000", "--format=float32le", "--file-format=wav",
                                    str(capture)])
            time.sleep(0.5)
            # A talker into the left channel only: the click-free speech fixture.
            play = subprocess.run(["paplay", f"--device={sink}", "--channel-map=front-left",
                                   str(args.speech[0])], timeout=60)
            time.sleep(1.0)
            rec.terminate()
            rec.wait(5)
            for p in (spk, lst):
                try:
                    p.communicate("leave\n", timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
            import numpy as np
            import soundfile
            both, rate = soundfile.read(str(capture), dtype="float64")
            mouth, ear = both[:, 0], both[:, 1]
            lag = lag_samples(mouth, ear, int(0.5 * rate))
            ms = lag * 1000.0 / rate
            level = 10 * math.log10(max(1e-12, float(np.mean(ear ** 2))))
            results.append(ms)
            quality = ear_pesq(mouth, ear, lag, rate)
            pesqs.append(quality)
            print(f"{label}: mouth-to-ear {ms:.1f} ms, PESQ-WB {quality:.2f} (ear level "
                  f"{level:.1f} dBFS, paplay rc {play.returncode})", flush=True)
        print(f"\nmouth-to-ear median {statistics.median(results):.1f} ms over {len(results)} runs, "
              f"spread {min(results):.1f}-{max(results):.1f} ms; PESQ-WB of the ear against "
              f"the mouth median {statistics.median(pesqs):.2f}")
    finally:
        keeper.terminate()
        for m in reversed(modules):
            subprocess.run(["pactl", "unload-module", m], capture_output=True)


def echo(args, work, speaker, listener, proxy):
    """Echo through real devices: the listener's speaker output is looped back into its own
    microphone (module-loopback, 60 ms, full level, as loud laptop speakers next to the
    microphone), the speaker talks from a file and records what comes back. With echo
    cancellation on at the listener the speaker should hear nothing of itself; off, it
    hears itself a round trip later. Prints the level of the returned echo both ways."""
    import numpy as np
    import soundfile

    modules = []
    keepers = []
    try:
        for sink in ("aec_room_out", "aec_room_mic"):
            modules.append(pactl("load-module", "module-null-sink", f"sink_name={sink}",
                                 "channels=1", "rate=48000").strip())
            keepers.append(subprocess.Popen(["parec", f"--device={sink}.monitor",
                                             "--latency-msec=10"], stdout=subprocess.DEVNULL))
        modules.append(pactl("load-module", "module-remap-source", "source_name=aec_room_mouth",
                             "master=aec_room_mic.monitor", "channels=1",
                             "channel_map=mono").strip())
        modules.append(pactl("load-module", "module-loopback", "source=aec_room_out.monitor",
                             "sink=aec_room_mic", "latency_msec=60").strip())
        speech = Path(args.speech[0])
        ref, rate = soundfile.read(str(speech), dtype="float64")
        speech_db = 10 * math.log10(float(np.mean(ref ** 2)) + 1e-20)
        results = {"on": [], "off": []}
        for run in range(args.runs):
            for mode in ("off", "on"):
                proxy.configure(Impairment(0), Impairment(0))
                label = f"echo-{mode}-{run}"
                recording = work / f"{label}.wav"
                err = open(work / f"{label}.stderr", "w")
                lst = listener.join(["--input", "aec_room_mouth", "--output", "aec_room_out",
                                     "--echo-cancellation", mode] + args.join_arg, err)
                time.sleep(2.0)
                spk = speaker.join(["--input", str(speech), "--output", str(recording)]
                                   + args.join_arg, err)
                try:
                    spk.communicate(timeout=120)
                    lst.communicate("leave\n", timeout=30)
                finally:
                    for p in (spk, lst):
                        if p.poll() is None:
                            p.kill()
                back, _ = soundfile.read(str(recording), dtype="float64")
                level = 10 * math.log10(float(np.mean(back ** 2)) + 1e-20)
                results[mode].append(level - speech_db)
                print(f"{label}: the speaker heard itself at {level - speech_db:+.1f} dB "
                      f"relative to what it said ({level:.1f} dBFS)", flush=True)
        off, on = statistics.median(results["off"]), statistics.median(results["on"])
        print(f"\necho returned to the speaker, medians of {args.runs} runs: "
              f"{off:+.1f} dB without cancellation, {on:+.1f} dB with, {off - on:.1f} dB less")
    finally:
        for k in keepers:
            k.terminate()
        for m in reversed(modules):
            subprocess.run(["pactl", "unload-module", m], capture_output=True)


def ear_pesq(mouth, ear, lag, rate):
    """PESQ-WB of what the listener played against what the speaker said, aligned by the
    measured mouth-to-ear lag; the mouth channel is trimmed to where the talk is."""
    import numpy as np
    from scipy.signal import resample_poly
    from pesq import pesq
    talking = np.nonzero(np.abs(mouth) > 1e-3)[0]
    if len(talking) == 0:
        return float("nan")
    start, end = talking[0], talking[-1]
    ref = mouth[start:end]
    deg = ear[start + lag:end + lag]
    if len(deg) < len(ref):
        return float("nan")
    try:
        return pesq(16000, resample_poly(ref, 1, rate // 16000), resample_poly(deg, 1, rate // 16000), "wb")
    except Exception:
        return float("nan")


def composite_speech(work):
    """Both fixtures twice with short pauses between: about 12 s, the length PESQ is made
    for (P.862: 8-20 s), with the pauses a conversation has. Scored from its first sample."""
    import numpy as np
    import soundfile
    parts = []
    for path in FIXTURES + FIXTURES:
        samples, rate = soundfile.read(str(path), dtype="float32")
        parts += [samples, np.zeros(int(0.4 * rate), dtype="float32")]
    out = work / "speech.wav"
    soundfile.write(str(out), np.concatenate(parts[:-1]), rate, subtype="PCM_16")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out")
    ap.add_argument("--mode", default="quality", choices=["quality", "noise", "latency", "echo"])
    ap.add_argument("--noise-dir", help="where `voice_quality OUT noise` wrote its mixes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases",
                    default="clean,up10,down10,both10,up20,down20,bursty10,jitter40")
    ap.add_argument("--speech", nargs="*",
                    help="WAV files to speak (default: the fixtures, joined into one ~12 s talk)")
    ap.add_argument("--join-arg", action="append", default=[])
    args = ap.parse_args()
    favoured()  # the impairment proxy's timers run in this process
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="auraspeak-relay-"))
    if work.exists() and args.out:
        shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    if not args.speech:
        args.speech = [str(composite_speech(work))]
    proxy_holder = {}

    def make_proxy(udp):
        proxy_holder["p"] = Proxy(udp)
        return proxy_holder["p"]

    server = Server(args.server, work, make_proxy)
    try:
        setup_community(server.base)
        speaker = Cli(args.cli, work, server.base, "speaker")
        listener = Cli(args.cli, work, server.base, "listener")
        if args.mode == "quality":
            quality(args, work, speaker, listener, proxy_holder["p"])
        elif args.mode == "noise":
            noise(args, work, speaker, listener, proxy_holder["p"])
        elif args.mode == "echo":
            echo(args, work, speaker, listener, proxy_holder["p"])
        else:
            latency(args, work, speaker, listener, proxy_holder["p"])
    finally:
        server.stop()
    print(f"files in {work}")


if __name__ == "__main__":
    main()
