#!/usr/bin/env bash
# The black-box torture test at length: builds the release binary and runs
# `stampede torture` (default: 1,000 kill cycles), passing any arguments on.
# Examples:
#   scripts/torture.sh                       # 1,000 cycles, seed from the clock
#   scripts/torture.sh --cycles 200 --seed 7 # rerun a schedule
#   scripts/torture.sh --keep                # keep the data directory and server log
# The seed is printed first; the last line is the summary (lost, oversold and
# inconsistent must be 0). See ARCHITECTURE.md, "Torture".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p stampede
args=("$@")
if ! printf '%s\n' "${args[@]}" | grep -q -- '^--cycles'; then
  args=(--cycles 1000 "${args[@]}")
fi
exec target/release/stampede torture "${args[@]}"
