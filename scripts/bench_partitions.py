#!/usr/bin/env python3
"""Partition scaling of a release `weir` broker: for each partition count,
create that many partitions (topics of up to 1,000 partitions), produce one
small record to every partition, measure idle RSS, stop cleanly (SIGTERM),
restart, and measure the time until the broker is serving again and its
idle RSS after the restart.

    cargo build --release -p weir
    .venv/bin/python scripts/bench_partitions.py [--counts 100,1000,10000]

Start-up time is from exec to the `weir broker listening on` line (the
broker prints it once every log is open and the coordinators serve).
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
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1.0


def start(binary, data, port=0):
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "broker", "--listeners", f"PLAINTEXT://127.0.0.1:{port}", "--log-dirs", data,
         "--override", "admin.listener=none"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(data, "..", os.path.basename(data) + ".stderr.log"), "a"), text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    m = re.search(r"listening on ([0-9.]+):(\d+)", line)
    if not m:
        proc.kill()
        sys.exit(f"broker did not start: {line!r}")
    return proc, f"{m.group(1)}:{m.group(2)}", int(m.group(2)), elapsed


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None


def run(binary, count, settle_s):
    data = tempfile.mkdtemp(prefix="weir-partitions-")
    try:
        proc, bootstrap, port, first_start = start(binary, data)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics, left, i = [], count, 0
        t0 = time.perf_counter()
        while left > 0:
            n = min(1000, left)
            topics.append((f"scale-{i}", n))
            left -= n
            i += 1
        for name, fut in admin.create_topics([NewTopic(t, n, 1) for t, n in topics],
                                             operation_timeout=300).items():
            fut.result(600)
        create_s = time.perf_counter() - t0
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "acks": "1"})
        for name, n in topics:
            for part in range(n):
                p.produce(name, b"x", partition=part)
            p.poll(0)
        assert p.flush(300) == 0
        del p, admin
        time.sleep(settle_s)
        idle_rss = rss_mib(proc.pid)
        rc = stop(proc)
        proc2, _, _, restart_s = start(binary, data, port)
        time.sleep(settle_s)
        idle_rss2 = rss_mib(proc2.pid)
        stop(proc2)
        return {"partitions": count, "create_s": round(create_s, 2), "first_start_s": round(first_start, 3),
                "idle_rss_mib": round(idle_rss, 1), "clean_stop_rc": rc,
                "restart_s": round(restart_s, 3), "idle_rss_after_restart_mib": round(idle_rss2, 1)}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="100,1000,10000")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading RSS")
    ap.add_argument("--bin", default=os.environ.get("WEIR_BIN", os.path.join(ROOT, "target/release/weir")))
    args = ap.parse_args()
    for c in (int(x) for x in args.counts.split(",")):
        print(json.dumps(run(args.bin, c, args.settle)), flush=True)


if __name__ == "__main__":
    main()
