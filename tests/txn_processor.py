"""A consume-transform-produce processor with exactly-once semantics, as
the guide writes one with confluent-kafka: it reads `in_topic` in a
consumer group (read_committed), writes one output record per input record
to `out_topic` inside a transaction, and commits the consumed offsets in
the same transaction with `send_offsets_to_transaction`.

Run as a child process by test_transactions.py, which kills it with
SIGKILL in the middle of a transaction. Prints one line per step:
`begun N` once a transaction's output records are in the broker's log
(flushed, not yet committed), `committed N` after each commit. Stops after
`idle_s` seconds without input or `max_s` seconds in all.

usage: txn_processor.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TXN_ID [PAUSE_S] [IDLE_S] [MAX_S]
"""

import sys
import time

from confluent_kafka import Consumer, Producer


def main() -> None:
    bootstrap, in_topic, out_topic, group, txn_id = sys.argv[1:6]
    pause = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    idle_s = float(sys.argv[7]) if len(sys.argv) > 7 else 5.0
    max_s = float(sys.argv[8]) if len(sys.argv) > 8 else 120.0
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 100,
    })
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "transaction.timeout.ms": 60000,
        "linger.ms": 5,
    })
    producer.init_transactions(30)
    consumer.subscribe([in_topic])
    start = last_input = time.monotonic()
    while time.monotonic() - start < max_s and time.monotonic() - last_input < idle_s:
        msgs = [m for m in consumer.consume(200, timeout=0.5) if not m.error()]
        if not msgs:
            continue
        last_input = time.monotonic()
        producer.begin_transaction()
        for m in msgs:
            producer.produce(out_topic, key=m.key(), value=b"out-" + m.value())
        producer.flush(30)
        print(f"begun {len(msgs)}", flush=True)
        time.sleep(pause)
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
        print(f"committed {len(msgs)}", flush=True)
    consumer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
