"""One consumer group of mixed clients (three confluent-kafka and three kafka-python
consumers, all with the "roundrobin" assignor) on a three-broker companion cluster, with a
6-partition topic replicated three times.

Covers:
1. every partition is owned by exactly one member at a time: an ownership map updated from the
   members' assign/revoke callbacks never sees a partition given to a second member before
   the first gave it up, and once the group settles the members' assignments (callbacks and
   `assignment()`) partition the 6 partitions;
2. members leaving (close) and joining (one of each client) trigger rebalances after which
   the assignments again partition the 6 partitions;
3. 6000 keyed records (half produced before the group forms, half while members leave and
   join) are all consumed across the group, with synchronous commits after every batch, and
   the committed offsets reach the end of every partition;
4. committed offsets survive the members: with every consumer closed, new records produced,
   a new confluent-kafka consumer of the group gets only those; then, after more records, a
   new kafka-python consumer gets only those (commits from one client read by the other);
5. two `kcat -G` balanced consumers (same assignor, a separate group) split the partitions
   3/3 and consume every record.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka import ConsumerRebalanceListener, KafkaConsumer  # noqa: E402
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor  # noqa: E402

from _broker import KCAT, Broker, Suite, free_port, log, wait_until  # noqa: E402

TOPIC = "groups-cluster"
GROUP = "groups-cluster-group"
KCAT_GROUP = "groups-cluster-kcat"
PARTITIONS = 6
ALL = set(range(PARTITIONS))
N = 6000
SESSION_MS = 6000
HEARTBEAT_MS = 500
STRATEGY = "roundrobin"  # both librdkafka and kafka-python implement it, under that name

suite = Suite("test_groups_cluster.py", budget=170)
CONTROL = f"127.0.0.1:{free_port()}"
broker = Broker(
    default_partitions=1,
    extra_args=["--brokers", "3", "--control-listen", CONTROL],
    name="cluster",
)
suite.brokers.append(broker)


def http(method, path, body=None, timeout=30):
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


# --- ownership bookkeeping -------------------------------------------------------------------


class Ownership:
    """Which member owns each partition, from the members' callbacks; a partition assigned to
    a member while another still holds it is a violation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner = {}
        self.violations = []
        self.events = []  # (time, member, "assign"/"revoke", partitions)

    def assign(self, member, parts):
        with self.lock:
            self.events.append((time.monotonic(), member, "assign", sorted(parts)))
            for p in parts:
                o = self.owner.get(p)
                if o is not None and o != member:
                    self.violations.append(f"partition {p} assigned to {member} while {o} owns it")
                self.owner[p] = member

    def revoke(self, member, parts):
        with self.lock:
            self.events.append((time.monotonic(), member, "revoke", sorted(parts)))
            for p in parts:
                if self.owner.get(p) == member:
                    del self.owner[p]


owners = Ownership()


class Consumed:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = set()
        self.count = 0
        self.by_member = {}

    def add(self, member, values):
        with self.lock:
            self.values.update(values)
            self.count += len(values)
            self.by_member[member] = self.by_member.get(member, 0) + len(values)

    def snapshot(self):
        with self.lock:
            return set(self.values), self.count, dict(self.by_member)


consumed = Consumed()


class Member:
    """A consumer in its own thread: polls, records values, commits synchronously after each
    non-empty batch, keeps its assignment from the rebalance callbacks and (after each poll)
    from `assignment()`."""

    kind = "?"

    def __init__(self, name, group=GROUP, sink=None, track=True):
        self.name = name
        self.group = group
        self.sink = sink if sink is not None else consumed
        self.track = track
        self.lock = threading.Lock()
        self.assigned = set()  # from the callbacks
        self.reported = None  # from assignment(), after the latest poll
        self.errors = []
        self.commit_failures = 0
        self.rebalances = 0
        self.stop_flag = threading.Event()
        self.started = threading.Event()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self):
        self.thread.start()
        assert self.started.wait(30), f"{self.name} did not start"
        return self

    def on_assign(self, parts):
        with self.lock:
            self.assigned = set(parts)
            self.rebalances += 1
        if self.track:
            owners.assign(self.name, parts)

    def on_revoke(self, parts):
        with self.lock:
            self.assigned -= set(parts)
        if self.track:
            owners.revoke(self.name, parts)

    def state(self):
        with self.lock:
            return set(self.assigned), (None if self.reported is None else set(self.reported))

    def stop(self, timeout=20):
        """Stops polling and closes the consumer (LeaveGroup)."""
        self.stop_flag.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.name} did not close within {timeout}s"
        assert self.closed.is_set(), f"{self.name} thread ended without closing: {self.errors}"

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))
            self.started.set()


class CkMember(Member):
    kind = "confluent"

    def _loop(self):
        c = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": self.group,
                "client.id": self.name,
                "partition.assignment.strategy": STRATEGY,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": SESSION_MS,
                "heartbeat.interval.ms": HEARTBEAT_MS,
                "fetch.wait.max.ms": 100,
                "socket.timeout.ms": 10000,
            }
        )
        c.subscribe(
            [TOPIC],
            on_assign=lambda _c, ps: self.on_assign([p.partition for p in ps]),
            on_revoke=lambda _c, ps: self.on_revoke([p.partition for p in ps]),
            on_lost=lambda _c, ps: self.on_revoke([p.partition for p in ps]),
        )
        self.started.set()
        try:
            while not self.stop_flag.is_set():
                msgs = c.consume(num_messages=500, timeout=0.2)
                vals = []
                for m in msgs:
                    if m.error() is not None:
                        self.errors.append(str(m.error()))
                        continue
                    vals.append(m.value().decode())
                if vals:
                    self.sink.add(self.name, vals)
                    try:
                        c.commit(asynchronous=False)
                    except KafkaException as e:
                        self.commit_failures += 1
                        self.errors.append(f"commit: {e}")
                with self.lock:
                    self.reported = {tp.partition for tp in c.assignment()}
        finally:
            # close() runs the revoke callback itself.
            c.close()
            self.closed.set()


class KpListener(ConsumerRebalanceListener):
    def __init__(self, member):
        self.member = member

    def on_partitions_revoked(self, revoked):
        self.member.on_revoke([tp.partition for tp in revoked])

    def on_partitions_assigned(self, assigned):
        self.member.on_assign([tp.partition for tp in assigned])


class KpMember(Member):
    kind = "kafka-python"

    def _loop(self):
        c = KafkaConsumer(
            bootstrap_servers=broker.bootstrap,
            group_id=self.group,
            client_id=self.name,
            partition_assignment_strategy=[RoundRobinPartitionAssignor],
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_MS,
            heartbeat_interval_ms=HEARTBEAT_MS,
            fetch_max_wait_ms=100,
            request_timeout_ms=20000,
            max_poll_records=500,
        )
        c.subscribe([TOPIC], listener=KpListener(self))
        self.started.set()
        try:
            while not self.stop_flag.is_set():
                batches = c.poll(timeout_ms=200)
                vals = [r.value.decode() for rs in batches.values() for r in rs]
                if vals:
                    self.sink.add(self.name, vals)
                    try:
                        c.commit()
                    except Exception as e:  # noqa: BLE001 (CommitFailedError & co)
                        self.commit_failures += 1
                        self.errors.append(f"commit: {e!r}")
                with self.lock:
                    self.reported = {tp.partition for tp in c.assignment()}
        finally:
            # kafka-python's close() may not call the listener: give the partitions up here
            # (the member stopped consuming; LeaveGroup follows in close()).
            with self.lock:
                parts = set(self.assigned)
            self.on_revoke(parts)
            if _kp_close_takes_timeout():
                c.close(autocommit=False, timeout_ms=10000)
            else:
                c.close(autocommit=False)
            self.closed.set()


def _kp_close_takes_timeout():
    import inspect

    return "timeout_ms" in inspect.signature(KafkaConsumer.close).parameters


# --- helpers -----------------------------------------------------------------------------------


def produce(start, count, timeout=30):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    errors = []
    for i in range(start, start + count):
        while True:
            try:
                p.produce(TOPIC, key=f"k{i}", value=f"v{i}", on_delivery=lambda e, m: e and errors.append(e))
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(timeout)
    assert left == 0, f"{left} records undelivered"
    assert not errors, errors[:5]


def end_offsets():
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "groups-cluster-probe"})
    try:
        out = {}
        for p in range(PARTITIONS):
            _lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
            out[p] = hi
        return out
    finally:
        c.close()


def committed_offsets(group):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def settled(members, hold=1.5):
    """True once the members' assignments (callbacks and assignment()) partition the 6
    partitions, every member has 1 or 2 (roundrobin, 3..6 members), and that holds for
    `hold` seconds."""

    def partitioned():
        seen = []
        for m in members:
            cb, rep = m.state()
            if rep is None or cb != rep or not cb:
                return False
            seen.append(cb)
        total = sum(len(s) for s in seen)
        union = set().union(*seen)
        if total != PARTITIONS or union != ALL:
            return False
        lo, hi = PARTITIONS // len(members), -(-PARTITIONS // len(members))
        return all(lo <= len(s) <= hi for s in seen)

    t0 = None
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        for m in members:
            assert not m.thread.is_alive() or m.started.is_set()
            if not m.thread.is_alive() and not m.stop_flag.is_set():
                raise AssertionError(f"{m.name} died: {m.errors}")
        if partitioned():
            if t0 is None:
                t0 = time.monotonic()
            elif time.monotonic() - t0 >= hold:
                return {m.name: sorted(m.state()[0]) for m in members}
        else:
            t0 = None
        time.sleep(0.1)
    raise AssertionError(
        "group did not settle into a partition of the 6 partitions: "
        + ", ".join(f"{m.name}={sorted(m.state()[0])}/{m.state()[1]}" for m in members)
    )


def check_no_violations():
    with owners.lock:
        v = list(owners.violations)
    assert not v, f"ownership violations: {v[:10]}"


# --- the tests -----------------------------------------------------------------------------------

members = []  # the live group members


def test_topic():
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3)])
    fs[TOPIC].result(30)
    leaders = {}
    for p in range(PARTITIONS):
        a = ok("POST", "/v1/wait/isr", {"topic": TOPIC, "partition": p, "size": 3, "timeout_ms": 30000})
        leaders[p] = a.get("leader")
    md = admin.list_topics(TOPIC, timeout=10)
    assert len(md.brokers) == 3, f"metadata lists {len(md.brokers)} brokers"
    t = md.topics[TOPIC]
    assert len(t.partitions) == PARTITIONS, t.partitions
    for p, pm in t.partitions.items():
        assert len(pm.replicas) == 3 and len(pm.isrs) == 3, (p, pm.replicas, pm.isrs)
    log(f"    leaders {leaders}")
    produce(0, N // 2)


def test_six_members_partition_the_topic():
    t0 = time.monotonic()
    for i in range(3):
        members.append(CkMember(f"ck{i}").start())
        members.append(KpMember(f"kp{i}").start())
    a = settled(members)
    log(f"    settled in {time.monotonic() - t0:.1f}s: {a}")
    assert all(len(v) == 1 for v in a.values()), a
    check_no_violations()
    # The broker's own view (DescribeGroups through the AdminClient) agrees.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    d = admin.describe_consumer_groups([GROUP], request_timeout=10)[GROUP].result(15)
    assert d.partition_assignor == STRATEGY, d.partition_assignor
    assert len(d.members) == 6, [m.client_id for m in d.members]
    view = {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions) for m in d.members}
    assert view == a, f"DescribeGroups {view} != members {a}"
    log(f"    DescribeGroups: state {d.state}, coordinator {d.coordinator.id}, assignor {d.partition_assignor}")


def test_leave_and_join():
    def paced():  # ~7s of records, so they are consumed while members leave and join
        for k in range(30):
            produce(N // 2 + k * 100, 100)
            time.sleep(0.2)

    producer = threading.Thread(target=paced, daemon=True)
    producer.start()
    steps = [
        ("kp0 leaves", lambda: _leave("kp0")),
        ("ck0 leaves", lambda: _leave("ck0")),
        ("kp3 joins", lambda: members.append(KpMember("kp3").start())),
        ("ck3 joins", lambda: members.append(CkMember("ck3").start())),
    ]
    for what, step in steps:
        t0 = time.monotonic()
        before = {m.name: m.rebalances for m in members}
        step()
        a = settled(members)
        moved = [m.name for m in members if m.name in before and m.rebalances > before[m.name]]
        log(f"    {what}: settled in {time.monotonic() - t0:.1f}s, {len(members)} members {a}; reassigned: {moved}")
        assert moved, f"{what}: no surviving member was reassigned"
        check_no_violations()
    producer.join(60)
    assert not producer.is_alive(), "producer did not finish"


def _leave(name):
    m = next(m for m in members if m.name == name)
    members.remove(m)
    m.stop()


def test_every_record_consumed():
    want = {f"v{i}" for i in range(N)}
    t0 = time.monotonic()
    wait_until("every record consumed", lambda: want <= consumed.snapshot()[0], 60)
    vals, count, by = consumed.snapshot()
    log(f"    all {N} consumed ({time.monotonic() - t0:.1f}s after the last join); {count} deliveries "
        f"({count - len(vals)} redelivered) by {by}")
    extra = vals - want
    assert not extra, f"unexpected values: {sorted(extra)[:5]}"
    ends = end_offsets()
    assert sum(ends.values()) == N, ends
    wait_until("committed offsets reach the end of every partition", lambda: committed_offsets(GROUP) == ends, 30)
    fails = {m.name: m.commit_failures for m in members if m.commit_failures}
    if fails:
        log(f"    NOTE commit failures (rebalances): {fails}")
    check_no_violations()


def test_commits_resume():
    bad = {}
    for m in list(members):
        m.stop()
        members.remove(m)
        other = [e for e in m.errors if not e.startswith("commit")]
        if other:
            bad[m.name] = other
    assert not bad, f"member errors: {bad}"
    ends = end_offsets()
    assert committed_offsets(GROUP) == ends, "committed offsets moved after close"

    for label, cls, start in (("confluent-kafka", CkMember, N), ("kafka-python", KpMember, N + 300)):
        produce(start, 300)
        sink = Consumed()
        t0 = time.monotonic()
        m = cls(f"resume-{cls.kind}", sink=sink, track=False).start()
        try:
            want = {f"v{i}" for i in range(start, start + 300)}
            wait_until(f"{label} consumer gets the new records", lambda: want <= sink.snapshot()[0], 45)
            time.sleep(1.0)  # anything older would have come first; give strays a moment
            vals, count, _ = sink.snapshot()
            old = vals - want
            assert not old, f"{label} consumer re-read {len(old)} committed records, e.g. {sorted(old)[:5]}"
            assert count == len(want), f"{label} consumer: {count} deliveries for {len(want)} records"
            assert sorted(m.state()[0]) == sorted(ALL), m.state()
        finally:
            m.stop()
        log(f"    {label}: got only the {len(want)} new records in {time.monotonic() - t0:.1f}s")
        wait_until(f"{label} committed its records", lambda: committed_offsets(GROUP) == end_offsets(), 20)


class KcatMember:
    _ASSIGNED = re.compile(r"rebalanced \(memberid [^)]*\): assigned: (.*)$")
    _REVOKED = re.compile(r"rebalanced \(memberid [^)]*\): revoked:")

    def __init__(self, name):
        self.name = name
        self.assigned = None
        self.values = set()
        self.stderr = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [
                KCAT, "-b", broker.bootstrap, "-G", KCAT_GROUP, "-u",
                "-X", f"partition.assignment.strategy={STRATEGY}",
                "-X", f"session.timeout.ms={SESSION_MS}",
                "-X", f"heartbeat.interval.ms={HEARTBEAT_MS}",
                "-X", "auto.offset.reset=earliest",
                "-f", r"%p %o %s\n",
                TOPIC,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for target in (self._err, self._out):
            threading.Thread(target=target, daemon=True).start()

    def _err(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.stderr.append(line)
                m = self._ASSIGNED.search(line)
                if m:
                    self.assigned = sorted(int(x) for x in re.findall(r"\[(\d+)\]", m.group(1)))
                elif self._REVOKED.search(line):
                    self.assigned = []

    def _out(self):
        for raw in self.proc.stdout:
            parts = raw.decode("utf-8", "replace").split()
            if len(parts) == 3:
                with self.lock:
                    self.values.add(parts[2])

    def partitions(self):
        with self.lock:
            return self.assigned

    def got(self):
        with self.lock:
            return set(self.values)

    def terminate(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"kcat {self.name} ignored SIGTERM")

    def tail(self):
        with self.lock:
            return "\n".join(self.stderr[-15:])


def test_kcat_group():
    total = N + 600
    want = {f"v{i}" for i in range(total)}
    ks = []
    t0 = time.monotonic()
    try:
        ks.append(KcatMember("a"))
        ks.append(KcatMember("b"))

        def split():
            pa, pb = ks[0].partitions(), ks[1].partitions()
            return pa and pb and len(pa) == 3 and len(pb) == 3 and set(pa) | set(pb) == ALL

        wait_until("two kcat members split 3/3", split, 40)
        log(f"    kcat a={ks[0].partitions()} b={ks[1].partitions()} after {time.monotonic() - t0:.1f}s")
        wait_until("kcat consumed every record", lambda: want <= (ks[0].got() | ks[1].got()), 40)
        log(f"    kcat consumed all {total} in {time.monotonic() - t0:.1f}s (a {len(ks[0].got())}, b {len(ks[1].got())})")
        for k in ks:
            k.terminate()
        assert all(k.proc.returncode == 0 for k in ks), [k.proc.returncode for k in ks]
    except Exception:
        for k in ks:
            log(f"--- kcat {k.name} stderr:\n{k.tail()}")
        raise
    finally:
        for k in ks:
            if k.proc.poll() is None:
                k.proc.kill()
                k.proc.wait(10)


def main():
    if not suite.check("3-broker cluster starts", broker.start):
        suite.finish()
    ok_topic = suite.check("6-partition topic, RF 3, full ISR; 3000 keyed records", test_topic)
    if ok_topic and suite.check("3 confluent + 3 kafka-python members partition the 6 partitions (roundrobin)",
                                test_six_members_partition_the_topic):
        suite.check("leave (close) and join rebalance into a partition again", test_leave_and_join)
        suite.check("every record consumed at least once, commits at the end offsets", test_every_record_consumed)
        suite.check("committed offsets resume in new consumers of both clients", test_commits_resume)
    for m in list(members):
        try:
            m.stop()
        except Exception as e:  # noqa: BLE001
            log(f"    {m.name}: {e}")
    errs = {m.name: m.errors for m in members if m.errors}
    if errs:
        log(f"    member errors: {errs}")
    if ok_topic:
        suite.check("kcat -G (roundrobin, separate group) splits 3/3 and consumes", test_kcat_group)
    code, killed = broker.stop()
    noisy = broker.grep(r"\b(WARN|ERROR)\b")
    if noisy:
        log(f"    NOTE {len(noisy)} WARN/ERROR broker lines, e.g.:\n      " + "\n      ".join(noisy[:8]))
    suite.check("cluster exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
