"""Helpers for the integration tests: start the real `weir` binary, talk to it.

Contents
  Broker / BrokerFactory  start `weir broker` on 127.0.0.1 with an ephemeral
                          port and a temp data dir; stop, kill -9, restart
  kcat(...)               run kcat against a broker, bounded by a timeout
  Writer / Reader, RawConn and the *_body / decode_* functions
                          a tiny hand-written Kafka wire codec, independent of
                          the broker's, for hand-built (and broken) requests
  confluent helpers       create topics, read a whole topic back

Every wait is bounded by a deadline and every subprocess by a timeout; all
traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEIR_BIN = Path(os.environ.get("WEIR_BIN") or ROOT / "target" / "debug" / "weir")
FIXTURES_DIR = ROOT / "crates" / "weir-protocol" / "tests" / "fixtures"

LOOPBACK = "127.0.0.1"
READY_RE = re.compile(r"weir broker listening on ([0-9.]+):(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
STDERR_TAIL_CHARS = 12_000


# --------------------------------------------------------------------------
# generic helpers

def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - remembered for the failure message
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


_TOPIC_SAFE = re.compile(r"[^a-zA-Z0-9._-]+")


def unique_topic(hint: str = "t") -> str:
    """A topic name that no other test uses: the hint (e.g. the test name) plus a random suffix."""
    base = _TOPIC_SAFE.sub("-", hint).strip("-.")[:60] or "t"
    return f"{base}-{uuid.uuid4().hex[:8]}"


def tail(text: str, limit: int = STDERR_TAIL_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters cut ...]\n" + text[-limit:]


# --------------------------------------------------------------------------
# the broker process

try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - non-glibc systems
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def _child_dies_with_parent() -> None:
    # Runs in the child between fork and exec: if the test runner dies (CI
    # timeout, Ctrl-C), the kernel kills the broker too, so no broker outlives
    # its test run.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class BrokerStartError(AssertionError):
    pass


class Broker:
    """One `weir broker` process (and its restarts) on one data directory.

    `root` is a private temp dir: the data dir is `root/data` unless given,
    stderr of each run goes to `root/logs/stderr-N.log`, and the broker runs
    with `root` as its working directory.
    """

    def __init__(
        self,
        root: Path,
        *,
        overrides: dict[str, Any] | None = None,
        config_file: Path | None = None,
        default_flags: bool = True,
        data_dir: Path | None = None,
        node_id: int | None = None,
        extra_args: Iterable[str] = (),
        env: dict[str, str] | None = None,
    ):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.root / "data"
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.overrides = dict(overrides or {})
        self.config_file = config_file
        self.default_flags = default_flags
        self.node_id = node_id
        self.extra_args = list(extra_args)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.host: str | None = None
        self.port: int | None = None
        self.runs = 0
        self.returncodes: list[int | None] = []
        self._stdout_lines: list[str] = []
        self._reader: threading.Thread | None = None

    # -- command line
    def argv(self) -> list[str]:
        argv = [str(WEIR_BIN), "broker"]
        if self.config_file is not None:
            argv += ["--config", str(self.config_file)]
        if self.default_flags:
            argv += ["--listeners", f"PLAINTEXT://{LOOPBACK}:0", "--log-dirs", str(self.data_dir),
                     "--override", f"admin.listener={LOOPBACK}:0"]
        if self.node_id is not None:
            argv += ["--node-id", str(self.node_id)]
        for key, value in self.overrides.items():
            argv += ["--override", f"{key}={value}"]
        return argv + self.extra_args

    # -- lifecycle
    def start(self, timeout: float = START_TIMEOUT_S) -> "Broker":
        """Start the process and wait for its ready line; fail with its stderr otherwise."""
        assert not self.alive(), "broker already running"
        if not WEIR_BIN.is_file() or not os.access(WEIR_BIN, os.X_OK):
            pytest.fail(
                f"broker binary {WEIR_BIN} not found or not executable "
                "(build it with `cargo build --workspace --bins`, or set WEIR_BIN)",
                pytrace=False,
            )
        self.runs += 1
        self.host = self.port = None
        self._stdout_lines = []
        ready = threading.Event()
        with open(self.stderr_path(), "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=self.root,
                env=self.env,
                preexec_fn=_child_dies_with_parent,
            )
        self._reader = threading.Thread(
            target=self._read_stdout, args=(self.proc, ready), name=f"weir-stdout-{self.proc.pid}", daemon=True
        )
        self._reader.start()
        if not ready.wait(timeout) or self.port is None:
            rc = self.proc.poll()
            if rc is None:
                self._sigkill()
                why = f"no ready line ('weir broker listening on HOST:PORT') on stdout within {timeout:.0f}s"
            else:
                why = f"exited with code {rc} before printing its ready line"
            raise BrokerStartError(
                f"weir broker failed to start: {why}\n"
                f"command: {' '.join(self.argv())}\n"
                f"stdout:\n{''.join(self._stdout_lines)}\n"
                f"stderr:\n{tail(self.stderr_text())}"
            )
        return self

    def _read_stdout(self, proc: subprocess.Popen, ready: threading.Event) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            self._stdout_lines.append(line)
            if self.port is None:
                match = READY_RE.search(line)
                if match:
                    self.host, self.port = match.group(1), int(match.group(2))
                    ready.set()
        proc.stdout.close()
        ready.set()  # EOF: the process is gone (or closed stdout); start() sorts out which

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S, expect_code: int | None = 0) -> int:
        """SIGTERM, wait for exit, and (by default) assert a clean exit code 0."""
        assert self.proc is not None, "broker was never started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._sigkill()
                raise AssertionError(
                    f"weir broker (pid {self.proc.pid}) did not exit within {timeout:.0f}s of SIGTERM; "
                    f"killed it.\nstderr:\n{tail(self.stderr_text())}"
                ) from None
        rc = self._finish()
        if expect_code is not None and rc != expect_code:
            raise AssertionError(
                f"weir broker exited with code {rc} after SIGTERM, expected {expect_code}\n"
                f"stderr:\n{tail(self.stderr_text())}"
            )
        return rc

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        assert self.proc is not None, "broker was never started"
        self._sigkill()
        self._finish()

    def _sigkill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass

    def _finish(self) -> int | None:
        assert self.proc is not None
        rc = self.proc.poll()
        if self._reader is not None:
            self._reader.join(5)
        if len(self.returncodes) < self.runs:
            self.returncodes.append(rc)
        return rc

    def restart(self, timeout: float = START_TIMEOUT_S) -> "Broker":
        """Clean stop (if running) and start again on the same data dir. The port may change."""
        if self.alive():
            self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Teardown: stop cleanly if still running (asserting exit 0); never leaves a process behind."""
        if self.proc is None or not self.alive():
            return
        try:
            self.stop()
        finally:
            if self.alive():
                self._sigkill()

    # -- facts about the running broker
    @property
    def bootstrap(self) -> str:
        assert self.port is not None, "broker not started"
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        """Resident set size from /proc/PID/status (VmRSS, KiB)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def stderr_path(self, run: int | None = None) -> Path:
        return self.log_dir / f"stderr-{run or self.runs}.log"

    def stderr_text(self, run: int | None = None) -> str:
        """stderr of one run (default: the current/last one)."""
        path = self.stderr_path(run)
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def admin_url(self) -> str:
        """Base URL of the admin HTTP listener (its ready line follows the broker's)."""
        def find():
            for line in self._stdout_lines:
                m = re.search(r"weir admin listening on (\S+)", line)
                if m:
                    return f"http://{m.group(1)}"
            return None
        return wait_until(find, 10, "the admin listener's ready line")

    def stdout_text(self) -> str:
        return "".join(self._stdout_lines)

    def report_sections(self) -> list[tuple[str, str]]:
        sections = []
        for run in range(1, self.runs + 1):
            rc = self.returncodes[run - 1] if run <= len(self.returncodes) else (
                "running" if self.alive() else self.proc.poll() if self.proc else None)
            title = f"weir broker {self.root.name} run {run} (exit: {rc}) stderr"
            sections.append((title, tail(self.stderr_text(run)) or "(empty)"))
        if self._stdout_lines:
            sections.append((f"weir broker {self.root.name} stdout (last run)", tail(self.stdout_text())))
        return sections

    def __repr__(self) -> str:
        state = f"pid {self.proc.pid} on {self.host}:{self.port}" if self.alive() else "stopped"
        return f"<Broker {self.root.name} {state}>"


class BrokerFactory:
    """Starts brokers with special configurations; stops them all at teardown."""

    def __init__(self, tmp_root: Path):
        self.tmp_root = Path(tmp_root)
        self.brokers: list[Broker] = []

    def new(self, **kwargs: Any) -> Broker:
        """A Broker that is not started yet (e.g. to test a failing start)."""
        broker = Broker(self.tmp_root / f"broker{len(self.brokers)}", **kwargs)
        self.brokers.append(broker)
        return broker

    def start(self, **kwargs: Any) -> Broker:
        return self.new(**kwargs).start()

    def close_all(self) -> None:
        errors = []
        for broker in self.brokers:
            try:
                broker.close()
            except AssertionError as exc:
                errors.append(str(exc))
        if errors:
            raise AssertionError("broker did not shut down cleanly at teardown:\n" + "\n".join(errors))


def run_until_exit(broker: Broker, timeout: float) -> tuple[int | None, str]:
    """Start a broker that is expected to refuse to start; return (exit code, stderr).

    The exit code is None if it was still running after `timeout` s (it is
    then killed)."""
    if not WEIR_BIN.is_file():
        pytest.fail(f"broker binary {WEIR_BIN} not found (set WEIR_BIN)", pytrace=False)
    broker.runs += 1
    with open(broker.stderr_path(), "wb") as err:
        proc = subprocess.Popen(
            broker.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            cwd=broker.root, env=broker.env, preexec_fn=_child_dies_with_parent,
        )
    broker.proc = proc
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
        rc = None
    broker._stdout_lines = [out.decode("utf-8", "replace")]
    broker.returncodes.append(rc)
    return rc, broker.stderr_text()


def assert_serving(broker: Broker) -> None:
    """The broker process is alive and answers a full kcat metadata request."""
    assert broker.alive(), f"broker process died (exit {broker.proc.poll() if broker.proc else None})"
    md = kcat_metadata(broker.bootstrap)
    assert md["brokers"], f"kcat -L found no brokers: {md}"


# --------------------------------------------------------------------------
# kcat

KCAT = "kcat"


def kcat(bootstrap: str, *args: str, input: bytes | str | None = None, timeout: float = 30,
         check: bool = True) -> subprocess.CompletedProcess:
    """Run `kcat -b BOOTSTRAP ARGS...`; returns the CompletedProcess (bytes output)."""
    if isinstance(input, str):
        input = input.encode()
    cmd = [KCAT, "-b", bootstrap, *args]
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"{' '.join(cmd)} timed out after {timeout}s\nstdout: {exc.stdout!r}\nstderr: {exc.stderr!r}"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout.decode(errors='replace')}\n"
            f"stderr: {proc.stderr.decode(errors='replace')}"
        )
    return proc


def kcat_metadata(bootstrap: str, topic: str | None = None, timeout: float = 30) -> dict:
    """`kcat -L -J [-t topic]` parsed."""
    args = ["-L", "-J", "-m", "10"]
    if topic:
        args += ["-t", topic]
    out = kcat(bootstrap, *args, timeout=timeout).stdout
    return json.loads(out)


# --------------------------------------------------------------------------
# confluent-kafka helpers

@dataclasses.dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int = 1, config: dict[str, str] | None = None,
                 timeout: float = 20) -> None:
    from confluent_kafka.admin import NewTopic
    # Keep the AdminClient referenced until the result is in: librdkafka
    # fails pending futures with _DESTROY when the handle is collected.
    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout, request_timeout=timeout,
    )
    futures[name].result(timeout=timeout + 5)
    del client


def consumer_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    # group.id is mandatory in librdkafka's consumer even with assign(); the
    # tests never subscribe or commit, so no group coordinator is involved.
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": f"weir-tests-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    }
    conf.update(extra)
    return conf


def watermarks(bootstrap: str, topic: str, partition: int, timeout: float = 15) -> tuple[int, int]:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer(consumer_config(bootstrap))
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
    finally:
        consumer.close()


def consume_all(bootstrap: str, topic: str, partitions: Iterable[int], timeout: float = 60) -> dict[int, list[Rec]]:
    """Read every partition from its log-start offset up to its current high
    watermark with confluent-kafka (assign, no group)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    partitions = list(partitions)
    consumer = Consumer(consumer_config(bootstrap))
    out: dict[int, list[Rec]] = {p: [] for p in partitions}
    try:
        high = {}
        for p in partitions:
            low, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
            high[p] = hi
        pending = {p for p in partitions if high[p] > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                got = {p: len(out[p]) for p in partitions}
                raise AssertionError(
                    f"consume_all({topic}) timed out after {timeout}s; high watermarks {high}, got {got}")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error on {topic}: {msg.error()}")
            p = msg.partition()
            if p not in pending:
                continue
            out[p].append(Rec(p, msg.offset(), msg.key(), msg.value(), tuple(msg.headers() or ()),
                              msg.timestamp()[1]))
            if msg.offset() >= high[p] - 1:
                pending.discard(p)
    finally:
        consumer.close()
    return out


# --------------------------------------------------------------------------
# a tiny Kafka wire codec (independent of the broker's generated one)

class ProtocolError(AssertionError):
    pass


class ConnectionClosed(ProtocolError):
    pass


class Writer:
    """Encodes Kafka primitive types; `flexible` switches to compact forms."""

    def __init__(self, flexible: bool = False):
        self.buf = bytearray()
        self.flexible = flexible

    def raw(self, b: bytes) -> "Writer":
        self.buf += b
        return self

    def i8(self, v: int) -> "Writer":
        return self.raw(struct.pack(">b", v))

    def i16(self, v: int) -> "Writer":
        return self.raw(struct.pack(">h", v))

    def i32(self, v: int) -> "Writer":
        return self.raw(struct.pack(">i", v))

    def i64(self, v: int) -> "Writer":
        return self.raw(struct.pack(">q", v))

    def boolean(self, v: bool) -> "Writer":
        return self.raw(b"\x01" if v else b"\x00")

    def uvarint(self, v: int) -> "Writer":
        assert v >= 0
        while True:
            byte = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(byte | 0x80)
            else:
                self.buf.append(byte)
                return self

    def uuid(self, v: bytes = b"\x00" * 16) -> "Writer":
        assert len(v) == 16
        return self.raw(v)

    def string(self, s: str | None) -> "Writer":
        """STRING / NULLABLE_STRING, or the COMPACT_ forms when flexible."""
        if s is None:
            return self.uvarint(0) if self.flexible else self.i16(-1)
        b = s.encode()
        if self.flexible:
            self.uvarint(len(b) + 1)
        else:
            self.i16(len(b))
        return self.raw(b)

    def bytes_(self, b: bytes | None) -> "Writer":
        """BYTES / NULLABLE_BYTES / RECORDS, or the COMPACT_ forms when flexible."""
        if b is None:
            return self.uvarint(0) if self.flexible else self.i32(-1)
        if self.flexible:
            self.uvarint(len(b) + 1)
        else:
            self.i32(len(b))
        return self.raw(b)

    def array(self, items: Iterable[Any] | None, encode_one: Callable[["Writer", Any], Any]) -> "Writer":
        if items is None:
            return self.uvarint(0) if self.flexible else self.i32(-1)
        items = list(items)
        if self.flexible:
            self.uvarint(len(items) + 1)
        else:
            self.i32(len(items))
        for item in items:
            encode_one(self, item)
        return self

    def tags(self) -> "Writer":
        """An empty tagged-field section (flexible versions only)."""
        if self.flexible:
            self.uvarint(0)
        return self

    def bytes(self) -> bytes:
        return bytes(self.buf)


class Reader:
    """Decodes Kafka primitive types; every read is bounds-checked."""

    def __init__(self, data: bytes, flexible: bool = False):
        self.data = memoryview(data)
        self.pos = 0
        self.flexible = flexible

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"short read: want {n} bytes at {self.pos}, have {self.remaining()}")
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return b

    def _unpack(self, fmt: str, n: int) -> int:
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self) -> int:
        return self._unpack(">b", 1)

    def i16(self) -> int:
        return self._unpack(">h", 2)

    def i32(self) -> int:
        return self._unpack(">i", 4)

    def i64(self) -> int:
        return self._unpack(">q", 8)

    def boolean(self) -> bool:
        return self.i8() != 0

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise ProtocolError("uvarint too long")

    def uuid(self) -> bytes:
        return self.take(16)

    def string(self) -> str | None:
        n = self.uvarint() - 1 if self.flexible else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8")

    def bytes_(self) -> bytes | None:
        n = self.uvarint() - 1 if self.flexible else self.i32()
        return None if n < 0 else self.take(n)

    def array(self, decode_one: Callable[["Reader"], Any]) -> list | None:
        n = self.uvarint() - 1 if self.flexible else self.i32()
        if n < 0:
            return None
        if n > self.remaining():  # every element takes at least one byte
            raise ProtocolError(f"array count {n} larger than the {self.remaining()} bytes left")
        return [decode_one(self) for _ in range(n)]

    def tags(self) -> dict[int, bytes]:
        if not self.flexible:
            return {}
        fields = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            fields[tag] = self.take(self.uvarint())
        return fields

    def expect_end(self, what: str) -> None:
        if self.remaining():
            raise ProtocolError(f"{what}: {self.remaining()} unexpected trailing bytes: "
                                f"{bytes(self.data[self.pos:self.pos + 32]).hex()}")


# API keys the tests speak, and the first flexible version of each
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID = 18, 19, 20, 22
FIRST_FLEXIBLE = {PRODUCE: 9, FETCH: 12, LIST_OFFSETS: 6, METADATA: 9, API_VERSIONS: 3,
                  CREATE_TOPICS: 5, DELETE_TOPICS: 4, INIT_PRODUCER_ID: 2}
API_NAMES = {PRODUCE: "Produce", FETCH: "Fetch", LIST_OFFSETS: "ListOffsets", METADATA: "Metadata",
             8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup",
             12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
             17: "SaslHandshake", API_VERSIONS: "ApiVersions", CREATE_TOPICS: "CreateTopics",
             DELETE_TOPICS: "DeleteTopics", 21: "DeleteRecords", INIT_PRODUCER_ID: "InitProducerId",
             32: "DescribeConfigs", 33: "AlterConfigs", 36: "SaslAuthenticate", 37: "CreatePartitions",
             42: "DeleteGroups", 60: "DescribeCluster", 75: "DescribeTopicPartitions"}
# versions of each API this module can encode and decode
CODEC_VERSIONS = {PRODUCE: range(3, 12), FETCH: range(4, 13), LIST_OFFSETS: range(1, 11),
                  METADATA: range(1, 13), API_VERSIONS: range(0, 5), CREATE_TOPICS: range(2, 8)}

# Kafka error codes used by the tests
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38


def flexible(api_key: int, version: int) -> bool:
    return version >= FIRST_FLEXIBLE.get(api_key, 1 << 15)


def request_header(api_key: int, version: int, correlation_id: int, client_id: str | None = "weir-tests",
                   header_version: int | None = None) -> bytes:
    """Request header v1 (key, version, correlation id, client id); v2 adds an empty tagged-field section."""
    if header_version is None:
        header_version = 2 if flexible(api_key, version) else 1
    w = Writer().i16(api_key).i16(version).i32(correlation_id).string(client_id)
    if header_version >= 2:
        w.uvarint(0)
    return w.bytes()


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def encode_request(api_key: int, version: int, correlation_id: int, body: bytes, **kw: Any) -> bytes:
    return frame(request_header(api_key, version, correlation_id, **kw) + body)


class RawConn:
    """A plain TCP connection speaking hand-built frames."""

    def __init__(self, bootstrap_or_port: str | int, timeout: float = 10):
        if isinstance(bootstrap_or_port, int):
            addr = (LOOPBACK, bootstrap_or_port)
        else:
            host, port = bootstrap_or_port.rsplit(":", 1)
            addr = (host, int(port))
        assert addr[0].startswith("127."), "tests talk to loopback only"
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.next_corr = 1
        self._buf = bytearray()

    def __enter__(self) -> "RawConn":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, api_key: int, version: int, body: bytes, correlation_id: int | None = None, **kw: Any) -> int:
        if correlation_id is None:
            correlation_id = self.next_corr
            self.next_corr += 1
        self.send_raw(encode_request(api_key, version, correlation_id, body, **kw))
        return correlation_id

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"timed out waiting for {n - len(self._buf)} more bytes")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed(f"connection closed by the broker ({len(self._buf)} bytes pending)")
            self._buf += chunk

    def recv_frame(self, timeout: float | None = None) -> bytes:
        """One response frame, without its 4-byte length."""
        deadline = time.monotonic() + (timeout or self.timeout)
        self._fill(4, deadline)
        (size,) = struct.unpack(">i", self._buf[:4])
        if size < 4 or size > 64 * 1024 * 1024:
            raise ProtocolError(f"implausible response frame length {size}")
        self._fill(4 + size, deadline)
        payload = bytes(self._buf[4:4 + size])
        del self._buf[:4 + size]
        return payload

    def recv_response(self, api_key: int, version: int, correlation_id: int,
                      timeout: float | None = None) -> Reader:
        """Read one response, check its correlation id, skip its header; a Reader on the body."""
        payload = self.recv_frame(timeout)
        r = Reader(payload)
        corr = r.i32()
        if corr != correlation_id:
            raise ProtocolError(f"correlation id {corr}, expected {correlation_id}")
        # Response header v1 (tagged fields) for flexible versions, except ApiVersions (always v0).
        if flexible(api_key, version) and api_key != API_VERSIONS:
            r.flexible = True
            r.tags()
        r.flexible = flexible(api_key, version)
        return r

    def call(self, api_key: int, version: int, body: bytes, timeout: float | None = None) -> Reader:
        corr = self.send(api_key, version, body)
        return self.recv_response(api_key, version, corr, timeout)

    def wait_closed(self, timeout: float = 5) -> tuple[bool, bytes]:
        """Wait until the broker closes the connection. Returns (closed, bytes received meanwhile)."""
        deadline = time.monotonic() + timeout
        received = bytes(self._buf)
        self._buf.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, received
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, received
            except (ConnectionResetError, BrokenPipeError):
                return True, received
            if not chunk:
                return True, received
            received += chunk


# ---- ApiVersions (key 18)

def api_versions_body(version: int) -> bytes:
    w = Writer(flexible(API_VERSIONS, version))
    if version >= 3:
        w.string("weir-tests").string("0.1").tags()
    return w.bytes()


@dataclasses.dataclass
class ApiVersionsResponse:
    error_code: int
    apis: dict[int, tuple[int, int]]
    throttle_time_ms: int
    tags: dict[int, bytes]


def decode_api_versions(r: Reader, version: int, strict: bool = True) -> ApiVersionsResponse:
    """Body of an ApiVersions response of `version` (the caller picks 0 for the KIP-511 fallback)."""
    r.flexible = flexible(API_VERSIONS, version)
    error_code = r.i16()

    def one(rr: Reader) -> tuple[int, int, int]:
        key, lo, hi = rr.i16(), rr.i16(), rr.i16()
        rr.tags()
        return key, lo, hi

    entries = r.array(one) or []
    throttle = r.i32() if version >= 1 else 0
    tags = r.tags()
    if strict:
        r.expect_end(f"ApiVersions v{version} response")
    return ApiVersionsResponse(error_code, {k: (lo, hi) for k, lo, hi in entries}, throttle, tags)


def api_versions(conn: RawConn, version: int = 0) -> ApiVersionsResponse:
    r = conn.call(API_VERSIONS, version, api_versions_body(version))
    resp = decode_api_versions(r, version)
    assert resp.error_code == NONE, f"ApiVersions v{version} error {resp.error_code}"
    return resp


def pick_version(apis: dict[int, tuple[int, int]], api_key: int, prefer: int | None = None) -> int:
    """The version the tests use for `api_key`: `prefer` if the broker and this
    codec both support it, else the highest version both support."""
    name = API_NAMES.get(api_key, str(api_key))
    if api_key not in apis:
        pytest.fail(f"broker does not advertise {name} (key {api_key}) in ApiVersions", pytrace=False)
    lo, hi = apis[api_key]
    ours = CODEC_VERSIONS[api_key]
    if prefer is not None and lo <= prefer <= hi and prefer in ours:
        return prefer
    common = [v for v in ours if lo <= v <= hi]
    if not common:
        pytest.fail(f"broker advertises {name} v{lo}-{hi}; the test codec speaks v{ours.start}-{ours.stop - 1}",
                    pytrace=False)
    return max(common)


# ---- Metadata (key 3)

def metadata_body(version: int, topics: list[str] | None, allow_auto_topic_creation: bool = True) -> bytes:
    """topics None = all topics (v1+); [] = none."""
    w = Writer(flexible(METADATA, version))

    def topic(ww: Writer, name: str) -> None:
        if version >= 10:
            ww.uuid()
        ww.string(name)
        ww.tags()

    w.array(topics, topic)
    if version >= 4:
        w.boolean(allow_auto_topic_creation)
    if 8 <= version <= 10:
        w.boolean(False)  # include_cluster_authorized_operations
    if version >= 8:
        w.boolean(False)  # include_topic_authorized_operations
    return w.tags().bytes()


def decode_metadata(r: Reader, version: int) -> dict[str, Any]:
    r.flexible = flexible(METADATA, version)
    if version >= 3:
        r.i32()  # throttle_time_ms

    def broker(rr: Reader) -> dict[str, Any]:
        b = {"node_id": rr.i32(), "host": rr.string(), "port": rr.i32()}
        b["rack"] = rr.string() if version >= 1 else None
        rr.tags()
        return b

    brokers = r.array(broker) or []
    cluster_id = r.string() if version >= 2 else None
    controller_id = r.i32() if version >= 1 else -1

    def partition(rr: Reader) -> dict[str, Any]:
        p = {"error_code": rr.i16(), "partition": rr.i32(), "leader": rr.i32()}
        p["leader_epoch"] = rr.i32() if version >= 7 else -1
        p["replicas"] = rr.array(lambda x: x.i32())
        p["isr"] = rr.array(lambda x: x.i32())
        p["offline"] = rr.array(lambda x: x.i32()) if version >= 5 else []
        rr.tags()
        return p

    def topic(rr: Reader) -> dict[str, Any]:
        t = {"error_code": rr.i16(), "name": rr.string()}
        t["topic_id"] = rr.uuid() if version >= 10 else None
        t["is_internal"] = rr.boolean() if version >= 1 else False
        t["partitions"] = {p["partition"]: p for p in rr.array(partition) or []}
        if version >= 8:
            rr.i32()  # topic_authorized_operations
        rr.tags()
        return t

    topics = {t["name"]: t for t in r.array(topic) or []}
    if 8 <= version <= 10:
        r.i32()  # cluster_authorized_operations
    r.tags()
    r.expect_end(f"Metadata v{version} response")
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id, "topics": topics}


# ---- Produce (key 0)

def produce_body(version: int, topic: str, partition: int, records: bytes | None, acks: int = -1,
                 timeout_ms: int = 10_000, transactional_id: str | None = None) -> bytes:
    w = Writer(flexible(PRODUCE, version))
    w.string(transactional_id).i16(acks).i32(timeout_ms)

    def part(ww: Writer, _: Any) -> None:
        ww.i32(partition).bytes_(records).tags()

    def top(ww: Writer, _: Any) -> None:
        ww.string(topic).array([None], part).tags()

    w.array([None], top)
    return w.tags().bytes()


def decode_produce(r: Reader, version: int) -> dict[tuple[str, int], dict[str, Any]]:
    r.flexible = flexible(PRODUCE, version)
    out = {}

    def part(rr: Reader, topic: str) -> None:
        p = {"partition": rr.i32(), "error_code": rr.i16(), "base_offset": rr.i64()}
        p["log_append_time_ms"] = rr.i64()  # v2+
        p["log_start_offset"] = rr.i64() if version >= 5 else -1
        if version >= 8:
            p["record_errors"] = rr.array(lambda x: (x.i32(), x.string(), x.tags()))
            p["error_message"] = rr.string()
        rr.tags()
        out[(topic, p["partition"])] = p

    def top(rr: Reader) -> None:
        name = rr.string()
        rr.array(lambda x: part(x, name))
        rr.tags()

    r.array(top)
    r.i32()  # throttle_time_ms
    r.tags()
    r.expect_end(f"Produce v{version} response")
    return out


def build_batch(records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
                timestamp_ms: int | None = None) -> bytes:
    """A record batch (magic 2, uncompressed) built by kafka-python's encoder."""
    from kafka.record.default_records import DefaultRecordBatchBuilder
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 30)
    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    for i, (key, value, headers) in enumerate(records):
        assert builder.append(i, timestamp=ts, key=key, value=value, headers=headers) is not None
    return bytes(builder.build())


# ---- Fetch (key 1)

def fetch_body(version: int, topic: str, partition: int, offset: int, max_wait_ms: int = 200,
               min_bytes: int = 1, max_bytes: int = 1 << 20, partition_max_bytes: int = 1 << 20) -> bytes:
    w = Writer(flexible(FETCH, version))
    w.i32(-1).i32(max_wait_ms).i32(min_bytes).i32(max_bytes).i8(0)  # replica_id .. isolation_level
    if version >= 7:
        w.i32(0).i32(-1)  # session_id, session_epoch (-1: full fetch, no session)

    def part(ww: Writer, _: Any) -> None:
        ww.i32(partition)
        if version >= 9:
            ww.i32(-1)  # current_leader_epoch
        ww.i64(offset)
        if version >= 12:
            ww.i32(-1)  # last_fetched_epoch
        if version >= 5:
            ww.i64(-1)  # log_start_offset
        ww.i32(partition_max_bytes).tags()

    def top(ww: Writer, _: Any) -> None:
        ww.string(topic).array([None], part).tags()

    w.array([None], top)
    if version >= 7:
        w.array([], lambda ww, x: None)  # forgotten_topics_data
    if version >= 11:
        w.string("")  # rack_id
    return w.tags().bytes()


# ---- ListOffsets (key 2)

EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1


def list_offsets_body(version: int, topic: str, partition: int, timestamp: int) -> bytes:
    w = Writer(flexible(LIST_OFFSETS, version))
    w.i32(-1)  # replica_id
    if version >= 2:
        w.i8(0)  # isolation_level

    def part(ww: Writer, _: Any) -> None:
        ww.i32(partition)
        if version >= 4:
            ww.i32(-1)  # current_leader_epoch
        ww.i64(timestamp).tags()

    def top(ww: Writer, _: Any) -> None:
        ww.string(topic).array([None], part).tags()

    w.array([None], top)
    if version >= 10:
        w.i32(10_000)  # timeout_ms
    return w.tags().bytes()


def decode_list_offsets(r: Reader, version: int) -> dict[tuple[str, int], dict[str, int]]:
    r.flexible = flexible(LIST_OFFSETS, version)
    if version >= 2:
        r.i32()  # throttle_time_ms
    out = {}

    def part(rr: Reader, topic: str) -> None:
        p = {"partition": rr.i32(), "error_code": rr.i16(), "timestamp": rr.i64(), "offset": rr.i64()}
        if version >= 4:
            p["leader_epoch"] = rr.i32()
        rr.tags()
        out[(topic, p["partition"])] = p

    def top(rr: Reader) -> None:
        name = rr.string()
        rr.array(lambda x: part(x, name))
        rr.tags()

    r.array(top)
    r.tags()
    r.expect_end(f"ListOffsets v{version} response")
    return out


# ---- CreateTopics (key 19)

def create_topics_body(version: int, topics: list[tuple[str, int, int, dict[str, str]]],
                       timeout_ms: int = 10_000, validate_only: bool = False) -> bytes:
    """topics: (name, num_partitions, replication_factor, configs)."""
    w = Writer(flexible(CREATE_TOPICS, version))

    def config(ww: Writer, kv: tuple[str, str]) -> None:
        ww.string(kv[0]).string(kv[1]).tags()

    def topic(ww: Writer, t: tuple[str, int, int, dict[str, str]]) -> None:
        name, partitions, rf, configs = t
        ww.string(name).i32(partitions).i16(rf)
        ww.array([], lambda x, y: None)  # assignments
        ww.array(sorted(configs.items()), config)
        ww.tags()

    w.array(topics, topic)
    w.i32(timeout_ms).boolean(validate_only)
    return w.tags().bytes()


def decode_create_topics(r: Reader, version: int) -> dict[str, dict[str, Any]]:
    r.flexible = flexible(CREATE_TOPICS, version)
    r.i32()  # throttle_time_ms (v2+)

    def config(rr: Reader) -> tuple[str, str | None]:
        name, value = rr.string(), rr.string()
        rr.boolean(), rr.i8(), rr.boolean()  # read_only, config_source, is_sensitive
        rr.tags()
        return name, value

    def topic(rr: Reader) -> dict[str, Any]:
        t: dict[str, Any] = {"name": rr.string()}
        if version >= 7:
            t["topic_id"] = rr.uuid()
        t["error_code"] = rr.i16()
        t["error_message"] = rr.string()
        if version >= 5:
            t["num_partitions"] = rr.i32()
            t["replication_factor"] = rr.i16()
            configs = rr.array(config)
            t["configs"] = dict(configs) if configs is not None else None
        rr.tags()
        return t

    topics = {t["name"]: t for t in r.array(topic) or []}
    r.tags()
    r.expect_end(f"CreateTopics v{version} response")
    return topics


# --------------------------------------------------------------------------
# a canned ApiVersions v0 response (used by the client-bytes capture tool)

def encode_api_versions_response(correlation_id: int, version: int, apis: dict[int, tuple[int, int]],
                                 error_code: int = 0) -> bytes:
    w = Writer(flexible(API_VERSIONS, version))
    w.i32(correlation_id)  # response header v0, always, for ApiVersions
    w.i16(error_code)

    def one(ww: Writer, kv: tuple[int, tuple[int, int]]) -> None:
        ww.i16(kv[0]).i16(kv[1][0]).i16(kv[1][1]).tags()

    w.array(sorted(apis.items()), one)
    if version >= 1:
        w.i32(0)
    w.tags()
    return frame(w.bytes())
