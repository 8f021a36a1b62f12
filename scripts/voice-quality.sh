#!/usr/bin/env bash
# Measures voice quality with wideband PESQ (ITU-T P.862): the speech fixtures through the
# whole engine under packet loss (with and without redundancy), and noise suppression on
# noisy mixes (nnnoiseless alone vs the capture chain). Prints the tables.
#
# Usage: scripts/voice-quality.sh [loss|noise|relay]...     (default: loss and noise)
#   relay: two real clients through the real server's relay over a seeded bad network
#          (5 % and 10 % loss, 0-30 ms jitter), from the e2e test voice_under_loss.
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
for arg in "$@"; do
    if [ "$arg" = relay ]; then relay=1; else engine+=("$arg"); fi
done
if [ $# -eq 0 ] || [ ${#engine[@]} -gt 0 ]; then
    echo "== Running the engine (release build)"
    cargo run --locked --release -p auraspeak-client --example voice_quality -- "$OUT" "${engine[@]}"
    echo "== Scoring with PESQ"
    "$VENV/bin/python" scripts/voice_quality.py "$OUT/manifest.tsv"
fi
if [ "$relay" = 1 ]; then
    echo "== Calls through the relay over a bad network"
    mkdir -p "$OUT/relay"
    AURASPEAK_VOICE_QUALITY_OUT="$OUT/relay" \
        cargo test --locked -p auraspeak-e2e --test voice_under_loss -- --nocapture
    echo "== Scoring with PESQ"
    "$VENV/bin/python" scripts/voice_quality.py "$OUT/relay/manifest.tsv"
fi
