"""Broker configuration: a Kafka-style server.properties, command-line
overrides, unknown and invalid keys, auto topic creation, and clean versus
unclean shutdown."""

import pytest
from confluent_kafka import KafkaError, Producer

import weirtest
from weirtest import RawConn, kcat, kcat_metadata


def write_properties(path, **props):
    lines = ["# written by the Weir test-suite", ""]
    lines += [f"{k.replace('_', '.')}={v}" for k, v in props.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def base_properties(tmp_path, **extra):
    props = {
        "node_id": 3,
        "listeners": "PLAINTEXT://127.0.0.1:0",
        "log_dirs": tmp_path / "kafka-logs",
        "num_partitions": 4,
        "auto_create_topics_enable": "true",
    }
    props.update(extra)
    return write_properties(tmp_path / "server.properties", **props)


def auto_create_by_producing(broker, topic):
    kcat(broker.bootstrap, "-P", "-t", topic, input="one\ntwo\nthree\n")
    out = kcat(broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q").stdout.decode()
    assert sorted(out.split()) == ["one", "three", "two"]
    md = kcat_metadata(broker.bootstrap, topic)
    (t,) = md["topics"]
    assert "error" not in t, t
    return md, sorted(p["partition"] for p in t["partitions"])


def test_properties_file_with_kafka_keys(broker_factory, tmp_path, topic):
    config = base_properties(tmp_path)
    broker = broker_factory.start(config_file=config, default_flags=False, data_dir=tmp_path / "kafka-logs")
    md, partitions = auto_create_by_producing(broker, topic)
    assert partitions == [0, 1, 2, 3], "num.partitions=4 from the file"
    assert [(b["id"], b["name"]) for b in md["brokers"]] == [(3, f"127.0.0.1:{broker.port}")], "node.id=3"

    # Kafka's directory layout under log.dirs.
    for p in range(4):
        segment = tmp_path / "kafka-logs" / f"{topic}-{p}" / "00000000000000000000.log"
        assert segment.is_file(), f"missing {segment}"


def test_command_line_beats_properties_file(broker_factory, tmp_path, topic):
    config = base_properties(tmp_path)
    broker = broker_factory.start(config_file=config, default_flags=False, data_dir=tmp_path / "kafka-logs",
                                  node_id=7, overrides={"num.partitions": 2})
    md, partitions = auto_create_by_producing(broker, topic)
    assert partitions == [0, 1], "--override num.partitions=2 beats num.partitions=4 in the file"
    assert [b["id"] for b in md["brokers"]] == [7], "--node-id 7 beats node.id=3 in the file"


def test_unknown_key_is_a_warning_not_an_error(broker_factory, tmp_path):
    config = base_properties(tmp_path, foo_bar=1)
    broker = broker_factory.start(config_file=config, default_flags=False, data_dir=tmp_path / "kafka-logs")
    weirtest.wait_until(lambda: "foo.bar" in broker.stderr_text(), 5, "a warning naming foo.bar on stderr")
    weirtest.assert_serving(broker)


@pytest.mark.parametrize("source", ["file", "override"])
def test_invalid_value_fails_startup_naming_the_key(broker_factory, tmp_path, source):
    if source == "file":
        broker = broker_factory.new(config_file=base_properties(tmp_path, num_partitions="abc"),
                                    default_flags=False, data_dir=tmp_path / "kafka-logs")
    else:
        broker = broker_factory.new(overrides={"num.partitions": "abc"})
    rc, stderr = weirtest.run_until_exit(broker, timeout=10)
    assert rc is not None, f"broker still running 10 s after an invalid num.partitions; stderr:\n{stderr}"
    assert rc != 0, f"exit code 0 with an invalid num.partitions; stderr:\n{stderr}"
    assert "num.partitions" in stderr, stderr
    assert "listening on" not in broker.stdout_text()


def test_auto_create_disabled_unknown_topic(broker_factory, topic):
    broker = broker_factory.start(overrides={"auto.create.topics.enable": "false"})

    # librdkafka: the produce fails with unknown topic (and never creates it).
    producer = Producer({"bootstrap.servers": broker.bootstrap, "topic.metadata.propagation.max.ms": 1000,
                         "message.timeout.ms": 10_000})
    errors = []
    producer.produce(topic, value=b"x", on_delivery=lambda err, msg: errors.append(err))
    assert producer.flush(20) == 0
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC), errors[0]

    with RawConn(broker.bootstrap) as conn:
        apis = weirtest.api_versions(conn, 0).apis
        pv = weirtest.pick_version(apis, weirtest.PRODUCE)
        r = conn.call(weirtest.PRODUCE, pv,
                      weirtest.produce_body(pv, topic, 0, weirtest.build_batch([(None, b"x", [])])))
        res = weirtest.decode_produce(r, pv)[(topic, 0)]
        assert res["error_code"] == weirtest.UNKNOWN_TOPIC_OR_PARTITION, res

        # Metadata asking for auto-creation does not create it either.
        mv = weirtest.pick_version(apis, weirtest.METADATA)
        r = conn.call(weirtest.METADATA, mv, weirtest.metadata_body(mv, [topic], allow_auto_topic_creation=True))
        md = weirtest.decode_metadata(r, mv)
        assert md["topics"][topic]["error_code"] == weirtest.UNKNOWN_TOPIC_OR_PARTITION, md["topics"]
    assert topic not in {t["topic"] for t in kcat_metadata(broker.bootstrap)["topics"]}


def produce_numbered(broker, topic, start, count):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    reports = []
    for i in range(start, start + count):
        producer.produce(topic, value=b"record-%d" % i, partition=0,
                         on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert all(err is None for err, _ in reports), reports[:3]
    assert sorted(off for _, off in reports) == list(range(start, start + count))


def values(broker, topic):
    return [r.value for r in weirtest.consume_all(broker.bootstrap, topic, [0])[0]]


def test_clean_shutdown_needs_no_recovery_but_kill_does(broker_factory, topic):
    broker = broker_factory.start()
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    produce_numbered(broker, topic, 0, 200)

    broker.stop()  # SIGTERM: asserts exit code 0
    broker.start()
    assert "recovering" not in broker.stderr_text().lower(), \
        "the broker scanned its logs after a clean shutdown:\n" + weirtest.tail(broker.stderr_text(), 4000)
    assert values(broker, topic) == [b"record-%d" % i for i in range(200)]

    produce_numbered(broker, topic, 200, 100)
    broker.kill()
    broker.start()
    assert "recovering" in broker.stderr_text().lower(), \
        "no 'recovering' log line after kill -9:\n" + weirtest.tail(broker.stderr_text(), 4000)
    assert values(broker, topic) == [b"record-%d" % i for i in range(300)]

    # And after that recovery, a clean stop is clean again.
    broker.stop()
    broker.start()
    assert "recovering" not in broker.stderr_text().lower()


def test_no_arguments_means_localhost_9092_and_weir_data(tmp_path):
    """`weir broker` with no arguments: 127.0.0.1:9092, data in ./weir-data."""
    import socket
    import subprocess

    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 9092))
    except OSError:
        pytest.skip("port 9092 is in use on this machine")
    finally:
        probe.close()
    proc = subprocess.Popen([str(weirtest.WEIR_BIN), "broker"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:9092" in line, line
        assert (tmp_path / "weir-data" / "meta.properties").is_file()
        md = kcat_metadata("127.0.0.1:9092")
        assert [b["name"] for b in md["brokers"]] == ["127.0.0.1:9092"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
