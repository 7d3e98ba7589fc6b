#!/usr/bin/env bash
# Installs what drover's tests need on a fresh machine, then runs every check and test.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests use: sh, curl and procps-style /proc readers come with the base system;
# nothing else is needed by the foundation's tests yet. Later suites install their servers here.
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing tools: ${need[*]} (install them, or run as root)" >&2
    exit 1
  fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --quiet
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
# One summary line for CI: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' target/test-output.txt
