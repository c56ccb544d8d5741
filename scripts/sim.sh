#!/usr/bin/env bash
# Runs the deterministic simulator over as many seeds as you like (release
# build); stops at the first failure and prints its seed and shrunk trace.
#   scripts/sim.sh [seeds] [steps] [first-seed]
# A failing seed reruns exactly: stampede sim --seed N --steps M
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-10000}; steps=${2:-1000}; first=${3:-0}
cargo build --release --bin stampede >&2
exec ./target/release/stampede sim --seed "$first" --seeds "$seeds" --steps "$steps"
