#!/usr/bin/env python3
"""Capture the request bytes that real Kafka clients send, as golden fixtures
for the codec tests in crates/weir-protocol.

A fake server on 127.0.0.1 reads whole frames and saves each request frame
(without its 4-byte length prefix) to

    crates/weir-protocol/tests/fixtures/<client>_<ApiName>_v<version>[_<variant>].bin

It answers just enough (hand-encoded ApiVersions, Metadata, InitProducerId,
Produce and CreateTopics responses) for each client to get past bootstrap
and send the requests we want: kcat's metadata listing and produce (plain and
gzip), kafka-python's admin create_topics and idempotent producer, and
confluent-kafka's producer. The first frame of each name wins.

    .venv/bin/python tests/capture_client_bytes.py [--out DIR] [--client kcat|kafka-python|confluent-kafka]
"""

from __future__ import annotations

import argparse
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import weirtest  # noqa: E402
from weirtest import (API_NAMES, API_VERSIONS, CREATE_TOPICS, INIT_PRODUCER_ID, METADATA, PRODUCE, Reader,  # noqa: E402
                      Writer, flexible)

NODE_ID = 1
TOPIC = "capture-topic"
# What the fake server advertises. Produce from v0 as a real broker must
# (KAFKA-18659). Fetch and ListOffsets are advertised (never answered) because
# librdkafka only uses record batch v2 (and so headers) when the broker has
# Produce v3+ *and* Fetch v4+; without them it silently falls back to magic 0.
ADVERTISED = {
    PRODUCE: (0, 11),
    weirtest.FETCH: (4, 12),
    weirtest.LIST_OFFSETS: (1, 7),
    METADATA: (0, 12),
    API_VERSIONS: (0, 3),
    CREATE_TOPICS: (2, 7),
    INIT_PRODUCER_ID: (0, 4),
}


def response_frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = Writer().i32(correlation_id)
    if flexible(api_key, version) and api_key != API_VERSIONS:
        header.uvarint(0)  # response header v1
    return weirtest.frame(header.bytes() + body)


def parse_request_header(payload: bytes) -> tuple[int, int, int, Reader]:
    r = Reader(payload)
    api_key, version, corr = r.i16(), r.i16(), r.i32()
    r.string()  # client_id (always a classic nullable string)
    if flexible(api_key, version):  # request header v2
        r.flexible = True
        r.tags()
    r.flexible = flexible(api_key, version)
    return api_key, version, corr, r


class FakeBroker:
    """Accepts connections on 127.0.0.1, records request frames, answers some."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames: list[tuple[int, int, bytes]] = []  # (api_key, version, payload)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buf = bytearray()
        try:
            while not self.stopping.is_set():
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 4:
                    (size,) = struct.unpack(">i", buf[:4])
                    if size < 0 or size > 64 << 20:
                        return
                    if len(buf) < 4 + size:
                        break
                    payload = bytes(buf[4:4 + size])
                    del buf[:4 + size]
                    reply = self._handle(payload)
                    if reply is None:
                        return
                    if reply:
                        conn.sendall(reply)
        except OSError:
            return
        finally:
            conn.close()

    def _handle(self, payload: bytes) -> bytes | None:
        api_key, version, corr, r = parse_request_header(payload)
        with self.lock:
            self.frames.append((api_key, version, payload))
        try:
            if api_key == API_VERSIONS:
                if version > ADVERTISED[API_VERSIONS][1]:
                    # KIP-511: UNSUPPORTED_VERSION in a v0 body; the client retries lower.
                    return weirtest.encode_api_versions_response(corr, 0, ADVERTISED, error_code=35)
                return weirtest.encode_api_versions_response(corr, version, ADVERTISED)
            if api_key == METADATA:
                return response_frame(api_key, version, corr, self._metadata(version, r))
            if api_key == INIT_PRODUCER_ID:
                w = Writer(flexible(api_key, version)).i32(0).i16(0).i64(4242).i16(0).tags()
                return response_frame(api_key, version, corr, w.bytes())
            if api_key == PRODUCE:
                return response_frame(api_key, version, corr, self._produce(version, r))
            if api_key == CREATE_TOPICS:
                return response_frame(api_key, version, corr, self._create_topics(version, r))
        except Exception as exc:  # noqa: BLE001 - a capture tool: report and hang up
            print(f"  (could not answer {API_NAMES.get(api_key, api_key)} v{version}: {exc!r})", file=sys.stderr)
        return None  # anything else: hang up

    def _metadata(self, version: int, r: Reader) -> bytes:
        def topic_name(rr: Reader) -> str | None:
            if version >= 10:
                rr.uuid()
            name = rr.string()
            rr.tags()
            return name

        requested = r.array(topic_name)
        names = [n for n in (requested or []) if n] or [TOPIC]
        w = Writer(flexible(METADATA, version))
        if version >= 3:
            w.i32(0)

        def broker(ww: Writer, _: object) -> None:
            ww.i32(NODE_ID).string("127.0.0.1").i32(self.port)
            if version >= 1:
                ww.string(None)
            ww.tags()

        w.array([None], broker)
        if version >= 2:
            w.string("weir-capture")
        if version >= 1:
            w.i32(NODE_ID)

        def partition(ww: Writer, _: object) -> None:
            ww.i16(0).i32(0).i32(NODE_ID)
            if version >= 7:
                ww.i32(0)
            ww.array([NODE_ID], lambda x, v: x.i32(v)).array([NODE_ID], lambda x, v: x.i32(v))
            if version >= 5:
                ww.array([], lambda x, v: x.i32(v))
            ww.tags()

        def topic(ww: Writer, name: str) -> None:
            ww.i16(0).string(name)
            if version >= 10:
                ww.uuid(b"\x01" * 16)
            if version >= 1:
                ww.boolean(False)
            ww.array([None], partition)
            if version >= 8:
                ww.i32(-2147483648)
            ww.tags()

        w.array(names, topic)
        if 8 <= version <= 10:
            w.i32(-2147483648)
        return w.tags().bytes()

    def _produce(self, version: int, r: Reader) -> bytes:
        r.string()  # transactional_id
        r.i16(), r.i32()  # acks, timeout

        def part(rr: Reader) -> int:
            index = rr.i32()
            rr.bytes_()
            rr.tags()
            return index

        def top(rr: Reader) -> tuple[str, list[int]]:
            name = rr.string()
            parts = rr.array(part) or []
            rr.tags()
            return name, parts

        topics = r.array(top) or []
        w = Writer(flexible(PRODUCE, version))

        def part_resp(ww: Writer, index: int) -> None:
            ww.i32(index).i16(0).i64(0).i64(-1)
            if version >= 5:
                ww.i64(0)
            if version >= 8:
                ww.array([], lambda x, v: None).string(None)
            ww.tags()

        w.array(topics, lambda ww, t: (ww.string(t[0]), ww.array(t[1], part_resp), ww.tags()))
        return w.i32(0).tags().bytes()

    def _create_topics(self, version: int, r: Reader) -> bytes:
        def topic(rr: Reader) -> tuple[str, int, int]:
            name, n, rf = rr.string(), rr.i32(), rr.i16()
            rr.array(lambda x: (x.i32(), x.array(lambda y: y.i32()), x.tags()))
            rr.array(lambda x: (x.string(), x.string(), x.tags()))
            rr.tags()
            return name, n, rf

        topics = r.array(topic) or []
        w = Writer(flexible(CREATE_TOPICS, version)).i32(0)

        def resp(ww: Writer, t: tuple[str, int, int]) -> None:
            ww.string(t[0])
            if version >= 7:
                ww.uuid(b"\x02" * 16)
            ww.i16(0).string(None)
            if version >= 5:
                ww.i32(t[1]).i16(t[2]).array(None, lambda x, v: None)
            ww.tags()

        w.array(topics, resp)
        return w.tags().bytes()


def run_kcat(fake: FakeBroker) -> None:
    bootstrap = f"127.0.0.1:{fake.port}"
    subprocess.run(["kcat", "-b", bootstrap, "-L", "-m", "5"], capture_output=True, timeout=30)
    yield_point("kcat", fake)
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", TOPIC, "-p", "0", "-K:", "-H", "h1=v1",
                    "-X", "linger.ms=5"], input=b"key1:value1\nkey2:value2\n", capture_output=True, timeout=30)
    yield_point("kcat", fake)
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", TOPIC, "-p", "0", "-X", "compression.codec=gzip"],
                   input=b"compressed 1\ncompressed 2\ncompressed 3\n", capture_output=True, timeout=30)
    yield_point("kcat", fake, variant="gzip")


def run_kafka_python(fake: FakeBroker) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    bootstrap = f"127.0.0.1:{fake.port}"
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], request_timeout_ms=5000)
    try:
        admin.create_topics([NewTopic(name=TOPIC, num_partitions=3, replication_factor=1,
                                      topic_configs={"retention.ms": "604800000"})])
    finally:
        admin.close()
    yield_point("kafka-python", fake)
    producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", linger_ms=5)
    producer.send(TOPIC, key=b"key1", value=b"value1", partition=0, headers=[("h1", b"v1")])
    producer.send(TOPIC, key=b"key2", value=b"value2", partition=0)
    producer.flush(timeout=10)
    producer.close(timeout=5)
    yield_point("kafka-python", fake)


def run_confluent(fake: FakeBroker) -> None:
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": f"127.0.0.1:{fake.port}", "linger.ms": 5, "acks": "all"})
    producer.produce(TOPIC, key=b"key1", value=b"value1", partition=0, headers=[("h1", b"v1")])
    producer.produce(TOPIC, key=b"key2", value=b"value2", partition=0)
    producer.flush(10)
    yield_point("confluent-kafka", fake)


OUT_DIR = weirtest.FIXTURES_DIR
SAVED: list[Path] = []


def yield_point(client: str, fake: FakeBroker, variant: str | None = None) -> None:
    """Save the frames received so far under `client` (first frame per name wins), then forget them."""
    time.sleep(0.3)
    with fake.lock:
        frames, fake.frames = fake.frames, []
    for api_key, version, payload in frames:
        name = f"{client}_{API_NAMES.get(api_key, f'Api{api_key}')}_v{version}"
        if variant and api_key == PRODUCE:
            name += f"_{variant}"
        path = OUT_DIR / f"{name}.bin"
        if path in SAVED:
            continue
        path.write_bytes(payload)
        SAVED.append(path)
        print(f"  {path.relative_to(weirtest.ROOT) if path.is_relative_to(weirtest.ROOT) else path} ({len(payload)} bytes)")


def main() -> int:
    global OUT_DIR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=weirtest.FIXTURES_DIR)
    parser.add_argument("--client", choices=["kcat", "kafka-python", "confluent-kafka"], action="append")
    args = parser.parse_args()
    OUT_DIR = args.out
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    runners = {"kcat": run_kcat, "kafka-python": run_kafka_python, "confluent-kafka": run_confluent}
    for client in args.client or list(runners):
        print(f"{client}:")
        fake = FakeBroker()
        try:
            runners[client](fake)
        except Exception as exc:  # noqa: BLE001 - keep what was captured
            print(f"  ({client} stopped with {exc!r}; frames captured so far are kept)")
            yield_point(client, fake)
        finally:
            fake.close()
    return 0 if SAVED else 1


if __name__ == "__main__":
    sys.exit(main())
