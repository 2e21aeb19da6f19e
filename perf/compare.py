#!/usr/bin/env python3
"""paco vs real OpenStack Swift vs nginx, side by side in one run, plus the
machine's physical limits. Run through perf/compare.sh, which installs what
this needs; see docs/performance.md for the method and the results.

Every case (object size x PUT/GET x concurrency) is measured on all targets
back to back, `paco bench` driving each with the same settings; each server
runs on --server-cpu, every load generator on --load-cpu. Results go to
perf/results/compare-<UTC time>.json; a summary table goes to stdout.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perfkit as pk  # noqa: E402

SIZES = {
    # size: (objects read by GET, objects PUT writes to, warm-up s, duration s)
    # 4 KiB PUTs create new names (the common case); larger PUTs overwrite
    # a small set so the disk holds at most objects x size per target.
    "4KiB": (1000, 10_000_000),
    "1MiB": (128, 128),
    "64MiB": (8, 8),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paco", default=os.path.join(pk.REPO, "target/release/paco"))
    p.add_argument("--swift-venv", default=os.path.join(pk.REPO, ".venv-swift-aio"))
    p.add_argument("--targets", default="paco,swift,nginx")
    p.add_argument("--sizes", default="4KiB,1MiB,64MiB")
    p.add_argument("--ops", default="GET,PUT")
    p.add_argument("--concurrency", default="1,64")
    p.add_argument("--runs", type=int, default=1, help="repeats of every case (median reported)")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--big-ops", type=int, default=64,
                   help="64 MiB at concurrency 64: measured ops (one round per connection), "
                        "no warm-up, instead of a duration")
    p.add_argument("--server-cpu", default="1", help="CPU for the servers ('none': no pinning)")
    p.add_argument("--load-cpu", default="0", help="CPU for the load generators")
    p.add_argument("--no-limits", action="store_true", help="skip fio/iperf3/MD5/create rate")
    p.add_argument("--no-wrk", action="store_true")
    p.add_argument("--out", default=None, help="result file (default perf/results/compare-<time>.json)")
    return p.parse_args()


def cpu_arg(s):
    return None if s.lower() == "none" else int(s)


def summarize(bench):
    """The figures of one op type from a `paco bench --json` result."""
    o = next(iter(bench["ops"].values()), {})
    lat = o.get("latency_us", {})
    return {
        "ops_per_s": o.get("ops_per_s", 0.0),
        "mb_per_s": o.get("mb_per_s", 0.0),
        "p50_us": lat.get("p50"), "p90_us": lat.get("p90"), "p99_us": lat.get("p99"),
        "p99.9_us": lat.get("p99.9"), "max_us": lat.get("max"),
        "count": o.get("count", 0),
        "errors": bench["total"]["errors"],
        "server_cpu_us_per_op": bench.get("server_cpu_us_per_op"),
        "server_cpu_cores": bench.get("server_cpu_cores"),
    }


def median_of(summaries):
    keys = summaries[0].keys()
    return {k: pk.median([s[k] for s in summaries]) for k in keys}


def run_matrix(args, stack, targets, res):
    load = cpu_arg(args.load_cpu)
    sizes = args.sizes.split(",")
    ops = [o.upper() for o in args.ops.split(",")]
    concs = [int(c) for c in args.concurrency.split(",")]
    for size in sizes:
        n_get, n_put = SIZES.get(size, (64, 64))
        for op in ops:
            if op == "GET":
                for t in targets:
                    pk.log(f"{t.name}: writing {n_get} objects of {size} for GET")
                    pk.paco_bench(args.paco, t, [
                        "--size", size, "--mix", "get=1", "--ops", "1", "--warmup", "0",
                        "-c", "8", "--objects", str(n_get), "--container", f"get-{size}",
                    ], load)
            for c in concs:
                for t in targets:
                    big = size == "64MiB" and c >= 16
                    timing = (["--warmup", "0", "--ops", str(args.big_ops)] if big else
                              ["--warmup", str(args.warmup), "-d", str(args.duration)])
                    n = n_get if op == "GET" else n_put
                    container = f"get-{size}" if op == "GET" else f"put-{size}-c{c}"
                    runs = []
                    for r in range(args.runs):
                        pk.log(f"{t.name}: {size} {op} c{c} run {r + 1}/{args.runs}")
                        b = pk.paco_bench(args.paco, t, [
                            "--size", size, "--mix", f"{op.lower()}=1", "-c", str(c),
                            "--objects", str(n), "--container", container, "--no-prefill",
                        ] + timing, load)
                        runs.append(b)
                        s = summarize(b)
                        pk.log(f"  {s['ops_per_s']:.1f} ops/s {s['mb_per_s']:.1f} MB/s "
                               f"p99 {s['p99_us'] / 1000:.2f} ms errors {s['errors']}")
                    res["cases"].append({
                        "target": t.name, "size": size, "op": op, "concurrency": c,
                        "timing": "ops" if big else "duration",
                        "runs": runs, "median": median_of([summarize(b) for b in runs]),
                    })
                    save(res, args.out)


def run_wrk(args, stack, targets, res):
    """wrk on 4 KiB GET (the objects the matrix wrote) against paco and
    nginx, at the matrix's concurrencies, to cross-check paco bench."""
    load = cpu_arg(args.load_cpu)
    for t in targets:
        if t.name not in ("paco", "nginx"):
            continue
        for c in [int(c) for c in args.concurrency.split(",")]:
            runs = []
            for r in range(args.runs):
                pk.log(f"wrk: {t.name} 4KiB GET c{c} run {r + 1}/{args.runs}")
                w = pk.wrk_get(t, "get-4KiB", SIZES["4KiB"][0], c, int(args.duration), load, stack.dir)
                runs.append(w)
                pk.log(f"  {w['ops_per_s']:.0f} req/s p99 {w['latency_us'].get('p99', 0) / 1000:.2f} ms"
                       f" non-2xx {w['non_2xx']}")
            res["wrk"].append({
                "target": t.name, "size": "4KiB", "op": "GET", "concurrency": c, "runs": runs,
                "median": {"ops_per_s": pk.median([w["ops_per_s"] for w in runs]),
                           "p50_us": pk.median([w["latency_us"].get("p50") for w in runs]),
                           "p99_us": pk.median([w["latency_us"].get("p99") for w in runs]),
                           "non_2xx": sum(w["non_2xx"] for w in runs)},
            })
            save(res, args.out)


def run_limits(args, stack, res):
    srv, load = cpu_arg(args.server_cpu), cpu_arg(args.load_cpu)
    lim = {}
    pk.log("limits: MD5 on one core")
    lim["md5"] = pk.md5_speed(srv)
    pk.log("limits: loopback TCP (iperf3)")
    lim["loopback_tcp"] = pk.loopback_tcp(srv, load)
    pk.log("limits: durable 4 KiB create+fdatasync+rename+fsync(dir)")
    lim["durable_create_per_s"] = {str(t): pk.durable_create_rate(stack.dir, t) for t in (1, 8, 64)}
    pk.log("limits: fio io_uring")
    lim["fio"] = pk.fio_limits(stack.dir)
    res["limits"] = lim
    save(res, args.out)


def case(res, target, size, op, c):
    for x in res["cases"]:
        if (x["target"], x["size"], x["op"], x["concurrency"]) == (target, size, op, c):
            return x["median"]
    return None


def ratio(a, b):
    """a / b, or None when either side measured nothing (e.g. all errors)."""
    return a / b if a and b else None


def ratios(res):
    """The ratios docs/performance.md and the issue's goals are stated in."""
    out = {"paco_vs_swift": [], "paco_vs_nginx": [], "paco_vs_limits": []}
    keys = sorted({(x["size"], x["op"], x["concurrency"]) for x in res["cases"]},
                  key=lambda k: (pk_size(k[0]), k[1], k[2]))
    for size, op, c in keys:
        p = case(res, "paco", size, op, c)
        if not p:
            continue
        for other, bucket in (("swift", "paco_vs_swift"), ("nginx", "paco_vs_nginx")):
            o = case(res, other, size, op, c)
            if o:
                out[bucket].append({
                    "size": size, "op": op, "concurrency": c,
                    "throughput": ratio(p["ops_per_s"], o["ops_per_s"]),
                    # > 1 means paco's tail is that many times shorter
                    "p99_other_over_paco": ratio(o["p99_us"], p["p99_us"]),
                    "p50_other_over_paco": ratio(o["p50_us"], p["p50_us"]),
                })
    lim = res.get("limits", {})
    dur = lim.get("durable_create_per_s", {})
    md5 = lim.get("md5", {}).get("openssl_mb_per_s")
    tcp = lim.get("loopback_tcp", {}).get("gb_per_s")
    fio_w = lim.get("fio", {}).get("seq_write_1m", {}).get("mb_per_s")
    for c, threads in ((1, "1"), (64, "64")):
        p = case(res, "paco", "4KiB", "PUT", c)
        if p and dur.get(threads):
            out["paco_vs_limits"].append({
                "what": f"4 KiB PUT c{c} / durable create rate, {threads} thread(s)",
                "paco": p["ops_per_s"], "limit": dur[threads],
                "ratio": ratio(p["ops_per_s"], dur[threads])})
    for size in ("1MiB", "64MiB"):
        for c in (1, 64):
            p = case(res, "paco", size, "PUT", c)
            if p and md5:
                out["paco_vs_limits"].append({
                    "what": f"{size} PUT c{c} MB/s / single-core MD5 (openssl)",
                    "paco": p["mb_per_s"], "limit": md5, "ratio": ratio(p["mb_per_s"], md5)})
            if p and fio_w:
                out["paco_vs_limits"].append({
                    "what": f"{size} PUT c{c} MB/s / fio sequential write",
                    "paco": p["mb_per_s"], "limit": fio_w, "ratio": ratio(p["mb_per_s"], fio_w)})
            g = case(res, "paco", size, "GET", c)
            if g and tcp:
                out["paco_vs_limits"].append({
                    "what": f"{size} GET c{c} MB/s / loopback TCP (1 stream)",
                    "paco": g["mb_per_s"], "limit": tcp * 1000,
                    "ratio": ratio(g["mb_per_s"], tcp * 1000)})
    out["wrk_vs_paco_bench"] = []
    for w in res.get("wrk", []):
        b = case(res, w["target"], "4KiB", "GET", w["concurrency"])
        if b:
            out["wrk_vs_paco_bench"].append({
                "target": w["target"], "concurrency": w["concurrency"],
                "wrk_ops_per_s": w["median"]["ops_per_s"], "bench_ops_per_s": b["ops_per_s"],
                "ratio": ratio(w["median"]["ops_per_s"], b["ops_per_s"]),
                "wrk_p99_us": w["median"]["p99_us"], "bench_p99_us": b["p99_us"]})
    return out


def pk_size(s):
    return {"4KiB": 0, "1MiB": 1, "64MiB": 2}.get(s, 9)


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0 and abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{max(digits, 1) if abs(x) < 100 else 0}f}"


def summary_table(res):
    lines = []
    lines.append(f"{'case':<18} {'target':<6} {'ops/s':>9} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                 f"{'cpu us/op':>9} {'err':>4}")
    for x in sorted(res["cases"], key=lambda x: (pk_size(x["size"]), x["op"], x["concurrency"])):
        m = x["median"]
        lines.append(
            f"{x['size'] + ' ' + x['op'] + ' c' + str(x['concurrency']):<18} {x['target']:<6} "
            f"{fmt(m['ops_per_s'], 1):>9} {fmt(m['mb_per_s'], 1):>8} "
            f"{fmt((m['p50_us'] or 0) / 1000, 2):>8} {fmt((m['p99_us'] or 0) / 1000, 2):>8} "
            f"{fmt(m['server_cpu_us_per_op']):>9} {m['errors']:>4.0f}")
    r = res.get("ratios", {})
    lines.append("")
    lines.append(f"{'case':<18} {'paco/swift':>10} {'swift p99/paco p99':>18} {'paco/nginx':>10}")
    nginx = {(x["size"], x["op"], x["concurrency"]): x for x in r.get("paco_vs_nginx", [])}
    seen = set()
    for x in r.get("paco_vs_swift", []) + r.get("paco_vs_nginx", []):
        k = (x["size"], x["op"], x["concurrency"])
        if k in seen:
            continue
        seen.add(k)
        s = next((y for y in r.get("paco_vs_swift", []) if (y["size"], y["op"], y["concurrency"]) == k), {})
        n = nginx.get(k, {})
        lines.append(f"{k[0] + ' ' + k[1] + ' c' + str(k[2]):<18} {fmt(s.get('throughput'), 2):>10} "
                     f"{fmt(s.get('p99_other_over_paco'), 2):>18} {fmt(n.get('throughput'), 2):>10}")
    if r.get("paco_vs_limits"):
        lines.append("")
        for x in r["paco_vs_limits"]:
            lines.append(f"{x['what']:<52} {fmt(x['paco'], 1):>9} / {fmt(x['limit'], 1):>9} = {fmt(x['ratio'], 2)}")
    for x in r.get("wrk_vs_paco_bench", []):
        lines.append(f"wrk vs paco bench, {x['target']} 4KiB GET c{x['concurrency']}: "
                     f"{fmt(x['wrk_ops_per_s'])} vs {fmt(x['bench_ops_per_s'])} req/s "
                     f"(wrk/bench {fmt(x['ratio'], 2)}); p99 {fmt((x['wrk_p99_us'] or 0) / 1000, 2)} vs "
                     f"{fmt((x['bench_p99_us'] or 0) / 1000, 2)} ms")
    lim = res.get("limits", {})
    if lim:
        lines.append("")
        lines.append("limits: " + json.dumps({k: v for k, v in lim.items()}, default=str))
    lines.append(f"load average at start {res['machine']['loadavg']}, at end {res.get('loadavg_end')}; "
                 f"CPU busy before start {res.get('busy_before', 0) * 100:.0f}%")
    return "\n".join(lines)


def save(res, path):
    res["ratios"] = ratios(res)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.replace(tmp, path)


def main():
    args = parse_args()
    if not os.access(args.paco, os.X_OK):
        sys.exit(f"no paco binary at {args.paco} (cargo build --release)")
    os.makedirs(os.path.join(pk.REPO, "perf/results"), exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    args.out = args.out or os.path.join(pk.REPO, f"perf/results/compare-{stamp}.json")
    res = {
        "kind": "compare", "machine": pk.machine_info(), "busy_before": pk.busy_cpu_share(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "method": {
            "pinning": f"servers on CPU {args.server_cpu}, load generators on CPU {args.load_cpu}",
            "swift": "Swift 2.38.3 from PyPI: proxy, account, container, object servers with one "
                     "worker each, memcached, tempauth, one replica, part power 10, log_level WARNING",
            "paco": "paco serve --workers 1 (release build)",
            "nginx": "nginx, one worker, sendfile, WebDAV PUT (no fsync)",
            "objects": {k: {"get_objects": v[0], "put_objects": v[1]} for k, v in SIZES.items()},
        },
        "cases": [], "wrk": [],
    }
    wanted = args.targets.split(",")
    srv = cpu_arg(args.server_cpu)
    with pk.Stack() as stack:
        targets = []
        pk.log(f"work dir {stack.dir}; load average {os.getloadavg()}")
        for name in wanted:
            pk.log(f"starting {name}")
            if name == "paco":
                targets.append(pk.Paco(stack, args.paco, srv))
            elif name == "swift":
                targets.append(pk.SwiftAIO(stack, args.swift_venv, srv))
            elif name == "nginx":
                targets.append(pk.Nginx(stack, srv))
            else:
                sys.exit(f"unknown target {name}")
        stack.settle_after_deletions()
        started = time.time()
        if not args.no_limits:
            run_limits(args, stack, res)
        run_matrix(args, stack, targets, res)
        if not args.no_wrk and "4KiB" in args.sizes.split(",") and "GET" in args.ops.upper():
            run_wrk(args, stack, targets, res)
        res["elapsed_s"] = time.time() - started
    res["loadavg_end"] = os.getloadavg()
    save(res, args.out)
    print(summary_table(res))
    print(f"\nresults: {os.path.relpath(args.out, os.getcwd())}")


if __name__ == "__main__":
    main()
