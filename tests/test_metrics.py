"""The admin HTTP listener: /health, /ready and /metrics in the Prometheus
text format, parsed with prometheus_client's parser. Counters match what
the test produced and consumed (records and bytes per topic), the
consumer-group lag matches `weir groups describe`, error codes of any API
are counted once per failed resource, network bytes match the frames on
the wire, and partition states and log dir sizes follow the metadata and
the partition sizes."""

import json
import subprocess
import urllib.request

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource
from prometheus_client.parser import text_string_to_metric_families

import weirtest


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def scrape(broker):
    status, body = get(broker.admin_url() + "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_health_ready_and_metrics_match_traffic(broker_factory, topic):
    b = broker_factory.start()
    bs = b.bootstrap
    assert get(b.admin_url() + "/health") == (200, "ok\n")
    assert get(b.admin_url() + "/ready") == (200, "ready\n")
    weirtest.create_topic(bs, topic)
    n = 500
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, f"value-{i:04d}".encode(), key=str(i).encode())
    assert p.flush(30) == 0

    before = scrape(b)
    assert value(before, "weir_records_in_total", topic=topic) == n
    bytes_in = value(before, "weir_bytes_in_total", topic=topic)
    assert bytes_in > n * len("value-0000")

    # Consume everything once in a group and commit offset 200.
    group = f"metrics-{topic}"
    c = Consumer(weirtest.consumer_config(bs, **{"group.id": group}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    while got < n:
        m = c.poll(5)
        assert m is not None, f"consumed only {got}"
        if not m.error():
            got += 1
    c.commit(offsets=[TopicPartition(topic, 0, 200)], asynchronous=False)
    c.close()

    after = scrape(b)
    assert value(after, "weir_records_out_total", topic=topic) >= n
    assert value(after, "weir_bytes_out_total", topic=topic) >= bytes_in
    lag = value(after, "weir_consumer_group_lag", group=group, topic=topic, partition="0")
    assert lag == n - 200
    out = subprocess.run([str(weirtest.WEIR_BIN), "groups", "describe", group,
                          "--bootstrap-server", bs, "--output", "json"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.splitlines()[0])["partitions"]
    assert [r["lag"] for r in rows if r["topic"] == topic] == [lag]

    assert value(after, "weir_requests_total", api="Produce") >= 1
    assert value(after, "weir_request_duration_seconds_count", api="Fetch") >= 1
    assert value(after, "weir_active_connections") >= 0
    assert value(after, "weir_partitions", state="online") >= 1
    assert value(after, "weir_log_size_bytes", topic=topic, partition="0") >= bytes_in
    assert value(after, "weir_process_resident_memory_bytes") > 1 << 20
    assert any(k[0] == "weir_log_dir_free_bytes" for k in after)


def counter(samples, name, **labels):
    """A counter's value, 0 if it has not been created yet."""
    return value(samples, name, **labels) or 0


def family(samples, name):
    """{labels: value} of every sample of `name`."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_errors_network_partition_states_and_dir_sizes(broker_factory, topic):
    b = broker_factory.start()
    bs = b.bootstrap
    strict = f"{topic}-strict"
    weirtest.create_topic(bs, topic, partitions=2)
    weirtest.create_topic(bs, strict, partitions=3, config={"min.insync.replicas": "2"})

    # Traffic: produce, then consume everything back.
    n = 300
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, f"value-{i:04d}".encode(), key=str(i).encode(), partition=i % 2)
    assert p.flush(30) == 0
    del p
    consumed = weirtest.consume_all(bs, topic, [0, 1])
    assert sum(len(v) for v in consumed.values()) == n

    # An API that is neither Produce nor Fetch answering an error:
    # DescribeConfigs of a topic that does not exist (UNKNOWN_TOPIC_OR_PARTITION).
    admin = weirtest.admin(bs)
    missing = ConfigResource(ConfigResource.Type.TOPIC, f"{topic}-missing")
    fut = admin.describe_configs([missing], request_timeout=20)[missing]
    err = fut.exception(timeout=25)
    assert isinstance(err, KafkaException)
    assert err.args[0].code() == weirtest.UNKNOWN_TOPIC_OR_PARTITION
    cluster_partitions = sum(len(t.partitions) for t in admin.list_topics(timeout=20).topics.values())
    del admin, fut, err

    after_traffic = scrape(b)
    assert counter(after_traffic, "weir_request_errors_total",
                   api="DescribeConfigs", error=str(weirtest.UNKNOWN_TOPIC_OR_PARTITION)) == 1
    received = value(after_traffic, "weir_network_received_bytes_total")
    sent = value(after_traffic, "weir_network_sent_bytes_total")
    # Every produced batch arrived inside a request frame; every fetched one left in a response.
    assert received >= value(after_traffic, "weir_bytes_in_total", topic=topic) > n * len("value-0000")
    assert sent >= value(after_traffic, "weir_bytes_out_total", topic=topic) > 0

    # Partition states: one node, replication factor 1, so only the topic
    # asking for 2 in-sync replicas is under min ISR, and nothing is
    # under-replicated or offline.
    assert value(after_traffic, "weir_under_min_isr_partitions") == 3
    assert value(after_traffic, "weir_under_replicated_partitions") == 0
    assert value(after_traffic, "weir_partitions", state="offline") == 0
    assert value(after_traffic, "weir_partitions", state="online") == cluster_partitions
    assert cluster_partitions >= 5

    # Log dir size is the sum of the partition sizes in the same scrape.
    dirs = family(after_traffic, "weir_log_dir_size_bytes")
    assert [dict(k) for k in dirs] == [dict(k) for k in family(after_traffic, "weir_log_dir_free_bytes")]
    assert len(dirs) == 1
    partition_bytes = sum(family(after_traffic, "weir_log_size_bytes").values())
    assert list(dirs.values()) == [partition_bytes]
    assert partition_bytes >= value(after_traffic, "weir_bytes_in_total", topic=topic)

    # One raw CreateTopics request on a quiet broker: two invalid names and
    # one that exists. Each failed topic counts once, and the network
    # counters grow by exactly this request and its response.
    weirtest.wait_until(lambda: value(scrape(b), "weir_active_connections") == 0, 20,
                        "librdkafka clients to disconnect")
    quiet = scrape(b)
    version = 5
    body = weirtest.create_topics_body(version, [("bad name!", 1, 1, {}), ("..", 1, 1, {}),
                                                 (topic, 1, 1, {})])
    request = weirtest.encode_request(weirtest.CREATE_TOPICS, version, 1, body)
    with weirtest.RawConn(bs) as conn:
        conn.send_raw(request)
        payload = conn.recv_frame()
    r = weirtest.Reader(payload)
    assert r.i32() == 1  # correlation id
    r.flexible = True
    r.tags()
    results = weirtest.decode_create_topics(r, version)
    assert {k: t["error_code"] for k, t in results.items()} == {
        "bad name!": weirtest.INVALID_TOPIC_EXCEPTION,
        "..": weirtest.INVALID_TOPIC_EXCEPTION,
        topic: weirtest.TOPIC_ALREADY_EXISTS,
    }
    weirtest.wait_until(lambda: value(scrape(b), "weir_active_connections") == 0, 20,
                        "the raw connection to close")
    last = scrape(b)

    def delta(name, **labels):
        return counter(last, name, **labels) - counter(quiet, name, **labels)

    assert delta("weir_request_errors_total", api="CreateTopics",
                 error=str(weirtest.INVALID_TOPIC_EXCEPTION)) == 2
    assert delta("weir_request_errors_total", api="CreateTopics",
                 error=str(weirtest.TOPIC_ALREADY_EXISTS)) == 1
    assert delta("weir_requests_total", api="CreateTopics") == 1
    assert delta("weir_network_received_bytes_total") == len(request)
    assert delta("weir_network_sent_bytes_total") == 4 + len(payload)
