#!/usr/bin/env bash
# Reproduces the waiting-room benchmark recorded in BENCHMARKS.md: 15,000
# people hold a WebSocket each, join in a burst, are admitted and buy. Each run
# starts a fresh server on a fresh data directory (ws_peak and rss_kb_per_ws
# are only meaningful on a fresh server).
#   scripts/bench-queue.sh [runs] [users]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
users=${2:-15000}
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18089
url=http://$addr
server=
data=
stop() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$data" ]; then rm -rf "$data" "$data.out"; fi
  server=
  data=
}
trap stop EXIT
echo "# $(date -u +%F) $(nproc) cores; $(uname -r); open files $(ulimit -Hn)"
for i in $(seq "$runs"); do
  data=$(mktemp -d)
  # Default settings: the connection cap follows the open-file limit.
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  "$bin" bench --target "$url" --quiet --scenario queue --users "$users" 2>/dev/null | tail -1
  stop
done
