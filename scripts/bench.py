#!/usr/bin/env python3
"""The standard benchmark matrix of issue 7, driven by an independent client
(confluent-kafka, i.e. librdkafka), against Weir and against its two
ceilings measured in the same run:

  * the null broker (`weir-null-broker`): answers Produce and Fetch
    correctly, stores nothing -- the cost of the client and protocol alone;
  * the raw ceiling (`weir-raw-ceiling`): loopback TCP plus a plain file
    append (or a cached file sent over loopback) with the same byte volume.

    cargo build --release -p weir -p weir-bench
    .venv/bin/python scripts/bench.py --quick            # a few minutes
    .venv/bin/python scripts/bench.py --write-docs       # the full matrix

Matrix: produce, record size 100 B / 1 KiB / 10 KiB x partitions 1 / 6 / 100
/ 1000 x acks 1 / all; consume from the beginning (same sizes and partition
counts, data in page cache); end-to-end latency at a fixed 10,000 records/s
of 1 KiB for acks=1 and acks=all, measured from each record's intended send
time (no coordinated omission) by a consumer thread. Every run gets a fresh
broker process (Weir with a fresh log dir), so CPU seconds and peak RSS
(VmHWM, from /proc) belong to that run alone.

Writes a markdown report to stdout (progress goes to stderr); with
--write-docs also replaces the text between `<!-- bench:matrix:start -->` and
`<!-- bench:matrix:end -->` in docs/benchmarks.md. Every phase is bounded by
a record count and a timeout; a phase that times out is reported with what it
achieved and marked.
"""
import argparse
import math
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
DOCS = os.path.join(ROOT, "docs", "benchmarks.md")
MARK_START = "<!-- bench:matrix:start -->"
MARK_END = "<!-- bench:matrix:end -->"

SIZES = [100, 1024, 10240]
PARTITIONS = [1, 6, 100, 1000]
ACKS = ["1", "all"]
TOPIC = "bench"
E2E_RATE = 10_000
E2E_SIZE = 1024
E2E_PARTITIONS = 6
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
# Default volume per produce/consume run: this many bytes of record values,
# between RECORDS_MIN and RECORDS_MAX records.
VOLUME_BYTES = 256 * 1024 * 1024
RECORDS_MIN = 20_000
RECORDS_MAX = 1_000_000
# librdkafka's batch.size for throughput runs (its default, stated).
BATCH_BYTES = 1_000_000
CHUNK_BYTES = 1024 * 1024


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine / proc

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release()}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss(pid):
    """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def client_version():
    v = confluent_kafka.version()
    return v[0] if isinstance(v, tuple) else v


def git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------- servers

class Server:
    """A broker process (Weir or the null broker) on an ephemeral loopback
    port; stopped with SIGTERM (then SIGKILL) by stop()."""

    def __init__(self, name, argv, workdir, data_dir=None):
        self.name = name
        self.data_dir = data_dir
        self.stderr_path = os.path.join(workdir, f"{name}-{time.monotonic_ns()}.stderr")
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.pid = self.proc.pid
        first = []
        reader = threading.Thread(target=self._drain, args=(first,), daemon=True)
        reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not first and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.01)
        line = first[0] if first else ""
        m = re.search(r"listening on ([0-9.]+):(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"{name} did not start: {line!r} (stderr in {self.stderr_path})")
        self.bootstrap = f"{m.group(1)}:{m.group(2)}"

    def _drain(self, first):
        for line in self.proc.stdout:
            if not first:
                first.append(line)
        if not first:
            first.append("")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_weir(args, workdir):
    data = tempfile.mkdtemp(prefix="weir-data-", dir=workdir)
    argv = [args.weir_bin, "broker", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", data,
            "--override", "admin.listener=none"]
    for o in args.override:
        argv += ["--override", o]
    return Server("weir", argv, workdir, data_dir=data)


def start_null(args, workdir, partitions, record_size=1024, fetch_batch_records=1000,
               log_end_offset=0, echo=False):
    argv = [args.null_bin, "--partitions", str(partitions), "--record-size", str(record_size),
            "--fetch-batch-records", str(fetch_batch_records), "--log-end-offset", str(log_end_offset)]
    if echo:
        argv.append("--echo")
    return Server("null", argv, workdir)


def weir_batch_stats(data_dir, topic):
    """(batches, records) stored by Weir for `topic`: walks the record
    batch headers of every segment (base offset 8 B, batch length 4 B, ...,
    records count at byte 57; see docs/storage-format.md)."""
    batches = records = 0
    for entry in os.listdir(data_dir):
        if not re.fullmatch(re.escape(topic) + r"-\d+", entry):
            continue
        pdir = os.path.join(data_dir, entry)
        for seg in sorted(os.listdir(pdir)):
            if not seg.endswith(".log"):
                continue
            with open(os.path.join(pdir, seg), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                pos = 0
                while pos + 61 <= size:
                    f.seek(pos)
                    head = f.read(61)
                    if len(head) < 61:
                        break
                    length = struct.unpack(">i", head[8:12])[0]
                    count = struct.unpack(">i", head[57:61])[0]
                    if length <= 0:
                        break
                    batches += 1
                    records += count
                    pos += 12 + length
    return batches, records


# ---------------------------------------------------------------- client phases

COMMON = {"socket.nagle.disable": True, "log_level": 3}


def create_topic(bootstrap, partitions, timeout_s):
    admin = AdminClient({"bootstrap.servers": bootstrap, **COMMON})
    try:
        admin.create_topics([NewTopic(TOPIC, partitions, 1)])[TOPIC].result(timeout_s)
    except KafkaException as e:
        if e.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        md = admin.list_topics(TOPIC, timeout=10)
        t = md.topics.get(TOPIC)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.1)
    raise RuntimeError(f"topic {TOPIC} with {partitions} partitions not visible after {timeout_s}s")


def produce_phase(server, partitions, size, records, acks, timeout_s, idempotent):
    conf = {"bootstrap.servers": server.bootstrap, "acks": acks, "linger.ms": 5,
            "batch.size": BATCH_BYTES, "queue.buffering.max.messages": 1_000_000,
            "enable.idempotence": idempotent, **COMMON}
    producer = Producer(conf)
    state = {"ok": 0, "failed": 0}

    def on_delivery(err, _msg):
        if err is None:
            state["ok"] += 1
        else:
            state["failed"] += 1

    value = os.urandom(size)
    cpu0 = cpu_seconds(server.pid)
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    timed_out = False
    for i in range(records):
        while True:
            try:
                producer.produce(TOPIC, value, partition=i % partitions, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.005)
        if i % 10_000 == 0:
            producer.poll(0)
            if time.perf_counter() > deadline:
                timed_out = True
                break
    left = producer.flush(max(0.0, deadline - time.perf_counter()))
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds(server.pid) - cpu0
    timed_out = timed_out or left > 0
    producer.purge()
    producer.flush(1)
    del producer
    return {"records": state["ok"], "failed": state["failed"], "seconds": seconds, "size": size,
            "cpu_s": cpu, "rss_mib": peak_rss_mib(server.pid), "timed_out": timed_out}


def consume_phase(server, partitions, size, records, timeout_s):
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "weir-bench",
                         "enable.auto.commit": False, "enable.auto.offset.store": False,
                         "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
                         **COMMON})
    reset_peak_rss(server.pid)
    cpu0 = cpu_seconds(server.pid)
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(partitions)])
    got = 0
    while got < records and time.perf_counter() < deadline:
        for msg in consumer.consume(10_000, 0.5):
            if msg.error() is None:
                got += 1
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds(server.pid) - cpu0
    consumer.close()
    return {"records": got, "failed": 0, "seconds": seconds, "size": size, "cpu_s": cpu,
            "rss_mib": peak_rss_mib(server.pid), "timed_out": got < records}


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def e2e_phase(server, acks, seconds, warmup_s, timeout_s):
    """Fixed-rate end-to-end latency: record i is due at t0 + i/rate; its
    value starts with that intended send time (perf_counter_ns, 8 bytes big
    endian); the consumer thread subtracts it from the time it receives the
    record. A producer that falls behind still stamps the intended time, so
    its lateness counts (no coordinated omission)."""
    total = E2E_RATE * seconds
    period_ns = 1_000_000_000 // E2E_RATE
    latencies = []
    received = [0]
    stop = threading.Event()
    ready = threading.Event()
    t0_holder = {}

    def consume():
        consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "weir-bench-e2e",
                             "enable.auto.commit": False, "enable.auto.offset.store": False,
                             "fetch.wait.max.ms": 100, **COMMON})
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(E2E_PARTITIONS)])
        consumer.poll(0.5)
        ready.set()
        # poll() returns as soon as one record is there; consume(n, timeout)
        # would hold records back until n arrived or the timeout passed.
        while not stop.is_set():
            msg = consumer.poll(0.1)
            now = time.perf_counter_ns()
            if msg is None or msg.error() is not None:
                continue
            intended = int.from_bytes(msg.value()[:8], "big")
            received[0] += 1
            if intended >= t0_holder.get("warm", 1 << 62):
                latencies.append(now - intended)
        consumer.close()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT_S)
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": acks, "linger.ms": 0,
                         **COMMON})
    failed = [0]

    def on_delivery(err, _msg):
        if err is not None:
            failed[0] += 1

    pad = os.urandom(E2E_SIZE - 8)
    cpu0 = cpu_seconds(server.pid)
    t0 = time.perf_counter_ns() + 10_000_000
    t0_holder["warm"] = t0 + warmup_s * 1_000_000_000
    deadline_ns = t0 + (seconds + timeout_s) * 1_000_000_000
    sent = 0
    while sent < total and time.perf_counter_ns() < deadline_ns:
        intended = t0 + sent * period_ns
        now = time.perf_counter_ns()
        if now < intended:
            time.sleep((intended - now) / 1e9)
            continue
        producer.produce(TOPIC, intended.to_bytes(8, "big") + pad,
                         partition=sent % E2E_PARTITIONS, on_delivery=on_delivery)
        producer.poll(0)
        sent += 1
    producer.flush(max(1.0, (deadline_ns - time.perf_counter_ns()) / 1e9))
    wait_until = time.monotonic() + 10
    while received[0] < sent - failed[0] and time.monotonic() < wait_until:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    cpu = cpu_seconds(server.pid) - cpu0
    del producer
    lat = sorted(latencies)
    ms = lambda ns: ns / 1e6
    return {"sent": sent, "received": received[0], "failed": failed[0], "samples": len(lat),
            "p50": ms(percentile(lat, 50)), "p99": ms(percentile(lat, 99)),
            "p999": ms(percentile(lat, 99.9)), "max": ms(lat[-1]) if lat else float("nan"),
            "cpu_s": cpu, "rss_mib": peak_rss_mib(server.pid),
            "timed_out": sent < total or received[0] < sent - failed[0]}


def raw_ceiling(args, workdir, volume_bytes, mode, fsync_every=0, sendfile=False, timeout_s=300):
    argv = [args.raw_bin, "--mode", mode, "--bytes", str(volume_bytes), "--chunk", str(CHUNK_BYTES),
            "--fsync-every", str(fsync_every), "--dir", workdir]
    if sendfile:
        argv.append("--sendfile")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"weir-raw-ceiling failed: {out.stderr.strip()}")
    m = re.search(r'"mb_per_s":([0-9.]+)', out.stdout)
    return float(m.group(1)) if m else float("nan")


# ---------------------------------------------------------------- report

def fmt_int(x):
    return f"{x:,.0f}" if x == x else "n/a"


def fmt(x, digits=1):
    return f"{x:,.{digits}f}" if x == x else "n/a"


def rate(r):
    """(records/s, MB/s) of a phase result."""
    s = max(r["seconds"], 1e-9)
    return r["records"] / s, r["records"] * r["size"] / 1e6 / s


def mark(r):
    marks = ""
    if r.get("timed_out"):
        marks += " †"
    if r.get("failed"):
        marks += f" ({r['failed']} failed)"
    return marks


def size_label(size):
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def ratio(a, b):
    return f"{a / b:.2f}" if b and b == b and a == a else "n/a"


def report(ctx, results):
    m = ctx["machine"]
    out = []
    out.append(f"Machine: {m['cores']} cores, {m['cpu']}, Linux {m['kernel']}; "
               f"client and brokers share the cores. Load average at start {ctx['load_start']}, "
               f"at end {ctx['load_end']}.")
    out.append("")
    out.append(f"Weir {ctx['revision']}; client confluent-kafka {client_version()} "
               f"(librdkafka {confluent_kafka.libversion()[0]}), Python {platform.python_version()}; "
               f"{ctx['mode']} run started {ctx['started']}, took {ctx['took_min']:.1f} min.")
    out.append("")
    out.append("MB/s counts record values (10^6 bytes/s). Ratios: Weir/null is Weir's throughput over "
               "the null broker's (the client and protocol alone); Weir/raw is Weir's MB/s over the "
               "raw ceiling's with the same byte volume. CPU s and peak RSS are the broker process's, "
               "from /proc, for that run (each run gets a fresh process; for consume the peak is "
               "reset before reading). † = phase hit its timeout (partial result).")
    if results["produce"]:
        out += ["", "### Produce", "",
                "librdkafka: linger.ms=5, batch.size=1000000, no compression, records spread "
                "round-robin over the partitions.", "",
                "| record | partitions | acks | records | Weir rec/s | Weir MB/s | null rec/s | null MB/s "
                "| Weir/null | Weir/raw | Weir CPU s | Weir peak RSS MiB | null CPU s | null peak RSS MiB |",
                "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (size, parts, acks), (w, n) in results["produce"].items():
            wr, wm = rate(w)
            nr, nm = rate(n)
            raw = results["raw"].get(size, {}).get("write_fsync" if acks == "all" else "write")
            out.append(f"| {size_label(size)} | {parts} | {acks} | {fmt_int(w['records'])} "
                       f"| {fmt_int(wr)}{mark(w)} | {fmt(wm)} | {fmt_int(nr)}{mark(n)} | {fmt(nm)} "
                       f"| {ratio(wr, nr)} | {ratio(wm, raw)} | {fmt(w['cpu_s'], 2)} | {fmt(w['rss_mib'])} "
                       f"| {fmt(n['cpu_s'], 2)} | {fmt(n['rss_mib'])} |")
    if results["consume"]:
        out += ["", "### Consume from the beginning", "",
                "Weir serves what the acks=1 produce run stored (in page cache); the null broker "
                "serves copies of one batch of the average size Weir stored (batch column). "
                "librdkafka: fetch.max.bytes=52428800, max.partition.fetch.bytes=10485760.", "",
                "| record | partitions | records | batch | Weir rec/s | Weir MB/s | null rec/s | null MB/s "
                "| Weir/null | Weir/raw | Weir CPU s | Weir peak RSS MiB | null CPU s | null peak RSS MiB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (size, parts), (w, n, batch) in results["consume"].items():
            wr, wm = rate(w)
            nr, nm = rate(n)
            raw = results["raw"].get(size, {}).get("read_best")
            out.append(f"| {size_label(size)} | {parts} | {fmt_int(w['records'])} | {batch} "
                       f"| {fmt_int(wr)}{mark(w)} | {fmt(wm)} | {fmt_int(nr)}{mark(n)} | {fmt(nm)} "
                       f"| {ratio(wr, nr)} | {ratio(wm, raw)} | {fmt(w['cpu_s'], 2)} | {fmt(w['rss_mib'])} "
                       f"| {fmt(n['cpu_s'], 2)} | {fmt(n['rss_mib'])} |")
    if results["e2e"]:
        out += ["", "### End-to-end latency", "",
                f"{E2E_RATE:,} records/s of {size_label(E2E_SIZE)} over {E2E_PARTITIONS} partitions for "
                f"{ctx['e2e_seconds']} s; latency from each record's intended send time to its receipt by "
                f"a consumer thread (the first {ctx['e2e_warmup']} s excluded). librdkafka: linger.ms=0, "
                "socket.nagle.disable=true. The null broker runs in echo mode (Fetch serves the batches "
                "just produced).", "",
                "| acks | broker | sent | received | p50 ms | p99 ms | p99.9 ms | max ms | broker CPU s "
                "| broker peak RSS MiB |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (acks, target), r in results["e2e"].items():
            out.append(f"| {acks} | {target} | {fmt_int(r['sent'])}{mark(r)} | {fmt_int(r['received'])} "
                       f"| {fmt(r['p50'], 2)} | {fmt(r['p99'], 2)} | {fmt(r['p999'], 2)} | {fmt(r['max'], 2)} "
                       f"| {fmt(r['cpu_s'], 2)} | {fmt(r['rss_mib'])} |")
    if results["raw"]:
        out += ["", "### Raw ceiling", "",
                f"weir-raw-ceiling, {CHUNK_BYTES // 1024 // 1024} MiB chunks, the same byte volume as "
                "the runs of that record size, scratch file in the directory Weir's log dirs use. "
                "write: loopback TCP into a file append; +fdatasync: one fdatasync per chunk (the "
                "acks=all analog); read: a cached file over loopback by read()+write(); sendfile: the "
                "same with sendfile(2). The consume ceiling is the better of the last two.", "",
                "| record | volume MB | write MB/s | write+fdatasync MB/s | read MB/s | sendfile MB/s |",
                "|---|---:|---:|---:|---:|---:|"]
        for size, r in results["raw"].items():
            out.append(f"| {size_label(size)} | {fmt(r['volume'] / 1e6, 0)} | {fmt(r.get('write', float('nan')))} "
                       f"| {fmt(r.get('write_fsync', float('nan')))} | {fmt(r.get('read', float('nan')))} "
                       f"| {fmt(r.get('sendfile', float('nan')))} |")
    return "\n".join(out) + "\n"


def write_docs(text):
    try:
        with open(DOCS) as f:
            doc = f.read()
    except FileNotFoundError:
        sys.exit(f"{DOCS} is missing; it must hold the {MARK_START} / {MARK_END} markers")
    start, end = doc.find(MARK_START), doc.find(MARK_END)
    if start < 0 or end < start:
        sys.exit(f"{DOCS} has no {MARK_START} ... {MARK_END} markers")
    doc = doc[:start + len(MARK_START)] + "\n" + text + doc[end:]
    with open(DOCS, "w") as f:
        f.write(doc)
    log(f"wrote the results into {DOCS}")


# ---------------------------------------------------------------- main

def int_list(text):
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need positive integers: {text!r}")
    return values


def records_for(args, size):
    if args.records:
        return args.records
    return max(RECORDS_MIN, min(RECORDS_MAX, VOLUME_BYTES // size))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="reduced matrix: 1 KiB x 6 partitions x acks 1/all, 200k records, short e2e")
    ap.add_argument("--records", type=int, help="records per produce/consume run (default: "
                    f"{VOLUME_BYTES // 2**20} MiB of values, {RECORDS_MIN:,}..{RECORDS_MAX:,} records)")
    ap.add_argument("--only", choices=["produce", "consume", "e2e"], action="append",
                    help="run only this part (repeatable)")
    ap.add_argument("--sizes", type=int_list, help="record sizes in bytes, comma-separated "
                    "(default 100,1024,10240; quick 1024)")
    ap.add_argument("--partitions", type=int_list, help="partition counts, comma-separated "
                    "(default 1,6,100,1000; quick 6)")
    ap.add_argument("--e2e-seconds", type=int, help="duration of each e2e run (default 30, quick 8)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds each phase may take (default 300)")
    ap.add_argument("--idempotent", action="store_true", help="enable.idempotence=true (acks=all runs only)")
    ap.add_argument("--write-docs", action="store_true", help=f"replace the matrix section of {DOCS}")
    ap.add_argument("--workdir", default=None, help="scratch directory (Weir log dirs, raw ceiling file)")
    ap.add_argument("--weir-bin", default=os.environ.get("WEIR_BIN", os.path.join(RELEASE, "weir")))
    ap.add_argument("--null-bin", default=os.path.join(RELEASE, "weir-null-broker"))
    ap.add_argument("--raw-bin", default=os.path.join(RELEASE, "weir-raw-ceiling"))
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                    help="Weir broker property override (repeatable)")
    args = ap.parse_args()
    for b in (args.weir_bin, args.null_bin, args.raw_bin):
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} not found: cargo build --release -p weir -p weir-bench")
    if args.quick:
        sizes, partition_counts = [1024], [6]
        args.records = args.records or 200_000
        e2e_seconds = args.e2e_seconds or 8
    else:
        sizes, partition_counts = SIZES, PARTITIONS
        e2e_seconds = args.e2e_seconds or 30
    sizes = args.sizes or sizes
    partition_counts = args.partitions or partition_counts
    e2e_warmup = 2 if e2e_seconds > 4 else 0
    parts = set(args.only or ["produce", "consume", "e2e"])

    workdir = tempfile.mkdtemp(prefix="weir-bench-", dir=args.workdir)
    ctx = {"machine": machine(), "load_start": loadavg(), "revision": git_revision(),
           "mode": "quick" if args.quick else "full", "started": time.strftime("%Y-%m-%d %H:%M %Z"),
           "e2e_seconds": e2e_seconds, "e2e_warmup": e2e_warmup}
    m = ctx["machine"]
    log(f"machine: {m['cores']} cores, {m['cpu']}, Linux {m['kernel']}, load {ctx['load_start']}; "
        f"workdir {workdir}")
    results = {"produce": {}, "consume": {}, "e2e": {}, "raw": {}}
    began = time.monotonic()
    try:
        for size in sizes:
            n = records_for(args, size)
            if parts & {"produce", "consume"}:
                volume = n * size
                raw = {"volume": volume}
                log(f"raw ceiling, {volume / 1e6:.0f} MB")
                if "produce" in parts:
                    raw["write"] = raw_ceiling(args, workdir, volume, "write", timeout_s=args.timeout)
                    raw["write_fsync"] = raw_ceiling(args, workdir, volume, "write", fsync_every=1,
                                                     timeout_s=args.timeout)
                if "consume" in parts:
                    raw["read"] = raw_ceiling(args, workdir, volume, "read", timeout_s=args.timeout)
                    raw["sendfile"] = raw_ceiling(args, workdir, volume, "read", sendfile=True,
                                                  timeout_s=args.timeout)
                    raw["read_best"] = max(raw["read"], raw["sendfile"])
                results["raw"][size] = raw
            for p in partition_counts:
                if not parts & {"produce", "consume"}:
                    continue
                label = f"{size_label(size)} x {p} partitions"
                # Weir acks=1, then consume what it stored.
                weir = start_weir(args, workdir)
                try:
                    create_topic(weir.bootstrap, p, args.timeout)
                    log(f"produce {label} acks=1 -> weir ({n:,} records)")
                    w1 = produce_phase(weir, p, size, n, "1", args.timeout, False)
                    batches, stored = weir_batch_stats(weir.data_dir, TOPIC)
                    avg_batch = max(1, round(stored / batches)) if batches else 1
                    if "consume" in parts:
                        log(f"consume {label} <- weir")
                        wc = consume_phase(weir, p, size, w1["records"], args.timeout)
                finally:
                    weir.stop()
                if "produce" in parts:
                    null = start_null(args, workdir, p)
                    try:
                        log(f"produce {label} acks=1 -> null")
                        n1 = produce_phase(null, p, size, n, "1", args.timeout, False)
                    finally:
                        null.stop()
                    results["produce"][(size, p, "1")] = (w1, n1)
                    weir = start_weir(args, workdir)
                    try:
                        create_topic(weir.bootstrap, p, args.timeout)
                        log(f"produce {label} acks=all -> weir")
                        wa = produce_phase(weir, p, size, n, "all", args.timeout, args.idempotent)
                    finally:
                        weir.stop()
                    null = start_null(args, workdir, p)
                    try:
                        log(f"produce {label} acks=all -> null")
                        na = produce_phase(null, p, size, n, "all", args.timeout, args.idempotent)
                    finally:
                        null.stop()
                    results["produce"][(size, p, "all")] = (wa, na)
                if "consume" in parts:
                    per_partition = -(-w1["records"] // p)
                    null = start_null(args, workdir, p, record_size=size, fetch_batch_records=avg_batch,
                                      log_end_offset=per_partition)
                    try:
                        log(f"consume {label} <- null (batches of {avg_batch} records)")
                        nc = consume_phase(null, p, size, w1["records"], args.timeout)
                    finally:
                        null.stop()
                    results["consume"][(size, p)] = (wc, nc, avg_batch)
        if "e2e" in parts:
            for acks in ACKS:
                for target in ("weir", "null"):
                    server = (start_weir(args, workdir) if target == "weir"
                              else start_null(args, workdir, E2E_PARTITIONS, echo=True))
                    try:
                        create_topic(server.bootstrap, E2E_PARTITIONS, args.timeout)
                        log(f"e2e acks={acks} {target}: {E2E_RATE:,} rec/s for {e2e_seconds} s")
                        results["e2e"][(acks, target)] = e2e_phase(server, acks, e2e_seconds, e2e_warmup,
                                                                   args.timeout)
                    finally:
                        server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ctx["load_end"] = loadavg()
    ctx["took_min"] = (time.monotonic() - began) / 60
    text = report(ctx, results)
    sys.stdout.write(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
