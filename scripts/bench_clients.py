#!/usr/bin/env python3
"""Produce/consume throughput of a release `weir` broker, driven by
confluent-kafka (librdkafka), with the broker's peak RSS.

    cargo build --release -p weir
    .venv/bin/python scripts/bench_clients.py [--records 1000000] [--size 1024]

Starts its own broker on an ephemeral loopback port with a temporary data
directory, creates a topic, produces N records (acks=1, linger.ms=5),
consumes them back from the beginning, and prints records/s, MB/s for both
phases, the broker's CPU time while producing and its peak RSS (from /proc). Run it on a quiet
machine: client and broker share the cores.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_seconds(pid):
    """CPU time of a process: the sum over its threads of the nanosecond
    run time in /proc/PID/task/*/schedstat (the broker's threads live as
    long as it does), else user + system ticks from /proc/PID/stat."""
    total, found = 0, False
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                    found = True
            except (FileNotFoundError, ProcessLookupError):
                pass  # the thread ended between listing and reading
    except FileNotFoundError:
        pass
    if found:
        return total / 1e9
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--bin", default=os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir")))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="broker property override (repeatable), e.g. admin.listener=none")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="weir-bench-")
    broker = subprocess.Popen(
        [args.bin, "broker", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", data,
         *[a for o in args.override for a in ("--override", o)]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = broker.stdout.readline()
        m = re.search(r"listening on ([0-9.]+):(\d+)", line)
        if not m:
            sys.exit(f"broker did not start: {line!r}")
        bootstrap = f"{m.group(1)}:{m.group(2)}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("bench", args.partitions, 1)])["bench"].result(30)

        value = os.urandom(args.size)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5,
                             "queue.buffering.max.messages": 1_000_000, "batch.size": 1_000_000})
        failures = [0]

        def on_delivery(err, _msg):
            if err is not None:
                failures[0] += 1

        cpu0 = cpu_seconds(broker.pid)
        t0 = time.perf_counter()
        for i in range(args.records):
            while True:
                try:
                    producer.produce("bench", value, partition=i % args.partitions, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.01)
            if i % 10_000 == 0:
                producer.poll(0)
        producer.flush(120)
        produce_s = time.perf_counter() - t0
        produce_cpu = cpu_seconds(broker.pid) - cpu0
        rss_after_produce = rss_kib(broker.pid, "VmRSS")

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                             "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
        consumer.assign([TopicPartition("bench", p, 0) for p in range(args.partitions)])
        got = 0
        t0 = time.perf_counter()
        deadline = time.time() + 300
        while got < args.records and time.time() < deadline:
            for msg in consumer.consume(10_000, 1.0):
                if msg.error() is None:
                    got += 1
        consume_s = time.perf_counter() - t0
        consumer.close()
        del producer, admin, consumer  # close client connections before the broker stops

        mb = args.records * args.size / 1e6
        result = {
            "records": args.records, "record_size": args.size, "partitions": args.partitions,
            "produce_failures": failures[0], "consumed": got,
            "produce_records_per_s": round(args.records / produce_s),
            "produce_mb_per_s": round(mb / produce_s, 1),
            "produce_broker_cpu_s": round(produce_cpu, 2),
            "produce_broker_cpu_us_per_record": round(produce_cpu * 1e6 / args.records, 3),
            "consume_records_per_s": round(got / consume_s),
            "consume_mb_per_s": round(got * args.size / 1e6 / consume_s, 1),
            "broker_rss_after_produce_mib": round(rss_after_produce / 1024, 1),
            "broker_peak_rss_mib": round(rss_kib(broker.pid, "VmHWM") / 1024, 1),
            "cpus": os.cpu_count(),
        }
        if args.json:
            print(json.dumps(result))
        else:
            for k, v in result.items():
                print(f"{k:32} {v}")
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(30)
        except subprocess.TimeoutExpired:
            broker.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
