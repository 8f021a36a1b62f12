#!/usr/bin/env bash
# Builds and runs the AuraSpeak server on the embedded SQLite database, with its data in
# ./auraspeak-data. Extra arguments go to the server, e.g. `scripts/run.sh --listen 0.0.0.0:8080`.
# (The desktop app joins this script once it exists.)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
exec cargo run --release --locked -p auraspeak-server -- "$@"
