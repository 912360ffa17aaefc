#!/usr/bin/env bash
# The cost of a rate limit shared in Redis, and calls/s through HAProxy with one replica and
# with three (DESIGN section 15; bench/shared_limits.py says what it runs).
#
#   bench/shared-limits.sh            # about a minute
#   SHARED_LIMITS_ARGS="--calls 1000 --clients 16" bench/shared-limits.sh
#
# Binaries: $MCPGW and $FIXTURE, else the release builds under $CARGO_TARGET_DIR (or target/),
# built when missing. Needs python3, redis-server and haproxy (scripts/setup-test-deps.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MCPGW="${MCPGW:-$TARGET/release/mcpgw}"
FIXTURE="${FIXTURE:-$TARGET/release/mcpgw-fixture}"
if [ ! -x "$MCPGW" ] || [ ! -x "$FIXTURE" ]; then
  (cd "$ROOT" && cargo build --release --bins -p mcpgw -p mcpgw-fixture --quiet)
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
# shellcheck disable=SC2086
python3 "$ROOT/bench/shared_limits.py" --mcpgw "$MCPGW" --fixture "$FIXTURE" ${SHARED_LIMITS_ARGS:-}
