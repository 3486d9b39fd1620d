"""Client scenarios for `scripts/capture-golden.sh`, and the fixture selection that follows.

Not a conformance script (leading underscore). Two uses:

    python _golden_scenarios.py run CLIENT SCENARIO BOOTSTRAP
    python _golden_scenarios.py select RAW_DIR OUT_DIR

`run` drives one client (kcat, confluent_kafka, kafka_python) through one scenario against
BOOTSTRAP (the recording proxy): `metadata`, `produce-<codec>` (codec: none, gzip, snappy,
lz4, zstd), `consume` (from the beginning) and, for kcat, `consume-end`. The data is fixed so
that `kafka-protocol/tests/golden_frames.rs` can assert it field by field:

- topic `golden-<client>-<codec>` (client with `_` as is), partition 0;
- records `key-<i>` / `value-<i>-` + "golden " * 8, for i in 0..3;
- headers `h1=v1`, `h2=v2` on every record;
- timestamps `1700000000000 + i` (not kcat, which cannot set them);
- kafka-python's producer is idempotent (its default), the librdkafka ones are not (theirs).

`select` keeps a small fixture set from the raw capture: per client, one frame per
(api key, version), except Produce (one per scenario, i.e. per codec), Metadata (one per kind
of topic list: null for all topics, empty, named) and ListOffsets (one per distinct request
body, so the earliest (-2) and latest (-1) lookups both stay).
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True

CLIENTS = ["kcat", "confluent_kafka", "kafka_python"]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
RECORDS = 3
BASE_TS = 1_700_000_000_000
HEADERS = [("h1", b"v1"), ("h2", b"v2")]
CONSUME_CODEC = "gzip"


def topic(client, codec):
    return f"golden-{client}-{codec}"


def key(i):
    return b"key-%d" % i


def value(i):
    return b"value-%d-" % i + b"golden " * 8


def kcat_bin():
    import shutil as sh

    return os.environ.get("KAFKA_SDK_KCAT") or sh.which("kcat") or "/usr/bin/kcat"


def kcat(bootstrap, *args, input=None):
    p = subprocess.run(
        [kcat_bin(), "-b", bootstrap, *args],
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=30,
    )
    sys.stdout.write(p.stdout.decode(errors="replace"))
    sys.stderr.write(p.stderr.decode(errors="replace"))
    if p.returncode != 0:
        raise SystemExit(f"kcat exited {p.returncode}")


def run_kcat(scenario, bootstrap):
    client = "kcat"
    if scenario == "metadata":
        kcat(bootstrap, "-L")
    elif scenario.startswith("produce-"):
        codec = scenario.split("-", 1)[1]
        lines = b"".join(key(i) + b":" + value(i) + b"\n" for i in range(RECORDS))
        args = ["-P", "-t", topic(client, codec), "-p", "0", "-K:", "-X", f"compression.codec={codec}"]
        args += ["-X", "linger.ms=200"]  # all three records in one batch
        for k, v in HEADERS:
            args += ["-H", f"{k}={v.decode()}"]
        kcat(bootstrap, *args, input=lines)
    elif scenario == "consume":
        kcat(bootstrap, "-C", "-t", topic(client, CONSUME_CODEC), "-p", "0", "-o", "beginning", "-e")
    elif scenario == "consume-end":
        kcat(bootstrap, "-C", "-t", topic(client, CONSUME_CODEC), "-p", "0", "-o", "end", "-e")
    else:
        raise SystemExit(f"unknown scenario {scenario}")


def run_confluent(scenario, bootstrap):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    client = "confluent_kafka"
    if scenario == "metadata":
        p = Producer({"bootstrap.servers": bootstrap})
        md = p.list_topics(timeout=10)
        print(sorted(md.topics))
        p.flush(5)
    elif scenario.startswith("produce-"):
        codec = scenario.split("-", 1)[1]
        p = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "linger.ms": 100,
                "compression.type": codec,
            }
        )
        for i in range(RECORDS):
            p.produce(
                topic(client, codec),
                value=value(i),
                key=key(i),
                partition=0,
                timestamp=BASE_TS + i,
                headers=HEADERS,
            )
        left = p.flush(20)
        if left:
            raise SystemExit(f"{left} records undelivered")
    elif scenario == "consume":
        c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "golden",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        tp = TopicPartition(topic(client, CONSUME_CODEC), 0, OFFSET_BEGINNING)
        c.assign([tp])
        got, deadline = 0, time.monotonic() + 15
        while got < RECORDS and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        print("consumed", got)
        print("watermarks", c.get_watermark_offsets(TopicPartition(tp.topic, 0), timeout=10))
        c.close()
        if got < RECORDS:
            raise SystemExit(f"consumed only {got}")
    else:
        raise SystemExit(f"unknown scenario {scenario}")


def run_kafka_python(scenario, bootstrap):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    client = "kafka_python"
    if scenario == "metadata":
        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        print(sorted(c.topics()))
        c.close()
    elif scenario.startswith("produce-"):
        codec = scenario.split("-", 1)[1]
        p = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=100,
            compression_type=None if codec == "none" else codec,
            # kafka-python's default: the idempotent producer (InitProducerId, then producer
            # id, epoch and sequence numbers in every batch).
            enable_idempotence=True,
        )
        futures = [
            p.send(
                topic(client, codec),
                value=value(i),
                key=key(i),
                headers=[(k, v) for k, v in HEADERS],
                partition=0,
                timestamp_ms=BASE_TS + i,
            )
            for i in range(RECORDS)
        ]
        p.flush(timeout=20)
        for f in futures:
            print(f.get(timeout=10))
        p.close(timeout=10)
    elif scenario == "consume":
        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        tp = TopicPartition(topic(client, CONSUME_CODEC), 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got, deadline = 0, time.monotonic() + 15
        while got < RECORDS and time.monotonic() < deadline:
            got += sum(len(v) for v in c.poll(timeout_ms=500).values())
        print("consumed", got)
        print("end offsets", c.end_offsets([tp]))
        c.close()
        if got < RECORDS:
            raise SystemExit(f"consumed only {got}")
    else:
        raise SystemExit(f"unknown scenario {scenario}")


RUNNERS = {"kcat": run_kcat, "confluent_kafka": run_confluent, "kafka_python": run_kafka_python}

NAME = re.compile(r"^(?P<prefix>.+)-(?P<seq>\d{3,})-k(?P<key>-?\d+)-v(?P<version>-?\d+)\.bin$")
SCENARIO_ORDER = ["metadata"] + [f"produce-{c}" for c in CODECS] + ["consume", "consume-end"]


def _uvarint(data, pos):
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def metadata_topics_kind(frame, version):
    """'null' (all topics), 'empty' (none) or 'named', read from a Metadata request frame."""
    import struct

    pos = 8  # api key, version, correlation id
    (n,) = struct.unpack_from(">h", frame, pos)
    pos += 2 + max(n, 0)  # client id
    flexible = version >= 9
    if flexible:
        tags, pos = _uvarint(frame, pos)
        assert tags == 0, "tagged fields in a Metadata request header"
        count, pos = _uvarint(frame, pos)
        count -= 1
    else:
        (count,) = struct.unpack_from(">i", frame, pos)
    return "null" if count < 0 else "empty" if count == 0 else "named"


def select(raw, out):
    """Copies the kept frames of raw/<client>/ into out/<client>/ (replacing what was there)."""
    total = 0
    for client in CLIENTS:
        src = os.path.join(raw, client)
        if not os.path.isdir(src):
            print(f"select: no capture for {client}")
            continue
        frames = []
        for name in os.listdir(src):
            m = NAME.match(name)
            if not m:
                continue
            prefix = m.group("prefix")
            order = SCENARIO_ORDER.index(prefix) if prefix in SCENARIO_ORDER else len(SCENARIO_ORDER)
            frames.append((order, int(m.group("seq")), name, prefix, int(m.group("key")), int(m.group("version"))))
        frames.sort()
        seen = set()
        kept = []
        for _order, _seq, name, prefix, api, version in frames:
            with open(os.path.join(src, name), "rb") as f:
                data = f.read()
            if api == 0:  # Produce: one per codec
                k = (api, version, prefix)
            elif api == 3:  # Metadata: all topics (null), no topics (empty), named topics
                k = (api, version, metadata_topics_kind(data, version))
            elif api == 2:  # ListOffsets: one per distinct body (earliest, latest, ...)
                k = (api, version, data[8:])
            else:
                k = (api, version)
            if k in seen:
                continue
            seen.add(k)
            kept.append((name, data))
        dst = os.path.join(out, client)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(dst)
        for name, data in kept:
            with open(os.path.join(dst, name), "wb") as f:
                f.write(data)
        total += len(kept)
        print(f"select: {client}: kept {len(kept)} of {len(frames)} frames")
        for name, data in kept:
            print(f"    {name} ({len(data)} bytes)")
    print(f"select: {total} fixtures in all")


def main(argv):
    if len(argv) == 4 and argv[0] == "run":
        client, scenario, bootstrap = argv[1:]
        RUNNERS[client](scenario, bootstrap)
    elif len(argv) == 3 and argv[0] == "select":
        select(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
