#!/usr/bin/env bash
# Installs what perf/compare.sh and scripts/perf-check need; idempotent.
#   - Debian packages: nginx (its WebDAV module does PUT), fio, wrk, iperf3,
#     memcached (Swift's tempauth keeps tokens there), openssl
#   - .venv-swift-aio/: OpenStack Swift 2.38.3 from PyPI and matplotlib
#     (perf/requirements.txt), rebuilt when that file changes
#
#   perf/setup.sh            both
#   perf/setup.sh --gate     only what scripts/perf-check needs (nginx)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PERF_VENV:-$REPO/.venv-swift-aio}"
PY_BOOT="${PYTHON:-python3}"
log() { printf 'perf setup: %s\n' "$*" >&2; }

tools="nginx:nginx fio:fio wrk:wrk iperf3:iperf3 memcached:memcached openssl:openssl taskset:util-linux"
[ "${1:-}" = "--gate" ] && tools="nginx:nginx taskset:util-linux"
need=()
for tool in $tools; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "need root to apt-get install ${need[*]}"; exit 2; }
    log "apt-get install ${need[*]}"
    apt-get update -qq >/dev/null
    # no init system here, but keep packages from starting their services
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ "${1:-}" = "--gate" ] && exit 0

want="$( { cat "$REPO/perf/requirements.txt"; "$PY_BOOT" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
have=""
[ -f "$VENV/.paco-pins" ] && have="$(cat "$VENV/.paco-pins")"
if [ "$have" != "$want" ] || [ ! -x "$VENV/bin/swift-object-server" ]; then
    log "creating $VENV (Swift from PyPI, matplotlib)"
    rm -rf "$VENV"
    "$PY_BOOT" -m venv "$VENV"
    "$VENV/bin/python" -m pip --disable-pip-version-check --no-input -q install -r "$REPO/perf/requirements.txt"
    echo "$want" >"$VENV/.paco-pins"
fi
