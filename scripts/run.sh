#!/usr/bin/env bash
# Builds and runs AuraSpeak: the server on the embedded SQLite database (data in
# ./auraspeak-data) and, where there is a display, the desktop app next to it. Extra
# arguments go to the server, e.g. `scripts/run.sh --listen 0.0.0.0:8080`.
# Installs the system packages the desktop app builds against (WebKitGTK, GTK, ALSA) and
# the UI's npm packages on first use. AURASPEAK_NO_DESKTOP=1 runs the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }

DESKTOP=1
if [ -n "${AURASPEAK_NO_DESKTOP:-}" ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then
    DESKTOP=0
fi

scripts/install-deps.sh build
if [ "$DESKTOP" = 0 ]; then
    exec cargo run --release --locked -p auraspeak-server -- "$@"
fi

scripts/install-deps.sh desktop
(cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
# Both in release, so the crates they share build once; the installers' smaller `desktop`
# profile (README, Bundles) would build them all again.
cargo build --release --locked -p auraspeak-server -p auraspeak-desktop
bin=${CARGO_TARGET_DIR:-target}/release
# The address the app's login page offers: the server's listen address (from --listen,
# else the default), reached from this machine.
listen=127.0.0.1:8080
args=("$@")
for i in "${!args[@]}"; do
    case "${args[$i]}" in
        --listen=*) listen=${args[$i]#--listen=} ;;
        --listen) listen=${args[$((i + 1))]:-$listen} ;;
    esac
done
listen=${listen/0.0.0.0/127.0.0.1}
listen=${listen/\[::\]/[::1]}
export AURASPEAK_SERVER_URL="http://$listen"
"$bin/auraspeak-server" "$@" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
echo "AuraSpeak server running (pid $SERVER) at $AURASPEAK_SERVER_URL; the app's login page offers it."
"$bin/auraspeak-desktop"
