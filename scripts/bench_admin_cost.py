#!/usr/bin/env python3
"""What the admin listener (metrics, console and its sampler) costs the
produce path when nobody scrapes: runs scripts/bench_clients.py
alternately with the listener on (the default) and off
(`admin.listener=none`), several rounds, and prints per variant the median
and range of produce records/s and of the broker's CPU time per record, and
the on/off ratio of the medians.

    cargo build --release -p weir
    .venv/bin/python scripts/bench_admin_cost.py [--rounds 5] [--records 500000]

Rounds alternate the order (on/off, then off/on, ...) so drift of the
machine and order effects fall on both variants alike. Run it on a quiet machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {"on": [], "off": ["--override", "admin.listener=none"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    results = {k: [] for k in VARIANTS}
    for r in range(args.rounds):
        # Alternate which variant goes first, so order effects cancel.
        order = list(VARIANTS.items())
        if r % 2:
            order.reverse()
        for name, extra in order:
            out = subprocess.run(
                [sys.executable, os.path.join(HERE, "bench_clients.py"), "--json",
                 "--records", str(args.records), "--size", str(args.size), *extra],
                capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[name].append(res)
            print(f"round {r + 1} {name:3}: {res['produce_records_per_s']:>9} rec/s  "
                  f"{res['produce_broker_cpu_us_per_record']:.3f} broker CPU us/record", flush=True)

    def summary(name, key):
        vals = [x[key] for x in results[name]]
        return statistics.median(vals), min(vals), max(vals)

    print(f"\n{args.rounds} rounds, {args.records} records of {args.size} B, 6 partitions, acks=1, "
          f"confluent-kafka; {os.cpu_count()} cores shared by client and broker")
    for key, label in [("produce_records_per_s", "produce records/s"),
                       ("produce_broker_cpu_us_per_record", "broker CPU us/record")]:
        on, off = summary("on", key), summary("off", key)
        print(f"{label:22} on: median {on[0]:.3f} (range {on[1]:.3f}-{on[2]:.3f})  "
              f"off: median {off[0]:.3f} (range {off[1]:.3f}-{off[2]:.3f})  on/off {on[0] / off[0]:.3f}")


if __name__ == "__main__":
    main()
