"""confluent-kafka (librdkafka) Producer and Consumer against the companion broker.

Covers: a Producer with acks=all and linger under every compression codec writing
100k records per codec (500k in all) across 3 partitions, with keys, headers on some records
and explicit create timestamps, checking every delivery report (partition, offset in
produce order); a Consumer in assign mode (explicit offsets, enable.auto.commit=false,
check.crcs=true) reading every record back and checking key, value, headers, timestamp,
partition and offset, in order per partition, and partition EOF; watermark offsets and
offsets_for_times (ListOffsets); assigning at a middle offset, OFFSET_BEGINNING and
OFFSET_END (then producing more).

librdkafka requires a group.id for a Consumer even in assign mode and then looks for the
group coordinator (FindCoordinator) in the background. Nothing here commits or joins, so
coordinator errors, if the broker lacks the group APIs, are logged (and counted) but do not
fail the test: assign with explicit offsets must fetch regardless.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import confluent_kafka  # noqa: E402
from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)

from _broker import (  # noqa: E402
    CODEC_IDS,
    INIT_PRODUCER_ID,
    Broker,
    Suite,
    api_versions,
    librdkafka_codec,
    log,
    stored_batches,
)

LIBRDKAFKA = tuple(int(x) for x in confluent_kafka.libversion()[0].split(".")[:3])

PARTITIONS = 3
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = int(os.environ.get("KAFKA_SDK_CK_RECORDS", "100000"))
BASE_TS = 1_700_000_000_000
PAD = b"0123456789abcdef" * 4

suite = Suite("test_confluent_kafka.py", budget=170)
broker = Broker(default_partitions=PARTITIONS, name="broker")
suite.brokers.append(broker)
client_errors = []


def error_cb(err):
    client_errors.append(err)
    log(f"    librdkafka error_cb: {err}")


def record(i):
    """Record i: (partition, key, value, headers, timestamp). Partition i % 3, so the k-th
    record of partition p is i = 3k + p and must land at offset k."""
    key = None if i % 97 == 0 else b"key-%d" % i
    value = b"value-%d-" % i + PAD
    headers = [("i", b"%d" % i), ("mod", b"%d" % (i % 10))] if i % 10 == 0 else None
    return i % PARTITIONS, key, value, headers, BASE_TS + i


def producer(codec, **extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "linger.ms": 20,
        "compression.type": codec,
        "error_cb": error_cb,
        "message.timeout.ms": 60000,
    }
    conf.update(extra)
    return Producer(conf)


def consumer(**extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "conformance-assign-only",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        "check.crcs": True,
        "error_cb": error_cb,
        "fetch.wait.max.ms": 100,
    }
    conf.update(extra)
    return Consumer(conf)


def produce_all(topic, codec, n):
    p = producer(codec)
    reports = [None] * n

    def on_delivery(err, msg):
        i = int(msg.value().split(b"-", 2)[1])
        reports[i] = (err, msg.partition(), msg.offset())

    for i in range(n):
        part, key, value, headers, ts = record(i)
        while True:
            try:
                p.produce(
                    topic,
                    value=value,
                    key=key,
                    partition=part,
                    on_delivery=on_delivery,
                    timestamp=ts,
                    headers=headers,
                )
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(60)
    assert left == 0, f"{left} records not delivered after 60s"
    bad = [(i, r) for i, r in enumerate(reports) if r is None or r[0] is not None]
    assert not bad, f"{len(bad)} failed deliveries, first: {bad[:5]}"
    for i, (_err, part, off) in enumerate(reports):
        want_p = i % PARTITIONS
        assert (part, off) == (want_p, i // PARTITIONS), f"record {i}: delivered to {part}@{off}"


def count_in(partition, n):
    return len(range(partition, n, PARTITIONS))


def consume_all(topic, n, start=None):
    """Reads partitions 0..2 from `start` (dict partition -> offset, default 0) to their end;
    checks every record. Returns {partition: records read}."""
    start = start or {}
    c = consumer()
    try:
        c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in range(PARTITIONS)])
        nxt = {p: start.get(p, 0) for p in range(PARTITIONS)}
        ends = {p: count_in(p, n) for p in range(PARTITIONS)}
        eof = set()
        deadline = time.monotonic() + 60
        while len(eof) < PARTITIONS or any(nxt[p] < ends[p] for p in nxt):
            assert time.monotonic() < deadline, f"timed out: next offsets {nxt}, ends {ends}, eof {eof}"
            for m in c.consume(num_messages=5000, timeout=0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if nxt[m.partition()] >= ends[m.partition()]:
                            eof.add(m.partition())
                        continue
                    raise AssertionError(f"consumer error on {m.topic()}[{m.partition()}]: {err}")
                p, off = m.partition(), m.offset()
                assert off == nxt[p], f"partition {p}: got offset {off}, expected {nxt[p]}"
                i = off * PARTITIONS + p
                want_p, key, value, headers, ts = record(i)
                assert p == want_p
                assert m.key() == key, (i, m.key(), key)
                assert m.value() == value, (i, m.value())
                assert m.headers() == headers, (i, m.headers(), headers)
                assert m.timestamp() == (TIMESTAMP_CREATE_TIME, ts), (i, m.timestamp(), ts)
                assert m.topic() == topic
                nxt[p] += 1
        return {p: nxt[p] - start.get(p, 0) for p in nxt}
    finally:
        c.close()


def test_round_trip(codec):
    topic = f"ck-{codec}"
    t0 = time.monotonic()
    produce_all(topic, codec, PER_CODEC)
    t1 = time.monotonic()
    got = consume_all(topic, PER_CODEC)
    t2 = time.monotonic()
    assert sum(got.values()) == PER_CODEC, got
    log(f"    {PER_CODEC} records: produce {t1 - t0:.1f}s, consume {t2 - t1:.1f}s")
    expected, why = librdkafka_codec(codec, api_versions(broker.bootstrap), LIBRDKAFKA)
    if why:
        log(f"    NOTE: librdkafka {confluent_kafka.libversion()[0]} sends {codec} uncompressed: {why}")
    for p in range(PARTITIONS):
        codecs = {b["codec"] for b in stored_batches(broker.data_dir, topic, p)}
        # librdkafka also sends a batch uncompressed when compressing does not shrink it.
        assert CODEC_IDS[expected] in codecs and codecs <= {0, CODEC_IDS[expected]}, (p, codecs, expected)


def test_watermarks_and_times():
    topic = "ck-lz4"
    c = consumer()
    try:
        for p in range(PARTITIONS):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert (lo, hi) == (0, count_in(p, PER_CODEC)), (p, lo, hi)
        # The first record of each partition with timestamp >= BASE_TS + 1000.
        i = 1000
        tps = [TopicPartition(topic, p, BASE_TS + i) for p in range(PARTITIONS)]
        found = c.offsets_for_times(tps, timeout=10)
        for tp in found:
            assert tp.error is None, tp
            want = -(-(i - tp.partition) // PARTITIONS)  # ceil((i - p) / 3)
            assert tp.offset == want, (tp.partition, tp.offset, want)
        # Past the last timestamp: -1 (no such record).
        found = c.offsets_for_times([TopicPartition(topic, 0, BASE_TS + 10 * PER_CODEC)], timeout=10)
        assert found[0].offset in (-1, OFFSET_END), found
    finally:
        c.close()


def test_assign_middle_offset():
    topic = "ck-zstd"
    start = {0: 0, 1: 5000 % count_in(1, PER_CODEC), 2: count_in(2, PER_CODEC)}
    got = consume_all(topic, PER_CODEC, start)
    assert got == {p: count_in(p, PER_CODEC) - start[p] for p in range(PARTITIONS)}, got


def test_logical_offsets():
    topic = "ck-logical"
    p = producer("none")
    for k in range(10):
        p.produce(topic, b"old-%d" % k, partition=0)
    assert p.flush(30) == 0
    c = consumer()
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        first = _poll_value(c)
        assert (first.offset(), first.value()) == (0, b"old-0"), (first.offset(), first.value())
        c.unassign()
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        # Let the consumer resolve the end offset (it polls with EOF once there).
        eof_deadline = time.monotonic() + 20
        while time.monotonic() < eof_deadline:
            m = c.poll(0.5)
            if m is not None and m.error() and m.error().code() == KafkaError._PARTITION_EOF:
                break
            assert m is None or m.error(), f"read {m.offset()} from OFFSET_END before producing"
        else:
            raise AssertionError("no EOF at OFFSET_END")
        for k in range(3):
            p.produce(topic, b"new-%d" % k, partition=0)
        assert p.flush(30) == 0
        got = [_poll_value(c) for _ in range(3)]
        assert [(m.offset(), m.value()) for m in got] == [(10 + k, b"new-%d" % k) for k in range(3)], [
            (m.offset(), m.value()) for m in got
        ]
    finally:
        c.close()


def _poll_value(c, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError(f"consumer error: {m.error()}")
        return m
    raise AssertionError(f"no record within {timeout}s")


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    for codec in CODECS:
        suite.check(f"round trip {PER_CODEC} records, compression.type={codec}", test_round_trip, codec)
    suite.check("watermark offsets and offsets_for_times", test_watermarks_and_times)
    suite.check("assign at middle / end offsets", test_assign_middle_offset)
    suite.check("assign OFFSET_BEGINNING / OFFSET_END, then produce", test_logical_offsets)
    if client_errors:
        log(f"note: librdkafka reported {len(client_errors)} client-level errors (not failures):")
        for e in sorted({str(e) for e in client_errors})[:10]:
            log(f"    {e}")
    closed = broker.grep(r"closing connection")
    if closed:
        log(f"note: the broker closed {len(closed)} connections, e.g. {closed[0]}")
    code, killed = broker.stop()
    suite.check("broker exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
