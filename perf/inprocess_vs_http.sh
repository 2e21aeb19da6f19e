#!/usr/bin/env bash
# The PACO path against a loopback HTTP hop: one node, a one-replica ring
# whose only device is the node itself, once with the in-process backend
# (the proxy calls the object server directly) and once with
# `force_http_backend = true` (the proxy sends each request to the node's
# own backend listener). 4 KiB PUT and GET with paco bench, alternated
# twice; everything runs in a temp dir and every node is stopped on exit.
#
#   perf/inprocess_vs_http.sh [PACO_BIN]      (default target/release/paco)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
P="${1:-$REPO/target/release/paco}"
[ -x "$P" ] || (cd "$REPO" && cargo build --release --quiet)
work="$(mktemp -d -t paco-inproc-XXXXXX)"
node=""
cleanup() { [ -n "$node" ] && kill "$node" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bport="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
for r in object container account; do
    "$P" ring -b "$work/$r.builder" create 6 1 0 >/dev/null
    "$P" ring -b "$work/$r.builder" add "r1z1-127.0.0.1:$bport/sda1" 100 >/dev/null
    "$P" ring -b "$work/$r.builder" rebalance >/dev/null
    "$P" ring -b "$work/$r.builder" write_ring -o "$work/$r.ring.gz" >/dev/null
done
for round in 1 2; do
    for http in false true; do
        printf 'backend_bind = "127.0.0.1:%s"\n[cluster]\nswift_dir = "%s"\nforce_http_backend = %s\n' \
            "$bport" "$work" "$http" > "$work/paco.toml"
        rm -rf "$work/data"
        "$P" serve --bind 127.0.0.1:0 --data-dir "$work/data" --workers 1 --log warn \
            --config "$work/paco.toml" > "$work/node.log" 2>&1 &
        node=$!
        addr=""
        for _ in $(seq 100); do
            addr="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/node.log" | head -1 || true)"
            [ -n "$addr" ] && break
            sleep 0.1
        done
        [ -n "$addr" ] || { cat "$work/node.log"; exit 1; }
        for mix in put get; do
            "$P" bench -A "$addr/auth/v1.0" -m "$mix=1" -c 16 -d 5 --warmup 1 --objects 300 \
                --json 2>/dev/null | LABEL="round $round force_http_backend=$http $mix" python3 -c '
import json, os, sys
b = json.load(sys.stdin)
o = list(b["ops"].values())[0]
l = o["latency_us"]
print("%s: %.0f/s, p50 %.2f ms, p99 %.2f ms" % (os.environ["LABEL"], o["ops_per_s"], l["p50"] / 1000, l["p99"] / 1000))'
        done
        kill "$node"; wait "$node" 2>/dev/null || true; node=""
    done
done
