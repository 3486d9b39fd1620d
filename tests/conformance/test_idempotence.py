"""librdkafka's idempotent producer (confluent-kafka, enable.idempotence=true) against the
companion broker.

Covers:
1. InitProducerId is advertised;
2. 20k records to 3 partitions, 5 requests in flight per connection: every delivery report
   succeeds at offset i // 3 of partition i % 3, a consumer reads each record exactly once and
   in order, and the stored batches carry one producer id with gap-free sequences;
3. the same producer keeps producing while the broker is restarted under it on the same port
   and data directory, first with SIGTERM (producer state saved in a snapshot), then with
   SIGKILL (state replayed from the log): requests in flight when the broker went away are
   retried with the same sequences, and whatever the broker had already appended is
   deduplicated, so every record is still stored exactly once, in order, at the offset its
   delivery report gave. librdkafka would raise a fatal error on an OUT_OF_ORDER answer;
4. the broker stalls (SIGSTOP) past the producer's socket timeout: librdkafka gives up on
   the requests it had sent, reconnects and resends them with the same sequences, while the
   broker, resumed, still appends the ones waiting on the old connection. The resends are
   duplicates, answered with the original offsets (counted from the broker's debug log).

Fault injection (retriable errors injected by the broker) is another script's job.
"""

import logging
import os
import signal
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

from _broker import INIT_PRODUCER_ID, Broker, Suite, api_versions, free_port, log  # noqa: E402

PARTITIONS = 3
RECORDS = int(os.environ.get("KAFKA_SDK_IDEMPOTENCE_RECORDS", "20000"))
PAD = b"idempotence-" * 3

# Duplicates are logged at debug level by the produce handler; count them.
os.environ.setdefault("RUST_LOG", "info,kafka_broker::handlers::produce=debug")

suite = Suite("test_idempotence.py", budget=170)
# A fixed port, so a producer outlives a restart of the broker.
broker = Broker(default_partitions=PARTITIONS, listen=f"127.0.0.1:{free_port()}", name="broker")
suite.brokers.append(broker)
fatal = []


def error_cb(err):
    log(f"    librdkafka error_cb: {err}")
    if err.fatal():
        fatal.append(err)


class RequestTimeouts(logging.Handler):
    """Counts librdkafka's "Timed out ProduceRequest in flight" log lines (request timeouts
    are logged, not reported to error_cb)."""

    def __init__(self):
        super().__init__()
        self.produce = 0

    def emit(self, record):
        if "Timed out ProduceRequest" in record.getMessage():
            self.produce += 1


def value(tag, i):
    return b"%s-%d-" % (tag.encode(), i) + PAD


def producer(logger=None, **extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "batch.num.messages": 200,
        "max.in.flight.requests.per.connection": 5,
        "message.timeout.ms": 120000,
        "error_cb": error_cb,
    }
    conf.update(extra)
    if logger is not None:
        return Producer(conf, logger=logger)
    return Producer(conf)


class Deliveries:
    """Delivery reports: record index -> (error, partition, offset)."""

    def __init__(self, tag, n):
        self.tag = tag
        self.reports = [None] * n

    def __call__(self, err, msg):
        i = int(msg.value().split(b"-", 2)[1])
        self.reports[i] = (err, msg.partition(), msg.offset())

    def check(self):
        bad = [(i, r) for i, r in enumerate(self.reports) if r is None or r[0] is not None]
        assert not bad, f"{len(bad)} records not delivered, first: {bad[:5]}"
        for i, (_err, part, off) in enumerate(self.reports):
            assert (part, off) == (i % PARTITIONS, i // PARTITIONS), f"record {i} delivered to {part}@{off}"


def produce(p, topic, tag, rng, deliveries):
    for i in rng:
        while True:
            try:
                p.produce(topic, value=value(tag, i), partition=i % PARTITIONS, on_delivery=deliveries)
                break
            except BufferError:
                p.poll(0.01)
        if i % 500 == 0:
            p.poll(0)


def read_all(topic):
    """Every record of the topic's partitions, as {partition: [(offset, value)]}."""
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "idempotence-check",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        got = {p: [] for p in range(PARTITIONS)}
        eof = set()
        deadline = time.monotonic() + 60
        while len(eof) < PARTITIONS:
            assert time.monotonic() < deadline, f"timed out reading {topic}: eof {eof}"
            for m in c.consume(num_messages=5000, timeout=0.5):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                        continue
                    raise AssertionError(f"consumer error: {err}")
                eof.discard(m.partition())
                got[m.partition()].append((m.offset(), m.value()))
        return got
    finally:
        c.close()


def check_log(topic, tag, n):
    got = read_all(topic)
    for p in range(PARTITIONS):
        want = [value(tag, i) for i in range(p, n, PARTITIONS)]
        offsets = [o for o, _ in got[p]]
        assert offsets == list(range(len(want))), f"partition {p}: offsets {offsets[:5]}... (len {len(offsets)})"
        values = [v for _, v in got[p]]
        if values != want:
            dup = len(values) - len(set(values))
            first = next((k for k, (a, b) in enumerate(zip(values, want)) if a != b), min(len(values), len(want)))
            raise AssertionError(
                f"partition {p}: {len(values)} records stored for {len(want)} sent, {dup} duplicated, first difference at offset {first}"
            )


def batch_headers(topic, partition):
    """(base_offset, count, producer_id, epoch, base_sequence) of each stored batch."""
    pdir = os.path.join(broker.data_dir, f"{topic}-{partition}")
    out = []
    for seg in sorted(f for f in os.listdir(pdir) if f.endswith(".log")):
        with open(os.path.join(pdir, seg), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, pos)
            if length <= 0 or pos + 12 + length > len(data):
                break
            pid, epoch, seq, count = struct.unpack_from(">qhii", data, pos + 43)
            out.append((base_offset, count, pid, epoch, seq))
            pos += 12 + length
    return out


def check_sequences(topic):
    """Every batch is idempotent; within a (producer id, epoch) sequences follow each other,
    and a new one starts at 0. Returns the (producer id, epoch) pairs seen."""
    seen = set()
    for p in range(PARTITIONS):
        prev = None
        for base_offset, count, pid, epoch, seq in batch_headers(topic, p):
            assert pid >= 0 and epoch >= 0, f"partition {p} offset {base_offset}: not idempotent ({pid}, {epoch})"
            if prev is not None and prev[0] == (pid, epoch):
                assert seq == prev[1], f"partition {p} offset {base_offset}: sequence {seq}, expected {prev[1]}"
            else:
                assert seq == 0, f"partition {p} offset {base_offset}: ({pid}, {epoch}) starts at {seq}"
            prev = ((pid, epoch), seq + count)
            seen.add((pid, epoch))
    return seen


def test_advertised():
    apis = api_versions(broker.bootstrap)
    assert INIT_PRODUCER_ID in apis, sorted(apis)
    lo, hi = apis[INIT_PRODUCER_ID]
    assert lo == 0 and hi >= 4, (lo, hi)


def test_exactly_once_in_order():
    topic = "idempotent"
    deliveries = Deliveries("once", RECORDS)
    p = producer()
    t0 = time.monotonic()
    produce(p, topic, "once", range(RECORDS), deliveries)
    left = p.flush(60)
    assert left == 0, f"{left} records not delivered"
    assert not fatal, fatal
    deliveries.check()
    log(f"    {RECORDS} records delivered in {time.monotonic() - t0:.1f}s")
    check_log(topic, "once", RECORDS)
    producers = check_sequences(topic)
    assert len(producers) == 1, f"expected one producer id and epoch, saw {producers}"


def restart_under_producer(how):
    topic = f"idempotent-{how}"
    tag = how
    deliveries = Deliveries(tag, RECORDS)
    p = producer()
    half = RECORDS // 2
    produce(p, topic, tag, range(half), deliveries)
    # Let requests get in flight, then take the broker away under them.
    deadline = time.monotonic() + 10
    while sum(r is not None for r in deliveries.reports) < half // 4 and time.monotonic() < deadline:
        p.poll(0.001)
    # Pause the broker and produce more, so requests are certainly unanswered when it goes
    # away (stopping it outright raced the acknowledgements: on a fast run all were in).
    os.kill(broker.pid, signal.SIGSTOP)
    more = half + RECORDS // 4
    produce(p, topic, tag, range(half, more), deliveries)
    p.poll(0.2)
    acked = sum(r is not None for r in deliveries.reports)
    if how == "sigterm":
        os.kill(broker.pid, signal.SIGCONT)
        code, killed = broker.stop()
        assert code == 0 and not killed, (code, killed)
    else:
        broker.kill()
    log(f"    broker stopped ({how}) with {acked} of {more} queued records acknowledged")
    assert acked < more, "everything was acknowledged before the restart: nothing was in flight"
    broker.start()
    produce(p, topic, tag, range(more, RECORDS), deliveries)
    left = p.flush(90)
    assert left == 0, f"{left} records not delivered"
    assert not fatal, fatal
    deliveries.check()
    check_log(topic, tag, RECORDS)
    producers = check_sequences(topic)
    log(f"    producer ids/epochs in the log: {sorted(producers)}")
    dups = broker.grep(r"duplicate batch not appended")
    log(f"    {len(dups)} resent batches deduplicated (debug log lines)")


def test_stall():
    topic = "idempotent-stall"
    tag = "stall"
    deliveries = Deliveries(tag, RECORDS)
    timeouts = RequestTimeouts()
    rdlog = logging.getLogger("librdkafka-stall")
    rdlog.propagate = False
    rdlog.setLevel(logging.INFO)  # the timeouts are NOTICE lines, logged at INFO
    rdlog.addHandler(timeouts)
    # Time requests out quickly, so the stall outlasts them.
    p = producer(logger=rdlog, **{"socket.timeout.ms": 1000})
    dups_before = len(broker.grep(r"duplicate batch not appended"))
    # A first quarter goes through before the stall, so the connection is up and producing.
    quarter = RECORDS // 4
    produce(p, topic, tag, range(quarter), deliveries)
    assert p.flush(30) == 0, "the first quarter was not delivered before the stall"
    stopped_at = time.monotonic()
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        # The next half is produced while the broker is stopped: the kernel still accepts the
        # requests on the open connection, so requests are certainly in flight during the
        # stall (producing before it raced the acknowledgements: on a fast run everything
        # was acknowledged before SIGSTOP and nothing timed out).
        produce(p, topic, tag, range(quarter, 3 * quarter), deliveries)
        # Until librdkafka times its requests out (it then drops the connection and resends
        # them on a new one, which the kernel accepts for the stopped broker).
        while time.monotonic() < stopped_at + 8 and timeouts.produce == 0:
            p.poll(0.02)
    finally:
        os.kill(broker.pid, signal.SIGCONT)
    log(f"    broker stopped for {time.monotonic() - stopped_at:.1f}s; {timeouts.produce} produce requests timed out")
    assert timeouts.produce > 0, "no produce request timed out during the stall"
    produce(p, topic, tag, range(3 * quarter, RECORDS), deliveries)
    left = p.flush(90)
    assert left == 0, f"{left} records not delivered"
    assert not fatal, fatal
    deliveries.check()
    check_log(topic, tag, RECORDS)
    producers = check_sequences(topic)
    dups = len(broker.grep(r"duplicate batch not appended")) - dups_before
    log(f"    producer ids/epochs in the log: {sorted(producers)}; {dups} resent batches deduplicated")
    assert dups > 0, "no resend reached the broker as a duplicate: the stall did not overlap a request"


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    suite.check("InitProducerId advertised", test_advertised)
    suite.check(f"{RECORDS} records exactly once and in order", test_exactly_once_in_order)
    suite.check("restart (SIGTERM) under an idempotent producer", restart_under_producer, "sigterm")
    suite.check("crash (SIGKILL) under an idempotent producer", restart_under_producer, "sigkill")
    suite.check("broker stalled past the producer's timeout", test_stall)
    code, killed = broker.stop()
    suite.check("broker exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, what):
    assert cond, what


if __name__ == "__main__":
    main()
