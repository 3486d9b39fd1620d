#!/usr/bin/env bash
# Bounded-time fuzzing of kafka-protocol's decoders (a developer tool; CI does not run it).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      # default 60
#
# Builds the cargo-fuzz targets in fuzz/ (its own workspace and lock file, target dir
# fuzz/target) and runs each one, one after the other, for SECONDS_PER_TARGET seconds:
#
#   request_frame   bytes -> frame::decode_request; what decodes must re-encode, decode again
#                   to an equal frame and re-encode to the same bytes
#   response_frame  4 selector bytes pick (api, version) from ApiKey::ALL, the rest ->
#                   frame::decode_response; same re-encode oracle
#   broker_frame    bytes -> kafka-broker BrokerState::handle_frame (paused tokio time): the
#                   broker must answer or close, never panic or hang
#   record_set      bytes -> records::RecordSetReader walking every batch and record, CRC
#                   verification on, decompression capped at 1 MiB; must never panic, and a
#                   fully decoded v2 batch rebuilt with RecordBatchBuilder reads back the same
#                   (first byte: bit 0 = recompute top-level CRCs so mutations get past them)
#
# Seed corpora are generated on the fly (valid frames and record sets encoded by the crate
# itself, written by each target's init when KAFKA_FUZZ_SEED_DIR is set) into
# fuzz/corpus/<target>, which keeps growing across runs; crashes land in
# fuzz/artifacts/<target>/. Both are gitignored. Reproduce or minimise a crash with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> artifacts/<target>/crash-...
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin <target> artifacts/<target>/crash-...
# and turn it into a test in kafka-protocol/tests/fuzz_regressions.rs. The seeds themselves
# are checked by `cd fuzz && cargo test --lib` (plain build, no fuzz flags).
#
# Prints each target's executions (libFuzzer's final `#N DONE` line) and exits non-zero if
# any target crashed (panic, sanitizer report, timeout or out-of-memory).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Only a stable toolchain is assumed:
# RUSTC_BOOTSTRAP=1 lets it take the nightly-only sanitizer and coverage flags.
# Environment:
#   FUZZ_TARGETS    targets to run (default: all four)
#   FUZZ_SANITIZER  address (default) or none (faster, catches panics only)
#   FUZZ_ARGS       extra libFuzzer arguments, e.g. "-max_len=4096"
set -euo pipefail

secs="${1:-60}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
targets=(${FUZZ_TARGETS:-request_frame response_frame record_set broker_frame})
sanitizer="${FUZZ_SANITIZER:-address}"
extra=(${FUZZ_ARGS:-})
logs="$root/fuzz/target/fuzz-logs"
mkdir -p "$logs"

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$root/fuzz/target/$triple/release"

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer" --target "$triple" >"$logs/build.log" 2>&1 || {
    tail -n 40 "$logs/build.log" >&2
    echo "fuzz build failed (full log: $logs/build.log)" >&2
    exit 1
}

failed=0
summary=()
for t in "${targets[@]}"; do
    corpus="corpus/$t"
    mkdir -p "$corpus" "artifacts/$t"
    log="$logs/$t.log"
    echo "== $t: ${secs}s (log: $log)"
    start=$(date +%s)
    rc=0
    # The binary directly (not `cargo fuzz run`, which may rebuild and eat into the time).
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}" KAFKA_FUZZ_SEED_DIR="$corpus" \
        "$bin_dir/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$secs" -timeout=30 \
        -print_final_stats=1 "${extra[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    if [ -z "$execs" ] && [ -n "$done_line" ]; then
        execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$done_line")
    fi
    corpus_n=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "!! $t CRASHED (exit $rc) after ${elapsed}s; tail of $log:"
        grep -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY|Test unit written to' "$log" | head -n 10 || true
        tail -n 25 "$log"
        summary+=("$t: CRASH after ${execs:-?} execs, ${elapsed}s; artifact: fuzz/$(grep -oE 'Test unit written to [^ ]+' "$log" | head -n 1 | sed 's/^Test unit written to //' || true)")
    else
        [ -n "$done_line" ] && echo "$done_line"
        summary+=("$t: ${execs:-?} execs in ${elapsed}s, corpus $corpus_n files")
    fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
