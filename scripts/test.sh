#!/usr/bin/env bash
# Runs every test paco has: formatting, unit and integration tests (both I/O
# drivers), then Swift's functional suite and python-swiftclient against a
# live node. Installs what it needs; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo test (unit + integration)"
cargo test --lib --bins --tests -- --test-threads=2
echo "== criterion benches, once each (test mode)"
cargo test --benches

echo "== Swift conformance (functional suite + python-swiftclient)"
# The debug binary cargo test just built is fast enough for Swift's
# functional tests and saves a second (release) build.
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
PACO_BIN="${PACO_BIN:-$target_dir/debug/paco}" scripts/conformance.sh
