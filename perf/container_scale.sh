#!/usr/bin/env bash
# Issue 4's scale check: a container with N (default 1,000,000) listing rows
# must list any 10,000-row page in well under a second, and PUT throughput
# into it must stay within 20% of PUT throughput into an empty container.
#
#   perf/container_scale.sh [ROWS]        (needs a quiet machine; ~5 min)
#
# Rows are added straight into the container database with
# `paco admin fill-container` (node stopped); pages and PUTs are then
# measured over HTTP with `paco bench`, the node pinned to cpu1 and the load
# generator to cpu0. Results: perf/results/container_scale-<date>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
DURATION="${DURATION:-15}"
cargo build --release --quiet
BIN="$(pwd)/target/release/paco"
WORK="$(mktemp -d)"
NODE_PID=""
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_node() {
  taskset -c 1 "$BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/data" --workers 1 --log warn >"$WORK/out" 2>"$WORK/err" &
  NODE_PID=$!
  for _ in $(seq 100); do
    grep -q listening "$WORK/out" 2>/dev/null && break
    sleep 0.1
  done
  PORT="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$WORK/out")"
  [ -n "$PORT" ] || { cat "$WORK/err"; exit 1; }
}
stop_node() { kill "$NODE_PID"; wait "$NODE_PID" || true; NODE_PID=""; }

echo "filling container 'big' with $ROWS rows"
"$BIN" admin fill-container --data-dir "$WORK/data" --account AUTH_test --container big --count "$ROWS"
start_node
AUTH="http://127.0.0.1:$PORT/auth/v1.0"
bench() { taskset -c 0 "$BIN" bench -A "$AUTH" --threads 1 --json --warmup 2 -d "$DURATION" "$@" 2>/dev/null; }

echo "listing pages of 10,000 at random markers"
bench --container big --no-prefill --objects "$ROWS" --mix list=1 --list-limit 10000 -c 2 >"$WORK/list.json"
echo "PUT 4 KiB into the empty container, then into 'big'"
bench --container empty --no-prefill --objects 100000 --mix put=1 -c 32 >"$WORK/put_empty.json"
bench --container big --no-prefill --objects "$ROWS" --mix put=1 -c 32 >"$WORK/put_big.json"
stop_node

mkdir -p perf/results
OUT="perf/results/container_scale-$(date -u +%Y%m%d-%H%M%S).json"
python3 - "$WORK" "$ROWS" "$OUT" <<'PY'
import json, sys, subprocess
work, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda n: json.load(open(f"{work}/{n}.json"))
lst, pe, pb = load("list"), load("put_empty"), load("put_big")
l = lst["ops"]["LIST"]
res = {
    "rows": rows,
    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "list_10k_page_ms": {k: v / 1000 for k, v in l["latency_us"].items()},
    "list_pages_per_s": l["ops_per_s"],
    "put_empty_ops_per_s": pe["ops"]["PUT"]["ops_per_s"],
    "put_big_ops_per_s": pb["ops"]["PUT"]["ops_per_s"],
}
res["put_big_vs_empty"] = res["put_big_ops_per_s"] / res["put_empty_ops_per_s"]
json.dump(res, open(out, "w"), indent=2)
print(json.dumps(res, indent=2))
ok = res["list_10k_page_ms"]["p99"] < 1000 and res["put_big_vs_empty"] >= 0.8
print("PASS" if ok else "FAIL", "(p99 page < 1 s, PUT into big >= 0.8x empty)")
PY
