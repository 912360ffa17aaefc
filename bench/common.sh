# Shared helpers for the bench/ scripts. Source it; do not run it.
#
# Everything the benchmarks install goes under .tools/ (git-ignored); results go under
# target/bench/. Every server is started on 127.0.0.1 only.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
REL="${BENCH_BIN_DIR:-$ROOT/target/release}"
BENCH="$REL/examples/mcp_bench"
MCPGW="$REL/mcpgw"
FIXTURE="$REL/mcpgw-fixture"
OUT="${BENCH_OUT:-$ROOT/target/bench}"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Builds the release binaries and the driver once (a no-op when they are fresh). Set
# BENCH_NO_BUILD=1 to use what is already in target/release.
build_release() {
  if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    [ -x "$BENCH" ] && [ -x "$MCPGW" ] && [ -x "$FIXTURE" ] || die "BENCH_NO_BUILD=1 but target/release lacks the binaries"
    return
  fi
  log "cargo build --release --bins --examples"
  (cd "$ROOT" && cargo build --release --bins --examples --quiet)
}

# The machine, as one JSON line (and a sentence on stderr).
machine_json() {
  local cpu load kernel rustc
  cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  kernel="$(uname -r)"
  rustc="$(rustc --version 2>/dev/null || echo unknown)"
  log "machine: $(nproc) cores, $cpu, load $load, $(free -g | awk '/Mem:/ {print $2}') GiB"
  printf '{"bench":"machine","nproc":%s,"cpu":"%s","load":"%s","kernel":"%s","rustc":"%s","date":"%s"}\n' \
    "$(nproc)" "$cpu" "$load" "$kernel" "$rustc" "$(date -u +%FT%TZ)"
}

# Waits (up to 20 s) until the 1-minute load average is below $1, then says what it is.
wait_quiet() {
  local limit="$1" waited=0
  while awk -v l="$limit" '{exit !($1 >= l)}' /proc/loadavg && [ "$waited" -lt 20 ]; do
    sleep 1; waited=$((waited + 1))
  done
  log "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Writes DIR/.mcp.json with N fixture servers (fixture, fixture2, ..., fixtureN) and
# DIR/rules.json that lets the agent `bench` use all of them.
write_fixture_config() {
  local dir="$1" n="$2" i name sep=""
  mkdir -p "$dir"
  {
    printf '{\n  "mcpServers": {\n'
    for i in $(seq 1 "$n"); do
      name=fixture; [ "$i" -gt 1 ] && name="fixture$i"
      printf '%s    "%s": {"command": "%s", "args": ["--name", "%s"]}' "$sep" "$name" "$FIXTURE" "$name"
      sep=$',\n'
    done
    printf '\n  }\n}\n'
  } >"$dir/.mcp.json"
  cat >"$dir/rules.json" <<'JSON'
{
  "agents": {"bench": {"allow": {"servers": ["*"]}}},
  "defaults": {"deny_on_missing_agent": true}
}
JSON
}

# The mcpgw command line for a config directory (stdio), with the audit log on as in
# production, written into LOGS (default DIR.logs). Logs never go into the config directory:
# gateways watch that directory for changes.
mcpgw_cmd() {
  local dir="$1" logs="${2:-$1.logs}"
  mkdir -p "$logs"
  printf '%s\n' "$MCPGW" --mcp-config "$dir/.mcp.json" --rules "$dir/rules.json" --audit-log "$logs/mcpgw-audit.jsonl"
}

# Starts an HTTP server command in the background with stderr to FILE, waits for the line
# that names its URL (PATTERN is a sed expression printing the URL), and sets SERVER_PID and
# SERVER_URL. The server must bind 127.0.0.1.
start_http_server() {
  local errfile="$1" pattern="$2"; shift 2
  : >"$errfile"
  "$@" 2>"$errfile" </dev/null >/dev/null &
  SERVER_PID=$!
  SERVER_URL=""
  for _ in $(seq 1 200); do
    SERVER_URL="$(sed -n "$pattern" "$errfile" | head -1)"
    [ -n "$SERVER_URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$errfile" >&2; die "the server exited: $*"; }
    sleep 0.05
  done
  [ -n "$SERVER_URL" ] || { cat "$errfile" >&2; die "the server did not say where it listens: $*"; }
  case "$SERVER_URL" in http://127.0.0.1:*) ;; *) die "refusing a non-loopback URL: $SERVER_URL" ;; esac
}

stop_http_server() {
  if [ -n "${SERVER_PID:-}" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# A Python >= 3.12 interpreter: one on PATH, one that pyenv already has, or one that uv can
# install (uv's downloads come from GitHub, which is unreachable on machines that only reach
# package registries; it is tried last). Prints its path or fails.
find_python312() {
  local c v
  for c in python3.13 python3.12 python3; do
    if command -v "$c" >/dev/null 2>&1; then
      v="$("$c" -c 'import sys; print(sys.version_info >= (3, 12))' 2>/dev/null || true)"
      [ "$v" = True ] && { command -v "$c"; return; }
    fi
  done
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
  if uv_bin >/dev/null 2>&1; then
    if UV_PYTHON_INSTALL_DIR="$TOOLS/uv-python" "$(uv_bin)" python install 3.12 >&2 2>&1; then
      UV_PYTHON_INSTALL_DIR="$TOOLS/uv-python" "$(uv_bin)" python find 3.12
      return
    fi
  fi
  return 1
}

# uv from PyPI, installed into .tools/uv-venv with the machine's Python (any 3.x).
uv_bin() {
  local uv="$TOOLS/uv-venv/bin/uv"
  if [ ! -x "$uv" ]; then
    python3 -m venv "$TOOLS/uv-venv" >&2
    "$TOOLS/uv-venv/bin/pip" install --quiet --disable-pip-version-check uv >&2
  fi
  echo "$uv"
}

# Creates venv DIR with interpreter PY and installs the pinned REQUIREMENTS into it, unless a
# stamp says exactly that was already done.
ensure_venv() {
  local dir="$1" py="$2"; shift 2
  local stamp="$dir/.bench-stamp" want="$py $*"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  log "installing $* into ${dir#"$ROOT"/}"
  rm -rf "$dir"
  "$(uv_bin)" venv --quiet --python "$py" "$dir" >&2
  UV_CACHE_DIR="$TOOLS/uv-cache" VIRTUAL_ENV="$dir" "$(uv_bin)" pip install --quiet "$@" >&2
  echo "$want" >"$stamp"
}
