"""Broker kill -9 during group consumption with a commit after each message:
after the restart the members resume from the committed offsets, nothing
committed is lost, every record is processed at least once, and no record
whose commit was acknowledged is delivered again.

The broker listens on a fixed port across the restart so the same consumers
reconnect on their own, as they would to a restarted Kafka broker.

Skipped while the broker does not advertise the group APIs in ApiVersions.
"""

from __future__ import annotations

import socket
import threading

import groupkit
import weirtest
from groupkit import ConfluentWorker

PARTITIONS = 4
PER_PARTITION = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind((weirtest.LOOPBACK, 0))
        return s.getsockname()[1]


def check_no_redelivery_after_ack(log: list[tuple]) -> None:
    """In the global order of events, a delivery of (p, o) must never follow
    an acknowledged commit of an offset > o for p."""
    acked: dict[int, int] = {}
    for ev in log:
        if ev[0] == "ack":
            acked[ev[1]] = max(acked.get(ev[1], 0), ev[2])
        elif ev[0] == "rec":
            _, p, o, _, who = ev
            assert o >= acked.get(p, 0), (
                f"{who} got partition {p} offset {o} again after a commit of {acked[p]} was acknowledged")


def test_members_resume_from_committed_offsets_after_kill_9(broker_factory, topic, tmp_path):
    port = free_port()
    data = tmp_path / "restart-data"
    broker = broker_factory.start(
        default_flags=False, data_dir=data, overrides=groupkit.OVERRIDES,
        extra_args=["--listeners", f"PLAINTEXT://{weirtest.LOOPBACK}:{port}", "--log-dirs", str(data)])
    groupkit.require_group_apis(broker, admin=False)
    bootstrap, group = broker.bootstrap, f"g-{topic}"
    weirtest.create_topic(bootstrap, topic, partitions=PARTITIONS)
    produced = groupkit.produce(bootstrap, topic, PARTITIONS, PER_PARTITION)

    shared = (threading.Lock(), [])
    workers = [ConfluentWorker(f"r{i}", bootstrap, group, topic, commit="message", shared=shared).start()
               for i in range(2)]
    lock, log = shared
    try:
        weirtest.wait_until(lambda: sum(len(w.records()) for w in workers) >= len(produced) // 3, 60,
                            "a third of the records to be consumed")
        broker.kill()
        with lock:
            acked_before: dict[int, int] = {}
            for ev in log:
                if ev[0] == "ack":
                    acked_before[ev[1]] = max(acked_before.get(ev[1], 0), ev[2])
        assert acked_before, "no commit was acknowledged before the kill"

        broker.start()
        assert broker.bootstrap == bootstrap
        after = groupkit.committed(bootstrap, group, topic, range(PARTITIONS))
        for p, off in acked_before.items():
            assert after[p] >= off, f"partition {p}: committed {after[p]} after restart, {off} acknowledged before"

        weirtest.wait_until(
            lambda: {(p, o) for w in workers for p, o, _ in w.records()} >= produced, 120,
            "every record to be consumed after the restart")
    finally:
        errors = []
        for w in workers:
            try:
                w.stop()
            except AssertionError as exc:
                errors.append(str(exc))
        assert not errors, errors
    with lock:
        check_no_redelivery_after_ack(list(log))
    ends = groupkit.end_offsets(bootstrap, topic, range(PARTITIONS))
    assert groupkit.committed(bootstrap, group, topic, range(PARTITIONS)) == ends
