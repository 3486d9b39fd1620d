"""TLS and SASL against real clients: librdkafka (confluent-kafka) and kcat.

Certificates come from the broker itself: `--tls-self-signed DIR` writes a CA (`ca.pem`)
and a server certificate for localhost/127.0.0.1 signed by it, which clients trust through
`ssl.ca.location` (librdkafka also checks the host name, `ssl.endpoint.identification.
algorithm=https`, its default). Users come from a `--sasl-users` file.

Covers: a raw TLS ApiVersions with Python's ssl module; confluent-kafka Producer and
Consumer (assign mode) over SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 each
producing and reading back records; a wrong password, an unknown user, a user enabled for
another mechanism only, and a client that does not trust the CA, all refused; SSL without
SASL and SASL_PLAINTEXT (the other two security protocols); kcat over SASL_SSL with every
mechanism (metadata, produce, consume) and with a wrong password.
"""

import os
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import confluent_kafka  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402

from _broker import KCAT, Broker, Suite, log, run  # noqa: E402

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
USERS = {"alice": "alice-secret w/ spaces", "bob": "bob:secret=x"}
RECORDS = 50

suite = Suite("test_security.py", budget=170)
work = tempfile.mkdtemp(prefix="kafka-sdk-security-")
tls_dir = os.path.join(work, "tls")
users_file = os.path.join(work, "users")
with open(users_file, "w") as f:
    f.write("# alice may use every mechanism, bob only SCRAM-SHA-512\n")
    f.write(f"alice={USERS['alice']}\n")
    f.write(f"SCRAM-SHA-512:bob:{USERS['bob']}\n")
CA = os.path.join(tls_dir, "ca.pem")

sasl_ssl = Broker(
    name="sasl_ssl", extra_args=["--tls-self-signed", tls_dir, "--sasl-users", users_file]
)
ssl_only = Broker(name="ssl", extra_args=["--tls-self-signed", tls_dir])
sasl_plain = Broker(
    name="sasl_plaintext",
    extra_args=["--sasl-users", users_file, "--sasl-mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512"],
)
BROKERS = [sasl_ssl, ssl_only, sasl_plain]
suite.brokers.extend(BROKERS)


def security(protocol, mechanism=None, user="alice", password=None, ca=CA):
    conf = {"security.protocol": protocol}
    if protocol.endswith("SSL") and ca is not None:
        conf["ssl.ca.location"] = ca
    if protocol.startswith("SASL"):
        conf["sasl.mechanism"] = mechanism
        conf["sasl.username"] = user
        conf["sasl.password"] = USERS.get(user, "x") if password is None else password
    return conf


def round_trip(broker, conf, topic):
    """Produces RECORDS records with `conf` (acks=all, every delivery checked), then reads
    them back from offset 0 with a Consumer in assign mode."""
    errors = []
    common = {"bootstrap.servers": broker.bootstrap, "error_cb": errors.append, **conf}
    p = Producer({**common, "acks": "all", "message.timeout.ms": 20000})
    reports = []
    for i in range(RECORDS):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert p.flush(30) == 0, f"undelivered after 30s; client errors: {errors}"
    bad = [r for r in reports if r[0] is not None]
    assert len(reports) == RECORDS and not bad, f"deliveries: {bad[:3]}; client errors: {errors}"
    assert sorted(o for _e, o in reports) == list(range(RECORDS)), reports[:5]
    c = Consumer(
        {
            **common,
            "group.id": "security-assign-only",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < RECORDS:
            assert time.monotonic() < deadline, f"read {len(got)} of {RECORDS}; client errors: {errors}"
            for m in c.consume(num_messages=100, timeout=0.5):
                if m.error() is None:
                    got.append((m.offset(), m.key(), m.value()))
                elif m.error().code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consumer error: {m.error()}")
        assert got == [(i, b"k%d" % i, b"v%d" % i) for i in range(RECORDS)], got[:3]
    finally:
        c.close()
    auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert not auth, auth


def refused(broker, conf, expect="Authentication failed"):
    """A client with `conf` cannot get metadata, and librdkafka reports why (through
    error_cb; its own log is silenced, it would repeat that on every reconnect)."""
    errors = []
    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "error_cb": errors.append,
            "log_level": 0,
            "reconnect.backoff.ms": 500,
            "reconnect.backoff.max.ms": 1000,
            **conf,
        }
    )
    try:
        try:
            p.list_topics(timeout=1.5)
            raise AssertionError("metadata was served to a client that should have been refused")
        except KafkaException:
            pass
        deadline = time.monotonic() + 5
        while not any(expect in e.str() for e in errors) and time.monotonic() < deadline:
            p.poll(0.2)
        shown = sorted({e.str() for e in errors})
        assert any(expect in s for s in shown), f"no {expect!r} in client errors: {shown[:3]}"
        log(f"    librdkafka: {next(s for s in shown if expect in s)}")
    finally:
        del p  # stop its reconnect loop now


def test_raw_tls_api_versions():
    """Python's ssl module, verifying the certificate for 127.0.0.1 against ca.pem."""
    host, port = sasl_ssl.bootstrap.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=CA)
    body = struct.pack(">hhih", 18, 0, 7, 5) + b"probe"
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
                chunk = s.recv(65536)
                assert chunk, "closed before the ApiVersions response"
                buf += chunk
            log(f"    TLS {s.version()} {s.cipher()[0]}")
    corr, err, n = struct.unpack_from(">ihi", buf, 4)
    assert (corr, err) == (7, 0), (corr, err)
    keys = {struct.unpack_from(">h", buf, 14 + 6 * k)[0] for k in range(n)}
    assert {17, 36} <= keys, sorted(keys)


def test_sasl_ssl(mechanism):
    round_trip(sasl_ssl, security("SASL_SSL", mechanism), f"sasl-ssl-{mechanism.lower()}")


def test_sasl_ssl_localhost_name():
    """The certificate also names localhost, so a bootstrap by name verifies too."""
    port = sasl_ssl.bootstrap.rsplit(":", 1)[1]
    errors = []
    p = Producer({"bootstrap.servers": f"localhost:{port}", "error_cb": errors.append, **security("SASL_SSL", "SCRAM-SHA-256")})
    md = p.list_topics(timeout=10)
    assert md.brokers, (md, errors)


def test_wrong_credentials():
    for mechanism in MECHANISMS:
        refused(sasl_ssl, security("SASL_SSL", mechanism, password="wrong"))
        refused(sasl_ssl, security("SASL_SSL", mechanism, user="mallory", password="x"))
    # bob is a SCRAM-SHA-512 user only.
    refused(sasl_ssl, security("SASL_SSL", "PLAIN", user="bob"))
    refused(sasl_ssl, security("SASL_SSL", "SCRAM-SHA-256", user="bob"))
    round_trip(sasl_ssl, security("SASL_SSL", "SCRAM-SHA-512", user="bob"), "sasl-ssl-bob")
    assert sasl_ssl.grep("closing unauthenticated connection"), "the broker logs refusals"
    assert not sasl_ssl.grep(r"wrong|alice-secret|bob:secret"), "passwords never reach the log"


def test_untrusted_ca():
    # librdkafka without ssl.ca.location trusts the system CAs only.
    refused(sasl_ssl, security("SASL_SSL", "PLAIN", ca=None), expect="certificate verify failed")


def test_ssl_only():
    round_trip(ssl_only, security("SSL"), "ssl-only")


def test_sasl_plaintext():
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"]:
        round_trip(sasl_plain, security("SASL_PLAINTEXT", mechanism), f"sasl-plain-{mechanism.lower()}")
    # PLAIN is not enabled on this broker.
    refused(sasl_plain, security("SASL_PLAINTEXT", "PLAIN"), expect="Unsupported SASL mechanism")


def kcat_args(mechanism, password=None):
    conf = security("SASL_SSL", mechanism, password=password)
    args = [KCAT, "-b", sasl_ssl.bootstrap]
    for k, v in conf.items():
        # kcat spells the mechanism property in the plural.
        args += ["-X", f"{'sasl.mechanisms' if k == 'sasl.mechanism' else k}={v}"]
    return args


def test_kcat(mechanism):
    topic = f"kcat-{mechanism.lower()}"
    base = kcat_args(mechanism)
    lines = "".join(f"k{i}:v{i}\n" for i in range(10)).encode()
    run(base + ["-P", "-t", topic, "-K:", "-X", "acks=all"], 30, input=lines)
    out = run(base + ["-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %k %s\n"], 30).stdout.decode()
    assert out.split("\n")[:10] == [f"{i} k{i} v{i}" for i in range(10)], out
    md = run(base + ["-L", "-t", topic], 20).stdout.decode()
    assert f'topic "{topic}" with 1 partitions' in md, md


def test_kcat_wrong_password():
    p = run(kcat_args("SCRAM-SHA-512", password="wrong") + ["-L", "-m", "5"], 30, check=False)
    err = p.stderr.decode()
    assert p.returncode != 0, (p.returncode, err)
    assert "Authentication failed" in err, err
    log(f"    kcat: {next(l for l in err.splitlines() if 'Authentication failed' in l).strip()}")


def main():
    log(f"librdkafka {confluent_kafka.libversion()[0]}, confluent-kafka {confluent_kafka.version()[0]}")
    ok = all(suite.check(f"{b.name} broker starts", b.start) for b in BROKERS)
    if not ok:
        suite.finish()
    suite.check("raw TLS ApiVersions (Python ssl, CA-verified)", test_raw_tls_api_versions)
    for m in MECHANISMS:
        suite.check(f"confluent-kafka SASL_SSL {m}: produce + consume", test_sasl_ssl, m)
    suite.check("confluent-kafka SASL_SSL via localhost (host name check)", test_sasl_ssl_localhost_name)
    suite.check("wrong password / unknown user / other mechanism refused", test_wrong_credentials)
    suite.check("client not trusting the CA refused", test_untrusted_ca)
    suite.check("confluent-kafka SSL: produce + consume", test_ssl_only)
    suite.check("confluent-kafka SASL_PLAINTEXT SCRAM: produce + consume; PLAIN not enabled", test_sasl_plaintext)
    for m in MECHANISMS:
        suite.check(f"kcat SASL_SSL {m}: -P, -C, -L", test_kcat, m)
    suite.check("kcat SASL_SSL wrong password", test_kcat_wrong_password)
    for b in BROKERS:
        code, killed = b.stop()
        suite.check(f"{b.name} exits 0 on SIGTERM", _assert, code == 0 and not killed, (code, killed))
        b.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    suite.finish()


def _assert(cond, msg):
    assert cond, msg


if __name__ == "__main__":
    main()
