#!/usr/bin/env bash
# Swift conformance: runs OpenStack Swift 2.38.3's own functional test suite
# and python-swiftclient end to end against a fresh paco node, and judges the
# outcome against tests/conformance/expected.txt.
#
#   scripts/conformance.sh                    build paco, run everything, judge
#   scripts/conformance.sh --update-expected  rewrite expected.txt (and
#                                             docs/compatibility.md) from the
#                                             last run; no new run
#   scripts/conformance.sh --modules "tests.py test_object.py"   run only these
#   scripts/conformance.sh --all-modules      also run feature modules paco does
#                                             not claim yet (informational: their
#                                             tests are not in expected.txt, so
#                                             the verdict lists them as missing)
#   scripts/conformance.sh --no-e2e           skip the swiftclient end to end
#   scripts/conformance.sh --no-ring-interop  skip the ring and Swift proxy/server interop checks
#   scripts/conformance.sh -k EXPR            pass -k EXPR to pytest (debugging)
#
# Environment:
#   PACO_BIN                  use this paco binary instead of building one
#   CARGO_TARGET_DIR          honoured when building (cargo build --release)
#   PACO_WORKERS              --workers for the node (default: paco's default)
#   PACO_SERVE_ARGS           more arguments for `paco serve`, e.g. "--driver epoll"
#   CONFORMANCE_VENV          venv folder (default .venv-conformance/ in the repo)
#   CONFORMANCE_OUT           output folder (default target/conformance/)
#   CONFORMANCE_TEST_TIMEOUT  seconds per test (default 60)
#   CONFORMANCE_BUDGET        seconds for all test modules together, counted
#                             from the node's start (default 720)
#   CONFORMANCE_MAX_BACKOFF   cap on the suite's retry back-off, seconds (default
#                             0.5; Swift's own 1+2+4+8+16 s would make every
#                             request the node answers with 5xx cost 31 s)
#
# Exit status: 0 when every test meets the expectation file, 1 otherwise,
# 2 when the set-up failed (venv, build, node did not start).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

SWIFT_VERSION=2.38.3
CONF_DIR="$REPO_ROOT/tests/conformance"
REQUIREMENTS="$CONF_DIR/requirements.txt"
SWIFT_SDIST_REQ="$CONF_DIR/swift-sdist.txt"
EXPECTED="$CONF_DIR/expected.txt"
VENV_DIR="${CONFORMANCE_VENV:-$REPO_ROOT/.venv-conformance}"
OUT_DIR="${CONFORMANCE_OUT:-$REPO_ROOT/target/conformance}"
RUN_DIR="$OUT_DIR/last-run"
RESULTS="$OUT_DIR/results.json"
TEST_TIMEOUT="${CONFORMANCE_TEST_TIMEOUT:-60}"
BUDGET="${CONFORMANCE_BUDGET:-720}"
MAX_BACKOFF="${CONFORMANCE_MAX_BACKOFF:-0.5}"

# Swift functional test modules for what paco serves today.
CORE_MODULES=(tests.py test_object.py test_container.py test_account.py test_protocol.py)
# Feature modules paco claims. Add a module here when its feature lands and
# /info advertises it; its tests then need a line each in expected.txt.
#   test_access_control.py                       ACLs (issue 4)
#   test_dlo.py test_slo.py test_symlink.py test_versioned_writes.py
#   test_object_versioning.py test_tempurl.py test_staticweb.py   (issue 7)
#   test_domain_remap.py                         domain_remap (not in the SAIO pipeline)
FEATURE_MODULES=(test_dlo.py test_slo.py test_tempurl.py test_staticweb.py test_symlink.py test_versioned_writes.py
    test_object_versioning.py)
UNCLAIMED_MODULES=(test_access_control.py test_domain_remap.py)

log() { printf 'conformance: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

UPDATE_EXPECTED=0
RUN_E2E=1
RUN_RING_INTEROP=1
MODULES=()
PYTEST_K=()
while [ $# -gt 0 ]; do
    case "$1" in
        --update-expected) UPDATE_EXPECTED=1 ;;
        --no-e2e) RUN_E2E=0 ;;
        --no-ring-interop) RUN_RING_INTEROP=0 ;;
        --modules) shift; read -r -a MODULES <<<"${1:-}" ;;
        --all-modules) MODULES=("${CORE_MODULES[@]}" "${FEATURE_MODULES[@]}" "${UNCLAIMED_MODULES[@]}") ;;
        -k) shift; PYTEST_K=(-k "${1:-}") ;;
        -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done
if [ ${#MODULES[@]} -eq 0 ]; then
    MODULES=("${CORE_MODULES[@]}" "${FEATURE_MODULES[@]}")
fi

PY_BOOT="${PYTHON:-python3}"
command -v "$PY_BOOT" >/dev/null || die "python3 is required"

if [ "$UPDATE_EXPECTED" = 1 ]; then
    [ -f "$RESULTS" ] || die "no results at $RESULTS: run scripts/conformance.sh first"
    "$PY_BOOT" "$CONF_DIR/judge.py" update --results "$RESULTS" --expected "$EXPECTED"
    "$PY_BOOT" "$REPO_ROOT/scripts/compat_report.py" --results "$RESULTS" \
        --expected "$EXPECTED" --out "$REPO_ROOT/docs/compatibility.md"
    exit 0
fi

START_TS=$(date +%s)

# --------------------------------------------------------------- the venv
# Rebuilt when the pins (requirements, Swift sdist, Python version) change.
ensure_venv() {
    local want have=""
    want="$( { cat "$REQUIREMENTS" "$SWIFT_SDIST_REQ"; "$PY_BOOT" -c 'import sys; print(sys.version)'; } \
        | sha256sum | cut -d' ' -f1)"
    [ -f "$VENV_DIR/.paco-pins" ] && have="$(cat "$VENV_DIR/.paco-pins")"
    if [ "$have" = "$want" ] && [ -x "$VENV_DIR/bin/python" ] \
        && [ -d "$VENV_DIR/src/swift-$SWIFT_VERSION/test/functional" ]; then
        log "reusing venv $VENV_DIR"
        return
    fi
    log "creating venv $VENV_DIR (python-swiftclient, Swift $SWIFT_VERSION functional tests)"
    rm -rf "$VENV_DIR"
    if ! "$PY_BOOT" -m venv "$VENV_DIR" >/dev/null 2>&1; then
        # Debian's python3 keeps venv in a separate package
        rm -rf "$VENV_DIR"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing python3-venv with apt-get"
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        fi
        "$PY_BOOT" -m venv "$VENV_DIR" || die "cannot create a venv with $PY_BOOT"
    fi
    local pip=("$VENV_DIR/bin/python" -m pip --disable-pip-version-check --no-input -q)
    "${pip[@]}" install -r "$REQUIREMENTS" || die "pip install of $REQUIREMENTS failed"
    mkdir -p "$VENV_DIR/src"
    "${pip[@]}" download --no-binary :all: --no-deps --require-hashes \
        -r "$SWIFT_SDIST_REQ" -d "$VENV_DIR/src" || die "cannot download the swift $SWIFT_VERSION sdist"
    tar -xzf "$VENV_DIR/src/swift-$SWIFT_VERSION.tar.gz" -C "$VENV_DIR/src"
    # Swift itself, from the same sdist (its functional tests import it)
    "${pip[@]}" install --no-deps --no-build-isolation "$VENV_DIR/src/swift-$SWIFT_VERSION.tar.gz" \
        || die "cannot install swift $SWIFT_VERSION"
    "${pip[@]}" check >/dev/null || log "warning: pip check reports conflicts in $VENV_DIR"
    echo "$want" >"$VENV_DIR/.paco-pins"
}

mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.venv.lock"
flock 9 2>/dev/null || true
ensure_venv
VPY="$VENV_DIR/bin/python"
SWIFT_SRC="$VENV_DIR/src/swift-$SWIFT_VERSION"

# ------------------------------------------------------------ the binary
if [ -z "${PACO_BIN:-}" ]; then
    log "building paco (cargo build --release)"
    cargo build --release --quiet || die "cargo build --release failed"
    TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
        | "$PY_BOOT" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    PACO_BIN="$TARGET_DIR/release/paco"
fi
[ -x "$PACO_BIN" ] || die "no paco binary at $PACO_BIN"

# ---------------------------------------------- ring and backend interop
# paco and Swift 2.38.3 must read each other's ring files and agree on every
# partition, primary and handoff (scripts/ring_interop.py), and a real Swift
# proxy must serve python-swiftclient through paco's backend listener
# (scripts/swift_proxy_interop.py), and paco's proxy must serve it through
# real Swift account, container and object servers
# (scripts/swift_storage_interop.py). docs/rings.md describes all three.
INTEROP_FAILED=0
if [ "$RUN_RING_INTEROP" = 1 ]; then
    for check in ring_interop swift_proxy_interop swift_storage_interop; do
        log "running $check against Swift $SWIFT_VERSION"
        if timeout --foreground -k 10 900 "$VPY" "$REPO_ROOT/scripts/$check.py" --paco "$PACO_BIN" \
            >"$OUT_DIR/$check.log" 2>&1; then
            log "$check: $(tail -n 1 "$OUT_DIR/$check.log")"
        else
            INTEROP_FAILED=1
            log "$check FAILED; see $OUT_DIR/$check.log:"
            grep -E '^FAIL|Error|error' "$OUT_DIR/$check.log" | head -n 20 >&2 || true
        fi
    done
fi

# ------------------------------------------------------------- the node
TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/paco-conformance.XXXXXXXX")"
PACO_PID=""
stop_node() {
    if [ -n "$PACO_PID" ] && kill -0 "$PACO_PID" 2>/dev/null; then
        # the node runs in its own process group: stop all of it
        kill -TERM -- "-$PACO_PID" 2>/dev/null || kill -TERM "$PACO_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$PACO_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$PACO_PID" 2>/dev/null; then
            log "paco did not stop on SIGTERM within 10 s; killing it"
            kill -KILL -- "-$PACO_PID" 2>/dev/null || kill -KILL "$PACO_PID" 2>/dev/null || true
        fi
        wait "$PACO_PID" 2>/dev/null || true
    fi
    PACO_PID=""
}
cleanup() {
    local rc=$?
    stop_node
    rm -rf "$TMP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
: >"$RUN_DIR/modules.tsv"

WORKER_ARGS=()
[ -n "${PACO_WORKERS:-}" ] && WORKER_ARGS=(--workers "$PACO_WORKERS")
read -r -a EXTRA_SERVE_ARGS <<<"${PACO_SERVE_ARGS:-}"
# Two storage policies, so the suite's multi-policy tests run (it picks a
# non-default policy from /info); Policy-0 stays the default.
CONFIG_ARGS=()
if [[ " ${PACO_SERVE_ARGS:-} " != *" --config "* ]]; then
    cat >"$TMP_DIR/paco.toml" <<'EOF'
[[policies]]
index = 0
name = "Policy-0"
default = true

[[policies]]
index = 1
name = "silver"
EOF
    CONFIG_ARGS=(--config "$TMP_DIR/paco.toml")
fi
log "starting $PACO_BIN serve (data in $TMP_DIR/data)"
setsid "$PACO_BIN" serve --bind 127.0.0.1:0 --data-dir "$TMP_DIR/data" "${CONFIG_ARGS[@]}" "${WORKER_ARGS[@]}" "${EXTRA_SERVE_ARGS[@]}" \
    >"$TMP_DIR/paco.stdout" 2>"$RUN_DIR/paco.log" </dev/null 9>&- &
PACO_PID=$!

URL=""
for _ in $(seq 1 300); do
    URL="$(sed -n 's#^paco listening on \(http://[^ ]*\).*#\1#p' "$TMP_DIR/paco.stdout" | head -n1)"
    [ -n "$URL" ] && break
    if ! kill -0 "$PACO_PID" 2>/dev/null; then
        tail -n 30 "$RUN_DIR/paco.log" | cut -c1-400 >&2 || true
        die "paco exited before it was listening"
    fi
    sleep 0.1
done
[ -n "$URL" ] || { tail -n 30 "$RUN_DIR/paco.log" | cut -c1-400 >&2; die "paco did not print its listening line within 30 s"; }
HOSTPORT="${URL#http://}"
HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%:*}"
PORT="${HOSTPORT##*:}"
log "paco is listening on $URL (pid $PACO_PID)"

# /info as the node publishes it (recorded in the results)
"$VPY" - "$URL/info" "$RUN_DIR/info.json" <<'EOF' || log "warning: GET /info failed"
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    data = json.load(r)
with open(sys.argv[2], "w") as f:
    json.dump(data, f, indent=1, sort_keys=True)
EOF

# The suite's configuration: tempauth users as in Swift's SAIO set-up.
cat >"$TMP_DIR/test.conf" <<EOF
[func_test]
auth_host = $HOST
auth_port = $PORT
auth_ssl = no
auth_prefix = /auth/
auth_version = 1

# primary account, admin of AUTH_test
account = test
username = tester
password = testing
# second account
account2 = test2
username2 = tester2
password2 = testing2
# same account as the first, without admin rights
username3 = tester3
password3 = testing3
# service token tests: a user in a different account, group 'service'
account5 = test5
username5 = tester5
password5 = testing5
service_prefix = SERVICE
# reseller admin
account6 = admin
username6 = admin
password6 = admin

collate = C
insecure = no

[unit_test]
fake_syslog = False
EOF

# Only what we set: never fall back to Swift's in-process servers.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(SWIFT_|OS_|ST_)' || true)
export SWIFT_TEST_CONFIG_FILE="$TMP_DIR/test.conf"
export SWIFT_TEST_IN_PROCESS=0
export PYTHONPATH="$CONF_DIR"
export PYTHONDONTWRITEBYTECODE=1
export LC_ALL=C.UTF-8

TESTS_START_TS=$(date +%s)
# what the node said, without its access log
show_node_log() {
    grep -v 'paco::access' "$RUN_DIR/paco.log" | tail -n 15 | cut -c1-400 >&2 || true
}
remaining() { echo $(( BUDGET - ($(date +%s) - TESTS_START_TS) )); }

# ------------------------------------------------------------- the suite
NODE_DIED=0
for mod in "${MODULES[@]}"; do
    [ -f "$SWIFT_SRC/test/functional/$mod" ] || die "no such functional module: $mod"
    if [ "$NODE_DIED" = 1 ]; then
        # judged as "no result" for every expected pass of the module
        printf '%s\t%s\t%s\n' "$mod" -1 0 >>"$RUN_DIR/modules.tsv"
        continue
    fi
    left=$(remaining)
    if [ "$left" -lt 20 ]; then
        log "time budget (${BUDGET}s) used up: not running $mod"
        printf '%s\t%s\t%s\n' "$mod" 124 0 >>"$RUN_DIR/modules.tsv"
        continue
    fi
    log "running $mod (limit ${left}s)"
    t0=$(date +%s.%N)
    rc=0
    ( cd "$SWIFT_SRC" && timeout --foreground -k 15 "$left" "$VPY" -m pytest \
        -o addopts= -p no:cacheprovider -p pytest_paco_results \
        --paco-results "$RUN_DIR/$mod.jsonl" --paco-max-backoff "$MAX_BACKOFF" --junitxml "$RUN_DIR/${mod%.py}.xml" \
        --timeout "$TEST_TIMEOUT" --timeout-method signal \
        -q -rfE --tb short -W ignore::DeprecationWarning \
        "${PYTEST_K[@]}" "test/functional/$mod" ) >"$RUN_DIR/$mod.log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\n' "$mod" "$rc" "$secs" >>"$RUN_DIR/modules.tsv"
    log "$mod: $(tail -n 1 "$RUN_DIR/$mod.log" | sed 's/=//g; s/^ *//; s/ *$//') [exit $rc, ${secs}s]"
    if ! kill -0 "$PACO_PID" 2>/dev/null; then
        log "paco is gone after $mod; see $RUN_DIR/paco.log. Its last non-access lines:"
        show_node_log
        NODE_DIED=1
    fi
done

# ----------------------------------------------- python-swiftclient e2e
if [ "$RUN_E2E" = 1 ] && [ "$NODE_DIED" = 1 ]; then
    printf '%s\t%s\t%s\n' e2e -1 0 >>"$RUN_DIR/modules.tsv"
elif [ "$RUN_E2E" = 1 ]; then
    log "running python-swiftclient end to end"
    t0=$(date +%s.%N)
    rc=0
    timeout --foreground -k 10 600 "$VPY" "$REPO_ROOT/scripts/swiftclient_e2e.py" \
        --auth "$URL/auth/v1.0" --user test:tester --key testing \
        --swift "$VENV_DIR/bin/swift" --results "$RUN_DIR/e2e.jsonl" \
        >"$RUN_DIR/e2e.log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    printf '%s\t%s\t%s\n' e2e "$rc" "$secs" >>"$RUN_DIR/modules.tsv"
    log "e2e: $(tail -n 1 "$RUN_DIR/e2e.log") [exit $rc, ${secs}s]"
    if ! kill -0 "$PACO_PID" 2>/dev/null; then
        log "paco is gone after the e2e steps; its last non-access lines:"
        show_node_log
        NODE_DIED=1
    fi
fi

stop_node
END_TS=$(date +%s)

COMMIT="$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo none)"
DIRTY=""
if [ "$COMMIT" != none ] && [ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    DIRTY=" (with uncommitted changes)"
fi
SWIFTCLIENT_VERSION="$("$VPY" -c 'import importlib.metadata as m; print(m.version("python-swiftclient"))')"

"$PY_BOOT" "$CONF_DIR/judge.py" collect --run-dir "$RUN_DIR" --out "$RESULTS" \
    --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --meta "paco_commit=$COMMIT$DIRTY" \
    --meta "paco_bin=$PACO_BIN" \
    --meta "swift_version=$SWIFT_VERSION" \
    --meta "swiftclient_version=$SWIFTCLIENT_VERSION" \
    --meta "python=$("$VPY" -c 'import platform; print(platform.python_version())')" \
    --meta "cores=$(nproc)" \
    --meta "workers=${PACO_WORKERS:-default}" \
    --meta "serve_args=${PACO_SERVE_ARGS:-}" \
    --meta "modules=${MODULES[*]}" \
    --meta "pytest_k=${PYTEST_K[*]:-}" \
    --meta "wall_seconds=$((END_TS - START_TS))"

"$PY_BOOT" "$REPO_ROOT/scripts/compat_report.py" --results "$RESULTS" \
    --expected "$EXPECTED" --out "$OUT_DIR/compatibility.md" >/dev/null \
    || log "warning: compat_report.py failed"

log "logs: $RUN_DIR (pytest output per module, paco.log); results: $RESULTS"
log "total time $((END_TS - START_TS))s"
rc=0
"$PY_BOOT" "$CONF_DIR/judge.py" check --results "$RESULTS" --expected "$EXPECTED" || rc=$?
if [ "$INTEROP_FAILED" = 1 ]; then
    log "FAILURE: ring or backend interop with Swift (see $OUT_DIR/*interop.log)"
    rc=1
fi
if [ "$NODE_DIED" = 1 ]; then
    log "FAILURE: the node stopped before the run was over (see $RUN_DIR/paco.log)"
    rc=1
fi
if [ "$rc" != 0 ]; then
    log "to accept new outcomes: scripts/conformance.sh --update-expected, then give every 'xfail: TODO' a real reason"
fi
exit "$rc"
