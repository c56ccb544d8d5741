#!/usr/bin/env bash
# Issue 12's long-log checks: fill one stock sale's log with N holds
# (256 connections, 20,000 people), then 60 s more of holds with p99 / p99.9 /
# max per 10-second window (does the engine slow down once the log is long?),
# then SIGKILL the server, remove its snapshots and time a restart that must
# replay the whole log ("becomes ready in <= 10 s" at 10,000,000 entries).
#   scripts/bench-long-log.sh [SERVER_BINARY] [FILL_SECONDS]
# (about 35,000 holds/s here: 300 s fill a log of about 10,000,000 entries)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-./target/release/stampede}
fill_s=${2:-300}
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18095
url=http://$addr
data=$(mktemp -d)
server=
stop() { if [ -n "$server" ]; then kill -9 "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; server=; }
trap 'stop; rm -rf "$data" "$data.out"' EXIT
start() {
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >>"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.05; done
}
echo "# $(date -u +%FT%TZ) $(nproc) cores; $bin; fill for $fill_s s"
start
# One sale takes the whole fill, so its own state is as large as the log.
line=$("$bin" bench --target "$url" --quiet --scenario stock --users 20000 --connections 256 --duration "$fill_s" 2>/dev/null | grep '^bench' | tail -1)
held=$(sed -E 's/.* held=([0-9]+).*/\1/' <<<"$line")
echo "fill $line"
echo "after $held holds: 60 s more, per 10 s window"
"$bin" bench --target "$url" --quiet --scenario stock --users 20000 --connections 256 --duration 60 2>/dev/null | grep -E '^(window|bench)'
stop
log_bytes=$(du -b "$data"/log.sqlite* | awk '{s+=$1} END {print s}')
rm -f "$data"/log.snapshots.sqlite*
t0=$(date +%s.%N)
start
t1=$(date +%s.%N)
echo "restart with no snapshots: ready in $(echo "$t1 - $t0" | bc) s; log files $log_bytes bytes"
grep -E "replayed|recovered" "$data.out" | tail -2 || true
