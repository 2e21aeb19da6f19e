#!/usr/bin/env bash
# paco vs real OpenStack Swift vs nginx, side by side, plus the machine's
# physical limits (fio, durable create rate, loopback TCP, MD5). One command:
#
#   perf/compare.sh                      the full matrix, about 12 minutes
#   perf/compare.sh --runs 3             three runs per case, medians (final numbers)
#   perf/compare.sh --sizes 4KiB --concurrency 64 --no-limits   a part of it
#   perf/compare.sh --help               every option
#
# Installs what it needs (perf/setup.sh: Debian packages, Swift from PyPI in
# .venv-swift-aio/), builds the release binary, runs perf/compare.py, writes
# perf/results/compare-<UTC time>.json, prints a summary table, and then
# regenerates the plots and tables in docs/perf/ from that file (both go
# under target/perf/ instead when options other than --runs pick a part of
# the matrix). Needs root (apt-get) the first time, and a quiet machine for
# numbers worth quoting. Everything it starts is stopped on exit, even if
# the driver is killed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
case "${1:-}" in -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exec python3 perf/compare.py --help ;; esac
perf/setup.sh
if [ -z "${PACO_BIN:-}" ]; then
    cargo build --release --quiet
    PACO_BIN="$REPO/target/release/paco"
fi
. perf/lib.sh
PY="$REPO/.venv-swift-aio/bin/python"
results=perf/results
plots=docs/perf
rest=("$@")
while [ ${#rest[@]} -gt 0 ]; do
    case "${rest[0]}" in
        --runs) rest=("${rest[@]:2}") ;;
        --runs=*) rest=("${rest[@]:1}") ;;
        *) results=target/perf/results; plots=target/perf/plots; break ;;
    esac
done
mkdir -p "$results"
out="$results/compare-$(date -u +%Y%m%d-%H%M%S).json"
"$PY" perf/compare.py --paco "$PACO_BIN" --out "$out" "$@"
"$PY" scripts/plot_perf.py "$out" --out-dir "$plots"
