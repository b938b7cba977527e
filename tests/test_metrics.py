"""The admin HTTP listener: /health, /ready and /metrics in the Prometheus
text format, parsed with prometheus_client's parser. Counters match what
the test produced and consumed (records and bytes per topic) and the
consumer-group lag matches `weir groups describe`."""

import json
import subprocess
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
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
