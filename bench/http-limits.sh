#!/usr/bin/env bash
# The HTTP limits of issue 12 at scale: 20,000 sessions (RSS during and after, under the
# default caps and under raised caps with expiry) and slowloris (many connections sending a
# header byte every 2 s, below and above the connection cap, /health probed all along).
#
#   bench/http-limits.sh [SCENARIO...]      # default: all five, about 5 minutes
#
# Scenarios: sessions-default sessions-raised slowloris-under slowloris-over-once slowloris-over (see
# bench/http_limits.py). Options go through HTTP_LIMITS_ARGS, e.g.
#   HTTP_LIMITS_ARGS="--sessions 5000 --duration 20" bench/http-limits.sh
#
# The gateway binary: $MCPGW, else $CARGO_TARGET_DIR/release/mcpgw, else target/release/mcpgw;
# built (`cargo build --release --bin mcpgw`) only when missing. Needs python3 (stdlib only).
# Every gateway listens on 127.0.0.1:0. Results: one JSON line per scenario on stdout and in
# target/bench/http-limits.jsonl; a summary on stderr.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
MCPGW="${MCPGW:-$TARGET/release/mcpgw}"
OUT="${BENCH_OUT:-$ROOT/target/bench}"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$MCPGW" ]; then
  log "no $MCPGW: cargo build --release --bin mcpgw"
  (cd "$ROOT" && cargo build --release --bin mcpgw --quiet)
fi

# Slowloris above the cap needs more descriptors than the usual 1024, on both sides: the
# gateway's cap (2,048) plus its overflow (256), and the client's connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "descriptors: $(ulimit -n); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"

mkdir -p "$OUT"
# shellcheck disable=SC2086
python3 "$ROOT/bench/http_limits.py" --mcpgw "$MCPGW" ${HTTP_LIMITS_ARGS:-} "$@" | tee "$OUT/http-limits.jsonl"
