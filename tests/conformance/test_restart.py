"""Durability across broker restarts, with confluent-kafka as the client.

Covers:
1. records produced with acks=all survive a clean stop (SIGTERM, exit code 0) and a restart
   on the same data directory: every record at its offset, watermarks unchanged, the
   topic's partition count kept (the broker restarts with a different --default-partitions);
   producing after the restart continues at the old log end;
2. a crash: the broker is SIGKILLed while a producer is mid-stream. Without fsync, whatever
   the broker wrote to the page cache survives a process kill, so every record acknowledged
   (acks=all) before the kill must be back after the restart at its acknowledged offset; each
   partition's log must be a gap-free prefix of what was sent to it (records written but not
   acknowledged may be there too); reads from the middle work (indexes rebuilt or valid);
   producing afterwards continues at the recovered log end;
3. a topic auto-created after the crash works alongside the old ones, with the broker's
   current --default-partitions while the old topic keeps its partition count.
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

from _broker import Broker, Suite, log  # noqa: E402

PARTITIONS = 3
TOPIC = "restart"
PAD = b"restart-payload-" * 4

suite = Suite("test_restart.py", budget=170)
broker = Broker(default_partitions=PARTITIONS, name="broker")
suite.brokers.append(broker)

# What each partition of TOPIC should hold, in offset order (values), as acknowledged.
acked = {p: [] for p in range(PARTITIONS)}
# Everything sent to each partition, in send order (a superset of acked after the crash).
sent = {p: [] for p in range(PARTITIONS)}
# The log as read back after the crash restart, per partition.
state = {}


def value(phase, i):
    return b"%s-%d-" % (phase.encode(), i) + PAD


def producer(**extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "linger.ms": 10,
        "compression.type": "lz4",
        "message.timeout.ms": 30000,
    }
    conf.update(extra)
    return Producer(conf)


def consumer():
    return Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "conformance-restart",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "error",
            "check.crcs": True,
            "fetch.wait.max.ms": 100,
        }
    )


def produce_phase(phase, n, topic=TOPIC):
    """Produces n records round-robin over the partitions and records them as acked; checks
    every delivery offset continues the partition's log."""
    p = producer()
    reports = []

    def cb(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.value()))

    for i in range(n):
        part = i % PARTITIONS
        p.produce(topic, value=value(phase, i), partition=part, on_delivery=cb)
        sent[part].append(value(phase, i))
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(60) == 0, "records left undelivered"
    assert len(reports) == n
    reports.sort(key=lambda r: (r[1], r[2]))
    for err, part, off, val in reports:
        assert err is None, (err, part, off)
        assert off == len(acked[part]), f"{phase}: partition {part} delivered at {off}, log end was {len(acked[part])}"
        acked[part].append(val)


def read_all(topic=TOPIC, start=None, partitions=PARTITIONS):
    """Every record of the topic's partitions from `start` (default 0) to the end:
    {partition: [values]}, checking offsets are contiguous."""
    start = start or {}
    c = consumer()
    try:
        c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        hw = {}
        for p in range(partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert lo == 0, (p, lo, hi)
            hw[p] = hi
        eof = set()
        deadline = time.monotonic() + 40
        while len(eof) < partitions:
            assert time.monotonic() < deadline, f"timed out reading: {[len(v) for v in out.values()]} of {hw}"
            for m in c.consume(num_messages=5000, timeout=0.5):
                p = m.partition()
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        if start.get(p, 0) + len(out[p]) >= hw[p]:
                            eof.add(p)
                        continue
                    raise AssertionError(f"consumer error: {m.error()}")
                want = start.get(p, 0) + len(out[p])
                assert m.offset() == want, f"partition {p}: offset {m.offset()}, expected {want}"
                out[p].append(m.value())
        for p in range(partitions):
            assert start.get(p, 0) + len(out[p]) == hw[p], (p, len(out[p]), hw[p])
        return out
    finally:
        c.close()


def partition_count(topic):
    c = consumer()
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics[topic]
        assert t.error is None, t.error
        return len(t.partitions)
    finally:
        c.close()


def test_phase1():
    produce_phase("before-sigterm", 12000)


def test_sigterm_restart():
    code, killed = broker.stop()
    assert not killed, "broker needed SIGKILL after SIGTERM"
    assert code == 0, f"broker exited with {code} on SIGTERM"
    broker.start(default_partitions=1)
    assert partition_count(TOPIC) == PARTITIONS, "partition count changed across restart"
    got = read_all()
    for p in range(PARTITIONS):
        assert got[p] == acked[p], f"partition {p}: {len(got[p])} records back, {len(acked[p])} acked"


def test_produce_after_restart():
    produce_phase("after-sigterm", 6000)
    got = read_all()
    for p in range(PARTITIONS):
        assert got[p] == acked[p], p


def test_sigkill_mid_stream():
    """Produce continuously, SIGKILL once enough records are acknowledged."""
    p = producer(**{"message.timeout.ms": 4000, "linger.ms": 5, "retries": 0})
    acked_now = []
    failed = []

    def cb(err, msg):
        if err is None:
            acked_now.append((msg.partition(), msg.offset(), msg.value()))
        else:
            failed.append((msg.partition(), err.code()))

    # Produce flat out while a timer kills the broker, so batches are in flight and queued
    # when it dies.
    killed = threading.Event()
    acked_at_kill = []

    def kill():
        acked_at_kill.append(len(acked_now))  # a lower bound: callbacks run on poll
        broker.kill()
        killed.set()

    timer = threading.Timer(0.5, kill)
    total = 0
    timer.start()
    try:
        deadline = time.monotonic() + 40
        stop_at = None
        while time.monotonic() < deadline and total < 300000:
            if killed.is_set() and stop_at is None:
                stop_at = time.monotonic() + 0.2
            if stop_at is not None and time.monotonic() > stop_at:
                break
            part = total % PARTITIONS
            try:
                p.produce(TOPIC, value=value("crash", total), partition=part, on_delivery=cb)
            except BufferError:
                p.poll(0.005)
                continue
            sent[part].append(value("crash", total))
            total += 1
            if total % 500 == 0:
                p.poll(0)
    finally:
        timer.cancel()
        killed.wait(10)
    killed_at = acked_at_kill[0] if acked_at_kill else None
    assert killed_at is not None, "the kill timer did not run"
    p.flush(15)  # in-flight records now fail (broker gone) or were acknowledged just before
    log(f"    killed with {killed_at} acked; {len(acked_now)} acked in all, {len(failed)} failed, {total} queued")
    assert failed, "every record was acknowledged: the kill did not happen mid-stream"
    broker.start()
    got = read_all()
    state["got"] = got
    acked_by_p = {q: {} for q in range(PARTITIONS)}
    for q, off, val in acked_now:
        acked_by_p[q][off] = val
    for q in range(PARTITIONS):
        log_q = got[q]
        base = len(acked[q])
        assert log_q[:base] == acked[q], f"partition {q}: records from before the crash changed"
        for off, val in acked_by_p[q].items():
            assert off < len(log_q), f"partition {q}: acked offset {off} missing (log end {len(log_q)})"
            assert log_q[off] == val, f"partition {q}: offset {off} holds {log_q[off][:30]}, acked {val[:30]}"
        # No holes and nothing foreign: the log is a prefix of what was sent.
        assert log_q == sent[q][: len(log_q)], f"partition {q}: log is not a prefix of the records sent to it"
        acked[q] = list(log_q)  # whatever survived is now the log


def test_after_crash():
    mid = {q: len(acked[q]) // 2 for q in range(PARTITIONS)}
    got = read_all(start=mid)
    for q in range(PARTITIONS):
        assert got[q] == acked[q][mid[q]:], q
    produce_phase("after-sigkill", 3000)
    got = read_all()
    for q in range(PARTITIONS):
        assert got[q] == acked[q], q
    # A new topic, auto-created after the crash, with the partition count the broker now
    # runs with (1), while the old topic kept its 3.
    p = producer()
    for k in range(30):
        p.produce("restart-new", value=b"n-%d" % k, partition=0)
    assert p.flush(30) == 0
    assert partition_count("restart-new") == 1
    assert partition_count(TOPIC) == PARTITIONS
    got = read_all("restart-new", partitions=1)
    assert got[0] == [b"n-%d" % k for k in range(30)], got


def test_final_sigterm():
    code, killed = broker.stop()
    assert code == 0 and not killed, (code, killed)
    broker.start()
    got = read_all()
    for q in range(PARTITIONS):
        assert got[q] == acked[q], q


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    steps = [
        ("produce 12k records, acks=all", test_phase1),
        ("SIGTERM, exit 0, restart: all records at their offsets, partitions kept", test_sigterm_restart),
        ("produce after restart continues at the log end", test_produce_after_restart),
        ("SIGKILL mid-stream: every acked record survives, log is a prefix of sends", test_sigkill_mid_stream),
        ("after the crash: read from the middle, produce more, new topic", test_after_crash),
        ("final SIGTERM and restart: everything still there", test_final_sigterm),
    ]
    for name, fn in steps:
        if not suite.check(name, fn):
            break  # later steps build on this one
    broker.stop()
    broker.cleanup()
    suite.finish()


if __name__ == "__main__":
    main()
