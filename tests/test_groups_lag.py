"""`weir groups describe` reports lag = log-end - committed for every
partition, consistent with confluent-kafka's
`AdminClient.list_consumer_group_offsets` and `Consumer.get_watermark_offsets`,
while a producer runs and after it stops.

Skipped while the broker does not advertise the group APIs in ApiVersions.
"""

from __future__ import annotations

import threading
import time

import pytest

import groupkit
import weirtest
from groupkit import ConfluentWorker

PARTITIONS = 3


@pytest.fixture(scope="module")
def gbroker(tmp_path_factory):
    b = groupkit.start_group_broker(tmp_path_factory.mktemp("groups-lag"))
    yield b
    b.close()


@pytest.fixture
def group_broker(gbroker):
    groupkit.require_group_apis(gbroker)
    return gbroker


class SteadyProducer:
    """Produces to every partition in turn until stopped."""

    def __init__(self, bootstrap: str, topic: str):
        from confluent_kafka import Producer
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
        self.topic = topic
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.sent = 0

    def _run(self) -> None:
        while not self.stop_event.is_set():
            for p in range(PARTITIONS):
                self.producer.produce(self.topic, value=b"x" * 20, partition=p)
                self.sent += 1
            self.producer.poll(0)
            time.sleep(0.01)
        assert self.producer.flush(30) == 0

    def start(self) -> "SteadyProducer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(40)
        assert not self.thread.is_alive(), "producer did not stop"


def rows(doc: dict) -> dict[int, dict]:
    return {r["partition"]: r for r in doc["partitions"]}


def test_describe_lag_matches_watermarks_and_committed_offsets(group_broker, topic):
    bootstrap, group = group_broker.bootstrap, f"g-{topic}"
    weirtest.create_topic(bootstrap, topic, partitions=PARTITIONS)
    producer = SteadyProducer(bootstrap, topic).start()
    worker = ConfluentWorker("lagger", bootstrap, group, topic, commit="message").start()
    try:
        groupkit.wait_assignments([worker], PARTITIONS)
        weirtest.wait_until(lambda: len(worker.records()) > 50, 60, "the consumer to make progress")
        # While both run, every value describe prints lies between what the
        # clients saw just before and just after it.
        for _ in range(3):
            ends_before = groupkit.end_offsets(bootstrap, topic, range(PARTITIONS))
            committed_before = groupkit.committed(bootstrap, group, topic, range(PARTITIONS))
            doc = groupkit.describe(bootstrap, group)
            ends_after = groupkit.end_offsets(bootstrap, topic, range(PARTITIONS))
            committed_after = groupkit.committed(bootstrap, group, topic, range(PARTITIONS))
            assert doc["state"] == "Stable", doc
            for p, r in rows(doc).items():
                assert ends_before[p] <= r["log_end_offset"] <= ends_after[p], (p, r, ends_before, ends_after)
                if r["current_offset"] is None:
                    assert r["lag"] is None
                    continue
                assert committed_before[p] <= r["current_offset"] <= committed_after[p], (p, r)
                assert r["lag"] == r["log_end_offset"] - r["current_offset"], r
                assert r["consumer_id"] and r["client_id"] == "lagger", r
            time.sleep(0.3)
        # Stop the consumer while the producer still runs, so lag builds up.
        worker.stop()
        time.sleep(1)
    finally:
        producer.stop()
        if worker.thread.is_alive():
            worker.stop()

    ends = groupkit.end_offsets(bootstrap, topic, range(PARTITIONS))
    commits = groupkit.committed(bootstrap, group, topic, range(PARTITIONS))
    doc = groupkit.describe(bootstrap, group)
    assert doc["state"] == "Empty" and doc["members"] == [], doc
    got = rows(doc)
    assert sorted(got) == list(range(PARTITIONS)), doc
    for p in range(PARTITIONS):
        assert got[p]["log_end_offset"] == ends[p], (p, got[p], ends)
        assert got[p]["current_offset"] == commits[p], (p, got[p], commits)
        assert got[p]["lag"] == ends[p] - commits[p]
        assert got[p]["consumer_id"] is None
    assert sum(got[p]["lag"] for p in range(PARTITIONS)) > 0, "expected some lag after the consumer stopped"

    # The plain form has Kafka's columns and the same numbers.
    plain = groupkit.weir(bootstrap, "groups", "describe", group).stdout
    header = [l for l in plain.splitlines() if l.startswith("GROUP ")][0].split()
    assert header == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                      "CONSUMER-ID", "HOST", "CLIENT-ID"]
    table = [l.split() for l in plain.splitlines() if l.startswith(group + " ")]
    assert {(int(c[2]), int(c[3]), int(c[4]), int(c[5])) for c in table} == \
        {(p, commits[p], ends[p], ends[p] - commits[p]) for p in range(PARTITIONS)}
