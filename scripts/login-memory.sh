#!/usr/bin/env bash
# Memory after a login storm: the resident memory (RSS) of the release server binary before
# a storm of logins, right after it, and after SETTLE seconds of quiet. Each login runs
# argon2id with 19 MiB of working memory; the server must give that back (target: under
# 60 MB a minute later). Medians of RUNS fresh servers.
# Usage: scripts/login-memory.sh [SERVER_BINARY]
#   env: LOGINS=64 PARALLEL=8 SETTLE=60 RUNS=3
# Without a binary argument, builds the release server first.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGINS=${LOGINS:-64}
PARALLEL=${PARALLEL:-8}
SETTLE=${SETTLE:-60}
RUNS=${RUNS:-3}
if [ $# -ge 1 ]; then
    BIN=$1
else
    cargo build --release --locked -p auraspeak-server --bin auraspeak-server >&2
    BIN=${CARGO_TARGET_DIR:-target}/release/auraspeak-server
fi
WORK=$(mktemp -d /tmp/auraspeak-loginmem.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$WORK"' EXIT
PASSWORD=a-long-unusual-passphrase-42

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

one_run() { # one_run N: prints "before after settled"
    local dir="$WORK/run$1" base="" i
    mkdir -p "$dir"
    AURASPEAK_RATE_LIMIT__ENABLED=false AURASPEAK_VOICE__UDP_LISTEN=127.0.0.1:0 \
        AURASPEAK_LOG__LEVEL=warn \
        "$BIN" --data-dir "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
    pid=$!
    for i in $(seq 100); do
        base=$(grep -o 'http://[0-9.:]*' "$dir/out" | head -1 || true)
        [ -n "$base" ] && break
        sleep 0.1
    done
    [ -n "$base" ] || { cat "$dir/err" >&2; echo "server did not start" >&2; exit 1; }
    curl -sf -o /dev/null -H 'content-type: application/json' "$base/api/v1/auth/register" \
        -d "{\"username\":\"storm\",\"email\":\"storm@example.com\",\"password\":\"$PASSWORD\"}"
    # Quiet first, so "before" is the idle server (the registration's hash settled too).
    sleep "$((SETTLE < 10 ? SETTLE : 10))"
    local before after settled ok
    before=$(rss_mb "$pid")
    ok=$(seq "$LOGINS" | xargs -P "$PARALLEL" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
        -H 'content-type: application/json' "$base/api/v1/auth/login" \
        -d "{\"login\":\"storm\",\"password\":\"$PASSWORD\"}" | grep -c '^200$' || true)
    [ "$ok" = "$LOGINS" ] || { echo "only $ok of $LOGINS logins succeeded" >&2; exit 1; }
    after=$(rss_mb "$pid")
    sleep "$SETTLE"
    settled=$(rss_mb "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    echo "$before $after $settled"
}

echo "== login_memory: $LOGINS logins, $PARALLEL at once, settle ${SETTLE} s, $(nproc) cores, $RUNS runs =="
: >"$WORK/results"
for run in $(seq "$RUNS"); do
    line=$(one_run "$run")
    echo "run $run: RSS before $(echo "$line" | cut -d' ' -f1) MB, right after" \
        "$(echo "$line" | cut -d' ' -f2) MB, after ${SETTLE} s $(echo "$line" | cut -d' ' -f3) MB"
    echo "$line" >>"$WORK/results"
done
for col in 1 2 3; do
    name=$(echo "before right_after after_${SETTLE}s" | cut -d' ' -f"$col")
    printf 'median RSS %-16s %6s MB\n' "$name" "$(cut -d' ' -f"$col" "$WORK/results" | median)"
done
