"""librdkafka (confluent-kafka) against a three-broker companion cluster, steered through the
HTTP/JSON control endpoint.

Covers:
1. the control endpoint describes the cluster: three brokers, a topic created by the
   AdminClient with three replicas, its ISR and leader;
2. an idempotent acks=all producer streams while the partition's leader is stopped under
   it: leadership moves to an in-sync replica with a higher epoch, the producer carries on
   against the new leader, every acknowledged record is readable afterwards at the offset
   its delivery report gave, every record is stored exactly once and in order, and the
   stopped broker, started again, rejoins the ISR;
3. an idempotent producer under injected faults on the leader (NOT_LEADER_OR_FOLLOWER three
   times, then a response dropped after the request was applied): every record is stored
   exactly once, in order, and every fault was used up.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from _broker import Broker, Suite, free_port, log  # noqa: E402

suite = Suite("test_cluster.py", budget=170)
CONTROL = f"127.0.0.1:{free_port()}"
broker = Broker(
    default_partitions=1,
    extra_args=["--brokers", "3", "--control-listen", CONTROL],
    name="cluster",
)
suite.brokers.append(broker)


def http(method, path, body=None, timeout=30):
    """One control-endpoint call: (status, JSON)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{CONTROL}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ok(method, path, body=None):
    status, answer = http(method, path, body)
    assert status == 200, f"{method} {path} {body}: {status} {answer}"
    return answer


def create_topic(name):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=3)])
    fs[name].result(30)
    return ok("POST", "/v1/wait/isr", {"topic": name, "partition": 0, "size": 3})


def value(i):
    return b"rec-%06d" % i


def read_all(topic):
    """[(offset, value)] of partition 0, read to the end."""
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"cluster-check-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"timed out reading {topic}"
            msgs = c.consume(num_messages=5000, timeout=0.5)
            eof = False
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        eof = True
                        continue
                    raise AssertionError(f"consumer error: {err}")
                got.append((m.offset(), m.value()))
            if eof:
                return got
    finally:
        c.close()


def check_exactly_once(topic, n):
    got = read_all(topic)
    values = [v for _, v in got]
    want = [value(i) for i in range(n)]
    if values != want:
        dup = len(values) - len(set(values))
        first = next((k for k, (a, b) in enumerate(zip(values, want)) if a != b), min(len(values), len(want)))
        raise AssertionError(f"{len(values)} stored for {n} sent, {dup} duplicated, first difference at {first}")
    assert [o for o, _ in got] == list(range(n)), "offsets are not 0..n"
    return got


class Reports:
    def __init__(self, n):
        self.acked = {}
        self.failed = []
        self.lock = threading.Lock()

    def __call__(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[msg.value()] = msg.offset()
            else:
                self.failed.append((msg.value(), err))


fatal = []


def error_cb(err):
    log(f"    librdkafka error_cb: {err}")
    if err.fatal():
        fatal.append(err)


def producer(**extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 50,
        "message.timeout.ms": 90000,
        "retry.backoff.ms": 50,
        "error_cb": error_cb,
    }
    conf.update(extra)
    return Producer(conf)


def cluster_is_described():
    state = ok("GET", "/v1/cluster")
    assert [b["id"] for b in state["brokers"]] == [0, 1, 2], state["brokers"]
    assert all(b["alive"] for b in state["brokers"])
    assert state["controller"] == 0
    p = create_topic("cluster-describe")
    assert sorted(p["replicas"]) == [0, 1, 2] and sorted(p["isr"]) == [0, 1, 2], p
    assert p["leader"] in (0, 1, 2) and p["leader_epoch"] == 0, p


def failover_keeps_every_acknowledged_record():
    topic = "cluster-failover"
    p = create_topic(topic)
    old, epoch = p["leader"], p["leader_epoch"]
    n = 4000
    reports = Reports(n)
    prod = producer()
    stopped_at = None
    for i in range(n):
        while True:
            try:
                prod.produce(topic, value=value(i), partition=0, on_delivery=reports)
                break
            except BufferError:
                prod.poll(0.01)
        if i % 100 == 0:
            prod.poll(0)
        if i == 1500:
            # Let some of the stream be acknowledged by the old leader first.
            deadline = time.monotonic() + 30
            while len(reports.acked) < 500:
                assert time.monotonic() < deadline, "nothing acknowledged before the stop"
                prod.poll(0.05)
            ok("POST", "/v1/brokers/stop", {"broker": old})
            stopped_at = len(reports.acked)
            log(f"    stopped leader {old} after {stopped_at} acknowledgements")
    left = prod.flush(90)
    assert left == 0, f"{left} records still queued"
    assert not fatal, f"fatal errors: {fatal}"
    assert not reports.failed, f"{len(reports.failed)} failed deliveries, first {reports.failed[:3]}"
    assert len(reports.acked) == n
    now = ok("POST", "/v1/wait/leader", {"topic": topic, "partition": 0, "not": old})
    assert now["leader"] != old and now["leader_epoch"] > epoch, now
    assert old not in now["isr"], now
    got = dict((v, o) for o, v in check_exactly_once(topic, n))
    for v, offset in reports.acked.items():
        assert got.get(v) == offset, f"{v!r} acknowledged at {offset}, stored at {got.get(v)}"
    ok("POST", "/v1/brokers/start", {"broker": old})
    p = ok("POST", "/v1/wait/isr", {"topic": topic, "partition": 0, "isr": [0, 1, 2], "timeout_ms": 30000})
    log(f"    leader {old} -> {now['leader']} (epoch {epoch} -> {now['leader_epoch']}); restarted broker back in the ISR {p['isr']}")


def injected_faults_do_not_duplicate_or_reorder():
    topic = "cluster-faults"
    p = create_topic(topic)
    leader = p["leader"]
    ok(
        "POST",
        "/v1/faults",
        {"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 3, "broker": leader, "topic": topic},
    )
    ok("POST", "/v1/faults", {"api": "Produce", "action": "drop_response", "count": 1, "broker": leader, "topic": topic})
    n = 2000
    reports = Reports(n)
    prod = producer(**{"max.in.flight.requests.per.connection": 5})
    for i in range(n):
        while True:
            try:
                prod.produce(topic, value=value(i), partition=0, on_delivery=reports)
                break
            except BufferError:
                prod.poll(0.01)
        if i % 100 == 0:
            prod.poll(0)
    assert prod.flush(90) == 0, "records still queued"
    assert not fatal, f"fatal errors: {fatal}"
    assert not reports.failed, f"{len(reports.failed)} failed deliveries, first {reports.failed[:3]}"
    left = ok("GET", "/v1/faults")["faults"]
    assert left == [], f"faults not used up: {left}"
    dropped = broker.grep("fault: the response will be dropped")
    errors = broker.grep("fault: answering with an error")
    assert len(dropped) == 1 and len(errors) >= 3, (len(dropped), len(errors))
    check_exactly_once(topic, n)
    ok("DELETE", "/v1/faults")


with broker:
    suite.check("the control endpoint describes the cluster", cluster_is_described)
    suite.check("acks=all idempotent stream survives stopping the leader", failover_keeps_every_acknowledged_record)
    suite.check("idempotent producer under injected errors and a dropped response", injected_faults_do_not_duplicate_or_reorder)
suite.finish()
