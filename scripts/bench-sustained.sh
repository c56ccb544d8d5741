#!/usr/bin/env bash
# Sustained load (issue 9, item 23): holds from 256 connections for 60 s
# against a fresh server, with p99 / p99.9 / max per 10-second window and the
# size of the log's SQLite WAL every 5 s.
#   scripts/bench-sustained.sh [SERVER_BINARY] [SECONDS] [RUNS]
# The load generator is always this checkout's release binary (its bench
# prints the `window=` lines); the server may be another build, e.g. a binary
# from before the change: scripts/bench-sustained.sh /work/stampede-before
set -euo pipefail
cd "$(dirname "$0")/.."
client=./target/release/stampede
cargo build --release --bin stampede >&2
server_bin=${1:-$client}
seconds=${2:-60}
runs=${3:-1}
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18089
url=http://$addr
server=
sampler=
data=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  [ -n "$data" ] && rm -rf "$data" "$data.out" "$data.wal"
  return 0
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores; server $server_bin ($(sha256sum "$server_bin" | cut -c1-12)); ${seconds}s"
for run in $(seq "$runs"); do
  cleanup
  data=$(mktemp -d)
  RUST_LOG=warn "$server_bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  # The WAL's size on disk, every 5 s while the server runs.
  (t=0; while kill -0 "$server" 2>/dev/null; do
     echo "wal t=${t}s bytes=$(stat -c %s "$data/log.sqlite-wal" 2>/dev/null || echo 0)"
     sleep 5; t=$((t + 5))
   done) >"$data.wal" &
  sampler=$!
  echo "# run $run"
  "$client" bench --target "$url" --quiet --scenario stock --connections 256 --duration "$seconds" 2>/dev/null \
    | grep -E '^(window=|bench )'
  kill "$sampler" 2>/dev/null || true
  sampler=
  cat "$data.wal"
  echo "wal max_bytes=$(awk -F'bytes=' '{ if ($2 > m) m = $2 } END { print m + 0 }' "$data.wal")"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
done
