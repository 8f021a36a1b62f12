#!/usr/bin/env bash
# Regenerates server/.sqlx, the query data that lets PostgreSQL queries be checked at
# compile time without a database. Run after changing a query in server/src/store/postgres.rs
# or a migration in migrations/postgres, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/auraspeak-sqlx.XXXXXX)
chmod 755 "$WORK"
trap 'scripts/pg-throwaway.sh stop "$WORK/pg"; rm -rf "$WORK"' EXIT
port=$((20000 + RANDOM % 20000))
url=$(scripts/pg-throwaway.sh start "$WORK/pg" "$port")
for f in migrations/postgres/*.sql; do
    psql -q -v ON_ERROR_STOP=1 "$url" -f "$f"
done
rm -rf server/.sqlx && mkdir -p server/.sqlx
touch server/src/store/postgres.rs
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$PWD/server/.sqlx" \
    cargo build --workspace --all-targets
echo "regenerated $(ls server/.sqlx | wc -l) query files in server/.sqlx"
