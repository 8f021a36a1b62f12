#!/usr/bin/env bash
# Measures voice quality with wideband PESQ (ITU-T P.862): the speech fixtures through the
# whole engine under packet loss (with and without redundancy), and noise suppression on
# noisy mixes (nnnoiseless alone vs the capture chain). Prints the tables.
#
# Usage: scripts/voice-quality.sh [loss|noise|relay|relay-noise|latency]...     (default: loss and noise)
#   loss, noise: the engine in memory (the example voice_quality).
#   relay:   the path users take: two release `auraspeak voice join` processes through a
#            release `auraspeak-server` on loopback, the relay's media through a seeded
#            impairment proxy (scripts/voice_relay.py): clean, 10 and 20 % loss up, down and
#            both ways, 10 % bursty loss, 0-40 ms jitter; PESQ-WB from the first packet on.
#            RELAY_CASES=clean,down10 and RELAY_RUNS=N narrow it; RELAY_ARGS="--frame-ms 10"
#            passes settings to both clients.
#   relay-noise: the engine's noise mixes (4 noises at 5, 15, 25 dB SNR) spoken through a
#            clean call at defaults, scored against plain RNNoise on the same microphone
#            signal; RELAY_RUNS times each (default 3).
#   latency: mouth-to-ear through PulseAudio virtual devices (starts a headless PulseAudio
#            if none answers), RELAY_RUNS times.
# Environment: VOICE_QUALITY_OUT=DIR keeps the WAV files there (default: a temporary
# folder, removed afterwards); VOICE_QUALITY_VENV=DIR reuses a virtualenv that already has
# the Python packages (default: a throwaway one, ~1 min to build pesq).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=$(mktemp -d /tmp/auraspeak-voice-quality.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
OUT=${VOICE_QUALITY_OUT:-$WORK/wav}
VENV=${VOICE_QUALITY_VENV:-$WORK/venv}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== Python packages (pesq, numpy, scipy, soundfile) into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pesq numpy scipy soundfile
fi

engine=()
relay=0
relay_noise=0
latency=0
for arg in "$@"; do
    case "$arg" in
        relay) relay=1 ;;
        relay-noise) relay_noise=1 ;;
        latency) latency=1 ;;
        *) engine+=("$arg") ;;
    esac
done
if [ $# -eq 0 ] || [ ${#engine[@]} -gt 0 ]; then
    echo "== Running the engine (release build)"
    cargo run --locked --release -p auraspeak-client --example voice_quality -- "$OUT" "${engine[@]}"
    echo "== Scoring with PESQ"
    "$VENV/bin/python" scripts/voice_quality.py "$OUT/manifest.tsv"
fi
real_path() {
    echo "== Release binaries (server and CLI)"
    cargo build --locked --release -p auraspeak-server -p auraspeak-client --bins
    local target=${CARGO_TARGET_DIR:-target}
    local join_args=()
    for a in ${RELAY_ARGS:-}; do join_args+=("--join-arg=$a"); done
    "$VENV/bin/python" scripts/voice_relay.py --server "$target/release/auraspeak-server" \
        --cli "$target/release/auraspeak" --out "$OUT/$1" --mode "$1" \
        --runs "${RELAY_RUNS:-3}" ${RELAY_CASES:+--cases "$RELAY_CASES"} "${join_args[@]}" \
        "${@:2}"
}
if [ "$relay" = 1 ]; then
    echo "== Calls through the relay over a bad network"
    real_path quality
fi
if [ "$relay_noise" = 1 ]; then
    echo "== Noise mixes through a clean call, against plain RNNoise"
    cargo run --locked --release -p auraspeak-client --example voice_quality -- "$OUT/mixes" noise
    real_path noise --noise-dir "$OUT/mixes"
fi
if [ "$latency" = 1 ]; then
    echo "== Mouth-to-ear latency through PulseAudio virtual devices"
    if ! pactl info >/dev/null 2>&1; then
        eval "$(scripts/pulse-headless.sh start "$WORK/pulse")"
        trap 'scripts/pulse-headless.sh stop "$WORK/pulse" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
    fi
    real_path latency
fi
