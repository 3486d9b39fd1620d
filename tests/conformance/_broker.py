"""Shared helpers for the conformance scripts: start and stop the companion broker, and a
tiny test runner.

Not a script (the leading underscore tells `cargo xtask test` to skip it). Scripts do:

    sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _broker import Broker, Suite

The broker binary is `$KAFKA_SDK_BROKER_BIN` if set, else
`$CARGO_TARGET_DIR` (default `$KAFKA_SDK_ROOT/target`) `/debug/kafka-broker`; when it is missing it is built with
`cargo build -p kafka-broker --bin kafka-broker`. Every broker listens on `127.0.0.1:0` with a
temporary data directory unless told otherwise, and is stopped with SIGTERM (SIGKILL after a
timeout). Every wait here is bounded.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.environ.get("KAFKA_SDK_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
PYTHON = os.environ.get("KAFKA_SDK_PYTHON") or sys.executable
KCAT = os.environ.get("KAFKA_SDK_KCAT") or shutil.which("kcat") or "/usr/bin/kcat"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
BUILD_TIMEOUT = 1200.0

_LISTENING = re.compile(r"listening on (\S+:\d+)")
_live = []  # brokers to kill if the script dies


def log(*args):
    print(*args, flush=True)


def broker_bin():
    """The broker binary, built first when missing."""
    path = os.environ.get("KAFKA_SDK_BROKER_BIN")
    if path:
        if not os.path.isfile(path):
            raise RuntimeError(f"KAFKA_SDK_BROKER_BIN={path} does not exist")
        return path
    # Honour CARGO_TARGET_DIR like cargo does (relative paths are relative to the workspace).
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR", "target"))
    path = os.path.join(target, "debug", "kafka-broker")
    if not os.path.isfile(path):
        log(f"{path} missing: cargo build -p kafka-broker --bin kafka-broker")
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run(
            [cargo, "build", "-p", "kafka-broker", "--bin", "kafka-broker"],
            cwd=ROOT,
            check=True,
            timeout=BUILD_TIMEOUT,
        )
    return path


def free_port():
    """A TCP port that was free a moment ago (for a proxy, say)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One companion broker process.

    `start()` launches it and waits for `listening on HOST:PORT`; `stop()` sends SIGTERM and
    returns the exit code; `kill()` sends SIGKILL. `start()` again reuses the same data
    directory (a restart). The temporary data directory is removed by `cleanup()`.
    """

    def __init__(
        self,
        data_dir=None,
        default_partitions=None,
        auto_create=None,
        advertised=None,
        listen="127.0.0.1:0",
        extra_args=(),
        name="broker",
    ):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="kafka-sdk-conformance-")
        self.default_partitions = default_partitions
        self.auto_create = auto_create
        self.advertised = advertised
        self.listen = listen
        self.extra_args = list(extra_args)
        self.name = name
        self.proc = None
        self.bootstrap = None
        self.lines = []  # everything the broker printed, stdout and stderr
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None
        self.starts = 0

    def args(self):
        args = [broker_bin(), "--listen", self.listen, "--data-dir", self.data_dir]
        if self.default_partitions is not None:
            args += ["--default-partitions", str(self.default_partitions)]
        if self.auto_create is not None:
            args += ["--auto-create-topics", "true" if self.auto_create else "false"]
        if self.advertised is not None:
            args += ["--advertised", self.advertised]
        return args + self.extra_args

    def start(self, timeout=START_TIMEOUT, **changes):
        """Starts the broker (again); `changes` override settings for this and later starts."""
        for k, v in changes.items():
            if not hasattr(self, k):
                raise TypeError(f"unknown broker setting {k}")
            setattr(self, k, v)
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("broker already running")
        args = self.args()
        self.starts += 1
        self._ready.clear()
        self.bootstrap = None
        with self._lock:
            self.lines.append(f"--- start #{self.starts}: {' '.join(args)}")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        if self not in _live:
            _live.append(self)
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before listening:\n"
                    + self.tail()
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name} printed no 'listening on' line in {timeout}s:\n" + self.tail()
                )
        log(f"{self.name} (pid {self.proc.pid}) listening on {self.bootstrap}, data {self.data_dir}")
        return self

    def _read(self, proc):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
                if len(self.lines) > 20000:
                    del self.lines[:10000]
            if not self._ready.is_set():
                m = _LISTENING.search(line)
                if m:
                    self.bootstrap = m.group(1)
                    self._ready.set()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after `timeout`. Returns (exit code, whether it needed the kill)."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for {timeout}s: SIGKILL")
                killed = True
                self.proc.kill()
                self.proc.wait(10)
        self._join()
        return self.proc.returncode, killed

    def kill(self):
        """SIGKILL (a crash). Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._join()
        return self.proc.returncode

    def _join(self):
        if self._reader is not None:
            self._reader.join(5)

    def cleanup(self):
        self.kill()
        if self in _live:
            _live.remove(self)
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def tail(self, n=40):
        with self._lock:
            return "\n".join(self.lines[-n:])

    def grep(self, pattern):
        rx = re.compile(pattern)
        with self._lock:
            return [l for l in self.lines if rx.search(l)]

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()
        return False


def _kill_all():
    """Kills every broker still running and removes the temporary data directories."""
    for b in list(_live):
        try:
            b.cleanup()
        except Exception:
            pass


atexit.register(_kill_all)


CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_batches(data_dir, topic, partition):
    """The record batches of one partition as stored in the data directory, in Kafka's
    on-disk layout (`DIR/TOPIC-PARTITION/<base offset>.log` segments of v2 batches): a list of
    dicts with base_offset, last_offset, magic, attributes, codec (id), count. Reads only the
    61-byte batch headers."""
    import glob
    import struct

    pdir = os.path.join(data_dir, f"{topic}-{partition}")
    segments = sorted(glob.glob(os.path.join(pdir, "*.log")))
    if not segments:
        raise AssertionError(f"no *.log segment under {pdir} (contents: {_ls(data_dir)})")
    batches = []
    for seg in segments:
        with open(seg, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, pos)
            if length <= 0 or pos + 12 + length > len(data):
                break  # preallocated tail or partial write
            magic = data[pos + 16]
            (attributes,) = struct.unpack_from(">h", data, pos + 21)
            (last_delta,) = struct.unpack_from(">i", data, pos + 23)
            (count,) = struct.unpack_from(">i", data, pos + 57)
            batches.append(
                {
                    "base_offset": base_offset,
                    "last_offset": base_offset + last_delta,
                    "magic": magic,
                    "attributes": attributes,
                    "codec": attributes & 7,
                    "count": count,
                }
            )
            pos += 12 + length
    return batches


def _ls(d):
    out = []
    for dirpath, _dirs, files in os.walk(d):
        for f in files:
            out.append(os.path.relpath(os.path.join(dirpath, f), d))
    return sorted(out)[:50]


def api_versions(bootstrap, timeout=10):
    """The broker's ApiVersions answer (v0, raw socket): {api key: (min, max)}."""
    import struct

    host, port = bootstrap.rsplit(":", 1)
    client_id = b"conformance-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack_from(">i", buf)[0]:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError(f"ApiVersions: connection closed after {len(buf)} bytes")
            buf += chunk
    corr, err, n = struct.unpack_from(">ihi", buf, 4)
    assert corr == 1 and err == 0, (corr, err)
    out = {}
    for k in range(n):
        key, lo, hi = struct.unpack_from(">hhh", buf, 14 + 6 * k)
        out[key] = (lo, hi)
    return out


INIT_PRODUCER_ID = 22
PRODUCE, FETCH, FIND_COORDINATOR = 0, 1, 10


def _overlaps(apis, key, lo, hi):
    r = apis.get(key)
    return r is not None and r[0] <= hi and lo <= r[1]


def librdkafka_codec(codec, apis, version):
    """The codec librdkafka `version` (a tuple) actually uses when asked for `codec`, given the
    broker's ApiVersions `apis`, with the reason when it is not `codec`.

    librdkafka silently sends uncompressed batches when it believes the broker cannot read
    the codec (rdkafka_msgset_writer.c, rdkafka_feature.c):
    - lz4 needs its LZ4 "feature", which depends on FindCoordinator v0 being advertised
      (a stand-in for "broker >= 0.8.2");
    - zstd needs Produce v7 and Fetch v10;
    - up to 2.11, gzip, snappy and lz4 also need Produce v0 itself to be advertised (the
      version check asks for Produce in [0, 0] for them).
    """
    if codec == "none":
        return "none", None
    if codec == "zstd":
        if _overlaps(apis, PRODUCE, 7, 7) and _overlaps(apis, FETCH, 10, 10):
            return codec, None
        return "none", "zstd needs Produce v7 and Fetch v10 advertised"
    if codec == "lz4" and not _overlaps(apis, FIND_COORDINATOR, 0, 0):
        return "none", "librdkafka's LZ4 feature needs FindCoordinator v0 advertised"
    if version < (2, 12) and not _overlaps(apis, PRODUCE, 0, 0):
        return "none", f"librdkafka {'.'.join(map(str, version))} needs Produce v0 advertised to use {codec}"
    return codec, None


def kcat_librdkafka_version():
    out = subprocess.run([KCAT, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10).stdout
    m = re.search(rb"librdkafka (\d+)\.(\d+)\.(\d+)", out)
    assert m, f"no librdkafka version in kcat -V: {out!r}"
    return tuple(int(x) for x in m.groups())


def run(args, timeout, input=None, check=True, env=None):
    """Runs a command with a timeout; returns CompletedProcess (bytes). Raises on timeout and,
    with `check`, on a non-zero exit, with the command's output in the message."""
    try:
        p = subprocess.run(
            args,
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"timed out after {timeout}s: {' '.join(args)}\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}"
        ) from None
    if check and p.returncode != 0:
        raise AssertionError(
            f"exit {p.returncode}: {' '.join(args)}\nstdout: {p.stdout[-2000:]!r}\nstderr: {p.stderr[-4000:]!r}"
        )
    return p


def wait_until(what, fn, timeout, interval=0.1):
    """Polls `fn` until it returns something truthy; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # keep polling; report the last error
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f": {last!r}" if last else ""))
        time.sleep(interval)


class Suite:
    """A minimal runner: `check(name, fn)` runs one test, `finish()` prints the tally
    (`N passed, N failed`) and exits non-zero if anything failed.

    A watchdog ends the whole script (killing its brokers) when it runs past `budget`
    seconds, so one hung client call cannot hang CI.
    """

    def __init__(self, name, budget=170.0):
        self.name = name
        self.passed = 0
        self.failed = []
        self.started = time.monotonic()
        self.brokers = []  # brokers whose log tail is printed when a test fails
        t = threading.Timer(budget, self._overtime, args=(budget,))
        t.daemon = True
        t.start()
        self._watchdog = t
        log(f"== {name}")

    def _overtime(self, budget):
        log(f"!! {self.name}: over its {budget:.0f}s budget; killing brokers and exiting")
        for b in self.brokers:
            log(f"--- {b.name} log tail:\n{b.tail()}")
        _kill_all()
        log(f"{self.passed} passed, {len(self.failed) + 1} failed")
        sys.stdout.flush()
        os._exit(2)

    def check(self, name, fn, *args, **kwargs):
        t0 = time.monotonic()
        try:
            fn(*args, **kwargs)
        except Exception:
            took = time.monotonic() - t0
            self.failed.append(name)
            log(f"FAIL {name} ({took:.1f}s)")
            log(traceback.format_exc().rstrip())
            for b in self.brokers:
                log(f"--- {b.name} log tail:\n{b.tail(25)}")
            return False
        took = time.monotonic() - t0
        self.passed += 1
        log(f"ok   {name} ({took:.1f}s)")
        return True

    def finish(self):
        self._watchdog.cancel()
        took = time.monotonic() - self.started
        if self.failed:
            log(f"failed: {', '.join(self.failed)}")
        log(f"{self.name}: {took:.1f}s")
        log(f"{self.passed} passed, {len(self.failed)} failed")
        sys.stdout.flush()
        _kill_all()
        sys.exit(1 if self.failed else 0)
