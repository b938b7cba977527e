"""kill -9 of the real broker in the middle of a log-cleaner pass: the
test watches the partition directory and sends SIGKILL the moment a
`.cleaned` or `.swap` file (a segment being rewritten or swapped in)
exists. After each restart the log must read back correctly: every key's
latest acknowledged value at its original offset, offsets strictly
increasing, the log end unchanged, and cleaning resumes."""

import random
import time

from confluent_kafka import Producer

import weirtest

OVERRIDES = {"log.retention.check.interval.ms": "20", "log.cleaner.dedupe.buffer.size": "1048576"}
KEYS = 2000
PER_ROUND = 60_000
ROUNDS = 4


def produce(bootstrap, topic, records):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    errors = []
    for key, value in records:
        p.produce(topic, value, key=key, on_delivery=lambda e, _m: e and errors.append(e))
        p.poll(0)
    assert p.flush(60) == 0 and not errors, errors


def cleaning_files(part_dir):
    return [p.name for p in part_dir.iterdir() if p.suffix in (".cleaned", ".swap")]


def test_kill9_during_cleaning_leaves_a_correct_log(broker_factory, topic):
    b = broker_factory.start(overrides=OVERRIDES)
    weirtest.create_topic(b.bootstrap, topic, config={
        "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "86400000", "min.compaction.lag.ms": "1500"})
    part_dir = b.data_dir / f"{topic}-0"
    rng = random.Random(7)
    latest: dict[bytes, tuple[int, bytes]] = {}
    offset = 0
    caught = []
    for rnd in range(ROUNDS):
        records = [(f"key-{rng.randrange(KEYS)}".encode(), f"r{rnd}-{i}".encode()) for i in range(PER_ROUND)]
        produce(b.bootstrap, topic, records)
        for key, value in records:
            latest[key] = (offset, value)
            offset += 1
        # min.compaction.lag.ms holds the cleaner back until producing is
        # over; SIGKILL as soon as it is rewriting a segment (bounded wait).
        deadline = time.monotonic() + 10
        files = []
        while time.monotonic() < deadline and not files:
            files = cleaning_files(part_dir)
        b.kill()
        caught.append(files)
        b.start()
    assert sum(1 for f in caught if f) >= 2, f"the cleaner was caught mid-pass too rarely: {caught}"

    bs = b.bootstrap
    assert weirtest.watermarks(bs, topic, 0)[1] == offset, "no acknowledged record lost, none added"

    def compacted():
        recs = weirtest.consume_all(bs, topic, [0], timeout=120)[0]
        return recs if len(recs) < offset // 2 else None

    recs = weirtest.wait_until(compacted, 90, "the cleaner compacting after the restarts", interval=1)
    offsets = [r.offset for r in recs]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    by_key: dict[bytes, tuple[int, bytes]] = {}
    for r in recs:
        by_key[r.key] = (r.offset, r.value)
    assert by_key == latest, "every key reads back its latest value at its original offset"
    assert "log cleaner compacted" in b.stderr_text()
