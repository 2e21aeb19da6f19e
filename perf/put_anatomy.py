#!/usr/bin/env python3
"""What the disk is asked to do per durable 4 KiB write: paco's PUT (new
names, concurrency 1 and 32) against the raw create+fdatasync+rename+
fsync(dir) reference, each under `perf record` of the block layer and
ext4's fsync entry, system-wide.

Prints, per case: operations/s, device cache flushes, metadata and data
writes issued to the device, and fsync/fdatasync calls per operation (split
by the thread kind that made them: io_uring workers, the database pool). It
explains the ratios `scripts/perf-check` reports for durable PUT: on a device with a volatile write cache, every fsync ends in a
cache flush, and a Swift-layout PUT makes more of them than one file
create does.

  perf/put_anatomy.py [--paco BIN] [--secs 5]

Needs `perf` (Debian: linux-perf) and permission for tracepoints (root, or
kernel.perf_event_paranoid = -1). Runs on the filesystem of $TMPDIR. On
ext4 without a journal, inode creation slows down for 60 s after mass
deletions (see perf/perfkit.py), so it first waits that out after whatever
ran before, as scripts/perf-check does, and deletes nothing until the end.
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfkit as pk  # noqa: E402

EVENTS = "block:block_rq_issue,ext4:ext4_sync_file_enter"


def recorded(out, fn):
    """Runs fn() under a system-wide `perf record` of EVENTS; returns fn's
    result and the `perf script` text."""
    rec = subprocess.Popen(["perf", "record", "-q", "-a", "-e", EVENTS, "-o", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # perf takes a moment to attach its tracepoints; events before then
    # would be missed while the operations are still counted.
    time.sleep(1.0)
    try:
        result = fn()
    finally:
        rec.send_signal(2)
        _, err = rec.communicate(timeout=120)
    if rec.returncode not in (0, -2):
        raise RuntimeError(f"perf record failed: {err.decode()[-500:]}")
    text = subprocess.run(["perf", "script", "-i", out], capture_output=True, text=True,
                          check=True).stdout
    return result, text


def tally(text):
    """Counts per event kind: block requests by their rwbs type (flush,
    metadata write, data write, discard), fsyncs by thread kind."""
    c = collections.Counter()
    for line in text.splitlines():
        if "block_rq_issue:" in line:
            m = re.search(r"block_rq_issue: \d+,\d+ (\S+)", line)
            if not m:
                continue
            rwbs = m.group(1)
            if rwbs.startswith("F") and "W" not in rwbs.lstrip("F"):
                c["flush"] += 1
            elif "W" in rwbs and "M" in rwbs:
                c["meta wr"] += 1
            elif "W" in rwbs:
                c["data wr"] += 1
            elif "D" in rwbs:
                c["discard"] += 1
        elif "ext4_sync_file_enter:" in line:
            comm = line.split()[0]
            kind = ("ring" if comm.startswith("iou-wrk")
                    else "db" if comm.startswith("paco-db") else "other")
            c[f"fsync {kind}"] += 1
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paco", default=None, help="paco binary (default: build release)")
    ap.add_argument("--secs", type=float, default=5.0)
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("put_anatomy: needs perf (Debian package linux-perf)")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args.paco
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=repo, check=True)
        binary = os.path.join(repo, "target", "release", "paco")
    srv, load = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
    rows = []
    with pk.Stack(prefix="paco-anatomy-") as stack:
        scratch = stack.mkdir("perf")
        paco = pk.Paco(stack, binary, srv)
        stack.settle_after_deletions()
        for threads in (1, 32):
            out = os.path.join(scratch, f"raw{threads}.data")
            # As scripts/perf-check: one thread on the node's CPU, 32 free.
            rate, text = recorded(out, lambda t=threads: pk.durable_create_rate(
                stack.dir, t, secs=args.secs, cpu=srv if t == 1 else None))
            rows.append((f"raw create, {threads} thread{'s' if threads > 1 else ''}",
                         rate, rate * args.secs, tally(text)))
        for conc in (1, 32):
            out = os.path.join(scratch, f"put{conc}.data")
            b, text = recorded(out, lambda c=conc: pk.paco_bench(binary, paco, [
                "--size", "4KiB", "--mix", "put=1", "-c", str(c), "-d", str(args.secs),
                "--warmup", "0", "--objects", "100000000", "--no-prefill",
                "--container", f"anatomy-c{c}"], load))
            # Warm-up is off, so every request the disk saw was counted.
            rows.append((f"paco PUT, c{conc}", b["total"]["ops_per_s"], b["total"]["count"],
                         tally(text)))
    kinds = ["flush", "meta wr", "data wr", "discard", "fsync ring", "fsync db", "fsync other"]
    print("Per operation. fsync ring: made by io_uring workers (paco's file and")
    print("directory fsyncs); db: the database pool's commits; other: the reference.")
    print(f"{'':24} {'ops/s':>7} " + " ".join(f"{k:>11}" for k in kinds))
    for name, rate, n, c in rows:
        n = max(n, 1)
        print(f"{name:24} {rate:7.0f} " + " ".join(f"{c[k] / n:11.2f}" for k in kinds))


if __name__ == "__main__":
    main()
