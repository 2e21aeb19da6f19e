#!/usr/bin/env bash
# Runs every test paco has: formatting, unit and integration tests (both I/O
# drivers), then Swift's functional suite and python-swiftclient against a
# live node. Installs what it needs; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo test (unit + integration)"
cargo test --all-targets -- --test-threads=2

if [ -x scripts/conformance.sh ]; then
  echo "== Swift conformance"
  scripts/conformance.sh
fi
