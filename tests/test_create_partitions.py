"""CreatePartitions (issue: configs, retention and the admin API): partition
counts only increase; new partitions are immediately writable and readable;
keyed records of new data spread over the new partitions (the clients'
default partitioners see the new count); the change survives a restart."""

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewPartitions
from kafka.admin import KafkaAdminClient
from kafka.admin import NewPartitions as KpNewPartitions

import weirtest


def partitions_of(bootstrap, topic):
    md = weirtest.kcat_metadata(bootstrap, topic)
    (t,) = md["topics"]
    return sorted(p["partition"] for p in t["partitions"])


def test_confluent_create_partitions_then_keyed_data_reaches_new_ones(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=2)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_partitions([NewPartitions(topic, 6)])[topic].result(timeout=20)
    assert partitions_of(broker.bootstrap, topic) == list(range(6))

    p = Producer({"bootstrap.servers": broker.bootstrap, "topic.metadata.refresh.interval.ms": 500})
    delivered = []
    for i in range(300):
        p.produce(topic, key=f"user-{i}".encode(), value=str(i).encode(),
                  on_delivery=lambda e, m: delivered.append((e, m.partition())))
    assert p.flush(30) == 0
    assert all(e is None for e, _ in delivered)
    used = {part for _, part in delivered}
    assert used & {2, 3, 4, 5}, f"keyed records never reached a new partition: {used}"
    counts = weirtest.consume_all(broker.bootstrap, topic, range(6))
    assert sum(len(v) for v in counts.values()) == 300

    # Only increases: same count or fewer is INVALID_PARTITIONS.
    for bad in (6, 3):
        with pytest.raises(KafkaException) as err:
            admin.create_partitions([NewPartitions(topic, bad)])[topic].result(timeout=20)
        assert err.value.args[0].name() == "INVALID_PARTITIONS"

    broker.restart()
    assert partitions_of(broker.bootstrap, topic) == list(range(6))


def test_kafka_python_create_partitions(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    admin.create_partitions({topic: KpNewPartitions(total_count=3)})
    admin.close()
    assert partitions_of(broker.bootstrap, topic) == [0, 1, 2]
    weirtest.kcat(broker.bootstrap, "-P", "-t", topic, "-p", "2", input="on-new-partition\n")
    (rec,) = weirtest.consume_all(broker.bootstrap, topic, [2])[2]
    assert rec.value == b"on-new-partition"


def test_unknown_topic(broker, topic):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    with pytest.raises(KafkaException) as err:
        admin.create_partitions([NewPartitions(topic + "-missing", 4)])[topic + "-missing"].result(timeout=20)
    assert err.value.args[0].name() == "UNKNOWN_TOPIC_OR_PART"
