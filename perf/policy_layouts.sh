#!/usr/bin/env bash
# onfile vs hashed storage policies: 4 KiB PUT and GET through one node that
# has both (`gold`, hashed, default; `files`, onfile under a temp mount on
# the same filesystem), so both pay the same per-request container lookup.
#
#   perf/policy_layouts.sh            (~2 min; prints one line per case)
#
# One worker, `paco bench --threads 1 -c 16 -d 10`, two containers per
# policy; GET reads 1,000 pre-written objects.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$(pwd)/target/release/paco"
W="$(mktemp -d)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/mount"
cat >"$W/paco.toml" <<TOML
log_requests = false

[[policies]]
index = 0
name = "gold"
default = true

[[policies]]
index = 1
name = "files"
layout = "onfile"
mount = "$W/mount"
TOML
"$BIN" serve --config "$W/paco.toml" --bind 127.0.0.1:0 --workers 1 --no-pin \
    --data-dir "$W/data" >"$W/out" 2>"$W/err" &
PID=$!
for _ in $(seq 100); do grep -q "listening" "$W/out" && break; sleep 0.1; done
URL="$(sed -n 's#^paco listening on \(http://[^ ]*\).*#\1#p' "$W/out")"
[ -n "$URL" ] || { cat "$W/err" >&2; exit 2; }
TOK="$(curl -s -i -H "X-Auth-User: test:tester" -H "X-Auth-Key: testing" "$URL/auth/v1.0" \
    | tr -d '\r' | sed -n 's/^X-Auth-Token: //ip')"
for c in h1 h2; do
    curl -sf -o /dev/null -X PUT -H "X-Auth-Token: $TOK" -H "X-Storage-Policy: gold" "$URL/v1/AUTH_test/$c"
done
for c in f1 f2; do
    curl -sf -o /dev/null -X PUT -H "X-Auth-Token: $TOK" -H "X-Storage-Policy: files" "$URL/v1/AUTH_test/$c"
done
run() {
    "$BIN" bench -A "$URL/auth/v1.0" --threads 1 -c 16 -d 10 --warmup 2 --json "$@" 2>/dev/null \
        | python3 -c '
import json, sys
d = json.load(sys.stdin)
op = list(d["ops"].values())[0]
l = op["latency_us"]
print("ops/s %.0f  p50 %.2f ms  p99 %.2f ms  errors %s"
      % (op["ops_per_s"], l["p50"] / 1000, l["p99"] / 1000, op["errors"] or 0))'
}
for layout in hashed:h onfile:f; do
    name="${layout%%:*}"; c="${layout##*:}"
    printf '%-7s PUT  ' "$name"; run --mix put=1 --container "${c}1,${c}2" --no-prefill --objects 10000000
    printf '%-7s GET  ' "$name"; run --mix get=1 --container "${c}1,${c}2" --objects 1000
done
uptime
