#!/usr/bin/env bash
# The gateway's own benchmarks (issues 3 and 6), with the release build and the load driver
# examples/mcp_bench.rs:
#
#   - added latency of execute_tool against calling the fixture's echo directly, same client,
#     same fixture, sequential calls, rounds alternating direct and mcpgw;
#   - throughput with 1, 8 and 32 calls in flight over stdio;
#   - start to an answered tools/list with 10 servers configured (lazy start), and the idle
#     resident memory of the gateway process;
#   - streamable HTTP: 64 concurrent clients (one session each), calls/s and p50/p99, with
#     rmcp's client (a new TCP connection per request: rmcp turns pooling off) and with the
#     driver's keep-alive client (one TCP connection per session, as fetch-based clients do).
#
# Results: target/bench/gateway.jsonl (raw) and target/bench/gateway.md (tables).
# Knobs (environment): ROUNDS (3), CALLS (2000), DURATION (5 s), STARTUP_RUNS (10),
# BENCH_NO_BUILD=1 to skip the build. Loopback only.
source "$(dirname "$0")/common.sh"

ROUNDS="${ROUNDS:-3}"
CALLS="${CALLS:-2000}"
DURATION="${DURATION:-5}"
STARTUP_RUNS="${STARTUP_RUNS:-10}"

build_release
mkdir -p "$OUT"
RAW="$OUT/gateway.jsonl"
: >"$RAW"
CFG="$OUT/gateway-config"
CFG10="$OUT/gateway-config-10"
write_fixture_config "$CFG" 1
write_fixture_config "$CFG10" 10
mapfile -t GW < <(mcpgw_cmd "$CFG")
mapfile -t GW10 < <(mcpgw_cmd "$CFG10")
trap stop_http_server EXIT

wait_quiet 1.5
machine_json >>"$RAW"

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: sequential latency ($CALLS calls), direct then mcpgw"
  "$BENCH" latency --round "$round" --samples --calls "$CALLS" --target direct -- "$FIXTURE" >>"$RAW"
  "$BENCH" latency --round "$round" --samples --calls "$CALLS" --target mcpgw -- "${GW[@]}" >>"$RAW"
done

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: stdio throughput at 1, 8, 32 in flight (${DURATION} s each)"
  "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 1,8,32 --target direct -- "$FIXTURE" >>"$RAW"
  "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 1,8,32 --target mcpgw -- "${GW[@]}" >>"$RAW"
done

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: startup to tools/list ($STARTUP_RUNS runs each; mcpgw with 10 servers configured)"
  "$BENCH" startup --round "$round" --runs "$STARTUP_RUNS" --label direct -- "$FIXTURE" >>"$RAW"
  "$BENCH" startup --round "$round" --runs "$STARTUP_RUNS" --label mcpgw -- "${GW10[@]}" >>"$RAW"
done

HTTP_RAW="$OUT/gateway-http.jsonl"
: >"$HTTP_RAW"
url_of_fixture='s|.*listening on \(http://[^ ]*\).*|\1|p'
url_of_mcpgw='s|.*Gateway is ready on \(http://[^ ]*/mcp\).*|\1|p'
for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS: HTTP, 64 clients (${DURATION} s), then 1 client sequential"
  start_http_server "$OUT/fixture-http.err" "$url_of_fixture" "$FIXTURE" --http 127.0.0.1:0
  "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 64 --connections 0 --target direct \
    --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  "$BENCH" latency --round "$round" --samples --calls "$CALLS" --target direct --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  stop_http_server
  start_http_server "$OUT/mcpgw-http.err" "$url_of_mcpgw" "${GW[@]}" --transport http --listen 127.0.0.1:0
  "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 64 --connections 0 --target mcpgw \
    --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  "$BENCH" latency --round "$round" --samples --calls "$CALLS" --target mcpgw --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  "$BENCH" throughput --round "$round" --duration "$DURATION" --concurrency 64 --connections 0 --target mcpgw \
    --label "mcpgw, keep-alive client" --keep-alive --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  "$BENCH" latency --round "$round" --samples --calls "$CALLS" --target mcpgw --label "mcpgw, keep-alive client" \
    --keep-alive --http "$SERVER_URL" --pid "$SERVER_PID" >>"$HTTP_RAW"
  stop_http_server
done
machine_json >>"$RAW"

{
  echo "### stdio"
  echo
  "$BENCH" report "$RAW"
  echo "### streamable HTTP"
  echo
  "$BENCH" report "$HTTP_RAW"
  echo "Load average at the start and the end: $(grep '"machine"' "$RAW" | sed 's/.*"load":"\([^"]*\)".*/\1/' | paste -sd '|' | sed 's/|/ -> /')"
} >"$OUT/gateway.md"
cat "$OUT/gateway.md"
log "raw results: $RAW, $HTTP_RAW; tables: $OUT/gateway.md"
