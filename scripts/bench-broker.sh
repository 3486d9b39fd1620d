#!/usr/bin/env bash
# Broker benchmark: the companion broker (kafka-broker, in memory) against tansu (memory
# storage), one after the other in one run, with the same neutral client (librdkafka through
# rust-rdkafka, perf/broker-peer), then a side-by-side table with ratios.
#
#   scripts/bench-broker.sh                      # full run: 10-minute sustain on each broker
#   scripts/bench-broker.sh --quick              # 1/10 of the records, 5 s latency, 30 s sustain
#   scripts/bench-broker.sh --sustain-secs 600 --tansu-sustain-secs 120
#   scripts/bench-broker.sh --skip-tansu         # our broker only
#   scripts/bench-broker.sh --no-build           # use the binaries already built
#   scripts/bench-broker.sh --rounds 5           # + 4 throughput-only rounds, alternating brokers;
#                                                #   throughput rows show the median [min-max]
#   scripts/bench-broker.sh --rt                 # diagnostic: broker and client under SCHED_FIFO
#                                                #   (chrt -f 10), shielded from other load
#   scripts/bench-broker.sh --summary DIR        # the table again from DIR's ours.json/tansu.json
#   scripts/bench-broker.sh -- --latency-rate 5000   # arguments after -- go to broker-peer
#
# Per broker, broker-peer measures (see perf/broker-peer/src/main.rs):
#   produce  N records (1M x 100 B, 200k x 1 KiB), acks=1, linger.ms=5, 6 partitions:
#            records/s and MB/s (10^6 value bytes) until every delivery report is in
#   fetch    the same records, consumer assign()ed to all partitions from the beginning
#   latency  10k records/s for 20 s (100 B, linger.ms=0): send -> delivery report percentiles,
#            against a 100-byte TCP echo ping-pong on 127.0.0.1 measured in the same process
#            (back to back, and paced at the same rate, which adds the thread wake-ups)
#   sustain  10k records/s x 1 KiB for --sustain-secs while a consumer tails the topic
#            (retention.bytes 16 MiB per partition, retention.ms 60 s, and every 10 s a
#            DeleteRecords keeping the newest 16 MiB per partition, so the data held stays
#            bounded whatever the broker's retention check interval; `-- --sustain-trim-secs 0`
#            relies on retention alone): broker VmRSS every second, and RSS minus the data held
# The broker's CPU time per phase comes from /proc/PID/stat.
#
# tansu: $TANSU, else `tansu` on PATH, else ~/.cargo/bin/tansu. Install it with
#   cargo install tansu --features dynostore      (memory:// storage needs dynostore)
# Results: target/bench-broker/<UTC time>/{ours,tansu}.json, logs, summary.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

sustain=600
tansu_sustain=""
quick=0
skip_tansu=0
no_build=0
rounds=1
prio=()
summary_dir=""
peer_args=()
while (($#)); do
    case "$1" in
        --quick) quick=1 ;;
        --sustain-secs) sustain="$2"; shift ;;
        --tansu-sustain-secs) tansu_sustain="$2"; shift ;;
        --skip-tansu) skip_tansu=1 ;;
        --no-build) no_build=1 ;;
        --summary) summary_dir="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        --rt) prio=(chrt -f 10) ;;
        --) shift; peer_args=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if ((quick)); then
    [[ $sustain == 600 ]] && sustain=30
    peer_args=(--workloads 100:100000,1024:20000 --latency-secs 5 --loopback-iters 20000 "${peer_args[@]}")
fi
tansu_sustain="${tansu_sustain:-$sustain}"

summarize() {
    python3 - "$1" <<'EOF'
import json, os, sys
d = sys.argv[1]
import glob, statistics
runs = {}
rounds = {}
for name in ("ours", "tansu"):
    p = os.path.join(d, f"{name}.json")
    if os.path.exists(p):
        runs[name] = json.load(open(p))
    rounds[name] = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, f"{name}.r*.json")))]
    if name in runs:
        rounds[name].insert(0, runs[name])
nrounds = max(len(v) for v in rounds.values())

def across(name, kind, key, field):
    return [r[kind][key][field] for r in rounds.get(name, []) if key in r.get(kind, {}) and r[kind][key].get(field) is not None]

def med(vals):
    return statistics.median(vals) if vals else None
if not runs:
    sys.exit("no results in " + d)
ours, tansu = runs.get("ours"), runs.get("tansu")

def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"

rows = [["metric", "ours", "tansu", "ours/tansu"]]
for kind in ("produce", "fetch"):
    keys = sorted(set((ours or {}).get(kind, {})) | set((tansu or {}).get(kind, {})), key=lambda k: (len(k), k))
    for k in keys:
        o = (ours or {}).get(kind, {}).get(k)
        t = (tansu or {}).get(kind, {}).get(k)
        n = (o or t)["records"]
        for unit, field in (("records/s", "records_per_sec"), ("MB/s", "mb_per_sec")):
            ovs, tvs = across("ours", kind, k, field), across("tansu", kind, k, field)
            ov, tv = med(ovs), med(tvs)
            fmt = "{:,.0f}" if unit == "records/s" else "{:.1f}"
            def cell(v, vs):
                if v is None:
                    return "-"
                c = fmt.format(v)
                if len(vs) > 1:
                    c += " [" + fmt.format(min(vs)) + "-" + fmt.format(max(vs)) + "]"
                return c
            rows.append([f"{kind} {k} x{n} {unit}", cell(ov, ovs), cell(tv, tvs), ratio(ov, tv)])
        for who in ("broker", "client"):
            oc, tc = med(across("ours", kind, k, f"{who}_cpu_secs")), med(across("tansu", kind, k, f"{who}_cpu_secs"))
            rows.append([f"{kind} {k} {who} CPU s" + (" (ratio tansu/ours)" if who == "broker" else ""), f"{oc:.2f}" if oc is not None else "-", f"{tc:.2f}" if tc is not None else "-", ratio(tc, oc) if who == "broker" else ""])

def pct(r, path):
    x = r
    for p in path:
        x = x.get(p) if isinstance(x, dict) else None
        if x is None:
            return None
    return x

for name, path in (("loopback RTT", ("loopback",)), ("loopback RTT paced", ("loopback_paced",)), ("produce latency", ("latency", "delivery"))):
    for q in ("p50_us", "p99_us", "p999_us", "max_us"):
        ov = pct(ours or {}, path + (q,))
        tv = pct(tansu or {}, path + (q,))
        rows.append([f"{name} {q[:-3]} (us)", f"{ov:.1f}" if ov is not None else "-", f"{tv:.1f}" if tv is not None else "-", ratio(tv, ov) if name == "produce latency" else ""])
gap = []
for r in (ours, tansu):
    lp = pct(r or {}, ("latency", "delivery", "p99_us"))
    lb = pct(r or {}, ("loopback", "p99_us"))
    gap.append(f"{lp - lb:.1f}" if lp is not None and lb is not None else "-")
rows.append(["produce p99 - loopback p99 (us)", gap[0], gap[1], ""])
for name, field in (("latency achieved rate/s", "achieved_rate"),):
    ov, tv = pct(ours or {}, ("latency", field)), pct(tansu or {}, ("latency", field))
    rows.append([name, f"{ov:,.0f}" if ov else "-", f"{tv:,.0f}" if tv else "-", ""])

def mib(k):
    return f"{k / 1024:.1f}" if k is not None else "-"
for label, field in (("secs", "secs"), ("achieved rate/s", "achieved_rate"), ("RSS start MiB", "rss_start_kib"), ("RSS end MiB", "rss_end_kib"),
                     ("RSS min MiB", "rss_min_kib"), ("RSS max MiB", "rss_max_kib"),
                     ("RSS max first 10% MiB", "rss_max_first_tenth_kib"), ("RSS max last 10% MiB", "rss_max_last_tenth_kib"),
                     ("RSS - retained data first MiB", "overhead_first_kib"), ("RSS - retained data last MiB", "overhead_last_kib"),
                     ("RSS - retained data max MiB", "overhead_max_kib"),
                     ("broker CPU s", "broker_cpu_secs"), ("delivered", "delivered"), ("consumed", "consumed"), ("errors", "errors"),
                     ("DeleteRecords trims", "trims"), ("DeleteRecords errors", "trim_errors")):
    ov, tv = pct(ours or {}, ("sustain", field)), pct(tansu or {}, ("sustain", field))
    f = (lambda v: mib(v)) if "kib" in field else (lambda v: "-" if v is None else (f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)))
    rows.append([f"sustain {label}", f(ov), f(tv), ""])
rows.append(["broker RSS at bench start MiB", mib((ours or {}).get("broker_rss_kib_at_start")), mib((tansu or {}).get("broker_rss_kib_at_start")), ""])

w = [max(len(r[i]) for r in rows) for i in range(4)]
for i, r in enumerate(rows):
    print("  ".join(c.ljust(w[j]) if j == 0 else c.rjust(w[j]) for j, c in enumerate(r)))
    if i == 0:
        print("  ".join("-" * x for x in w))
for name, r in runs.items():
    for e in r.get("errors", []):
        print(f"ERROR ({name}): {e}")
r = ours or tansu
print(f"\nlibrdkafka {r['librdkafka']} (rdkafka crate {r['rdkafka_crate']}), {r['machine_cores']} cores")
if nrounds > 1:
    print(f"throughput rows: median over {nrounds} rounds [min-max]; CPU rows: median")
if ours and tansu:
    worst = min(med(across("ours", k, w, "records_per_sec")) / med(across("tansu", k, w, "records_per_sec"))
                for k in ("produce", "fetch") for w in ours[k] if w in tansu.get(k, {}))
    print(f"throughput target >= 3x tansu: worst ratio {worst:.2f}x -> {'met' if worst >= 3 else 'MISSED'}")
if ours and ours.get("latency") and ours.get("loopback"):
    g = ours["latency"]["delivery"]["p99_us"] - ours["loopback"]["p99_us"]
    print(f"latency target (ours p99 within 1000 us of loopback p99): {g:.1f} us -> {'met' if g <= 1000 else 'MISSED'}")
EOF
}

if [[ -n $summary_dir ]]; then
    summarize "$summary_dir"
    exit 0
fi

out="$root/target/bench-broker/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "results in $out"

if ((!no_build)); then
    echo "== building kafka-broker (release) and perf/broker-peer"
    cargo build --release -p kafka-broker --bin kafka-broker
    (cd perf/broker-peer && cargo build --release)
fi
peer="$root/perf/broker-peer/target/release/broker-peer"
broker_bin="$root/target/release/kafka-broker"

broker_pid=""
cleanup() {
    if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

stop_broker() {
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
}

wait_port() { # host port
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

run_peer() { # name bootstrap pid sustain [extra broker-peer args...]
    local name=$1 bootstrap=$2 pid=$3 secs=$4
    shift 4
    "${prio[@]}" "$peer" --label "${name%%.*}" --bootstrap "$bootstrap" --broker-pid "$pid" \
        --sustain-secs "$secs" --json "$out/$name.json" "${peer_args[@]}" "$@" \
        2> >(tee "$out/$name.peer.log" >&2) | tee "$out/$name.txt" || true
}

start_ours() { # log name; sets broker_pid and addr
    "${prio[@]}" "$broker_bin" --listen 127.0.0.1:0 >"$out/$1.stdout" 2>"$out/$1.broker.log" &
    broker_pid=$!
    for _ in $(seq 300); do grep -q '^listening on ' "$out/$1.stdout" && break; sleep 0.1; done
    addr="$(sed -n 's/^listening on //p' "$out/$1.stdout" | head -1)"
    [[ -n $addr ]] || { echo "kafka-broker did not start; see $out/$1.broker.log" >&2; exit 1; }
    echo "kafka-broker pid $broker_pid on $addr"
}

start_tansu() { # log name; sets broker_pid and addr
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    RUST_LOG="${TANSU_LOG:-warn}" "${prio[@]}" "$tansu" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "memory://tansu/" >"$out/$1.stdout" 2>"$out/$1.broker.log" &
    broker_pid=$!
    wait_port 127.0.0.1 "$port" || { echo "tansu did not start; see $out/$1.broker.log" >&2; exit 1; }
    addr="127.0.0.1:$port"
    echo "tansu pid $broker_pid on $addr"
}

{
    echo "date: $(date -u +%FT%TZ)"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version)"
    echo "kafka-broker: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)"
    echo "peer args: sustain=$sustain tansu_sustain=$tansu_sustain rounds=$rounds ${prio[*]} ${peer_args[*]}"
} | tee "$out/machine.txt"

have_tansu=0
if ((!skip_tansu)); then
    tansu="${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
    if [[ -x $tansu ]]; then
        have_tansu=1
        echo "tansu: $("$tansu" --version 2>/dev/null || echo '?') ($tansu)" | tee -a "$out/machine.txt"
    else
        echo "tansu not found (set TANSU or: cargo install tansu --features dynostore); skipping it" | tee -a "$out/machine.txt"
    fi
fi

# The main pass: every phase, each broker fresh.
echo "== our broker (in memory)"
start_ours ours
run_peer ours "$addr" "$broker_pid" "$sustain"
stop_broker
if ((have_tansu)); then
    echo "== tansu (memory://)"
    start_tansu tansu
    run_peer tansu "$addr" "$broker_pid" "$tansu_sustain"
    stop_broker
fi

# Extra throughput-only rounds, alternating, each broker fresh: the summary takes medians.
for ((r = 2; r <= rounds; r++)); do
    echo "== throughput round $r/$rounds"
    start_ours "ours.r$r"
    run_peer "ours.r$r" "$addr" "$broker_pid" 0 --latency-secs 0 --loopback-iters 0
    stop_broker
    if ((have_tansu)); then
        start_tansu "tansu.r$r"
        run_peer "tansu.r$r" "$addr" "$broker_pid" 0 --latency-secs 0 --loopback-iters 0
        stop_broker
    fi
done

echo
echo "== side by side"
summarize "$out" | tee "$out/summary.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
