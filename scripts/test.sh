#!/usr/bin/env bash
# Runs every AuraSpeak test on a fresh Debian/Ubuntu machine, setting up what the tests
# need first: system packages, then a throwaway PostgreSQL cluster on a free loopback
# port (so every storage test runs against SQLite *and* PostgreSQL), and a private headless
# PulseAudio with a virtual microphone and speaker (so the device tests run on real cpal
# streams). Cleans up on exit.
#
#   scripts/test.sh            # everything: format, lints, all tests on both backends
#   scripts/test.sh -- FILTER  # only tests whose name matches FILTER (still both backends)
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '\n==> %s\n' "$*"; }

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free loopback port found" >&2
    return 1
}

command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
# Install steps live in install-deps.sh and nowhere else, so a fresh machine and CI get
# exactly the same set-up.
scripts/install-deps.sh test

WORK=$(mktemp -d /tmp/auraspeak-test.XXXXXX)
chmod 755 "$WORK"
cleanup() {
    scripts/pg-throwaway.sh stop "$WORK/pg" || true
    scripts/pulse-headless.sh stop "$WORK/pulse" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

log "starting a throwaway PostgreSQL on loopback"
PG_URL=$(scripts/pg-throwaway.sh start "$WORK/pg" "$(free_port)")
export AURASPEAK_TEST_PG_URL="$PG_URL"
echo "PostgreSQL for tests: $PG_URL"

log "starting a headless PulseAudio (virtual microphone and speaker)"
# Exports PULSE_SERVER and AURASPEAK_TEST_PULSE*, which the device tests
# read; without them they are skipped on a developer machine and fail under CI=true.
PULSE_ENV=$(scripts/pulse-headless.sh start "$WORK/pulse")
eval "$PULSE_ENV"
echo "PulseAudio for tests: $PULSE_SERVER"

# The desktop app test saves its screenshots here.
export AURASPEAK_SCREENSHOTS="${AURASPEAK_SCREENSHOTS:-$PWD/test-output/screenshots}"
# Queries are checked against the committed query data, never a live database.
export SQLX_OFFLINE=true
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A clean clone gains nothing from incremental compilation, which writes several GB of
# session data beside the build; a developer's reruns keep it.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}; fi

FILTER=()
if [ "${1:-}" = "--" ]; then shift; FILTER=("$@"); fi

# The desktop app embeds the built UI, so the UI is built (and its own tests run) before
# any cargo step.
log "UI: install, type check, unit tests (Vitest), build"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run typecheck && npm test && npm run build)

if [ ${#FILTER[@]} -eq 0 ]; then
    log "format check"
    cargo fmt --all -- --check
    log "clippy (warnings are errors)"
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi

log "binaries the end-to-end tests start (server, CLI, desktop app)"
cargo build --workspace --bins --locked

log "tests (SQLite and PostgreSQL)"
cargo test --workspace --all-targets --locked --no-fail-fast -- "${FILTER[@]}"

if [ ${#FILTER[@]} -eq 0 ]; then
    log "interop with a second WebRTC stack (aiortc, from PyPI)"
    scripts/aiortc-interop.sh
fi

log "packaging (.deb installed and started, container files)"
scripts/test-packaging.sh
