"""Kafka clients pipeline requests on one connection and match responses by
order: responses must come back in request order even when an earlier
request (a long-polling Fetch) takes longer than later ones."""

import random
import struct
import time

import weirtest
from weirtest import API_VERSIONS, FETCH, LIST_OFFSETS, METADATA, RawConn, pick_version


def test_fifty_pipelined_requests_answered_in_order(broker, topic):
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    with RawConn(broker.bootstrap) as conn:
        apis = weirtest.api_versions(conn, 0).apis
    versions = {
        API_VERSIONS: pick_version(apis, API_VERSIONS),
        METADATA: pick_version(apis, METADATA),
        FETCH: pick_version(apis, FETCH),
        LIST_OFFSETS: pick_version(apis, LIST_OFFSETS),
    }
    bodies = {
        API_VERSIONS: weirtest.api_versions_body(versions[API_VERSIONS]),
        METADATA: weirtest.metadata_body(versions[METADATA], [topic], allow_auto_topic_creation=False),
        # Long poll on an empty partition: answered only after max_wait_ms.
        FETCH: weirtest.fetch_body(versions[FETCH], topic, 0, 0, max_wait_ms=200, min_bytes=1),
        LIST_OFFSETS: weirtest.list_offsets_body(versions[LIST_OFFSETS], topic, 0, weirtest.LATEST_TIMESTAMP),
    }
    rng = random.Random(42)
    kinds = [FETCH] + [rng.choice([API_VERSIONS, METADATA, FETCH, LIST_OFFSETS]) for _ in range(49)]
    # Correlation ids that are neither sequential nor sorted, so "in order" means
    # "in the order sent", not "sorted by id".
    corr_ids = rng.sample(range(1, 1_000_000), len(kinds))

    stream = b"".join(weirtest.encode_request(k, versions[k], c, bodies[k]) for k, c in zip(kinds, corr_ids))
    with RawConn(broker.bootstrap, timeout=30) as conn:
        started = time.monotonic()
        conn.send_raw(stream)  # all 50 at once, no waiting
        got = []
        for kind in kinds:
            payload = conn.recv_frame(timeout=30)
            (corr,) = struct.unpack(">i", payload[:4])
            got.append(corr)
            if kind == API_VERSIONS and corr == corr_ids[len(got) - 1]:
                # A light check that each answer belongs to its request: ApiVersions bodies parse.
                weirtest.decode_api_versions(weirtest.Reader(payload[4:]), versions[API_VERSIONS])
        elapsed = time.monotonic() - started
    assert got == corr_ids, f"first mismatch at response {next(i for i, (a, b) in enumerate(zip(got, corr_ids)) if a != b)}"
    # The first request is a 200 ms long poll; everything behind it waited for it.
    assert elapsed >= 0.15, f"50 responses in {elapsed:.3f}s: the Fetch did not wait for max_wait_ms"


def test_pipelined_produce_then_fetch_sees_the_data(broker, topic):
    """Requests on one connection take effect in order: a Fetch right behind a Produce sees its records."""
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    with RawConn(broker.bootstrap) as conn:
        apis = weirtest.api_versions(conn, 0).apis
    pv = pick_version(apis, weirtest.PRODUCE)
    lv = pick_version(apis, LIST_OFFSETS)
    batches = [weirtest.build_batch([(None, b"r%d-%d" % (i, j), []) for j in range(3)]) for i in range(10)]
    frames = []
    for i, batch in enumerate(batches):
        frames.append(weirtest.encode_request(weirtest.PRODUCE, pv, 100 + 2 * i,
                                              weirtest.produce_body(pv, topic, 0, batch, acks=1)))
        frames.append(weirtest.encode_request(LIST_OFFSETS, lv, 101 + 2 * i,
                                              weirtest.list_offsets_body(lv, topic, 0, weirtest.LATEST_TIMESTAMP)))
    with RawConn(broker.bootstrap, timeout=30) as conn:
        conn.send_raw(b"".join(frames))
        for i in range(10):
            r = conn.recv_response(weirtest.PRODUCE, pv, 100 + 2 * i)
            res = weirtest.decode_produce(r, pv)[(topic, 0)]
            assert (res["error_code"], res["base_offset"]) == (0, 3 * i), res
            r = conn.recv_response(LIST_OFFSETS, lv, 101 + 2 * i)
            res = weirtest.decode_list_offsets(r, lv)[(topic, 0)]
            assert (res["error_code"], res["offset"]) == (0, 3 * (i + 1)), res
