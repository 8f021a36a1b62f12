#!/usr/bin/env bash
# Interop with a second, independent WebRTC stack: an aiortc participant (PyPI) and the
# CLI talk through a real server on loopback, both ways (e2e/aiortc/interop.py). Uses the
# debug binaries `cargo build --workspace --bins` leaves (honours CARGO_TARGET_DIR) and a
# throwaway virtualenv with the pinned packages of e2e/aiortc/requirements.txt.
#
# Usage: scripts/aiortc-interop.sh [interop.py options, e.g. --runs 3 --keep DIR]
# Environment: AIORTC_VENV=DIR reuses a virtualenv that already has the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CARGO_TARGET_DIR:-target}/debug
for b in auraspeak-server auraspeak; do
    [ -x "$BIN/$b" ] || {
        echo "$BIN/$b missing: run cargo build --workspace --bins first" >&2
        exit 1
    }
done

WORK=$(mktemp -d /tmp/auraspeak-aiortc.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
VENV=${AIORTC_VENV:-$WORK/venv}
if [ ! -x "$VENV/bin/python" ]; then
    echo "== Python packages (aiortc and what scores the recordings) into $VENV"
    python3 -m venv "$VENV"
    # Wheels only: av, cryptography, numpy and scipy all ship them; building any of them
    # from source would take longer than the whole check.
    timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
        -r e2e/aiortc/requirements.txt
fi
echo "== aiortc <-> CLI through the relay"
# Each step inside has its own timeout; this bounds the whole.
timeout 300 "$VENV/bin/python" e2e/aiortc/interop.py \
    --server "$BIN/auraspeak-server" --cli "$BIN/auraspeak" "$@"
