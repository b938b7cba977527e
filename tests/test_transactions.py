"""Transactions (exactly-once) against the real broker: confluent-kafka
and kafka-python transactional producers, read_committed consumers in
confluent-kafka, kafka-python and kcat, fencing by a second producer with
the same transactional.id, coordinator timeouts, a consume-transform-
produce processor killed with SIGKILL mid-transaction, and a broker killed
with SIGKILL while a transaction is open."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import weirtest

HERE = Path(__file__).resolve().parent


def txn_producer(bootstrap: str, txn_id: str | None = None, **extra) -> Producer:
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id or f"txn-{uuid.uuid4().hex[:8]}",
            "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def read_values(bootstrap: str, topic: str, partitions: int = 1, isolation: str = "read_committed",
                settle: float = 1.5, timeout: float = 30) -> list[bytes]:
    """Every record value readable at `isolation`, partition by partition in
    offset order: reads until each partition reports EOF (for read_committed
    that is the last stable offset) and nothing new arrived for `settle` s."""
    c = Consumer(weirtest.consumer_config(bootstrap, **{"isolation.level": isolation,
                                                          "enable.partition.eof": True}))
    out: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        eof: set[int] = set()
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                if len(eof) == partitions and time.monotonic() - quiet_since > settle:
                    break
                continue
            quiet_since = time.monotonic()
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            eof.discard(m.partition())
            out[m.partition()].append(m.value())
        else:
            raise AssertionError(f"read_values({topic}) did not reach EOF in {timeout}s")
    finally:
        c.close()
    return [v for p in range(partitions) for v in out[p]]


def test_committed_visible_aborted_hidden_for_every_client(broker, topic):
    bs = broker.bootstrap
    weirtest.create_topic(bs, topic)
    p = txn_producer(bs)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=f"c1-{i}".encode())
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=f"ab-{i}".encode())
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, value=f"c2-{i}".encode())
    p.commit_transaction(30)

    committed = [f"c1-{i}".encode() for i in range(10)] + [f"c2-{i}".encode() for i in range(3)]
    everything = committed[:10] + [f"ab-{i}".encode() for i in range(5)] + committed[10:]
    assert read_values(bs, topic, isolation="read_committed") == committed
    assert read_values(bs, topic, isolation="read_uncommitted") == everything
    # 18 data records and three markers.
    assert weirtest.watermarks(bs, topic, 0) == (0, 21)

    from kafka import KafkaConsumer
    kc = KafkaConsumer(topic, bootstrap_servers=bs, auto_offset_reset="earliest",
                       isolation_level="read_committed", consumer_timeout_ms=3000,
                       enable_auto_commit=False)
    try:
        assert [m.value for m in kc] == committed
    finally:
        kc.close()
    out = weirtest.kcat(bs, "-C", "-t", topic, "-e", "-q", "-f", "%s\\n",
                        "-X", "isolation.level=read_committed")
    assert out.stdout.decode().split() == [v.decode() for v in committed]


def test_open_transaction_holds_back_read_committed(broker, topic):
    bs = broker.bootstrap
    weirtest.create_topic(bs, topic)
    p = txn_producer(bs)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=f"t-{i}".encode())
    p.flush(30)
    plain = Producer({"bootstrap.servers": bs})
    for i in range(3):
        plain.produce(topic, value=f"plain-{i}".encode())
    plain.flush(30)
    # The open transaction starts at offset 0: nothing is stable yet.
    assert read_values(bs, topic, isolation="read_committed") == []
    assert len(read_values(bs, topic, isolation="read_uncommitted")) == 8
    p.commit_transaction(30)
    assert read_values(bs, topic, isolation="read_committed") == (
        [f"t-{i}".encode() for i in range(5)] + [f"plain-{i}".encode() for i in range(3)])


def test_second_producer_with_same_transactional_id_fences_the_first(broker, topic):
    bs = broker.bootstrap
    weirtest.create_topic(bs, topic)
    txn_id = f"fence-{uuid.uuid4().hex[:8]}"
    first = txn_producer(bs, txn_id)
    first.begin_transaction()
    first.produce(topic, value=b"zombie-1")
    first.flush(30)
    second = txn_producer(bs, txn_id)
    # The newer producer aborted the zombie's open transaction and bumped
    # the epoch: the zombie's next commit is fenced.
    with pytest.raises(KafkaException) as e:
        first.produce(topic, value=b"zombie-2")
        first.commit_transaction(30)
    err = e.value.args[0]
    assert err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                          KafkaError.INVALID_PRODUCER_EPOCH), err
    assert err.fatal(), err
    second.begin_transaction()
    second.produce(topic, value=b"live")
    second.commit_transaction(30)
    assert read_values(bs, topic, isolation="read_committed") == [b"live"]
    assert b"zombie-1" in read_values(bs, topic, isolation="read_uncommitted")


def test_kafka_python_transactional_producer(broker, topic):
    from kafka import KafkaProducer
    bs = broker.bootstrap
    weirtest.create_topic(bs, topic)
    kp = KafkaProducer(bootstrap_servers=bs, transactional_id=f"kp-{uuid.uuid4().hex[:8]}")
    try:
        kp.init_transactions()
        kp.begin_transaction()
        for i in range(4):
            kp.send(topic, value=f"kp-{i}".encode())
        kp.commit_transaction()
        kp.begin_transaction()
        kp.send(topic, value=b"kp-aborted")
        kp.flush()
        kp.abort_transaction()
    finally:
        kp.close()
    assert read_values(bs, topic, isolation="read_committed") == [f"kp-{i}".encode() for i in range(4)]
    assert read_values(bs, topic, isolation="read_uncommitted")[-1] == b"kp-aborted"


def test_coordinator_aborts_timed_out_transaction(broker_factory, topic):
    b = broker_factory.start(overrides={
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": 200,
        "transaction.state.log.num.partitions": 3,
    })
    bs = b.bootstrap
    weirtest.create_topic(bs, topic)
    p = txn_producer(bs, **{"transaction.timeout.ms": 3000, "socket.timeout.ms": 2000})
    p.begin_transaction()
    p.produce(topic, value=b"slow")
    p.flush(30)
    plain = Producer({"bootstrap.servers": bs})
    plain.produce(topic, value=b"after")
    plain.flush(30)
    # Only the coordinator's abort can make "after" stable.
    weirtest.wait_until(lambda: read_values(bs, topic, settle=0.3) == [b"after"], 20,
                        "the timed-out transaction to be aborted")
    assert "aborting timed-out transaction" in b.stderr_text()
    with pytest.raises(KafkaException):
        p.commit_transaction(15)


def fixed_port_broker(factory, **overrides) -> weirtest.Broker:
    """A broker that keeps its port across restarts, so clients reconnect."""
    import socket
    with socket.socket() as s:
        s.bind((weirtest.LOOPBACK, 0))
        port = s.getsockname()[1]
    b = factory.new(default_flags=False, overrides=overrides)
    b.extra_args = ["--listeners", f"PLAINTEXT://{weirtest.LOOPBACK}:{port}", "--log-dirs", str(b.data_dir)]
    return b.start()


def test_broker_kill9_recovers_open_transaction(broker_factory, topic):
    b = fixed_port_broker(broker_factory, **{"transaction.state.log.num.partitions": 3})
    bs = b.bootstrap
    weirtest.create_topic(bs, topic)
    p = txn_producer(bs)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=f"before-{i}".encode())
    p.flush(30)
    b.kill()
    b.start()
    # Restarted with the transaction still open: nothing is stable yet.
    assert read_values(bs, topic, isolation="read_committed") == []
    # The same producer goes on after reconnecting and commits: the
    # coordinator recovered the open transaction and its partitions.
    for i in range(5):
        p.produce(topic, value=f"after-{i}".encode())
    p.commit_transaction(60)
    assert read_values(bs, topic, isolation="read_committed") == (
        [f"before-{i}".encode() for i in range(5)] + [f"after-{i}".encode() for i in range(5)])


def run_processor(bs, src, dst, group, txn_id, pause, idle=6.0):
    return subprocess.Popen(
        [sys.executable, str(HERE / "txn_processor.py"), bs, src, dst, group, txn_id, str(pause), str(idle)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_consume_transform_produce_exactly_once_through_kill9(broker, topic):
    bs = broker.bootstrap
    src, dst = f"{topic}-in", f"{topic}-out"
    weirtest.create_topic(bs, src, partitions=3)
    weirtest.create_topic(bs, dst, partitions=3)
    n = 3000
    plain = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for i in range(n):
        plain.produce(src, key=str(i).encode(), value=f"v{i}".encode())
    plain.flush(30)
    group, txn_id = f"etl-{uuid.uuid4().hex[:6]}", f"etl-{uuid.uuid4().hex[:6]}"

    # First run: slow commits; SIGKILL right after a transaction's output
    # records reached the log, before its commit.
    proc = run_processor(bs, src, dst, group, txn_id, pause=0.5)
    commits = 0
    killed = False
    deadline = time.monotonic() + 90
    try:
        for line in proc.stdout:
            assert time.monotonic() < deadline, "processor too slow"
            if line.startswith("committed"):
                commits += 1
            elif line.startswith("begun") and commits >= 2:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait(30)
    assert killed, f"processor ended before it could be killed: {proc.stderr.read()}"

    # Second run with the same transactional.id and group finishes the job.
    proc = run_processor(bs, src, dst, group, txn_id, pause=0.0)
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, err
    assert "done" in out

    expected = sorted(f"out-v{i}".encode() for i in range(n))
    got = read_values(bs, dst, partitions=3, isolation="read_committed")
    assert len(got) == n, f"{len(got)} committed output records for {n} inputs"
    assert sorted(got) == expected
    # The killed transaction's records are in the log, aborted.
    uncommitted = read_values(bs, dst, partitions=3, isolation="read_uncommitted")
    assert len(uncommitted) > n
