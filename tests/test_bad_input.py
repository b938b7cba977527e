"""Hostile and broken input on raw sockets: the broker answers with Kafka's
error code or closes the connection where Kafka does, never crashes, keeps
serving other clients and stores nothing bad. Frames are hand-built with the
small codec in weirtest.py."""

import random
import struct

import pytest

import weirtest
from weirtest import (API_VERSIONS, CREATE_TOPICS, METADATA, PRODUCE, RawConn, Writer, api_versions,
                      assert_serving, build_batch, pick_version)

LIMIT_SOCKET_REQUEST_BYTES = 1_048_576
LIMIT_MESSAGE_BYTES = 1000


@pytest.fixture(scope="module")
def limits_broker(tmp_path_factory):
    """A broker with small socket.request.max.bytes and message.max.bytes."""
    b = weirtest.Broker(tmp_path_factory.mktemp("limits"), overrides={
        "socket.request.max.bytes": LIMIT_SOCKET_REQUEST_BYTES,
        "message.max.bytes": LIMIT_MESSAGE_BYTES,
    })
    b.start()
    yield b
    b.close()


@pytest.fixture(autouse=True)
def still_serving_after_each_case(request):
    """After every case: the broker that was attacked is alive and kcat -L works."""
    yield
    for name in ("broker", "limits_broker"):
        if name in request.fixturenames:
            assert_serving(request.getfixturevalue(name))


_APIS = {}


def apis_of(broker):
    """ApiVersions v0 of the broker, once per broker process."""
    key = (broker.pid, broker.port)
    if key not in _APIS:
        with RawConn(broker.bootstrap) as conn:
            _APIS[key] = api_versions(conn, 0).apis
    return _APIS[key]


def assert_new_connection_works(broker):
    with RawConn(broker.bootstrap) as conn:
        assert api_versions(conn, 0).apis


def assert_closed(conn, what):
    closed, data = conn.wait_closed(timeout=10)
    assert closed, f"{what}: broker did not close the connection within 10 s (received {len(data)} bytes)"


# ---------------------------------------------------------------- ApiVersions

def test_api_versions_unknown_version_gets_v0_error_response(broker):
    """KIP-511: a too-new ApiVersions gets UNSUPPORTED_VERSION in a v0-format
    body listing the supported ranges, so the client can retry lower."""
    with RawConn(broker.bootstrap) as conn:
        corr = conn.send(API_VERSIONS, 99, weirtest.api_versions_body(3))
        payload = conn.recv_frame()
        r = weirtest.Reader(payload)
        assert r.i32() == corr
        # Header v0: the body (error_code) follows the correlation id directly.
        resp = weirtest.decode_api_versions(r, 0)
        assert resp.error_code == weirtest.UNSUPPORTED_VERSION
        assert API_VERSIONS in resp.apis, resp.apis
        lo, hi = resp.apis[API_VERSIONS]
        assert lo == 0 and hi >= 3, resp.apis

        # The client retries on the same connection with a version it supports.
        again = api_versions(conn, min(hi, 3))
        assert again.apis[API_VERSIONS] == (lo, hi)


def test_api_versions_v3_flexible_body_with_v0_response_header(broker):
    """A wrong (v1, with tagged fields) response header here breaks librdkafka at bootstrap."""
    with RawConn(broker.bootstrap) as conn:
        corr = conn.send(API_VERSIONS, 3, weirtest.api_versions_body(3))
        payload = conn.recv_frame()
    r = weirtest.Reader(payload)
    assert r.i32() == corr
    assert payload[4:6] == b"\x00\x00", "error_code must follow the correlation id directly"
    resp = weirtest.decode_api_versions(r, 3)  # strict: must consume the frame exactly
    assert resp.error_code == 0
    for key, (lo, hi) in resp.apis.items():
        assert 0 <= lo <= hi, (key, lo, hi)
    assert resp.apis[API_VERSIONS][1] >= 3
    for key in (PRODUCE, weirtest.FETCH, weirtest.LIST_OFFSETS, METADATA, CREATE_TOPICS, weirtest.DELETE_TOPICS):
        assert key in resp.apis, f"{weirtest.API_NAMES[key]} not advertised: {resp.apis}"
    # KAFKA-18659: Produce is advertised from v0 (old versions are rejected when
    # used), or librdkafka silently turns compression off.
    assert resp.apis[PRODUCE][0] == 0, resp.apis[PRODUCE]
    assert resp.apis[PRODUCE][1] >= 3, resp.apis[PRODUCE]


@pytest.mark.parametrize("version", [0, 1, 2])
def test_api_versions_old_versions_for_older_clients(broker, version):
    """kafkajs speaks ApiVersions only up to v2."""
    with RawConn(broker.bootstrap) as conn:
        resp = api_versions(conn, version)
        v3 = api_versions(conn, 3)
    assert resp.apis == v3.apis


# ---------------------------------------------------------------- framing

def test_unknown_api_key_closes_connection(broker):
    with RawConn(broker.bootstrap) as conn:
        conn.send(999, 0, b"")
        assert_closed(conn, "API key 999")
    assert_new_connection_works(broker)


def test_unknown_version_of_known_api_closes_connection(broker):
    with RawConn(broker.bootstrap) as conn:
        conn.send(METADATA, 200, b"", header_version=2)
        assert_closed(conn, "Metadata v200")
    assert_new_connection_works(broker)


def test_frame_larger_than_socket_request_max_bytes(limits_broker):
    with RawConn(limits_broker.bootstrap) as conn:
        conn.send_raw(struct.pack(">i", 2 * 1024 * 1024) + b"\x00" * 1000)
        assert_closed(conn, "2 MiB frame with socket.request.max.bytes=1 MiB")
    assert_new_connection_works(limits_broker)


def test_frame_larger_than_default_limit(broker):
    """Default socket.request.max.bytes is 100 MiB; the broker must not try to buffer 200 MiB."""
    with RawConn(broker.bootstrap) as conn:
        conn.send_raw(struct.pack(">i", 200 * 1024 * 1024) + b"\x00" * 100)
        assert_closed(conn, "200 MiB frame")
    assert_new_connection_works(broker)


def test_negative_frame_length_closes_connection(broker):
    with RawConn(broker.bootstrap) as conn:
        conn.send_raw(b"\xff\xff\xff\xff" + b"\x00" * 16)
        assert_closed(conn, "frame length -1")
    assert_new_connection_works(broker)


def test_truncated_frame_then_close(broker):
    with RawConn(broker.bootstrap) as conn:
        conn.send_raw(struct.pack(">i", 100) + weirtest.request_header(API_VERSIONS, 0, 7))
    assert_new_connection_works(broker)


def test_half_sent_frame_does_not_block_other_clients(broker):
    with RawConn(broker.bootstrap) as stuck:
        stuck.send_raw(struct.pack(">i", 5000) + b"\x00\x12")
        for _ in range(3):
            assert_new_connection_works(broker)
        closed, _ = stuck.wait_closed(timeout=0.5)
        assert not closed, "an incomplete frame is no reason to close (the rest may be in flight)"


def test_garbage_bytes_close_connection(broker):
    rng = random.Random(7)
    garbage = bytearray(rng.getrandbits(8) for _ in range(1000))
    garbage[0] = 0x7F  # first four bytes read as a frame length of ~2 GB
    with RawConn(broker.bootstrap) as conn:
        conn.send_raw(bytes(garbage))
        assert_closed(conn, "1000 random bytes")
    assert_new_connection_works(broker)


def test_garbage_inside_well_sized_frame_closes_connection(broker):
    rng = random.Random(8)
    body = bytearray(rng.getrandbits(8) for _ in range(996))
    body[0:2] = b"\x7f\x7f"  # API key 32639: no such API
    with RawConn(broker.bootstrap) as conn:
        conn.send_raw(struct.pack(">i", len(body)) + bytes(body))
        assert_closed(conn, "random frame body")
    assert_new_connection_works(broker)


def test_hostile_array_count_does_not_allocate(broker):
    """A Metadata body that is just an array count of i32::MAX: a decode error
    (closed connection or error response), never a 100+ GB allocation."""
    versions = sorted({pick_version(apis_of(broker), METADATA, prefer=1), pick_version(apis_of(broker), METADATA)})
    rss_before = broker.rss_kib()
    for v in versions:
        if weirtest.flexible(METADATA, v):
            body = Writer().uvarint(0x7FFFFFFF + 1).bytes()  # compact array: count + 1
        else:
            body = b"\x7f\xff\xff\xff"
        with RawConn(broker.bootstrap) as conn:
            corr = conn.send(METADATA, v, body)
            closed, data = conn.wait_closed(timeout=10)
            if not closed:
                assert len(data) >= 8 and struct.unpack(">i", data[4:8])[0] == corr, \
                    f"Metadata v{v} with count i32::MAX: neither closed nor answered ({data[:64].hex()})"
        assert broker.alive(), f"broker died on Metadata v{v} with a hostile array count"
    growth_kib = broker.rss_kib() - rss_before
    assert growth_kib < 50 * 1024, f"RSS grew by {growth_kib} KiB on hostile array counts"
    assert_new_connection_works(broker)


# ---------------------------------------------------------------- Produce

def produce_raw(broker, topic, records, version=None, acks=-1):
    v = version if version is not None else pick_version(apis_of(broker), PRODUCE, prefer=9)
    with RawConn(broker.bootstrap) as conn:
        r = conn.call(PRODUCE, v, weirtest.produce_body(v, topic, 0, records, acks=acks))
        return weirtest.decode_produce(r, v)[(topic, 0)]


def consumed_values(broker, topic):
    out = weirtest.kcat(broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                        "-f", r"%o:%s\n").stdout.decode()
    return out.splitlines()


@pytest.mark.parametrize("where", ["payload", "crc-field"])
def test_produce_corrupt_crc_is_corrupt_message(broker, topic, where):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    good = build_batch([(b"k%d" % i, b"value-%d" % i, [("h", b"x")]) for i in range(5)])
    bad = bytearray(good)
    if where == "payload":
        bad[-1] ^= 0xFF
    else:
        bad[17] ^= 0x01  # CRC is bytes 17..20 of the batch header
    res = produce_raw(broker, topic, bytes(bad))
    assert res["error_code"] == weirtest.CORRUPT_MESSAGE, res
    assert weirtest.watermarks(broker.bootstrap, topic, 0) == (0, 0), "a corrupt batch was stored"

    res = produce_raw(broker, topic, good)
    assert (res["error_code"], res["base_offset"]) == (0, 0), res
    assert consumed_values(broker, topic) == [f"{i}:value-{i}" for i in range(5)]


def test_produce_batch_over_message_max_bytes(limits_broker, topic):
    weirtest.create_topic(limits_broker.bootstrap, topic, partitions=1)
    big = build_batch([(None, b"x" * (2 * LIMIT_MESSAGE_BYTES), [])])
    res = produce_raw(limits_broker, topic, big)
    assert res["error_code"] == weirtest.MESSAGE_TOO_LARGE, res
    assert weirtest.watermarks(limits_broker.bootstrap, topic, 0) == (0, 0)

    small = build_batch([(None, b"small", [])])
    res = produce_raw(limits_broker, topic, small)
    assert (res["error_code"], res["base_offset"]) == (0, 0), res


# ---------------------------------------------------------------- CreateTopics

def create_topics_raw(broker, topics, validate_only=False):
    v = pick_version(apis_of(broker), CREATE_TOPICS)
    with RawConn(broker.bootstrap) as conn:
        r = conn.call(CREATE_TOPICS, v, weirtest.create_topics_body(v, topics, validate_only=validate_only))
        return weirtest.decode_create_topics(r, v)


def metadata_topics(broker):
    v = pick_version(apis_of(broker), METADATA)
    with RawConn(broker.bootstrap) as conn:
        r = conn.call(METADATA, v, weirtest.metadata_body(v, None, allow_auto_topic_creation=False))
        return weirtest.decode_metadata(r, v)["topics"]


def test_create_topics_invalid_names_and_partition_counts(broker, topic):
    ok_249 = (topic + "-" + "n" * 249)[:249]
    cases = [
        ("bad/name", 1, weirtest.INVALID_TOPIC_EXCEPTION),
        ("x" * 250, 1, weirtest.INVALID_TOPIC_EXCEPTION),
        ("", 1, weirtest.INVALID_TOPIC_EXCEPTION),
        (".", 1, weirtest.INVALID_TOPIC_EXCEPTION),
        ("..", 1, weirtest.INVALID_TOPIC_EXCEPTION),
        ("spaces are bad", 1, weirtest.INVALID_TOPIC_EXCEPTION),
        (f"{topic}-neg", -5, weirtest.INVALID_PARTITIONS),
        (f"{topic}-zero", 0, weirtest.INVALID_PARTITIONS),
        (ok_249, 1, weirtest.NONE),
        (topic, 2, weirtest.NONE),
    ]
    res = create_topics_raw(broker, [(name, n, 1, {}) for name, n, _ in cases])
    for name, n, want in cases:
        assert name in res, f"no result for {name!r}"
        assert res[name]["error_code"] == want, (name[:40], n, res[name])
    existing = metadata_topics(broker)
    for name, _, want in cases:
        assert (name in existing) == (want == weirtest.NONE), name[:40]
    assert sorted(existing[topic]["partitions"]) == [0, 1]


def test_create_topics_validate_only_and_already_exists(broker, topic):
    res = create_topics_raw(broker, [(topic, 3, 1, {"retention.ms": "1000"})], validate_only=True)
    assert res[topic]["error_code"] == 0, res
    assert topic not in metadata_topics(broker)
    res = create_topics_raw(broker, [(topic, 3, 1, {})])
    assert res[topic]["error_code"] == 0, res
    res = create_topics_raw(broker, [(topic, 3, 1, {})])
    assert res[topic]["error_code"] == weirtest.TOPIC_ALREADY_EXISTS, res
