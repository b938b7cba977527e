"""kill -9 during produce with acks=all, restart, and prove that every
acknowledged record is there exactly once, at its acknowledged offset, with
identical bytes, and that nothing torn or foreign is ever served.

The broker is killed at a random moment (seeded: set WEIR_CRASH_SEED to
replay) in three rounds on the same data directory, so later rounds also
recover logs that were themselves recovered."""

import hashlib
import os
import random
import time

from confluent_kafka import Producer

import weirtest

ROUNDS = 3
PARTITIONS = 2
SEGMENT_BYTES = 1_048_576  # small segments: the crash usually spans several


def value_for(seq: int) -> bytes:
    """Deterministic, self-checking value: any torn or foreign record fails the comparison."""
    size = 40 + (seq * 7919) % 1500
    body = hashlib.sha256(str(seq).encode()).digest() * (size // 32 + 1)
    return f"seq={seq:09d};".encode() + body[:size]


def seq_of(value: bytes) -> int:
    assert value.startswith(b"seq="), f"foreign record {value[:40]!r}"
    seq = int(value[4:13])
    assert value == value_for(seq), f"record for seq {seq} has corrupt bytes"
    return seq


def produce_until_killed(broker, topic, first_seq, kill_after_acks, rng, acked):
    """Produce numbered records (acks=all) until `kill_after_acks` are acknowledged,
    then kill -9 the broker mid-stream. Adds (partition, offset) -> seq to `acked`
    for every delivery report without error. Returns the next unused seq."""
    producer = Producer({
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "linger.ms": 2,
        "enable.idempotence": False,
        "message.send.max.retries": 0,  # a retry could duplicate an unacknowledged write
        "message.timeout.ms": 10_000,
        "queue.buffering.max.messages": 20_000,
    })
    acks_this_round = [0]

    def on_delivery(err, msg):
        if err is None:
            key = (msg.partition(), msg.offset())
            assert key not in acked, f"offset {key} acknowledged twice"
            acked[key] = int(msg.key())
            acks_this_round[0] += 1

    seq = first_seq
    deadline = time.monotonic() + 60
    killed_at = None
    while killed_at is None:
        assert time.monotonic() < deadline, f"only {acks_this_round[0]} acks in 60 s (wanted {kill_after_acks})"
        for _ in range(rng.randint(1, 50)):
            try:
                producer.produce(topic, key=str(seq).encode(), value=value_for(seq), partition=seq % PARTITIONS,
                                 on_delivery=on_delivery)
            except BufferError:
                break
            seq += 1
        producer.poll(0.001)
        if acks_this_round[0] >= kill_after_acks:
            broker.kill()
            killed_at = acks_this_round[0]
    # Whatever was in flight fails now (the broker is gone); keep only real acks.
    producer.purge(in_queue=True, in_flight=True)
    producer.flush(15)
    return seq, killed_at


def check_log(broker, topic, acked, round_no, seed):
    got = weirtest.consume_all(broker.bootstrap, topic, range(PARTITIONS), timeout=120)
    where = f"(round {round_no}, seed {seed})"
    seen_seqs = set()
    for p in range(PARTITIONS):
        records = got[p]
        offsets = [r.offset for r in records]
        assert offsets == list(range(len(records))), f"partition {p}: offsets not contiguous from 0 {where}"
        last_seq = -1
        for r in records:
            seq = seq_of(r.value)  # fails on torn/garbage values
            assert r.key == str(seq).encode(), f"key/value mismatch at {p}/{r.offset} {where}"
            assert seq % PARTITIONS == p, f"seq {seq} in partition {p} {where}"
            assert seq not in seen_seqs, f"seq {seq} stored twice {where}"
            assert seq > last_seq, f"partition {p}: seq {seq} after {last_seq} at offset {r.offset} {where}"
            seen_seqs.add(seq)
            last_seq = seq
    stored = {(p, r.offset): seq_of(r.value) for p in range(PARTITIONS) for r in got[p]}
    missing = {k: v for k, v in acked.items() if stored.get(k) != v}
    assert not missing, (f"{len(missing)} of {len(acked)} acknowledged records lost or changed {where}: "
                         + ", ".join(f"{k}: acked seq {v}, stored {stored.get(k)}" for k, v in sorted(missing.items())[:10]))
    return {p: len(got[p]) for p in range(PARTITIONS)}


def test_kill_during_acks_all_produce_loses_nothing_acknowledged(broker_factory):
    seed = int(os.environ.get("WEIR_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    broker = broker_factory.start(overrides={"log.segment.bytes": SEGMENT_BYTES})
    topic = weirtest.unique_topic("crash")
    weirtest.create_topic(broker.bootstrap, topic, partitions=PARTITIONS)

    acked: dict[tuple[int, int], int] = {}
    seq = 0
    for round_no in range(1, ROUNDS + 1):
        kill_after = rng.randint(100, 3000)
        seq, killed_at = produce_until_killed(broker, topic, seq, kill_after, rng, acked)
        assert killed_at >= kill_after
        broker.start()
        ends = check_log(broker, topic, acked, round_no, seed)

        # The recovered log takes new writes right after its end.
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1})
        reports = []
        for p in range(PARTITIONS):
            s = seq + ((p - seq) % PARTITIONS)  # the next seq that belongs to partition p
            producer.produce(topic, key=str(s).encode(), value=value_for(s), partition=p,
                             on_delivery=lambda err, msg, s=s: reports.append((err, msg.partition(), msg.offset(), s)))
        assert producer.flush(30) == 0
        seq += PARTITIONS
        for err, p, off, s in reports:
            assert err is None, err
            assert off == ends[p], f"after recovery partition {p} appended at {off}, log end was {ends[p]} (seed {seed})"
            acked[(p, off)] = s
    check_log(broker, topic, acked, "final", seed)
