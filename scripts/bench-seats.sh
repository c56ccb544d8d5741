#!/usr/bin/env bash
# Reproduces the reserved-seating benchmark (issue 4): a 50,000-seat venue,
# 20,000 people each holding 2-4 adjacent seats (best available, or picks that
# collide on purpose), half of the holds confirmed, while viewers watch the
# live seat map. Each run starts a fresh server on a fresh data directory.
#   scripts/bench-seats.sh [runs] [users] [viewers]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
users=${2:-20000}
viewers=${3:-300}
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18090
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
echo "# $(date -u +%F) $(nproc) cores; $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  data=$(mktemp -d)
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  "$bin" bench --target "$url" --quiet --scenario seats --users "$users" --viewers "$viewers" 2>/dev/null | tail -1
  stop
done
