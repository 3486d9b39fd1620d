"""kcat (librdkafka) against the companion broker.

Covers: `-L` metadata (JSON) for an auto-created topic and for the whole cluster, and for
an unknown topic on a broker started with `--auto-create-topics false`; producing
keyed records (`-K:`) with headers (`-H`) under every compression codec
(`-X compression.codec=none|gzip|snappy|lz4|zstd`), checking the stored batches carry that
codec (or none, where librdkafka decides from the broker's ApiVersions that it cannot take
it: see `_broker.librdkafka_codec`, and the NOTE lines printed); consuming them back from the beginning (`-o beginning -e`) across all partitions with
an exact `-f` format (partition, offset, key, value, headers, timestamp); from a given offset
(`-o N`) and relative to the end (`-o -N`); from the end (`-o end`) while another kcat
produces; and offset lookups by timestamp (`-Q`).
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _broker import (  # noqa: E402
    CODEC_IDS,
    KCAT,
    Broker,
    Suite,
    api_versions,
    kcat_librdkafka_version,
    librdkafka_codec,
    log,
    run,
    stored_batches,
)

PARTITIONS = 3
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 60
FMT = r"%p\t%o\t%k\t%s\t%h\t%T\n"
HEADERS = [("h1", "v1"), ("trace", "abc=def")]  # a value holding '=' too

suite = Suite("test_kcat.py", budget=170)
broker = Broker(default_partitions=PARTITIONS, name="broker")
suite.brokers.append(broker)


def kcat(*args, input=None, timeout=30, check=True):
    p = run([KCAT, "-b", broker.bootstrap, *args], timeout, input=input, check=check)
    return p.stdout.decode(), p.stderr.decode()


def produce(topic, partition, lines, codec="none", headers=()):
    """`kcat -P` of `key:value` lines to one partition; fails on any delivery error."""
    args = ["-P", "-t", topic, "-p", str(partition), "-K:", "-X", f"compression.codec={codec}"]
    args += ["-X", "acks=all"]
    for k, v in headers:
        args += ["-H", f"{k}={v}"]
    data = "".join(l + "\n" for l in lines).encode()
    _out, err = kcat(*args, input=data, timeout=30)
    bad = [l for l in err.splitlines() if "fail" in l.lower() or "error" in l.lower()]
    assert not bad, f"kcat -P reported:\n{err}"


def consume(topic, *args, timeout=30):
    """`kcat -C ... -f FMT` parsed into (partition, offset, key, value, headers, ts) tuples."""
    out, err = kcat("-C", "-t", topic, "-f", FMT, *args, timeout=timeout)
    rows = []
    for line in out.split("\n"):
        if not line:
            continue
        parts = line.split("\t")
        assert len(parts) == 6, f"unexpected kcat line {line!r}\nstderr: {err}"
        p, o, k, v, h, ts = parts
        rows.append((int(p), int(o), k, v, h, int(ts)))
    return rows


def metadata(*args):
    out, err = kcat("-L", "-J", *args, timeout=20)
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"kcat -L -J printed no JSON: {out!r}\nstderr: {err}") from None


def check_broker_list(md):
    brokers = md.get("brokers")
    assert isinstance(brokers, list) and len(brokers) == 1, md
    assert brokers[0]["name"] == broker.bootstrap, (brokers, broker.bootstrap)
    return brokers[0]["id"]


def test_metadata_auto_create():
    topic = "kcat-meta"
    found = None
    for _attempt in range(10):
        md = metadata("-t", topic)
        topics = [t for t in md.get("topics", []) if t.get("topic") == topic]
        if topics and "error" not in topics[0] and len(topics[0].get("partitions", [])) > 0:
            found = topics[0]
            break
        time.sleep(0.3)  # Kafka may answer LEADER_NOT_AVAILABLE while creating
    assert found, f"{topic} was not auto-created by a metadata request; last answer {md}"
    broker_id = check_broker_list(md)
    parts = sorted(found["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == list(range(PARTITIONS)), parts
    for p in parts:
        assert "error" not in p, p
        assert p["leader"] == broker_id, p
        assert [r["id"] for r in p["replicas"]] == [broker_id], p
        assert [r["id"] for r in p["isrs"]] == [broker_id], p
    # The whole cluster's listing has it too.
    md = metadata()
    check_broker_list(md)
    names = [t["topic"] for t in md["topics"]]
    assert topic in names, names


def test_no_auto_create():
    """With --auto-create-topics false, an unknown topic is reported as unknown, not created."""
    b = Broker(auto_create=False, name="broker-no-auto-create")
    suite.brokers.append(b)
    try:
        b.start()
        out = run([KCAT, "-b", b.bootstrap, "-L", "-J", "-t", "kcat-nope"], 20).stdout.decode()
        md = json.loads(out)
        topics = [t for t in md.get("topics", []) if t.get("topic") == "kcat-nope"]
        assert topics, md
        assert "unknown" in topics[0].get("error", "").lower(), topics[0]
        assert not topics[0].get("partitions"), topics[0]
        out = run([KCAT, "-b", b.bootstrap, "-L", "-J"], 20).stdout.decode()
        assert "kcat-nope" not in [t["topic"] for t in json.loads(out)["topics"]], out
    finally:
        suite.brokers.remove(b)
        b.stop()
        b.cleanup()


def lines_for(codec, n=PER_CODEC, prefix="key"):
    pad = "x" * 200  # compressible, so librdkafka does not fall back to an uncompressed batch
    return [f"{prefix}-{i}:value-{codec}-{i}-{pad}" for i in range(n)]


def expected_headers(codec):
    return ",".join(f"{k}={v}" for k, v in HEADERS + [("codec", codec)])


def test_produce_consume(codec, partition):
    topic = f"kcat-{codec}"
    before = time.time() * 1000
    produce(topic, partition, lines_for(codec), codec, HEADERS + [("codec", codec)])
    after = time.time() * 1000
    rows = consume(topic, "-o", "beginning", "-e")  # every partition, two of them empty
    assert len(rows) == PER_CODEC, f"got {len(rows)} records, want {PER_CODEC}: {rows[:3]}"
    for i, (p, o, k, v, h, ts) in enumerate(rows):
        want_k, want_v = lines_for(codec)[i].split(":", 1)
        assert (p, o, k, v) == (partition, i, want_k, want_v), (i, (p, o, k, v[:40]))
        assert h == expected_headers(codec), (i, h)
        assert before - 5000 <= ts <= after + 5000, (i, ts, before, after)
    # The broker keeps the producer's batches as sent: codec and all.
    batches = stored_batches(broker.data_dir, topic, partition)
    assert batches, "no stored batches"
    assert sum(b["count"] for b in batches) == PER_CODEC, batches
    assert all(b["magic"] == 2 for b in batches), batches
    # ... or uncompressed where librdkafka decides the broker cannot take the codec.
    expected, why = librdkafka_codec(codec, api_versions(broker.bootstrap), kcat_librdkafka_version())
    if why:
        log(f"    NOTE: kcat sends {codec} uncompressed: {why}")
    codecs = {b["codec"] for b in batches}
    assert codecs == {CODEC_IDS[expected]}, f"stored codecs {codecs}, produced {codec}, expected {expected}: {batches}"
    assert batches[0]["base_offset"] == 0 and batches[-1]["last_offset"] == PER_CODEC - 1, batches


def test_consume_from_offset():
    topic, partition = "kcat-gzip", CODECS.index("gzip") % PARTITIONS
    rows = consume(topic, "-p", str(partition), "-o", "17", "-e")
    assert [r[1] for r in rows] == list(range(17, PER_CODEC)), [r[1] for r in rows]
    for _p, o, k, v, _h, _ts in rows:
        assert (k, v) == tuple(lines_for("gzip")[o].split(":", 1)), o
    # Relative to the end: the last 5.
    rows = consume(topic, "-p", str(partition), "-o", "-5", "-e")
    assert [r[1] for r in rows] == list(range(PER_CODEC - 5, PER_CODEC)), [r[1] for r in rows]
    # At the end exactly: nothing, and kcat still exits at EOF.
    rows = consume(topic, "-p", str(partition), "-o", str(PER_CODEC), "-e")
    assert rows == [], rows
    # -c: stop after a count.
    rows = consume(topic, "-p", str(partition), "-o", "beginning", "-c", "7")
    assert [r[1] for r in rows] == list(range(7)), rows


def test_consume_from_end_while_producing():
    topic, partition = "kcat-tail", 1
    produce(topic, partition, [f"old-{i}:old-value-{i}" for i in range(5)])
    want = 3
    args = [KCAT, "-b", broker.bootstrap, "-C", "-t", topic, "-p", str(partition), "-o", "end"]
    args += ["-c", str(want), "-f", FMT]
    consumer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        sent = 0
        deadline = time.monotonic() + 25
        # Keep producing until the tailing consumer has seen `want` records: it may resolve
        # "end" after the first few were written, which is fine, and checked below.
        while consumer.poll() is None and time.monotonic() < deadline:
            produce(topic, partition, [f"new-{sent}:new-value-{sent}"])
            sent += 1
            time.sleep(0.3)
        out, err = consumer.communicate(timeout=5)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.communicate()
    assert consumer.returncode == 0, (consumer.returncode, err)
    rows = [l.split("\t") for l in out.decode().split("\n") if l]
    assert len(rows) == want, (rows, err)
    offsets = [int(r[1]) for r in rows]
    assert offsets[0] >= 5, f"consumer from the end saw old records: {rows}"
    assert offsets == list(range(offsets[0], offsets[0] + want)), offsets
    for r in rows:
        n = int(r[1]) - 5
        assert (int(r[0]), r[2], r[3]) == (partition, f"new-{n}", f"new-value-{n}"), r
    log(f"    tail: {sent} single-record produces, consumer started at offset {offsets[0]}")


def test_query_offsets_by_timestamp():
    topic, partition = "kcat-none", 0
    # Timestamp 0: the first record at or after it is offset 0.
    out, _ = kcat("-Q", "-t", f"{topic}:{partition}:0", timeout=20)
    assert f"[{partition}] offset 0" in out, out
    # A timestamp in the future: no such record, so the end offset (-1 in Kafka's answer,
    # which librdkafka reports as the log end).
    future = int(time.time() * 1000) + 3600_000
    out, _ = kcat("-Q", "-t", f"{topic}:{partition}:{future}", timeout=20)
    assert "offset" in out, out
    off = int(out.strip().rsplit("offset", 1)[1].split()[0])
    assert off in (-1, PER_CODEC), out


def main():
    if not suite.check("broker starts", broker.start):
        suite.finish()
    suite.check("metadata -L: auto-created topic, partitions, leader, broker list", test_metadata_auto_create)
    suite.check("metadata -L: --auto-create-topics false reports the topic unknown", test_no_auto_create)
    for i, codec in enumerate(CODECS):
        suite.check(
            f"produce -K: -H, compression.codec={codec}, consume -o beginning -e",
            test_produce_consume,
            codec,
            i % PARTITIONS,
        )
    suite.check("consume -o N / -o -N / -o <end> / -c", test_consume_from_offset)
    suite.check("consume -o end while producing", test_consume_from_end_while_producing)
    suite.check("-Q offsets for timestamps", test_query_offsets_by_timestamp)
    code, killed = broker.stop()
    suite.check("broker exits 0 on SIGTERM", lambda: _assert(code == 0 and not killed, (code, killed)))
    broker.cleanup()
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
