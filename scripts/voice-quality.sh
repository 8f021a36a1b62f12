#!/usr/bin/env bash
# Measures voice quality with wideband PESQ (ITU-T P.862): the speech fixtures through the
# whole engine under packet loss (with and without redundancy), and noise suppression on
# noisy mixes (nnnoiseless alone vs the capture chain). Prints the tables.
#
# Usage: scripts/voice-quality.sh [loss|noise]...     (default: both)
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

echo "== Running the engine (release build)"
cargo run --locked --release -p auraspeak-client --example voice_quality -- "$OUT" "$@"

echo "== Scoring with PESQ"
"$VENV/bin/python" scripts/voice_quality.py "$OUT/manifest.tsv"
