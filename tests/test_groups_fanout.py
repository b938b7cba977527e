"""The guide's fan-out pattern: three consumer groups (analytics,
notifications, audit) on one `events` topic each receive every record.

Skipped while the broker does not advertise the group APIs in ApiVersions.
"""

from __future__ import annotations

import json

import pytest

import groupkit
import weirtest
from groupkit import KafkaPythonWorker

GROUPS = ["analytics", "notifications", "audit"]
PARTITIONS = 3


@pytest.fixture(scope="module")
def gbroker(tmp_path_factory):
    b = groupkit.start_group_broker(tmp_path_factory.mktemp("groups-fanout"))
    yield b
    b.close()


@pytest.fixture
def group_broker(gbroker):
    groupkit.require_group_apis(gbroker)
    return gbroker


def test_each_group_receives_every_record(group_broker):
    from kafka import KafkaProducer
    bootstrap = group_broker.bootstrap
    weirtest.create_topic(bootstrap, "events", partitions=PARTITIONS)
    producer = KafkaProducer(bootstrap_servers=[bootstrap],
                             value_serializer=lambda v: json.dumps(v).encode("utf-8"))
    try:
        for i in range(60):
            producer.send("events", value={"event_type": "order.placed", "n": i})
        producer.flush(timeout=30)
    finally:
        producer.close()
    expected = {json.dumps({"event_type": "order.placed", "n": i}).encode() for i in range(60)}

    workers = [KafkaPythonWorker(g, bootstrap, g, "events", commit="auto").start() for g in GROUPS]
    try:
        weirtest.wait_until(lambda: all({v for _, _, v in w.records()} >= expected for w in workers), 90,
                            "every group to receive every record")
    finally:
        errors = []
        for w in workers:
            try:
                w.stop()
            except AssertionError as exc:
                errors.append(str(exc))
        assert not errors, errors
    for w in workers:
        values = [v for _, _, v in w.records()]
        assert set(values) == expected, w.name

    listed = json.loads(groupkit.weir(bootstrap, "groups", "list", "--output", "json").stdout)
    assert {g["group_id"] for g in listed} >= set(GROUPS), listed
    for g in GROUPS:
        doc = groupkit.describe(bootstrap, g)
        assert doc["members"] == [], doc
        assert {r["partition"]: r["lag"] for r in doc["partitions"]} == {p: 0 for p in range(PARTITIONS)}, doc
