"""kafka-python KafkaProducer / KafkaConsumer against the companion broker.

Covers: KafkaProducer (acks=all, linger, enable_idempotence=False) under every compression
codec, 100k records per codec (500k in all) across 3 partitions with keys, headers on some
records and explicit timestamps, checking every send's metadata (partition, offset in send
order); KafkaConsumer in assign mode (group_id=None, check_crcs) reading everything back and
checking key, value, headers, timestamp, partition and offset in order per partition;
beginning/end offsets and offsets_for_times (ListOffsets); seeking to a middle offset,
seek_to_beginning/seek_to_end; and kafka-python's default, idempotent producer
(InitProducerId and sequence numbers), skipped while the broker does not serve
InitProducerId.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402

from _broker import CODEC_IDS, INIT_PRODUCER_ID, Broker, Suite, api_versions, log, stored_batches  # noqa: E402

PARTITIONS = 3
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = int(os.environ.get("KAFKA_SDK_KP_RECORDS", "100000"))
BASE_TS = 1_700_000_000_000
PAD = b"0123456789abcdef" * 4

suite = Suite("test_kafka_python.py", budget=170)
broker = Broker(default_partitions=PARTITIONS, name="broker")
suite.brokers.append(broker)


def record(i):
    """Record i: (partition, key, value, headers, timestamp); the k-th record of partition p
    is i = 3k + p and must land at offset k."""
    key = None if i % 97 == 0 else b"key-%d" % i
    value = b"value-%d-" % i + PAD
    headers = [("i", b"%d" % i), ("mod", b"%d" % (i % 10))] if i % 10 == 0 else []
    return i % PARTITIONS, key, value, headers, BASE_TS + i


def count_in(partition, n):
    return len(range(partition, n, PARTITIONS))


def producer(codec, **extra):
    conf = dict(
        bootstrap_servers=broker.bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        compression_type=None if codec == "none" else codec,
        request_timeout_ms=30000,
        max_block_ms=30000,
        # kafka-python defaults to the idempotent producer, which needs InitProducerId;
        # the round trips use a plain producer and test_idempotent_producer the default.
        enable_idempotence=False,
    )
    conf.update(extra)
    return KafkaProducer(**conf)


def consumer(**extra):
    conf = dict(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        check_crcs=True,
        fetch_max_wait_ms=100,
        max_poll_records=10000,
        request_timeout_ms=30000,
    )
    conf.update(extra)
    return KafkaConsumer(**conf)


def produce_all(topic, codec, n):
    p = producer(codec)
    try:
        futures = []
        for i in range(n):
            part, key, value, headers, ts = record(i)
            futures.append(
                p.send(topic, value=value, key=key, headers=headers, partition=part, timestamp_ms=ts)
            )
        p.flush(timeout=60)
        for i, f in enumerate(futures):
            md = f.get(timeout=10)
            assert (md.partition, md.offset) == (i % PARTITIONS, i // PARTITIONS), (i, md)
    finally:
        p.close(timeout=10)


def consume_all(topic, n, start=None):
    """Reads partitions 0..2 from `start` (partition -> offset, default 0) to their ends,
    checking every record. Returns {partition: records read}."""
    start = start or {}
    c = consumer()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, start.get(tp.partition, 0))
        nxt = {p: start.get(p, 0) for p in range(PARTITIONS)}
        ends = {p: count_in(p, n) for p in range(PARTITIONS)}
        deadline = time.monotonic() + 60
        while any(nxt[p] < ends[p] for p in nxt):
            assert time.monotonic() < deadline, f"timed out: next offsets {nxt}, ends {ends}"
            for tp, records in c.poll(timeout_ms=500, max_records=10000).items():
                for r in records:
                    p = r.partition
                    assert r.offset == nxt[p], f"partition {p}: got offset {r.offset}, expected {nxt[p]}"
                    i = r.offset * PARTITIONS + p
                    _p, key, value, headers, ts = record(i)
                    assert r.key == key, (i, r.key, key)
                    assert r.value == value, (i, r.value)
                    assert list(r.headers or []) == headers, (i, r.headers, headers)
                    assert (r.timestamp, r.timestamp_type) == (ts, 0), (i, r.timestamp, r.timestamp_type)
                    assert r.topic == topic
                    nxt[p] += 1
        # Nothing more after the end.
        extra = c.poll(timeout_ms=300)
        assert not any(extra.values()), f"records past the end: {extra}"
        return {p: nxt[p] - start.get(p, 0) for p in nxt}
    finally:
        c.close()


def test_round_trip(codec):
    topic = f"kp-{codec}"
    t0 = time.monotonic()
    produce_all(topic, codec, PER_CODEC)
    t1 = time.monotonic()
    got = consume_all(topic, PER_CODEC)
    t2 = time.monotonic()
    assert sum(got.values()) == PER_CODEC, got
    log(f"    {PER_CODEC} records: produce {t1 - t0:.1f}s, consume {t2 - t1:.1f}s")
    for p in range(PARTITIONS):
        codecs = {b["codec"] for b in stored_batches(broker.data_dir, topic, p)}
        assert codecs == {CODEC_IDS[codec]}, (p, codecs)


def test_offsets_api():
    topic = "kp-gzip"
    c = consumer()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        assert c.beginning_offsets(tps) == {tp: 0 for tp in tps}
        assert c.end_offsets(tps) == {tp: count_in(tp.partition, PER_CODEC) for tp in tps}
        i = 1000
        found = c.offsets_for_times({tp: BASE_TS + i for tp in tps})
        for tp, ot in found.items():
            want = -(-(i - tp.partition) // PARTITIONS)
            assert ot is not None and ot.offset == want, (tp, ot, want)
            assert ot.timestamp == BASE_TS + want * PARTITIONS + tp.partition, (tp, ot)
        found = c.offsets_for_times({tps[0]: BASE_TS + 10 * PER_CODEC})
        assert found[tps[0]] is None, found
    finally:
        c.close()


def test_seek():
    topic = "kp-snappy"
    start = {0: 0, 1: 4321 % count_in(1, PER_CODEC), 2: count_in(2, PER_CODEC)}
    got = consume_all(topic, PER_CODEC, start)
    assert got == {p: count_in(p, PER_CODEC) - start[p] for p in range(PARTITIONS)}, got
    c = consumer()
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_end(tp)
        assert c.position(tp, timeout_ms=10000) == count_in(0, PER_CODEC)
        c.seek_to_beginning(tp)
        assert c.position(tp, timeout_ms=10000) == 0
        deadline = time.monotonic() + 20
        recs = []
        while not recs and time.monotonic() < deadline:
            recs = c.poll(timeout_ms=500, max_records=1).get(tp, [])
        assert recs and recs[0].offset == 0 and recs[0].value == record(0)[2], recs
    finally:
        c.close()


def test_idempotent_producer():
    """kafka-python's default producer is idempotent (InitProducerId, then sequence numbers
    in every batch). Skipped while the broker does not serve InitProducerId."""
    if INIT_PRODUCER_ID not in api_versions(broker.bootstrap):
        log("    SKIP: the broker does not serve InitProducerId (api key 22)")
        return
    topic = "kp-idempotent"
    p = producer("lz4", enable_idempotence=True)
    try:
        futures = [p.send(topic, value=b"idem-%d" % i, partition=i % PARTITIONS) for i in range(300)]
        p.flush(timeout=30)
        for i, f in enumerate(futures):
            md = f.get(timeout=10)
            assert (md.partition, md.offset) == (i % PARTITIONS, i // PARTITIONS), (i, md)
    finally:
        p.close(timeout=10)


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    for codec in CODECS:
        suite.check(f"round trip {PER_CODEC} records, compression_type={codec}", test_round_trip, codec)
    suite.check("beginning/end offsets, offsets_for_times", test_offsets_api)
    suite.check("seek to middle/end, seek_to_beginning/end", test_seek)
    suite.check("default (idempotent) producer", test_idempotent_producer)
    code, killed = broker.stop()
    suite.check("broker exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
