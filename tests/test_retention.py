"""Retention, DeleteRecords and compaction (issue: configs, retention and
the admin API), driven through real clients against a broker whose log
manager runs every 200 ms:

* retention.ms=2000 with segment.ms=500 empties a topic within seconds and a
  consumer at offset 0 is reset by auto.offset.reset;
* retention.bytes caps the partition size;
* DeleteRecords advances the log-start offset;
* cleanup.policy=compact keeps the latest value per key, offsets preserved,
  and removes tombstones after delete.retention.ms."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition

import weirtest

OVERRIDES = {"log.retention.check.interval.ms": "200", "log.cleaner.dedupe.buffer.size": "1048576"}


@pytest.fixture(scope="module")
def maint_broker(tmp_path_factory):
    b = weirtest.Broker(tmp_path_factory.mktemp("retention"), overrides=OVERRIDES).start()
    yield b
    b.close()


def produce(bootstrap, topic, records, partition=0):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    errors = []
    for key, value in records:
        p.produce(topic, value, key=key, partition=partition, on_delivery=lambda e, _m: e and errors.append(e))
        p.poll(0)
    assert p.flush(30) == 0 and not errors, errors


def wait_low_watermark(bootstrap, topic, at_least, timeout=20):
    return weirtest.wait_until(lambda: (lambda w: w if w[0] >= at_least else None)(
        weirtest.watermarks(bootstrap, topic, 0)), timeout, f"log-start offset of {topic} >= {at_least}")


def test_retention_ms_deletes_old_segments_and_consumers_reset(maint_broker, topic):
    b = maint_broker.bootstrap
    weirtest.create_topic(b, topic, config={"retention.ms": "2000", "segment.ms": "500"})
    produce(b, topic, [(None, f"old-{i}".encode()) for i in range(20)])
    assert weirtest.watermarks(b, topic, 0) == (0, 20)
    low, high = wait_low_watermark(b, topic, 20)
    assert (low, high) == (20, 20), "every record past retention.ms is gone, offsets keep counting"
    produce(b, topic, [(None, b"new-0"), (None, b"new-1")])

    # confluent-kafka positioned at 0 gets OFFSET_OUT_OF_RANGE and resets to earliest.
    c = Consumer(weirtest.consumer_config(b, **{"auto.offset.reset": "earliest"}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 20
    while len(got) < 2 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append((m.offset(), m.value()))
    c.close()
    assert got == [(20, b"new-0"), (21, b"new-1")]

    # kafka-python with auto_offset_reset='latest' jumps to the end instead.
    kc = KafkaConsumer(bootstrap_servers=[b], auto_offset_reset="latest", consumer_timeout_ms=2000)
    kc.assign([KpTopicPartition(topic, 0)])
    kc.seek(KpTopicPartition(topic, 0), 0)
    assert [m.value for m in kc] == []
    assert kc.position(KpTopicPartition(topic, 0)) == 22
    kc.close()


def test_retention_bytes_caps_the_partition(maint_broker, topic):
    b = maint_broker.bootstrap
    mib = 1 << 20
    weirtest.create_topic(b, topic, config={"segment.bytes": str(mib), "retention.bytes": str(2 * mib)})
    value = b"x" * 10_000
    produce(b, topic, [(None, value)] * 600)  # ~6 MB in ~6 segments
    part = maint_broker.data_dir / f"{topic}-0"

    def on_disk():
        size = sum(f.stat().st_size for f in part.glob("*.log"))
        # What stays is less than retention.bytes plus one segment.
        return size if size <= 3 * mib + 20_000 else None

    weirtest.wait_until(on_disk, 20, "retention.bytes to cap the partition")
    low, high = weirtest.watermarks(b, topic, 0)
    assert high == 600 and low > 0
    assert (high - low) * 10_000 >= 2 * mib - 20_000, "retention.bytes keeps at least that much"


def test_delete_records_advances_log_start(maint_broker, topic):
    b = maint_broker.bootstrap
    weirtest.create_topic(b, topic)
    produce(b, topic, [(None, str(i).encode()) for i in range(50)])
    admin = AdminClient({"bootstrap.servers": b})
    (fut,) = admin.delete_records([TopicPartition(topic, 0, 30)]).values()
    result = fut.result(timeout=20)
    assert result.low_watermark == 30
    assert weirtest.watermarks(b, topic, 0) == (30, 50)
    got = [r.offset for r in weirtest.consume_all(b, topic, [0])[0]]
    assert got == list(range(30, 50))


def test_compaction_keeps_latest_value_per_key(maint_broker, topic):
    """100,000 records over 1,000 keys compact to the last value per key, at
    its original offset; tombstones (100 keys) disappear after
    delete.retention.ms (0 here)."""
    b = maint_broker.bootstrap
    weirtest.create_topic(b, topic, config={
        "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "0", "min.compaction.lag.ms": "0"})
    records = [(f"key-{i % 1000}".encode(), f"value-{i}".encode()) for i in range(100_000)]
    records += [(f"key-{k}".encode(), None) for k in range(0, 1000, 10)]  # 100 tombstones
    produce(b, topic, records)
    time.sleep(0.3)
    produce(b, topic, [(b"roll", b"r")])  # rolls the segment so the old one is cleanable
    total = len(records) + 1

    def compacted():
        recs = weirtest.consume_all(b, topic, [0], timeout=120)[0]
        return recs if len(recs) <= 901 else None

    recs = weirtest.wait_until(compacted, 60, "the log cleaner compacting the topic", interval=1)
    latest = {}
    for offset, (key, value) in enumerate(records):
        latest[key] = (offset, value)
    by_key = {r.key: (r.offset, r.value) for r in recs}
    for k in range(1000):
        key = f"key-{k}".encode()
        if k % 10 == 0:
            assert key not in by_key, f"{key}: tombstone and older values removed"
        else:
            assert by_key[key] == latest[key], f"{key}: latest value at its original offset"
    offsets = [r.offset for r in recs]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert weirtest.watermarks(b, topic, 0)[1] == total, "compaction never changes the log end"


def test_retention_configs_changed_live(maint_broker, topic):
    """incremental_alter_configs on retention.ms and segment.ms takes effect
    without a restart: the old data goes."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
    b = maint_broker.bootstrap
    weirtest.create_topic(b, topic)
    produce(b, topic, [(None, f"v{i}".encode()) for i in range(10)])
    time.sleep(1.0)
    assert weirtest.watermarks(b, topic, 0) == (0, 10), "default retention keeps everything"
    admin = AdminClient({"bootstrap.servers": b})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", "200", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result(timeout=20)
    assert wait_low_watermark(b, topic, 10) == (10, 10)
