"""Idempotent producers whose Produce responses are lost: a proxy on
loopback forwards each Produce request to the broker but cuts the connection
instead of relaying some responses, after the broker has written the batch.
The client retries the same batch (same producer id, epoch and sequence) and
the broker answers with the original offset instead of appending it again:
the log holds every record exactly once, in order."""

import socket
import struct
import threading

import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer

import weirtest

PRODUCE = 0
N = 3000


class DroppingProxy:
    """Forwards whole frames both ways; drops the connection instead of
    relaying every `every`-th Produce response, at most `budget` times."""

    def __init__(self, every: int = 3, budget: int = 4):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.target = None
        self.every, self.budget = every, budget
        self.produce_responses = 0
        self.dropped = 0
        self.lock = threading.Lock()
        self.closed = False

    def start(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=30)
            pending = {}
            threading.Thread(target=self._pump_requests, args=(client, upstream, pending), daemon=True).start()
            threading.Thread(target=self._pump_responses, args=(upstream, client, pending), daemon=True).start()

    @staticmethod
    def _read_frame(sock):
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (size,) = struct.unpack(">i", head)
        body = bytearray()
        while len(body) < size:
            chunk = sock.recv(min(1 << 16, size - len(body)))
            if not chunk:
                return None
            body += chunk
        return head + bytes(body)

    def _pump_requests(self, src, dst, pending):
        try:
            while (frame := self._read_frame(src)) is not None:
                api_key, _version, corr = struct.unpack(">hhi", frame[4:12])
                pending[corr] = api_key
                dst.sendall(frame)
        except OSError:
            pass
        finally:
            _cut(src, dst)

    def _pump_responses(self, src, dst, pending):
        try:
            while (frame := self._read_frame(src)) is not None:
                (corr,) = struct.unpack(">i", frame[4:8])
                if pending.pop(corr, None) == PRODUCE:
                    with self.lock:
                        self.produce_responses += 1
                        drop = self.dropped < self.budget and self.produce_responses % self.every == 0
                        if drop:
                            self.dropped += 1
                    if drop:
                        return  # the batch is written; its response is lost
                dst.sendall(frame)
        except OSError:
            pass
        finally:
            _cut(src, dst)


def _cut(*socks):
    # shutdown() wakes the other pump blocked in recv() and sends FIN at once;
    # close() alone would leave the connection open while that recv() runs.
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


@pytest.fixture
def proxied(broker_factory):
    proxy = DroppingProxy()
    broker = broker_factory.start(overrides={"advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port}"})
    proxy.start(broker.port)
    yield broker, proxy
    proxy.close()


def produce_confluent(bootstrap, topic):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                  "batch.num.messages": 100, "retry.backoff.ms": 50, "message.timeout.ms": 60000})
    errors = []
    for i in range(N):
        p.produce(topic, str(i).encode(), partition=0, on_delivery=lambda e, _m: e and errors.append(e))
        p.poll(0)
    assert p.flush(90) == 0
    assert not errors, errors[:3]


def produce_kafka_python(bootstrap, topic):
    p = KafkaProducer(bootstrap_servers=[bootstrap], enable_idempotence=True, acks="all", linger_ms=5,
                      batch_size=2000)
    futures = [p.send(topic, value=str(i).encode(), partition=0) for i in range(N)]
    p.flush(timeout=90)
    for f in futures:
        f.get(timeout=5)
    p.close(timeout=10)


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_lost_produce_responses_are_retried_without_duplicates(proxied, topic, client):
    broker, proxy = proxied
    bootstrap = f"127.0.0.1:{proxy.port}"
    weirtest.create_topic(broker.bootstrap, topic, partitions=1)
    {"confluent": produce_confluent, "kafka-python": produce_kafka_python}[client](bootstrap, topic)
    assert proxy.dropped >= 1, "the proxy never dropped a Produce response: the test proved nothing"
    got = [int(r.value) for r in weirtest.consume_all(bootstrap, topic, [0])[0]]
    assert len(got) == N, f"{len(got)} records for {N} sent ({proxy.dropped} responses dropped)"
    assert got == list(range(N)), "records duplicated or out of order"
