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
# Debian packages the suite needs. Install steps live here and nowhere else, so a fresh
# machine and CI get exactly the same set-up.
# Audio: ALSA headers for cpal's build, PulseAudio and its tools for the device tests.
# coturn: the TURN server the voice credentials are tested against.
# chromium: the browser interop test (e2e/tests/browser_voice.rs) joins voice from it with
# its own WebRTC stack.
# pebble: the RFC 8555 test CA (with pebble-challtestsrv as its DNS) for the ACME test.
PACKAGES=(postgresql pkg-config ca-certificates cmake curl python3-yaml systemd openssl
    libasound2-dev libasound2-plugins pulseaudio pulseaudio-utils
    coturn chromium pebble)

log() { printf '\n==> %s\n' "$*"; }

install_packages() {
    local missing=()
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

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
install_packages

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

# Queries are checked against the committed query data, never a live database.
export SQLX_OFFLINE=true
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

FILTER=()
if [ "${1:-}" = "--" ]; then shift; FILTER=("$@"); fi

if [ ${#FILTER[@]} -eq 0 ]; then
    log "format check"
    cargo fmt --all -- --check
    log "clippy (warnings are errors)"
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi

log "tests (SQLite and PostgreSQL)"
cargo test --workspace --all-targets --locked -- "${FILTER[@]}"

log "packaging (.deb installed and started, container files)"
scripts/test-packaging.sh
