#!/usr/bin/env python3
"""Interop with a second, independent WebRTC stack: an aiortc participant (peer.py) and
the CLI (`auraspeak voice join`) in one voice channel of a real `auraspeak-server` on
loopback (temporary data dir, SQLite).

  (a) aiortc speaks the fixture, the CLI records: the CLI hears it.
  (b) the CLI speaks the fixture, aiortc records: aiortc hears it.

"Hears" is judged like e2e/tests/browser_voice.rs: every half second of the recording
with sound in it is matched against the best stretch of the spoken file (normalised
cross-correlation), and the median of those matches must be high, and well above what
an unrelated voice (the other fixture, which nobody spoke) scores on the same recording.
Nothing keeps one alignment for a whole recording (the CLI's jitter buffer stretches and
shrinks time), hence windows rather than one lag.

Usage: interop.py --server BIN --cli BIN [--runs N] [--keep DIR]
Exits non-zero when a check fails; prints the figures either way.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import fftconvolve, resample_poly

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SPEECH = ROOT / "client/tests/fixtures/speech-en-us-male.wav"
UNRELATED = ROOT / "client/tests/fixtures/speech-en-gb-female.wav"
PASSWORD = "correct horse battery staple 42"
SERVER_NAME = "Interop Lab"
CHANNEL = f"{SERVER_NAME}/General"
RATE = 16000  # scoring rate: speech lives below 8 kHz, and it keeps the FFTs small
WINDOW = RATE // 2
SOUND_FLOOR_DB = -50.0
# Thresholds, from 14 runs of each direction with debug binaries when this was written:
# aiortc → CLI 0.964-0.973, CLI → aiortc 0.798-0.840 (the CLI's capture chain, noise
# suppression and gain control reshape the waveform before Opus); the unrelated voice
# 0.181-0.304 wherever it fits best. 0.6 and a 0.3 margin sit between, with room for a
# slow machine; an answer that aiortc cannot connect with scores 0 over 0 windows.
MIN_MATCH = 0.6
MIN_MARGIN = 0.3
CONNECT_WAIT_S = 3.0  # signaling, ICE and DTLS before the speech starts
STEP_TIMEOUT_S = 60


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
    def __init__(self, binary, work):
        http, udp = free_port(), free_port(socket.SOCK_DGRAM)
        config = work / "server.toml"
        config.write_text(
            f'data_dir = "{work / "data"}"\n'
            f'[http]\nlisten = "127.0.0.1:{http}"\n'
            f'[voice]\nudp_listen = "127.0.0.1:{udp}"\n'
            f'public_addresses = ["127.0.0.1:{udp}"]\n'
            '[log]\nlevel = "info"\n')
        self.log_path = work / "server.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{http}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                rest(self.base, "GET", "/healthz")
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"the server did not start; see {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def setup_community(base):
    """Two accounts, `cli` and `aiortc`, both members of one server."""
    tokens = {}
    for user in ("cli", "aiortc"):
        auth = rest(base, "POST", "/api/v1/auth/register",
                    {"username": user, "email": f"{user}@example.com", "password": PASSWORD})
        tokens[user] = auth["tokens"]["access_token"]
    detail = rest(base, "POST", "/api/v1/servers", {"name": SERVER_NAME}, tokens["cli"])
    invite = rest(base, "POST", f"/api/v1/servers/{detail['server']['id']}/invites", {},
                  tokens["cli"])
    rest(base, "POST", f"/api/v1/invites/{invite['code']}", {}, tokens["aiortc"])


class Cli:
    def __init__(self, binary, work, base):
        self.binary, self.profile = binary, work / "profile-cli"
        out = subprocess.run(self.cmd(["login", "--server", base, "--user", "cli"]),
                             env={**os.environ, "AURASPEAK_PASSWORD": PASSWORD},
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise SystemExit(f"CLI login failed: {out.stderr}")

    def cmd(self, args):
        return [self.binary, "--profile-dir", str(self.profile)] + args

    def join(self, args, stderr):
        return subprocess.Popen(self.cmd(["--json", "voice", "join", CHANNEL] + args),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                text=True)


def peer(base, args, stderr):
    return subprocess.Popen(
        [sys.executable, str(HERE / "peer.py"), "--server", base, "--login", "aiortc",
         "--channel", CHANNEL, "--loopback"] + args,
        env={**os.environ, "AURASPEAK_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE, stderr=stderr, text=True)


def last_json(text):
    for line in reversed((text or "").strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {}


def finish(proc, stdin=None):
    """Waits for a participant (sending `stdin` first), killing it past the step timeout."""
    try:
        out, _ = proc.communicate(stdin, timeout=STEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        print(f"  timed out: {proc.args[:3]}", file=sys.stderr)
    return last_json(out), proc.returncode


def speech_seconds(path):
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def aiortc_speaks(cli, base, work, run):
    """(a): the CLI joins and records; aiortc joins, plays the fixture, leaves."""
    recording = work / f"a-{run}-cli-heard.wav"
    err = open(work / f"a-{run}.stderr", "w")
    listener = cli.join(["--input", "none", "--output", str(recording)], err)
    time.sleep(CONNECT_WAIT_S)
    speaker = peer(base, ["--play", str(SPEECH),
                          "--duration", str(CONNECT_WAIT_S + speech_seconds(SPEECH) + 1.5)], err)
    peer_summary, peer_rc = finish(speaker)
    time.sleep(1.0)  # the last packets' way through the CLI's jitter buffer
    cli_summary, cli_rc = finish(listener, "leave\n")
    return recording, {"aiortc": peer_summary, "aiortc_rc": peer_rc, "cli": cli_summary,
                       "cli_rc": cli_rc}


def cli_speaks(cli, base, work, run):
    """(b): aiortc joins and records; the CLI joins, plays the fixture, leaves."""
    recording = work / f"b-{run}-aiortc-heard.wav"
    err = open(work / f"b-{run}.stderr", "w")
    duration = 2 * CONNECT_WAIT_S + speech_seconds(SPEECH) + 2.5
    listener = peer(base, ["--record", str(recording), "--duration", str(duration)], err)
    time.sleep(CONNECT_WAIT_S)
    speaker = cli.join(["--input", str(SPEECH), "--output", "none"], err)
    cli_summary, cli_rc = finish(speaker)
    peer_summary, peer_rc = finish(listener)
    return recording, {"aiortc": peer_summary, "aiortc_rc": peer_rc, "cli": cli_summary,
                       "cli_rc": cli_rc}


def load(path):
    samples, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    mono = samples.mean(axis=1)
    return resample_poly(mono, RATE, rate) if rate != RATE else mono


def level_db(x):
    return 10 * np.log10(max(1e-20, float(np.mean(x ** 2)))) if len(x) else -200.0


def best_match(window, source):
    """The highest normalised cross-correlation of `window` with any stretch of `source`."""
    w = window - window.mean()
    num = fftconvolve(source, w[::-1], mode="valid")
    energy = np.cumsum(np.concatenate(([0.0], source ** 2)))
    sums = np.cumsum(np.concatenate(([0.0], source)))
    n = len(w)
    local = (energy[n:] - energy[:-n]) - (sums[n:] - sums[:-n]) ** 2 / n
    den = np.sqrt(np.maximum(local, 1e-12) * float(np.sum(w ** 2)))
    return float(np.max(num / den))


def searchable(samples):
    """The file with half a second of silence around: any window of a recording of it
    (started early or late) finds its stretch."""
    pad = np.zeros(WINDOW)
    return np.concatenate((pad, samples, pad))


def window_median(heard, source):
    windows = [heard[i:i + WINDOW] for i in range(0, len(heard) - WINDOW + 1, WINDOW)]
    scores = [best_match(w, source) for w in windows if level_db(w) > SOUND_FLOOR_DB]
    return (statistics.median(scores) if scores else 0.0), len(scores)


def judge(recording):
    if not recording.exists():
        return {"match": 0.0, "unrelated": 0.0, "windows": 0, "level_db": -200.0}
    heard = load(recording)
    match, windows = window_median(heard, searchable(load(SPEECH)))
    unrelated, _ = window_median(heard, searchable(load(UNRELATED)))
    loud = heard[np.abs(heard) > 1e-4]
    return {"match": match, "unrelated": unrelated, "windows": windows,
            "level_db": level_db(loud)}


def pesq_wb(recording):
    """PESQ-WB of the recording at its best single alignment, where the `pesq` package is
    installed (it builds from source, so the CI venv leaves it out): a figure to compare
    with scripts/voice-quality.sh, not part of the verdict."""
    try:
        from pesq import pesq
    except ImportError:
        return None
    if not recording.exists():
        return None
    ref, heard = load(SPEECH), load(recording)
    if len(heard) < len(ref) // 2:
        return None
    # The recording ends with the last sound it got: room for the file's own tail.
    heard = np.concatenate((heard, np.zeros(len(ref))))
    lag = int(np.argmax(fftconvolve(heard, ref[::-1], mode="valid")))
    try:
        return float(pesq(RATE, ref, heard[lag:lag + len(ref)], "wb"))
    except Exception:  # noqa: BLE001  pesq raises on a recording without speech
        return None


def passed(score, info):
    return (info["aiortc_rc"] == 0 and info["cli_rc"] == 0 and score["windows"] >= 3
            and score["match"] > MIN_MATCH and score["match"] > score["unrelated"] + MIN_MARGIN)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="auraspeak-server binary")
    ap.add_argument("--cli", required=True, help="auraspeak binary")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", help="keep the logs and recordings in this folder")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="auraspeak-aiortc-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    failures = []
    server = Server(args.server, work)
    try:
        setup_community(server.base)
        cli = Cli(args.cli, work, server.base)
        for run in range(args.runs):
            for label, step in (("aiortc -> CLI", aiortc_speaks), ("CLI -> aiortc", cli_speaks)):
                recording, info = step(cli, server.base, work, run)
                score = judge(recording)
                ok = passed(score, info)
                pesq_figure = pesq_wb(recording)
                pesq_text = "" if pesq_figure is None else f", PESQ-WB {pesq_figure:.2f}"
                print(f"{label} run {run}: median window correlation {score['match']:.3f} "
                      f"(unrelated voice {score['unrelated']:.3f}) over {score['windows']} "
                      f"windows, level {score['level_db']:.1f} dB{pesq_text}; "
                      f"aiortc exit {info['aiortc_rc']} {info['aiortc']}; "
                      f"CLI exit {info['cli_rc']}, "
                      f"{ {k: info['cli'].get(k) for k in ('packets_sent', 'packets_received')} }"
                      f" -> {'ok' if ok else 'FAIL'}", flush=True)
                if not ok:
                    failures.append(f"{label} run {run}")
    finally:
        server.stop()
        if failures or args.keep:
            print(f"logs and recordings in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"aiortc interop failed: {', '.join(failures)}", file=sys.stderr)
        sys.exit(1)
    print("aiortc interop: both directions heard")


if __name__ == "__main__":
    main()
