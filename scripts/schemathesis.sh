#!/usr/bin/env bash
# Fuzzes a fresh server against its own OpenAPI document (/api/openapi.json)
# with every schemathesis check, once as the operator (admin token) and once
# as a participant, and exits non-zero on any failure.
#
#   scripts/schemathesis.sh                 # both identities
#   SCHEMATHESIS_AS=participant scripts/schemathesis.sh
#   SCHEMATHESIS_EXAMPLES=50 SCHEMATHESIS_BUDGET_S=300 scripts/schemathesis.sh
#   SCHEMATHESIS_ARGS='--include-path-regex /seats' scripts/schemathesis.sh
#
# Needs schemathesis (pip install -r tests/schemathesis/requirements.txt),
# curl and python3. What is checked and the few stated exceptions are in
# tests/schemathesis/schemathesis.toml; the reports land in
# target/schemathesis/<identity>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

examples=${SCHEMATHESIS_EXAMPLES:-25}
# Seconds of fuzzing per identity; both run at once, so CI spends about this
# plus a minute of start-up (under 5 minutes with the build already done).
budget_s=${SCHEMATHESIS_BUDGET_S:-150}
identities=${SCHEMATHESIS_AS:-admin participant}
# Fixed by default so a failure in CI reproduces locally with the same command.
seed=${SCHEMATHESIS_SEED:-20261203}

want=$(sed -n 's/^schemathesis==//p' tests/schemathesis/requirements.txt)
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "schemathesis.sh: schemathesis is not installed: python3 -m pip install -r tests/schemathesis/requirements.txt" >&2
  exit 1
fi
have=$(schemathesis --version | sed 's/.* //')
if [ "$have" != "$want" ]; then
  echo "schemathesis.sh: schemathesis $have is installed, tests/schemathesis/requirements.txt pins $want" >&2
  exit 1
fi

bin=${STAMPEDE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p stampede
  bin=$root/target/debug/stampede
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export SCHEMATHESIS_HOOKS="$root/tests/schemathesis/hooks.py"

# fuzz WHO DIR: a fresh server with its own data, the fixtures below, and one
# schemathesis run as WHO (admin or participant). Exits with the run's status.
fuzz() {
  local who=$1 dir=$2 base=
  mkdir -p "$dir"
  local admin_token
  admin_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  STAMPEDE_ADMIN_TOKEN=$admin_token RUST_LOG=${RUST_LOG:-warn} \
    "$bin" serve --data "$dir/data" --listen 127.0.0.1:0 >"$dir/server.log" 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null || true' EXIT
  trap 'exit 143' TERM INT
  for _ in $(seq 1 300); do
    base=$(sed -n 's/.*stampede listening on \(http:[^ ]*\).*/\1/p' "$dir/server.log" | head -n1)
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$base" ]; then
    echo "the server did not start:"
    cat "$dir/server.log"
    return 1
  fi
  echo "server at $base"

  # api METHOD PATH TOKEN [JSON]: the answer's body; fails on any non-2xx.
  api() {
    local args=(-sS --fail-with-body -X "$1" "$base$2" -H "authorization: Bearer $3")
    if [ $# -ge 4 ]; then args+=(-H 'content-type: application/json' --data "$4"); fi
    curl "${args[@]}"
  }
  field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

  # A participant with a real password and a bearer token, as a person gets one.
  local password participant_token
  # Not built from the e-mail or name: sign-up refuses those as guessable.
  password="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  api POST /api/admin/users "$admin_token" \
    "{\"email\":\"fuzz@example.com\",\"password\":\"$password\",\"name\":\"Fuzz Participant\",\"role\":\"participant\"}" >/dev/null
  participant_token=$(curl -sS --fail-with-body -X POST "$base/api/auth/tokens" -H 'content-type: application/json' \
    --data "{\"email\":\"fuzz@example.com\",\"password\":\"$password\",\"label\":\"schemathesis\"}" | field token)

  # One open sale of each kind, one with a waiting room without proof of
  # work (pow_bits 0: any nonce joins), and one not open yet, so that ids in
  # paths name real sales. Limits are the largest allowed, so that a
  # quantity the document allows is not refused by this sale's own limit.
  sale() { api POST /api/sales "$admin_token" "$1" | field id; }
  local stock drop seated room later hold seat_hold
  stock=$(sale '{"kind":"stock","title":"Fuzz stock","stock":100000000,"price":1000,"per_person_limit":1000000,"order_quantity_max":1000000,"hold_seconds":600}')
  drop=$(sale '{"kind":"drop","title":"Fuzz drop","winners":10}')
  seated=$(sale '{"kind":"seated","title":"Fuzz seats","seated":{"per_person_limit":1000,"seats_per_hold_max":50,"hold_seconds":600,"generate":{"name":"Fuzz hall","sections":[{"name":"Floor","tier":"A","price":5000,"colour":"#336699","rows":20,"seats_per_row":30,"x":0,"y":0,"curve_degrees":0,"spacing":10}]}}}')
  room=$(sale '{"kind":"stock","title":"Fuzz room","stock":100000000,"price":0,"per_person_limit":1000000,"order_quantity_max":1000000,"hold_seconds":600,"waiting_room":{"policy":"active","active_max":1000,"pow_bits":0}}')
  later=$(sale '{"kind":"stock","title":"Fuzz later","stock":10,"price":0,"per_person_limit":1,"order_quantity_max":1,"hold_seconds":600,"opens_at":"2099-01-01T00:00:00Z"}')
  for id in "$stock" "$drop" "$seated" "$room"; do
    api POST "/api/sales/$id/open" "$admin_token" >/dev/null
  done
  # Something of the participant's to find: a stock hold and a seat hold.
  hold=$(api POST "/api/sales/$stock/holds" "$participant_token" '{"quantity":1}' | field id)
  seat_hold=$(api POST "/api/sales/$seated/seats/holds" "$participant_token" '{"best":{"count":2}}' | field id)
  echo "sales stock=$stock drop=$drop seated=$seated room=$room later=$later; holds $hold (stock), $seat_hold (seats)"

  # Path ids are drawn from these most of the time; the rest are random, so
  # unknown ids are tried too.
  local config="$dir/schemathesis.toml"
  {
    cat tests/schemathesis/schemathesis.toml
    printf '\n[dictionaries.sales]\nvalues = [%s, %s, %s, %s, %s]\n' "$stock" "$drop" "$seated" "$room" "$later"
    printf '\n[dictionaries.holds]\nvalues = [%s, %s]\n' "$hold" "$seat_hold"
  } >"$config"

  local token
  case "$who" in
    admin) token=$admin_token ;;
    participant) token=$participant_token ;;
  esac
  local reports="$root/target/schemathesis/$who"
  rm -rf "$reports"
  mkdir -p "$reports"
  echo "fuzzing as $who: at most $examples examples an operation a round, rounds for ${budget_s}s"
  # --max-time spends the budget on rounds of fuzzing and stateful runs;
  # `timeout` is the hard wall-clock cap should anything hang.
  local rc=0
  # shellcheck disable=SC2086
  # Run from the scratch directory: hypothesis leaves a .hypothesis there.
  # `--checks all` on the command line enables every check again, the config
  # file's disabled use_after_free included (a deleted sale stays readable,
  # archived: see schemathesis.toml), so it is excluded here too.
  (cd "$dir" && timeout --kill-after=10 "$((budget_s + 60))" \
    schemathesis --config-file "$config" run "$base/api/openapi.json" \
      --checks all \
      --exclude-checks use_after_free \
      --max-examples "$examples" \
      --max-time "$budget_s" \
      --seed "$seed" \
      --generation-database none \
      --workers 1 \
      --request-timeout 20 \
      --header "Authorization: Bearer $token" \
      --report junit,ndjson --report-dir "$reports" \
      --no-color \
      ${SCHEMATHESIS_ARGS:-}) || rc=$?

  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server died during the run:"
    tail -n 50 "$dir/server.log"
    rc=1
  elif grep -q -E 'ERROR|panicked' "$dir/server.log"; then
    echo "the server logged errors:"
    grep -E 'ERROR|panicked' "$dir/server.log" | head -n 20
    rc=1
  fi
  return "$rc"
}

# One server per identity, both at once: each run starts from the same
# fixtures (the admin closes sales as it goes), and the wall clock is one
# budget, not two.
for who in $identities; do
  case "$who" in
    admin | participant) ;;
    *) echo "schemathesis.sh: unknown identity $who (admin or participant)" >&2; exit 2 ;;
  esac
  (fuzz "$who" "$work/$who") >"$work/$who.log" 2>&1 &
  pids+=($!)
done
passed=0
failed=0
i=0
for who in $identities; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  i=$((i + 1))
  sed "s/^/[$who] /" "$work/$who.log"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    echo "schemathesis.sh: FAILED as $who (exit $rc); reports in target/schemathesis/$who" >&2
    failed=$((failed + 1))
  fi
done
pids=()
echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
