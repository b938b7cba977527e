"""Topic configs through the admin APIs (issue: configs and retention):
kafka-python's create_topics with topic_configs then describe_configs shows
the value as DYNAMIC_TOPIC_CONFIG; confluent-kafka's incremental_alter_configs
and alter_configs change configs live (the next produce obeys them) and the
change survives a restart; invalid values and unknown keys are INVALID_CONFIG
naming the key."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource)
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient, NewTopic

import weirtest


def describe(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res])[res].result(timeout=20)
    return {k: (v.value, v.source) for k, v in configs.items()}


def test_kafka_python_create_with_configs_then_describe(broker, topic):
    admin = KafkaAdminClient(bootstrap_servers=[broker.bootstrap])
    admin.create_topics([NewTopic(name=topic, num_partitions=3, replication_factor=1,
                                  topic_configs={"retention.ms": "604800000"})])
    result = admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, topic)])
    admin.close()
    # {resource_type: {resource_name: {key: {...}}}}; the default filter keeps modified keys only.
    (by_name,) = result.values()
    configs = by_name[topic]
    assert configs["retention.ms"]["value"] == "604800000", configs["retention.ms"]
    assert "cleanup.policy" not in configs, "defaults are not 'modified'"
    # confluent-kafka reports the source by name.
    assert describe(broker.bootstrap, topic)["retention.ms"] == ("604800000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)


def test_defaults_and_static_broker_sources(broker_factory, topic):
    b = broker_factory.start(overrides={"log.retention.hours": "2"})
    weirtest.create_topic(b.bootstrap, topic)
    d = describe(b.bootstrap, topic)
    assert d["retention.ms"] == ("7200000", ConfigSource.STATIC_BROKER_CONFIG.value)
    assert d["cleanup.policy"] == ("delete", ConfigSource.DEFAULT_CONFIG.value)


def test_incremental_alter_configs_live_and_persistent(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, config={"retention.ms": "604800000"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", "2000", incremental_operation=AlterConfigOpType.SET),
    ])
    admin.incremental_alter_configs([res])[res].result(timeout=20)
    d = describe(broker.bootstrap, topic)
    assert d["retention.ms"][0] == "86400000"
    assert d["max.message.bytes"][0] == "2000"

    # Live: a 5 KB record is now too large for this topic.
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 1000000})
    errors = []
    p.produce(topic, b"x" * 5000, partition=0, on_delivery=lambda e, _m: errors.append(e))
    p.flush(20)
    assert errors and errors[0] is not None and errors[0].name() == "MSG_SIZE_TOO_LARGE", errors

    # DELETE returns to the default, and the change survives a restart.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([res])[res].result(timeout=20)
    del admin, p
    broker.restart()
    d = describe(broker.bootstrap, topic)
    assert d["retention.ms"] == ("86400000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert d["max.message.bytes"] == ("1048588", ConfigSource.DEFAULT_CONFIG.value)


@pytest.mark.parametrize("key,value", [("retention.ms", "soon"), ("no.such.config", "1"), ("cleanup.policy", "shred")])
def test_invalid_configs_are_invalid_config(broker, topic, key, value):
    weirtest.create_topic(broker.bootstrap, topic)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as err:
        admin.incremental_alter_configs([res])[res].result(timeout=20)
    e = err.value.args[0]
    assert e.name() == "INVALID_CONFIG", e
    assert key in e.str(), e.str()
    assert key not in describe(broker.bootstrap, topic) or describe(broker.bootstrap, topic)[key][1] != \
        ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_legacy_alter_configs_replaces_all_overrides(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, config={"retention.ms": "1000000", "segment.ms": "3600000"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.bytes": "1048576"})
    admin.alter_configs([res])[res].result(timeout=20)
    d = describe(broker.bootstrap, topic)
    assert d["retention.bytes"] == ("1048576", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert d["retention.ms"][1] == ConfigSource.DEFAULT_CONFIG.value, "AlterConfigs replaces the whole set"
    assert d["segment.ms"][1] == ConfigSource.DEFAULT_CONFIG.value


def broker_describe(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, name)
    configs = admin.describe_configs([res])[res].result(timeout=20)
    return {k: (v.value, v.source, v.is_read_only) for k, v in configs.items()}


def weir_cli(*args):
    """The weir CLI; confluent-kafka cannot name the default broker entity ("")."""
    import subprocess
    proc = subprocess.run([str(weirtest.WEIR_BIN), *args], capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout, proc.stderr


def alter_broker(bootstrap, name, ops):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, name, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=op) for k, v, op in ops])
    admin.incremental_alter_configs([res])[res].result(timeout=20)


def test_dynamic_broker_configs_apply_live_and_persist(broker_factory, topic):
    b = broker_factory.start(overrides={"log.retention.check.interval.ms": "200", "log.retention.hours": "168"})
    bs = b.bootstrap
    weirtest.create_topic(bs, topic, config={"segment.ms": "200"})
    assert describe(bs, topic)["retention.ms"] == ("604800000", ConfigSource.STATIC_BROKER_CONFIG.value)
    # Cluster-wide default, then this broker's own value on top.
    rc, out, err = weir_cli("configs", "alter", "--entity-type", "brokers", "--entity-default",
                            "--add-config", "log.retention.ms=86400000", "--bootstrap-server", bs)
    assert rc == 0, err
    assert describe(bs, topic)["retention.ms"] == ("86400000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    alter_broker(bs, "1", [("log.retention.ms", "1500", AlterConfigOpType.SET)])
    assert describe(bs, topic)["retention.ms"] == ("1500", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    cfg = broker_describe(bs, "1")
    assert cfg["log.retention.ms"] == ("1500", ConfigSource.DYNAMIC_BROKER_CONFIG.value, False)
    assert cfg["log.retention.hours"][1:] == (ConfigSource.STATIC_BROKER_CONFIG.value, False)
    assert cfg["listeners"][2], "static-only keys are read-only"
    rc, out, err = weir_cli("configs", "describe", "--entity-type", "brokers", "--entity-default",
                            "--bootstrap-server", bs, "--output", "json")
    assert rc == 0 and "log.retention.ms" in out and "86400000" in out, (out, err)

    # It applies at once: old segments of a topic without its own retention go.
    p = Producer({"bootstrap.servers": bs})
    for i in range(50):
        p.produce(topic, f"v{i}".encode(), partition=0)
        p.flush(10)
        if i % 10 == 9:
            time.sleep(0.3)
    high = weirtest.watermarks(bs, topic, 0)[1]
    weirtest.wait_until(lambda: weirtest.watermarks(bs, topic, 0)[0] > 0, 30,
                        "retention from the dynamic broker config")

    # Static keys and bad values are INVALID_CONFIG naming the key; another broker id is INVALID_REQUEST.
    for name, key, value in [("1", "listeners", "PLAINTEXT://:1"), ("1", "log.retention.ms", "soon"),
                             ("1", "log.cleanup.policy", "shred")]:
        with pytest.raises(KafkaException) as e:
            alter_broker(bs, name, [(key, value, AlterConfigOpType.SET)])
        err = e.value.args[0]
        assert err.code() == KafkaError.INVALID_CONFIG and key in err.str(), err
    # (librdkafka sends a broker resource to that broker, so ask with the weir CLI.)
    rc, out, err = weir_cli("configs", "alter", "--entity-type", "brokers", "--entity-name", "7",
                            "--add-config", "log.retention.ms=1", "--bootstrap-server", bs)
    assert rc != 0 and "unexpected broker id 7" in err, (rc, out, err)

    # Persisted: after a restart the values and sources are the same.
    b.restart()
    bs = b.bootstrap
    assert describe(bs, topic)["retention.ms"] == ("1500", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    alter_broker(bs, "1", [("log.retention.ms", "", AlterConfigOpType.DELETE)])
    assert describe(bs, topic)["retention.ms"] == ("86400000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    assert high >= 50


def test_min_insync_replicas_refuses_acks_all_until_lowered(broker, topic):
    """On one node the ISR is one broker: with min.insync.replicas=2, acks=all
    is NOT_ENOUGH_REPLICAS (nothing written), acks=1 is accepted, and
    lowering the config live lets acks=all through."""
    from kafka import KafkaProducer
    from kafka.errors import NotEnoughReplicasError

    weirtest.create_topic(broker.bootstrap, topic, config={"min.insync.replicas": "2"})
    strict = KafkaProducer(bootstrap_servers=[broker.bootstrap], acks="all", retries=0)
    with pytest.raises(NotEnoughReplicasError):
        strict.send(topic, b"refused").get(timeout=20)
    loose = KafkaProducer(bootstrap_servers=[broker.bootstrap], acks=1)
    assert loose.send(topic, b"accepted").get(timeout=20).offset == 0
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                         incremental_configs=[ConfigEntry("min.insync.replicas", "1",
                                                          incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result(timeout=20)
    assert strict.send(topic, b"durable").get(timeout=20).offset == 1
    strict.close()
    loose.close()
