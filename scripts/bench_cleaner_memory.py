#!/usr/bin/env python3
"""Peak memory of the log cleaner compacting a partition with many distinct
keys (default 10 million), measured on a release `weir` broker.

    cargo build --release -p weir
    .venv/bin/python scripts/bench_cleaner_memory.py [--keys 10000000] [--updates 1000000]

Starts its own broker (loopback, temporary data dir), produces --keys
records with distinct keys plus --updates records overwriting the first
keys into a `cleanup.policy=delete` topic (no cleaning yet), notes the
broker's RSS, resets its peak-RSS counter (/proc/PID/clear_refs), switches
the topic to `cleanup.policy=compact` with IncrementalAlterConfigs and waits
until the cleaner has covered the whole log. Prints the peak RSS while
cleaning, the cleaner passes (the key map holds
`log.cleaner.dedupe.buffer.size` bytes, so a log with more keys takes
several passes, each cleaning a prefix), and the log size before and after.
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

from confluent_kafka import Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPIC = "keys"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".log"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=10_000_000)
    ap.add_argument("--updates", type=int, default=1_000_000)
    ap.add_argument("--dedupe-buffer", type=int, default=32 << 20,
                    help="log.cleaner.dedupe.buffer.size (the broker default)")
    ap.add_argument("--bin", default=os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir")))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="weir-cleaner-bench-")
    err_path = os.path.join(data, "broker.stderr")
    err = open(err_path, "w")
    broker = subprocess.Popen(
        [args.bin, "broker", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", os.path.join(data, "d"),
         "--override", "log.retention.check.interval.ms=500",
         "--override", f"log.cleaner.dedupe.buffer.size={args.dedupe_buffer}"],
        stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        m = re.search(r"listening on ([0-9.]+):(\d+)", broker.stdout.readline())
        if not m:
            sys.exit("broker did not start")
        bootstrap = f"{m.group(1)}:{m.group(2)}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, 1, config={
            "cleanup.policy": "delete", "retention.ms": "-1", "segment.bytes": str(64 << 20),
            "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0"})])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 20,
                             "queue.buffering.max.messages": 2_000_000, "batch.size": 1_000_000,
                             "compression.type": "none"})
        t0 = time.perf_counter()
        total = args.keys + args.updates
        for i in range(total):
            key = b"key-%010d" % (i if i < args.keys else i - args.keys)
            while True:
                try:
                    producer.produce(TOPIC, b"v%010d" % i, key=key)
                    break
                except BufferError:
                    producer.poll(0.01)
            if i % 50_000 == 0:
                producer.poll(0)
        producer.flush(300)
        produce_s = time.perf_counter() - t0
        part = os.path.join(data, "d", f"{TOPIC}-0")
        size_before = dir_bytes(part)
        rss_before = status_kib(broker.pid, "VmRSS")
        hwm_produce = status_kib(broker.pid, "VmHWM")
        with open(f"/proc/{broker.pid}/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS

        res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
        admin.incremental_alter_configs([res])[res].result(30)
        # Roll the active segment so everything produced is cleanable.
        res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
            ConfigEntry("segment.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
        admin.incremental_alter_configs([res])[res].result(30)
        time.sleep(1.2)
        producer.produce(TOPIC, b"roll", key=b"roll")
        producer.flush(30)
        t0 = time.perf_counter()
        passes = []
        peak_kib = 0
        pattern = re.compile(r"cleaned log dir=\S*/keys-0 stats=CleanStats \{(.*)\}")
        while time.perf_counter() - t0 < 1800:
            peak_kib = max(peak_kib, status_kib(broker.pid, "VmRSS"))
            with open(err_path) as f:
                passes = [pm.group(1) for pm in map(pattern.search, f) if pm]
            if passes and "map_full: false" in passes[-1]:
                break
            time.sleep(0.2)
        clean_s = time.perf_counter() - t0
        hwm_clean = status_kib(broker.pid, "VmHWM")

        def stat(p, name):
            return int(re.search(name + r": (\d+)", p).group(1))

        result = {
            "distinct_keys": args.keys, "records": total + 1,
            "dedupe_buffer_mib": round(args.dedupe_buffer / 2**20, 1),
            "produce_s": round(produce_s, 1),
            "cleaner_passes": len(passes),
            "keys_mapped_per_pass": [stat(p, "keys_mapped") for p in passes],
            "records_kept_last_pass": stat(passes[-1], "records_kept") if passes else None,
            "clean_s": round(clean_s, 1),
            "log_mib_before": round(size_before / 2**20, 1),
            "log_mib_after": round(dir_bytes(part) / 2**20, 1),
            "broker_peak_rss_mib_while_producing": round(hwm_produce / 1024, 1),
            "broker_rss_mib_before_cleaning": round(rss_before / 1024, 1),
            "broker_peak_rss_mib_while_cleaning": round(max(hwm_clean, peak_kib) / 1024, 1),
            "cpus": os.cpu_count(),
        }
        del producer, admin
        if args.json:
            print(json.dumps(result))
        else:
            for k, v in result.items():
                print(f"{k:40} {v}")
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(60)
        except subprocess.TimeoutExpired:
            broker.kill()
        err.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
