"""Compression (issue: producer guarantees): every codec written by kcat
(librdkafka 2.0.2), confluent-kafka and kafka-python is validated by the
broker (decompressed and checked), stored as received, and read back
byte-identical by every other client; a topic's compression.type makes the
broker store that codec whatever the producer sent; a compressed batch whose
payload does not decompress is refused with CORRUPT_MESSAGE."""

import pytest
from confluent_kafka import Producer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.record.util import calc_crc32c

import weirtest
from weirtest import RawConn, kcat

CODECS = ["gzip", "snappy", "lz4", "zstd"]
CODEC_BITS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
N = 300


def values(codec):
    # Compressible, with a binary tail so byte-identical really means bytes.
    return [f"{codec}-{i}-".encode() + b"abc" * (i % 40) + bytes([i % 256, 0, 255]) for i in range(N)]


def produce_kcat(bootstrap, topic, codec, vals, tmp_path):
    # One file per record keeps binary values intact (kcat -P file mode).
    files = []
    for i, v in enumerate(vals):
        f = tmp_path / f"{topic}-{i}.bin"
        f.write_bytes(v)
        files.append(str(f))
    kcat(bootstrap, "-P", "-t", topic, "-p", "0", "-X", f"compression.codec={codec}", "-X", "linger.ms=100",
         *files)


def produce_confluent(bootstrap, topic, codec, vals, _tmp_path):
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 50})
    errors = []
    for v in vals:
        p.produce(topic, v, partition=0, on_delivery=lambda err, _m: err and errors.append(err))
    assert p.flush(30) == 0
    assert not errors, errors


def produce_kafka_python(bootstrap, topic, codec, vals, _tmp_path):
    p = KafkaProducer(bootstrap_servers=[bootstrap], compression_type=codec, linger_ms=50)
    futures = [p.send(topic, value=v, partition=0) for v in vals]
    p.flush(timeout=30)
    assert [f.get(timeout=5).offset for f in futures] == list(range(len(vals)))
    p.close(timeout=10)


def read_kafka_python(bootstrap, topic):
    c = KafkaConsumer(bootstrap_servers=[bootstrap], auto_offset_reset="earliest", consumer_timeout_ms=3000)
    c.assign([TopicPartition(topic, 0)])
    c.seek_to_beginning()
    out = [(m.offset, m.value) for m in c]
    c.close()
    return out


def read_kcat(bootstrap, topic):
    # %S is the value length: split the raw stream by lengths to keep binary values intact.
    raw = kcat(bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o %S\n%s").stdout
    out, pos = [], 0
    while pos < len(raw):
        nl = raw.index(b"\n", pos)
        off, size = (int(x) for x in raw[pos:nl].split())
        out.append((off, raw[nl + 1:nl + 1 + size]))
        pos = nl + 1 + size
    return out


PRODUCERS = {"kcat": produce_kcat, "confluent": produce_confluent, "kafka-python": produce_kafka_python}


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_every_client_reads_every_codec(broker, topic, producer, codec, tmp_path):
    t = f"{topic}-{producer}-{codec}"
    weirtest.create_topic(broker.bootstrap, t, partitions=1)
    vals = values(codec)
    PRODUCERS[producer](broker.bootstrap, t, codec, vals, tmp_path)
    want = list(enumerate(vals))
    assert [(r.offset, r.value) for r in weirtest.consume_all(broker.bootstrap, t, [0])[0]] == want, "confluent"
    assert read_kafka_python(broker.bootstrap, t) == want, "kafka-python"
    assert read_kcat(broker.bootstrap, t) == want, "kcat"
    # The broker stored the producer's codec (compression.type=producer).
    assert {b["codec"] for b in fetch_batches(broker.bootstrap, t)} == {CODEC_BITS[codec]}


def fetch_batches(bootstrap, topic):
    """Raw Fetch v4 of partition 0 from offset 0: each stored batch's base offset and codec bits."""
    with RawConn(bootstrap) as conn:
        r = conn.call(weirtest.FETCH, 4, weirtest.fetch_body(4, topic, 0, 0, max_wait_ms=0, min_bytes=0,
                                                               max_bytes=64 << 20, partition_max_bytes=64 << 20))
        r.i32()  # throttle
        (records,) = [x for x in r.array(_fetch_topic) for x in x]
    out, pos = [], 0
    while pos + 61 <= len(records):
        base = int.from_bytes(records[pos:pos + 8], "big", signed=True)
        length = int.from_bytes(records[pos + 8:pos + 12], "big")
        attributes = int.from_bytes(records[pos + 21:pos + 23], "big")
        out.append({"base_offset": base, "codec": attributes & 7})
        pos += 12 + length
    return out


def _fetch_topic(r):
    r.string()

    def part(rr):
        rr.i32()
        assert rr.i16() == 0
        rr.i64(), rr.i64()  # high watermark, last stable offset
        rr.array(lambda x: (x.i64(), x.i64()))  # aborted transactions
        return rr.bytes_() or b""

    return r.array(part)


def test_topic_compression_type_zstd_stores_zstd(broker, topic, tmp_path):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1, config={"compression.type": "zstd"})
    vals = values("recompressed")
    produce_kcat(broker.bootstrap, topic, "gzip", vals[:150], tmp_path)
    produce_confluent(broker.bootstrap, topic, "none", vals[150:], tmp_path)
    batches = fetch_batches(broker.bootstrap, topic)
    assert batches and {b["codec"] for b in batches} == {CODEC_BITS["zstd"]}, batches
    want = list(enumerate(vals))
    assert read_kcat(broker.bootstrap, topic) == want
    assert read_kafka_python(broker.bootstrap, topic) == want


def test_corrupt_compressed_payload_is_refused(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    batch = bytearray(weirtest.build_batch([(None, b"x" * 100, [])]))
    # Claim gzip for plain records and fix up the CRC: the batch is well formed
    # but its payload does not decompress.
    batch[22] |= CODEC_BITS["gzip"]
    batch[17:21] = calc_crc32c(bytes(batch[21:])).to_bytes(4, "big")
    with RawConn(broker.bootstrap) as conn:
        r = conn.call(weirtest.PRODUCE, 7, weirtest.produce_body(7, topic, 0, bytes(batch)))
        resp = weirtest.decode_produce(r, 7)
    assert resp[(topic, 0)]["error_code"] == 2, resp
    assert weirtest.watermarks(broker.bootstrap, topic, 0) == (0, 0), "nothing stored"
