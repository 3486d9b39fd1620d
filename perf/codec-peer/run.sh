#!/usr/bin/env bash
# Runs the side-by-side codec benchmarks: this SDK's kafka-protocol against the crates.io
# kafka-protocol 0.18, on the same workloads in one run (see benches/vs_peer.rs). The bench
# ends with a summary table (ns/record, GB/s, allocations per record, speed-up); this script
# also keeps the whole output in target/vs_peer.log and repeats the table at the end.
#
#   perf/codec-peer/run.sh                  # everything: about 2 minutes of measuring
#   perf/codec-peer/run.sh fetch_decode     # extra arguments go to criterion (a filter here)
#
# Profiling one workload (no criterion), e.g. with callgrind:
#   CODEC_PROFILE=fetch_decode_none/ours_owned CODEC_PROFILE_RUNS=20 \
#     valgrind --tool=callgrind target/release/deps/vs_peer-<hash>
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p target
log=target/vs_peer.log
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(rustc --version)" | tee "$log"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (timings are only as quiet as the machine)" | tee -a "$log"
cargo bench --bench vs_peer -- "$@" 2>&1 | tee -a "$log"
echo
sed -n '/^Summary/,$p' "$log"
