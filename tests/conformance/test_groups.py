"""Consumer groups with real clients against the companion broker.

Covers:
- ApiVersions advertises the group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
  LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups,
  OffsetDelete) at the versions the broker serves;
- kcat balanced consumers (`kcat -G`, librdkafka's classic protocol with the range assignor):
  one instance on a 4-partition topic gets all 4 partitions; a second makes it 2 and 2;
  `kill -9` of one gives the survivor all 4 once the session timeout expires the dead member;
  a third instance stopped with SIGTERM leaves the group (LeaveGroup), so the survivor gets
  all 4 back well before a session timeout; every record is consumed;
- confluent-kafka consumers in one group with manual synchronous commits: 2 and 2 partitions,
  every record once, committed offsets read back with `committed()` and the AdminClient
  (ListGroups, DescribeGroups, OffsetFetch); after a broker restart on the same data
  directory a new consumer of the group resumes at the committed offsets (only new records
  are delivered); DeleteGroups removes the group;
- static membership (`group.instance.id`): a member that restarts within its session gets its
  partitions back without a rebalance (the other member is not revoked).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from _broker import KCAT, Broker, Suite, api_versions, log, run, wait_until  # noqa: E402

PARTITIONS = 4
SESSION_MS = 6000  # Kafka's (and this broker's) minimum session timeout

suite = Suite("test_groups.py", budget=170)
broker = Broker(default_partitions=PARTITIONS, name="broker")
suite.brokers.append(broker)

GROUP_APIS = {
    8: (2, 9),  # OffsetCommit
    9: (1, 9),  # OffsetFetch
    10: (0, 6),  # FindCoordinator
    11: (0, 9),  # JoinGroup
    12: (0, 4),  # Heartbeat
    13: (0, 5),  # LeaveGroup
    14: (0, 5),  # SyncGroup
    15: (0, 5),  # DescribeGroups
    16: (0, 5),  # ListGroups
    42: (0, 2),  # DeleteGroups
    47: (0, 0),  # OffsetDelete
}


def test_advertised():
    apis = api_versions(broker.bootstrap)
    for key, want in GROUP_APIS.items():
        assert apis.get(key) == want, f"API {key}: advertised {apis.get(key)}, expected {want}"


def kcat_produce(topic, per_partition):
    for p in range(PARTITIONS):
        lines = "".join(f"p{p}-{i}\n" for i in range(per_partition)).encode()
        run([KCAT, "-b", broker.bootstrap, "-P", "-t", topic, "-p", str(p)], 30, input=lines)


class KcatMember:
    """One `kcat -G` balanced consumer: its latest assignment (from the rebalance lines on
    stderr) and the records it printed (`partition offset value` lines, unbuffered)."""

    _ASSIGNED = re.compile(r"rebalanced \(memberid [^)]*\): assigned: (.*)$")
    _REVOKED = re.compile(r"rebalanced \(memberid [^)]*\): revoked:")

    def __init__(self, name, group, topic):
        self.name = name
        self.assigned = None  # the partitions of the latest assignment, or None
        self.records = []
        self.stderr = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [
                KCAT, "-b", broker.bootstrap, "-G", group, "-u",
                "-X", f"session.timeout.ms={SESSION_MS}",
                "-X", "heartbeat.interval.ms=500",
                "-X", "auto.offset.reset=earliest",
                "-f", r"%p %o %s\n",
                topic,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._threads = [
            threading.Thread(target=self._read_err, daemon=True),
            threading.Thread(target=self._read_out, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_err(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.stderr.append(line)
                m = self._ASSIGNED.search(line)
                if m:
                    self.assigned = sorted(int(x) for x in re.findall(r"\[(\d+)\]", m.group(1)))
                elif self._REVOKED.search(line):
                    self.assigned = []

    def _read_out(self):
        for raw in self.proc.stdout:
            parts = raw.decode("utf-8", "replace").split()
            if len(parts) == 3:
                with self._lock:
                    self.records.append(parts[2])

    def partitions(self):
        with self._lock:
            return self.assigned

    def values(self):
        with self._lock:
            return set(self.records)

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self):
        """SIGTERM: kcat closes its consumer, which leaves the group."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.name} ignored SIGTERM")

    def tail(self):
        with self._lock:
            return "\n".join(self.stderr[-15:])


def _split_evenly(a, b):
    pa, pb = a.partitions(), b.partitions()
    return (
        pa is not None
        and pb is not None
        and len(pa) == 2
        and len(pb) == 2
        and sorted(pa + pb) == list(range(PARTITIONS))
    )


def test_kcat_balanced_consumers():
    topic, group = "kcat-balanced", "kcat-group"
    kcat_produce(topic, 10)
    expected = {f"p{p}-{i}" for p in range(PARTITIONS) for i in range(10)}
    members = []
    try:
        a = KcatMember("a", group, topic)
        members.append(a)
        wait_until("a owns all 4 partitions", lambda: a.partitions() == [0, 1, 2, 3], 30)
        b = KcatMember("b", group, topic)
        members.append(b)
        wait_until("a and b own 2 partitions each", lambda: _split_evenly(a, b), 30)
        log(f"NOTE a={a.partitions()} b={b.partitions()}")
        wait_until("every record consumed", lambda: expected <= (a.values() | b.values()), 20)

        # A crash: no LeaveGroup, so only the session timeout removes a.
        killed_at = time.monotonic()
        a.kill()
        wait_until("b owns all 4 after a's session expires", lambda: b.partitions() == [0, 1, 2, 3], 30)
        took = time.monotonic() - killed_at
        log(f"NOTE b took over after {took:.1f}s (session timeout {SESSION_MS / 1000:.0f}s)")
        assert took >= SESSION_MS / 1000 * 0.5, f"b took over after only {took:.1f}s: before a's session expired?"

        # A clean stop: LeaveGroup, so b gets everything back without waiting for a timeout.
        c = KcatMember("c", group, topic)
        members.append(c)
        wait_until("b and c own 2 partitions each", lambda: _split_evenly(b, c), 30)
        left_at = time.monotonic()
        c.terminate()
        wait_until("b owns all 4 after c leaves", lambda: b.partitions() == [0, 1, 2, 3], 30)
        took = time.monotonic() - left_at
        log(f"NOTE b took over {took:.1f}s after c left")
        assert took < SESSION_MS / 1000, f"rebalance after LeaveGroup took {took:.1f}s"
        assert any("member left" in l for l in broker.grep("kcat-group")), "no LeaveGroup seen"
    except Exception:
        for m in members:
            log(f"--- kcat {m.name} stderr:\n{m.tail()}")
        raise
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.kill()


def ck_consumer(group, **extra):
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": 500,
    }
    conf.update(extra)
    return Consumer(conf)


def produce(topic, values, partitioner=lambda i: i % PARTITIONS):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    errors = []
    for i, v in enumerate(values):
        p.produce(topic, value=v, partition=partitioner(i), on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(20) == 0, "undelivered records"
    assert not errors, errors


def test_confluent_group_commits_survive_restart():
    topic, group = "ck-group-topic", "ck-group"
    produce(topic, [f"v{i}".encode() for i in range(100)])
    assigned = {}

    def subscribe(name):
        c = ck_consumer(group)

        def on_assign(consumer, parts):
            assigned[name] = sorted(tp.partition for tp in parts)

        c.subscribe([topic], on_assign=on_assign)
        return c

    c1, c2 = subscribe("c1"), subscribe("c2")
    seen = {}
    deadline = time.monotonic() + 40
    while len(seen) < 100 and time.monotonic() < deadline:
        for name, c in (("c1", c1), ("c2", c2)):
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            key = (m.partition(), m.offset())
            assert key not in seen, f"{key} delivered twice ({seen[key]} and {name})"
            seen[key] = name
            c.commit(message=m, asynchronous=False)
    assert len(seen) == 100, f"consumed {len(seen)} of 100"
    # Both must have ended with half the partitions.
    wait_until(
        "2 and 2 partitions",
        lambda: (c1.poll(0.1), c2.poll(0.1)) and sorted(assigned.get("c1", []) + assigned.get("c2", [])) == [0, 1, 2, 3]
        and len(assigned["c1"]) == 2,
        20,
    )
    log(f"NOTE assignments {assigned}")
    committed = c1.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    assert [tp.offset for tp in committed] == [25] * PARTITIONS, committed
    c1.close()
    c2.close()

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = admin.list_consumer_groups().result(15)
    mine = [g for g in listed.valid if g.group_id == group]
    assert mine, f"{group} not listed: {[g.group_id for g in listed.valid]}"
    assert mine[0].state.name == "EMPTY", mine[0].state
    described = admin.describe_consumer_groups([group])[group].result(15)
    assert described.state.name == "EMPTY", described.state
    assert not described.members
    offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(15)
    assert sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions) == [(p, 25) for p in range(PARTITIONS)]

    code, killed = broker.stop()
    assert code == 0 and not killed, (code, killed)
    broker.start()
    produce(topic, [f"after-restart-{i}".encode() for i in range(20)])
    c3 = ck_consumer(group)
    c3.subscribe([topic])
    values = []
    deadline = time.monotonic() + 30
    while len(values) < 20 and time.monotonic() < deadline:
        m = c3.poll(0.2)
        if m is None or m.error():
            continue
        assert m.offset() >= 25, f"re-delivered {m.partition()}@{m.offset()}: the commit was lost"
        values.append(m.value().decode())
    extra = c3.poll(1.0)
    assert extra is None or extra.error(), f"unexpected record {extra.value()!r}"
    assert sorted(values) == sorted(f"after-restart-{i}" for i in range(20)), values
    c3.close()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert admin.delete_consumer_groups([group])[group].result(15) is None
    listed = admin.list_consumer_groups().result(15)
    assert group not in [g.group_id for g in listed.valid]


def test_static_member_restarts_without_rebalance():
    topic, group = "ck-static-topic", "ck-static"
    produce(topic, [b"x"] * 8)
    events = []

    def member(instance):
        c = ck_consumer(group, **{"group.instance.id": instance, "session.timeout.ms": 10000})

        def on_assign(consumer, parts):
            events.append((instance, "assign", sorted(tp.partition for tp in parts)))

        def on_revoke(consumer, parts):
            events.append((instance, "revoke", sorted(tp.partition for tp in parts)))

        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        return c

    def latest(instance):
        got = [e[2] for e in events if e[0] == instance and e[1] == "assign"]
        return got[-1] if got else None

    s1, s2 = member("s1"), member("s2")

    def settled():
        s1.poll(0.1)
        s2.poll(0.1)
        a, b = latest("s1"), latest("s2")
        return a is not None and b is not None and sorted(a + b) == [0, 1, 2, 3] and len(a) == 2

    wait_until("static members 2 and 2", settled, 30)
    before = latest("s1")
    events.clear()
    s1.close()  # a static member does not leave the group on close
    s1 = member("s1")
    wait_until("s1 reassigned", lambda: (s1.poll(0.1), s2.poll(0.1)) and latest("s1") is not None, 20)
    for _ in range(20):  # a rebalance would revoke s2 within a few heartbeats
        s1.poll(0.1)
        s2.poll(0.1)
    assert latest("s1") == before, f"s1 got {latest('s1')}, had {before}"
    assert not [e for e in events if e[0] == "s2"], f"s2 was disturbed: {events}"
    assert broker.grep("static member rejoined without a rebalance"), "broker did not skip the rebalance"
    s1.close()
    s2.close()


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    suite.check("group APIs advertised", test_advertised)
    suite.check("kcat -G: 4 partitions split 2/2, survivor takes all after kill -9 and after leave", test_kcat_balanced_consumers)
    suite.check("confluent-kafka group commits, admin views, resume after restart", test_confluent_group_commits_survive_restart)
    suite.check("static member restarts without a rebalance", test_static_member_restarts_without_rebalance)
    code, killed = broker.stop()
    suite.check("broker exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
