#!/usr/bin/env bash
# The forward path measured by a plain line client (bench/line_client.py: raw JSON-RPC over
# pipes, no SDK), in front of the project's fixture and of server-everything (Node), rounds
# alternating direct and through mcpgw (issue 14): added latency, calls/s at 32 in flight, and
# CPU per call of mcpgw against the server's own.
#
#   bench/forward-cpu.sh                 # ROUNDS=3 CALLS=1000 SECONDS_=5
#   MCPGW_BIN=... FIXTURE_BIN=... bench/forward-cpu.sh
#   MCPGW_BASE_BIN=/path/to/older/mcpgw bench/forward-cpu.sh   # also that build, same rounds
#
# Binaries: $MCPGW_BIN and $FIXTURE_BIN, else the release builds (built when missing). Needs
# scripts/setup-test-deps.sh for server-everything. Prints one JSON line per run on stdout and
# a Markdown table on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
MCPGW_BIN="${MCPGW_BIN:-$TARGET/release/mcpgw}"
FIXTURE_BIN="${FIXTURE_BIN:-$TARGET/release/mcpgw-fixture}"
[ -x "$MCPGW_BIN" ] && [ -x "$FIXTURE_BIN" ] || cargo build --release --bins -p mcpgw -p mcpgw-fixture --quiet
EVERYTHING=.tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js
[ -f "$EVERYTHING" ] || { echo "forward-cpu: run scripts/setup-test-deps.sh first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/.mcp.json" <<JSON
{"mcpServers": {"fx": {"command": "$FIXTURE_BIN", "args": ["--name", "fx"]},
                "everything": {"command": "node", "args": ["$EVERYTHING", "stdio"]}}}
JSON
echo '{"agents": {"bench": {"allow": {"servers": ["*"]}}}}' >"$work/rules.json"
# The audit log in a directory of its own, as by default: the gateway watches its config's.
mkdir -p "$work/logs"
GW_ARGS=(--mcp-config "$work/.mcp.json" --rules "$work/rules.json" --agent bench --audit-log "$work/logs/audit.jsonl")
GW=("$MCPGW_BIN" "${GW_ARGS[@]}")
BASE=("${MCPGW_BASE_BIN:-}" "${GW_ARGS[@]}")
VARIANTS="fixture mcpgw-fixture everything mcpgw-everything"
[ -n "${MCPGW_BASE_BIN:-}" ] && VARIANTS="$VARIANTS base-fixture base-everything"
LC=(python3 bench/line_client.py --calls "${CALLS:-1000}" --seconds "${SECONDS_:-5}")
echo "forward-cpu: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), mcpgw $MCPGW_BIN" >&2
for round in $(seq "${ROUNDS:-3}"); do
  for variant in $VARIANTS; do
    case $variant in
      fixture) out=$("${LC[@]}" --tool echo --args '{"text":"x"}' -- "$FIXTURE_BIN" --name fx) ;;
      mcpgw-fixture) out=$("${LC[@]}" --tool execute_tool --wrap '{"server":"fx","tool":"echo"}' --args '{"text":"x"}' \
        --downstream mcpgw-fixture -- "${GW[@]}") ;;
      everything) out=$("${LC[@]}" --tool echo --args '{"message":"x"}' -- node "$EVERYTHING" stdio) ;;
      mcpgw-everything) out=$("${LC[@]}" --tool execute_tool --wrap '{"server":"everything","tool":"echo"}' \
        --args '{"message":"x"}' --downstream server-everything -- "${GW[@]}") ;;
      base-fixture) out=$("${LC[@]}" --tool execute_tool --wrap '{"server":"fx","tool":"echo"}' --args '{"text":"x"}' \
        --downstream mcpgw-fixture -- "${BASE[@]}") ;;
      base-everything) out=$("${LC[@]}" --tool execute_tool --wrap '{"server":"everything","tool":"echo"}' \
        --args '{"message":"x"}' --downstream server-everything -- "${BASE[@]}") ;;
    esac
    echo "{\"round\": $round, \"variant\": \"$variant\", \"run\": $out}"
  done
done | tee "$work/runs.jsonl"
python3 - "$work/runs.jsonl" >&2 <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["variant"], []).append(r["run"])
med = lambda v, k: statistics.median(x[k] for x in by[v] if x.get(k) is not None)
print("| variant | p50 ms | p99 ms | calls/s (32 in flight) | CPU µs/call (process) | server CPU µs/call |")
print("|---|---:|---:|---:|---:|---:|")
for v in by:
    down = med(v, "downstream_cpu_us_per_call") if "downstream_cpu_us_per_call" in by[v][0] else None
    print(f"| {v} | {med(v,'p50_ms'):.3f} | {med(v,'p99_ms'):.3f} | {med(v,'calls_per_s'):,.0f} | "
          f"{med(v,'cpu_us_per_call'):.1f} | {'' if down is None else f'{down:.1f}'} |")
for gw in ("mcpgw", "base"):
    for s in ("fixture", "everything"):
        v = f"{gw}-{s}"
        if v not in by:
            continue
        added = med(v, "p50_ms") - med(s, "p50_ms")
        behind = med(v, "cpu_us_per_call") / med(v, "downstream_cpu_us_per_call")
        alone = med(v, "cpu_us_per_call") / med(s, "cpu_us_per_call")
        print(f"- {v}: adds {added:+.3f} ms at p50; its CPU per call is {behind:.2f}x the server's behind it, "
              f"{alone:.2f}x the server's driven directly (medians of {len(by[s])} rounds)")
PY
