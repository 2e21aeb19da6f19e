#!/usr/bin/env python3
"""The performance regression gate behind scripts/perf-check.

Absolute times on a shared 2-core machine move by ±30% from one minute to
the next, so the gate compares RATIOS: each paco figure is divided by a
reference measured in the same invocation, on the same CPU, interleaved
with paco's runs:

  get_4k_vs_nginx       paco 4 KiB GET c32 ops/s   / nginx static GET, same files
  get_1m_vs_nginx       paco 1 MiB GET c4 MB/s     / nginx sendfile GET, same files
  cpu_4k_get_vs_nginx   nginx server CPU per 4 KiB GET / paco's (higher is better)
  cpu_1m_get_vs_nginx   the same for 1 MiB GETs
  put_4k_c1_vs_durable  paco 4 KiB PUT c1 ops/s    / raw create+fdatasync+rename+fsync(dir), 1 thread
  put_4k_c32_vs_durable paco 4 KiB PUT c32 ops/s   / the same raw rate with 32 threads
  put_1m_vs_md5         paco 1 MiB PUT c4 MB/s     / single-core MD5 (hashlib)

Every ratio is "higher is better"; a metric fails when it falls below
baseline x (1 - tolerance), tolerance from perf/baseline.json. The CPU
ratios hold steady even on a busy machine (BENCHMARKING.md); throughput
ratios need a quiet one. Each
measurement is repeated --rounds times and the median ratio is used.
Exit status: 0 pass, 1 regression, 2 could not measure; --report-only
always exits 0.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfkit as pk  # noqa: E402

BASELINE = os.path.join(pk.REPO, "perf/baseline.json")
DEFAULT_TOLERANCE = 0.35


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paco", default=os.path.join(pk.REPO, "target/release/paco"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=4.0, help="seconds per bench run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--server-cpu", default="1")
    p.add_argument("--load-cpu", default="0")
    p.add_argument("--baseline", default=BASELINE)
    p.add_argument("--report-only", action="store_true", help="print the comparison, never fail")
    p.add_argument("--update-baseline", action="store_true",
                   help="write this run's ratios to the baseline file (on a quiet machine)")
    p.add_argument("--out", default=os.path.join(pk.REPO, "target/perf-check/last.json"))
    return p.parse_args()


def cpu(s):
    return None if s.lower() == "none" else int(s)


def measure(args):
    srv, load = cpu(args.server_cpu), cpu(args.load_cpu)
    bench_t = ["--warmup", str(args.warmup), "-d", str(args.duration), "--no-prefill"]
    raw = {k: [] for k in ("paco_get4k", "nginx_get4k", "paco_cpu_get4k", "nginx_cpu_get4k",
                           "paco_get1m", "nginx_get1m", "paco_cpu_get1m", "nginx_cpu_get1m", "paco_put4k_c1", "paco_put4k_c32",
                           "paco_put1m", "durable_1", "durable_32", "md5")}
    with pk.Stack(prefix="paco-perf-check-", background_cleanup=True) as stack:
        paco = pk.Paco(stack, args.paco, srv)
        nginx = pk.Nginx(stack, srv)
        for t in (paco, nginx):
            for size, n in (("4KiB", 1000), ("1MiB", 64)):
                pk.paco_bench(args.paco, t, ["--size", size, "--mix", "get=1", "--ops", "1", "--warmup", "0",
                                             "-c", "8", "--objects", str(n), "--container", f"get-{size}"], load)
        # All GET rounds first: they delete nothing, and by the time they
        # end, inodes freed just before this run (an earlier run's clean-up,
        # a test suite's temp dirs) have left ext4's recently-deleted window,
        # which would otherwise slow every create of the PUT rounds.
        # Each ratio still pairs paco with a reference measured next to it.
        def get(t, size, n, c):
            return pk.paco_bench(args.paco, t, ["--size", size, "--mix", "get=1", "-c", str(c),
                                                "--objects", str(n), "--container", f"get-{size}"]
                                 + bench_t, load)

        for r in range(args.rounds):
            pk.log(f"GET round {r + 1}/{args.rounds} (load average {os.getloadavg()[0]:.2f}): paco, nginx")
            for t, key in ((paco, "paco"), (nginx, "nginx")):
                b = get(t, "4KiB", 1000, 32)
                raw[f"{key}_get4k"].append(b["total"]["ops_per_s"])
                raw[f"{key}_cpu_get4k"].append(b["server_cpu_us_per_op"])
                b = get(t, "1MiB", 64, 4)
                raw[f"{key}_get1m"].append(b["total"]["mb_per_s"])
                raw[f"{key}_cpu_get1m"].append(b["server_cpu_us_per_op"])
        stack.settle_after_deletions()
        for r in range(args.rounds):
            pk.log(f"PUT round {r + 1}/{args.rounds} (load average {os.getloadavg()[0]:.2f}): "
                   "durable create rate, PUT 4 KiB c1 and c32, PUT 1 MiB, MD5")
            raw["durable_1"].append(pk.durable_create_rate(stack.dir, 1, secs=2, cpu=srv))
            for c, key in ((1, "paco_put4k_c1"), (32, "paco_put4k_c32")):
                b = pk.paco_bench(args.paco, paco, ["--size", "4KiB", "--mix", "put=1", "-c", str(c),
                                                    "--objects", "100000000", "--container", f"put-r{r}-c{c}"]
                                  + bench_t, load)
                raw[key].append(b["total"]["ops_per_s"])
            raw["durable_32"].append(pk.durable_create_rate(stack.dir, 32, secs=2))
            b = pk.paco_bench(args.paco, paco, ["--size", "1MiB", "--mix", "put=1", "-c", "4",
                                                "--objects", "64", "--container", "put-1m"] + bench_t, load)
            raw["paco_put1m"].append(b["total"]["mb_per_s"])
            raw["md5"].append(pk.md5_speed(srv, secs=1).get("hashlib_mb_per_s"))
    return raw


def ratios(raw):
    def per_round(a, b):
        return pk.median([x / y if x is not None and y else None for x, y in zip(raw[a], raw[b])])

    return {
        "get_4k_vs_nginx": per_round("paco_get4k", "nginx_get4k"),
        "get_1m_vs_nginx": per_round("paco_get1m", "nginx_get1m"),
        "cpu_4k_get_vs_nginx": per_round("nginx_cpu_get4k", "paco_cpu_get4k"),
        "cpu_1m_get_vs_nginx": per_round("nginx_cpu_get1m", "paco_cpu_get1m"),
        "put_4k_c1_vs_durable": per_round("paco_put4k_c1", "durable_1"),
        "put_4k_c32_vs_durable": per_round("paco_put4k_c32", "durable_32"),
        "put_1m_vs_md5": per_round("paco_put1m", "md5"),
    }


def main():
    args = parse_args()
    started = time.time()
    load_start = os.getloadavg()
    try:
        busy = pk.busy_cpu_share(0.5)
        raw = measure(args)
    except Exception as e:  # noqa: BLE001 - report any set-up failure, then decide the exit status
        print(f"perf-check: could not measure: {e}", file=sys.stderr)
        sys.exit(0 if args.report_only else 2)
    now = ratios(raw)
    base = {}
    if os.path.exists(args.baseline):
        with open(args.baseline) as f:
            base = json.load(f)
    tol_all = base.get("tolerance", DEFAULT_TOLERANCE)
    result = {"kind": "perf-check", "machine": pk.machine_info(), "busy_before": busy,
              "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
              "elapsed_s": time.time() - started, "rounds": args.rounds, "raw": raw, "ratios": now}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)

    failed = []
    print(f"{'metric':<24} {'now':>7} {'baseline':>9} {'floor':>7}  verdict")
    for k, v in now.items():
        b = base.get("ratios", {}).get(k)
        tol = base.get("tolerances", {}).get(k, tol_all)
        floor = b * (1 - tol) if b is not None else None
        if v is None:
            verdict = "not measured"
        elif floor is None:
            verdict = "no baseline"
        elif v < floor:
            verdict = f"REGRESSION ({(1 - v / b) * 100:.0f}% below baseline)"
            failed.append(k)
        else:
            verdict = "ok" if v < b * (1 + tol) else "ok (better: update the baseline?)"
        print(f"{k:<24} {fmt(v):>7} {fmt(b):>9} {fmt(floor):>7}  {verdict}")
    print(f"rounds {args.rounds}, {result['elapsed_s']:.0f} s, load average {load_start[0]:.2f} at start, "
          f"CPU busy before start {busy * 100:.0f}%; raw figures in {os.path.relpath(args.out)}")
    if load_start[0] > 1.0 or busy > 0.2:
        print("perf-check: the machine was busy; ratios are less reliable than on a quiet machine")

    if args.update_baseline:
        new = {
            "comment": "Reference ratios for scripts/perf-check (see perf/check.py and docs/performance.md). "
                       "Regenerate on a quiet machine with scripts/perf-check --update-baseline.",
            "tolerance": tol_all,
            "tolerances": base.get("tolerances") or {"cpu_4k_get_vs_nginx": 0.25, "cpu_1m_get_vs_nginx": 0.25},
            "ratios": {k: round(v, 4) for k, v in now.items() if v is not None},
            "measured": {"commit": result["machine"]["commit"], "time": result["machine"]["time"],
                         "loadavg": load_start, "busy_before": round(busy, 3), "rounds": args.rounds,
                         "raw_medians": {k: pk.median(v) for k, v in raw.items()}},
        }
        with open(args.baseline, "w") as f:
            json.dump(new, f, indent=1)
            f.write("\n")
        print(f"perf-check: wrote {os.path.relpath(args.baseline)}")
        return
    if failed:
        print(f"perf-check: regression in {', '.join(failed)}"
              + (" (report only: not failing)" if args.report_only else ""))
        sys.exit(0 if args.report_only else 1)
    print("perf-check: pass")


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
