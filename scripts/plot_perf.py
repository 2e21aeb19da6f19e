#!/usr/bin/env python3
"""Plots a perf/compare.py result (perf/results/compare-*.json) as SVG:

  throughput.svg    ops/s (4 KiB) and MB/s (1 and 64 MiB) per case and target
  latency-c1.svg    latency percentiles p50..max per size and op, concurrency 1
  latency-c64.svg   the same at concurrency 64
  ratios.svg        paco/Swift and paco/nginx throughput ratios per case

  scripts/plot_perf.py [RESULT.json] [--out-dir docs/perf]

With no file, the newest perf/results/compare-*.json is used. Needs
matplotlib (perf/setup.sh installs it into .venv-swift-aio/).
"""

import argparse
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["paco", "swift", "nginx"]
COLORS = {"paco": "#1f77b4", "swift": "#d62728", "nginx": "#7f7f7f"}
SIZES = ["4KiB", "1MiB", "64MiB"]
PCTS = [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p99.9_us", "p99.9"), ("max_us", "max")]

# reproducible SVGs: no timestamps, stable ids
plt.rcParams["svg.hashsalt"] = "paco-perf"
plt.rcParams["font.size"] = 9
plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable SVGs


def load(path):
    with open(path) as f:
        return json.load(f)


def cases(res):
    out = {}
    for c in res["cases"]:
        out[(c["target"], c["size"], c["op"], c["concurrency"])] = c["median"]
    return out


def subtitle(res):
    m = res["machine"]
    la = m.get("loadavg") or [0]
    return (f"commit {m.get('commit')}{' (dirty)' if m.get('dirty') else ''}, {m.get('time', '')[:10]}, "
            f"{m.get('cpus')} CPUs, load average {la[0]:.1f} at start; medians of "
            f"{res['settings'].get('runs', 1)} run(s)")


FORMATS = ["svg"]


def save(fig, out_dir, name):
    for fmt in FORMATS:
        path = os.path.join(out_dir, name.replace(".svg", f".{fmt}"))
        meta = {"Date": None} if fmt == "svg" else {}
        fig.savefig(path, format=fmt, metadata=meta, bbox_inches="tight", dpi=110)
        print(path)
    plt.close(fig)


def throughput(res, out_dir):
    cs = cases(res)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, size in zip(axes, SIZES):
        keys = sorted({(op, c) for (_, s, op, c) in cs if s == size}, key=lambda k: (k[0] != "PUT", k[1]))
        if not keys:
            ax.set_visible(False)
            continue
        metric = "ops_per_s" if size == "4KiB" else "mb_per_s"
        width = 0.8 / len(TARGETS)
        for i, t in enumerate(TARGETS):
            vals = [(cs.get((t, size, op, c)) or {}).get(metric) or 0 for op, c in keys]
            xs = [k + (i - 1) * width for k in range(len(keys))]
            bars = ax.bar(xs, vals, width, label=t, color=COLORS[t])
            for b, v in zip(bars, vals):
                if v:
                    ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.1f}", (b.get_x() + b.get_width() / 2, v),
                                ha="center", va="bottom", fontsize=6, rotation=90)
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([f"{op}\nc{c}" for op, c in keys])
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 3)  # room for the labels
        ax.set_title(f"{size} objects")
        ax.set_ylabel("ops/s" if metric == "ops_per_s" else "MB/s")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Throughput, paco bench against each server (higher is better)\n" + subtitle(res), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    save(fig, out_dir, "throughput.svg")


def latency(res, out_dir, conc):
    cs = cases(res)
    ops = ["PUT", "GET"]
    fig, axes = plt.subplots(len(ops), len(SIZES), figsize=(12, 6), squeeze=False)
    any_data = False
    for r, op in enumerate(ops):
        for col, size in enumerate(SIZES):
            ax = axes[r][col]
            for t in TARGETS:
                m = cs.get((t, size, op, conc))
                if not m or not m.get("count"):
                    continue
                any_data = True
                ys = [(m.get(k) or 0) / 1000 for k, _ in PCTS]
                ax.plot([n for _, n in PCTS], ys, marker="o", label=t, color=COLORS[t])
            ax.set_yscale("log")
            ax.set_title(f"{size} {op}, concurrency {conc}")
            ax.set_ylabel("ms")
            ax.grid(which="both", alpha=0.3)
    if not any_data:
        plt.close(fig)
        return
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Latency percentiles at concurrency {conc} (lower is better; closed loop)\n" + subtitle(res),
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    save(fig, out_dir, f"latency-c{conc}.svg")


def ratios(res, out_dir):
    r = res.get("ratios", {})
    fig, ax = plt.subplots(figsize=(12, 3.8))
    rows = {}
    for bucket, label in (("paco_vs_swift", "paco / Swift"), ("paco_vs_nginx", "paco / nginx")):
        for x in r.get(bucket, []):
            rows.setdefault((SIZES.index(x["size"]) if x["size"] in SIZES else 9, x["size"], x["op"],
                             x["concurrency"]), {})[label] = x["throughput"]
    keys = sorted(rows)
    if not keys:
        plt.close(fig)
        return
    width = 0.4
    for i, (label, color) in enumerate((("paco / Swift", COLORS["swift"]), ("paco / nginx", COLORS["nginx"]))):
        vals = [rows[k].get(label) or 0 for k in keys]
        bars = ax.bar([k + (i - 0.5) * width for k in range(len(keys))], vals, width, label=label, color=color)
        for b, v in zip(bars, vals):
            if v:
                ax.annotate(f"{v:.2f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=6)
    ax.axhline(1, color="black", lw=0.8)
    ax.axhline(20, color=COLORS["swift"], lw=0.8, ls="--", label="goal: 20x Swift (4 KiB)")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{s} {op}\nc{c}" for _, s, op, c in keys])
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 2)
    ax.set_ylabel("throughput ratio")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("paco's throughput relative to Swift and nginx in the same run (above 1: paco faster)\n"
                 + subtitle(res), fontsize=9)
    save(fig, out_dir, "ratios.svg")


def fnum(x, d=0):
    if x is None:
        return "–"
    if abs(x) >= 100 or d == 0:
        return f"{x:,.0f}"
    return f"{x:,.{d}f}"


def markdown(res, src):
    """The run's tables as Markdown (docs/perf/latest.md)."""
    cs = cases(res)
    r = res.get("ratios", {})
    m = res["machine"]
    out = [f"# Latest side-by-side run\n",
           f"Generated by `scripts/plot_perf.py` from `{src}`: {subtitle(res)}; load average at "
           f"end {', '.join(f'{x:.1f}' for x in res.get('loadavg_end') or [])}; CPU busy before start "
           f"{res.get('busy_before', 0) * 100:.0f}%. Kernel {m.get('kernel')}, {m.get('cpu_model')}.\n",
           "Throughput (ops/s; MB/s for 1 and 64 MiB), p50 / p99 latency in ms, server CPU per "
           "request in µs (all server processes, warm-up included).\n",
           "| case | paco | Swift | nginx | paco / Swift | Swift p99 / paco p99 | paco / nginx |",
           "|---|---|---|---|---|---|---|"]
    keys = sorted({(s, op, c) for (_, s, op, c) in cs},
                  key=lambda k: (SIZES.index(k[0]) if k[0] in SIZES else 9, k[1] != "PUT", k[2]))

    def cell(t, k):
        x = cs.get((t,) + k)
        if not x:
            return "–"
        metric = "ops_per_s" if k[0] == "4KiB" else "mb_per_s"
        err = f", **{x['errors']:.0f} errors**" if x.get("errors") else ""
        return (f"{fnum(x[metric], 1)} ({fnum((x['p50_us'] or 0) / 1000, 2)} / "
                f"{fnum((x['p99_us'] or 0) / 1000, 2)} ms; {fnum(x['server_cpu_us_per_op'])} µs{err})")

    def rat(bucket, k, field):
        for x in r.get(bucket, []):
            if (x["size"], x["op"], x["concurrency"]) == k:
                return fnum(x[field], 2) + "×" if x[field] is not None else "–"
        return "–"

    for k in keys:
        out.append(f"| {k[0]} {k[1]} c{k[2]} | {cell('paco', k)} | {cell('swift', k)} | {cell('nginx', k)} | "
                   f"{rat('paco_vs_swift', k, 'throughput')} | {rat('paco_vs_swift', k, 'p99_other_over_paco')} | "
                   f"{rat('paco_vs_nginx', k, 'throughput')} |")
    lim = res.get("limits", {})
    if lim:
        fio = lim.get("fio", {})
        dur = lim.get("durable_create_per_s", {})
        out += ["", "Physical limits, measured in the same run:", "",
                "| what | figure |", "|---|---|",
                f"| fio io_uring 1 MiB sequential write / read, O_DIRECT, QD16 | "
                f"{fnum(fio.get('seq_write_1m', {}).get('mb_per_s'))} / "
                f"{fnum(fio.get('seq_read_1m', {}).get('mb_per_s'))} MB/s |",
                f"| fio 4 KiB write + fdatasync each, QD1 | "
                f"{fnum(fio.get('write_4k_fdatasync_qd1', {}).get('iops'))} IOPS, fdatasync p50 "
                f"{fnum(fio.get('write_4k_fdatasync_qd1', {}).get('fdatasync_p50_us'))} µs |",
                f"| durable 4 KiB file (write, fdatasync, rename, fsync dir), 1 / 8 / 64 threads | "
                f"{fnum(dur.get('1'))} / {fnum(dur.get('8'))} / {fnum(dur.get('64'))} files/s |",
                f"| loopback TCP, one stream (iperf3) | "
                f"{fnum(lim.get('loopback_tcp', {}).get('gb_per_s'), 2)} GB/s |",
                f"| MD5 on one core: openssl speed / Python hashlib | "
                f"{fnum(lim.get('md5', {}).get('openssl_mb_per_s'))} / "
                f"{fnum(lim.get('md5', {}).get('hashlib_mb_per_s'))} MB/s |"]
    if r.get("paco_vs_limits"):
        out += ["", "| paco against a limit | paco | limit | ratio |", "|---|---|---|---|"]
        for x in r["paco_vs_limits"]:
            out.append(f"| {x['what']} | {fnum(x['paco'], 1)} | {fnum(x['limit'], 1)} | {fnum(x['ratio'], 2)} |")
    if r.get("wrk_vs_paco_bench"):
        out += ["", "| 4 KiB GET, same objects | wrk req/s | paco bench req/s | wrk / bench | "
                "p99 wrk / bench ms |", "|---|---|---|---|---|"]
        for x in r["wrk_vs_paco_bench"]:
            out.append(f"| {x['target']} c{x['concurrency']} | {fnum(x['wrk_ops_per_s'])} | "
                       f"{fnum(x['bench_ops_per_s'])} | {fnum(x['ratio'], 2)} | "
                       f"{fnum((x['wrk_p99_us'] or 0) / 1000, 2)} / {fnum((x['bench_p99_us'] or 0) / 1000, 2)} |")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", nargs="?")
    p.add_argument("--out-dir", default=os.path.join(REPO, "docs/perf"))
    p.add_argument("--formats", default="svg", help="comma-separated: svg, png")
    a = p.parse_args()
    FORMATS[:] = a.formats.split(",")
    path = a.result
    if not path:
        found = sorted(glob.glob(os.path.join(REPO, "perf/results/compare-*.json")))
        if not found:
            sys.exit("no perf/results/compare-*.json; run perf/compare.sh first")
        path = found[-1]
    res = load(path)
    os.makedirs(a.out_dir, exist_ok=True)
    throughput(res, a.out_dir)
    latency(res, a.out_dir, 1)
    latency(res, a.out_dir, 64)
    ratios(res, a.out_dir)
    md = os.path.join(a.out_dir, "latest.md")
    with open(md, "w") as f:
        f.write(markdown(res, os.path.relpath(path, REPO)))
    print(md)


if __name__ == "__main__":
    main()
