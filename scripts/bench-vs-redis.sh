#!/usr/bin/env bash
# Stampede's durable HTTP holds beside a Redis-Lua reservation, in one run
# (issue 12). The Redis side is the design the original projects used: a Lua
# script that checks the buyer (SISMEMBER), reads the stock left (GET), records
# the buyer (SADD) and counts the unit down (DECR); in memory, no HTTP, no
# fsync. It runs against the machine's Redis (127.0.0.1:6379) under a private
# key prefix, deleted afterwards, with redis-benchmark: 50 clients, pipelining 1.
# The Stampede side is `stampede bench --scenario stock` against a fresh
# server (256 connections unless STAMPEDE_CONNECTIONS says otherwise): every
# hold answered only once it is fsynced in the hash-chained log.
# Rounds alternate Stampede, Redis; each prints both rates and their ratio.
#   scripts/bench-vs-redis.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is missing (package redis-tools)" >&2; exit 2; }
rounds=${1:-3}
seconds=${2:-10}
connections=${STAMPEDE_CONNECTIONS:-256}
redis_host=${REDIS_HOST:-127.0.0.1}
redis_port=${REDIS_PORT:-6379}
prefix="stampede-vs-redis:$$"
bin=./target/release/stampede
cargo build --release --bin stampede >&2
export STAMPEDE_ADMIN_TOKEN=${STAMPEDE_ADMIN_TOKEN:-bench-$$}
addr=127.0.0.1:18093
url=http://$addr
rcli=(redis-cli -h "$redis_host" -p "$redis_port")
"${rcli[@]}" ping >/dev/null || { echo "no Redis at $redis_host:$redis_port" >&2; exit 2; }
server=
data=
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  [ -n "$data" ] && rm -rf "$data" "$data.out"
  "${rcli[@]}" del "$prefix:stock" "$prefix:buyers" >/dev/null 2>&1 || true
  return 0
}
trap cleanup EXIT

script='if redis.call("SISMEMBER", KEYS[2], ARGV[1]) == 1 then return -2 end
local left = tonumber(redis.call("GET", KEYS[1]) or "0")
if left <= 0 then return -1 end
redis.call("SADD", KEYS[2], ARGV[1])
redis.call("DECR", KEYS[1])
return left'
sha=$("${rcli[@]}" script load "$script")

stampede_round() {
  data=$(mktemp -d)
  RUST_LOG=warn "$bin" serve --data "$data" --listen "$addr" >"$data.out" 2>&1 &
  server=$!
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.1; done
  "$bin" bench --target "$url" --quiet --scenario stock --connections "$connections" --duration "$seconds" 2>/dev/null \
    | grep '^bench ' | tr ' ' '\n' | sed -n 's/^rps=//p'
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
  rm -rf "$data" "$data.out"; data=
}

redis_round() {
  "${rcli[@]}" del "$prefix:buyers" >/dev/null
  "${rcli[@]}" set "$prefix:stock" 100000000 >/dev/null
  # About SECONDS at 70,000 scripts/s; redis-benchmark reports its own rate.
  local n=$(( seconds * 70000 ))
  redis-benchmark -h "$redis_host" -p "$redis_port" -c 50 -P 1 -n "$n" -r 100000000 --csv \
    evalsha "$sha" 2 "$prefix:stock" "$prefix:buyers" "buyer:__rand_int__" \
    | tail -n 1 | cut -d, -f2 | tr -d '"'
}

echo "# $(date -u +%FT%TZ) $(nproc) cores; stampede $bin ($(sha256sum "$bin" | cut -c1-12)) stock, $connections connections, ${seconds}s; redis $("${rcli[@]}" info server | sed -n 's/^redis_version://p' | tr -d '\r') Lua reservation, 50 clients, pipelining 1"
for round in $(seq "$rounds"); do
  s=$(stampede_round)
  r=$(redis_round)
  ratio=$(python3 -c "print(f'{float($s) / float($r):.2f}')")
  echo "round=$round stampede_holds_per_s=$s redis_lua_per_s=$r ratio=$ratio"
done
