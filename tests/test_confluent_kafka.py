"""confluent-kafka (librdkafka) producer, consumer on assigned partitions, and
AdminClient against the real broker."""

import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaError, KafkaException,
                             Producer, TopicPartition)
from confluent_kafka.admin import NewTopic

import weirtest


def produce(bootstrap, topic, records, **conf):
    """records: dicts of produce() kwargs. Returns delivery reports [(index, partition, offset, error)]."""
    producer = Producer({"bootstrap.servers": bootstrap, **conf})
    reports = []
    for i, rec in enumerate(records):
        producer.produce(topic, **rec, on_delivery=lambda err, msg, i=i: reports.append(
            (i, msg.partition(), msg.offset(), err)))
        producer.poll(0)
    left = producer.flush(30)
    assert left == 0, f"{left} messages not delivered within 30 s"
    assert len(reports) == len(records)
    errors = [r for r in reports if r[3] is not None]
    assert not errors, errors[:5]
    return sorted(reports)


def all_topics(bootstrap):
    return weirtest.admin(bootstrap).list_topics(timeout=10).topics


@pytest.mark.parametrize("acks", ["all", "1"])
def test_produce_keys_headers_consume_back_identical(broker, topic, acks):
    weirtest.create_topic(broker.bootstrap, topic, partitions=2)
    records = []
    for i in range(300):
        headers = [("seq", str(i).encode()), ("dup", b"first"), ("dup", b"second"), ("bin", bytes([i % 256, 0, 255]))]
        if i % 10 == 0:
            headers.append(("null-value", None))
        records.append(dict(key=f"key-{i % 13}".encode() if i % 17 else None,
                            value=(f"value-{i}-".encode() * (i % 9)) if i % 23 else None,
                            headers=headers, partition=i % 2))
    reports = produce(broker.bootstrap, topic, records, acks=acks, **{"linger.ms": 5})
    for p in (0, 1):
        offsets = [off for i, part, off, _ in reports if part == p]
        assert sorted(offsets) == list(range(150)), f"partition {p} offsets"

    got = weirtest.consume_all(broker.bootstrap, topic, [0, 1])
    assert [len(got[p]) for p in (0, 1)] == [150, 150]
    by_position = {(r.partition, r.offset): r for p in (0, 1) for r in got[p]}
    for i, part, off, _ in reports:
        rec, back = records[i], by_position[(part, off)]
        assert back.key == rec["key"], i
        assert back.value == rec["value"], i
        # Header order, duplicates and null values are preserved.
        assert list(back.headers) == rec["headers"], i


def test_list_topics_metadata(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=4)
    md = weirtest.admin(broker.bootstrap).list_topics(timeout=10)
    assert len(md.brokers) == 1
    (b,) = md.brokers.values()
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    assert md.controller_id == b.id
    t = md.topics[topic]
    assert t.error is None
    assert sorted(t.partitions) == [0, 1, 2, 3]
    for p in t.partitions.values():
        assert p.error is None
        assert (p.leader, p.replicas, p.isrs) == (b.id, [b.id], [b.id])


def test_admin_create_with_config_then_delete(broker, topic):
    admin = weirtest.admin(broker.bootstrap)
    futures = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                            config={"retention.ms": "3600000"})], operation_timeout=10)
    assert futures[topic].result(timeout=20) is None
    topics = weirtest.wait_until(lambda: topic in all_topics(broker.bootstrap) and all_topics(broker.bootstrap),
                                 10, f"{topic} in metadata")
    assert sorted(topics[topic].partitions) == [0, 1, 2]

    produce(broker.bootstrap, topic, [dict(value=b"v", partition=0)], acks="all")
    assert weirtest.watermarks(broker.bootstrap, topic, 0) == (0, 1)

    futures = admin.delete_topics([topic], operation_timeout=10)
    assert futures[topic].result(timeout=20) is None
    weirtest.wait_until(lambda: topic not in all_topics(broker.bootstrap), 10, f"{topic} gone from metadata")

    # The name can be used again, and the new topic starts empty.
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    assert weirtest.watermarks(broker.bootstrap, topic, 0) == (0, 0)


def test_create_existing_topic_is_topic_already_exists(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=2)
    admin = weirtest.admin(broker.bootstrap)
    futures = admin.create_topics([NewTopic(topic, num_partitions=5, replication_factor=1)])
    with pytest.raises(KafkaException) as info:
        futures[topic].result(timeout=20)
    assert info.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    # The existing topic is untouched.
    assert sorted(all_topics(broker.bootstrap)[topic].partitions) == [0, 1]


def test_validate_only_creates_nothing(broker, topic):
    admin = weirtest.admin(broker.bootstrap)
    futures = admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                            config={"retention.ms": "60000"})], validate_only=True)
    assert futures[topic].result(timeout=20) is None
    # Validation still checks the request: one broker cannot hold 3 replicas.
    bad = f"{topic}-bad"
    futures = admin.create_topics([NewTopic(bad, num_partitions=1, replication_factor=3)], validate_only=True)
    with pytest.raises(KafkaException) as info:
        futures[bad].result(timeout=20)
    assert info.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    time.sleep(0.5)
    names = all_topics(broker.bootstrap)
    assert topic not in names and bad not in names
    # And the name is still free.
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)


def test_watermarks_and_offsets_for_times(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    base = int(time.time() * 1000) - 600_000  # ten minutes ago: inside any timestamp-skew limit
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    # Three separate batches of 10, one second apart per record.
    for batch in range(3):
        for i in range(batch * 10, batch * 10 + 10):
            producer.produce(topic, value=f"v{i}".encode(), partition=0, timestamp=base + i * 1000)
        assert producer.flush(30) == 0

    consumer = Consumer(weirtest.consumer_config(broker.bootstrap))
    try:
        tp = TopicPartition(topic, 0)
        assert consumer.get_watermark_offsets(tp, timeout=10) == (0, 30)
        cases = {
            base - 5_000: 0,           # before everything: the first record
            base: 0,
            base + 2_500: 3,           # between records: the next one
            base + 10_000: 10,         # exactly the first record of the second batch
            base + 15_500: 16,
            base + 29_000: 29,         # the last record
            base + 29_001: -1,         # after everything: no such offset
        }
        for ts, want in cases.items():
            (res,) = consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert res.error is None, res
            assert res.offset == want, f"offsets_for_times({ts - base:+d} ms from base) = {res.offset}, want {want}"

        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < 30 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                seen.append((msg.offset(), msg.value(), msg.timestamp()))
        assert seen == [(i, f"v{i}".encode(), (TIMESTAMP_CREATE_TIME, base + i * 1000)) for i in range(30)]
    finally:
        consumer.close()
