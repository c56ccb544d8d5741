#!/usr/bin/env bash
# Two server builds measured in one run, alternating, so a ratio between them is
# not a ratio between two days: each round starts each server on a fresh data
# directory and drives ping then stock (256 connections, 10 s) with the same
# load generator (the second binary's `bench`).
# After the stock run it prints the server's RSS, for memory per hold.
#   [USERS=20000] scripts/bench-paired.sh OLD_BIN NEW_BIN [rounds]
set -euo pipefail
old=${1:?old server binary}; new=${2:?new server binary}; rounds=${3:-3}
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18089
url=http://$addr
server=
data=
stop() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -rf "$data"; server=; }
trap stop EXIT
echo "# $(date -u +%F) $(nproc) cores; $(uname -r); old=$old new=$new"
for i in $(seq "$rounds"); do
  for which in old new; do
    bin=${!which}
    data=$(mktemp -d)
    RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >/dev/null 2>&1 &
    server=$!
    until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
    rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    for scenario in ping stock; do
      echo "$which $("$new" bench --target "$url" --quiet --scenario "$scenario" --users "${USERS:-1000}" --connections 256 --duration 10 2>/dev/null | tail -1)"
    done
    echo "$which rss_kb_before=$rss_idle rss_kb_after=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")"
    stop
  done
done
