#!/usr/bin/env bash
# Three mcpgw replicas behind HAProxy, limits in Redis, telemetry to a real OpenTelemetry
# collector, under mixed load from the official Python SDK, with a replica killed and Redis
# restarted mid-run (deploy/mixed_load.py says what it runs and checks).
#
#   deploy/test.sh            # the long run: about 3 minutes
#   deploy/test.sh --short    # the CI-sized run (about 30 s; tests/it/deploy_script.rs runs it)
#
# Installs what it needs with scripts/setup-test-deps.sh (HAProxy and Redis from Debian's
# packages, rotel and the Python SDK from PyPI). Binaries: $MCPGW and $FIXTURE, else the
# debug builds under $CARGO_TARGET_DIR (or target/), built when missing. Prints one JSON
# object; exits 1 if a check failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MCPGW="${MCPGW:-$TARGET/debug/mcpgw}"
FIXTURE="${FIXTURE:-$TARGET/debug/mcpgw-fixture}"
# The test suite has run the setup already (DEPLOY_TEST_SETUP=0 skips it).
[ "${DEPLOY_TEST_SETUP:-1}" = 0 ] || scripts/setup-test-deps.sh >&2
if [ ! -x "$MCPGW" ] || [ ! -x "$FIXTURE" ]; then
  cargo build --bins -p mcpgw -p mcpgw-fixture --quiet
fi
ROTEL="$(ls .tools/otel/lib/python3*/site-packages/rotel/rotel-agent)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
exec .tools/py/bin/python deploy/mixed_load.py --mcpgw "$MCPGW" --fixture "$FIXTURE" --rotel "$ROTEL" "$@"
