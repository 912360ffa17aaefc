#!/usr/bin/env bash
# The forward path measured by a client and a server we did not write (issue 14): the
# official Python SDK's default client calling server-everything's `echo`, directly and
# through mcpgw (execute_tool, and direct mode), rounds alternating. Needs
# scripts/setup-test-deps.sh (the SDK and server-everything in .tools/) and builds mcpgw in
# release mode unless MCPGW_BIN names a binary.
#
#   bench/sdk-latency.sh                 CALLS=500 ROUNDS=3
#   CALLS=2000 ROUNDS=5 bench/sdk-latency.sh
#   PEERS=1 bench/sdk-latency.sh         also the Python gateway (agent-mcp-gateway 0.2.5, installed
#                                        into .tools/bench-agw with a Python >= 3.12, as bench/compare.sh does)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.tools/py/bin/python
EVERYTHING=.tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js
[ -x "$PY" ] && [ -f "$EVERYTHING" ] || { echo "sdk-latency: run scripts/setup-test-deps.sh first" >&2; exit 2; }
if [ -z "${MCPGW_BIN:-}" ]; then
  cargo build --release --bin mcpgw --quiet
  MCPGW_BIN=target/release/mcpgw
fi
# The collector for the telemetry variant, when the setup installed it.
ROTEL="$(ls .tools/otel/lib/python3*/site-packages/rotel/rotel-agent 2>/dev/null || true)"
AGW=""
if [ "${PEERS:-0}" = 1 ]; then
  # shellcheck source=bench/common.sh
  . bench/common.sh
  PY312="$(find_python312)" || { echo "sdk-latency: PEERS=1 needs a Python >= 3.12" >&2; exit 2; }
  ensure_venv "$TOOLS/bench-agw" "$PY312" "agent-mcp-gateway==0.2.5"
  AGW="$TOOLS/bench-agw/bin/agent-mcp-gateway"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "sdk-latency: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), mcpgw $MCPGW_BIN" >&2
"$PY" bench/sdk_latency.py --mcpgw "$MCPGW_BIN" --everything "$EVERYTHING" --workdir "$work" \
  --calls "${CALLS:-500}" --rounds "${ROUNDS:-3}" ${ROTEL:+--rotel "$ROTEL"} ${AGW:+--agw "$AGW"}
echo "sdk-latency: load after $(cut -d' ' -f1-3 /proc/loadavg)" >&2
