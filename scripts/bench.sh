#!/usr/bin/env bash
# Runs the server benchmarks (release build) against SQLite and a throwaway PostgreSQL,
# printing their figures. Usage: scripts/bench.sh [BENCH_NAME ...]  (default: all; the
# voice relay's `relay_load` runs only when named). `login_memory` is the release server's
# RSS before, right after and a minute after a login storm (scripts/login-memory.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# The gateway fan-out opens 1000 client and 1000 server sockets in one run.
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/auraspeak-bench.XXXXXX)
chmod 755 "$WORK"
trap 'scripts/pg-throwaway.sh stop "$WORK/pg"; rm -rf "$WORK"' EXIT
port=$((20000 + RANDOM % 20000))
export AURASPEAK_TEST_PG_URL
AURASPEAK_TEST_PG_URL=$(scripts/pg-throwaway.sh start "$WORK/pg" "$port")
benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(auth_load gateway_fanout login_memory)
for b in "${benches[@]}"; do
    if [ "$b" = relay_load ]; then
        # Server and load generator run as separate release binaries.
        cargo build --release --locked -p auraspeak-server
        cargo bench --locked -p auraspeak-e2e --bench relay_load
    elif [ "$b" = login_memory ]; then
        scripts/login-memory.sh
    else
        cargo bench --locked -p auraspeak-server --bench "$b"
    fi
done
