"""Helpers for the consumer-group tests (tests/test_groups_*.py).

Contents
  OVERRIDES / group_broker_fixture   a module-scoped broker tuned for fast
                                     rebalances, and a per-test fixture that
                                     skips unless the broker serves groups
  require_group_apis(broker)         skip unless ApiVersions lists the APIs
  weir(...), describe(...)           run the `weir` CLI (`weir groups ...`)
  ConfluentWorker / KafkaPythonWorker
                                     an in-process group consumer in a thread
                                     that records every delivery and commit
  MemberProc                         a group consumer in a child process (this
                                     file run as a script), to SIGKILL it
  produce(...), committed(...), wait_assignments(...)

Run as a script, this file is one group member that prints a JSON line on
stdout whenever its assignment changes (and on confluent-kafka revocations):

    python groupkit.py --client confluent --bootstrap H:P --group G --topic T

Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import pytest

import weirtest

# Fast rebalances: no initial delay for the first join of a group. The
# session timeout of the members (SESSION_TIMEOUT_MS) is the broker's
# default minimum (group.min.session.timeout.ms = 6000).
OVERRIDES = {"group.initial.rebalance.delay.ms": 0}
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500
# The rebalance timeout (max.poll.interval.ms): how long the coordinator
# waits for members to rejoin. Short, so a test that loses a member does not
# wait five minutes; librdkafka wants it >= the session timeout.
MAX_POLL_INTERVAL_MS = 10000
# How long a membership change may take to show: session timeout, then a
# rebalance (every member rejoins after its next heartbeat), with slack for a
# loaded 2-core CI machine.
REBALANCE_WAIT_S = SESSION_TIMEOUT_MS / 1000 + 20

# Kafka API keys of the classic group protocol, and of the group admin APIs.
GROUP_APIS = {8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup",
              12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup"}
ADMIN_APIS = {15: "DescribeGroups", 16: "ListGroups", 42: "DeleteGroups"}


# --------------------------------------------------------------------------
# the broker

def advertised_apis(bootstrap: str) -> dict[int, tuple[int, int]]:
    with weirtest.RawConn(bootstrap) as conn:
        return weirtest.api_versions(conn, 0).apis


def require_group_apis(broker: weirtest.Broker, admin: bool = True) -> None:
    """Skip the test unless the broker advertises the group coordinator's
    APIs in ApiVersions (and, with `admin`, DescribeGroups, ListGroups and
    DeleteGroups, which `weir groups` needs)."""
    apis = advertised_apis(broker.bootstrap)
    wanted = {**GROUP_APIS, **(ADMIN_APIS if admin else {})}
    missing = [f"{name} ({key})" for key, name in sorted(wanted.items()) if key not in apis]
    if missing:
        pytest.skip("group coordinator not served (ApiVersions lacks " + ", ".join(missing) + ")")


def start_group_broker(root: Path, **overrides: Any) -> weirtest.Broker:
    b = weirtest.Broker(root, overrides={**OVERRIDES, **overrides})
    return b.start()


# --------------------------------------------------------------------------
# the weir CLI

def weir(bootstrap: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run `weir ARGS... --bootstrap-server BOOTSTRAP` (text output)."""
    cmd = [str(weirtest.WEIR_BIN), *args, "--bootstrap-server", bootstrap]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=dict(os.environ, WEIR_LOG="warn"))
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(cmd)} timed out after {timeout}s: {exc.stderr!r}") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                             f"stderr: {proc.stderr}")
    return proc


def describe(bootstrap: str, group: str) -> dict:
    """`weir groups describe GROUP --output json`, parsed."""
    return json.loads(weir(bootstrap, "groups", "describe", group, "--output", "json").stdout)


def owners_from_describe(doc: dict) -> dict[int, str]:
    """partition -> member id, from the members' decoded assignments."""
    owners: dict[int, str] = {}
    for m in doc["members"]:
        for tp in m["assignment"] or []:
            assert tp["partition"] not in owners, f"partition {tp} assigned twice: {doc}"
            owners[tp["partition"]] = m["member_id"]
    return owners


# --------------------------------------------------------------------------
# producing and reading offsets

def produce(bootstrap: str, topic: str, partitions: int, per_partition: int, prefix: str = "r") -> set[tuple[int, int]]:
    """Produce `per_partition` records to every partition (acks=all); returns
    the (partition, offset) of each, as acknowledged."""
    from confluent_kafka import Producer
    acked: set[tuple[int, int]] = set()
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.add((msg.partition(), msg.offset()))

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(per_partition):
        for part in range(partitions):
            p.produce(topic, value=f"{prefix}-{part}-{i}".encode(), partition=part, on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(30)
    assert left == 0 and not errors, f"produce: {left} undelivered, errors {errors[:5]}"
    return acked


def committed(bootstrap: str, group: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """Committed offsets (-1001 = none) via confluent-kafka's
    AdminClient.list_consumer_group_offsets."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    client = weirtest.admin(bootstrap)
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])
    fut = client.list_consumer_group_offsets([req], request_timeout=15)[group]
    result = fut.result(timeout=20)
    out = {}
    for tp in result.topic_partitions:
        assert tp.error is None, f"{tp}: {tp.error}"
        out[tp.partition] = tp.offset
    del client
    return out


def end_offsets(bootstrap: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    return {p: weirtest.watermarks(bootstrap, topic, p)[1] for p in partitions}


# --------------------------------------------------------------------------
# in-process group consumers

class _Worker:
    """A group consumer polling in its own thread. Records, under one lock,
    every delivery ("rec", partition, offset, value, worker name) and every
    acknowledged commit ("ack", partition, next offset) in order, and the latest
    assignment (set of partitions)."""

    def __init__(self, name: str, shared: tuple[threading.Lock, list] | None = None):
        self.name = name
        # Workers given the same `shared` (lock, list) log into one list, so
        # the order of deliveries and acknowledged commits across members is
        # kept.
        self.lock, self.log = shared if shared is not None else (threading.Lock(), [])
        self.assignment: frozenset[int] = frozenset()
        self.error: BaseException | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "_Worker":
        self.thread.start()
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} assignment={sorted(self.assignment)} error={self.error!r}>"

    def records(self) -> list[tuple[int, int, bytes]]:
        with self.lock:
            return [(e[1], e[2], e[3]) for e in self.log if e[0] == "rec" and e[4] == self.name]

    def stop(self, timeout: float = 30) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.name} did not stop within {timeout}s"
        if self.error is not None:
            raise AssertionError(f"{self.name} failed: {self.error!r}") from self.error

    def _run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def loop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class ConfluentWorker(_Worker):
    """confluent-kafka `Consumer` subscribed to `topic`. `commit`: "message"
    (synchronous commit after each record, the guide's manual pattern),
    "auto" (enable.auto.commit), or "none"."""

    def __init__(self, name: str, bootstrap: str, group: str, topic: str, commit: str = "message",
                 shared: tuple[threading.Lock, list] | None = None, **extra: Any):
        super().__init__(name, shared)
        self.topic = topic
        self.commit = commit
        self.conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": commit == "auto",
            "auto.commit.interval.ms": 200,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
            "fetch.wait.max.ms": 100,
            "topic.metadata.refresh.interval.ms": 1000,
        }
        self.conf.update(extra)

    def loop(self) -> None:
        from confluent_kafka import Consumer, KafkaException, TopicPartition
        c = Consumer(self.conf)
        try:
            c.subscribe([self.topic])
            while not self.stop_event.is_set():
                msg = c.poll(0.1)
                with self.lock:
                    self.assignment = frozenset(tp.partition for tp in c.assignment())
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().retriable() or msg.error().code() < 0:
                        continue
                    raise KafkaException(msg.error())
                with self.lock:
                    self.log.append(("rec", msg.partition(), msg.offset(), msg.value(), self.name))
                if self.commit == "message":
                    try:
                        c.commit(offsets=[TopicPartition(self.topic, msg.partition(), msg.offset() + 1)],
                                 asynchronous=False)
                    except KafkaException:
                        # Not acknowledged (rebalance, broker down): the
                        # record may be delivered again; that is allowed.
                        continue
                    with self.lock:
                        self.log.append(("ack", msg.partition(), msg.offset() + 1))
        finally:
            c.close()


class KafkaPythonWorker(_Worker):
    """kafka-python `KafkaConsumer(topic, group_id=...)`, as in the guide;
    `commit` as for ConfluentWorker."""

    def __init__(self, name: str, bootstrap: str, group: str, topic: str, commit: str = "message",
                 shared: tuple[threading.Lock, list] | None = None, **extra: Any):
        super().__init__(name, shared)
        self.topic = topic
        self.commit = commit
        self.conf = dict(
            bootstrap_servers=[bootstrap],
            group_id=group,
            client_id=name,
            auto_offset_reset="earliest",
            enable_auto_commit=commit == "auto",
            auto_commit_interval_ms=200,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            fetch_max_wait_ms=100,
            metadata_max_age_ms=1000,
        )
        self.conf.update(extra)

    def loop(self) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import CommitFailedError, KafkaError
        c = KafkaConsumer(self.topic, **self.conf)
        try:
            while not self.stop_event.is_set():
                # A long poll: kafka-python 3.0.12 can lose a completed
                # join when poll() times out while its JoinGroup is in
                # flight (the member then never applies its assignment and
                # stops heartbeating); Kafka's own tools poll for seconds.
                batches = c.poll(timeout_ms=1000, max_records=1)
                with self.lock:
                    self.assignment = frozenset(tp.partition for tp in c.assignment())
                for tp, msgs in batches.items():
                    for msg in msgs:
                        with self.lock:
                            self.log.append(("rec", tp.partition, msg.offset, msg.value, self.name))
                        if self.commit == "message":
                            try:
                                c.commit()  # the guide: commit after each processed message
                            except (CommitFailedError, KafkaError):
                                continue
                            with self.lock:
                                self.log.append(("ack", tp.partition, msg.offset + 1))
        finally:
            c.close()


def wait_assignments(workers: list, partitions: int, timeout: float = REBALANCE_WAIT_S,
                     what: str = "a complete assignment") -> list[frozenset[int]]:
    """Wait until every worker has a non-empty assignment and together they
    own every partition exactly once; returns the assignments."""
    def complete():
        parts = [w.assignment for w in workers]
        if any(not p for p in parts):
            return None
        owned = sorted(x for p in parts for x in p)
        return parts if owned == list(range(partitions)) else None
    try:
        return weirtest.wait_until(complete, timeout, what)
    except AssertionError:
        raise AssertionError(f"{what}: assignments {[sorted(w.assignment) for w in workers]}; {workers!r}") from None


# --------------------------------------------------------------------------
# group members in child processes

class MemberProc:
    """This file run as a script: one group member in a child process."""

    def __init__(self, client: str, bootstrap: str, group: str, topic: str, name: str,
                 strategy: str | None = None):
        args = [sys.executable, str(Path(__file__).resolve()), "--client", client, "--bootstrap", bootstrap,
                "--group", group, "--topic", topic, "--name", name]
        if strategy:
            args += ["--strategy", strategy]
        self.name = name
        self.events: list[dict] = []
        self.assignment: frozenset[int] = frozenset()
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=weirtest._child_dies_with_parent)
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)
                if "assignment" in ev:
                    self.assignment = frozenset(ev["assignment"])

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def revocations(self) -> list[list[int]]:
        with self.lock:
            return [ev["revoked"] for ev in self.events if "revoked" in ev]

    def kill(self) -> None:
        """SIGKILL: no LeaveGroup, no commit."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM: the member closes (LeaveGroup) and exits."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __repr__(self) -> str:
        return f"<MemberProc {self.name} assignment={sorted(self.assignment)} stderr={''.join(self.stderr)[-2000:]!r}>"


def _member_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=["confluent", "kafka-python"], required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--name", default="member")
    ap.add_argument("--strategy", default=None)
    a = ap.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def emit(**ev: Any) -> None:
        print(json.dumps(ev), flush=True)

    last: list[int] | None = None
    if a.client == "confluent":
        from confluent_kafka import Consumer
        conf = {
            "bootstrap.servers": a.bootstrap, "group.id": a.group, "client.id": a.name,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS, "fetch.wait.max.ms": 100,
        }
        if a.strategy:
            conf["partition.assignment.strategy"] = a.strategy
        c = Consumer(conf)

        def on_revoke(consumer, partitions):
            emit(revoked=sorted(tp.partition for tp in partitions))

        c.subscribe([a.topic], on_revoke=on_revoke)
        while not stop.is_set():
            c.poll(0.1)
            now = sorted(tp.partition for tp in c.assignment())
            if now != last:
                last = now
                emit(assignment=now, member_id=c.memberid())
        c.close()
    else:
        from kafka import KafkaConsumer
        c = KafkaConsumer(a.topic, bootstrap_servers=[a.bootstrap], group_id=a.group, client_id=a.name,
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                          max_poll_interval_ms=MAX_POLL_INTERVAL_MS, fetch_max_wait_ms=100)
        while not stop.is_set():
            c.poll(timeout_ms=1000)  # see KafkaPythonWorker.loop
            now = sorted(tp.partition for tp in c.assignment())
            if now != last:
                last = now
                emit(assignment=now)
        c.close()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    _member_main(sys.argv[1:])
