"""Topic metadata survives restarts exactly: names, ids, partition counts,
configs, data and offsets; a deleted topic stays deleted."""

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource, NewTopic

import weirtest
from weirtest import RawConn

TOPICS = {  # suffix: (partitions, configs)
    "events": (3, {"retention.ms": "86400000", "segment.bytes": "1048576"}),
    "audit": (1, {"cleanup.policy": "delete", "retention.bytes": "10485760"}),
    "wide": (6, {}),
}


def snapshot(broker, names):
    """Everything about the topics a client can see: partitions, ids, offsets, records."""
    with RawConn(broker.bootstrap) as conn:
        apis = weirtest.api_versions(conn, 0).apis
        mv = weirtest.pick_version(apis, weirtest.METADATA)
        r = conn.call(weirtest.METADATA, mv, weirtest.metadata_body(mv, sorted(names), allow_auto_topic_creation=False))
        md = weirtest.decode_metadata(r, mv)
    snap = {}
    for name in names:
        t = md["topics"][name]
        assert t["error_code"] == 0, (name, t)
        parts = sorted(t["partitions"])
        records = weirtest.consume_all(broker.bootstrap, name, parts)
        snap[name] = {
            "topic_id": t["topic_id"],
            "partitions": parts,
            "watermarks": {p: weirtest.watermarks(broker.bootstrap, name, p) for p in parts},
            "records": {p: [(r.offset, r.key, r.value, r.headers, r.timestamp) for r in records[p]] for p in parts},
        }
    return snap


def describe_configs(broker, names):
    """Topic configs via DescribeConfigs, or None if the broker does not offer that API."""
    with RawConn(broker.bootstrap) as conn:
        if 32 not in weirtest.api_versions(conn, 0).apis:
            return None
    admin = weirtest.admin(broker.bootstrap)
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
    return {res.name: {k: v.value for k, v in f.result(timeout=20).items()} for res, f in futures.items()}


def test_topics_configs_and_data_survive_clean_restart(broker_factory):
    broker = broker_factory.start()
    prefix = weirtest.unique_topic("restart")
    names = {f"{prefix}-{s}": spec for s, spec in TOPICS.items()}
    admin = weirtest.admin(broker.bootstrap)
    futures = admin.create_topics([NewTopic(n, num_partitions=p, replication_factor=1, config=c)
                                   for n, (p, c) in names.items()])
    for f in futures.values():
        f.result(timeout=20)

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for n, (parts, _) in names.items():
        for i in range(40 * parts):
            producer.produce(n, key=b"k%d" % i, value=b"%s-%d" % (n.encode(), i), partition=i % parts,
                             headers=[("i", str(i).encode())], timestamp=1_700_000_000_000 + i)
    assert producer.flush(30) == 0

    before = snapshot(broker, names)
    configs_before = describe_configs(broker, names)
    for n, (parts, _) in names.items():
        assert before[n]["partitions"] == list(range(parts))
        assert all(len(before[n]["records"][p]) == 40 for p in range(parts))
    if configs_before is not None:
        for n, (_, cfg) in names.items():
            for k, v in cfg.items():
                assert configs_before[n][k] == v, (n, k)

    broker.restart()  # SIGTERM (asserting exit 0), then start on the same data dir
    assert snapshot(broker, names) == before
    if configs_before is not None:
        assert describe_configs(broker, names) == configs_before

    # Writing continues at the old log end.
    n = next(iter(names))
    reports = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    producer.produce(n, value=b"after restart", partition=0, on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert producer.flush(30) == 0
    assert reports == [(None, before[n]["watermarks"][0][1])]


def test_deleted_topic_stays_deleted_after_restart(broker_factory):
    broker = broker_factory.start()
    keep, gone = weirtest.unique_topic("keep"), weirtest.unique_topic("gone")
    weirtest.create_topic(broker.bootstrap, keep, partitions=2)
    weirtest.create_topic(broker.bootstrap, gone, partitions=2)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(20):
        producer.produce(gone, value=b"g%d" % i, partition=i % 2)
        producer.produce(keep, value=b"k%d" % i, partition=i % 2)
    assert producer.flush(30) == 0

    admin = weirtest.admin(broker.bootstrap)
    futures = admin.delete_topics([gone], operation_timeout=10)
    futures[gone].result(timeout=20)
    weirtest.wait_until(lambda: gone not in weirtest.admin(broker.bootstrap).list_topics(timeout=10).topics,
                        10, f"{gone} gone from metadata")
    keep_before = snapshot(broker, [keep])

    for restart in ("clean", "kill"):
        if restart == "clean":
            broker.restart()
        else:
            broker.kill()
            broker.start()
        topics = weirtest.admin(broker.bootstrap).list_topics(timeout=10).topics
        assert gone not in topics, f"deleted topic came back after a {restart} restart"
        assert snapshot(broker, [keep]) == keep_before
        leftovers = [p.name for p in broker.data_dir.iterdir() if p.name.startswith(gone + "-")
                     and not p.name.endswith("-delete")]
        assert not leftovers, f"partition directories of the deleted topic still in use: {leftovers}"

    # The name is free again, and the new topic has no old data.
    weirtest.create_topic(broker.bootstrap, gone, partitions=1)
    assert weirtest.watermarks(broker.bootstrap, gone, 0) == (0, 0)


@pytest.mark.parametrize("partitions", [1, 4])
def test_partition_directories_follow_kafka_layout(broker_factory, partitions):
    broker = broker_factory.start()
    name = weirtest.unique_topic("layout")
    weirtest.create_topic(broker.bootstrap, name, partitions=partitions)
    weirtest.kcat(broker.bootstrap, "-P", "-t", name, "-p", "0", input="a\nb\n")
    broker.stop()
    for p in range(partitions):
        d = broker.data_dir / f"{name}-{p}"
        assert (d / "00000000000000000000.log").is_file(), sorted(x.name for x in broker.data_dir.iterdir())
    log = (broker.data_dir / f"{name}-0" / "00000000000000000000.log").read_bytes()
    assert len(log) > 61, "the first segment of partition 0 holds at least one record batch (61-byte header)"
