#!/usr/bin/env bash
# An independent client for the stock scenario (issue 12): wrk (Debian's
# package) posts holds with bearer tokens and fresh idempotency keys, in
# back-to-back 10-second windows against one server, so every window's p99,
# p99.9 and max are printed as the log grows, plus the WAL's size after each.
#   scripts/bench-wrk.sh [SERVER_BINARY] [SECONDS] [CONNECTIONS] [USERS]
# Defaults: this checkout's release binary, 60 s, 256 connections, 20,000 users.
# wrk and the server share the machine's cores, as `stampede bench` does.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
bin=./target/release/stampede
server_bin=${1:-$bin}
[ "$server_bin" = "$bin" ] && cargo build --release --bin stampede >&2
seconds=${2:-60}
connections=${3:-256}
users=${4:-20000}
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18091
url=http://$addr
data=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  rm -rf "$data" "$data.out"
}
trap cleanup EXIT

RUST_LOG=warn "$server_bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
server=$!
until curl -sf "$url/readyz" >/dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$data.out" >&2; exit 1; }
  sleep 0.1
done

admin=(-H "Authorization: Bearer $STAMPEDE_ADMIN_TOKEN" -H 'Content-Type: application/json')
tokens=$data/tokens
# The same sale as `stampede bench --scenario stock`: far more stock than a run
# can hold, holds of an hour, a generous limit per person.
sale=$(curl -sf "${admin[@]}" -d '{"kind":"stock","title":"wrk (stock)","description":"","stock":100000000,
  "price":1000,"currency":"KRW","per_person_limit":1000000,"order_quantity_max":1,"hold_seconds":3600,
  "opens_at":null,"closes_at":null}' "$url/api/sales" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf "${admin[@]}" -X POST "$url/api/sales/$sale/open" >/dev/null
echo "$sale" >"$tokens"
left=$users
while [ "$left" -gt 0 ]; do
  chunk=$(( left < 10000 ? left : 10000 ))
  curl -sf "${admin[@]}" -d "{\"count\":$chunk,\"name_prefix\":\"wrk\"}" "$url/api/admin/users/bulk" \
    | python3 -c 'import json,sys; [print(u["token"]) for u in json.load(sys.stdin)["users"]]' >>"$tokens"
  left=$(( left - chunk ))
done

echo "# $(date -u +%FT%TZ) $(nproc) cores; server $server_bin ($(sha256sum "$server_bin" | cut -c1-12)); wrk $connections connections, ${seconds}s in 10 s windows, $users users, sale $sale"
windows=$(( (seconds + 9) / 10 ))
answered=0
for w in $(seq "$windows"); do
  line=$(WRK_TOKENS=$tokens wrk -t2 -c"$connections" -d10s --latency -s scripts/wrk/holds.lua "$url" | grep '^wrk ')
  wal=$(stat -c %s "$data/log.sqlite-wal" 2>/dev/null || echo 0)
  echo "window=$w ${line#wrk } wal_bytes=$wal"
  answered=$(( answered + $(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/') ))
done
held=$(curl -sf "$url/api/sales/$sale" | python3 -c 'import json,sys; s=json.load(sys.stdin)["stock"]; print(s.get("held",0)+s.get("sold",0))')
# Every answered request was a new hold of one unit (fresh keys, no
# refusals): the two must agree, or the keys repeated.
echo "answered=$answered held_and_sold=$held log_bytes=$(stat -c %s "$data/log.sqlite") wal_bytes=$(stat -c %s "$data/log.sqlite-wal" 2>/dev/null || echo 0)"
