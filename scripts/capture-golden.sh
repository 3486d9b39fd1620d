#!/usr/bin/env bash
# Records the request frames real clients send, as golden fixtures for
# kafka-protocol/tests/golden_frames.rs.
#
#   scripts/capture-golden.sh            # all clients
#   scripts/capture-golden.sh kcat       # just some: kcat confluent_kafka kafka_python
#
# Starts the companion broker advertising a proxy address, then for every client and
# scenario (tests/conformance/_golden_scenarios.py: metadata, produce with each codec,
# consume) runs `cargo xtask golden-capture` (the built target/debug/xtask binary) on that
# address for GOLDEN_SECONDS seconds (default 10) while the client talks through it, so
# every request it sends is recorded. A full run takes about 4 minutes.
# Finally a small set is kept (one frame per API and version, one Produce per codec, ...)
# in kafka-protocol/tests/golden/<client>/, replacing that client's previous fixtures.
#
# Needs kcat and the venv of `cargo xtask test` (KAFKA_SDK_KCAT / KAFKA_SDK_PYTHON override).
# GOLDEN_KEEP=1 keeps the work directory (broker log, raw capture) for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${KAFKA_SDK_PYTHON:-$ROOT/.venv/bin/python}"
export KAFKA_SDK_KCAT="${KAFKA_SDK_KCAT:-$(command -v kcat || echo /usr/bin/kcat)}"
OUT="$ROOT/kafka-protocol/tests/golden"
SCENARIOS_PY="$ROOT/tests/conformance/_golden_scenarios.py"
SECS="${GOLDEN_SECONDS:-10}"
CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(kcat confluent_kafka kafka_python)
CODECS=(gzip snappy lz4 zstd)

WORK="$(mktemp -d -t kafka-golden.XXXXXX)"
BROKER_PID=""
PROXY_PID=""
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
    if [ -n "$BROKER_PID" ]; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
    fi
    if [ -n "${GOLDEN_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Wait (up to $3 seconds) for a line matching regex $2 in file $1; print the first match.
wait_for_line() {
    local file="$1" pattern="$2" secs="$3" i
    for i in $(seq $((secs * 10))); do
        if grep -Eom1 "$pattern" "$file" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for /$pattern/ in $file:" >&2
    cat "$file" >&2
    return 1
}

echo "== building kafka-broker and xtask"
cargo build -p kafka-broker --bin kafka-broker
cargo build -p xtask

PROXY_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PROXY="127.0.0.1:$PROXY_PORT"

echo "== starting the broker (advertising the proxy $PROXY)"
target/debug/kafka-broker --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    --default-partitions 1 --advertised "$PROXY" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
UPSTREAM="$(wait_for_line "$WORK/broker.log" 'listening on [^ ]+:[0-9]+' 30 | sed 's/^listening on //')"
echo "   broker at $UPSTREAM"

capture() {
    local client="$1" scenario="$2"
    echo "== $client: $scenario"
    : >"$WORK/proxy.log"
    # The binary `cargo xtask` runs, started directly: `cargo run` would wait for (and
    # possibly redo) a build each time.
    target/debug/xtask golden-capture --listen "$PROXY" --upstream "$UPSTREAM" \
        --out "$WORK/raw/$client" --prefix "$scenario" --seconds "$SECS" >"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    wait_for_line "$WORK/proxy.log" 'golden-capture: listening' 20 >/dev/null
    local rc=0
    timeout $((SECS - 1)) "$PY" "$SCENARIOS_PY" run "$client" "$scenario" "$PROXY" \
        >"$WORK/client.log" 2>&1 || rc=$?
    wait "$PROXY_PID" || true
    PROXY_PID=""
    sed 's/^/   proxy: /' "$WORK/proxy.log"
    if [ "$rc" != 0 ]; then
        echo "   $client $scenario failed ($rc):" >&2
        sed 's/^/   | /' "$WORK/client.log" >&2
        return 1
    fi
}

for client in "${CLIENTS[@]}"; do
    scenarios=(metadata)
    for codec in "${CODECS[@]}"; do scenarios+=("produce-$codec"); done
    scenarios+=(consume)
    [ "$client" = kcat ] && scenarios+=(consume-end)
    for scenario in "${scenarios[@]}"; do
        capture "$client" "$scenario"
    done
done

echo "== selecting fixtures into $OUT"
"$PY" "$SCENARIOS_PY" select "$WORK/raw" "$OUT"
