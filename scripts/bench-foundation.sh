#!/usr/bin/env bash
# Reproduces the foundation benchmarks recorded in BENCHMARKS.md: server and
# load generator as separate release processes on this machine.
#   scripts/bench-foundation.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
data=$(mktemp -d)
addr=127.0.0.1:18088
url=http://$addr
server=
start() {
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
}
trap 'kill -9 $server 2>/dev/null || true; rm -rf "$data" "$data.out" "$data.acked"' EXIT
start
bench() { "$bin" bench --target "$url" --quiet "$@" 2>/dev/null | tail -1; }

echo "# $(date -u +%F) $(nproc) cores; $(uname -r)"
for i in $(seq "$runs"); do
  bench --scenario ping --connections 256 --duration 10
  bench --scenario stock --connections 256 --duration 10
done
echo "# sold-out rush"
bench --scenario stock --connections 256 --duration 10 --users 20000 --stock 1000 --limit 1
echo "# drop rush"
bench --scenario drop --connections 256 --duration 60 --users 20000 --winners 100
echo "# SIGKILL in the middle of a stock run, restart, verify every acknowledged outcome"
"$bin" bench --target "$url" --quiet --scenario stock --connections 256 --duration 10 --acked-out "$data.acked" 2>/dev/null | tail -1 &
load=$!
sleep 4
kill -9 "$server"
wait "$server" 2>/dev/null || true
start
wait "$load" || true
"$bin" bench --target "$url" --verify-acked "$data.acked" 2>/dev/null | tail -1
kill "$server"; wait "$server" 2>/dev/null || true
"$bin" verify --data "$data" | tail -1
