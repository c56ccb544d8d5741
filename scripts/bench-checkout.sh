#!/usr/bin/env bash
# Issue 13's acceptance run (BENCHMARKS.md, "Issue 13: wallet checkout"):
# wallet checkouts (hold, pay, ticket issued) on a priced stock sale, server
# and load generator as separate release processes on this machine. Each
# round: a fresh server and data directory, ping (how busy the machine is),
# stock with --confirm (the same hold and confirm without money), then the
# checkout scenario, and the server's log commits over the checkout run.
#   scripts/bench-checkout.sh [rounds] [extra bench flags for checkout...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18089
url=http://$addr
server=
data=
trap 'kill -9 $server 2>/dev/null || true; rm -rf "$data" "$data.out"' EXIT
bench() { "$bin" bench --target "$url" --quiet "$@" 2>/dev/null | tail -1; }
commits() {
  curl -sf "$url/metrics" | awk '/^stampede_log_(batch_entries|commit_seconds)_(sum|count) /{printf "%s=%s ", $1, $2}'
  echo
}

echo "# $(date -u '+%F %T') $(nproc) cores; $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  data=$(mktemp -d)
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  echo "# round $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
  bench --scenario ping --connections 256 --duration 5
  bench --scenario stock --confirm --connections 256 --duration 10
  echo "before: $(commits)"
  bench --scenario checkout --connections 256 --duration 10 "$@"
  echo "after: $(commits)"
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$data" "$data.out"
done
