# Sourced by perf/compare.sh and scripts/perf-check: a trap that stops
# whatever the Python driver started (it records each server's process group
# and its temp dir in $PERF_PIDFILE) if the driver itself was killed.
PERF_PIDFILE="$(mktemp -t paco-perf-pids.XXXXXX)"
export PERF_PIDFILE
perf_cleanup() {
    local kind value
    if [ -s "$PERF_PIDFILE" ]; then
        while read -r kind value; do
            case "$kind" in
                pgid) kill -TERM -- "-$value" 2>/dev/null || true ;;
            esac
        done <"$PERF_PIDFILE"
        sleep 0.5
        while read -r kind value; do
            case "$kind" in
                pgid) kill -KILL -- "-$value" 2>/dev/null || true ;;
                dir) if [ -z "${PERF_KEEP_TMP:-}" ] && [ -d "$value" ] \
                        && ! grep -qxF "closed $value" "$PERF_PIDFILE"; then
                        rm -rf "$value"
                    fi ;;
            esac
        done <"$PERF_PIDFILE"
    fi
    rm -f "$PERF_PIDFILE"
}
trap perf_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
