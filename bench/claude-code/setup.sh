#!/usr/bin/env bash
# Installs Claude Code (npm @anthropic-ai/claude-code, pinned exactly) into the git-ignored,
# project-local .tools/claude-code, for bench/claude-code.sh. Idempotent: a second run with
# the pinned version installed does nothing and needs no network.
#
# Version: 2.1.328, the one issue 16 measured (CLAUDE_CODE_VERSION overrides it).
# Claude Code is run with Node 22 (.tools/node22, installed by scripts/setup-test-deps.sh),
# or the machine's node when that is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
VERSION="${CLAUDE_CODE_VERSION:-2.1.328}"
PREFIX=.tools/claude-code
PKG="$PREFIX/node_modules/@anthropic-ai/claude-code/package.json"

have="$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' "$ROOT/$PKG" 2>/dev/null || true)"
if [ "$have" = "$VERSION" ]; then
  echo "claude-code setup: @anthropic-ai/claude-code@$VERSION is already installed in $PREFIX"
  exit 0
fi
echo "claude-code setup: installing @anthropic-ai/claude-code@$VERSION into $PREFIX"
mkdir -p "$PREFIX"
NODE22_BIN_DIR="$ROOT/.tools/node22/node_modules/.bin"
PATH="$NODE22_BIN_DIR:$PATH" npm install --prefix "$PREFIX" --save-exact --no-audit --no-fund \
  --loglevel=error "@anthropic-ai/claude-code@$VERSION"
have="$(node -e 'process.stdout.write(require(process.argv[1]).version)' "$ROOT/$PKG")"
[ "$have" = "$VERSION" ] || { echo "claude-code setup: expected $VERSION, found $have" >&2; exit 1; }
echo "claude-code setup: installed $("$PREFIX/node_modules/.bin/claude" --version 2>/dev/null || echo '(claude --version failed)')"
