#!/usr/bin/env bash
# Builds and runs the consumer benchmark (see src/main.rs for what it measures).
# Usage: perf/consumer-peer/run.sh [consumer-peer all options, e.g. --repeat 3 --json out.json]
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release
exec ./target/release/consumer-peer all "$@"
