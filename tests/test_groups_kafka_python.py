"""Consumer groups with kafka-python, written as the guide writes them
(`KafkaConsumer(topic, group_id=...)`, `consumer.commit()` after each
processed message): three members share a 6-partition topic, exactly once
with manual commits, at least once with auto-commit, a killed member's
partitions move to the survivors, and a joining member triggers a rebalance.

Skipped while the broker does not advertise the group APIs in ApiVersions.
"""

from __future__ import annotations

import time

import pytest

import groupkit
import weirtest
from groupkit import KafkaPythonWorker, MemberProc, wait_assignments

PARTITIONS = 6


@pytest.fixture(scope="module")
def gbroker(tmp_path_factory):
    b = groupkit.start_group_broker(tmp_path_factory.mktemp("groups-kafka-python"))
    yield b
    b.close()


@pytest.fixture
def group_broker(gbroker):
    groupkit.require_group_apis(gbroker)
    return gbroker


@pytest.fixture
def topic6(group_broker, topic):
    weirtest.create_topic(group_broker.bootstrap, topic, partitions=PARTITIONS)
    return topic


def stop_all(members) -> None:
    errors = []
    for m in members:
        try:
            m.stop()
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, errors


def test_three_members_share_partitions_and_consume_exactly_once(group_broker, topic6):
    bootstrap, group = group_broker.bootstrap, f"g-{topic6}"
    workers = [KafkaPythonWorker(f"p{i}", bootstrap, group, topic6, commit="message").start() for i in range(3)]
    try:
        parts = wait_assignments(workers, PARTITIONS)
        assert all(len(p) == 2 for p in parts), parts

        def described():
            doc = groupkit.describe(bootstrap, group)
            return doc if doc["state"] == "Stable" and len(doc["members"]) == 3 else None
        doc = weirtest.wait_until(described, 20, "the group to be Stable with 3 members")
        by_client = {m["client_id"]: {tp["partition"] for tp in m["assignment"]} for m in doc["members"]}
        assert by_client == {w.name: set(w.assignment) for w in workers}, doc

        produced = groupkit.produce(bootstrap, topic6, PARTITIONS, 30)
        weirtest.wait_until(lambda: sum(len(w.records()) for w in workers) >= len(produced), 90,
                            "every record to be consumed")
        time.sleep(0.5)
    finally:
        stop_all(workers)
    delivered = [(p, o) for w in workers for p, o, _ in w.records()]
    assert len(delivered) == len(set(delivered)), "records delivered more than once"
    assert set(delivered) == produced
    ends = groupkit.end_offsets(bootstrap, topic6, range(PARTITIONS))
    assert groupkit.committed(bootstrap, group, topic6, range(PARTITIONS)) == ends


def test_auto_commit_consumes_at_least_once(group_broker, topic6):
    bootstrap, group = group_broker.bootstrap, f"g-{topic6}"
    produced = groupkit.produce(bootstrap, topic6, PARTITIONS, 20)
    workers = [KafkaPythonWorker(f"q{i}", bootstrap, group, topic6, commit="auto").start() for i in range(3)]
    try:
        weirtest.wait_until(
            lambda: {(p, o) for w in workers for p, o, _ in w.records()} >= produced, 90,
            "every record to be consumed at least once")
        wait_assignments(workers, PARTITIONS)
    finally:
        stop_all(workers)  # close() commits the final positions (autocommit)
    ends = groupkit.end_offsets(bootstrap, topic6, range(PARTITIONS))
    assert groupkit.committed(bootstrap, group, topic6, range(PARTITIONS)) == ends


def test_killed_member_partitions_move_to_survivors(group_broker, topic6):
    bootstrap, group = group_broker.bootstrap, f"g-{topic6}"
    members = [MemberProc("kafka-python", bootstrap, group, topic6, f"k{i}") for i in range(3)]
    try:
        wait_assignments(members, PARTITIONS, what="three members to share the partitions")
        victim, survivors = members[0], members[1:]
        orphaned = set(victim.assignment)
        victim.kill()
        wait_assignments(survivors, PARTITIONS, what="the survivors to take over the killed member's partitions")
        assert orphaned <= set().union(*(s.assignment for s in survivors))
        doc = groupkit.describe(bootstrap, group)
        assert len(doc["members"]) == 2, doc
    finally:
        for m in members:
            m.stop()


def test_joining_member_triggers_rebalance(group_broker, topic6):
    bootstrap, group = group_broker.bootstrap, f"g-{topic6}"
    members = [MemberProc("kafka-python", bootstrap, group, topic6, f"j{i}") for i in range(2)]
    try:
        wait_assignments(members, PARTITIONS, what="two members to share the partitions")
        members.append(MemberProc("kafka-python", bootstrap, group, topic6, "j2"))
        wait_assignments(members, PARTITIONS, what="the new member to get partitions")
        weirtest.wait_until(lambda: sorted(len(m.assignment) for m in members) == [2, 2, 2], 20,
                            "an even spread over three members")
    finally:
        for m in members:
            m.stop()
