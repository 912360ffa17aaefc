#!/usr/bin/env bash
# Tokens per task through Claude Code (issue 16): the real Claude Code CLI, offline, against a
# local stand-in for the Anthropic Messages API that records every request and answers with
# scripted turns (bench/claude-code/standin.py). For every task, path and client behaviour it
# counts the model requests of the main conversation (turns) and the bytes Claude Code sent.
#
# Paths (the same tasks through each):
#   servers             the servers configured directly in Claude Code's --mcp-config
#   gw-direct           one entry, mcpgw --expose direct (tools as SERVER__TOOL)
#   gw-meta             mcpgw --expose meta: list_servers -> get_server_tools -> execute_tool
#   gw-search           mcpgw --expose meta: search_tools -> execute_tool
#   gw-meta-noalways,   the two above with `anthropic/alwaysLoad` removed from the meta-tools'
#   gw-search-noalways  _meta by bench/claude-code/strip_meta.py (what the key does)
# Clients:
#   default             Claude Code as shipped: MCP tools are deferred, loaded by ToolSearch
#   nosearch            ENABLE_TOOL_SEARCH=false: every definition is loaded in every request
# Catalogues:
#   six                 server-everything, -memory, -filesystem, mcp-server-time, -fetch, -git
#   mid, large          six plus real definitions of more servers, replayed from
#                       bench/search/catalogue.json by bench/claude-code/catalogue_server.py
#                       (mid: 9 servers, large: those and notion; not gitlab: its recorded
#                       schemas lack "type": "object", and Claude Code then rejects the
#                       whole tools/list of the server that lists them, mcpgw's included)
#
# Needs: scripts/setup-test-deps.sh (the servers, Node 22), a built mcpgw (MCPGW=PATH, else
# target/release/mcpgw, else target/debug/mcpgw; the token counts do not depend on the build
# profile), python3. Installs Claude Code (bench/claude-code/setup.sh) into .tools/.
# Knobs: TASKS ("git_log time_tokyo memory_store fs_list"), CATALOGUES ("six mid large"),
# CLIENTS ("default nosearch"), PATHS (all six; the noalways ones run only on catalogue six),
# RETRIES (4: attempts per run before it counts as failed),
# OUT (target/bench/claude-code). Loopback only; no model, no network.
# Results: OUT/results.jsonl (one line per run), OUT/report.md (the tables, also printed).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
HERE="$ROOT/bench/claude-code"
OUT="${OUT:-$ROOT/target/bench/claude-code}"
TASKS="${TASKS:-git_log time_tokyo memory_store fs_list}"
CATALOGUES="${CATALOGUES:-six mid large}"
CLIENTS="${CLIENTS:-default nosearch}"
PATHS="${PATHS:-servers gw-direct gw-meta gw-search gw-meta-noalways gw-search-noalways}"
RETRIES="${RETRIES:-4}"
MID_SERVERS=(github slack brave-search google-maps puppeteer postgres playwright context7 sequential-thinking)
LARGE_SERVERS=("${MID_SERVERS[@]}" notion)

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ -z "${MCPGW:-}" ]; then
  for c in "$ROOT/target/release/mcpgw" "$ROOT/target/debug/mcpgw"; do
    [ -x "$c" ] && { MCPGW="$c"; break; }
  done
fi
[ -x "${MCPGW:-}" ] || die "no mcpgw binary: build it (cargo build) or set MCPGW=PATH"
for s in npm/node_modules/.bin/mcp-server-everything npm/node_modules/.bin/mcp-server-memory \
  npm/node_modules/.bin/mcp-server-filesystem pyservers/bin/mcp-server-time pyservers/bin/mcp-server-fetch \
  pyservers/bin/mcp-server-git; do
  [ -x "$TOOLS/$s" ] || die "missing .tools/$s: run scripts/setup-test-deps.sh"
done
"$HERE/setup.sh" >&2
CLAUDE="$TOOLS/claude-code/node_modules/.bin/claude"
CLAUDE_VERSION="$("$CLAUDE" --version)"
log "Claude Code $CLAUDE_VERSION, mcpgw $MCPGW, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$OUT"
mkdir -p "$OUT"
W="$OUT/work"
mkdir -p "$W/repo"
# The filesystem task's directory: inside Claude Code's working directory, which Claude Code
# offers as its root (server-filesystem then serves the roots instead of its argument).
DATA="$OUT/live/cwd/data"
# The git task's repository: a known last commit message.
(cd "$W/repo" && git init -q && git -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "first" &&
  git -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "mcpgw bench: the known last commit")
MEMORY_FILE="$W/memory.jsonl"

# --- configs ---------------------------------------------------------------------------------
write_servers() { # FILE CATALOGUE
  local file="$1" cat="$2" extra=() s
  case "$cat" in
    six) ;;
    mid) extra=("${MID_SERVERS[@]}") ;;
    large) extra=("${LARGE_SERVERS[@]}") ;;
    *) die "unknown catalogue $cat" ;;
  esac
  {
    printf '{"mcpServers": {\n'
    printf ' "everything": {"command": "%s", "args": []},\n' "$TOOLS/npm/node_modules/.bin/mcp-server-everything"
    printf ' "memory": {"command": "%s", "args": [], "env": {"MEMORY_FILE_PATH": "%s"}},\n' "$TOOLS/npm/node_modules/.bin/mcp-server-memory" "$MEMORY_FILE"
    printf ' "filesystem": {"command": "%s", "args": ["%s"]},\n' "$TOOLS/npm/node_modules/.bin/mcp-server-filesystem" "$DATA"
    printf ' "time": {"command": "%s", "args": []},\n' "$TOOLS/pyservers/bin/mcp-server-time"
    printf ' "fetch": {"command": "%s", "args": []},\n' "$TOOLS/pyservers/bin/mcp-server-fetch"
    printf ' "git": {"command": "%s", "args": ["--repository", "%s"]}' "$TOOLS/pyservers/bin/mcp-server-git" "$W/repo"
    for s in "${extra[@]}"; do
      printf ',\n "%s": {"command": "python3", "args": ["%s", "%s", "%s"]}' "$s" "$HERE/catalogue_server.py" "$ROOT/bench/search/catalogue.json" "$s"
    done
    printf '\n}}\n'
  } >"$file"
}
cat >"$W/rules.json" <<'EOF'
{"agents": {"bench": {"allow": {"servers": ["*"]}}}, "defaults": {"deny_on_missing_agent": true}}
EOF

# Claude Code's --mcp-config for one path; prints the --allowedTools arguments on stdout.
write_client_config() { # FILE CATALOGUE PATH GATEWAY_STDERR
  local file="$1" cat="$2" path="$3" gwlog="$4" servers="$W/servers-$2.json" expose=meta wrap=""
  case "$path" in
    servers)
      cp "$servers" "$file"
      python3 -c 'import json,sys; print(" ".join("mcp__"+k for k in json.load(open(sys.argv[1]))["mcpServers"]))' "$servers"
      return ;;
    gw-direct) expose=direct ;;
    gw-meta | gw-search) ;;
    gw-meta-noalways | gw-search-noalways) wrap="$HERE/strip_meta.py" ;;
    *) die "unknown path $path" ;;
  esac
  python3 - "$file" "$MCPGW" "$servers" "$W/rules.json" "$expose" "$W/audit-$cat-$path.jsonl" "$wrap" "$gwlog" <<'EOF'
import json, sys
file, mcpgw, servers, rules, expose, audit, wrap, gwlog = sys.argv[1:]
args = ["--mcp-config", servers, "--rules", rules, "--agent", "bench", "--expose", expose, "--audit-log", audit]
command = ([sys.executable, wrap] if wrap else []) + [mcpgw] + args
# Through sh only to keep the gateway's log (stderr), which tells whether a server was left out.
entry = {"command": "sh", "args": ["-c", 'exec "$0" "$@" 2>>"$GW_STDERR"'] + command, "env": {"GW_STDERR": gwlog}}
json.dump({"mcpServers": {"gw": entry}}, open(file, "w"), indent=1)
EOF
  echo "mcp__gw"
}

for cat in $CATALOGUES; do write_servers "$W/servers-$cat.json" "$cat"; done
printf '{"mcpServers": {}}\n' >"$W/none.json"

# --- one run ---------------------------------------------------------------------------------
# One attempt; prints its summary line.
attempt_one() { # CATALOGUE CLIENT PATH TASK STRATEGY ATTEMPT
  local cat="$1" client="$2" path="$3" task="$4" strategy="$5" attempt="$6"
  local dir="$OUT/runs/$cat/$client/$path/$task" cfg allowed prompt port="" i sp rc=0
  # Claude Code runs in the same home and working directory every time (they appear in its
  # prompt, so equal paths keep the requests of different runs comparable byte for byte); both
  # are moved into the run's directory afterwards.
  local live="$OUT/live"
  rm -rf "$dir" "$live"
  mkdir -p "$dir" "$live/home" "$DATA"
  echo "a note" >"$DATA/notes.txt"
  sed "s#\${REPO}#$W/repo#g; s#\${DATA}#$DATA#g" "$HERE/tasks/$task.json" >"$dir/task.json"
  if [ "$path" = baseline ]; then
    cfg="$W/none.json"; allowed=""
  else
    cfg="$dir/mcp.json"
    allowed="$(write_client_config "$cfg" "$cat" "$path" "$dir/gateway.err")"
  fi
  rm -f "$MEMORY_FILE"
  python3 "$HERE/standin.py" --task "$dir/task.json" --strategy "$strategy" --out "$dir/rec" 2>"$dir/standin.err" &
  sp=$!
  for i in $(seq 1 100); do
    [ -f "$dir/rec/port" ] && { port="$(cat "$dir/rec/port")"; break; }
    sleep 0.1
  done
  [ -n "$port" ] || die "the stand-in did not start (see $dir/standin.err)"
  prompt="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt"])' "$dir/task.json")"
  local env=(HOME="$live/home" ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_API_KEY=sk-bench-dummy)
  [ "$client" = nosearch ] && env+=(ENABLE_TOOL_SEARCH=false)
  # shellcheck disable=SC2086
  (cd "$live/cwd" && env "${env[@]}" timeout 300 "$CLAUDE" -p "$prompt" --mcp-config "$cfg" --strict-mcp-config \
    ${allowed:+--allowedTools $allowed} >"$dir/claude.out" 2>"$dir/claude.err") || rc=$?
  kill "$sp" 2>/dev/null || true
  wait "$sp" 2>/dev/null || true
  mv "$live/home" "$live/cwd" "$dir/"
  # A run counts only when every server of the catalogue was there: mcpgw logs each server it
  # left out of a listing or could not start; configured directly, every server must be offered.
  local incomplete=""
  [ -f "$dir/gateway.err" ] && incomplete="$(grep -E 'left out of a tool listing|downstream failed to start' "$dir/gateway.err" |
    sed -E 's/.*(server[ =]`?[A-Za-z0-9_-]+`?).*/\1/' | sort -u | tr '\n' ' ' || true)"
  python3 "$HERE/report.py" summarize "$dir/rec" catalogue="$cat" client="$client" path="$path" task="$task" \
    strategy="$strategy" claude_rc="$rc" attempt="$attempt" incomplete="$incomplete" \
    expect_servers="$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["mcpServers"]))' "$W/servers-$cat.json" 2>/dev/null || true)"
}

# A run that did not complete its task is tried again, up to RETRIES times in all: on a loaded
# machine mcpgw can lose a slow-starting Python server at its first listing (see
# docs/PERFORMANCE.md, "Tokens per task through Claude Code"). Every failed attempt is kept in
# OUT/failed-attempts.jsonl; the table counts the attempts.
run_one() { # CATALOGUE CLIENT PATH TASK STRATEGY
  local line a
  for a in $(seq 1 "$RETRIES"); do
    line="$(attempt_one "$@" "$a")"
    if python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["ok"] else 1)' "$line"; then break; fi
    echo "$line" >>"$OUT/failed-attempts.jsonl"
    log "attempt $a failed: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("error"))' "$line")"
  done
  echo "$line" >>"$OUT/results.jsonl"
  log "$(echo "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%(catalogue)s %(client)s %(path)s %(task)s: ok=%(ok)s turns=%(turns)s tokens=%(tokens)s attempt=%(attempt)s" % r, r.get("error", ""))')"
}

strategy_of() {
  case "$1" in
    servers | gw-direct) echo direct ;;
    gw-meta | gw-meta-noalways) echo browse ;;
    gw-search | gw-search-noalways) echo search ;;
  esac
}

started=$SECONDS
for client in $CLIENTS; do
  run_one none "$client" baseline time_tokyo none
done
for cat in $CATALOGUES; do
  for client in $CLIENTS; do
    for path in $PATHS; do
      case "$path" in *-noalways) [ "$cat" = six ] && [ "$client" = default ] || continue ;; esac
      for task in $TASKS; do
        run_one "$cat" "$client" "$path" "$task" "$(strategy_of "$path")"
      done
    done
  done
done
{
  echo "Claude Code $CLAUDE_VERSION against bench/claude-code/standin.py; mcpgw $("$MCPGW" --version 2>/dev/null || echo "$MCPGW");"
  echo "$(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $((SECONDS - started)) s."
  python3 "$HERE/report.py" table "$OUT/results.jsonl"
} | tee "$OUT/report.md"
