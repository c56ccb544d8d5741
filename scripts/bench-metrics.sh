#!/usr/bin/env bash
# What recording metrics costs (BENCHMARKS.md, "Metrics (issue 12)"): the
# stock scenario against a server with metrics on and one with `--metrics off`,
# alternating, each run on a fresh data directory, then the medians and ratio.
#   scripts/bench-metrics.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18089
url=http://$addr
server=
data=
trap 'kill -9 $server 2>/dev/null || true; rm -rf "$data"' EXIT
run() { # run on|off
  data=$(mktemp -d)
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" --metrics "$1" >/dev/null 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  line=$("$bin" bench --target "$url" --quiet --scenario stock --connections 256 --duration "$secs" 2>/dev/null | tail -1)
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data"
  echo "metrics=$1 $line"
}
echo "# $(date -u +%F) $(nproc) cores; $(uname -r)"
out=$(mktemp)
# Which goes first alternates too, so neither profits from its place in a pair.
for i in $(seq "$rounds"); do
  if (( i % 2 )); then first=on second=off; else first=off second=on; fi
  run $first | tee -a "$out"
  run $second | tee -a "$out"
done
median() { grep "^metrics=$1 " "$out" | sed 's/.* rps=\([0-9.]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
on=$(median on); off=$(median off)
awk -v on="$on" -v off="$off" 'BEGIN {printf "median rps: metrics on %.1f, off %.1f; on/off %.3f\n", on, off, on/off}'
rm -f "$out"
