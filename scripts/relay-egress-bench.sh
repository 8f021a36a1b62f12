#!/usr/bin/env bash
# The relay's own SRTP egress against str0m's, alternated in one session (issue #18): the
# release server pinned to core 0 and auraspeak-loadgen to core 1, on loopback, in 4
# rooms × 50 and 1 room × 200 with 3 speakers each. Prints every run's loadgen figures,
# prefixed with mode, plan and run number; the medians are taken from those.
#
#   cargo build --release --locked -p auraspeak-server -p auraspeak-e2e --bin auraspeak-loadgen
#   scripts/relay-egress-bench.sh [RUNS] [SECONDS]    # defaults: 3 runs, 10 s windows
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARGO_TARGET_DIR:-target}/release
runs=${1:-3}
seconds=${2:-10}
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
server_pid=
dir=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [ -n "$dir" ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
one_run() { # mode rooms members speakers label
    local mode=$1 rooms=$2 members=$3 speakers=$4 label=$5
    dir=$(mktemp -d /tmp/auraspeak-egress-bench.XXXXXX)
    local http=127.0.0.1:$((20000 + RANDOM % 20000)) udp=127.0.0.1:$((40000 + RANDOM % 20000))
    AURASPEAK_DATA_DIR=$dir AURASPEAK_HTTP__LISTEN=$http AURASPEAK_VOICE__UDP_LISTEN=$udp \
        AURASPEAK_RATE_LIMIT__ENABLED=false AURASPEAK_GATEWAY__HEARTBEAT_INTERVAL_MS=600000 \
        AURASPEAK_LOG__LEVEL=warn AURASPEAK_VOICE__EGRESS=$mode \
        taskset -c 0 "$bin/auraspeak-server" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/${http%:*}/${http#*:}") 2>/dev/null && break
        sleep 0.1
    done
    timeout 600 taskset -c 1 "$bin/auraspeak-loadgen" --server "http://$http" --server-pid "$server_pid" \
        --rooms "$rooms" --members "$members" --speakers "$speakers" --seconds "$seconds" 2>&1 \
        | sed "s/^/[$label] /" || echo "[$label] loadgen failed"
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    server_pid=
    rm -rf "$dir"; dir=
}
for plan in "4 50 3" "1 200 3"; do
    set -- $plan
    for i in $(seq 1 "$runs"); do
        # Alternate which mode goes first, so a drift in the machine's load favours neither.
        if [ $((i % 2)) -eq 1 ]; then modes="str0m own"; else modes="own str0m"; fi
        for mode in $modes; do
            one_run "$mode" "$1" "$2" "$3" "$mode ${1}x$2 #$i"
        done
    done
done
