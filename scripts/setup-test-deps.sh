#!/usr/bin/env bash
# Installs the third-party MCP servers the integration tests run against, into the
# project-local, git-ignored directory .tools/ (never globally, never into ~/.npm's bin).
#
#   @modelcontextprotocol/server-everything  -> .tools/npm/node_modules/...   (tests/gateway_everything.rs)
#
# The version is pinned exactly: the tests call its tools by name (echo, get-sum,
# trigger-long-running-operation), and the package renames tools between releases. This
# version runs on Node 20 (its package declares no engines; checked by running it).
#
# Idempotent: when the pinned version is already installed it only says so and exits 0, with
# no network access. Needs node and npm on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

EVERYTHING_VERSION=2026.8.31
PREFIX=.tools/npm
PKG_JSON="$PREFIX/node_modules/@modelcontextprotocol/server-everything/package.json"

installed_version() {
  [ -f "$PKG_JSON" ] || return 0
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$PWD/$PKG_JSON" 2>/dev/null || true
}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup-test-deps: \`$tool\` is not on PATH; install Node.js 20 or newer" >&2
    exit 1
  fi
done

if [ "$(installed_version)" = "$EVERYTHING_VERSION" ]; then
  echo "setup-test-deps: @modelcontextprotocol/server-everything@$EVERYTHING_VERSION is already installed in $PREFIX"
  exit 0
fi

echo "setup-test-deps: installing @modelcontextprotocol/server-everything@$EVERYTHING_VERSION into $PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund --loglevel=error \
  "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"

got="$(installed_version)"
if [ "$got" != "$EVERYTHING_VERSION" ]; then
  echo "setup-test-deps: expected version $EVERYTHING_VERSION after installing, found \`${got:-nothing}\`" >&2
  exit 1
fi
echo "setup-test-deps: done"
