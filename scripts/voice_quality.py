#!/usr/bin/env python3
"""Scores the WAV files listed in a manifest written by the `voice_quality` example with
wideband PESQ (ITU-T P.862.2, the `pesq` package) and prints tables.

Each processed file is compared with its clean reference after both are downsampled from
48 kHz to 16 kHz (wideband PESQ's rate) and the processed one is aligned to the reference
by cross-correlation, so the engine's latency does not count as distortion.

Usage: voice_quality.py MANIFEST.tsv
"""

import csv
import math
import sys
from collections import defaultdict

import numpy as np
import soundfile
from pesq import pesq
from scipy.signal import correlate, resample_poly

RATE = 16_000
MAX_LAG_S = 0.5


def load_16k(path):
    samples, rate = soundfile.read(path, dtype="float64")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != RATE:
        g = math.gcd(rate, RATE)
        samples = resample_poly(samples, RATE // g, rate // g)
    return samples


def align(reference, processed):
    """`processed` shifted so it lines up with `reference`, cut or padded to its length."""
    max_lag = int(MAX_LAG_S * RATE)
    xc = correlate(processed, reference, mode="full", method="fft")
    zero = len(reference) - 1  # index of lag 0 in the full correlation
    window = xc[zero : zero + max_lag + 1]
    lag = int(np.argmax(window)) if len(window) else 0
    shifted = processed[lag:]
    out = np.zeros(len(reference))
    n = min(len(out), len(shifted))
    out[:n] = shifted[:n]
    return out, lag / RATE


def score(reference_path, processed_path):
    reference = load_16k(reference_path)
    processed, lag = align(reference, load_16k(processed_path))
    try:
        return pesq(RATE, reference, processed, "wb"), lag
    except Exception as e:  # pesq raises on files without detectable speech
        print(f"  PESQ failed on {processed_path}: {e}", file=sys.stderr)
        return float("nan"), lag


def mean(values):
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def loss_table(rows):
    by = defaultdict(list)
    for r in rows:
        by[(r["case"], r["variant"])].append(r)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    print("\n## Loss: PESQ-WB (mean over fixtures and seeds), residual loss, bitrate, latency\n")
    head = "| network | " + " | ".join(
        f"PESQ {v} | unrecovered {v} | kb/s {v} | lag ms {v}" for v in variants
    )
    print(head + " |")
    print("|" + "---|" * (1 + 4 * len(variants)))
    for case in cases:
        cells = [case]
        for v in variants:
            rs = by[(case, v)]
            lost = sum(int(r["lost"] or 0) for r in rs)
            unrecovered = sum(int(r["unrecovered"] or 0) for r in rs)
            sent_share = f"{unrecovered}/{lost}"
            cells += [
                f"{mean([r['pesq'] for r in rs]):.2f}",
                sent_share,
                f"{mean([float(r['kbps']) for r in rs]):.0f}",
                f"{mean([float(r['lag_ms']) for r in rs]):.0f}",
            ]
        print("| " + " | ".join(cells) + " |")


def diag_table(rows):
    by = defaultdict(list)
    for r in rows:
        by[r["variant"]].append(r["pesq"])
    print("\n## Clean link, capture settings one at a time: PESQ-WB (mean over fixtures)\n")
    print("| capture settings | PESQ |")
    print("|---|---|")
    for variant, scores in by.items():
        print(f"| {variant} | {mean(scores):.2f} |")


def noise_table(rows):
    by = defaultdict(list)
    for r in rows:
        by[(r["case"], r["variant"])].append(r["pesq"])
    cases = list(dict.fromkeys(r["case"] for r in rows))
    print("\n## Noise: PESQ-WB against clean speech (mean over fixtures)\n")
    extra = [v for v in dict.fromkeys(r["variant"] for r in rows) if v.startswith("chain-")]
    print(
        "| noise | unprocessed | nnnoiseless alone | capture chain | chain − alone |"
        + "".join(f" {v} |" for v in extra)
    )
    print("|---|---|---|---|---|" + "---|" * len(extra))
    gains = defaultdict(list)
    for case in cases:
        noisy, alone, chain = (mean(by[(case, v)]) for v in ("noisy", "rnnoise", "chain"))
        cells = "".join(f" {mean(by[(case, v)]):.2f} |" for v in extra)
        print(
            f"| {case} | {noisy:.2f} | {alone:.2f} | {chain:.2f} | {chain - alone:+.2f} |{cells}"
        )
        gains["alone"].append(alone - noisy)
        gains["chain"].append(chain - noisy)
        for v in extra:
            gains[v].append(mean(by[(case, v)]) - noisy)
    print(
        f"\nMean gain over unprocessed: nnnoiseless alone {mean(gains['alone']):+.2f}, "
        f"capture chain {mean(gains['chain']):+.2f}"
        + "".join(f", {v} {mean(gains[v]):+.2f}" for v in extra)
    )


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for i, r in enumerate(rows):
        r["pesq"], r["align_s"] = score(r["reference"], r["processed"])
        print(f"\r  scored {i + 1}/{len(rows)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    loss = [r for r in rows if r["kind"] == "loss" and r["case"] != "diag-clean"]
    diag = [r for r in rows if r["kind"] == "loss" and r["case"] == "diag-clean"]
    noise = [r for r in rows if r["kind"] == "noise"]
    if loss:
        loss_table(loss)
    if diag:
        diag_table(diag)
    if noise:
        noise_table(noise)


if __name__ == "__main__":
    main()
