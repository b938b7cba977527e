"""kcat (librdkafka 2.0.2 from Debian) against the real broker: metadata
listing, producing with keys and headers, consuming back byte-identical."""

import json
import random
import re
import struct

import weirtest
from weirtest import kcat, kcat_metadata

N = 100


def expected_lines(n: int) -> list[tuple[str, str]]:
    # Values exercise spaces, UTF-8, punctuation and an empty value.
    values = [f"value {i} é ✓ <{'x' * (i % 7)}>" for i in range(n)]
    values[n // 2] = ""
    return [(f"key-{i % 10}", v) for i, v in enumerate(values)]


def test_list_metadata_shows_broker_and_topic_partitions(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=3)

    out = kcat(broker.bootstrap, "-L", "-m", "10").stdout.decode()
    brokers = re.findall(r"broker (-?\d+) at ([0-9.]+):(\d+)", out)
    assert len(brokers) == 1, out
    broker_id, host, port = brokers[0]
    assert (host, int(port)) == ("127.0.0.1", broker.port), out
    assert f' topic "{topic}" with 3 partitions:' in out, out
    for p in range(3):
        assert re.search(rf"partition {p}, leader {broker_id}, replicas: {broker_id}, isrs: {broker_id}", out), out

    out = kcat(broker.bootstrap, "-L", "-t", topic, "-m", "10").stdout.decode()
    assert f' topic "{topic}" with 3 partitions:' in out, out


def test_list_metadata_json(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=3)

    md = kcat_metadata(broker.bootstrap)
    assert len(md["brokers"]) == 1, md
    (b,) = md["brokers"]
    assert b["name"] == f"127.0.0.1:{broker.port}", md
    assert md["controllerid"] == b["id"], md
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics, md
    t = topics[topic]
    assert "error" not in t, t
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2], t
    for p in parts:
        assert "error" not in p, p
        assert p["leader"] == b["id"], p
        assert [r["id"] for r in p["replicas"]] == [b["id"]], p
        assert [r["id"] for r in p["isrs"]] == [b["id"]], p

    # Asking for one topic returns just that topic.
    md = kcat_metadata(broker.bootstrap, topic)
    assert [t["topic"] for t in md["topics"]] == [topic], md


def produce_keyed_with_headers(broker, topic, lines):
    data = "".join(f"{k}:{v}\n" for k, v in lines)
    kcat(broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-H", "a=b", "-H", "trace=x y z", input=data)


def test_produce_keys_headers_consume_back_identical(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    lines = expected_lines(N)
    produce_keyed_with_headers(broker, topic, lines)

    out = kcat(broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", r"%o|%k|%s|%h\n").stdout.decode()
    want = "".join(f"{i}|{k}|{v}|a=b,trace=x y z\n" for i, (k, v) in enumerate(lines))
    assert out == want


def test_consume_json_envelope(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    lines = expected_lines(N)
    produce_keyed_with_headers(broker, topic, lines)

    out = kcat(broker.bootstrap, "-C", "-J", "-t", topic, "-o", "beginning", "-e", "-q").stdout.decode()
    msgs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(msgs) == N, out[-2000:]
    for i, (m, (k, v)) in enumerate(zip(msgs, lines)):
        assert (m["topic"], m["partition"], m["offset"]) == (topic, 0, i), m
        assert m["key"] == k, m
        # kcat may send an empty input line as a NULL value; either way it must round-trip as empty
        assert m["payload"] == v or (v == "" and m["payload"] is None), m
        headers = m.get("headers")
        if isinstance(headers, list):  # kcat 1.7 prints ["name", "value", ...]
            headers = dict(zip(headers[0::2], headers[1::2]))
        assert headers == {"a": "b", "trace": "x y z"}, m
        assert m["tstype"] == "create", m
        assert m["ts"] > 0, m


def test_binary_values_per_file_mode(broker, topic, tmp_path):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    rng = random.Random(20240601)
    sizes = [1, 2, 255, 256, 4096, 65_537, 200_000, 17]
    payloads = [bytes(rng.getrandbits(8) for _ in range(n)) for n in sizes]
    payloads.append(b"\x00\n\r\xff" * 64)  # delimiters and NULs must not split a per-file message
    files = []
    for i, data in enumerate(payloads):
        path = tmp_path / f"blob{i}.bin"
        path.write_bytes(data)
        files.append(str(path))

    # Without -l every file is one message.
    kcat(broker.bootstrap, "-P", "-t", topic, "-p", "0", *files)

    out = kcat(broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%R%s").stdout
    got, pos = [], 0
    while pos < len(out):
        (n,) = struct.unpack(">i", out[pos:pos + 4])
        got.append(out[pos + 4:pos + 4 + n])
        pos += 4 + n
    assert len(got) == len(payloads), [len(g) for g in got]
    for i, (g, want) in enumerate(zip(got, payloads)):
        assert g == want, f"message {i}: {len(g)} bytes back, {len(want)} sent, first diff at " \
                          f"{next((j for j, (a, b) in enumerate(zip(g, want)) if a != b), min(len(g), len(want)))}"


def test_keyed_produce_across_partitions(broker, topic):
    """With a partitioner, every key lands in one partition, and each partition keeps produce order."""
    weirtest.create_topic(broker.bootstrap, topic, partitions=3)
    lines = [(f"user-{i % 12}", f"event {i}") for i in range(120)]
    kcat(broker.bootstrap, "-P", "-t", topic, "-K:", input="".join(f"{k}:{v}\n" for k, v in lines))

    out = kcat(broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", r"%p|%o|%k|%s\n").stdout.decode()
    rows = [line.split("|") for line in out.splitlines()]
    assert sorted((k, v) for _, _, k, v in rows) == sorted(lines)
    partition_of = {}
    for p, _, k, _ in rows:
        assert partition_of.setdefault(k, p) == p, f"key {k} in partitions {partition_of[k]} and {p}"
    assert len(set(partition_of.values())) > 1, "12 keys all hashed to one partition"
    for p in {r[0] for r in rows}:
        in_p = [r for r in rows if r[0] == p]
        assert [int(r[1]) for r in in_p] == list(range(len(in_p)))
        events = [int(r[3].split()[1]) for r in in_p]
        assert events == sorted(events), f"partition {p} out of produce order"


def test_compressed_produce_roundtrip(broker, topic):
    """librdkafka compresses batches; the broker stores them as received and serves them back."""
    lines = [(f"k{i}", f"compressible value {i} " + "abc" * 50) for i in range(200)]
    expected = "".join(f"{i}|{k}|{v}\n" for i, (k, v) in enumerate(lines))
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        t = f"{topic}-{codec}"
        weirtest.create_topic(broker.bootstrap, t, partitions=1)
        kcat(broker.bootstrap, "-P", "-t", t, "-p", "0", "-K:", "-X", f"compression.codec={codec}",
             "-X", "linger.ms=50", input="".join(f"{k}:{v}\n" for k, v in lines))
        out = kcat(broker.bootstrap, "-C", "-t", t, "-o", "beginning", "-e", "-q",
                   "-f", r"%o|%k|%s\n").stdout.decode()
        assert out == expected, f"{codec}: round trip differs"
