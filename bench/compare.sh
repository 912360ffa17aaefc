#!/usr/bin/env bash
# Side by side (issue 7): the same fixture server, the same client (examples/mcp_bench.rs),
# the same machine, one run, variants alternating round by round:
#
#   direct             the fixture's echo, no gateway
#   mcpgw              this project (release build)
#   agent-mcp-gateway  the Python gateway, 0.2.5 from PyPI, in a venv with Python >= 3.12
#   fastmcp-proxy      FastMCP's multi-server proxy (create_proxy over the same .mcp.json,
#                      which is what `fastmcp run .mcp.json` does)
#   mcp-gateway        the Rust meta-tool gateway from crates.io, when it builds here,
#                      with its response cache and its rate limiter off
#
# Measured: sequential latency (p50/p95/p99, and added latency against direct), throughput at
# 1, 8 and 32 calls in flight, start to an answered tools/list with 10 servers configured,
# resident memory; then the context cost of tools/list for real servers from npm and PyPI
# against the gateways in front of them.
#
# Everything is installed by this script into .tools/ (idempotent; a second run installs
# nothing). Results: target/bench/compare.jsonl, target/bench/compare.md.
# Knobs: ROUNDS (3), CALLS (1000), MAX_SECONDS (20, per latency run), DURATION (5),
# STARTUP_RUNS (5), SKIP_MCP_GATEWAY=1, BENCH_NO_BUILD=1. Loopback only.
source "$(dirname "$0")/common.sh"

ROUNDS="${ROUNDS:-3}"
CALLS="${CALLS:-1000}"
MAX_SECONDS="${MAX_SECONDS:-20}"
DURATION="${DURATION:-5}"
STARTUP_RUNS="${STARTUP_RUNS:-5}"

AGW_VERSION=0.2.5
FASTMCP_VERSION=4.2.3
MCP_GATEWAY_VERSION=3.5.1
NPM_SERVERS=(
  @modelcontextprotocol/server-everything@2026.8.31
  @modelcontextprotocol/server-memory@2026.8.31
  @modelcontextprotocol/server-filesystem@2026.8.31
  @modelcontextprotocol/server-sequential-thinking@2026.8.31
)
PY_SERVERS=(mcp-server-time==2026.10.19 mcp-server-fetch==2026.10.24 mcp-server-git==2026.10.19)

# --- install -----------------------------------------------------------------------------

install_python_peers() {
  PY312="$(find_python312)" || {
    log "no Python >= 3.12 (not on PATH, not in pyenv, and uv cannot download one here): the Python peers are skipped"
    PY312=""
    return
  }
  log "Python for the peers: $PY312 ($("$PY312" --version 2>&1))"
  ensure_venv "$TOOLS/bench-agw" "$PY312" "agent-mcp-gateway==$AGW_VERSION"
  ensure_venv "$TOOLS/bench-fastmcp" "$PY312" "fastmcp==$FASTMCP_VERSION"
  ensure_venv "$TOOLS/bench-pyservers" "$PY312" "${PY_SERVERS[@]}"
}

install_npm_servers() {
  local prefix="$TOOLS/bench-npm" stamp="$TOOLS/bench-npm/.bench-stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${NPM_SERVERS[*]}" ]; then return; fi
  log "installing ${NPM_SERVERS[*]} into .tools/bench-npm"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --save-exact --no-audit --no-fund --loglevel=error "${NPM_SERVERS[@]}" >&2
  echo "${NPM_SERVERS[*]}" >"$stamp"
}

install_mcp_gateway() {
  MCP_GATEWAY_BIN="$TOOLS/cargo/bin/mcp-gateway"
  if [ "${SKIP_MCP_GATEWAY:-0}" = 1 ]; then MCP_GATEWAY_BIN=""; return; fi
  if [ -x "$MCP_GATEWAY_BIN" ] && "$MCP_GATEWAY_BIN" --version 2>/dev/null | grep -q "$MCP_GATEWAY_VERSION"; then return; fi
  log "building mcp-gateway $MCP_GATEWAY_VERSION from crates.io into .tools/cargo (slow: a large crate)"
  if ! CARGO_TARGET_DIR="$TOOLS/cargo-target" cargo install mcp-gateway --version "$MCP_GATEWAY_VERSION" --locked \
      --root "$TOOLS/cargo" >"$TOOLS/mcp-gateway-build.log" 2>&1; then
    log "mcp-gateway did not build here (see .tools/mcp-gateway-build.log): it is left out"
    MCP_GATEWAY_BIN=""
  fi
}

# --- configs -----------------------------------------------------------------------------

# An mcp-gateway YAML config for the servers of an .mcp.json (stdio servers only), with the
# response cache and the rate limiter off.
write_mcp_gateway_yaml() {
  local mcp_json="$1" yaml="$2"
  python3 - "$mcp_json" "$yaml" <<'PY'
import json, shlex, sys
servers = json.load(open(sys.argv[1]))["mcpServers"]
lines = [
    "server:", "  host: 127.0.0.1", "  port: 39409",
    "meta_mcp:", "  enabled: true",
    "cache:", "  enabled: false",
    "failsafe:", "  rate_limit:", "    enabled: false",
    "capabilities:", "  enabled: false",
    "backends:",
]
for name, s in servers.items():
    cmd = " ".join(shlex.quote(p) for p in [s["command"], *s.get("args", [])])
    lines += [f"  {name}:", f"    command: {json.dumps(cmd)}"]
    if s.get("env"):
        lines.append("    env:")
        lines += [f"      {k}: {json.dumps(v)}" for k, v in s["env"].items()]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
}

# VARIANT_KIND[name], VARIANT_CMD_<i>: the command of each variant for one config directory.
declare -A KIND
variants_for() {
  local dir="$1" logs="$2"
  VARIANTS=(direct mcpgw)
  KIND=([direct]=direct [mcpgw]=mcpgw [agent-mcp-gateway]=agent-mcp-gateway [fastmcp-proxy]=fastmcp [mcp-gateway]=mcp-gateway)
  CMD_direct=("$FIXTURE" --name fixture)
  mapfile -t CMD_mcpgw < <(mcpgw_cmd "$dir" "$logs")
  if [ -n "$PY312" ]; then
    VARIANTS+=(agent-mcp-gateway fastmcp-proxy)
    CMD_agent_mcp_gateway=(env "GATEWAY_MCP_CONFIG=$dir/.mcp.json" "GATEWAY_RULES=$dir/rules.json"
      "GATEWAY_AUDIT_LOG=$logs/agw-audit.jsonl" "$TOOLS/bench-agw/bin/agent-mcp-gateway")
    CMD_fastmcp_proxy=("$TOOLS/bench-fastmcp/bin/python" "$ROOT/bench/fastmcp_proxy.py" "$dir/.mcp.json")
  fi
  if [ -n "$MCP_GATEWAY_BIN" ]; then
    VARIANTS+=(mcp-gateway)
    write_mcp_gateway_yaml "$dir/.mcp.json" "$dir/gateway.yaml"
    CMD_mcp_gateway=("$MCP_GATEWAY_BIN" --config "$dir/gateway.yaml" serve --stdio)
  fi
}

# The command array of a variant, by name.
cmd_of() {
  local var="CMD_${1//-/_}[@]"
  printf '%s\n' "${!var}"
}

# --- run ---------------------------------------------------------------------------------

build_release
mkdir -p "$OUT"
install_python_peers
install_npm_servers
install_mcp_gateway

BASE="$OUT/compare"
LOGS="$BASE/logs"   # outside the config directories: the gateways watch those
mkdir -p "$LOGS"
write_fixture_config "$BASE/config" 2
write_fixture_config "$BASE/config10" 10
RAW="$OUT/compare.jsonl"
: >"$RAW"

wait_quiet 1.5
machine_json >>"$RAW"

variants_for "$BASE/config" "$LOGS"
log "variants: ${VARIANTS[*]}"
for round in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    mapfile -t cmd < <(cmd_of "$v")
    log "round $round/$ROUNDS: $v: latency, then throughput at 1, 8, 32"
    "$BENCH" latency --round "$round" --samples --calls "$CALLS" --max-seconds "$MAX_SECONDS" --warmup-calls 20 \
      --label "$v" --target "${KIND[$v]}" --stderr "$LOGS/$v.err" -- "${cmd[@]}" >>"$RAW" || log "$v: latency failed"
    "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 1,8,32 --warmup-calls 5 \
      --label "$v" --target "${KIND[$v]}" --stderr "$LOGS/$v.err" -- "${cmd[@]}" >>"$RAW" || log "$v: throughput failed"
  done
done

variants_for "$BASE/config10" "$LOGS"
for round in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    [ "$v" = direct ] && continue
    mapfile -t cmd < <(cmd_of "$v")
    log "round $round/$ROUNDS: $v: start to tools/list with 10 servers ($STARTUP_RUNS runs)"
    "$BENCH" startup --round "$round" --runs "$STARTUP_RUNS" --label "$v" --stderr "$LOGS/$v-startup.err" \
      -- "${cmd[@]}" >>"$RAW" || log "$v: startup failed"
  done
done
machine_json >>"$RAW"

# --- context cost ------------------------------------------------------------------------

TOK="$OUT/context.jsonl"
: >"$TOK"
REAL="$BASE/real"
mkdir -p "$REAL/files"
NPM_BIN="$TOOLS/bench-npm/node_modules/.bin"
PYS="$TOOLS/bench-pyservers/bin"
REAL_NAMES=(everything memory filesystem sequential-thinking)
[ -n "$PY312" ] && REAL_NAMES+=(time fetch git)
# The real servers, in .mcp.json form; each is also listed on its own below.
python3 - "$REAL/.mcp.json" "$NPM_BIN" "$PYS" "$REAL/files" "$ROOT" "${REAL_NAMES[@]}" <<'PY'
import json, sys
out, npm, pys, files, root, *names = sys.argv[1:]
known = {
    "everything": {"command": f"{npm}/mcp-server-everything", "args": []},
    "memory": {"command": f"{npm}/mcp-server-memory", "args": [], "env": {"MEMORY_FILE_PATH": f"{files}/memory.jsonl"}},
    "filesystem": {"command": f"{npm}/mcp-server-filesystem", "args": [files]},
    "sequential-thinking": {"command": f"{npm}/mcp-server-sequential-thinking", "args": []},
    "time": {"command": f"{pys}/mcp-server-time", "args": ["--local-timezone", "UTC"]},
    "fetch": {"command": f"{pys}/mcp-server-fetch", "args": []},
    "git": {"command": f"{pys}/mcp-server-git", "args": ["--repository", root]},
}
with open(out, "w") as f:
    json.dump({"mcpServers": {n: known[n] for n in names}}, f, indent=2)
PY
cp "$BASE/config/rules.json" "$REAL/rules.json"
for n in "${REAL_NAMES[@]}"; do
  mapfile -t argv < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["mcpServers"][sys.argv[2]]; print("\n".join(["env", *[k+"="+v for k,v in s.get("env",{}).items()], s["command"], *s["args"]]))' "$REAL/.mcp.json" "$n")
  log "context cost: $n"
  "$BENCH" tokens --label "$n" --role server -- "${argv[@]}" >>"$TOK" || log "$n: no tools/list"
done
variants_for "$REAL" "$LOGS"
for v in "${VARIANTS[@]}"; do
  [ "$v" = direct ] && continue
  mapfile -t cmd < <(cmd_of "$v")
  log "context cost: $v in front of ${REAL_NAMES[*]}"
  "$BENCH" tokens --label "$v" --role gateway --timeout 120 -- "${cmd[@]}" >>"$TOK" || log "$v: no tools/list"
done

{
  "$BENCH" report "$RAW"
  "$BENCH" report "$TOK"
  echo "Load average at the start and the end: $(grep '"machine"' "$RAW" | sed 's/.*"load":"\([^"]*\)".*/\1/' | paste -sd '|' | sed 's/|/ -> /')"
} >"$OUT/compare.md"
cat "$OUT/compare.md"
log "raw results: $RAW, $TOK; tables: $OUT/compare.md"
