#!/usr/bin/env python3
"""Scores the echo canceller on the calls `examples/echo_quality.rs` simulated.

Usage: echo-quality.py DIR [--reference]

Per case: ERLE (how much quieter the output is than the microphone where there is echo),
in single talk from 2 s on, after a delay jump from 1 s and from 4 s on; in double talk
the share of the near talker's 10 ms frames more than 10 dB below itself (ducking), and
PESQ-WB of the near talker against what the microphone had (no cancellation) and what the
canceller let through.

With --reference the same microphone and far-end signals also go through WebRTC's C++
AEC3 as LiveKit's Python package ships it (`pip install livekit`), scored the same way,
so the port's figures can be read against the original's. Needs numpy, scipy, soundfile
and pesq (scripts/voice-quality.sh installs them into a throwaway virtualenv).
"""

import argparse
from pathlib import Path

import numpy as np
import soundfile
from pesq import pesq
from scipy.signal import resample_poly

RATE = 48000
FRAME = 480


def read(path):
    data, rate = soundfile.read(str(path), dtype="float32")
    assert rate == RATE, f"{path}: {rate} Hz"
    return data


def frame_db(x):
    n = len(x) // FRAME
    e = (x[: n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2).mean(axis=1)
    return 10 * np.log10(np.maximum(e, 1e-20))


def erle(mic, out, echo, start, end=None):
    end = len(mic) if end is None else min(end, len(mic))
    m, o, e = mic[start:end], out[start:end], echo[start:end]
    active = frame_db(e) > -60
    n = len(active)
    mf = m[: n * FRAME].reshape(n, FRAME)[active]
    of = o[: n * FRAME].reshape(n, FRAME)[active]
    return 10 * np.log10(max((mf.astype(np.float64) ** 2).sum(), 1e-20) /
                         max((of.astype(np.float64) ** 2).sum(), 1e-20))


def ducking(near, out, start):
    nd, od = frame_db(near[start:]), frame_db(out[start:])
    n = min(len(nd), len(od))
    talking = nd[:n] > -40
    drops = nd[:n][talking] - od[:n][talking]
    return int((drops > 10).sum()), int(talking.sum())


def wb_pesq(ref, deg):
    ref16 = resample_poly(ref, 1, 3)
    deg16 = resample_poly(deg, 1, 3)
    try:
        return pesq(16000, ref16, deg16, "wb")
    except Exception:  # no utterance found and similar: report, do not abort the table
        return float("nan")


def reference_aec(far, mic):
    """WebRTC's C++ AEC3 through LiveKit's APM; output aligned with the microphone."""
    from livekit import rtc

    apm = rtc.AudioProcessingModule(echo_cancellation=True)
    out = np.zeros_like(mic)
    to_i16 = lambda x: np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    for i in range(len(mic) // FRAME):
        s = slice(i * FRAME, (i + 1) * FRAME)
        render = rtc.AudioFrame(to_i16(far[s]).tobytes(), RATE, 1, FRAME)
        apm.process_reverse_stream(render)
        capture = rtc.AudioFrame(to_i16(mic[s]).tobytes(), RATE, 1, FRAME)
        apm.process_stream(capture)
        out[s] = np.frombuffer(bytes(capture.data), dtype=np.int16).astype(np.float32) / 32768
    # Align by the lag that best matches the microphone where no far end plays.
    best, lag = -1.0, 0
    for candidate in range(0, 1200, 2):
        a, b = mic[: len(mic) - candidate], out[candidate:]
        c = abs(float(np.dot(a[: 5 * RATE], b[: 5 * RATE])))
        if c > best:
            best, lag = c, candidate
    aligned = np.zeros_like(out)
    aligned[: len(out) - lag] = out[lag:]
    return aligned


def score(name, start, jump, sig, out):
    mic, near, echo = sig["mic"], sig["near"], sig["echo"]
    if name.startswith("single"):
        return f"ERLE {erle(mic, out, echo, start):5.1f} dB"
    if name.startswith("jump"):
        return (f"ERLE {erle(mic, out, echo, start, jump):5.1f} before, "
                f"{erle(mic, out, echo, jump + RATE, jump + 2 * RATE):5.1f} 1-2 s after, "
                f"{erle(mic, out, echo, jump + 4 * RATE):5.1f} from 4 s after")
    ducked, talking = ducking(near, out, start)
    p_off = wb_pesq(near[start:], mic[start:])
    p_on = wb_pesq(near[start:], out[start:])
    late = ""
    if name == "headset":
        d20, t20 = ducking(near, out, 20 * RATE)
        late = f", after 20 s {d20}/{t20}"
    return (f"ducked {ducked}/{talking} frames{late}; PESQ-WB near talker "
            f"{p_off:.2f} without cancellation, {p_on:.2f} with ({p_on - p_off:+.2f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--reference", action="store_true")
    args = ap.parse_args()
    d = Path(args.dir)
    for line in (d / "cases.txt").read_text().split("\n"):
        if not line.strip():
            continue
        name, start, jump = line.split()
        start, jump = int(start), int(jump)
        sig = {k: read(d / f"{name}.{k}.wav") for k in ["far", "near", "echo", "mic", "out"]}
        print(f"{name:<24} port: {score(name, start, jump, sig, sig['out'])}")
        if args.reference:
            ref = reference_aec(sig["far"], sig["mic"])
            print(f"{'':<24} C++:  {score(name, start, jump, sig, ref)}")


if __name__ == "__main__":
    main()
